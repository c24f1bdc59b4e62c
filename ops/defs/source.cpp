// Rows for the ops that make or overwrite values rather than compute from inputs: fill and assign.
#include "engine/autodiff.h"
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
}

}  // namespace frost::ops
