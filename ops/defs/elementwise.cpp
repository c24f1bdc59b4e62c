// Rows for the elementwise ops: add, sub, mul, div (broadcasting), scale, exp, log, relu, relu_grad.
// Backward rules of broadcasting ops sum the gradient back to each input's shape (sum_to).
#include "engine/autodiff.h"
#include "ops/api.h"
#include "ops/defs/common.h"
#include "ops/registration.h"

namespace frost::ops {
namespace {

std::vector<TensorType> infer_binary(const InferContext& ctx) {
  require_floating(ctx, 0);
  require_same_dtype(ctx);
  return {{ctx.inputs[0].dtype, broadcast_shapes(ctx.inputs[0].shape, ctx.inputs[1].shape)}};
}
std::vector<TensorType> infer_unary(const InferContext& ctx) {
  require_floating(ctx, 0);
  return {ctx.inputs[0]};
}
std::vector<TensorType> infer_relu_grad(const InferContext& ctx) {
  require_floating(ctx, 0);
  require_same_dtype(ctx);
  FROST_CHECK(ctx.inputs[0].shape == ctx.inputs[1].shape, InvalidArgument,
              "the gradient " << ctx.inputs[0].shape << " and the input " << ctx.inputs[1].shape
                              << " differ in shape");
  return {ctx.inputs[0]};
}

Cost cost_1flop(std::span<const TensorType> in, std::span<const TensorType> out, const Attrs&) {
  return streaming_cost(in, out, 1);
}
Cost cost_transcendental(std::span<const TensorType> in, std::span<const TensorType> out, const Attrs&) {
  return streaming_cost(in, out, 10);  // a rough figure for exp/log: enough to rank steps in a report
}

void backward_add(BackwardContext& c) {
  Tensor g = c.grad_output(0);
  if (c.needs_grad(0)) c.set_grad_input(0, sum_to(g, c.input(0).shape()));
  if (c.needs_grad(1)) c.set_grad_input(1, sum_to(g, c.input(1).shape()));
}
void backward_sub(BackwardContext& c) {
  Tensor g = c.grad_output(0);
  if (c.needs_grad(0)) c.set_grad_input(0, sum_to(g, c.input(0).shape()));
  if (c.needs_grad(1)) c.set_grad_input(1, sum_to(neg(g), c.input(1).shape()));
}
void backward_mul(BackwardContext& c) {
  Tensor g = c.grad_output(0);
  if (c.needs_grad(0)) c.set_grad_input(0, sum_to(g * c.input(1), c.input(0).shape()));
  if (c.needs_grad(1)) c.set_grad_input(1, sum_to(g * c.input(0), c.input(1).shape()));
}
void backward_div(BackwardContext& c) {
  Tensor g = c.grad_output(0), b = c.input(1);
  if (c.needs_grad(0)) c.set_grad_input(0, sum_to(g / b, c.input(0).shape()));
  // d(a/b)/db = -a/b^2 = -(a/b)/b: reuse the forward output instead of squaring b.
  if (c.needs_grad(1)) c.set_grad_input(1, sum_to(neg(g * c.output(0) / b), b.shape()));
}
void backward_scale(BackwardContext& c) {
  c.set_grad_input(0, scale(c.grad_output(0), c.attrs().scalar));
}
void backward_exp(BackwardContext& c) {
  c.set_grad_input(0, c.grad_output(0) * c.output(0));
}
void backward_log(BackwardContext& c) {
  c.set_grad_input(0, c.grad_output(0) / c.input(0));
}
void backward_relu(BackwardContext& c) {
  c.set_grad_input(0, relu_grad(c.grad_output(0), c.input(0)));
}
void backward_relu_grad(BackwardContext& c) {
  // Linear in dy with the same mask; with respect to x the derivative is zero wherever it exists.
  if (c.needs_grad(0)) c.set_grad_input(0, relu_grad(c.grad_output(0), c.input(1)));
  if (c.needs_grad(1)) c.set_grad_input(1, zeros_like(c.input(1)));
}

OpRow binary(OpKind kind, const char* name, BackwardFn backward) {
  return {.kind = kind,
          .name = name,
          .num_inputs = 2,
          .num_outputs = 1,
          .infer = infer_binary,
          .inplace_input = 0,
          .backward = backward,
          .cost = cost_1flop};
}
OpRow unary(OpKind kind, const char* name, BackwardFn backward, CostFn cost) {
  return {.kind = kind,
          .name = name,
          .num_inputs = 1,
          .num_outputs = 1,
          .infer = infer_unary,
          .inplace_input = 0,
          .backward = backward,
          .cost = cost};
}

}  // namespace

void register_elementwise_rows(OpRegistry& r) {
  r.set(binary(OpKind::Add, "add", backward_add));
  r.set(binary(OpKind::Sub, "sub", backward_sub));
  r.set(binary(OpKind::Mul, "mul", backward_mul));
  r.set(binary(OpKind::Div, "div", backward_div));
  r.set(unary(OpKind::Scale, "scale", backward_scale, cost_1flop));
  r.set(unary(OpKind::Exp, "exp", backward_exp, cost_transcendental));
  r.set(unary(OpKind::Log, "log", backward_log, cost_transcendental));
  r.set(unary(OpKind::Relu, "relu", backward_relu, cost_1flop));
  r.set({.kind = OpKind::ReluGrad,
         .name = "relu_grad",
         .num_inputs = 2,
         .num_outputs = 1,
         .infer = infer_relu_grad,
         .inplace_input = 0,
         .backward = backward_relu_grad,
         .cost = cost_1flop});
}

}  // namespace frost::ops
