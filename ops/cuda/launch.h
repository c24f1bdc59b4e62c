// The CUDA kernels' launchers: plain C++17 over raw device pointers, shapes as integers and strided walks
// (Indexer), so the .cu files (compiled by nvcc as C++17) never see the engine's C++20 headers. The glue in
// ops/cuda/*.cpp reads a node's attrs and shapes, fills these arguments and checks the returned status.
//
// Every launcher queues its work on `stream` and returns cudaGetLastError() (cudaSuccess when launched).
// F32 throughout; layout launchers move elements of 1, 2, 4 or 8 bytes without interpreting them.
//
// Legend: n element count; R rows and C the last dimension (row ops); M, N, K a matrix product's dims.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "engine/cuda/device_error.h"

namespace frost::cuda {

inline constexpr int kMaxWalkRank = 16;  // layout views double a rank of up to 8 (repeat)

// A row-major walk over `size[0..rank)`, tracking the element offset of up to three operands
// (offset = base[k] + sum_d index_d * stride[k][d]; stride 0 broadcasts).
struct Indexer {
  int rank = 0;
  int64_t size[kMaxWalkRank] = {};
  int64_t stride[3][kMaxWalkRank] = {};
  int64_t base[3] = {};
  int64_t numel() const {
    int64_t n = 1;
    for (int d = 0; d < rank; ++d) n *= size[d];
    return n;
  }
};

// ---- elementwise (ops/cuda/elementwise.cu) ----------------------------------------------------------------
enum class Binary : int { Add, Sub, Mul, Div };
// out[i] = a[ix(i).0] op b[ix(i).1], i over ix; IEEE single operations (bit-equal to the reference).
cudaError_t binary_f32(Binary op, const float* a, const float* b, float* out, const Indexer& ix,
                       cudaStream_t stream);
// out[i] = cond[ix.0] ? a[ix.1] : b[ix.2]
cudaError_t where_f32(const uint8_t* cond, const float* a, const float* b, float* out, const Indexer& ix,
                      cudaStream_t stream);
// Unary math computed in double and rounded once, as the reference kernels.
enum class Unary : int { Neg, Exp, Log, Sqrt, Rsqrt, Tanh, Relu, Gelu, GeluTanh };
cudaError_t unary_f32(Unary op, const float* x, float* y, int64_t n, cudaStream_t stream);
cudaError_t scale_f32(const float* x, float scale, float* y, int64_t n, cudaStream_t stream);
// dx = dy * f'(x) in double (gelu, gelu_tanh); relu_grad: x <= 0 ? 0 : dy.
enum class Derivative : int { Relu, Gelu, GeluTanh };
cudaError_t derivative_f32(Derivative op, const float* dy, const float* x, float* dx, int64_t n,
                           cudaStream_t stream);
// Dtype codes of engine/dtype.h (F32 0, F16 1, BF16 2, F64 3, I32 4, I64 5, U8 6): the same conversions
// as frost::convert, bit for bit.
cudaError_t cast(const void* x, int from_dtype, void* y, int to_dtype, int64_t n, cudaStream_t stream);
// y = x * keep / (1 - p) with keep drawn from Philox(seed, *offset) element i (engine/random.h).
cudaError_t dropout_f32(const float* x, const int64_t* offset, uint64_t seed, double p, float* y, int64_t n,
                        cudaStream_t stream);
// act(y + bias[col]) in place over (M, N): the linear op's epilogue after its GEMM. act: 0 none, 1 gelu,
// 2 gelu_tanh.
cudaError_t bias_activation_f32(float* y, const float* bias, int64_t M, int64_t N, int act,
                                cudaStream_t stream);

// ---- sources and the optimizer (ops/cuda/elementwise.cu)
// --------------------------------------------------- Replicates one element of `width` bytes n times.
cudaError_t fill_bytes(void* y, const void* host_value, int width, int64_t n, cudaStream_t stream);
// One AdamW step over n elements in place (the coefficient vector c as the reference kernel reads it),
// each operation rounded as the reference's (no contraction).
cudaError_t adamw_f32(float* p, const float* g, float* m, float* v, const float* c, int64_t n,
                      cudaStream_t stream);

// ---- layout (ops/cuda/layout.cu)
// --------------------------------------------------------------------------- dst[i] = src[ix(i).0] (dst
// contiguous over ix).
cudaError_t gather_copy(const void* src, void* dst, int width, const Indexer& ix, cudaStream_t stream);
// dst[ix(i).0] = src[i] (src contiguous over ix).
cudaError_t scatter_copy(const void* src, void* dst, int width, const Indexer& ix, cudaStream_t stream);

// ---- indexing (ops/cuda/layout.cu)
// ---------------------------------------------------------------------------- out[j, :] = table[index[j],
// :]; an index outside [0, rows) is reported through `error` (code kIndexOutOfRange) and its output row set
// to NaN.
cudaError_t gather_rows_f32(const float* table, const void* index, bool index_i64, float* out, int64_t n,
                            int64_t rows, int64_t width, int node, DeviceError* error, cudaStream_t stream);
// out = zeros(rows, width); out[index[j], :] += src[j, :] in index order (deterministic, no atomics).
cudaError_t scatter_add_rows_f32(const float* src, const void* index, bool index_i64, float* out, int64_t n,
                                 int64_t rows, int64_t width, int node, DeviceError* error,
                                 cudaStream_t stream);

// ---- reductions (ops/cuda/reduce.cu)
// -------------------------------------------------------------------------- For each kept element (walk
// `kept`, offset .0) reduce the `reduced` walk (offset .0) in double.
enum class Reduce : int { Sum, Mean, Max };
cudaError_t reduce_f32(Reduce op, const float* x, float* y, const Indexer& kept, const Indexer& reduced,
                       cudaStream_t stream);
cudaError_t max_backward_f32(const float* dy, const float* x, const float* y, float* dx, const Indexer& kept,
                             const Indexer& reduced, cudaStream_t stream);

// ---- row ops over the last dimension (ops/cuda/normalization.cu)
// -----------------------------------------------
cudaError_t softmax_f32(const float* x, float* y, int64_t R, int64_t C, bool log, cudaStream_t stream);
cudaError_t softmax_backward_f32(const float* dy, const float* y, float* dx, int64_t R, int64_t C, bool log,
                                 cudaStream_t stream);
// y = layer_norm(a (+ b)); with b, sum = a + b is written first (it may alias a).
cudaError_t layer_norm_f32(const float* a, const float* b, float* sum, const float* w, const float* bias,
                           float* y, float* mean, float* rstd, int64_t R, int64_t C, double eps,
                           cudaStream_t stream);
cudaError_t layer_norm_backward_f32(const float* dy, const float* x, const float* w, const float* mean,
                                    const float* rstd, float* dx, float* dw, float* db, int64_t R, int64_t C,
                                    cudaStream_t stream);
cudaError_t l2_normalize_f32(const float* x, float* y, int64_t R, int64_t C, double eps, cudaStream_t stream);
cudaError_t l2_normalize_backward_f32(const float* dy, const float* x, float* dx, int64_t R, int64_t C,
                                      double eps, cudaStream_t stream);
// loss[n] = logsumexp(logits[n]) - logits[n, target[n]]; a target outside [0, K) is reported.
cudaError_t softmax_cross_entropy_f32(const float* logits, const void* target, bool target_i64, float* loss,
                                      int64_t N, int64_t K, int node, DeviceError* error,
                                      cudaStream_t stream);
cudaError_t softmax_cross_entropy_backward_f32(const float* dloss, const float* logits, const void* target,
                                               bool target_i64, float* dlogits, int64_t N, int64_t K,
                                               int node, DeviceError* error, cudaStream_t stream);

// ---- matrix products (ops/cuda/matmul.cu: the plain kernel beside cuBLAS)
// --------------------------------------- out[b] (M, N) = op(A)[b] (M, K) op(B)[b] (K, N) with per-batch
// element offsets from `batch` (.0 for A, .1 for B); accumulated in double: the CUDA oracle for the cuBLAS
// path.
cudaError_t matmul_plain_f32(const float* a, const float* b, float* out, int64_t M, int64_t N, int64_t K,
                             bool trans_a, bool trans_b, const Indexer& batch, cudaStream_t stream);

// ---- attention (ops/cuda/attention.cu)
// --------------------------------------------------------------------------- One operand read through a
// strided map: per batch tuple t its element offset `tuple_offset[t]`, then row and column strides.
struct AttentionOperand {
  const float* data = nullptr;
  const int64_t* tuple_offset = nullptr;  // device array (tuples)
  int64_t row_stride = 0, col_stride = 0;
};
struct AttentionArgs {
  AttentionOperand q, k, v, pk, pv;
  int64_t tuples = 0, Lq = 0, Lk = 0, P = 0, D = 0, Dv = 0;
  double scale = 1;
  // The mask: none, a float bias added to the scores, or a u8 mask replacing a score by `fill`.
  int mask_kind = 0;  // 0 none, 1 bias (f32), 2 u8 fill
  const void* mask = nullptr;
  const int64_t* mask_tuple_offset = nullptr;  // device array (tuples)
  int64_t mask_row_stride = 0, mask_col_stride = 0;
  double fill = 0;
  bool fill_where_zero = false;
  // Dropout of the probabilities: Philox(seed, *offset) at element (t * Lq + i) * (P + Lk) + j.
  double dropout = 0;
  uint64_t seed = 0;
  const int64_t* dropout_offset = nullptr;
};
// out (tuples, Lq, Dv) and lse (tuples, Lq).
cudaError_t attention_forward_f32(const AttentionArgs& a, float* out, float* lse, cudaStream_t stream);
// Workspace: 2 * tuples * Lq * (P + Lk) floats (the score gradients and the dropped probabilities).
// Prefix gradients: the tuples that sum into each prefix slot, as CSR lists (slot_begin (slots + 1),
// slot_tuples) with each slot's element offset in the prefix gradient (slot_offset), for k and v apart.
struct PrefixSlots {
  int64_t slots = 0;
  const int64_t* begin = nullptr;   // device (slots + 1)
  const int64_t* tuples = nullptr;  // device
  const int64_t* offset = nullptr;  // device (slots)
};
cudaError_t attention_backward_f32(const AttentionArgs& a, const float* dout, const float* out,
                                   const float* lse, float* dq, float* dk, float* dv, float* dpk, float* dpv,
                                   const PrefixSlots& k_slots, const PrefixSlots& v_slots, float* workspace,
                                   cudaStream_t stream);

}  // namespace frost::cuda
