// Reference kernels for the elementwise ops, on f32 and f64 (cast: every float pair). Plain loops with the
// math in double where it matters: the oracle for fast kernels. NaN propagates as in PyTorch
// (relu(NaN) = NaN; relu_grad(dy, NaN) = dy, as threshold_backward).
#include <cmath>

#include "engine/error.h"
#include "engine/kernel.h"
#include "engine/random.h"
#include "ops/cpu/reference/activations.h"
#include "ops/cpu/reference/loops.h"
#include "ops/registration.h"

namespace frost::ops {
namespace {
using reference::for_each_offset2;
using reference::for_each_offsets;
using reference::gelu_df;
using reference::gelu_f;
using reference::gelu_tanh_df;
using reference::gelu_tanh_f;

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

template <class T>
void where_kernel(const KernelContext& ctx) {
  const TensorView &c = ctx.in[0], &a = ctx.in[1], &b = ctx.in[2], &out = ctx.out[0];
  const uint8_t* pc = c.as<const uint8_t>();
  const T* pa = a.as<const T>();
  const T* pb = b.as<const T>();
  T* po = out.as<T>();
  for_each_offsets<3>(
      out.shape,
      {broadcast_strides(c.shape, out.shape), broadcast_strides(a.shape, out.shape),
       broadcast_strides(b.shape, out.shape)},
      [&](int64_t i, const std::array<int64_t, 3>& o) { po[i] = pc[o[0]] ? pa[o[1]] : pb[o[2]]; });
}

// y[i] = F(x[i]) computed in double.
template <class T, double (*F)(double)>
void unary_kernel(const KernelContext& ctx) {
  const T* x = ctx.in[0].as<const T>();
  T* y = ctx.out[0].as<T>();
  const int64_t n = ctx.out[0].shape.numel();
  for (int64_t i = 0; i < n; ++i) y[i] = T(F(double(x[i])));
}
// dx[i] = dy[i] * F'(x[i]) computed in double.
template <class T, double (*DF)(double)>
void derivative_kernel(const KernelContext& ctx) {
  const T* dy = ctx.in[0].as<const T>();
  const T* x = ctx.in[1].as<const T>();
  T* dx = ctx.out[0].as<T>();
  const int64_t n = ctx.out[0].shape.numel();
  for (int64_t i = 0; i < n; ++i) dx[i] = T(double(dy[i]) * DF(double(x[i])));
}

double neg_f(double x) {
  return -x;
}
double exp_f(double x) {
  return std::exp(x);
}
double log_f(double x) {
  return std::log(x);
}
double sqrt_f(double x) {
  return std::sqrt(x);
}
double rsqrt_f(double x) {
  return 1.0 / std::sqrt(x);
}
double tanh_f(double x) {
  return std::tanh(x);
}
double relu_f(double x) {
  return x < 0 ? 0.0 : x;
}  // NaN < 0 is false: NaN passes through

template <class T>
void scale_kernel(const KernelContext& ctx) {
  const T s = T(ctx.node->attrs.scalar);
  const T* x = ctx.in[0].as<const T>();
  T* y = ctx.out[0].as<T>();
  const int64_t n = ctx.out[0].shape.numel();
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * s;
}

template <class T>
void relu_grad_kernel(const KernelContext& ctx) {
  const T* dy = ctx.in[0].as<const T>();
  const T* x = ctx.in[1].as<const T>();
  T* dx = ctx.out[0].as<T>();
  const int64_t n = ctx.out[0].shape.numel();
  // PyTorch's threshold_backward: x <= 0 ? 0 : dy, so a NaN x passes dy through.
  for (int64_t i = 0; i < n; ++i) dx[i] = x[i] <= T(0) ? T(0) : dy[i];
}

void cast_kernel(const KernelContext& ctx) {
  convert(ctx.in[0].data, ctx.in[0].dtype, ctx.out[0].data, ctx.out[0].dtype,
          size_t(ctx.out[0].shape.numel()));
}

template <class T>
void dropout_kernel(const KernelContext& ctx) {
  const double p = ctx.node->attrs.scalar;
  const Philox rng(ctx.node->attrs.seed, uint64_t(ctx.in[1].as<const int64_t>()[0]));
  const T keep_scale = p < 1.0 ? T(1.0 / (1.0 - p)) : T(0);
  const T* x = ctx.in[0].as<const T>();
  T* y = ctx.out[0].as<T>();
  const int64_t n = ctx.out[0].shape.numel();
  for (int64_t i = 0; i < n; ++i) y[i] = dropout_keeps(rng, uint64_t(i), p) ? x[i] * keep_scale : T(0);
}

template <class T>
void register_for(KernelRegistry& r, DType dt) {
  auto add = [&](OpKind k, const char* name, void (*fn)(const KernelContext&)) {
    r.add(k, BackendKind::Reference, dt, {name, fn});
  };
  add(OpKind::Add, "reference.add", binary_kernel<T, AddOp>);
  add(OpKind::Sub, "reference.sub", binary_kernel<T, SubOp>);
  add(OpKind::Mul, "reference.mul", binary_kernel<T, MulOp>);
  add(OpKind::Div, "reference.div", binary_kernel<T, DivOp>);
  add(OpKind::Where, "reference.where", where_kernel<T>);
  add(OpKind::Scale, "reference.scale", scale_kernel<T>);
  add(OpKind::Neg, "reference.neg", unary_kernel<T, neg_f>);
  add(OpKind::Exp, "reference.exp", unary_kernel<T, exp_f>);
  add(OpKind::Log, "reference.log", unary_kernel<T, log_f>);
  add(OpKind::Sqrt, "reference.sqrt", unary_kernel<T, sqrt_f>);
  add(OpKind::Rsqrt, "reference.rsqrt", unary_kernel<T, rsqrt_f>);
  add(OpKind::Tanh, "reference.tanh", unary_kernel<T, tanh_f>);
  add(OpKind::Relu, "reference.relu", unary_kernel<T, relu_f>);
  add(OpKind::ReluGrad, "reference.relu_grad", relu_grad_kernel<T>);
  add(OpKind::Gelu, "reference.gelu", unary_kernel<T, gelu_f>);
  add(OpKind::GeluTanh, "reference.gelu_tanh", unary_kernel<T, gelu_tanh_f>);
  add(OpKind::GeluBackward, "reference.gelu_backward", derivative_kernel<T, gelu_df>);
  add(OpKind::GeluTanhBackward, "reference.gelu_tanh_backward", derivative_kernel<T, gelu_tanh_df>);
  add(OpKind::Dropout, "reference.dropout", dropout_kernel<T>);
}

}  // namespace

void register_reference_elementwise_kernels(KernelRegistry& r) {
  register_for<float>(r, DType::F32);
  register_for<double>(r, DType::F64);
  for (DType dt : {DType::F32, DType::F16, DType::BF16, DType::F64})
    r.add(OpKind::Cast, BackendKind::Reference, dt, {"reference.cast", cast_kernel});
}

}  // namespace frost::ops
