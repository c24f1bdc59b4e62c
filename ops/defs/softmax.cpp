// Rows for softmax and log-softmax over the last dimension, and their backward ops (one pass each, and
// what oneDNN's softmax backward computes).
#include "engine/autodiff.h"
#include "ops/api.h"
#include "ops/defs/common.h"
#include "ops/registration.h"

namespace frost::ops {
namespace {

std::vector<TensorType> infer_last_dim(const InferContext& ctx) {
  require_floating(ctx, 0);
  FROST_CHECK(ctx.inputs[0].shape.rank() >= 1, InvalidArgument, "needs at least one dimension");
  return {ctx.inputs[0]};
}
Cost cost_softmax(std::span<const TensorType> in, std::span<const TensorType> out, const Attrs&) {
  return streaming_cost(in, out, 14);  // max, sub, exp (~10), sum, divide per element: a rough figure
}

std::vector<TensorType> infer_backward(const InferContext& ctx) {
  require_floating(ctx, 0);
  require_same_dtype(ctx);
  FROST_CHECK(ctx.inputs[0].shape == ctx.inputs[1].shape, InvalidArgument, "dy and y differ in shape");
  return {ctx.inputs[0]};
}

void backward_softmax(BackwardContext& c) {
  c.set_grad_input(0, softmax_backward(c.grad_output(0), c.output(0)));
}
void backward_log_softmax(BackwardContext& c) {
  c.set_grad_input(0, log_softmax_backward(c.grad_output(0), c.output(0)));
}

}  // namespace

void register_softmax_rows(OpRegistry& r) {
  r.set({.kind = OpKind::Softmax,
         .name = "softmax",
         .num_inputs = 1,
         .num_outputs = 1,
         .infer = infer_last_dim,
         .inplace_input = 0,
         .backward = backward_softmax,
         .cost = cost_softmax});
  r.set({.kind = OpKind::LogSoftmax,
         .name = "log_softmax",
         .num_inputs = 1,
         .num_outputs = 1,
         .infer = infer_last_dim,
         .inplace_input = 0,
         .backward = backward_log_softmax,
         .cost = cost_softmax});
  r.set({.kind = OpKind::SoftmaxBackward,
         .name = "softmax_backward",
         .num_inputs = 2,
         .num_outputs = 1,
         .infer = infer_backward,
         .inplace_input = 0,
         .grad = Grad::Unsupported,
         .cost = cost_softmax});
  r.set({.kind = OpKind::LogSoftmaxBackward,
         .name = "log_softmax_backward",
         .num_inputs = 2,
         .num_outputs = 1,
         .infer = infer_backward,
         .inplace_input = 0,
         .grad = Grad::Unsupported,
         .cost = cost_softmax});
}

}  // namespace frost::ops
