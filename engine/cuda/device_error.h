// What a CUDA kernel reports when its data is wrong (an index outside a table, a target outside the
// classes): kernels cannot throw, so the first report lands in one slot of device memory that the CUDA
// backend reads after each run and turns into a frost::Error naming the op, node, position and value.
// Plain C++17: included by .cu files.
#pragma once

#include <cstdint>

namespace frost::cuda {

enum DeviceErrorCode : int32_t {
  kNoDeviceError = 0,
  kIndexOutOfRange = 1,   // gather_rows / scatter_add_rows: index outside the table's rows
  kTargetOutOfRange = 2,  // softmax_cross_entropy: target outside the classes
};

struct DeviceError {
  int32_t code;      // DeviceErrorCode; 0 while nothing was reported
  int32_t node;      // the node id the kernel was launched for
  int64_t value;     // the offending index or target
  int64_t position;  // where it sits in its tensor
  int64_t limit;     // the table's rows or the class count
};

}  // namespace frost::cuda
