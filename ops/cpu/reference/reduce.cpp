// Reference sum, mean and max (+ max's backward): for each output element, walk the reduced sub-space in
// row-major order, accumulating in double. Output-major, so no scratch buffer is needed.
#include <cmath>

#include "engine/kernel.h"
#include "ops/cpu/reference/loops.h"
#include "ops/registration.h"

namespace frost::ops {
namespace {
using reference::for_each_offset;
using reference::Strides;

// The input's dimensions split into kept ones (walked by the output) and reduced ones (walked per output).
struct ReduceSplit {
  Shape kept, reduced;
  Strides kept_strides{}, reduced_strides{};
};

ReduceSplit split_axes(const Shape& in, const std::vector<int64_t>& axes) {
  ReduceSplit s;
  const Strides in_strides = contiguous_strides(in);
  size_t next = 0;
  for (int d = 0; d < in.rank(); ++d) {
    if (next < axes.size() && axes[next] == d) {
      ++next;
      s.reduced_strides[size_t(s.reduced.rank())] = in_strides[size_t(d)];
      s.reduced.push_back(in[d]);
    } else {
      s.kept_strides[size_t(s.kept.rank())] = in_strides[size_t(d)];
      s.kept.push_back(in[d]);
    }
  }
  return s;
}

enum class Reduce { Sum, Mean, Max };

template <class T, Reduce R>
void reduce_kernel(const KernelContext& ctx) {
  const TensorView &in = ctx.in[0], &out = ctx.out[0];
  const ReduceSplit s = split_axes(in.shape, ctx.node->attrs.axes);
  const double count = double(s.reduced.numel());
  const T* x = in.as<const T>();
  T* y = out.as<T>();
  for_each_offset(s.kept, s.kept_strides, [&](int64_t i, int64_t base) {
    double acc = R == Reduce::Max ? -INFINITY : 0.0;
    for_each_offset(s.reduced, s.reduced_strides, [&](int64_t, int64_t off) {
      const double v = double(x[base + off]);
      if (R != Reduce::Max)
        acc += v;
      else if (std::isnan(v) || v > acc)
        acc = std::isnan(acc) ? acc : v;  // NaN wins, as torch.amax
    });
    y[i] = T(R == Reduce::Mean ? acc / count : acc);  // mean over zero elements is NaN, as in PyTorch
  });
}

// dx = dy / (number of ties) where x equals the maximum, else 0 (torch.amax's rule).
template <class T>
void max_backward_kernel(const KernelContext& ctx) {
  const TensorView &dy = ctx.in[0], &x = ctx.in[1], &y = ctx.in[2], &dx = ctx.out[0];
  const ReduceSplit s = split_axes(x.shape, ctx.node->attrs.axes);
  const T* px = x.as<const T>();
  T* pdx = dx.as<T>();
  for_each_offset(s.kept, s.kept_strides, [&](int64_t i, int64_t base) {
    const T top = y.as<const T>()[i];
    int64_t ties = 0;
    for_each_offset(s.reduced, s.reduced_strides,
                    [&](int64_t, int64_t off) { ties += px[base + off] == top; });
    const T share = ties ? T(double(dy.as<const T>()[i]) / double(ties)) : T(0);
    for_each_offset(s.reduced, s.reduced_strides,
                    [&](int64_t, int64_t off) { pdx[base + off] = px[base + off] == top ? share : T(0); });
  });
}

template <class T>
void register_for(KernelRegistry& r, DType dt) {
  r.add(OpKind::Sum, BackendKind::Reference, dt, {"reference.sum", reduce_kernel<T, Reduce::Sum>});
  r.add(OpKind::Mean, BackendKind::Reference, dt, {"reference.mean", reduce_kernel<T, Reduce::Mean>});
  r.add(OpKind::Max, BackendKind::Reference, dt, {"reference.max", reduce_kernel<T, Reduce::Max>});
  r.add(OpKind::MaxBackward, BackendKind::Reference, dt, {"reference.max_backward", max_backward_kernel<T>});
}

}  // namespace

void register_reference_reduce_kernels(KernelRegistry& r) {
  register_for<float>(r, DType::F32);
  register_for<double>(r, DType::F64);
}

}  // namespace frost::ops
