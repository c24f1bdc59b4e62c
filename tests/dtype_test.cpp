#include <gtest/gtest.h>

#include <climits>

#include <cmath>
#include <cstring>
#include <limits>

#include "engine/dtype.h"
#include "engine/error.h"
#include "engine/random.h"

namespace frost {
namespace {

TEST(DType, NamesAndSizes) {
  for (int i = 0; i < kNumDTypes; ++i) EXPECT_EQ(dtype_from_name(dtype_name(DType(i))), DType(i));
  EXPECT_EQ(size_of(DType::BF16), 2u);
  EXPECT_EQ(size_of(DType::F64), 8u);
  EXPECT_EQ(size_of(DType::U8), 1u);
  EXPECT_THROW(dtype_from_name("float99"), Error);
}

TEST(DType, F16KnownValues) {
  EXPECT_EQ(f32_to_f16(1.0f), 0x3c00);
  EXPECT_EQ(f32_to_f16(-2.0f), 0xc000);
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7bff);                      // largest finite
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);                      // ties to even: rounds up to Inf
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -24)), 0x0001);         // smallest subnormal
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -26)), 0x0000);         // below half of it: zero
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);  // halfway between 1 and next: to even
  EXPECT_EQ(f32_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
  EXPECT_EQ(f32_to_f16(INFINITY), 0x7c00);
  EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(NAN))));
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(f16_to_f32(0x8000), -0.0f);
  EXPECT_TRUE(std::signbit(f16_to_f32(0x8000)));
}

TEST(DType, F16RoundTripsEveryNonNanValue) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    bool is_nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0;
    if (is_nan) {
      EXPECT_TRUE(std::isnan(f16_to_f32(uint16_t(h))));
      continue;
    }
    ASSERT_EQ(f32_to_f16(f16_to_f32(uint16_t(h))), h) << std::hex << h;
  }
}

TEST(DType, BF16KnownValuesAndRounding) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(bf16_to_f32(0x3f80), 1.0f);
  auto from_bits = [](uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  };
  EXPECT_EQ(f32_to_bf16(from_bits(0x3f808000u)), 0x3f80);  // tie, even stays
  EXPECT_EQ(f32_to_bf16(from_bits(0x3f818000u)), 0x3f82);  // tie, odd rounds up
  EXPECT_EQ(f32_to_bf16(from_bits(0x3f808001u)), 0x3f81);  // above the tie
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(NAN))));
  EXPECT_EQ(f32_to_bf16(-INFINITY), 0xff80);
}

TEST(DType, ConvertBetweenTypes) {
  const double src[] = {1.5, -2.25, 3.0};
  float f[3];
  convert(src, DType::F64, f, DType::F32, 3);
  EXPECT_EQ(f[1], -2.25f);
  int32_t i[3];
  convert(src, DType::F64, i, DType::I32, 3);
  EXPECT_EQ(i[0], 1);
  EXPECT_EQ(i[1], -2);
  // I64 beyond 2^53 must never pass through a double: to I32 and U8 it wraps as PyTorch's .to() does
  // (the low bits), where a double would have rounded 2^53 + 1 to 2^53 first.
  const int64_t big[] = {(int64_t(1) << 53) + 1, -((int64_t(1) << 40) + 3), 257};
  int32_t narrow[3];
  convert(big, DType::I64, narrow, DType::I32, 3);
  EXPECT_EQ(narrow[0], 1);
  EXPECT_EQ(narrow[1], -3);
  EXPECT_EQ(narrow[2], 257);
  uint8_t bytes[3];
  convert(big, DType::I64, bytes, DType::U8, 3);
  EXPECT_EQ(bytes[0], 1);
  EXPECT_EQ(bytes[2], 1);
  // To F64 it rounds to nearest even (2^53 + 1 is not representable); I32 and U8 widen to I64 exactly.
  double wide[1];
  convert(big, DType::I64, wide, DType::F64, 1);
  EXPECT_EQ(wide[0], 9007199254740992.0);
  const int32_t small[] = {-7, INT32_MIN};
  int64_t widened[2];
  convert(small, DType::I32, widened, DType::I64, 2);
  EXPECT_EQ(widened[0], -7);
  EXPECT_EQ(widened[1], int64_t(INT32_MIN));
}

TEST(Random, PhiloxKnownAnswer) {
  // Random123's known-answer vector for philox4x32_10 with counter 0 and key 0.
  auto b = Philox(0, 0).block(0);
  EXPECT_EQ(b[0], 0x6627e8d5u);
  EXPECT_EQ(b[1], 0xe169c58du);
  EXPECT_EQ(b[2], 0xbc57ac4cu);
  EXPECT_EQ(b[3], 0x9b00dbd8u);
}

// A run of the uniform stream, from any start and of any length, is element for element uniform(i).
TEST(Random, UniformRunsEqualSingleDraws) {
  const Philox rng(7, 3);
  for (uint64_t first : {0, 1, 2, 3, 4, 101}) {
    for (int64_t n : {0, 1, 3, 4, 5, 17, 32, 33, 70, 130}) {
      std::vector<float> run(size_t(n) + 1, -1.0f);
      rng.uniforms(first, n, run.data());
      for (int64_t k = 0; k < n; ++k)
        EXPECT_EQ(run[size_t(k)], rng.uniform(first + uint64_t(k))) << first << "+" << k;
      EXPECT_EQ(run[size_t(n)], -1.0f);  // nothing past the run
    }
  }
}

// dropout_threshold turns dropout_keeps's double test into a float one with the same answer, at rates on,
// between and next to the uniforms' 2^-24 grid.
TEST(Random, DropoutThresholdDecidesAsDropoutKeeps) {
  const Philox rng(3);
  for (double p : {0.0, 0.1, 0.25, 0.5, 0.9, 1.0, 0x1p-24, 3 * 0x1p-25, 0.5 + 0x1p-30, 0.5 - 0x1p-30}) {
    const float t = dropout_threshold(p);
    for (uint64_t i = 0; i < 4096; ++i)
      EXPECT_EQ(rng.uniform(i) >= t, dropout_keeps(rng, i, p)) << p << " " << i;
    // On the grid itself: the uniform equal to the threshold is kept exactly when it is >= p.
    EXPECT_EQ(double(t) >= p, true) << p;
    EXPECT_LT(double(t) - 0x1p-24, p) << p;
  }
}

TEST(Random, UniformAndNormalAreInRangeAndSeeded) {
  Philox a(7), b(7), c(8);
  double sum = 0, sum_sq = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    float u = a.uniform(uint64_t(i));
    ASSERT_GE(u, 0.0f);
    ASSERT_LT(u, 1.0f);
    EXPECT_EQ(u, b.uniform(uint64_t(i)));
    double z = a.normal(uint64_t(i));
    sum += z;
    sum_sq += z * z;
  }
  EXPECT_NE(a.uniform(0), c.uniform(0));
  EXPECT_NEAR(sum / n, 0.0, 0.03);
  EXPECT_NEAR(sum_sq / n, 1.0, 0.05);
}

}  // namespace
}  // namespace frost
