// The fused F32 attention on CUDA, forward and backward, for every geometry the op allows (the video
// model's 197-key space groups with the CLS prefix key, its 5-key time groups, the 785-key CLS row, the text
// encoder's key-padding mask; strided operands read in place, dropout of the probabilities). Plain and
// exact rather than fast: one block per query row, the scores of the row in shared memory; the backward
// recomputes the scores and sums every gradient in a fixed order (no atomics), so runs repeat bit for bit.
//
// Legend (engine/attention_geometry.h): t batch tuple, i query row, j score column (P prefix keys first,
// then the Lk keys; C = P + Lk), D the q/k width, Dv the v width.
#include <cmath>

#include "ops/cuda/common.cuh"

namespace frost::cuda {
namespace {

__device__ inline float at(const AttentionOperand& o, int64_t t, int64_t r, int64_t c) {
  return o.data[o.tuple_offset[t] + r * o.row_stride + c * o.col_stride];
}
__device__ inline float key_at(const AttentionArgs& a, int64_t t, int64_t j, int64_t c) {
  return j < a.P ? at(a.pk, t, j, c) : at(a.k, t, j - a.P, c);
}
__device__ inline float value_at(const AttentionArgs& a, int64_t t, int64_t j, int64_t c) {
  return j < a.P ? at(a.pv, t, j, c) : at(a.v, t, j - a.P, c);
}

// Whether a u8 mask replaces score (t, i, j) by the fill value.
__device__ inline bool filled(const AttentionArgs& a, int64_t t, int64_t i, int64_t j) {
  if (a.mask_kind != 2) return false;
  const uint8_t m = static_cast<const uint8_t*>(
      a.mask)[a.mask_tuple_offset[t] + i * a.mask_row_stride + j * a.mask_col_stride];
  return (m != 0) != a.fill_where_zero;
}

// scale * q_i . key_j + bias, or the fill value (ops/cpu/reference/attention.cpp: row_scores).
__device__ inline float score(const AttentionArgs& a, int64_t t, int64_t i, int64_t j, const float* q) {
  float s = 0;
  for (int64_t c = 0; c < a.D; ++c) s = fmaf(q[c], key_at(a, t, j, c), s);
  double r = a.scale * double(s);
  if (a.mask_kind == 1)
    r += double(static_cast<const float*>(
        a.mask)[a.mask_tuple_offset[t] + i * a.mask_row_stride + j * a.mask_col_stride]);
  if (filled(a, t, i, j)) r = a.fill;
  return float(r);
}

// The dropout factor of probability (t, i, j): 1 / (1 - rate) where kept, 0 where dropped; 1 without.
__device__ inline float drop_factor(const AttentionArgs& a, int64_t t, int64_t i, int64_t j) {
  if (a.dropout <= 0) return 1.0f;
  const uint64_t index = uint64_t((t * a.Lq + i) * (a.P + a.Lk) + j);
  return dropout_keeps(a.seed, uint64_t(*a.dropout_offset), index, a.dropout) ? float(1.0 / (1.0 - a.dropout))
                                                                              : 0.0f;
}

// Shared memory: q_i (D) then the row's scores (C).
__global__ void forward_kernel(AttentionArgs a, float* out, float* lse) {
  extern __shared__ float shared[];
  __shared__ double scratch[32];
  const int64_t C = a.P + a.Lk;
  float* q = shared;
  float* s = shared + a.D;
  for (int64_t row = blockIdx.x; row < a.tuples * a.Lq; row += gridDim.x) {
    const int64_t t = row / a.Lq, i = row % a.Lq;
    for (int64_t c = threadIdx.x; c < a.D; c += blockDim.x) q[c] = at(a.q, t, i, c);
    __syncthreads();
    double m = -INFINITY;
    for (int64_t j = threadIdx.x; j < C; j += blockDim.x) {
      s[j] = score(a, t, i, j, q);
      m = fmax(m, double(s[j]));
    }
    m = block_max(m, scratch);
    double l = 0;
    for (int64_t j = threadIdx.x; j < C; j += blockDim.x) {
      const float e = expf(float(double(s[j]) - m));
      l += e;
      s[j] = e * drop_factor(a, t, i, j);
    }
    l = block_sum(l, scratch);  // ends with a barrier: every s[j] is written
    const float inv_l = float(1.0 / l);
    for (int64_t c = threadIdx.x; c < a.Dv; c += blockDim.x) {
      float acc = 0;
      for (int64_t j = 0; j < C; ++j) acc = fmaf(s[j], value_at(a, t, j, c), acc);
      out[row * a.Dv + c] = acc * inv_l;
    }
    if (threadIdx.x == 0) lse[row] = float(m + log(l));
    __syncthreads();
  }
}

// Per query row: the score gradients ds (C) and dropped probabilities pd (C) into the workspace, and dq.
// Shared memory: q_i (D), dout_i (Dv), ds (C).
__global__ void backward_rows_kernel(AttentionArgs a, const float* dout, const float* out, const float* lse,
                                     float* dq, float* ws_ds, float* ws_pd) {
  extern __shared__ float shared[];
  __shared__ double scratch[32];
  const int64_t C = a.P + a.Lk;
  float* q = shared;
  float* g = q + a.D;
  float* ds = g + a.Dv;
  for (int64_t row = blockIdx.x; row < a.tuples * a.Lq; row += gridDim.x) {
    const int64_t t = row / a.Lq, i = row % a.Lq;
    for (int64_t c = threadIdx.x; c < a.D; c += blockDim.x) q[c] = at(a.q, t, i, c);
    double delta = 0;
    for (int64_t c = threadIdx.x; c < a.Dv; c += blockDim.x) {
      g[c] = dout[row * a.Dv + c];
      delta += double(g[c]) * double(out[row * a.Dv + c]);
    }
    delta = block_sum(delta, scratch);  // its barriers also publish q and g
    const double row_lse = double(lse[row]);
    for (int64_t j = threadIdx.x; j < C; j += blockDim.x) {
      const float p = expf(float(double(score(a, t, i, j, q)) - row_lse));
      const float d = drop_factor(a, t, i, j);
      float dp = 0;
      for (int64_t c = 0; c < a.Dv; ++c) dp = fmaf(g[c], value_at(a, t, j, c), dp);
      dp *= d;
      const float dsj = filled(a, t, i, j) ? 0.0f : float(double(p) * (double(dp) - delta));
      ds[j] = dsj;
      ws_ds[row * C + j] = dsj;
      ws_pd[row * C + j] = d * p;
    }
    __syncthreads();
    for (int64_t c = threadIdx.x; c < a.D; c += blockDim.x) {
      float acc = 0;
      for (int64_t j = 0; j < C; ++j) acc = fmaf(ds[j], key_at(a, t, j, c), acc);
      dq[row * a.D + c] = float(a.scale * double(acc));
    }
    __syncthreads();
  }
}

// Per key (t, jk): dk = scale sum_i ds_ij q_i, dv = sum_i pd_ij dout_i, over the tuple's rows in order.
__global__ void backward_keys_kernel(AttentionArgs a, const float* dout, const float* ws_ds,
                                     const float* ws_pd, float* dk, float* dv) {
  const int64_t C = a.P + a.Lk;
  for (int64_t key = blockIdx.x; key < a.tuples * a.Lk; key += gridDim.x) {
    const int64_t t = key / a.Lk, j = a.P + key % a.Lk;
    for (int64_t c = threadIdx.x; c < a.D; c += blockDim.x) {
      float acc = 0;
      for (int64_t i = 0; i < a.Lq; ++i) acc = fmaf(ws_ds[(t * a.Lq + i) * C + j], at(a.q, t, i, c), acc);
      dk[key * a.D + c] = float(a.scale * double(acc));
    }
    for (int64_t c = threadIdx.x; c < a.Dv; c += blockDim.x) {
      float acc = 0;
      for (int64_t i = 0; i < a.Lq; ++i)
        acc = fmaf(ws_pd[(t * a.Lq + i) * C + j], dout[(t * a.Lq + i) * a.Dv + c], acc);
      dv[key * a.Dv + c] = acc;
    }
  }
}

// Prefix key / value gradients: block (slot, jp) sums over the tuples broadcasting from that slot and their
// rows. for_value: sum pd * dout into dpv; else scale * ds * q into dpk.
__global__ void backward_prefix_kernel(AttentionArgs a, const float* dout, const float* ws, PrefixSlots slots,
                                       bool for_value, float* grad) {
  const int64_t C = a.P + a.Lk, width = for_value ? a.Dv : a.D;
  for (int64_t b = blockIdx.x; b < slots.slots * a.P; b += gridDim.x) {
    const int64_t s = b / a.P, jp = b % a.P;
    for (int64_t c = threadIdx.x; c < width; c += blockDim.x) {
      double acc = 0;
      for (int64_t u = slots.begin[s]; u < slots.begin[s + 1]; ++u) {
        const int64_t t = slots.tuples[u];
        for (int64_t i = 0; i < a.Lq; ++i) {
          const int64_t row = t * a.Lq + i;
          const double other = for_value ? double(dout[row * a.Dv + c]) : double(at(a.q, t, i, c));
          acc += double(ws[row * C + jp]) * other;
        }
      }
      grad[slots.offset[s] + jp * width + c] = float(for_value ? acc : a.scale * acc);
    }
  }
}

inline unsigned row_threads(int64_t width) {
  return width >= 128 ? 128 : width > 32 ? 64 : 32;
}

}  // namespace

cudaError_t attention_forward_f32(const AttentionArgs& a, float* out, float* lse, cudaStream_t stream) {
  const int64_t rows = a.tuples * a.Lq;
  if (rows <= 0) return cudaGetLastError();
  const size_t shared = size_t(a.D + a.P + a.Lk) * sizeof(float);
  if (shared > 48 * 1024) {
    cudaError_t e =
        cudaFuncSetAttribute(forward_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(shared));
    if (e != cudaSuccess) return e;
  }
  forward_kernel<<<blocks_for(rows, 1), 128, shared, stream>>>(a, out, lse);
  return cudaGetLastError();
}

cudaError_t attention_backward_f32(const AttentionArgs& a, const float* dout, const float* out,
                                   const float* lse, float* dq, float* dk, float* dv, float* dpk, float* dpv,
                                   const PrefixSlots& k_slots, const PrefixSlots& v_slots, float* workspace,
                                   cudaStream_t stream) {
  const int64_t rows = a.tuples * a.Lq, C = a.P + a.Lk;
  float* ws_ds = workspace;
  float* ws_pd = workspace + rows * C;
  if (rows > 0) {
    const size_t shared = size_t(a.D + a.Dv + C) * sizeof(float);
    if (shared > 48 * 1024) {
      cudaError_t e = cudaFuncSetAttribute(backward_rows_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                           int(shared));
      if (e != cudaSuccess) return e;
    }
    backward_rows_kernel<<<blocks_for(rows, 1), 128, shared, stream>>>(a, dout, out, lse, dq, ws_ds, ws_pd);
  }
  const int64_t keys = a.tuples * a.Lk;
  if (keys > 0) {
    // With no query rows every key gradient is zero: the loops below then sum nothing.
    backward_keys_kernel<<<blocks_for(keys, 1), row_threads(a.D > a.Dv ? a.D : a.Dv), 0, stream>>>(
        a, dout, ws_ds, ws_pd, dk, dv);
  }
  if (a.P > 0) {
    if (k_slots.slots > 0)
      backward_prefix_kernel<<<blocks_for(k_slots.slots * a.P, 1), row_threads(a.D), 0, stream>>>(
          a, dout, ws_ds, k_slots, false, dpk);
    if (v_slots.slots > 0)
      backward_prefix_kernel<<<blocks_for(v_slots.slots * a.P, 1), row_threads(a.Dv), 0, stream>>>(
          a, dout, ws_pd, v_slots, true, dpv);
  }
  return cudaGetLastError();
}

}  // namespace frost::cuda
