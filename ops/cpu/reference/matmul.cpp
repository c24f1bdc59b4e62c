// Reference matmul: out[..., m, n] = sum_k op(A)[..., m, k] * op(B)[..., k, n], accumulated in double
// (DESIGN principle 10: F64 accumulation in reference kernels), batch dims broadcast; and the linear op,
// act(x op(w) + bias), the bias and activation applied to the double sum before rounding.
#include "engine/kernel.h"
#include "ops/cpu/reference/activations.h"
#include "ops/cpu/reference/loops.h"
#include "ops/registration.h"

namespace frost::ops {
namespace {
using reference::for_each_offset2;
using reference::Strides;

// Element strides of each matrix in a batch, for reading `operand` at every index of `batch`.
Strides batch_strides(const Shape& operand, const Shape& batch) {
  Shape own(std::span<const int64_t>(operand.begin(), size_t(operand.rank() - 2)));
  Strides s = broadcast_strides(own, batch);
  const int64_t matrix = operand[-1] * operand[-2];
  for (int d = 0; d < batch.rank(); ++d) s[size_t(d)] *= matrix;
  return s;
}

template <class T>
void matmul_kernel(const KernelContext& ctx) {
  const TensorView &a = ctx.in[0], &b = ctx.in[1], &out = ctx.out[0];
  const bool ta = ctx.node->attrs.trans_a, tb = ctx.node->attrs.trans_b;
  const int64_t M = out.shape[-2], N = out.shape[-1];
  const int64_t K = ta ? a.shape[-2] : a.shape[-1];
  // Strides of op(A) as (m, k) and op(B) as (k, n) inside one matrix.
  const int64_t a_m = ta ? 1 : K, a_k = ta ? M : 1;
  const int64_t b_k = tb ? 1 : N, b_n = tb ? K : 1;
  Shape batch(std::span<const int64_t>(out.shape.begin(), size_t(out.shape.rank() - 2)));
  const T* pa = a.as<const T>();
  const T* pb = b.as<const T>();
  T* po = out.as<T>();
  for_each_offset2(batch, batch_strides(a.shape, batch), batch_strides(b.shape, batch),
                   [&](int64_t i, int64_t oa, int64_t ob) {
                     const T* A = pa + oa;
                     const T* B = pb + ob;
                     T* C = po + i * M * N;
                     for (int64_t m = 0; m < M; ++m) {
                       for (int64_t n = 0; n < N; ++n) {
                         double acc = 0.0;
                         for (int64_t k = 0; k < K; ++k)
                           acc += double(A[m * a_m + k * a_k]) * double(B[k * b_k + n * b_n]);
                         C[m * N + n] = T(acc);
                       }
                     }
                   });
}

// x as (M, K); w (K, N), or (N, K) with trans_b; bias (N).
template <class T>
void linear_kernel(const KernelContext& ctx) {
  const TensorView &x = ctx.in[0], &w = ctx.in[1], &out = ctx.out[0];
  const bool tb = ctx.node->attrs.trans_b;
  const Activation act = ctx.node->attrs.activation;
  const int64_t N = out.shape[-1], K = x.shape[-1], M = N ? out.shape.numel() / N : 0;
  const int64_t w_k = tb ? 1 : N, w_n = tb ? K : 1;
  const T *px = x.as<const T>(), *pw = w.as<const T>(), *pb = ctx.in[2].as<const T>();
  T* po = out.as<T>();
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double acc = 0.0;
      for (int64_t k = 0; k < K; ++k) acc += double(px[m * K + k]) * double(pw[k * w_k + n * w_n]);
      po[m * N + n] = T(reference::activate(act, acc + double(pb[n])));
    }
}

}  // namespace

void register_reference_matmul_kernels(KernelRegistry& r) {
  r.add(OpKind::MatMul, BackendKind::Reference, DType::F32, {"reference.matmul", matmul_kernel<float>});
  r.add(OpKind::MatMul, BackendKind::Reference, DType::F64, {"reference.matmul", matmul_kernel<double>});
  r.add(OpKind::Linear, BackendKind::Reference, DType::F32, {"reference.linear", linear_kernel<float>});
  r.add(OpKind::Linear, BackendKind::Reference, DType::F64, {"reference.linear", linear_kernel<double>});
}

}  // namespace frost::ops
