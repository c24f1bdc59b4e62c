// Counter-based random numbers (Philox4x32-10, Salmon et al. 2011), DESIGN principle 10: the same seed
// and counter give the same numbers on every platform and standard library, in any order and on any
// thread — for parameter initialisation, test data, dropout masks and data order. Never std:: distributions.
//
//   Philox rng(/*seed=*/42);
//   float u = rng.uniform(i);             // element i of the stream, in [0, 1)
//   float z = rng.normal(i);              // standard normal (Box-Muller on two uniforms)
//   fill_uniform(t, rng, -0.1f, 0.1f);    // every element of a host tensor
#pragma once

#include <array>
#include <cmath>
#include <cstdint>

#include "engine/storage.h"

namespace frost {

class Philox {
 public:
  explicit Philox(uint64_t seed, uint64_t stream = 0)
      : key_{uint32_t(seed), uint32_t(seed >> 32)}, stream_(stream) {}
  // Four 32-bit words for this counter.
  std::array<uint32_t, 4> block(uint64_t counter) const;
  // Element i of the uniform [0, 1) stream (24-bit resolution, exact in f32).
  float uniform(uint64_t i) const;
  // Elements first .. first + n - 1 of the uniform stream, each four-word block computed once (a run costs
  // a quarter of n calls of uniform()).
  void uniforms(uint64_t first, int64_t n, float* out) const;
  // Element i of the standard normal stream.
  float normal(uint64_t i) const;

 private:
  std::array<uint32_t, 2> key_;
  uint64_t stream_;
};

// Inverted dropout's draw for element i at rate p: kept when the stream's uniform is >= p (the dropout op
// and the fused attention op share it, so their masks are the same).
inline bool dropout_keeps(const Philox& rng, uint64_t i, double p) {
  return double(rng.uniform(i)) >= p;
}
// The same test as a float comparison, for vector loops: uniforms are multiples of 2^-24, so u >= p exactly
// when u >= ceil(p 2^24) 2^-24 (exact in float for p in [0, 1]).
inline float dropout_threshold(double p) {
  return float(std::ceil(p * 0x1p24) * 0x1p-24);
}

// Fills an f32 or f64 host tensor; element i takes stream element i.
void fill_uniform(HostTensor& t, const Philox& rng, double lo, double hi);
void fill_normal(HostTensor& t, const Philox& rng, double mean, double stddev);

}  // namespace frost
