// Reference kernels for diagonal, diag_embed, gather_rows and scatter_add_rows. An index outside the table
// is an error naming the op, node, position and index (DESIGN principle 9), never a wild read.
#include <cstring>

#include "engine/error.h"
#include "engine/kernel.h"
#include "ops/cpu/reference/loops.h"
#include "ops/registration.h"

namespace frost::ops {
namespace {
using reference::Bits;
using reference::for_each_dtype_by_size;

// (..., N, M) <-> (..., K) with K = min(N, M): element k of matrix b sits at b * N * M + k * (M + 1).
template <int Bytes>
struct Diagonal {
  static void run(const KernelContext& ctx) {
    using E = typename Bits<Bytes>::type;
    const Shape& in = ctx.in[0].shape;
    const int64_t N = in[-2], M = in[-1], K = std::min(N, M), batch = N * M != 0 ? in.numel() / (N * M) : 0;
    const E* x = ctx.in[0].as<const E>();
    E* y = ctx.out[0].as<E>();
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t k = 0; k < K; ++k) y[b * K + k] = x[b * N * M + k * (M + 1)];
  }
};

template <int Bytes>
struct DiagEmbed {
  static void run(const KernelContext& ctx) {
    using E = typename Bits<Bytes>::type;
    const Shape& out = ctx.out[0].shape;
    const int64_t N = out[-2], M = out[-1], K = std::min(N, M),
                  batch = N * M != 0 ? out.numel() / (N * M) : 0;
    std::memset(ctx.out[0].data, 0, ctx.out[0].bytes());
    const E* d = ctx.in[0].as<const E>();
    E* y = ctx.out[0].as<E>();
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t k = 0; k < K; ++k) y[b * N * M + k * (M + 1)] = d[b * K + k];
  }
};

int64_t index_at(const TensorView& indices, int64_t j) {
  return indices.dtype == DType::I64 ? indices.as<const int64_t>()[j]
                                     : int64_t(indices.as<const int32_t>()[j]);
}

int64_t checked_row(const KernelContext& ctx, const TensorView& indices, int64_t j, int64_t rows) {
  const int64_t row = index_at(indices, j);
  FROST_CHECK(row >= 0 && row < rows, InvalidArgument,
              op_name(ctx.node->kind) << " (node " << ctx.node_id << "): index " << row << " at position "
                                      << j << " is outside the table's " << rows << " rows");
  return row;
}

template <class T>
void gather_rows_kernel(const KernelContext& ctx) {
  const TensorView &table = ctx.in[0], &indices = ctx.in[1];
  const int64_t rows = table.shape[0], width = rows ? table.shape.numel() / rows : 0;
  const int64_t n = indices.shape.numel();
  for (int64_t j = 0; j < n; ++j) {
    const int64_t row = checked_row(ctx, indices, j, rows);
    std::memcpy(ctx.out[0].as<T>() + j * width, table.as<const T>() + row * width, size_t(width) * sizeof(T));
  }
}

// Serial, in index order: repeated indices sum deterministically (DESIGN principle 10: no atomics).
template <class T>
void scatter_add_rows_kernel(const KernelContext& ctx) {
  const TensorView &src = ctx.in[0], &indices = ctx.in[1], &out = ctx.out[0];
  const int64_t rows = out.shape[0], width = rows ? out.shape.numel() / rows : 0;
  std::memset(out.data, 0, out.bytes());
  const int64_t n = indices.shape.numel();
  for (int64_t j = 0; j < n; ++j) {
    const int64_t row = checked_row(ctx, indices, j, rows);
    T* y = out.as<T>() + row * width;
    const T* s = src.as<const T>() + j * width;
    for (int64_t c = 0; c < width; ++c) y[c] += s[c];
  }
}

}  // namespace

void register_reference_indexing_kernels(KernelRegistry& r) {
  for_each_dtype_by_size<Diagonal>([&](DType dt, void (*fn)(const KernelContext&)) {
    r.add(OpKind::Diagonal, BackendKind::Reference, dt, {"reference.diagonal", fn});
  });
  for_each_dtype_by_size<DiagEmbed>([&](DType dt, void (*fn)(const KernelContext&)) {
    r.add(OpKind::DiagEmbed, BackendKind::Reference, dt, {"reference.diag_embed", fn});
  });
  r.add(OpKind::GatherRows, BackendKind::Reference, DType::F32,
        {"reference.gather_rows", gather_rows_kernel<float>});
  r.add(OpKind::GatherRows, BackendKind::Reference, DType::F64,
        {"reference.gather_rows", gather_rows_kernel<double>});
  r.add(OpKind::ScatterAddRows, BackendKind::Reference, DType::F32,
        {"reference.scatter_add_rows", scatter_add_rows_kernel<float>});
  r.add(OpKind::ScatterAddRows, BackendKind::Reference, DType::F64,
        {"reference.scatter_add_rows", scatter_add_rows_kernel<double>});
}

}  // namespace frost::ops
