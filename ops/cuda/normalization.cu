// CUDA kernels for the row ops over the last dimension: softmax / log-softmax (+ backward), layer norm
// (+ the residual add, + backward), l2-normalize (+ backward), softmax cross-entropy (+ backward). One block
// per row; statistics in double, as the reference kernels (ops/cpu/reference/normalization.cpp).
//
// Legend: R rows, C the last dimension (N, K for the loss: rows and classes).
#include <cmath>

#include "ops/cuda/common.cuh"

namespace frost::cuda {
namespace {

inline unsigned row_blocks(int64_t R) {
  return blocks_for(R, 1);
}

#define FROST_ROWS(r, R) for (int64_t r = blockIdx.x; r < (R); r += gridDim.x)
#define FROST_COLS(c, C) for (int64_t c = threadIdx.x; c < (C); c += blockDim.x)

__global__ void softmax_kernel(const float* x, float* y, int64_t R, int64_t C, bool log_out) {
  __shared__ double scratch[32];
  FROST_ROWS(r, R) {
    const float* xr = x + r * C;
    float* yr = y + r * C;
    double m = -INFINITY;
    FROST_COLS(c, C) m = nan_max(m, double(xr[c]));
    m = block_max(m, scratch);
    double s = 0;
    FROST_COLS(c, C) s += exp(double(xr[c]) - m);
    s = block_sum(s, scratch);
    const double log_s = log(s);
    FROST_COLS(c, C) yr[c] = float(log_out ? double(xr[c]) - m - log_s : exp(double(xr[c]) - m) / s);
  }
}

__global__ void softmax_backward_kernel(const float* dy, const float* y, float* dx, int64_t R, int64_t C,
                                        bool log_in) {
  __shared__ double scratch[32];
  FROST_ROWS(r, R) {
    const float *dyr = dy + r * C, *yr = y + r * C;
    float* dxr = dx + r * C;
    double s = 0;
    FROST_COLS(c, C) s += log_in ? double(dyr[c]) : double(dyr[c]) * double(yr[c]);
    s = block_sum(s, scratch);
    FROST_COLS(c, C) {
      dxr[c] = log_in ? float(double(dyr[c]) - exp(double(yr[c])) * s)
                      : float(double(yr[c]) * (double(dyr[c]) - s));
    }
  }
}

// With b: sum = a + b (rounded to f32, as the unfused add) is written first; each thread reads the elements
// of a it then overwrites, so sum may alias a.
__global__ void layer_norm_kernel(const float* a, const float* b, float* sum, const float* w,
                                  const float* bias, float* y, float* mean_out, float* rstd_out, int64_t R,
                                  int64_t C, double eps) {
  __shared__ double scratch[32];
  FROST_ROWS(r, R) {
    const float* x = a + r * C;
    if (b != nullptr) {
      FROST_COLS(c, C) sum[r * C + c] = __fadd_rn(a[r * C + c], b[r * C + c]);
      __syncthreads();
      x = sum + r * C;
    }
    double mean = 0;
    FROST_COLS(c, C) mean += double(x[c]);
    mean = block_sum(mean, scratch) / double(C);
    double var = 0;
    FROST_COLS(c, C) var += (double(x[c]) - mean) * (double(x[c]) - mean);
    var = block_sum(var, scratch) / double(C);
    const double rstd = 1.0 / sqrt(var + eps);
    FROST_COLS(c, C) y[r * C + c] = float((double(x[c]) - mean) * rstd * double(w[c]) + double(bias[c]));
    if (threadIdx.x == 0) {
      mean_out[r] = float(mean);
      rstd_out[r] = float(rstd);
    }
  }
}

// dx = rstd * (gw - mean_c(gw) - xhat * mean_c(gw * xhat)) per row.
__global__ void layer_norm_dx_kernel(const float* dy, const float* x, const float* w, const float* mean_in,
                                     const float* rstd_in, float* dx, int64_t R, int64_t C) {
  __shared__ double scratch[32];
  FROST_ROWS(r, R) {
    const double mean = double(mean_in[r]), rstd = double(rstd_in[r]);
    double sum_gw = 0, sum_gw_xhat = 0;
    FROST_COLS(c, C) {
      const double gw = double(dy[r * C + c]) * double(w[c]);
      sum_gw += gw;
      sum_gw_xhat += gw * (double(x[r * C + c]) - mean) * rstd;
    }
    sum_gw = block_sum(sum_gw, scratch);
    sum_gw_xhat = block_sum(sum_gw_xhat, scratch);
    FROST_COLS(c, C) {
      const double xhat = (double(x[r * C + c]) - mean) * rstd;
      dx[r * C + c] = float(rstd * (double(dy[r * C + c]) * double(w[c]) - sum_gw / double(C) -
                                    xhat * sum_gw_xhat / double(C)));
    }
  }
}

// dw, db: one thread per column sums over the rows in order (coalesced across the warp).
__global__ void layer_norm_dw_kernel(const float* dy, const float* x, const float* mean_in,
                                     const float* rstd_in, float* dw, float* db, int64_t R, int64_t C) {
  FROST_GRID_STRIDE(c, C) {
    double sw = 0, sb = 0;
    for (int64_t r = 0; r < R; ++r) {
      const double g = double(dy[r * C + c]);
      sw += g * (double(x[r * C + c]) - double(mean_in[r])) * double(rstd_in[r]);
      sb += g;
    }
    dw[c] = float(sw);
    db[c] = float(sb);
  }
}

__global__ void l2_normalize_kernel(const float* x, float* y, int64_t R, int64_t C, double eps) {
  __shared__ double scratch[32];
  FROST_ROWS(r, R) {
    double s = 0;
    FROST_COLS(c, C) s += double(x[r * C + c]) * double(x[r * C + c]);
    const double norm = sqrt(block_sum(s, scratch));
    const double d = norm < eps ? eps : norm;  // std::max(norm, eps): a NaN norm stays NaN
    FROST_COLS(c, C) y[r * C + c] = float(double(x[r * C + c]) / d);
  }
}

__global__ void l2_normalize_backward_kernel(const float* dy, const float* x, float* dx, int64_t R, int64_t C,
                                             double eps) {
  __shared__ double scratch[32];
  FROST_ROWS(r, R) {
    double s = 0;
    FROST_COLS(c, C) s += double(x[r * C + c]) * double(x[r * C + c]);
    const double n = sqrt(block_sum(s, scratch));
    if (n >= eps) {
      double dot = 0;
      FROST_COLS(c, C) dot += double(dy[r * C + c]) * double(x[r * C + c]) / n;
      dot = block_sum(dot, scratch);
      FROST_COLS(c, C) dx[r * C + c] = float((double(dy[r * C + c]) - double(x[r * C + c]) / n * dot) / n);
    } else {
      FROST_COLS(c, C) dx[r * C + c] = float(double(dy[r * C + c]) / eps);
    }
  }
}

// logsumexp of one row, as the reference's row_logsumexp (an infinite maximum is returned as is).
__device__ double row_logsumexp(const float* x, int64_t K, double* scratch) {
  double m = -INFINITY;
  FROST_COLS(k, K) m = nan_max(m, double(x[k]));
  m = block_max(m, scratch);
  if (isinf(m)) return m;
  double s = 0;
  FROST_COLS(k, K) s += exp(double(x[k]) - m);
  return m + log(block_sum(s, scratch));
}

__device__ bool target_of(const void* target, bool i64, int64_t n, int64_t K, int node, DeviceError* error,
                          int64_t* t) {
  *t = load_index(target, i64, n);
  if (*t >= 0 && *t < K) return true;
  if (threadIdx.x == 0) report_error(error, kTargetOutOfRange, node, *t, n, K);
  return false;
}

__global__ void cross_entropy_kernel(const float* logits, const void* target, bool i64, float* loss,
                                     int64_t N, int64_t K, int node, DeviceError* error) {
  __shared__ double scratch[32];
  FROST_ROWS(n, N) {
    const float* x = logits + n * K;
    const double lse = row_logsumexp(x, K, scratch);
    int64_t t = 0;
    const bool ok = target_of(target, i64, n, K, node, error, &t);
    if (threadIdx.x == 0) loss[n] = ok ? float(lse - double(x[t])) : __int_as_float(0x7fc00000);
  }
}

__global__ void cross_entropy_backward_kernel(const float* dloss, const float* logits, const void* target,
                                              bool i64, float* dlogits, int64_t N, int64_t K, int node,
                                              DeviceError* error) {
  __shared__ double scratch[32];
  FROST_ROWS(n, N) {
    const float* x = logits + n * K;
    const double lse = row_logsumexp(x, K, scratch), g = double(dloss[n]);
    int64_t t = 0;
    const bool ok = target_of(target, i64, n, K, node, error, &t);
    FROST_COLS(k, K) {
      dlogits[n * K + k] =
          ok ? float(g * (exp(double(x[k]) - lse) - (k == t ? 1.0 : 0.0))) : __int_as_float(0x7fc00000);
    }
  }
}

}  // namespace

cudaError_t softmax_f32(const float* x, float* y, int64_t R, int64_t C, bool log, cudaStream_t stream) {
  if (R > 0 && C > 0) softmax_kernel<<<row_blocks(R), kThreads, 0, stream>>>(x, y, R, C, log);
  return cudaGetLastError();
}

cudaError_t softmax_backward_f32(const float* dy, const float* y, float* dx, int64_t R, int64_t C, bool log,
                                 cudaStream_t stream) {
  if (R > 0 && C > 0) softmax_backward_kernel<<<row_blocks(R), kThreads, 0, stream>>>(dy, y, dx, R, C, log);
  return cudaGetLastError();
}

cudaError_t layer_norm_f32(const float* a, const float* b, float* sum, const float* w, const float* bias,
                           float* y, float* mean, float* rstd, int64_t R, int64_t C, double eps,
                           cudaStream_t stream) {
  if (R > 0 && C > 0)
    layer_norm_kernel<<<row_blocks(R), kThreads, 0, stream>>>(a, b, sum, w, bias, y, mean, rstd, R, C, eps);
  return cudaGetLastError();
}

cudaError_t layer_norm_backward_f32(const float* dy, const float* x, const float* w, const float* mean,
                                    const float* rstd, float* dx, float* dw, float* db, int64_t R, int64_t C,
                                    cudaStream_t stream) {
  if (R > 0 && C > 0)
    layer_norm_dx_kernel<<<row_blocks(R), kThreads, 0, stream>>>(dy, x, w, mean, rstd, dx, R, C);
  if (C > 0) layer_norm_dw_kernel<<<blocks_for(C, 128), 128, 0, stream>>>(dy, x, mean, rstd, dw, db, R, C);
  return cudaGetLastError();
}

cudaError_t l2_normalize_f32(const float* x, float* y, int64_t R, int64_t C, double eps,
                             cudaStream_t stream) {
  if (R > 0 && C > 0) l2_normalize_kernel<<<row_blocks(R), kThreads, 0, stream>>>(x, y, R, C, eps);
  return cudaGetLastError();
}

cudaError_t l2_normalize_backward_f32(const float* dy, const float* x, float* dx, int64_t R, int64_t C,
                                      double eps, cudaStream_t stream) {
  if (R > 0 && C > 0)
    l2_normalize_backward_kernel<<<row_blocks(R), kThreads, 0, stream>>>(dy, x, dx, R, C, eps);
  return cudaGetLastError();
}

cudaError_t softmax_cross_entropy_f32(const float* logits, const void* target, bool target_i64, float* loss,
                                      int64_t N, int64_t K, int node, DeviceError* error,
                                      cudaStream_t stream) {
  if (N > 0)
    cross_entropy_kernel<<<row_blocks(N), kThreads, 0, stream>>>(logits, target, target_i64, loss, N, K, node,
                                                                 error);
  return cudaGetLastError();
}

cudaError_t softmax_cross_entropy_backward_f32(const float* dloss, const float* logits, const void* target,
                                               bool target_i64, float* dlogits, int64_t N, int64_t K,
                                               int node, DeviceError* error, cudaStream_t stream) {
  if (N > 0)
    cross_entropy_backward_kernel<<<row_blocks(N), kThreads, 0, stream>>>(dloss, logits, target, target_i64,
                                                                          dlogits, N, K, node, error);
  return cudaGetLastError();
}

}  // namespace frost::cuda
