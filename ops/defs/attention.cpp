// Rows for the fused attention op and its backward (made by engine/passes/fuse_attention.cpp from the
// canonical sequence; model code never calls them directly). Geometry: engine/attention_geometry.h.
//
//   attention(q, k, v[, pk, pv][, mask]) -> out  (batch..., Lq, Dv) = softmax(S) [pv; v]
//                                           lse  (batch..., Lq)     = logsumexp of S per row
//     S = scale q [pk; k]^T + mask with a float mask (a bias), or with a u8 mask (masked fill) the scaled
//     scores where it keeps them and attrs.fill where it fills (nonzero, or zero with attrs.fill_where_zero)
//     With attrs.dropout > 0 (an I64 offset input last): the probabilities are dropped and scaled by
//     1 / (1 - rate) before the matmul with v, the mask drawn per element as the dropout op draws it; lse
//     stays the logsumexp of S.
//   attention_backward(dout, q, k, v[, pk, pv][, mask][, offset], out, lse) -> dq, dk, dv[, dpk, dpv]
//     (the probabilities are recomputed from lse, flash-attention style; dpk/dpv are summed over the batch
//     dims they broadcast on; gradients have the operands' logical shapes, contiguous)
#include <vector>

#include "engine/attention_geometry.h"
#include "engine/autodiff.h"
#include "ops/api.h"
#include "ops/defs/common.h"
#include "ops/registration.h"

namespace frost::ops {
namespace {

std::vector<Shape> shapes_of(std::span<const TensorType> in, size_t first) {
  std::vector<Shape> s;
  for (size_t i = first; i < in.size(); ++i) s.push_back(in[i].shape);
  return s;
}

Shape with_last(const Shape& batch, std::initializer_list<int64_t> tail) {
  Shape s = batch;
  for (int64_t d : tail) s.push_back(d);
  return s;
}

// Operands (and dout, out, lse) share one floating dtype; the mask is of it (a bias) or u8 (masked fill).
void require_attention_dtypes(const InferContext& ctx, int first) {
  require_floating(ctx, 0);
  const int dropout = ctx.attrs.dropout > 0 ? first + attention_num_inputs(ctx.attrs) - 1 : -1;
  const int mask =
      ctx.attrs.masked ? first + attention_num_inputs(ctx.attrs) - 1 - (dropout >= 0 ? 1 : 0) : -1;
  for (int i = 0; i < int(ctx.inputs.size()); ++i) {
    const DType dt = ctx.inputs[size_t(i)].dtype;
    if (i == dropout) {
      FROST_CHECK(dt == DType::I64, InvalidArgument, "the dropout offset is " << dt << ", not i64");
      continue;
    }
    if (i == mask) {
      FROST_CHECK(dt == ctx.inputs[0].dtype || dt == DType::U8, InvalidArgument,
                  "the mask is " << dt << "; a bias is " << ctx.inputs[0].dtype << ", a masked fill u8");
      continue;
    }
    FROST_CHECK(dt == ctx.inputs[0].dtype, InvalidArgument,
                "dtypes differ: input 0 is " << ctx.inputs[0].dtype << ", input " << i << " is " << dt);
  }
}

std::vector<TensorType> infer_attention(const InferContext& ctx) {
  require_attention_dtypes(ctx, 0);
  FROST_CHECK(int(ctx.inputs.size()) == attention_num_inputs(ctx.attrs), InvalidArgument,
              ctx.inputs.size() << " inputs; attrs say " << attention_num_inputs(ctx.attrs)
                                << " (q, k, v, prefix k/v when attrs.prefix, mask when attrs.masked)");
  const AttentionGeometry g = attention_geometry(shapes_of(ctx.inputs, 0), ctx.attrs);
  const DType dt = ctx.inputs[0].dtype;
  return {{dt, with_last(g.batch, {g.Lq, g.Dv})}, {dt, with_last(g.batch, {g.Lq})}};
}

std::vector<TensorType> infer_attention_backward(const InferContext& ctx) {
  require_attention_dtypes(ctx, 1);
  const int n = attention_num_inputs(ctx.attrs);
  FROST_CHECK(int(ctx.inputs.size()) == n + 3, InvalidArgument,
              ctx.inputs.size() << " inputs; expected dout, the forward's " << n << ", out and lse");
  const std::vector<Shape> s = shapes_of(ctx.inputs, 1);
  const AttentionGeometry g = attention_geometry(s, ctx.attrs);
  const Shape out = with_last(g.batch, {g.Lq, g.Dv});
  FROST_CHECK(ctx.inputs[0].shape == out && ctx.inputs[size_t(n + 1)].shape == out &&
                  ctx.inputs[size_t(n + 2)].shape == with_last(g.batch, {g.Lq}),
              InvalidArgument, "dout and out must be " << out << " and lse " << with_last(g.batch, {g.Lq}));
  const DType dt = ctx.inputs[0].dtype;
  std::vector<TensorType> r = {{dt, g.q.shape}, {dt, g.k.shape}, {dt, g.v.shape}};
  if (g.has_prefix) {
    r.push_back({dt, g.pk.shape});
    r.push_back({dt, g.pv.shape});
  }
  return r;
}

// Per score: a D-long dot, a Dv-long accumulation and an exp; the backward does about 2.5x that.
Cost cost_attention(std::span<const TensorType> in, std::span<const TensorType> out, const Attrs& attrs) {
  Cost c = streaming_cost(in, out, 0);
  const bool backward = out.size() != 2 || in.size() != size_t(attention_num_inputs(attrs));
  const AttentionGeometry g = attention_geometry(shapes_of(in, backward ? 1 : 0), attrs);
  const double scores = double(g.tuples()) * double(g.Lq) * double(g.columns());
  c.flops = scores * (2.0 * double(g.D + g.Dv) + 10.0) * (backward ? 2.5 : 1.0);
  return c;
}

void backward_attention(BackwardContext& c) {
  const Attrs& a = c.attrs();
  FROST_CHECK(a.views.empty(), Unsupported,
              "autodiff: attention node " << c.node_id()
                                          << " reads strided views (absorb_views ran); differentiate first");
  FROST_CHECK(!c.grad_output(1).valid(), Unsupported,
              "autodiff: attention's logsumexp output is a saved statistic; gradients through it are not "
              "supported (node "
                  << c.node_id() << ")");
  const int n = attention_num_inputs(a);
  if (a.masked)
    FROST_CHECK(!c.needs_grad(n - 1 - (a.dropout > 0 ? 1 : 0)), Unsupported,
                "autodiff: attention node " << c.node_id() << ": gradients of the mask are not supported");
  std::vector<Tensor> in;
  for (int i = 0; i < n; ++i) in.push_back(c.input(i));
  std::vector<Tensor> g = fused_attention_backward(c.grad_output(0), in, c.output(0), c.output(1), a);
  for (size_t i = 0; i < g.size(); ++i)
    if (c.needs_grad(int(i))) c.set_grad_input(int(i), g[i]);
}

}  // namespace

void register_attention_rows(OpRegistry& r) {
  r.set({.kind = OpKind::Attention,
         .name = "attention",
         .num_inputs = kVariadic,
         .num_outputs = 2,
         .infer = infer_attention,
         .backward = backward_attention,
         .cost = cost_attention});
  r.set({.kind = OpKind::AttentionBackward,
         .name = "attention_backward",
         .num_inputs = kVariadic,
         .num_outputs = kVariadic,
         .infer = infer_attention_backward,
         .grad = Grad::Unsupported,
         .cost = cost_attention});
}

}  // namespace frost::ops
