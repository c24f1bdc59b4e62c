// Rows for softmax and log-softmax over the last dimension.
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

// y = softmax(x):  dx = y * (g - sum(g * y, -1))
void backward_softmax(BackwardContext& c) {
  Tensor g = c.grad_output(0), y = c.output(0);
  c.set_grad_input(0, y * (g - sum(g * y, {-1}, true)));
}
// y = log_softmax(x):  dx = g - exp(y) * sum(g, -1)
void backward_log_softmax(BackwardContext& c) {
  Tensor g = c.grad_output(0), y = c.output(0);
  c.set_grad_input(0, g - exp(y) * sum(g, {-1}, true));
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
}

}  // namespace frost::ops
