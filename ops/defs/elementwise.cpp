// Rows for the elementwise ops: add, sub, mul, div, where (broadcasting); scale, neg, exp, log, sqrt, rsqrt,
// tanh, relu, gelu (erf and tanh forms) and their backward helpers; cast; dropout.
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
std::vector<TensorType> infer_where(const InferContext& ctx) {
  FROST_CHECK(ctx.inputs[0].dtype == DType::U8, InvalidArgument,
              "the condition is " << ctx.inputs[0].dtype << ", expected u8");
  FROST_CHECK(ctx.inputs[1].dtype == ctx.inputs[2].dtype, InvalidArgument,
              "the branches differ in dtype: " << ctx.inputs[1].dtype << " vs " << ctx.inputs[2].dtype);
  InferContext values{ctx.kind, ctx.inputs.subspan(1), ctx.attrs};
  require_floating(values, 0);
  Shape out =
      broadcast_shapes(broadcast_shapes(ctx.inputs[0].shape, ctx.inputs[1].shape), ctx.inputs[2].shape);
  return {{ctx.inputs[1].dtype, out}};
}
std::vector<TensorType> infer_cast(const InferContext& ctx) {
  auto castable = [](DType t) {
    return t == DType::F32 || t == DType::F16 || t == DType::BF16 || t == DType::F64;
  };
  FROST_CHECK(
      castable(ctx.inputs[0].dtype) && castable(ctx.attrs.dtype), InvalidArgument,
      "cast from " << ctx.inputs[0].dtype << " to " << ctx.attrs.dtype << ": only f32, f16, bf16 and f64");
  return {{ctx.attrs.dtype, ctx.inputs[0].shape}};
}
std::vector<TensorType> infer_dropout(const InferContext& ctx) {
  require_floating(ctx, 0);
  FROST_CHECK(ctx.inputs[1].dtype == DType::I64 && ctx.inputs[1].shape.numel() == 1, InvalidArgument,
              "the offset must be one i64 element, got " << to_string(ctx.inputs[1]));
  FROST_CHECK(ctx.attrs.scalar >= 0.0 && ctx.attrs.scalar <= 1.0, InvalidArgument,
              "probability " << ctx.attrs.scalar << " is outside [0, 1]");
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
void backward_where(BackwardContext& c) {
  Tensor g = c.grad_output(0), cond = c.input(0);
  Tensor zero = fill(c.graph(), {}, g.dtype(), 0.0);
  if (c.needs_grad(1)) c.set_grad_input(1, sum_to(where(cond, g, zero), c.input(1).shape()));
  if (c.needs_grad(2)) c.set_grad_input(2, sum_to(where(cond, zero, g), c.input(2).shape()));
}
void backward_neg(BackwardContext& c) {
  c.set_grad_input(0, neg(c.grad_output(0)));
}
void backward_sqrt(BackwardContext& c) {
  c.set_grad_input(0, scale(c.grad_output(0) / c.output(0), 0.5));
}
// y = x^(-1/2): dy/dx = -y^3 / 2
void backward_rsqrt(BackwardContext& c) {
  Tensor y = c.output(0);
  c.set_grad_input(0, scale(c.grad_output(0) * (y * y * y), -0.5));
}
void backward_tanh(BackwardContext& c) {
  Tensor g = c.grad_output(0), y = c.output(0);
  c.set_grad_input(0, g - g * y * y);
}
void backward_gelu(BackwardContext& c) {
  c.set_grad_input(0, gelu_backward(c.grad_output(0), c.input(0)));
}
void backward_gelu_tanh(BackwardContext& c) {
  c.set_grad_input(0, gelu_tanh_backward(c.grad_output(0), c.input(0)));
}
void backward_cast(BackwardContext& c) {
  c.set_grad_input(0, cast(c.grad_output(0), c.input(0).dtype()));
}
// The mask depends only on (seed, offset, element index): the backward applies the same one to dy.
void backward_dropout(BackwardContext& c) {
  c.set_grad_input(0, dropout(c.grad_output(0), c.attrs().scalar, c.attrs().seed, c.input(1)));
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
// Backward helpers (dy, x) -> dx: second derivatives are not implemented.
OpRow backward_helper(OpKind kind, const char* name, CostFn cost) {
  return {.kind = kind,
          .name = name,
          .num_inputs = 2,
          .num_outputs = 1,
          .infer = infer_relu_grad,
          .inplace_input = 0,
          .grad = Grad::Unsupported,
          .cost = cost};
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
  r.set({.kind = OpKind::Where,
         .name = "where",
         .num_inputs = 3,
         .num_outputs = 1,
         .infer = infer_where,
         .backward = backward_where,
         .cost = cost_1flop});
  r.set(unary(OpKind::Scale, "scale", backward_scale, cost_1flop));
  r.set(unary(OpKind::Neg, "neg", backward_neg, cost_1flop));
  r.set(unary(OpKind::Sqrt, "sqrt", backward_sqrt, cost_transcendental));
  r.set(unary(OpKind::Rsqrt, "rsqrt", backward_rsqrt, cost_transcendental));
  r.set(unary(OpKind::Tanh, "tanh", backward_tanh, cost_transcendental));
  r.set(unary(OpKind::Gelu, "gelu", backward_gelu, cost_transcendental));
  r.set(unary(OpKind::GeluTanh, "gelu_tanh", backward_gelu_tanh, cost_transcendental));
  r.set(backward_helper(OpKind::GeluBackward, "gelu_backward", cost_transcendental));
  r.set(backward_helper(OpKind::GeluTanhBackward, "gelu_tanh_backward", cost_transcendental));
  r.set({.kind = OpKind::Cast,
         .name = "cast",
         .num_inputs = 1,
         .num_outputs = 1,
         .infer = infer_cast,
         .backward = backward_cast,
         .cost = cost_1flop});
  r.set({.kind = OpKind::Dropout,
         .name = "dropout",
         .num_inputs = 2,
         .num_outputs = 1,
         .infer = infer_dropout,
         .inplace_input = 0,
         .backward = backward_dropout,
         .cost = cost_transcendental});
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
