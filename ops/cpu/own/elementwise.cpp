// The cpu backend's own f32 kernels for the broadcasting binary ops (add, sub, mul, div) — what oneDNN
// 2.6's eltwise does not cover and what the model does at every residual and bias. Handled: each operand
// either has the output's shape or is a trailing block of it repeated (a bias (C) against (B, L, C), a
// scalar); anything else declines to the reference kernel. The inner loop is contiguous and compiled as an
// x86-64-v3 (AVX2 + FMA) clone beside the baseline, chosen at run time; rows split over the OpenMP pool
// with a static schedule (each element computed once, in a fixed way: deterministic).
#include <omp.h>

#include <algorithm>

#include "engine/kernel.h"
#include "engine/random.h"
#include "ops/cpu/own/clones.h"
#include "ops/cpu/parallel.h"
#include "ops/registration.h"

namespace frost::ops {
namespace {

// The period of `operand` inside `out`: its element count when it is `out`'s trailing dims repeated
// (leading dims 1 or absent), else 0.
int64_t trailing_period(const Shape& operand, const Shape& out) {
  const int lead = out.rank() - operand.rank();
  int first_real = operand.rank();  // first dim of operand that is not a leading 1
  for (int d = 0; d < operand.rank(); ++d)
    if (operand[d] != 1) {
      first_real = d;
      break;
    }
  for (int d = first_real; d < operand.rank(); ++d)
    if (operand[d] != out[d + lead]) return 0;
  return operand.numel();
}

bool supports_binary(const Graph& g, const Node& n) {
  const Shape& out = g.value(n.outputs[0]).type.shape;
  if (g.value(n.outputs[0]).type.dtype != DType::F32 || out.numel() == 0) return false;
  return trailing_period(g.value(n.inputs[0]).type.shape, out) > 0 &&
         trailing_period(g.value(n.inputs[1]).type.shape, out) > 0;
}

enum class BinOp { Add, Sub, Mul, Div };

template <BinOp Op>
// No __restrict: the planner may write y over a (in place; OpRow::inplace_input), which reads each element
// before writing it. GCC versions the loop on an overlap check and still vectorises.
FROST_CPU_CLONES void binary_run(const float* a, const float* b, float* y, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    if constexpr (Op == BinOp::Add)
      y[j] = a[j] + b[j];
    else if constexpr (Op == BinOp::Sub)
      y[j] = a[j] - b[j];
    else if constexpr (Op == BinOp::Mul)
      y[j] = a[j] * b[j];
    else
      y[j] = a[j] / b[j];
  }
}

// out[i] = a[i % Pa] op b[i % Pb]; the smaller period divides the larger (both are trailing blocks of
// out), so runs of the smaller period are contiguous in both operands.
template <BinOp Op>
void binary_kernel(const KernelContext& ctx) {
  const Shape& out = ctx.out[0].shape;
  const int64_t n = out.numel();
  const int64_t pa = trailing_period(ctx.in[0].shape, out), pb = trailing_period(ctx.in[1].shape, out);
  const int64_t run = std::min(pa, pb) == 1 && std::max(pa, pb) == 1 ? n : std::min(pa, pb);
  const float* a = ctx.in[0].as<const float>();
  const float* b = ctx.in[1].as<const float>();
  float* y = ctx.out[0].as<float>();
  if (pa == 1 || pb == 1) {
    // A scalar operand: broadcast it into a small stack buffer so one loop shape serves every case.
    constexpr int64_t kChunk = 1024;
    const float s = pa == 1 ? a[0] : b[0];
    const float* full = pa == 1 ? b : a;
    parallel_for((n + kChunk - 1) / kChunk, n > 65536, [&](int64_t chunk) {
      const int64_t c0 = chunk * kChunk;
      float splat[kChunk];
      const int64_t len = std::min(kChunk, n - c0);
      std::fill(splat, splat + len, s);
      if (pa == 1)
        binary_run<Op>(splat, full + c0, y + c0, len);
      else
        binary_run<Op>(full + c0, splat, y + c0, len);
    });
    return;
  }
  const int64_t rows = n / run;
  parallel_for(rows, n > 65536, [&](int64_t r) {
    const int64_t base = r * run;
    binary_run<Op>(a + base % pa, b + base % pb, y + base, run);
  });
}

// Inverted dropout (ops/api.h dropout): the reference kernel's mask and arithmetic, its uniforms drawn in
// runs (Philox::uniforms: four per block, blocks interleaved) and chunks split over the pool.
void dropout_f32(const KernelContext& ctx) {
  const double p = ctx.node->attrs.scalar;
  const Philox rng(ctx.node->attrs.seed, uint64_t(ctx.in[1].as<const int64_t>()[0]));
  const float keep_scale = p < 1.0 ? float(1.0 / (1.0 - p)) : 0.0f;
  const float* x = ctx.in[0].as<const float>();
  float* y = ctx.out[0].as<float>();
  const int64_t n = ctx.out[0].shape.numel();
  constexpr int64_t kChunk = 1024;
  parallel_for((n + kChunk - 1) / kChunk, n > 65536, [&](int64_t chunk) {
    const int64_t c0 = chunk * kChunk, len = std::min(kChunk, n - c0);
    float u[kChunk];
    rng.uniforms(uint64_t(c0), len, u);
    const float threshold = dropout_threshold(p);
    for (int64_t i = 0; i < len; ++i) y[c0 + i] = u[i] >= threshold ? x[c0 + i] * keep_scale : 0.0f;
  });
}

}  // namespace

void register_cpu_own_elementwise_kernels(KernelRegistry& r) {
  r.add(OpKind::Dropout, BackendKind::Cpu, DType::F32, {"cpu.dropout", dropout_f32});
  r.add(OpKind::Add, BackendKind::Cpu, DType::F32, {"cpu.add", binary_kernel<BinOp::Add>, supports_binary});
  r.add(OpKind::Sub, BackendKind::Cpu, DType::F32, {"cpu.sub", binary_kernel<BinOp::Sub>, supports_binary});
  r.add(OpKind::Mul, BackendKind::Cpu, DType::F32, {"cpu.mul", binary_kernel<BinOp::Mul>, supports_binary});
  r.add(OpKind::Div, BackendKind::Cpu, DType::F32, {"cpu.div", binary_kernel<BinOp::Div>, supports_binary});
}

}  // namespace frost::ops
