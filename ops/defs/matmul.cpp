// Row for matmul: PyTorch semantics over the last two dimensions, batch dimensions broadcast, optional
// transposes of either operand (so attention's q @ k^T needs no transpose node).
#include "engine/autodiff.h"
#include "ops/api.h"
#include "ops/defs/common.h"
#include "ops/registration.h"

namespace frost::ops {
namespace {

struct MatmulDims {
  int64_t m, k, n;
  Shape batch;  // broadcast batch dims
};

MatmulDims matmul_dims(const TensorType& a, const TensorType& b, const Attrs& attrs) {
  FROST_CHECK(a.shape.rank() >= 2 && b.shape.rank() >= 2, InvalidArgument,
              "both operands need at least 2 dimensions (reshape vectors to (1, K) or (K, 1))");
  int64_t m = attrs.trans_a ? a.shape[-1] : a.shape[-2];
  int64_t ka = attrs.trans_a ? a.shape[-2] : a.shape[-1];
  int64_t kb = attrs.trans_b ? b.shape[-1] : b.shape[-2];
  int64_t n = attrs.trans_b ? b.shape[-2] : b.shape[-1];
  FROST_CHECK(ka == kb, InvalidArgument,
              "inner dimensions differ: a" << (attrs.trans_a ? "^T" : "") << " has K = " << ka << ", b"
                                           << (attrs.trans_b ? "^T" : "") << " has K = " << kb);
  Shape batch_a(std::span<const int64_t>(a.shape.begin(), size_t(a.shape.rank() - 2)));
  Shape batch_b(std::span<const int64_t>(b.shape.begin(), size_t(b.shape.rank() - 2)));
  return {m, ka, n, broadcast_shapes(batch_a, batch_b)};
}

std::vector<TensorType> infer_matmul(const InferContext& ctx) {
  require_floating(ctx, 0);
  require_same_dtype(ctx);
  MatmulDims d = matmul_dims(ctx.inputs[0], ctx.inputs[1], ctx.attrs);
  Shape out = d.batch;
  out.push_back(d.m);
  out.push_back(d.n);
  return {{ctx.inputs[0].dtype, out}};
}

Cost cost_matmul(std::span<const TensorType> in, std::span<const TensorType> out, const Attrs& attrs) {
  MatmulDims d = matmul_dims(in[0], in[1], attrs);
  Cost c = streaming_cost(in, out, 0);
  c.flops = 2.0 * double(d.batch.numel()) * double(d.m) * double(d.n) * double(d.k);
  return c;
}

// C = op(A) op(B). With G = dL/dC:  dA = G op(B)^T (transposed back if A was), dB = op(A)^T G (likewise).
void backward_matmul(BackwardContext& c) {
  Tensor g = c.grad_output(0), a = c.input(0), b = c.input(1);
  const bool ta = c.attrs().trans_a, tb = c.attrs().trans_b;
  if (c.needs_grad(0)) {
    Tensor ga = ta ? matmul(b, g, tb, true)     // A^T = G op(B)^T  =>  A = op(B) G^T
                   : matmul(g, b, false, !tb);  // A = G op(B)^T
    c.set_grad_input(0, sum_to(ga, a.shape()));
  }
  if (c.needs_grad(1)) {
    Tensor gb = tb ? matmul(g, a, true, ta)     // B^T = op(A)^T G  =>  B = G^T op(A)
                   : matmul(a, g, !ta, false);  // B = op(A)^T G
    c.set_grad_input(1, sum_to(gb, b.shape()));
  }
}

}  // namespace

void register_matmul_rows(OpRegistry& r) {
  r.set({.kind = OpKind::MatMul,
         .name = "matmul",
         .num_inputs = 2,
         .num_outputs = 1,
         .infer = infer_matmul,
         .backward = backward_matmul,
         .cost = cost_matmul});
}

}  // namespace frost::ops
