// The CUDA backend's runtime (engine/cuda/cuda_backend.cpp), for the CUDA kernels' glue (ops/cuda/): one
// stream on device 0 that every kernel, copy and captured graph uses, the device error slot kernels report
// bad data through, and a check macro with file and line around every CUDA runtime call.
//
//   FROST_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, cuda_stream()));
//
// Only in CUDA builds (FROST_HAVE_CUDA). Calling these without a device throws Unsupported.
#pragma once

#include <cuda_runtime_api.h>

#include "engine/cuda/device_error.h"
#include "engine/error.h"

namespace frost {

// The one stream (created with the backend on first use of get_backend("cuda")).
cudaStream_t cuda_stream();
// Device memory holding one cuda::DeviceError, zero while nothing was reported.
cuda::DeviceError* cuda_error_slot();

[[noreturn]] void cuda_fail(cudaError_t error, const char* expr, const char* file, int line);

}  // namespace frost

#define FROST_CUDA_CHECK(expr)                                                                              \
  do {                                                                                                      \
    const cudaError_t frost_cuda_error_ = (expr);                                                           \
    if (frost_cuda_error_ != cudaSuccess) ::frost::cuda_fail(frost_cuda_error_, #expr, __FILE__, __LINE__); \
  } while (0)
