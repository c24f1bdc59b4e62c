// Reference softmax and log-softmax over the last dimension: max-subtracted, sums in double. A row holding
// NaN gives NaN throughout, as in PyTorch.
#include <cmath>

#include "engine/kernel.h"
#include "ops/registration.h"

namespace frost::ops {
namespace {

template <class T>
double row_max(const T* x, int64_t n) {
  double m = -INFINITY;
  for (int64_t j = 0; j < n && !std::isnan(m); ++j) {
    double v = double(x[j]);
    if (std::isnan(v) || v > m) m = v;  // a NaN, once taken, is kept: the row becomes NaN
  }
  return m;
}

template <class T, bool Log>
void softmax_kernel(const KernelContext& ctx) {
  const TensorView &in = ctx.in[0], &out = ctx.out[0];
  const int64_t n = in.shape.rank() ? in.shape[-1] : 1;
  const int64_t rows = n ? in.shape.numel() / n : 0;
  for (int64_t r = 0; r < rows; ++r) {
    const T* x = in.as<const T>() + r * n;
    T* y = out.as<T>() + r * n;
    const double m = row_max(x, n);
    double s = 0.0;
    for (int64_t j = 0; j < n; ++j) s += std::exp(double(x[j]) - m);
    if (Log) {
      const double log_s = std::log(s);
      for (int64_t j = 0; j < n; ++j) y[j] = T(double(x[j]) - m - log_s);
    } else {
      for (int64_t j = 0; j < n; ++j) y[j] = T(std::exp(double(x[j]) - m) / s);
    }
  }
}

// dx = y * (dy - sum(dy * y))   or, for log-softmax,   dx = dy - exp(y) * sum(dy)
template <class T, bool Log>
void softmax_backward_kernel(const KernelContext& ctx) {
  const TensorView &dyv = ctx.in[0], &yv = ctx.in[1];
  const int64_t n = yv.shape.rank() ? yv.shape[-1] : 1;
  const int64_t rows = n ? yv.shape.numel() / n : 0;
  for (int64_t r = 0; r < rows; ++r) {
    const T* dy = dyv.as<const T>() + r * n;
    const T* y = yv.as<const T>() + r * n;
    T* dx = ctx.out[0].as<T>() + r * n;
    double s = 0.0;
    for (int64_t j = 0; j < n; ++j) s += Log ? double(dy[j]) : double(dy[j]) * double(y[j]);
    for (int64_t j = 0; j < n; ++j)
      dx[j] = Log ? T(double(dy[j]) - std::exp(double(y[j])) * s) : T(double(y[j]) * (double(dy[j]) - s));
  }
}

}  // namespace

void register_reference_softmax_kernels(KernelRegistry& r) {
  r.add(OpKind::SoftmaxBackward, BackendKind::Reference, DType::F32,
        {"reference.softmax_backward", softmax_backward_kernel<float, false>});
  r.add(OpKind::SoftmaxBackward, BackendKind::Reference, DType::F64,
        {"reference.softmax_backward", softmax_backward_kernel<double, false>});
  r.add(OpKind::LogSoftmaxBackward, BackendKind::Reference, DType::F32,
        {"reference.log_softmax_backward", softmax_backward_kernel<float, true>});
  r.add(OpKind::LogSoftmaxBackward, BackendKind::Reference, DType::F64,
        {"reference.log_softmax_backward", softmax_backward_kernel<double, true>});
  r.add(OpKind::Softmax, BackendKind::Reference, DType::F32,
        {"reference.softmax", softmax_kernel<float, false>});
  r.add(OpKind::Softmax, BackendKind::Reference, DType::F64,
        {"reference.softmax", softmax_kernel<double, false>});
  r.add(OpKind::LogSoftmax, BackendKind::Reference, DType::F32,
        {"reference.log_softmax", softmax_kernel<float, true>});
  r.add(OpKind::LogSoftmax, BackendKind::Reference, DType::F64,
        {"reference.log_softmax", softmax_kernel<double, true>});
}

}  // namespace frost::ops
