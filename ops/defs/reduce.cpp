// Rows for sum, mean and max over axes (attrs.axes: normalised and sorted by ops/api; attrs.keepdim).
#include "engine/autodiff.h"
#include "ops/api.h"
#include "ops/defs/common.h"
#include "ops/registration.h"

namespace frost::ops {
namespace {

Shape reduced_shape(const Shape& in, const std::vector<int64_t>& axes, bool keepdim) {
  Shape out;
  size_t next = 0;
  for (int i = 0; i < in.rank(); ++i) {
    bool reduced = next < axes.size() && axes[next] == i;
    if (reduced) ++next;
    if (!reduced)
      out.push_back(in[i]);
    else if (keepdim)
      out.push_back(1);
  }
  return out;
}

std::vector<TensorType> infer_reduce(const InferContext& ctx) {
  require_floating(ctx, 0);
  const Shape& in = ctx.inputs[0].shape;
  const std::vector<int64_t>& axes = ctx.attrs.axes;
  for (size_t i = 0; i < axes.size(); ++i) {
    FROST_CHECK(axes[i] >= 0 && axes[i] < in.rank() && (i == 0 || axes[i] > axes[i - 1]), InvalidArgument,
                "axes must be distinct, sorted and within rank " << in.rank());
  }
  return {{ctx.inputs[0].dtype, reduced_shape(in, axes, ctx.attrs.keepdim)}};
}

Cost cost_reduce(std::span<const TensorType> in, std::span<const TensorType> out, const Attrs&) {
  Cost c = streaming_cost(in, out, 0);
  c.flops = double(in[0].shape.numel());
  return c;
}

// The gradient of a reduction is the output gradient broadcast back over the reduced axes.
Tensor broadcast_back(BackwardContext& c) {
  const Shape in = c.input(0).shape();
  Tensor g = reshape(c.grad_output(0), reduced_shape(in, c.attrs().axes, true).to_vector());
  return expand(g, in);
}
std::vector<TensorType> infer_max_backward(const InferContext& ctx) {
  require_floating(ctx, 0);
  require_same_dtype(ctx);
  const Shape reduced = reduced_shape(ctx.inputs[1].shape, ctx.attrs.axes, ctx.attrs.keepdim);
  FROST_CHECK(ctx.inputs[0].shape == reduced && ctx.inputs[2].shape == reduced, InvalidArgument,
              "dy " << ctx.inputs[0].shape << " and y " << ctx.inputs[2].shape
                    << " must be the reduced shape " << reduced);
  return {ctx.inputs[1]};
}

void backward_max(BackwardContext& c) {
  c.set_grad_input(
      0, max_backward(c.grad_output(0), c.input(0), c.output(0), c.attrs().axes, c.attrs().keepdim));
}
void backward_sum(BackwardContext& c) {
  c.set_grad_input(0, broadcast_back(c));
}
void backward_mean(BackwardContext& c) {
  const Shape in = c.input(0).shape();
  double count = 1;
  for (int64_t a : c.attrs().axes) count *= double(in[int(a)]);
  c.set_grad_input(0, scale(broadcast_back(c), count > 0 ? 1.0 / count : 0.0));
}

}  // namespace

void register_reduce_rows(OpRegistry& r) {
  r.set({.kind = OpKind::Sum,
         .name = "sum",
         .num_inputs = 1,
         .num_outputs = 1,
         .infer = infer_reduce,
         .backward = backward_sum,
         .cost = cost_reduce});
  r.set({.kind = OpKind::Max,
         .name = "max",
         .num_inputs = 1,
         .num_outputs = 1,
         .infer = infer_reduce,
         .backward = backward_max,
         .cost = cost_reduce});
  r.set({.kind = OpKind::MaxBackward,
         .name = "max_backward",
         .num_inputs = 3,
         .num_outputs = 1,
         .infer = infer_max_backward,
         .grad = Grad::Unsupported,
         .cost = cost_reduce});
  r.set({.kind = OpKind::Mean,
         .name = "mean",
         .num_inputs = 1,
         .num_outputs = 1,
         .infer = infer_reduce,
         .backward = backward_mean,
         .cost = cost_reduce});
}

}  // namespace frost::ops
