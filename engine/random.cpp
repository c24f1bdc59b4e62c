#include "engine/random.h"

#include <cmath>

#include "engine/error.h"

namespace frost {

std::array<uint32_t, 4> Philox::block(uint64_t counter) const {
  // Philox4x32 round constants (Random123).
  constexpr uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
  constexpr uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
  std::array<uint32_t, 4> c = {uint32_t(counter), uint32_t(counter >> 32), uint32_t(stream_),
                               uint32_t(stream_ >> 32)};
  std::array<uint32_t, 2> k = key_;
  for (int round = 0; round < 10; ++round) {
    uint64_t p0 = uint64_t(kMul0) * c[0];
    uint64_t p1 = uint64_t(kMul1) * c[2];
    c = {uint32_t(p1 >> 32) ^ c[1] ^ k[0], uint32_t(p1), uint32_t(p0 >> 32) ^ c[3] ^ k[1], uint32_t(p0)};
    k[0] += kWeyl0;
    k[1] += kWeyl1;
  }
  return c;
}

float Philox::uniform(uint64_t i) const {
  uint32_t word = block(i / 4)[i % 4];
  return float(word >> 8) * 0x1p-24f;
}

float Philox::normal(uint64_t i) const {
  // Two uniforms from the second half of the counter space, so normal(i) and uniform(i) are independent.
  std::array<uint32_t, 4> w = block((uint64_t(1) << 63) | i);
  double u1 = (double(w[0] >> 8) + 1.0) * 0x1p-24;  // (0, 1]: log is finite
  double u2 = double(w[1] >> 8) * 0x1p-24;
  return float(std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2));
}

template <class F>
static void fill_with(HostTensor& t, F f) {
  FROST_CHECK(t.dtype() == DType::F32 || t.dtype() == DType::F64, InvalidArgument,
              "random fill needs an f32 or f64 tensor, got " << t.dtype());
  for (int64_t i = 0; i < t.numel(); ++i) {
    double v = f(uint64_t(i));
    if (t.dtype() == DType::F32)
      t.data<float>()[i] = float(v);
    else
      t.data<double>()[i] = v;
  }
}

void fill_uniform(HostTensor& t, const Philox& rng, double lo, double hi) {
  fill_with(t, [&](uint64_t i) { return lo + (hi - lo) * double(rng.uniform(i)); });
}

void fill_normal(HostTensor& t, const Philox& rng, double mean, double stddev) {
  fill_with(t, [&](uint64_t i) { return mean + stddev * double(rng.normal(i)); });
}

}  // namespace frost
