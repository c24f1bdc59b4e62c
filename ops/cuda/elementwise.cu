// CUDA kernels for the elementwise ops, fill, cast, dropout and the AdamW update. Binary ops and AdamW use
// the IEEE round-to-nearest intrinsics (__fadd_rn ...), which nvcc never contracts into FMAs, so they give
// the reference kernels' bits; unary math is computed in double and rounded once, as the reference does.
#include <cmath>

#include "ops/cuda/common.cuh"

namespace frost::cuda {
namespace {

__global__ void binary_kernel(Binary op, const float* a, const float* b, float* out, Indexer ix, int64_t n) {
  FROST_GRID_STRIDE(i, n) {
    const float x = a[walk_offset(ix, i, 0)], y = b[walk_offset(ix, i, 1)];
    float r;
    switch (op) {
      case Binary::Add:
        r = __fadd_rn(x, y);
        break;
      case Binary::Sub:
        r = __fsub_rn(x, y);
        break;
      case Binary::Mul:
        r = __fmul_rn(x, y);
        break;
      default:
        r = __fdiv_rn(x, y);
        break;
    }
    out[i] = r;
  }
}

__global__ void where_kernel(const uint8_t* c, const float* a, const float* b, float* out, Indexer ix,
                             int64_t n) {
  FROST_GRID_STRIDE(i, n) {
    out[i] = c[walk_offset(ix, i, 0)] ? a[walk_offset(ix, i, 1)] : b[walk_offset(ix, i, 2)];
  }
}

constexpr double kSqrt1_2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;
constexpr double kSqrt2OverPi = 0.79788456080286535588;
constexpr double kGeluCubic = 0.044715;

// The same formulas as ops/cpu/reference/activations.h.
__device__ inline double gelu_f(double x) {
  return 0.5 * x * (1.0 + erf(x * kSqrt1_2));
}
__device__ inline double gelu_df(double x) {
  return 0.5 * (1.0 + erf(x * kSqrt1_2)) + x * kInvSqrt2Pi * exp(-0.5 * x * x);
}
__device__ inline double gelu_tanh_f(double x) {
  return 0.5 * x * (1.0 + tanh(kSqrt2OverPi * (x + kGeluCubic * x * x * x)));
}
__device__ inline double gelu_tanh_df(double x) {
  const double t = tanh(kSqrt2OverPi * (x + kGeluCubic * x * x * x));
  return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * kSqrt2OverPi * (1.0 + 3.0 * kGeluCubic * x * x);
}

__global__ void unary_kernel(Unary op, const float* x, float* y, int64_t n) {
  FROST_GRID_STRIDE(i, n) {
    const double v = double(x[i]);
    double r;
    switch (op) {
      case Unary::Neg:
        r = -v;
        break;
      case Unary::Exp:
        r = exp(v);
        break;
      case Unary::Log:
        r = log(v);
        break;
      case Unary::Sqrt:
        r = sqrt(v);
        break;
      case Unary::Rsqrt:
        r = 1.0 / sqrt(v);
        break;
      case Unary::Tanh:
        r = tanh(v);
        break;
      case Unary::Relu:
        r = v < 0 ? 0.0 : v;
        break;  // NaN passes through
      case Unary::Gelu:
        r = gelu_f(v);
        break;
      default:
        r = gelu_tanh_f(v);
        break;
    }
    y[i] = float(r);
  }
}

__global__ void scale_kernel(const float* x, float s, float* y, int64_t n) {
  FROST_GRID_STRIDE(i, n) {
    y[i] = __fmul_rn(x[i], s);
  }
}

__global__ void derivative_kernel(Derivative op, const float* dy, const float* x, float* dx, int64_t n) {
  FROST_GRID_STRIDE(i, n) {
    if (op == Derivative::Relu)
      dx[i] = x[i] <= 0.0f ? 0.0f : dy[i];  // threshold_backward: a NaN x passes dy
    else
      dx[i] = float(double(dy[i]) *
                    (op == Derivative::Gelu ? gelu_df(double(x[i])) : gelu_tanh_df(double(x[i]))));
  }
}

// engine/dtype.cpp's conversions, bit for bit.
__device__ inline uint16_t f32_to_bf16(float f) {
  const uint32_t u = __float_as_uint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x0040u);
  const uint32_t rounding = 0x7fffu + ((u >> 16) & 1u);
  return uint16_t((u + rounding) >> 16);
}
__device__ inline float bf16_to_f32(uint16_t b) {
  return __uint_as_float(uint32_t(b) << 16);
}
__device__ inline uint16_t f32_to_f16(float f) {
  const uint32_t u = __float_as_uint(f);
  const uint32_t sign = (u >> 16) & 0x8000u;
  uint32_t abs = u & 0x7fffffffu;
  if (abs > 0x7f800000u) return uint16_t(sign | 0x7e00u | ((abs >> 13) & 0x3ffu));
  if (abs >= 0x477ff000u) return uint16_t(sign | 0x7c00u);
  if (abs < 0x38800000u) {
    const float shifted = __fadd_rn(__uint_as_float(abs), 0.5f);
    return uint16_t(sign | (__float_as_uint(shifted) - __float_as_uint(0.5f)));
  }
  const uint32_t mantissa_odd = (abs >> 13) & 1u;
  abs += 0xc8000fffu + mantissa_odd;
  return uint16_t(sign | (abs >> 13));
}
__device__ inline float f16_to_f32(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu, mantissa = h & 0x3ffu;
  if (exponent == 0x1f) return __uint_as_float(sign | 0x7f800000u | (mantissa << 13));
  if (exponent == 0) {
    const float v = float(mantissa) * 0x1p-24f;
    return sign ? -v : v;
  }
  return __uint_as_float(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

__device__ inline double load_as_double(const void* p, int t, int64_t i) {
  switch (t) {
    case 0:
      return static_cast<const float*>(p)[i];
    case 1:
      return f16_to_f32(static_cast<const uint16_t*>(p)[i]);
    case 2:
      return bf16_to_f32(static_cast<const uint16_t*>(p)[i]);
    case 3:
      return static_cast<const double*>(p)[i];
    case 4:
      return static_cast<const int32_t*>(p)[i];
    case 5:
      return double(static_cast<const int64_t*>(p)[i]);
    default:
      return static_cast<const uint8_t*>(p)[i];
  }
}
__device__ inline void store_from_double(void* p, int t, int64_t i, double v) {
  switch (t) {
    case 0:
      static_cast<float*>(p)[i] = float(v);
      break;
    case 1:
      static_cast<uint16_t*>(p)[i] = f32_to_f16(float(v));
      break;
    case 2:
      static_cast<uint16_t*>(p)[i] = f32_to_bf16(float(v));
      break;
    case 3:
      static_cast<double*>(p)[i] = v;
      break;
    case 4:
      static_cast<int32_t*>(p)[i] = int32_t(v);
      break;
    case 5:
      static_cast<int64_t*>(p)[i] = int64_t(v);
      break;
    default:
      static_cast<uint8_t*>(p)[i] = uint8_t(v);
      break;
  }
}

__global__ void cast_kernel(const void* x, int from, void* y, int to, int64_t n) {
  FROST_GRID_STRIDE(i, n) {
    store_from_double(y, to, i, load_as_double(x, from, i));
  }
}

__global__ void dropout_kernel(const float* x, const int64_t* offset, uint64_t seed, double p,
                               float keep_scale, float* y, int64_t n) {
  const uint64_t stream = uint64_t(*offset);
  FROST_GRID_STRIDE(i, n) {
    y[i] = dropout_keeps(seed, stream, uint64_t(i), p) ? __fmul_rn(x[i], keep_scale) : 0.0f;
  }
}

__global__ void bias_activation_kernel(float* y, const float* bias, int64_t M, int64_t N, int act) {
  FROST_GRID_STRIDE(i, M * N) {
    const double v = double(y[i]) + double(bias[i % N]);
    y[i] = float(act == 1 ? gelu_f(v) : act == 2 ? gelu_tanh_f(v) : v);
  }
}

__global__ void fill_kernel(uint8_t* y, uint64_t value, int width, int64_t n) {
  FROST_GRID_STRIDE(i, n) {
    switch (width) {
      case 1:
        y[i] = uint8_t(value);
        break;
      case 2:
        reinterpret_cast<uint16_t*>(y)[i] = uint16_t(value);
        break;
      case 4:
        reinterpret_cast<uint32_t*>(y)[i] = uint32_t(value);
        break;
      default:
        reinterpret_cast<uint64_t*>(y)[i] = value;
        break;
    }
  }
}

// ops/cpu/reference/source.cpp's adamw_kernel, operation for operation.
__global__ void adamw_kernel(float* p, const float* g, float* m, float* v, const float* c, int64_t n) {
  const float b1 = c[0], one_minus_b1 = c[1], b2 = c[2], one_minus_b2 = c[3], eps = c[4], pre_decay = c[5];
  const float sqrt_bc2 = c[6], step = c[7], post_decay = c[8];
  const bool lerp = c[9] != 0.0f;
  FROST_GRID_STRIDE(i, n) {
    const float gi = g[i];
    const float mi = lerp ? __fadd_rn(m[i], __fmul_rn(one_minus_b1, __fsub_rn(gi, m[i])))
                          : __fadd_rn(__fmul_rn(m[i], b1), __fmul_rn(one_minus_b1, gi));
    const float vi = __fadd_rn(__fmul_rn(v[i], b2), __fmul_rn(__fmul_rn(one_minus_b2, gi), gi));
    m[i] = mi;
    v[i] = vi;
    float x = __fmul_rn(p[i], pre_decay);
    x = __fadd_rn(x, __fmul_rn(-step, __fdiv_rn(mi, __fadd_rn(__fdiv_rn(__fsqrt_rn(vi), sqrt_bc2), eps))));
    p[i] = __fadd_rn(x, __fmul_rn(-post_decay, x));
  }
}

}  // namespace

cudaError_t binary_f32(Binary op, const float* a, const float* b, float* out, const Indexer& ix,
                       cudaStream_t stream) {
  const int64_t n = ix.numel();
  if (n > 0) binary_kernel<<<blocks_for(n), kThreads, 0, stream>>>(op, a, b, out, ix, n);
  return cudaGetLastError();
}

cudaError_t where_f32(const uint8_t* cond, const float* a, const float* b, float* out, const Indexer& ix,
                      cudaStream_t stream) {
  const int64_t n = ix.numel();
  if (n > 0) where_kernel<<<blocks_for(n), kThreads, 0, stream>>>(cond, a, b, out, ix, n);
  return cudaGetLastError();
}

cudaError_t unary_f32(Unary op, const float* x, float* y, int64_t n, cudaStream_t stream) {
  if (n > 0) unary_kernel<<<blocks_for(n), kThreads, 0, stream>>>(op, x, y, n);
  return cudaGetLastError();
}

cudaError_t scale_f32(const float* x, float scale, float* y, int64_t n, cudaStream_t stream) {
  if (n > 0) scale_kernel<<<blocks_for(n), kThreads, 0, stream>>>(x, scale, y, n);
  return cudaGetLastError();
}

cudaError_t derivative_f32(Derivative op, const float* dy, const float* x, float* dx, int64_t n,
                           cudaStream_t stream) {
  if (n > 0) derivative_kernel<<<blocks_for(n), kThreads, 0, stream>>>(op, dy, x, dx, n);
  return cudaGetLastError();
}

cudaError_t cast(const void* x, int from_dtype, void* y, int to_dtype, int64_t n, cudaStream_t stream) {
  if (n > 0) cast_kernel<<<blocks_for(n), kThreads, 0, stream>>>(x, from_dtype, y, to_dtype, n);
  return cudaGetLastError();
}

cudaError_t dropout_f32(const float* x, const int64_t* offset, uint64_t seed, double p, float* y, int64_t n,
                        cudaStream_t stream) {
  const float keep_scale = p < 1.0 ? float(1.0 / (1.0 - p)) : 0.0f;
  if (n > 0) dropout_kernel<<<blocks_for(n), kThreads, 0, stream>>>(x, offset, seed, p, keep_scale, y, n);
  return cudaGetLastError();
}

cudaError_t bias_activation_f32(float* y, const float* bias, int64_t M, int64_t N, int act,
                                cudaStream_t stream) {
  if (M * N > 0) bias_activation_kernel<<<blocks_for(M * N), kThreads, 0, stream>>>(y, bias, M, N, act);
  return cudaGetLastError();
}

cudaError_t fill_bytes(void* y, const void* host_value, int width, int64_t n, cudaStream_t stream) {
  uint64_t value = 0;
  const uint8_t* src = static_cast<const uint8_t*>(host_value);
  for (int b = 0; b < width; ++b) value |= uint64_t(src[b]) << (8 * b);  // little-endian, as the host
  if (n > 0) fill_kernel<<<blocks_for(n), kThreads, 0, stream>>>(static_cast<uint8_t*>(y), value, width, n);
  return cudaGetLastError();
}

cudaError_t adamw_f32(float* p, const float* g, float* m, float* v, const float* c, int64_t n,
                      cudaStream_t stream) {
  if (n > 0) adamw_kernel<<<blocks_for(n), kThreads, 0, stream>>>(p, g, m, v, c, n);
  return cudaGetLastError();
}

}  // namespace frost::cuda
