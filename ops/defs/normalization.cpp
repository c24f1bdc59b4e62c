// Rows for the normalisations and the loss: layer_norm (y, mean, rstd) and its backward, add_layer_norm
// (the residual add fused in front), l2_normalize and its backward, softmax_cross_entropy and its backward.
// All work over the last dimension.
#include "engine/autodiff.h"
#include "ops/api.h"
#include "ops/defs/common.h"
#include "ops/registration.h"

namespace frost::ops {
namespace {

Shape without_last(const Shape& s) {
  return Shape(std::span<const int64_t>(s.begin(), size_t(s.rank() - 1)));
}

// (x (..., C), weight (C), bias (C)) -> (y (..., C), mean (...), rstd (...))
std::vector<TensorType> infer_layer_norm(const InferContext& ctx) {
  require_floating(ctx, 0);
  require_same_dtype(ctx);
  const Shape& x = ctx.inputs[0].shape;
  FROST_CHECK(x.rank() >= 1, InvalidArgument, "needs at least one dimension");
  const Shape c{x[-1]};
  FROST_CHECK(ctx.inputs[1].shape == c && ctx.inputs[2].shape == c, InvalidArgument,
              "weight " << ctx.inputs[1].shape << " and bias " << ctx.inputs[2].shape << " must be " << c);
  FROST_CHECK(ctx.attrs.scalar > 0, InvalidArgument, "eps " << ctx.attrs.scalar << " must be positive");
  const TensorType stat{ctx.inputs[0].dtype, without_last(x)};
  return {ctx.inputs[0], stat, stat};
}

// (a (..., C), b (..., C), weight (C), bias (C)) -> (sum = a + b, y, mean, rstd). The sum comes first: the
// fusion pass rewrites the add node in place (its value id, read by the residual stream, stays), and the
// sum may overwrite a (OpRow::inplace_input) as the unfused add did.
std::vector<TensorType> infer_add_layer_norm(const InferContext& ctx) {
  FROST_CHECK(ctx.inputs[0].shape == ctx.inputs[1].shape, InvalidArgument,
              "the summands differ in shape: " << ctx.inputs[0].shape << " and " << ctx.inputs[1].shape);
  std::vector<TensorType> out = infer_layer_norm(InferContext{ctx.kind, ctx.inputs.subspan(1), ctx.attrs});
  require_same_dtype(ctx);
  out.insert(out.begin(), ctx.inputs[0]);
  return out;
}

// (dy, x, weight, mean, rstd) -> (dx, dweight, dbias)
std::vector<TensorType> infer_layer_norm_backward(const InferContext& ctx) {
  require_floating(ctx, 0);
  require_same_dtype(ctx);
  const Shape& x = ctx.inputs[1].shape;
  FROST_CHECK(x.rank() >= 1 && ctx.inputs[0].shape == x && ctx.inputs[2].shape == Shape{x[-1]} &&
                  ctx.inputs[3].shape == without_last(x) && ctx.inputs[4].shape == without_last(x),
              InvalidArgument, "inconsistent shapes");
  return {ctx.inputs[1], ctx.inputs[2], ctx.inputs[2]};
}

std::vector<TensorType> infer_same_as_input0(const InferContext& ctx) {
  require_floating(ctx, 0);
  FROST_CHECK(ctx.inputs[0].shape.rank() >= 1, InvalidArgument, "needs at least one dimension");
  FROST_CHECK(ctx.attrs.scalar > 0, InvalidArgument, "eps " << ctx.attrs.scalar << " must be positive");
  return {ctx.inputs[0]};
}

std::vector<TensorType> infer_l2_normalize_backward(const InferContext& ctx) {
  require_floating(ctx, 0);
  require_same_dtype(ctx);
  FROST_CHECK(ctx.inputs[0].shape == ctx.inputs[1].shape, InvalidArgument, "dy and x differ in shape");
  return {ctx.inputs[1]};
}

void require_targets(const InferContext& ctx, const Shape& logits, size_t i) {
  FROST_CHECK(ctx.inputs[i].dtype == DType::I32 || ctx.inputs[i].dtype == DType::I64, InvalidArgument,
              "targets are " << ctx.inputs[i].dtype << ", expected i32 or i64");
  FROST_CHECK(logits.rank() == 2 && ctx.inputs[i].shape == Shape{logits[0]}, InvalidArgument,
              "needs logits (N, K) and targets (N), got " << logits << " and " << ctx.inputs[i].shape);
}

std::vector<TensorType> infer_softmax_cross_entropy(const InferContext& ctx) {
  require_floating(ctx, 0);
  require_targets(ctx, ctx.inputs[0].shape, 1);
  return {{ctx.inputs[0].dtype, Shape{ctx.inputs[0].shape[0]}}};
}

// (dloss (N), logits (N, K), targets (N)) -> dlogits (N, K)
std::vector<TensorType> infer_softmax_cross_entropy_backward(const InferContext& ctx) {
  require_floating(ctx, 0);
  FROST_CHECK(ctx.inputs[0].dtype == ctx.inputs[1].dtype, InvalidArgument,
              "dloss and logits differ in dtype");
  require_targets(ctx, ctx.inputs[1].shape, 2);
  FROST_CHECK(ctx.inputs[0].shape == ctx.inputs[2].shape, InvalidArgument, "dloss must be (N)");
  return {ctx.inputs[1]};
}

Cost cost_norm(std::span<const TensorType> in, std::span<const TensorType> out, const Attrs&) {
  Cost c = streaming_cost(in, out, 0);
  c.flops = 8.0 * double(in[0].shape.numel());  // mean, variance, normalise, scale, shift: a rough figure
  return c;
}

void backward_layer_norm(BackwardContext& c) {
  FROST_CHECK(!c.grad_output(1).valid() && !c.grad_output(2).valid(), Unsupported,
              "autodiff: layer_norm's mean and rstd outputs are saved statistics; gradients through them are "
              "not supported (node "
                  << c.node_id() << ")");
  std::vector<Tensor> g = layer_norm_backward(c.grad_output(0), c.input(0), c.input(1), c.output(1),
                                              c.output(2), c.attrs().scalar);
  for (int i = 0; i < 3; ++i)
    if (c.needs_grad(i)) c.set_grad_input(i, g[size_t(i)]);
}
// s = a + b feeds both the normalisation and (output 0) the residual stream after it, so
// ds = dL/ds + layer_norm_backward(dy, s)'s dx, and da = db = ds.
void backward_add_layer_norm(BackwardContext& c) {
  FROST_CHECK(!c.grad_output(2).valid() && !c.grad_output(3).valid(), Unsupported,
              "autodiff: add_layer_norm's mean and rstd outputs are saved statistics; gradients through them "
              "are not supported (node "
                  << c.node_id() << ")");
  Tensor ds = c.grad_output(0), dy = c.grad_output(1);
  if (dy.valid()) {
    std::vector<Tensor> g =
        layer_norm_backward(dy, c.output(0), c.input(2), c.output(2), c.output(3), c.attrs().scalar);
    if (c.needs_grad(2)) c.set_grad_input(2, g[1]);
    if (c.needs_grad(3)) c.set_grad_input(3, g[2]);
    ds = ds.valid() ? ds + g[0] : g[0];
  }
  if (!ds.valid()) return;
  for (int i = 0; i < 2; ++i)
    if (c.needs_grad(i)) c.set_grad_input(i, ds);
}
void backward_l2_normalize(BackwardContext& c) {
  c.set_grad_input(0, l2_normalize_backward(c.grad_output(0), c.input(0), c.attrs().scalar));
}
void backward_softmax_cross_entropy(BackwardContext& c) {
  if (c.needs_grad(0))
    c.set_grad_input(0, softmax_cross_entropy_backward(c.grad_output(0), c.input(0), c.input(1)));
}

}  // namespace

void register_normalization_rows(OpRegistry& r) {
  r.set({.kind = OpKind::LayerNorm,
         .name = "layer_norm",
         .num_inputs = 3,
         .num_outputs = 3,
         .infer = infer_layer_norm,
         .backward = backward_layer_norm,
         .cost = cost_norm});
  r.set({.kind = OpKind::LayerNormBackward,
         .name = "layer_norm_backward",
         .num_inputs = 5,
         .num_outputs = 3,
         .infer = infer_layer_norm_backward,
         .grad = Grad::Unsupported,
         .cost = cost_norm});
  // The sum may overwrite a: kernels read each element of a before writing it.
  r.set({.kind = OpKind::AddLayerNorm,
         .name = "add_layer_norm",
         .num_inputs = 4,
         .num_outputs = 4,
         .infer = infer_add_layer_norm,
         .inplace_input = 0,
         .backward = backward_add_layer_norm,
         .cost = cost_norm});
  r.set({.kind = OpKind::L2Normalize,
         .name = "l2_normalize",
         .num_inputs = 1,
         .num_outputs = 1,
         .infer = infer_same_as_input0,
         .backward = backward_l2_normalize,
         .cost = cost_norm});
  r.set({.kind = OpKind::L2NormalizeBackward,
         .name = "l2_normalize_backward",
         .num_inputs = 2,
         .num_outputs = 1,
         .infer = infer_l2_normalize_backward,
         .grad = Grad::Unsupported,
         .cost = cost_norm});
  r.set({.kind = OpKind::SoftmaxCrossEntropy,
         .name = "softmax_cross_entropy",
         .num_inputs = 2,
         .num_outputs = 1,
         .infer = infer_softmax_cross_entropy,
         .backward = backward_softmax_cross_entropy,
         .cost = cost_norm});
  r.set({.kind = OpKind::SoftmaxCrossEntropyBackward,
         .name = "softmax_cross_entropy_backward",
         .num_inputs = 3,
         .num_outputs = 1,
         .infer = infer_softmax_cross_entropy_backward,
         .grad = Grad::Unsupported,
         .cost = cost_norm});
}

}  // namespace frost::ops
