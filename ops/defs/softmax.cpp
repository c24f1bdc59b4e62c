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

// The four rows differ only in kind, name, inference, and whether they have a rule or are backward helpers.
static OpRow last_dim_row(OpKind kind, const char* name, InferFn infer, BackwardFn backward) {
  return {.kind = kind,
          .name = name,
          .num_inputs = infer == infer_last_dim ? 1 : 2,
          .num_outputs = 1,
          .infer = infer,
          .inplace_input = 0,
          .grad = backward ? Grad::Rule : Grad::Unsupported,
          .backward = backward,
          .cost = cost_softmax};
}

void register_softmax_rows(OpRegistry& r) {
  r.set(last_dim_row(OpKind::Softmax, "softmax", infer_last_dim, backward_softmax));
  r.set(last_dim_row(OpKind::LogSoftmax, "log_softmax", infer_last_dim, backward_log_softmax));
  r.set(last_dim_row(OpKind::SoftmaxBackward, "softmax_backward", infer_backward, nullptr));
  r.set(last_dim_row(OpKind::LogSoftmaxBackward, "log_softmax_backward", infer_backward, nullptr));
}

}  // namespace frost::ops
