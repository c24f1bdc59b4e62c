// The cuda backend's matrix products through cuBLAS (SGEMM: F32 compute, TF32 off), registered ahead of the
// plain kernels of ops/cuda/kernels.cpp; FROST_DISABLE_KERNELS=cuda.cublas falls back to those.
//
// cuBLAS is column-major: a row-major C (M, N) = op(A) (M, K) op(B) (K, N) is computed as the column-major
// C^T (N, M) = op(B)^T (N, K) op(A)^T (K, M), i.e. the operands swapped and nothing transposed in memory.
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <memory>
#include <mutex>
#include <vector>

#include "engine/cuda/cuda_backend.h"
#include "engine/kernel.h"
#include "ops/cuda/launch.h"
#include "ops/registration.h"

namespace frost::ops {
namespace {

const char* status_name(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_NOT_INITIALIZED:
      return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED:
      return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE:
      return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH:
      return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_EXECUTION_FAILED:
      return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR:
      return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED:
      return "CUBLAS_STATUS_NOT_SUPPORTED";
    default:
      return "cuBLAS error";
  }
}

#define FROST_CUBLAS_CHECK(expr)                                                                          \
  do {                                                                                                    \
    const cublasStatus_t frost_cublas_status_ = (expr);                                                   \
    FROST_CHECK(frost_cublas_status_ == CUBLAS_STATUS_SUCCESS, Internal,                                  \
                status_name(frost_cublas_status_) << " in " #expr " at " << __FILE__ << ":" << __LINE__); \
  } while (0)

// One handle on the backend's stream, with a fixed workspace: cuBLAS then allocates nothing while a run is
// recorded as a CUDA graph.
cublasHandle_t handle() {
  static cublasHandle_t h = [] {
    cublasHandle_t created = nullptr;
    FROST_CUBLAS_CHECK(cublasCreate(&created));
    FROST_CUBLAS_CHECK(cublasSetStream(created, cuda_stream()));
    FROST_CUBLAS_CHECK(cublasSetMathMode(created, CUBLAS_DEFAULT_MATH));  // F32: no TF32
    constexpr size_t kWorkspace = size_t(32) << 20;
    void* workspace = nullptr;
    FROST_CUDA_CHECK(cudaMalloc(&workspace, kWorkspace));
    FROST_CUBLAS_CHECK(cublasSetWorkspace(created, workspace, kWorkspace));
    return created;
  }();
  return h;
}

// Per batch entry of the output, the element offsets of A and B (broadcast batch dims); when they step
// uniformly, one strided-batched call does them all.
struct GemmPlan {
  int64_t M = 0, N = 0, K = 0, batch = 1;
  bool trans_a = false, trans_b = false;
  bool uniform = true;
  int64_t stride_a = 0, stride_b = 0;
  std::vector<int64_t> off_a, off_b;  // per batch entry, when not uniform
};

KernelPrep prepare_matmul(const Graph& graph, const Node& node) {
  handle();  // created now, never while a run is being recorded
  auto p = std::make_shared<GemmPlan>();
  const Shape& a = graph.value(node.inputs[0]).type.shape;
  const Shape& b = graph.value(node.inputs[1]).type.shape;
  const Shape& out = graph.value(node.outputs[0]).type.shape;
  p->trans_a = node.attrs.trans_a;
  p->trans_b = node.attrs.trans_b;
  p->M = out[-2];
  p->N = out[-1];
  p->K = p->trans_a ? a[-2] : a[-1];
  const Shape batch(std::span<const int64_t>(out.begin(), size_t(out.rank() - 2)));
  p->batch = batch.numel();
  auto offsets = [&](const Shape& operand) {
    const Shape own(std::span<const int64_t>(operand.begin(), size_t(operand.rank() - 2)));
    const auto strides = broadcast_strides(own, batch);
    std::vector<int64_t> off(static_cast<size_t>(p->batch));
    for (int64_t t = 0; t < p->batch; ++t) {
      int64_t rest = t, o = 0;
      for (int d = batch.rank() - 1; d >= 0; --d) {
        o += (rest % batch[d]) * strides[size_t(d)];
        rest /= batch[d];
      }
      off[size_t(t)] = o * operand[-1] * operand[-2];
    }
    return off;
  };
  p->off_a = offsets(a);
  p->off_b = offsets(b);
  p->stride_a = p->batch > 1 ? p->off_a[1] - p->off_a[0] : 0;
  p->stride_b = p->batch > 1 ? p->off_b[1] - p->off_b[0] : 0;
  for (int64_t t = 0; t < p->batch; ++t)
    p->uniform =
        p->uniform && p->off_a[size_t(t)] == t * p->stride_a && p->off_b[size_t(t)] == t * p->stride_b;
  return {p, 0};
}

void gemm(const GemmPlan& p, const float* a, const float* b, float* c) {
  if (p.M == 0 || p.N == 0 || p.batch == 0) return;
  if (p.K == 0) {  // cuBLAS may leave C untouched for an empty sum
    FROST_CUDA_CHECK(cudaMemsetAsync(c, 0, size_t(p.batch * p.M * p.N) * sizeof(float), cuda_stream()));
    return;
  }
  const float one = 1.0f, zero = 0.0f;
  const cublasOperation_t op_a = p.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
                          op_b = p.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int lda = int(p.trans_a ? p.M : p.K), ldb = int(p.trans_b ? p.K : p.N);
  if (p.uniform) {
    FROST_CUBLAS_CHECK(cublasSgemmStridedBatched(handle(), op_b, op_a, int(p.N), int(p.M), int(p.K), &one, b,
                                                 ldb, p.stride_b, a, lda, p.stride_a, &zero, c, int(p.N),
                                                 p.M * p.N, int(p.batch)));
    return;
  }
  for (int64_t t = 0; t < p.batch; ++t)
    FROST_CUBLAS_CHECK(cublasSgemm(handle(), op_b, op_a, int(p.N), int(p.M), int(p.K), &one,
                                   b + p.off_b[size_t(t)], ldb, a + p.off_a[size_t(t)], lda, &zero,
                                   c + t * p.M * p.N, int(p.N)));
}

void matmul(const KernelContext& ctx) {
  gemm(*static_cast<const GemmPlan*>(ctx.state), static_cast<const float*>(ctx.in[0].data),
       static_cast<const float*>(ctx.in[1].data), static_cast<float*>(ctx.out[0].data));
}

// x (..., K) as (M, K); w (K, N), or (N, K) with trans_b; then bias and activation in one pass.
KernelPrep prepare_linear(const Graph& graph, const Node& node) {
  handle();
  auto p = std::make_shared<GemmPlan>();
  const Shape& out = graph.value(node.outputs[0]).type.shape;
  p->N = out[-1];
  p->K = graph.value(node.inputs[0]).type.shape[-1];
  p->M = p->N ? out.numel() / p->N : 0;
  p->trans_b = node.attrs.trans_b;
  return {p, 0};
}

void linear(const KernelContext& ctx) {
  const auto& p = *static_cast<const GemmPlan*>(ctx.state);
  float* y = static_cast<float*>(ctx.out[0].data);
  gemm(p, static_cast<const float*>(ctx.in[0].data), static_cast<const float*>(ctx.in[1].data), y);
  FROST_CUDA_CHECK(cuda::bias_activation_f32(y, static_cast<const float*>(ctx.in[2].data), p.M, p.N,
                                             int(ctx.node->attrs.activation), cuda_stream()));
}

// cuBLAS takes int dimensions and leading dimensions.
bool fits_int(const Graph& graph, const Node& node) {
  for (ValueId v : node.inputs)
    for (int64_t d : graph.value(v).type.shape)
      if (d > INT32_MAX) return false;
  const Shape& out = graph.value(node.outputs[0]).type.shape;
  return out.numel() <= INT32_MAX;
}

}  // namespace

void register_cuda_blas_kernels(KernelRegistry& r) {
  r.add(OpKind::MatMul, BackendKind::Cuda, DType::F32,
        {"cuda.cublas.matmul", matmul, fits_int, prepare_matmul});
  r.add(OpKind::Linear, BackendKind::Cuda, DType::F32,
        {"cuda.cublas.linear", linear, fits_int, prepare_linear});
}

}  // namespace frost::ops
