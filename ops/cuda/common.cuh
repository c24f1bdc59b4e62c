// Device helpers shared by the CUDA kernels: grid sizing, strided walks, block reductions, Philox (the
// same stream as engine/random.h, bit for bit) and the device error report.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "engine/cuda/device_error.h"
#include "ops/cuda/launch.h"

namespace frost::cuda {

inline constexpr int kThreads = 256;

// A grid-stride loop covers any n; the grid is capped so huge tensors do not ask for absurd grids.
inline unsigned blocks_for(int64_t n, int threads = kThreads) {
  int64_t b = (n + threads - 1) / threads;
  if (b < 1) b = 1;
  if (b > 65535LL * 16) b = 65535LL * 16;
  return unsigned(b);
}

#define FROST_GRID_STRIDE(i, n)                                             \
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); \
       i += int64_t(gridDim.x) * blockDim.x)

// Element offset of operand k at flat index i of the walk.
__device__ inline int64_t walk_offset(const Indexer& ix, int64_t i, int k) {
  int64_t off = ix.base[k];
  for (int d = ix.rank - 1; d >= 0; --d) {
    const int64_t s = ix.size[d];
    off += (i % s) * ix.stride[k][d];
    i /= s;
  }
  return off;
}

// Block-wide sum / max of one value per thread (blockDim.x a multiple of 32, at most 1024). Every thread
// gets the result. `scratch` holds 32 values; the call begins and ends with a barrier, so it can be reused.
__device__ inline double block_sum(double v, double* scratch) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, warps = blockDim.x / 32;
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  double total = 0;
  for (int w = 0; w < warps; ++w) total += scratch[w];  // the same order in every thread
  __syncthreads();
  return total;
}

// NaN wins, as the reference kernels' max (torch.amax).
__device__ inline double nan_max(double a, double b) {
  if (a != a) return a;
  if (b != b) return b;
  return a > b ? a : b;
}

__device__ inline double block_max(double v, double* scratch) {
  for (int o = 16; o > 0; o >>= 1) v = nan_max(v, __shfl_xor_sync(0xffffffffu, v, o));
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, warps = blockDim.x / 32;
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  double m = scratch[0];
  for (int w = 1; w < warps; ++w) m = nan_max(m, scratch[w]);
  __syncthreads();
  return m;
}

// Philox4x32-10, as engine/random.cpp: word `lane` of block `counter` of stream `stream` under `seed`.
__device__ inline uint32_t philox_word(uint64_t seed, uint64_t stream, uint64_t counter, int lane) {
  uint32_t c0 = uint32_t(counter), c1 = uint32_t(counter >> 32), c2 = uint32_t(stream),
           c3 = uint32_t(stream >> 32);
  uint32_t k0 = uint32_t(seed), k1 = uint32_t(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = uint64_t(0xD2511F53u) * c0, p1 = uint64_t(0xCD9E8D57u) * c2;
    const uint32_t n0 = uint32_t(p1 >> 32) ^ c1 ^ k0, n1 = uint32_t(p1), n2 = uint32_t(p0 >> 32) ^ c3 ^ k1,
                   n3 = uint32_t(p0);
    c0 = n0;
    c1 = n1;
    c2 = n2;
    c3 = n3;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return lane == 0 ? c0 : lane == 1 ? c1 : lane == 2 ? c2 : c3;
}
// Element i of the uniform [0, 1) stream (engine/random.h: Philox::uniform).
__device__ inline float philox_uniform(uint64_t seed, uint64_t stream, uint64_t i) {
  return float(philox_word(seed, stream, i / 4, int(i % 4)) >> 8) * 0x1p-24f;
}
// dropout_keeps (engine/random.h): kept when the uniform is >= p.
__device__ inline bool dropout_keeps(uint64_t seed, uint64_t stream, uint64_t i, double p) {
  return double(philox_uniform(seed, stream, i)) >= p;
}

// Records the first error of a run (later ones are dropped: the first is the one reported).
__device__ inline void report_error(DeviceError* e, int code, int node, int64_t value, int64_t position,
                                    int64_t limit) {
  if (atomicCAS(&e->code, 0, code) == 0) {
    e->node = node;
    e->value = value;
    e->position = position;
    e->limit = limit;
  }
}

__device__ inline int64_t load_index(const void* p, bool i64, int64_t j) {
  return i64 ? static_cast<const int64_t*>(p)[j] : int64_t(static_cast<const int32_t*>(p)[j]);
}

}  // namespace frost::cuda
