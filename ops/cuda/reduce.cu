// CUDA kernels for sum, mean, max and max's backward: one block per kept element, its threads striding
// over the reduced elements, sums in double (the reference's precision; the order is the block's).
#include <cmath>

#include "ops/cuda/common.cuh"

namespace frost::cuda {
namespace {

__global__ void reduce_kernel(Reduce op, const float* x, float* y, Indexer kept, Indexer reduced,
                              int64_t kept_n, int64_t count) {
  __shared__ double scratch[32];
  for (int64_t o = blockIdx.x; o < kept_n; o += gridDim.x) {
    const int64_t base = walk_offset(kept, o, 0);
    double acc = op == Reduce::Max ? -INFINITY : 0.0;
    for (int64_t r = threadIdx.x; r < count; r += blockDim.x) {
      const double v = double(x[base + walk_offset(reduced, r, 0)]);
      acc = op == Reduce::Max ? nan_max(acc, v) : acc + v;
    }
    acc = op == Reduce::Max ? block_max(acc, scratch) : block_sum(acc, scratch);
    if (threadIdx.x == 0) y[o] = float(op == Reduce::Mean ? acc / double(count) : acc);
  }
}

__global__ void max_backward_kernel(const float* dy, const float* x, const float* y, float* dx, Indexer kept,
                                    Indexer reduced, int64_t kept_n, int64_t count) {
  __shared__ double scratch[32];
  for (int64_t o = blockIdx.x; o < kept_n; o += gridDim.x) {
    const int64_t base = walk_offset(kept, o, 0);
    const float top = y[o];
    double ties = 0;
    for (int64_t r = threadIdx.x; r < count; r += blockDim.x)
      ties += x[base + walk_offset(reduced, r, 0)] == top;
    ties = block_sum(ties, scratch);
    const float share = ties > 0 ? float(double(dy[o]) / ties) : 0.0f;
    for (int64_t r = threadIdx.x; r < count; r += blockDim.x) {
      const int64_t off = base + walk_offset(reduced, r, 0);
      dx[off] = x[off] == top ? share : 0.0f;
    }
  }
}

}  // namespace

cudaError_t reduce_f32(Reduce op, const float* x, float* y, const Indexer& kept, const Indexer& reduced,
                       cudaStream_t stream) {
  const int64_t kept_n = kept.numel(), count = reduced.numel();
  if (kept_n > 0)
    reduce_kernel<<<blocks_for(kept_n, 1), kThreads, 0, stream>>>(op, x, y, kept, reduced, kept_n, count);
  return cudaGetLastError();
}

cudaError_t max_backward_f32(const float* dy, const float* x, const float* y, float* dx, const Indexer& kept,
                             const Indexer& reduced, cudaStream_t stream) {
  const int64_t kept_n = kept.numel(), count = reduced.numel();
  if (kept_n > 0)
    max_backward_kernel<<<blocks_for(kept_n, 1), kThreads, 0, stream>>>(dy, x, y, dx, kept, reduced, kept_n,
                                                                        count);
  return cudaGetLastError();
}

}  // namespace frost::cuda
