// What the CUDA runtime sees. Declared in plain C++ so host code can call it without CUDA headers; defined
// in cuda_info.cu, which compiles only in CUDA builds (FROST_HAVE_CUDA). Today it proves the CUDA path
// builds and links; the CUDA backend (cuDNN, cuBLASLt, own kernels) arrives with the GPU issue.
//
//   std::string s = cuda_describe_devices();   // "1 device: NVIDIA H100 (sm_90, 79 GiB)" or why none
#pragma once

#include <string>

namespace frost {

int cuda_device_count();              // 0 when no driver or device is present
std::string cuda_describe_devices();  // one line, always safe to call
std::string cuda_runtime_version();   // "13.0"

}  // namespace frost
