// The cpu backend's own f32 matmul and linear: portable C++ (no -march flags), cache-blocked and parallel
// over row tiles with a static OpenMP schedule, so every output element is computed by one thread in a fixed
// order (bit-identical run to run, DESIGN principle 10). It is the fast path of builds without oneDNN (the
// GPU machine's, say) and the first kernel the consistency suite checks against the reference.
//
// Legend: M rows of op(A), K inner, N columns of op(B); the batch dims broadcast as in the reference kernel.
#include <omp.h>

#include <algorithm>
#include <cmath>

#include "engine/kernel.h"
#include "ops/cpu/own/clones.h"
#include "ops/cpu/parallel.h"
#include "ops/registration.h"

namespace frost::ops {
namespace {

constexpr int64_t kRowTile = 8;      // rows of C per task: enough work per task, many tasks per core
constexpr int64_t kInnerTile = 128;  // K rows of B kept hot in L1/L2 while a row tile sweeps them
constexpr int64_t kColTile = 512;    // N columns: a kInnerTile x kColTile panel of B is 256 KiB

// Element offset of matrix `batch_index` of an operand whose batch dims broadcast to `batch`.
int64_t matrix_offset(int64_t batch_index, const Shape& operand, const Shape& batch) {
  const int own_rank = operand.rank() - 2;
  const int64_t matrix = operand[-1] * operand[-2];
  int64_t offset = 0, stride = matrix;
  for (int d = batch.rank() - 1; d >= 0; --d) {
    const int64_t i = batch_index % batch[d];
    batch_index /= batch[d];
    const int od = d - (batch.rank() - own_rank);
    if (od >= 0) {
      if (operand[od] != 1) offset += i * stride;
      stride *= operand[od];
    }
  }
  return offset;
}

// C (M x N) = op(A) B with B not transposed: for each row, accumulate a[m,k] * B[k, :] into C[m, :]; the
// inner loop runs along contiguous rows of B and C, which the compiler vectorises.
// Compiled twice: x86-64-v3 and baseline (FROST_CPU_CLONES, ops/cpu/own/clones.h).
FROST_CPU_CLONES void rows_times_b(const float* __restrict A, const float* __restrict B, float* __restrict C,
                                   int64_t m0, int64_t m1, int64_t M, int64_t K, int64_t N, bool ta) {
  for (int64_t m = m0; m < m1; ++m) std::fill(C + m * N, C + (m + 1) * N, 0.0f);
  for (int64_t n0 = 0; n0 < N; n0 += kColTile) {
    const int64_t n1 = std::min(N, n0 + kColTile);
    for (int64_t k0 = 0; k0 < K; k0 += kInnerTile) {
      const int64_t k1 = std::min(K, k0 + kInnerTile);
      for (int64_t m = m0; m < m1; ++m) {
        float* c = C + m * N;
        for (int64_t k = k0; k < k1; ++k) {
          const float a = ta ? A[k * M + m] : A[m * K + k];
          const float* b = B + k * N;
          for (int64_t n = n0; n < n1; ++n) c[n] += a * b[n];
        }
      }
    }
  }
}

// With B transposed (q k^T; weights stored (out, in)), each batch's B^T is first written out (K x N) into
// the plan's workspace, sized at compile time by prepare_matmul, so every case runs the one vectorised
// loop above.
void matmul_f32(const KernelContext& ctx) {
  const TensorView &a = ctx.in[0], &b = ctx.in[1], &out = ctx.out[0];
  const bool ta = ctx.node->attrs.trans_a, tb = ctx.node->attrs.trans_b;
  const int64_t M = out.shape[-2], N = out.shape[-1];
  const int64_t K = ta ? a.shape[-2] : a.shape[-1];
  const Shape batch(std::span<const int64_t>(out.shape.begin(), size_t(out.shape.rank() - 2)));
  const int64_t batches = batch.numel(), row_tiles = (M + kRowTile - 1) / kRowTile;
  const float* pa = a.as<const float>();
  const float* pb = b.as<const float>();
  float* pc = out.as<float>();
  if (!tb) {
    parallel_for(batches * row_tiles, true, [&](int64_t task) {
      const int64_t bi = task / row_tiles;
      const int64_t m0 = (task % row_tiles) * kRowTile, m1 = std::min(M, m0 + kRowTile);
      rows_times_b(pa + matrix_offset(bi, a.shape, batch), pb + matrix_offset(bi, b.shape, batch),
                   pc + bi * M * N, m0, m1, M, K, N, ta);
    });
    return;
  }
  float* bt = static_cast<float*>(ctx.workspace);  // (K, N)
  for (int64_t bi = 0; bi < batches; ++bi) {
    const float* B = pb + matrix_offset(bi, b.shape, batch);  // (N, K)
    parallel_region(true, [&](int thread, int threads) {
      const Range ks = static_range(K, thread, threads), tiles = static_range(row_tiles, thread, threads);
      for (int64_t k = ks.begin; k < ks.end; ++k)
        for (int64_t n = 0; n < N; ++n) bt[k * N + n] = B[n * K + k];
      barrier(threads);  // every row of bt is read by every tile
      for (int64_t tile = tiles.begin; tile < tiles.end; ++tile) {
        const int64_t m0 = tile * kRowTile, m1 = std::min(M, m0 + kRowTile);
        rows_times_b(pa + matrix_offset(bi, a.shape, batch), bt, pc + bi * M * N, m0, m1, M, K, N, ta);
      }
    });
  }
}

// Shapes are static: the transposed-B scratch (one batch's K x N) is part of the plan's workspace.
KernelPrep prepare_matmul(const Graph& g, const Node& n) {
  KernelPrep prep;
  if (n.attrs.trans_b) {
    const Shape& b = g.value(n.inputs[1]).type.shape;
    prep.workspace_bytes = size_t(b[-1] * b[-2]) * sizeof(float);
  }
  return prep;
}

// y[m, :] = act(y[m, :] + bias) for the rows of one tile, while they are still in cache.
FROST_CPU_CLONES void bias_activation_rows(float* __restrict y, const float* __restrict bias, int64_t m0,
                                           int64_t m1, int64_t N, Activation act) {
  for (int64_t m = m0; m < m1; ++m) {
    float* row = y + m * N;
    for (int64_t n = 0; n < N; ++n) row[n] += bias[n];
    if (act == Activation::Gelu)
      for (int64_t n = 0; n < N; ++n) row[n] = 0.5f * row[n] * (1.0f + std::erf(row[n] * 0.70710678f));
    else if (act == Activation::GeluTanh)
      for (int64_t n = 0; n < N; ++n) {
        const float v = row[n];
        row[n] = 0.5f * v * (1.0f + std::tanh(0.79788456f * (v + 0.044715f * v * v * v)));
      }
  }
}

// linear: x as (M, K) times the weight (an (N, K) weight transposed into the workspace first), then the
// bias and activation per row tile. The fast path of builds without oneDNN.
void linear_f32(const KernelContext& ctx) {
  const TensorView &x = ctx.in[0], &w = ctx.in[1], &out = ctx.out[0];
  const int64_t K = x.shape[-1], N = out.shape[-1], M = out.shape.numel() / N;
  const float* B = w.as<const float>();
  const float* bias = ctx.in[2].as<const float>();
  float* y = out.as<float>();
  const Activation act = ctx.node->attrs.activation;
  const int64_t row_tiles = (M + kRowTile - 1) / kRowTile;
  parallel_region(true, [&](int thread, int threads) {
    if (ctx.node->attrs.trans_b) {
      float* bt = static_cast<float*>(ctx.workspace);  // (K, N)
      const Range ks = static_range(K, thread, threads);
      for (int64_t k = ks.begin; k < ks.end; ++k)
        for (int64_t n = 0; n < N; ++n) bt[k * N + n] = B[n * K + k];
      barrier(threads);  // every row of bt is read by every tile
    }
    const float* b = ctx.node->attrs.trans_b ? static_cast<const float*>(ctx.workspace) : B;
    const Range tiles = static_range(row_tiles, thread, threads);
    for (int64_t tile = tiles.begin; tile < tiles.end; ++tile) {
      const int64_t m0 = tile * kRowTile, m1 = std::min(M, m0 + kRowTile);
      rows_times_b(x.as<const float>(), b, y, m0, m1, M, K, N, false);
      bias_activation_rows(y, bias, m0, m1, N, act);
    }
  });
}

bool supports_linear(const Graph& g, const Node& n) {
  return g.value(n.inputs[0]).type.dtype == DType::F32 && g.value(n.outputs[0]).type.shape.numel() > 0;
}

}  // namespace

void register_cpu_own_kernels(KernelRegistry& r) {
  r.add(OpKind::MatMul, BackendKind::Cpu, DType::F32,
        {"cpu.matmul_blocked", matmul_f32, nullptr, prepare_matmul});
  r.add(OpKind::Linear, BackendKind::Cpu, DType::F32,
        {"cpu.linear_blocked", linear_f32, supports_linear, prepare_matmul});
}

}  // namespace frost::ops
