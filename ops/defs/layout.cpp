// Rows for layout ops: reshape (a view), permute, contiguous, expand. They work on every dtype.
#include <algorithm>

#include "engine/autodiff.h"
#include "ops/api.h"
#include "ops/defs/common.h"
#include "ops/registration.h"

namespace frost::ops {
namespace {

std::vector<TensorType> infer_reshape(const InferContext& ctx) {
  FROST_CHECK(ctx.attrs.shape.numel() == ctx.inputs[0].shape.numel(), InvalidArgument,
              "cannot reshape " << ctx.inputs[0].shape << " (" << ctx.inputs[0].shape.numel()
                                << " elements) to " << ctx.attrs.shape << " (" << ctx.attrs.shape.numel()
                                << " elements)");
  return {{ctx.inputs[0].dtype, ctx.attrs.shape}};
}

std::vector<TensorType> infer_permute(const InferContext& ctx) {
  const Shape& in = ctx.inputs[0].shape;
  const std::vector<int64_t>& perm = ctx.attrs.axes;
  FROST_CHECK(int(perm.size()) == in.rank(), InvalidArgument,
              "permutation has " << perm.size() << " entries for rank " << in.rank());
  std::vector<bool> seen(perm.size(), false);
  Shape out;
  for (int64_t p : perm) {
    FROST_CHECK(p >= 0 && p < in.rank() && !seen[size_t(p)], InvalidArgument,
                "not a permutation of 0.." << in.rank() - 1);
    seen[size_t(p)] = true;
    out.push_back(in[int(p)]);
  }
  return {{ctx.inputs[0].dtype, out}};
}

std::vector<TensorType> infer_identity(const InferContext& ctx) {
  return {ctx.inputs[0]};
}

std::vector<TensorType> infer_expand(const InferContext& ctx) {
  const Shape& in = ctx.inputs[0].shape;
  const Shape& to = ctx.attrs.shape;
  FROST_CHECK(in.rank() <= to.rank() && broadcast_shapes(in, to) == to, InvalidArgument,
              "cannot expand " << in << " to " << to);
  return {{ctx.inputs[0].dtype, to}};
}

Cost cost_move(std::span<const TensorType> in, std::span<const TensorType> out, const Attrs&) {
  return streaming_cost(in, out, 0);
}
Cost cost_view(std::span<const TensorType>, std::span<const TensorType>, const Attrs&) {
  return {};
}

void backward_reshape(BackwardContext& c) {
  c.set_grad_input(0, reshape(c.grad_output(0), c.input(0).shape().to_vector()));
}
void backward_permute(BackwardContext& c) {
  const std::vector<int64_t>& perm = c.attrs().axes;
  std::vector<int64_t> inverse(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) inverse[size_t(perm[i])] = int64_t(i);
  c.set_grad_input(0, permute(c.grad_output(0), inverse));
}
void backward_identity(BackwardContext& c) {
  c.set_grad_input(0, c.grad_output(0));
}
void backward_expand(BackwardContext& c) {
  c.set_grad_input(0, sum_to(c.grad_output(0), c.input(0).shape()));
}

}  // namespace

void register_layout_rows(OpRegistry& r) {
  r.set({.kind = OpKind::Reshape,
         .name = "reshape",
         .num_inputs = 1,
         .num_outputs = 1,
         .infer = infer_reshape,
         .view_of_input = 0,
         .backward = backward_reshape,
         .cost = cost_view});
  r.set({.kind = OpKind::Permute,
         .name = "permute",
         .num_inputs = 1,
         .num_outputs = 1,
         .infer = infer_permute,
         .backward = backward_permute,
         .cost = cost_move});
  r.set({.kind = OpKind::Contiguous,
         .name = "contiguous",
         .num_inputs = 1,
         .num_outputs = 1,
         .infer = infer_identity,
         .backward = backward_identity,
         .cost = cost_move});
  r.set({.kind = OpKind::Expand,
         .name = "expand",
         .num_inputs = 1,
         .num_outputs = 1,
         .infer = infer_expand,
         .backward = backward_expand,
         .cost = cost_move});
}

}  // namespace frost::ops
