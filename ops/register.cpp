#include <mutex>

#include "engine/kernel.h"
#include "engine/op_registry.h"
#include "ops/api.h"
#include "ops/registration.h"

namespace frost::ops {

void register_all() {
  static std::once_flag once;
  std::call_once(once, [] {
    OpRegistry& rows = op_registry();
    register_source_rows(rows);
    register_elementwise_rows(rows);
    register_matmul_rows(rows);
    register_softmax_rows(rows);
    register_reduce_rows(rows);
    register_layout_rows(rows);
    register_indexing_rows(rows);
    register_normalization_rows(rows);
    register_attention_rows(rows);

    KernelRegistry& kernels = kernel_registry();
    register_reference_source_kernels(kernels);
    register_reference_elementwise_kernels(kernels);
    register_reference_matmul_kernels(kernels);
    register_reference_softmax_kernels(kernels);
    register_reference_reduce_kernels(kernels);
    register_reference_layout_kernels(kernels);
    register_reference_indexing_kernels(kernels);
    register_reference_normalization_kernels(kernels);
    register_reference_attention_kernels(kernels);
    // Registration order is preference order within a backend: oneDNN first, then our own kernels; the
    // reference kernels are the fallback of the cpu backend (KernelRegistry::find).
#ifdef FROST_HAVE_ONEDNN
    register_onednn_kernels(kernels);
#endif
    register_cpu_own_kernels(kernels);
    register_cpu_own_elementwise_kernels(kernels);
    register_cpu_own_reduce_kernels(kernels);
    register_cpu_own_layout_kernels(kernels);
    register_cpu_own_attention_kernels(kernels);
    register_cpu_own_normalization_kernels(kernels);
    register_cpu_own_optimizer_kernels(kernels);
#ifdef FROST_HAVE_CUDA
    register_cuda_blas_kernels(kernels);
    register_cuda_kernels(kernels);
#endif
  });
}

}  // namespace frost::ops
