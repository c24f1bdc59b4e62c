// Reference kernels for the elementwise ops, on f32 and f64. Plain loops: the oracle for fast kernels.
// NaN propagates as in PyTorch (relu(NaN) = NaN; relu_grad passes NaN in dy through where x > 0).
#include <cmath>

#include "engine/kernel.h"
#include "ops/cpu/reference/loops.h"
#include "ops/registration.h"

namespace frost::ops {
namespace {
using reference::for_each_offset2;

struct AddOp {
  template <class T>
  static T apply(T a, T b) {
    return a + b;
  }
};
struct SubOp {
  template <class T>
  static T apply(T a, T b) {
    return a - b;
  }
};
struct MulOp {
  template <class T>
  static T apply(T a, T b) {
    return a * b;
  }
};
struct DivOp {
  template <class T>
  static T apply(T a, T b) {
    return a / b;
  }
};

template <class T, class Op>
void binary_kernel(const KernelContext& ctx) {
  const TensorView &a = ctx.in[0], &b = ctx.in[1], &out = ctx.out[0];
  const T* pa = a.as<const T>();
  const T* pb = b.as<const T>();
  T* po = out.as<T>();
  for_each_offset2(out.shape, broadcast_strides(a.shape, out.shape), broadcast_strides(b.shape, out.shape),
                   [&](int64_t i, int64_t oa, int64_t ob) { po[i] = Op::apply(pa[oa], pb[ob]); });
}

template <class T, class F>
void unary_loop(const KernelContext& ctx, F f) {
  const T* x = ctx.in[0].as<const T>();
  T* y = ctx.out[0].as<T>();
  const int64_t n = ctx.out[0].shape.numel();
  for (int64_t i = 0; i < n; ++i) y[i] = f(x[i]);
}

template <class T>
void scale_kernel(const KernelContext& ctx) {
  const T s = T(ctx.node->attrs.scalar);
  unary_loop<T>(ctx, [s](T v) { return v * s; });
}
template <class T>
void exp_kernel(const KernelContext& ctx) {
  unary_loop<T>(ctx, [](T v) { return std::exp(v); });
}
template <class T>
void log_kernel(const KernelContext& ctx) {
  unary_loop<T>(ctx, [](T v) { return std::log(v); });
}
template <class T>
void relu_kernel(const KernelContext& ctx) {
  unary_loop<T>(ctx, [](T v) { return v < T(0) ? T(0) : v; });  // NaN < 0 is false: NaN passes through
}
template <class T>
void relu_grad_kernel(const KernelContext& ctx) {
  const T* dy = ctx.in[0].as<const T>();
  const T* x = ctx.in[1].as<const T>();
  T* dx = ctx.out[0].as<T>();
  const int64_t n = ctx.out[0].shape.numel();
  // Where x is NaN the forward output was NaN; propagate it into the gradient as PyTorch does.
  for (int64_t i = 0; i < n; ++i) dx[i] = std::isnan(x[i]) ? x[i] : (x[i] > T(0) ? dy[i] : T(0));
}

template <class T>
void register_for(KernelRegistry& r, DType dt) {
  r.add(OpKind::Add, BackendKind::Reference, dt, {"reference.add", binary_kernel<T, AddOp>});
  r.add(OpKind::Sub, BackendKind::Reference, dt, {"reference.sub", binary_kernel<T, SubOp>});
  r.add(OpKind::Mul, BackendKind::Reference, dt, {"reference.mul", binary_kernel<T, MulOp>});
  r.add(OpKind::Div, BackendKind::Reference, dt, {"reference.div", binary_kernel<T, DivOp>});
  r.add(OpKind::Scale, BackendKind::Reference, dt, {"reference.scale", scale_kernel<T>});
  r.add(OpKind::Exp, BackendKind::Reference, dt, {"reference.exp", exp_kernel<T>});
  r.add(OpKind::Log, BackendKind::Reference, dt, {"reference.log", log_kernel<T>});
  r.add(OpKind::Relu, BackendKind::Reference, dt, {"reference.relu", relu_kernel<T>});
  r.add(OpKind::ReluGrad, BackendKind::Reference, dt, {"reference.relu_grad", relu_grad_kernel<T>});
}

}  // namespace

void register_reference_elementwise_kernels(KernelRegistry& r) {
  register_for<float>(r, DType::F32);
  register_for<double>(r, DType::F64);
}

}  // namespace frost::ops
