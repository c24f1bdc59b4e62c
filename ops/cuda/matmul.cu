// The plain CUDA matrix product: one thread per output element, the dot product in double. Not fast: the
// oracle the cuBLAS path (ops/cuda/blas.cpp) is tested against on the GPU, and the fallback when cuBLAS is
// switched off (FROST_DISABLE_KERNELS=cuda.cublas).
#include "ops/cuda/common.cuh"

namespace frost::cuda {
namespace {

__global__ void matmul_plain_kernel(const float* a, const float* b, float* out, int64_t M, int64_t N,
                                    int64_t K, bool ta, bool tb, Indexer batch, int64_t total) {
  // Strides of op(A) as (m, k) and op(B) as (k, n) inside one matrix.
  const int64_t a_m = ta ? 1 : K, a_k = ta ? M : 1, b_k = tb ? 1 : N, b_n = tb ? K : 1;
  FROST_GRID_STRIDE(e, total) {
    const int64_t t = e / (M * N), m = (e / N) % M, n = e % N;
    const float* A = a + walk_offset(batch, t, 0);
    const float* B = b + walk_offset(batch, t, 1);
    double acc = 0;
    for (int64_t k = 0; k < K; ++k) acc += double(A[m * a_m + k * a_k]) * double(B[k * b_k + n * b_n]);
    out[e] = float(acc);
  }
}

}  // namespace

cudaError_t matmul_plain_f32(const float* a, const float* b, float* out, int64_t M, int64_t N, int64_t K,
                             bool trans_a, bool trans_b, const Indexer& batch, cudaStream_t stream) {
  const int64_t total = batch.numel() * M * N;
  if (total > 0)
    matmul_plain_kernel<<<blocks_for(total), kThreads, 0, stream>>>(a, b, out, M, N, K, trans_a, trans_b,
                                                                    batch, total);
  return cudaGetLastError();
}

}  // namespace frost::cuda
