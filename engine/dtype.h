// Element types. F64 exists for reference kernels and gradient checks; F16/BF16 are storage types whose
// arithmetic happens in F32 (conversion helpers below, round-to-nearest-even as PyTorch does).
//
//   DType t = dtype_from_name("bf16");   size_of(t) == 2;   dtype_name(t) == "bf16"
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <string_view>

namespace frost {

enum class DType : uint8_t { F32, F16, BF16, F64, I32, I64, U8 };
inline constexpr int kNumDTypes = 7;

size_t size_of(DType t);
const char* dtype_name(DType t);               // "f32", "f16", "bf16", "f64", "i32", "i64", "u8"
DType dtype_from_name(std::string_view name);  // throws InvalidArgument on an unknown name
bool is_floating(DType t);
std::ostream& operator<<(std::ostream& os, DType t);

// Scalar conversions between the storage formats and F32. NaN stays NaN (quiet), Inf stays Inf, values
// beyond the F16 range round to Inf, and subnormals are kept (no flush-to-zero, DESIGN principle 10).
uint16_t f32_to_f16(float f);
float f16_to_f32(uint16_t h);
uint16_t f32_to_bf16(float f);
float bf16_to_f32(uint16_t b);

// Converts n elements from one dtype to another (any pair; integer targets truncate toward zero as C++).
void convert(const void* src, DType src_type, void* dst, DType dst_type, size_t n);

}  // namespace frost
