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

void Philox::uniforms(uint64_t first, int64_t n, float* out) const {
  auto to_float = [](uint32_t word) { return float(word >> 8) * 0x1p-24f; };
  int64_t k = 0;
  for (; k < n && (first + uint64_t(k)) % 4 != 0; ++k) out[k] = uniform(first + uint64_t(k));
  // Eight blocks at a time with their rounds interleaved: one block's ten rounds are a serial chain of
  // multiplies, eight independent chains keep the multipliers busy (and vectorise). The same arithmetic
  // as block().
  constexpr int kLanes = 8;
  constexpr uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
  constexpr uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
  for (; n - k >= 4 * kLanes; k += 4 * kLanes) {
    const uint64_t b0 = (first + uint64_t(k)) / 4;
    uint32_t c0[kLanes], c1[kLanes], c2[kLanes], c3[kLanes];
    for (int l = 0; l < kLanes; ++l) {
      c0[l] = uint32_t(b0 + uint64_t(l));
      c1[l] = uint32_t((b0 + uint64_t(l)) >> 32);
      c2[l] = uint32_t(stream_);
      c3[l] = uint32_t(stream_ >> 32);
    }
    uint32_t k0 = key_[0], k1 = key_[1];
    for (int round = 0; round < 10; ++round) {
      for (int l = 0; l < kLanes; ++l) {
        const uint64_t p0 = uint64_t(kMul0) * c0[l], p1 = uint64_t(kMul1) * c2[l];
        c0[l] = uint32_t(p1 >> 32) ^ c1[l] ^ k0;
        c1[l] = uint32_t(p1);
        c2[l] = uint32_t(p0 >> 32) ^ c3[l] ^ k1;
        c3[l] = uint32_t(p0);
      }
      k0 += kWeyl0;
      k1 += kWeyl1;
    }
    for (int l = 0; l < kLanes; ++l) {
      out[k + 4 * l + 0] = to_float(c0[l]);
      out[k + 4 * l + 1] = to_float(c1[l]);
      out[k + 4 * l + 2] = to_float(c2[l]);
      out[k + 4 * l + 3] = to_float(c3[l]);
    }
  }
  while (k < n) {
    const uint64_t i = first + uint64_t(k);
    const std::array<uint32_t, 4> w = block(i / 4);
    for (uint64_t lane = i % 4; lane < 4 && k < n; ++lane, ++k) out[k] = to_float(w[lane]);
  }
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
