// Reference kernels for layer_norm (+ backward), l2_normalize (+ backward) and softmax_cross_entropy
// (+ backward), row by row over the last dimension with statistics in double.
//
// Legend: R rows (all leading dims), C the last dimension.
#include <algorithm>
#include <cmath>

#include "engine/error.h"
#include "engine/kernel.h"
#include "ops/registration.h"

namespace frost::ops {
namespace {

int64_t last_dim(const Shape& s) {
  return s.rank() ? s[-1] : 1;
}

// One row: y = (x - mean) * rstd * w + b, rstd = 1 / sqrt(biased variance + eps); mean and rstd are saved.
template <class T>
void normalize_row(const T* x, T* y, int64_t C, const T* w, const T* b, double eps, T* mean_out,
                   T* rstd_out) {
  double mean = 0, var = 0;
  for (int64_t c = 0; c < C; ++c) mean += double(x[c]);
  mean /= double(C);
  for (int64_t c = 0; c < C; ++c) var += (double(x[c]) - mean) * (double(x[c]) - mean);
  var /= double(C);
  const double rstd = 1.0 / std::sqrt(var + eps);
  for (int64_t c = 0; c < C; ++c) y[c] = T((double(x[c]) - mean) * rstd * double(w[c]) + double(b[c]));
  *mean_out = T(mean);
  *rstd_out = T(rstd);
}

template <class T>
void layer_norm_kernel(const KernelContext& ctx) {
  const int64_t C = last_dim(ctx.in[0].shape), R = C ? ctx.in[0].shape.numel() / C : 0;
  const T *w = ctx.in[1].as<const T>(), *b = ctx.in[2].as<const T>();
  for (int64_t r = 0; r < R; ++r)
    normalize_row(ctx.in[0].as<const T>() + r * C, ctx.out[0].as<T>() + r * C, C, w, b,
                  ctx.node->attrs.scalar, ctx.out[1].as<T>() + r, ctx.out[2].as<T>() + r);
}

// sum = a + b (rounded to T, as the unfused add stores it), then layer_norm of the sum. The sum may share
// a's buffer (in place): each element of a is read before its sum is written.
template <class T>
void add_layer_norm_kernel(const KernelContext& ctx) {
  const int64_t C = last_dim(ctx.in[0].shape), R = C ? ctx.in[0].shape.numel() / C : 0;
  const T *w = ctx.in[2].as<const T>(), *bias = ctx.in[3].as<const T>();
  for (int64_t r = 0; r < R; ++r) {
    const T* a = ctx.in[0].as<const T>() + r * C;
    const T* b = ctx.in[1].as<const T>() + r * C;
    T* s = ctx.out[0].as<T>() + r * C;
    for (int64_t c = 0; c < C; ++c) s[c] = T(double(a[c]) + double(b[c]));
    normalize_row<T>(s, ctx.out[1].as<T>() + r * C, C, w, bias, ctx.node->attrs.scalar,
                     ctx.out[2].as<T>() + r, ctx.out[3].as<T>() + r);
  }
}

// With xhat = (x - mean) * rstd and gw = dy * w:
//   dx = rstd * (gw - mean_c(gw) - xhat * mean_c(gw * xhat)),  dw = sum_r(dy * xhat),  db = sum_r(dy).
template <class T>
void layer_norm_backward_kernel(const KernelContext& ctx) {
  const TensorView &dyv = ctx.in[0], &xv = ctx.in[1], &wv = ctx.in[2], &meanv = ctx.in[3], &rstdv = ctx.in[4];
  const int64_t C = last_dim(xv.shape), R = C ? xv.shape.numel() / C : 0;
  const T* w = wv.as<const T>();
  for (int64_t r = 0; r < R; ++r) {
    const T* dy = dyv.as<const T>() + r * C;
    const T* x = xv.as<const T>() + r * C;
    T* dx = ctx.out[0].as<T>() + r * C;
    const double mean = double(meanv.as<const T>()[r]), rstd = double(rstdv.as<const T>()[r]);
    double sum_gw = 0, sum_gw_xhat = 0;
    for (int64_t c = 0; c < C; ++c) {
      const double gw = double(dy[c]) * double(w[c]);
      sum_gw += gw;
      sum_gw_xhat += gw * (double(x[c]) - mean) * rstd;
    }
    for (int64_t c = 0; c < C; ++c) {
      const double xhat = (double(x[c]) - mean) * rstd;
      dx[c] = T(rstd * (double(dy[c]) * double(w[c]) - sum_gw / double(C) - xhat * sum_gw_xhat / double(C)));
    }
  }
  // Column sums for dw and db, each in double and in row order.
  for (int64_t c = 0; c < C; ++c) {
    double dw = 0, db = 0;
    for (int64_t r = 0; r < R; ++r) {
      const double g = double(dyv.as<const T>()[r * C + c]);
      const double xhat = (double(xv.as<const T>()[r * C + c]) - double(meanv.as<const T>()[r])) *
                          double(rstdv.as<const T>()[r]);
      dw += g * xhat;
      db += g;
    }
    ctx.out[1].as<T>()[c] = T(dw);
    ctx.out[2].as<T>()[c] = T(db);
  }
}

double row_norm(const auto* x, int64_t C) {
  double s = 0;
  for (int64_t c = 0; c < C; ++c) s += double(x[c]) * double(x[c]);
  return std::sqrt(s);
}

// y = x / max(||x||, eps), as torch.nn.functional.normalize.
template <class T>
void l2_normalize_kernel(const KernelContext& ctx) {
  const int64_t C = last_dim(ctx.in[0].shape), R = C ? ctx.in[0].shape.numel() / C : 0;
  const double eps = ctx.node->attrs.scalar;
  for (int64_t r = 0; r < R; ++r) {
    const T* x = ctx.in[0].as<const T>() + r * C;
    T* y = ctx.out[0].as<T>() + r * C;
    const double d = std::max(row_norm(x, C), eps);
    for (int64_t c = 0; c < C; ++c) y[c] = T(double(x[c]) / d);
  }
}

// Where ||x|| >= eps (clamp_min passes the gradient): dx = (dy - y * sum(dy * y)) / ||x||; else dx = dy /
// eps.
template <class T>
void l2_normalize_backward_kernel(const KernelContext& ctx) {
  const int64_t C = last_dim(ctx.in[1].shape), R = C ? ctx.in[1].shape.numel() / C : 0;
  const double eps = ctx.node->attrs.scalar;
  for (int64_t r = 0; r < R; ++r) {
    const T* dy = ctx.in[0].as<const T>() + r * C;
    const T* x = ctx.in[1].as<const T>() + r * C;
    T* dx = ctx.out[0].as<T>() + r * C;
    const double n = row_norm(x, C);
    if (n >= eps) {
      double dot = 0;
      for (int64_t c = 0; c < C; ++c) dot += double(dy[c]) * double(x[c]) / n;
      for (int64_t c = 0; c < C; ++c) dx[c] = T((double(dy[c]) - double(x[c]) / n * dot) / n);
    } else {
      for (int64_t c = 0; c < C; ++c) dx[c] = T(double(dy[c]) / eps);
    }
  }
}

int64_t target_at(const KernelContext& ctx, const TensorView& targets, int64_t n, int64_t classes) {
  const int64_t t =
      targets.dtype == DType::I64 ? targets.as<const int64_t>()[n] : targets.as<const int32_t>()[n];
  FROST_CHECK(t >= 0 && t < classes, InvalidArgument,
              op_name(ctx.node->kind) << " (node " << ctx.node_id << "): target " << t << " of row " << n
                                      << " is outside the " << classes << " classes");
  return t;
}

template <class T>
double row_logsumexp(const T* x, int64_t K) {
  double m = -INFINITY;
  for (int64_t k = 0; k < K; ++k)
    if (std::isnan(double(x[k])) || double(x[k]) > m) m = std::isnan(m) ? m : double(x[k]);
  if (std::isinf(m)) return m;  // all -inf (-inf) or a +inf (+inf): the sum below would give NaN
  double s = 0;
  for (int64_t k = 0; k < K; ++k) s += std::exp(double(x[k]) - m);
  return m + std::log(s);
}

// loss[n] = logsumexp(logits[n]) - logits[n, target[n]]
template <class T>
void softmax_cross_entropy_kernel(const KernelContext& ctx) {
  const int64_t N = ctx.in[0].shape[0], K = ctx.in[0].shape[1];
  for (int64_t n = 0; n < N; ++n) {
    const T* x = ctx.in[0].as<const T>() + n * K;
    const int64_t t = target_at(ctx, ctx.in[1], n, K);
    ctx.out[0].as<T>()[n] = T(row_logsumexp(x, K) - double(x[t]));
  }
}

// dlogits[n, k] = dloss[n] * (softmax(logits[n])[k] - [k == target[n]])
template <class T>
void softmax_cross_entropy_backward_kernel(const KernelContext& ctx) {
  const int64_t N = ctx.in[1].shape[0], K = ctx.in[1].shape[1];
  for (int64_t n = 0; n < N; ++n) {
    const T* x = ctx.in[1].as<const T>() + n * K;
    const int64_t t = target_at(ctx, ctx.in[2], n, K);
    const double g = double(ctx.in[0].as<const T>()[n]), lse = row_logsumexp(x, K);
    T* dx = ctx.out[0].as<T>() + n * K;
    for (int64_t k = 0; k < K; ++k) dx[k] = T(g * (std::exp(double(x[k]) - lse) - (k == t ? 1.0 : 0.0)));
  }
}

template <class T>
void register_for(KernelRegistry& r, DType dt) {
  r.add(OpKind::LayerNorm, BackendKind::Reference, dt, {"reference.layer_norm", layer_norm_kernel<T>});
  r.add(OpKind::LayerNormBackward, BackendKind::Reference, dt,
        {"reference.layer_norm_backward", layer_norm_backward_kernel<T>});
  r.add(OpKind::AddLayerNorm, BackendKind::Reference, dt,
        {"reference.add_layer_norm", add_layer_norm_kernel<T>});
  r.add(OpKind::L2Normalize, BackendKind::Reference, dt, {"reference.l2_normalize", l2_normalize_kernel<T>});
  r.add(OpKind::L2NormalizeBackward, BackendKind::Reference, dt,
        {"reference.l2_normalize_backward", l2_normalize_backward_kernel<T>});
  r.add(OpKind::SoftmaxCrossEntropy, BackendKind::Reference, dt,
        {"reference.softmax_cross_entropy", softmax_cross_entropy_kernel<T>});
  r.add(OpKind::SoftmaxCrossEntropyBackward, BackendKind::Reference, dt,
        {"reference.softmax_cross_entropy_backward", softmax_cross_entropy_backward_kernel<T>});
}

}  // namespace

void register_reference_normalization_kernels(KernelRegistry& r) {
  register_for<float>(r, DType::F32);
  register_for<double>(r, DType::F64);
}

}  // namespace frost::ops
