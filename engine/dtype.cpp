#include "engine/dtype.h"

#include <cmath>
#include <cstring>
#include <ostream>

#include "engine/error.h"

namespace frost {

size_t size_of(DType t) {
  switch (t) {
    case DType::F32:
      return 4;
    case DType::F16:
      return 2;
    case DType::BF16:
      return 2;
    case DType::F64:
      return 8;
    case DType::I32:
      return 4;
    case DType::I64:
      return 8;
    case DType::U8:
      return 1;
  }
  FROST_FAIL(Internal, "size_of: bad dtype " << int(t));
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32:
      return "f32";
    case DType::F16:
      return "f16";
    case DType::BF16:
      return "bf16";
    case DType::F64:
      return "f64";
    case DType::I32:
      return "i32";
    case DType::I64:
      return "i64";
    case DType::U8:
      return "u8";
  }
  return "?";
}

DType dtype_from_name(std::string_view name) {
  for (int i = 0; i < kNumDTypes; ++i) {
    if (name == dtype_name(DType(i))) return DType(i);
  }
  FROST_FAIL(InvalidArgument,
             "unknown dtype '" << name << "' (expected f32, f16, bf16, f64, i32, i64 or u8)");
}

bool is_floating(DType t) {
  return t == DType::F32 || t == DType::F16 || t == DType::BF16 || t == DType::F64;
}

std::ostream& operator<<(std::ostream& os, DType t) {
  return os << dtype_name(t);
}

static uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
static float float_of(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

uint16_t f32_to_bf16(float f) {
  uint32_t u = bits_of(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x0040u);  // NaN: keep sign, force quiet
  uint32_t rounding = 0x7fffu + ((u >> 16) & 1u);                             // round to nearest even
  return uint16_t((u + rounding) >> 16);
}

float bf16_to_f32(uint16_t b) {
  return float_of(uint32_t(b) << 16);
}

uint16_t f32_to_f16(float f) {
  uint32_t u = bits_of(f);
  uint32_t sign = (u >> 16) & 0x8000u;
  uint32_t abs = u & 0x7fffffffu;
  if (abs > 0x7f800000u) return uint16_t(sign | 0x7e00u | ((abs >> 13) & 0x3ffu));  // NaN stays NaN
  if (abs >= 0x477ff000u) return uint16_t(sign | 0x7c00u);                          // rounds to >= 65520: Inf
  if (abs < 0x38800000u) {
    // Result is subnormal in f16 (or zero): scale so the f16 subnormal unit (2^-24) becomes 1 and round.
    // Adding 0.5f (exponent 2^-1) aligns the mantissa so the hardware rounds to nearest even for us.
    float magnitude = float_of(abs);
    float shifted = magnitude + 0.5f;
    return uint16_t(sign | (bits_of(shifted) - bits_of(0.5f)));
  }
  // Normal: rebias the exponent (127 -> 15) and round the 13 dropped mantissa bits to nearest even.
  uint32_t mantissa_odd = (abs >> 13) & 1u;
  abs += 0xc8000fffu + mantissa_odd;  // (15 - 127) << 23 plus the rounding bias
  return uint16_t(sign | (abs >> 13));
}

float f16_to_f32(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000u) << 16;
  uint32_t exponent = (h >> 10) & 0x1fu;
  uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0x1f) return float_of(sign | 0x7f800000u | (mantissa << 13));  // Inf / NaN
  if (exponent == 0) {
    // Zero or subnormal: value = mantissa * 2^-24, exact in f32.
    float v = float(mantissa) * 0x1p-24f;
    return sign ? -v : v;
  }
  return float_of(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

namespace {
double load_as_double(const void* src, DType t, size_t i) {
  switch (t) {
    case DType::F32:
      return static_cast<const float*>(src)[i];
    case DType::F16:
      return f16_to_f32(static_cast<const uint16_t*>(src)[i]);
    case DType::BF16:
      return bf16_to_f32(static_cast<const uint16_t*>(src)[i]);
    case DType::F64:
      return static_cast<const double*>(src)[i];
    case DType::I32:
      return static_cast<const int32_t*>(src)[i];
    case DType::I64:
      return double(static_cast<const int64_t*>(src)[i]);
    case DType::U8:
      return static_cast<const uint8_t*>(src)[i];
  }
  return 0;
}
void store_from_double(void* dst, DType t, size_t i, double v) {
  switch (t) {
    case DType::F32:
      static_cast<float*>(dst)[i] = float(v);
      break;
    case DType::F16:
      static_cast<uint16_t*>(dst)[i] = f32_to_f16(float(v));
      break;
    case DType::BF16:
      static_cast<uint16_t*>(dst)[i] = f32_to_bf16(float(v));
      break;
    case DType::F64:
      static_cast<double*>(dst)[i] = v;
      break;
    case DType::I32:
      static_cast<int32_t*>(dst)[i] = int32_t(v);
      break;
    case DType::I64:
      static_cast<int64_t*>(dst)[i] = int64_t(v);
      break;
    case DType::U8:
      static_cast<uint8_t*>(dst)[i] = uint8_t(v);
      break;
  }
}
}  // namespace

void convert(const void* src, DType src_type, void* dst, DType dst_type, size_t n) {
  if (n == 0) return;  // empty tensors may have null data
  if (src_type == dst_type) {
    std::memmove(dst, src, n * size_of(src_type));
    return;
  }
  // I64 <-> I64 is handled above; I64 through double loses precision beyond 2^53, so copy integers directly.
  if (src_type == DType::I64 && !is_floating(dst_type)) {
    for (size_t i = 0; i < n; ++i) {
      int64_t v = static_cast<const int64_t*>(src)[i];
      if (dst_type == DType::I32)
        static_cast<int32_t*>(dst)[i] = int32_t(v);
      else
        static_cast<uint8_t*>(dst)[i] = uint8_t(v);
    }
    return;
  }
  for (size_t i = 0; i < n; ++i) store_from_double(dst, dst_type, i, load_as_double(src, src_type, i));
}

}  // namespace frost
