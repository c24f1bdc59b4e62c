// Reference sum and mean: for each output element, walk the reduced sub-space in row-major order and
// accumulate in double. Output-major, so no scratch buffer is needed.
#include "engine/kernel.h"
#include "ops/cpu/reference/loops.h"
#include "ops/registration.h"

namespace frost::ops {
namespace {
using reference::for_each_offset;
using reference::Strides;

template <class T, bool Mean>
void reduce_kernel(const KernelContext& ctx) {
  const TensorView &in = ctx.in[0], &out = ctx.out[0];
  const std::vector<int64_t>& axes = ctx.node->attrs.axes;
  const Strides in_strides = contiguous_strides(in.shape);
  // Split the input's dimensions into kept (walked by the output) and reduced (walked per output).
  Shape kept, reduced;
  Strides kept_strides{}, reduced_strides{};
  size_t next = 0;
  for (int d = 0; d < in.shape.rank(); ++d) {
    if (next < axes.size() && axes[next] == d) {
      ++next;
      reduced_strides[size_t(reduced.rank())] = in_strides[size_t(d)];
      reduced.push_back(in.shape[d]);
    } else {
      kept_strides[size_t(kept.rank())] = in_strides[size_t(d)];
      kept.push_back(in.shape[d]);
    }
  }
  const double count = double(reduced.numel());
  const T* x = in.as<const T>();
  T* y = out.as<T>();
  for_each_offset(kept, kept_strides, [&](int64_t i, int64_t base) {
    double acc = 0.0;
    for_each_offset(reduced, reduced_strides, [&](int64_t, int64_t off) { acc += double(x[base + off]); });
    y[i] = T(Mean ? acc / count : acc);  // mean over zero elements is NaN, as in PyTorch
  });
}

}  // namespace

void register_reference_reduce_kernels(KernelRegistry& r) {
  r.add(OpKind::Sum, BackendKind::Reference, DType::F32, {"reference.sum", reduce_kernel<float, false>});
  r.add(OpKind::Sum, BackendKind::Reference, DType::F64, {"reference.sum", reduce_kernel<double, false>});
  r.add(OpKind::Mean, BackendKind::Reference, DType::F32, {"reference.mean", reduce_kernel<float, true>});
  r.add(OpKind::Mean, BackendKind::Reference, DType::F64, {"reference.mean", reduce_kernel<double, true>});
}

}  // namespace frost::ops
