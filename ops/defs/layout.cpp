// Rows for layout ops: reshape (a view), permute, contiguous, expand, slice (+ its backward), concat, repeat,
// repeat_interleave. They work on every dtype.
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

int64_t slice_length(int64_t start, int64_t stop, int64_t step) {
  return stop > start ? (stop - start + step - 1) / step : 0;
}

std::vector<TensorType> infer_slice(const InferContext& ctx) {
  const Shape& in = ctx.inputs[0].shape;
  const Attrs& a = ctx.attrs;
  FROST_CHECK(a.axis >= 0 && a.axis < in.rank(), InvalidArgument,
              "axis " << a.axis << " is out of range for " << in);
  const int64_t n = in[int(a.axis)];
  FROST_CHECK(a.step >= 1 && 0 <= a.start && a.start <= a.stop && a.stop <= n, InvalidArgument,
              "slice [" << a.start << ":" << a.stop << ":" << a.step << "] is not within 0.." << n);
  Shape out = in;
  out[int(a.axis)] = slice_length(a.start, a.stop, a.step);
  return {{ctx.inputs[0].dtype, out}};
}

std::vector<TensorType> infer_slice_backward(const InferContext& ctx) {
  const Shape& dy = ctx.inputs[0].shape;
  const Attrs& a = ctx.attrs;
  const Shape& full = a.shape;
  FROST_CHECK(dy.rank() == full.rank() && a.axis >= 0 && a.axis < full.rank() && a.step >= 1 && a.start >= 0,
              InvalidArgument, "dy " << dy << " does not fit a slice of " << full << " on axis " << a.axis);
  for (int d = 0; d < dy.rank(); ++d) {
    if (d == a.axis) {
      // An empty slice may start at the end (x[n:]), not past it.
      FROST_CHECK(dy[d] == 0 ? a.start <= full[d] : a.start + (dy[d] - 1) * a.step < full[d], InvalidArgument,
                  dy[d] << " elements from " << a.start << " by " << a.step << " overrun " << full[d]);
    } else {
      FROST_CHECK(dy[d] == full[d], InvalidArgument,
                  "dy " << dy << " differs from " << full << " off the axis");
    }
  }
  return {{ctx.inputs[0].dtype, full}};
}

std::vector<TensorType> infer_concat(const InferContext& ctx) {
  const TensorType& first = ctx.inputs[0];
  const int64_t axis = ctx.attrs.axis;
  FROST_CHECK(axis >= 0 && axis < first.shape.rank(), InvalidArgument,
              "axis " << axis << " is out of range for " << first.shape);
  Shape out = first.shape;
  out[int(axis)] = 0;
  for (size_t i = 0; i < ctx.inputs.size(); ++i) {
    const TensorType& t = ctx.inputs[i];
    FROST_CHECK(t.dtype == first.dtype && t.shape.rank() == first.shape.rank(), InvalidArgument,
                "input " << i << " is " << to_string(t) << ", input 0 is " << to_string(first));
    for (int d = 0; d < t.shape.rank(); ++d) {
      FROST_CHECK(
          d == axis || t.shape[d] == first.shape[d], InvalidArgument,
          "input " << i << " " << t.shape << " differs from input 0 " << first.shape << " off axis " << axis);
    }
    out[int(axis)] += t.shape[int(axis)];
  }
  return {{first.dtype, out}};
}

std::vector<TensorType> infer_repeat(const InferContext& ctx) {
  const Shape& in = ctx.inputs[0].shape;
  const Shape& reps = ctx.attrs.shape;
  FROST_CHECK(reps.rank() >= in.rank(), InvalidArgument,
              "repeats " << reps << " must have at least as many dims as the input " << in);
  Shape out;
  const int lead = reps.rank() - in.rank();
  for (int d = 0; d < reps.rank(); ++d) out.push_back(reps[d] * (d < lead ? 1 : in[d - lead]));
  return {{ctx.inputs[0].dtype, out}};
}

std::vector<TensorType> infer_repeat_interleave(const InferContext& ctx) {
  Shape out = ctx.inputs[0].shape;
  FROST_CHECK(ctx.attrs.axis >= 0 && ctx.attrs.axis < out.rank() && ctx.attrs.count >= 0, InvalidArgument,
              "axis " << ctx.attrs.axis << " or count " << ctx.attrs.count << " invalid for " << out);
  out[int(ctx.attrs.axis)] *= ctx.attrs.count;
  return {{ctx.inputs[0].dtype, out}};
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
void backward_slice(BackwardContext& c) {
  const Attrs& a = c.attrs();
  c.set_grad_input(0, slice_backward(c.grad_output(0), c.input(0).shape(), a.axis, a.start, a.step));
}
void backward_slice_backward(BackwardContext& c) {
  const Attrs& a = c.attrs();
  const int64_t len = c.input(0).shape()[int(a.axis)];
  c.set_grad_input(0, slice(c.grad_output(0), a.axis, a.start, a.start + len * a.step, a.step));
}
void backward_concat(BackwardContext& c) {
  const int64_t axis = c.attrs().axis;
  int64_t offset = 0;
  for (int i = 0; i < c.num_inputs(); ++i) {
    const int64_t len = c.input(i).shape()[int(axis)];
    if (c.needs_grad(i)) c.set_grad_input(i, slice(c.grad_output(0), axis, offset, offset + len));
    offset += len;
  }
}
// out = tile(x): view dy as (rep0, d0, rep1, d1, ...), splitting only the dims actually repeated, and sum
// the rep axes.
void backward_repeat(BackwardContext& c) {
  const Shape in = c.input(0).shape(), reps = c.attrs().shape;
  const int lead = reps.rank() - in.rank();
  std::vector<int64_t> split, summed;
  for (int d = 0; d < reps.rank(); ++d) {
    const int64_t dim = d < lead ? 1 : in[d - lead];
    if (reps[d] != 1) {
      summed.push_back(int64_t(split.size()));
      split.push_back(reps[d]);
    }
    split.push_back(dim);
  }
  FROST_CHECK(split.size() <= size_t(kMaxRank), Unsupported,
              "repeat backward: input " << in << " repeated by " << reps << " needs rank " << split.size()
                                        << " > " << kMaxRank);
  Tensor g = reshape(c.grad_output(0), split);
  if (!summed.empty()) g = sum(g, summed);
  c.set_grad_input(0, reshape(g, in.to_vector()));
}
void backward_repeat_interleave(BackwardContext& c) {
  const Shape in = c.input(0).shape();
  const int axis = int(c.attrs().axis);
  FROST_CHECK(in.rank() < kMaxRank, Unsupported, "repeat_interleave backward needs rank < " << kMaxRank);
  std::vector<int64_t> split = in.to_vector();
  split.insert(split.begin() + axis + 1, c.attrs().count);
  c.set_grad_input(0, reshape(sum(reshape(c.grad_output(0), split), {axis + 1}), in.to_vector()));
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
  r.set({.kind = OpKind::Slice,
         .name = "slice",
         .num_inputs = 1,
         .num_outputs = 1,
         .infer = infer_slice,
         .backward = backward_slice,
         .cost = cost_move});
  r.set({.kind = OpKind::SliceBackward,
         .name = "slice_backward",
         .num_inputs = 1,
         .num_outputs = 1,
         .infer = infer_slice_backward,
         .backward = backward_slice_backward,
         .cost = cost_move});
  r.set({.kind = OpKind::Concat,
         .name = "concat",
         .num_inputs = kVariadic,
         .num_outputs = 1,
         .infer = infer_concat,
         .backward = backward_concat,
         .cost = cost_move});
  r.set({.kind = OpKind::Repeat,
         .name = "repeat",
         .num_inputs = 1,
         .num_outputs = 1,
         .infer = infer_repeat,
         .backward = backward_repeat,
         .cost = cost_move});
  r.set({.kind = OpKind::RepeatInterleave,
         .name = "repeat_interleave",
         .num_inputs = 1,
         .num_outputs = 1,
         .infer = infer_repeat_interleave,
         .backward = backward_repeat_interleave,
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
