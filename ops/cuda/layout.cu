// CUDA kernels for the layout ops (one strided gather and one strided scatter serve permute, expand, slice
// and its backward, concat, repeat, repeat_interleave, diagonal and diag_embed: the glue in
// ops/cuda/kernels.cpp describes each as a walk) and for gather_rows / scatter_add_rows.
#include "ops/cuda/common.cuh"

namespace frost::cuda {
namespace {

template <class E>
__global__ void gather_kernel(const E* src, E* dst, Indexer ix, int64_t n) {
  FROST_GRID_STRIDE(i, n) {
    dst[i] = src[walk_offset(ix, i, 0)];
  }
}

template <class E>
__global__ void scatter_kernel(const E* src, E* dst, Indexer ix, int64_t n) {
  FROST_GRID_STRIDE(i, n) {
    dst[walk_offset(ix, i, 0)] = src[i];
  }
}

cudaError_t launch_by_width(const void* src, void* dst, int width, const Indexer& ix, cudaStream_t stream,
                            void (*k1)(const uint8_t*, uint8_t*, Indexer, int64_t),
                            void (*k2)(const uint16_t*, uint16_t*, Indexer, int64_t),
                            void (*k4)(const uint32_t*, uint32_t*, Indexer, int64_t),
                            void (*k8)(const uint64_t*, uint64_t*, Indexer, int64_t)) {
  const int64_t n = ix.numel();
  if (n <= 0) return cudaGetLastError();
  const unsigned g = blocks_for(n);
  switch (width) {
    case 1:
      k1<<<g, kThreads, 0, stream>>>(static_cast<const uint8_t*>(src), static_cast<uint8_t*>(dst), ix, n);
      break;
    case 2:
      k2<<<g, kThreads, 0, stream>>>(static_cast<const uint16_t*>(src), static_cast<uint16_t*>(dst), ix, n);
      break;
    case 4:
      k4<<<g, kThreads, 0, stream>>>(static_cast<const uint32_t*>(src), static_cast<uint32_t*>(dst), ix, n);
      break;
    case 8:
      k8<<<g, kThreads, 0, stream>>>(static_cast<const uint64_t*>(src), static_cast<uint64_t*>(dst), ix, n);
      break;
    default:
      return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

// One thread per output element; a bad index is reported and its row becomes NaN.
__global__ void gather_rows_kernel(const float* table, const void* index, bool i64, float* out, int64_t n,
                                   int64_t rows, int64_t width, int node, DeviceError* error) {
  FROST_GRID_STRIDE(e, n * width) {
    const int64_t j = e / width, c = e % width;
    const int64_t row = load_index(index, i64, j);
    if (row < 0 || row >= rows) {
      if (c == 0) report_error(error, kIndexOutOfRange, node, row, j, rows);
      out[e] = __int_as_float(0x7fc00000);
    } else {
      out[e] = table[row * width + c];
    }
  }
}

// One thread per column walks the indices in order: repeated rows sum in the reference's order.
__global__ void scatter_add_rows_kernel(const float* src, const void* index, bool i64, float* out, int64_t n,
                                        int64_t rows, int64_t width, int node, DeviceError* error) {
  FROST_GRID_STRIDE(c, width) {
    for (int64_t j = 0; j < n; ++j) {
      const int64_t row = load_index(index, i64, j);
      if (row < 0 || row >= rows) {
        if (c == 0) report_error(error, kIndexOutOfRange, node, row, j, rows);
        continue;
      }
      out[row * width + c] = __fadd_rn(out[row * width + c], src[j * width + c]);
    }
  }
}

}  // namespace

cudaError_t gather_copy(const void* src, void* dst, int width, const Indexer& ix, cudaStream_t stream) {
  return launch_by_width(src, dst, width, ix, stream, gather_kernel<uint8_t>, gather_kernel<uint16_t>,
                         gather_kernel<uint32_t>, gather_kernel<uint64_t>);
}

cudaError_t scatter_copy(const void* src, void* dst, int width, const Indexer& ix, cudaStream_t stream) {
  return launch_by_width(src, dst, width, ix, stream, scatter_kernel<uint8_t>, scatter_kernel<uint16_t>,
                         scatter_kernel<uint32_t>, scatter_kernel<uint64_t>);
}

cudaError_t gather_rows_f32(const float* table, const void* index, bool index_i64, float* out, int64_t n,
                            int64_t rows, int64_t width, int node, DeviceError* error, cudaStream_t stream) {
  if (n * width > 0)
    gather_rows_kernel<<<blocks_for(n * width), kThreads, 0, stream>>>(table, index, index_i64, out, n, rows,
                                                                       width, node, error);
  return cudaGetLastError();
}

cudaError_t scatter_add_rows_f32(const float* src, const void* index, bool index_i64, float* out, int64_t n,
                                 int64_t rows, int64_t width, int node, DeviceError* error,
                                 cudaStream_t stream) {
  cudaError_t e = cudaMemsetAsync(out, 0, size_t(rows * width) * sizeof(float), stream);
  if (e != cudaSuccess) return e;
  if (width > 0)
    scatter_add_rows_kernel<<<blocks_for(width, 64), 64, 0, stream>>>(src, index, index_i64, out, n, rows,
                                                                      width, node, error);
  return cudaGetLastError();
}

}  // namespace frost::cuda
