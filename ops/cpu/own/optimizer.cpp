// The cpu backend's own AdamW update (ops/api.h adamw_update): the reference kernel's arithmetic, in the
// same order, vectorised (x86-64-v3 clone beside the baseline) and split over the OpenMP pool in chunks.
// Compiled without floating-point contraction (CMakeLists.txt), so every element is the reference
// kernel's to the bit: sqrt and division are correctly rounded in vector form too.
#include <omp.h>

#include <algorithm>
#include <cmath>

#include "engine/kernel.h"
#include "ops/cpu/own/clones.h"
#include "ops/cpu/parallel.h"
#include "ops/registration.h"

namespace frost::ops {
namespace {

struct AdamWCoefficients {
  float b1, one_minus_b1, b2, one_minus_b2, eps, pre_decay, sqrt_bc2, step, post_decay;
};

// The lerp form of the first moment (torch.optim.AdamW) and the plain one (transformers.AdamW) are two
// loops, so neither carries a branch.
template <bool kLerp>
FROST_CPU_CLONES void adamw_run(float* __restrict p, const float* __restrict g, float* __restrict m,
                                float* __restrict v, const AdamWCoefficients c, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float mi = kLerp ? m[i] + c.one_minus_b1 * (g[i] - m[i]) : m[i] * c.b1 + c.one_minus_b1 * g[i];
    const float vi = v[i] * c.b2 + (c.one_minus_b2 * g[i]) * g[i];
    m[i] = mi;
    v[i] = vi;
    float x = p[i] * c.pre_decay;
    x = x + -c.step * (mi / (std::sqrt(vi) / c.sqrt_bc2 + c.eps));
    p[i] = x + -c.post_decay * x;
  }
}

void adamw_kernel(const KernelContext& ctx) {
  // in[0], in[2], in[3] are the states' own buffers, written in place.
  float* p = static_cast<float*>(ctx.in[0].data);
  const float* g = ctx.in[1].as<const float>();
  float* m = static_cast<float*>(ctx.in[2].data);
  float* v = static_cast<float*>(ctx.in[3].data);
  const float* k = ctx.in[4].as<const float>();
  const AdamWCoefficients c{k[0], k[1], k[2], k[3], k[4], k[5], k[6], k[7], k[8]};
  const bool lerp = k[9] != 0.0f;
  const int64_t n = ctx.in[0].shape.numel();
  constexpr int64_t kChunk = 16384;
  parallel_for((n + kChunk - 1) / kChunk, n > 65536, [&](int64_t chunk) {
    const int64_t i = chunk * kChunk, len = std::min(kChunk, n - i);
    if (lerp)
      adamw_run<true>(p + i, g + i, m + i, v + i, c, len);
    else
      adamw_run<false>(p + i, g + i, m + i, v + i, c, len);
  });
}

}  // namespace

void register_cpu_own_optimizer_kernels(KernelRegistry& r) {
  r.add(OpKind::AdamW, BackendKind::Cpu, DType::F32, {"cpu.adamw", adamw_kernel});
}

}  // namespace frost::ops
