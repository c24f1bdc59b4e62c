// The explicit registration functions that ops::register_all() calls (DESIGN principle 6: no static
// initialisers). One pair per family: rows (ops/defs/) and reference kernels (ops/cpu/).
#pragma once

namespace frost {
class OpRegistry;
class KernelRegistry;
}  // namespace frost

namespace frost::ops {

void register_source_rows(OpRegistry& r);       // fill, assign
void register_elementwise_rows(OpRegistry& r);  // add ... where, unary math, gelu, cast, dropout
void register_matmul_rows(OpRegistry& r);
void register_softmax_rows(OpRegistry& r);
void register_reduce_rows(OpRegistry& r);    // sum, mean, max
void register_layout_rows(OpRegistry& r);    // reshape, permute, contiguous, expand, slice, concat, repeat
void register_indexing_rows(OpRegistry& r);  // diagonal, diag_embed, gather_rows, scatter_add_rows
void register_normalization_rows(OpRegistry& r);  // layer_norm, l2_normalize, softmax_cross_entropy
void register_attention_rows(OpRegistry& r);      // attention and its backward (made by fusion)

void register_reference_source_kernels(KernelRegistry& r);
void register_reference_elementwise_kernels(KernelRegistry& r);
void register_reference_matmul_kernels(KernelRegistry& r);
void register_reference_softmax_kernels(KernelRegistry& r);
void register_reference_reduce_kernels(KernelRegistry& r);
void register_reference_layout_kernels(KernelRegistry& r);
void register_reference_indexing_kernels(KernelRegistry& r);
void register_reference_normalization_kernels(KernelRegistry& r);
void register_reference_attention_kernels(KernelRegistry& r);

// ops/cpu/own/: the cpu backend's own kernels
void register_cpu_own_kernels(KernelRegistry& r);  // matmul
void register_cpu_own_elementwise_kernels(KernelRegistry& r);
void register_cpu_own_reduce_kernels(KernelRegistry& r);
void register_cpu_own_layout_kernels(KernelRegistry& r);
void register_cpu_own_attention_kernels(KernelRegistry& r);
void register_cpu_own_normalization_kernels(KernelRegistry& r);  // layer_norm, add_layer_norm
void register_cpu_own_optimizer_kernels(KernelRegistry& r);      // adamw
void register_onednn_kernels(KernelRegistry& r);  // ops/cpu/onednn.cpp, in builds with FROST_ONEDNN

// ops/cuda/: the cuda backend's kernels, in CUDA builds (FROST_HAVE_CUDA)
void register_cuda_blas_kernels(KernelRegistry& r);  // matmul, linear through cuBLAS (preferred)
void register_cuda_kernels(KernelRegistry& r);       // every op, plain matmul and linear beneath cuBLAS

}  // namespace frost::ops
