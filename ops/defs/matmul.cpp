// Rows for matmul (PyTorch semantics over the last two dimensions, batch dimensions broadcast, optional
// transposes of either operand, so attention's q @ k^T needs no transpose node) and linear, the fused
// matmul + bias [+ activation] that engine/passes/fuse_linear.cpp makes of a model's projections.
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

// (x (..., K), w (K, N) or (N, K) with trans_b, bias (N)) -> (..., N). One weight matrix for every row of
// x: the kernels see x as (M, K) with M the product of its leading dims.
std::vector<TensorType> infer_linear(const InferContext& ctx) {
  require_floating(ctx, 0);
  require_same_dtype(ctx);
  const Shape &x = ctx.inputs[0].shape, &w = ctx.inputs[1].shape, &b = ctx.inputs[2].shape;
  FROST_CHECK(x.rank() >= 2 && w.rank() == 2, InvalidArgument,
              "needs x (..., K) of rank >= 2 and a weight matrix, got " << x << " and " << w);
  FROST_CHECK(!ctx.attrs.trans_a, InvalidArgument, "x is never transposed (trans_a is matmul's)");
  const int64_t k = ctx.attrs.trans_b ? w[1] : w[0], n = ctx.attrs.trans_b ? w[0] : w[1];
  FROST_CHECK(x[-1] == k, InvalidArgument,
              "x has K = " << x[-1] << ", the weight" << (ctx.attrs.trans_b ? "^T" : "") << " " << w
                           << " has K = " << k);
  FROST_CHECK(b == Shape{n}, InvalidArgument, "bias " << b << " must be (" << n << ")");
  Shape out = x;
  out[out.rank() - 1] = n;
  return {{ctx.inputs[0].dtype, out}};
}

Cost cost_linear(std::span<const TensorType> in, std::span<const TensorType> out, const Attrs& attrs) {
  const double m = double(out[0].shape.numel() / out[0].shape[-1]), n = double(out[0].shape[-1]);
  const double k = double(in[0].shape[-1]);
  Cost c = streaming_cost(in, out, attrs.activation == Activation::None ? 1.0 : 10.0);
  c.flops += 2.0 * m * n * k;
  return c;
}

// y = x op(w) + bias over rows of x seen as (M, K); with G = dL/dy as (M, N):
//   dx = G op(w)^T,  dw = G^T x (trans_b: w is (N, K)) or x^T G,  dbias = column sums of G.
// The weight gradient is one (M x K)^T (M x N) product, not a batched one summed afterwards.
void backward_linear(BackwardContext& c) {
  FROST_CHECK(c.attrs().activation == Activation::None, Unsupported,
              "autodiff: node " << c.node_id() << " is a linear with a fused "
                                << activation_name(c.attrs().activation)
                                << " epilogue, which keeps no pre-activation for a backward; fuse graphs you "
                                   "differentiate with FusionOptions::activation_epilogues off");
  Tensor g = c.grad_output(0), x = c.input(0), w = c.input(1);
  const bool tb = c.attrs().trans_b;
  const int64_t K = x.shape()[-1], N = g.shape()[-1], M = x.shape().numel() / (K ? K : 1);
  if (c.needs_grad(0)) c.set_grad_input(0, matmul(g, w, false, !tb));
  if (!c.needs_grad(1) && !c.needs_grad(2)) return;
  Tensor g2 = reshape(g, {M, N});
  if (c.needs_grad(1)) {
    Tensor x2 = reshape(x, {M, K});
    c.set_grad_input(1, tb ? matmul(g2, x2, true, false) : matmul(x2, g2, true, false));
  }
  if (c.needs_grad(2)) c.set_grad_input(2, sum(g2, {0}));
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
  r.set({.kind = OpKind::Linear,
         .name = "linear",
         .num_inputs = 3,
         .num_outputs = 1,
         .infer = infer_linear,
         .backward = backward_linear,
         .cost = cost_linear});
}

}  // namespace frost::ops
