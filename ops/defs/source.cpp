// Rows for the ops that make or overwrite values rather than compute from inputs: fill, assign, and the
// AdamW update (which overwrites three states).
#include "engine/autodiff.h"
#include "ops/api.h"
#include "ops/defs/common.h"
#include "ops/registration.h"

namespace frost::ops {
namespace {

std::vector<TensorType> infer_fill(const InferContext& ctx) {
  return {{ctx.attrs.dtype, ctx.attrs.shape}};
}
Cost cost_fill(std::span<const TensorType> in, std::span<const TensorType> out, const Attrs&) {
  return streaming_cost(in, out, 0);
}

std::vector<TensorType> infer_assign(const InferContext& ctx) {
  // Whether input 0 is persistent state is checked by verify(): inference sees types only.
  FROST_CHECK(
      ctx.inputs[0] == ctx.inputs[1], InvalidArgument,
      "the value " << to_string(ctx.inputs[1]) << " does not match the state " << to_string(ctx.inputs[0]));
  return {};
}
Cost cost_assign(std::span<const TensorType> in, std::span<const TensorType>, const Attrs&) {
  return {0, 2 * bytes_of(in[1])};
}

// AdamW: inputs param, grad, m, v (the same float type; param, m and v persistent state, written in place)
// and the step's coefficients [beta1, beta2, eps, pre_decay, sqrt_bc2, step, post_decay] (train/adamw.h).
std::vector<TensorType> infer_adamw(const InferContext& ctx) {
  const TensorType& p = ctx.inputs[0];
  FROST_CHECK(is_floating(p.dtype), InvalidArgument,
              "adamw: parameters must be floating point, got " << to_string(p));
  for (int i = 1; i < 4; ++i)
    FROST_CHECK(ctx.inputs[size_t(i)] == p, InvalidArgument,
                "adamw: input " << i << " is " << to_string(ctx.inputs[size_t(i)]) << ", the parameter "
                                << to_string(p));
  const TensorType& c = ctx.inputs[4];
  FROST_CHECK(
      c.dtype == p.dtype && c.shape == Shape{kAdamWCoefficients}, InvalidArgument,
      "adamw: coefficients must be " << p.dtype << "[" << kAdamWCoefficients << "], got " << to_string(c));
  return {};
}
Cost cost_adamw(std::span<const TensorType> in, std::span<const TensorType>, const Attrs&) {
  return {10 * double(in[0].shape.numel()), 7 * bytes_of(in[0])};
}

}  // namespace

void register_source_rows(OpRegistry& r) {
  r.set({.kind = OpKind::Fill,
         .name = "fill",
         .num_inputs = 0,
         .num_outputs = 1,
         .infer = infer_fill,
         .grad = Grad::None,
         .cost = cost_fill});
  // Not differentiable: it writes state for the next run; gradients flow through the value's producers.
  r.set({.kind = OpKind::Assign,
         .name = "assign",
         .num_inputs = 2,
         .num_outputs = 0,
         .infer = infer_assign,
         .grad = Grad::None,
         .side_effect = true,
         .cost = cost_assign});
  // The optimizer's update: state written for the next run, so not differentiable either.
  r.set({.kind = OpKind::AdamW,
         .name = "adamw",
         .num_inputs = 5,
         .num_outputs = 0,
         .infer = infer_adamw,
         .grad = Grad::None,
         .side_effect = true,
         .cost = cost_adamw});
}

}  // namespace frost::ops
