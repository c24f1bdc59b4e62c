// The cpu backend's own f32 layer_norm and add_layer_norm: one pass over each row from memory. A row (C
// floats; 3 KiB at C = 768) is read once — for add_layer_norm, a and b are summed into the kept sum while
// the mean accumulates — and the variance and output passes run on it while it sits in L1. Mean and
// variance are two-pass (no E[x²] - E[x]² cancellation), accumulated in 16 fixed float lanes reduced in
// double: a fixed order the compiler vectorises, so results are bit-identical run to run. Rows split over
// the OpenMP pool with a static schedule.
//
// oneDNN's layer_norm is registered first where it is built (ops/cpu/onednn.cpp); this one serves
// layer_norm in builds without oneDNN, and add_layer_norm everywhere (oneDNN has no residual input).
//
// Legend: R rows (every leading dim), C the normalised last dim.
#include <omp.h>

#include <cmath>

#include "engine/kernel.h"
#include "ops/cpu/own/clones.h"
#include "ops/cpu/parallel.h"
#include "ops/registration.h"

namespace frost::ops {
namespace {

constexpr int kLanes = 16;

// sum_c f(x[c]) in kLanes fixed lanes, the lanes then added in double.
template <class F>
inline double lane_sum(const float* x, int64_t C, F f) {
  float lane[kLanes] = {};
  int64_t c = 0;
  for (; c + kLanes <= C; c += kLanes)
    for (int j = 0; j < kLanes; ++j) lane[j] += f(x[c + j]);
  double total = 0;
  for (; c < C; ++c) total += double(f(x[c]));
  for (int j = 0; j < kLanes; ++j) total += double(lane[j]);
  return total;
}

// One row. With b != nullptr, s = a + b is written first (s may be a's own buffer: each element is read
// before its sum is written) and normalised; otherwise a itself.
FROST_CPU_CLONES void norm_row(const float* a, const float* b, float* s, float* y, int64_t C, const float* w,
                               const float* bias, double eps, float* mean_out, float* rstd_out) {
  if (b != nullptr)
    for (int64_t c = 0; c < C; ++c) s[c] = a[c] + b[c];
  const float* x = b != nullptr ? s : a;
  const float mean = float(lane_sum(x, C, [](float v) { return v; }) / double(C));
  const double var = lane_sum(x, C, [mean](float v) { return (v - mean) * (v - mean); }) / double(C);
  const float rstd = float(1.0 / std::sqrt(var + eps));
  for (int64_t c = 0; c < C; ++c) y[c] = (x[c] - mean) * rstd * w[c] + bias[c];
  *mean_out = mean;
  *rstd_out = rstd;
}

// layer_norm: (x, w, bias) -> (y, mean, rstd); add_layer_norm: (a, b, w, bias) -> (sum, y, mean, rstd).
template <bool Add>
void norm_kernel(const KernelContext& ctx) {
  const int64_t C = ctx.in[0].shape[-1], R = ctx.in[0].shape.numel() / C;
  const int p = Add ? 1 : 0;  // inputs and outputs after the summand / the sum
  const float* a = ctx.in[0].as<const float>();
  const float* b = Add ? ctx.in[1].as<const float>() : nullptr;
  const float *w = ctx.in[p + 1].as<const float>(), *bias = ctx.in[p + 2].as<const float>();
  float* s = Add ? ctx.out[0].as<float>() : nullptr;
  float *y = ctx.out[p].as<float>(), *mean = ctx.out[p + 1].as<float>(), *rstd = ctx.out[p + 2].as<float>();
  const double eps = ctx.node->attrs.scalar;
  parallel_for(R, R * C > 65536, [&](int64_t r) {
    norm_row(a + r * C, Add ? b + r * C : nullptr, Add ? s + r * C : nullptr, y + r * C, C, w, bias, eps,
             mean + r, rstd + r);
  });
}

bool supports_norm(const Graph& g, const Node& n) {
  const TensorType& x = g.value(n.inputs[0]).type;
  return x.dtype == DType::F32 && x.shape.rank() >= 1 && x.shape.numel() > 0;
}

}  // namespace

void register_cpu_own_normalization_kernels(KernelRegistry& r) {
  r.add(OpKind::LayerNorm, BackendKind::Cpu, DType::F32,
        {"cpu.layer_norm", norm_kernel<false>, supports_norm});
  r.add(OpKind::AddLayerNorm, BackendKind::Cpu, DType::F32,
        {"cpu.add_layer_norm", norm_kernel<true>, supports_norm});
}

}  // namespace frost::ops
