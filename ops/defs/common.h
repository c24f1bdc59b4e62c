// Helpers shared by the op rows in ops/defs/: type checks that throw with a reason (Graph::add_node adds
// the op, node and shapes) and the common cost formulas.
#pragma once

#include <span>

#include "engine/error.h"
#include "engine/op_registry.h"

namespace frost::ops {

inline double bytes_of(const TensorType& t) {
  return double(t.shape.numel()) * double(size_of(t.dtype));
}

inline void require_floating(const InferContext& ctx, size_t i) {
  FROST_CHECK(
      is_floating(ctx.inputs[i].dtype) && ctx.inputs[i].dtype != DType::F16 &&
          ctx.inputs[i].dtype != DType::BF16,
      InvalidArgument,
      "input " << i << " is " << ctx.inputs[i].dtype << "; this op computes on f32 or f64 (cast first)");
}

inline void require_same_dtype(const InferContext& ctx) {
  for (size_t i = 1; i < ctx.inputs.size(); ++i) {
    FROST_CHECK(ctx.inputs[i].dtype == ctx.inputs[0].dtype, InvalidArgument,
                "dtypes differ: input 0 is " << ctx.inputs[0].dtype << ", input " << i << " is "
                                             << ctx.inputs[i].dtype
                                             << " (frost does not promote types: cast explicitly)");
  }
}

// Reads every input once, writes every output once; `flops_per_element` per output element.
inline Cost streaming_cost(std::span<const TensorType> in, std::span<const TensorType> out,
                           double flops_per_element) {
  Cost c;
  for (const TensorType& t : in) c.bytes += bytes_of(t);
  for (const TensorType& t : out) {
    c.bytes += bytes_of(t);
    c.flops += flops_per_element * double(t.shape.numel());
  }
  return c;
}

}  // namespace frost::ops
