// The cpu backend's fused attention (f32), forward and backward, flash-attention style: each query block
// sweeps the score columns in key blocks with an online softmax (running max and sum, the partial output
// rescaled when the max grows), so no score matrix larger than one block tile (kQueryBlock x kKeyBlock) ever
// exists — not per head, not for all heads. The backward recomputes the probabilities from the saved
// logsumexp. Operands are read in place through their strided maps (engine/attention_geometry.h): the
// packed qkv projection, the CLS prefix broadcast over groups.
//
// Shapes this model runs (base, 4 frames): space groups 196 queries x (1 + 196) columns, time groups
// 4 x (1 + 4), the CLS row 1 x 785, text 1..512 x same. Work is split over the OpenMP pool by batch tuple
// (and query block, forward), each output element written by one thread in a fixed order: results are
// bit-identical run to run and across thread counts.
//
// Legend: t batch tuple, r query row of a block, j score column (P prefix keys first, then Lk keys),
// D q/k width, Dv v width, C = P + Lk.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>

#include "engine/attention_geometry.h"
#include "engine/kernel.h"
#include "ops/registration.h"

namespace frost::ops {
namespace {

#define FROST_CPU_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#define FROST_INLINE inline __attribute__((always_inline))

constexpr int64_t kQueryBlock = 16;  // query rows sharing each key row while it is in L1
constexpr int64_t kKeyBlock = 128;   // score columns per online-softmax step

// exp(x) in float to ~1 ulp (Cephes' expf: x = n ln2 + r, a degree-6 polynomial in r, 2^n from the
// exponent bits), written so GCC vectorises loops of it; below -87.3 it gives 0 (as exp's underflow does,
// and as a -inf mask must), NaN stays NaN.
FROST_INLINE float fast_exp(float x) {
  const float lo = -87.33654f, hi = 88.3762626647949f;
  const bool under = x < lo;
  x = x > hi ? hi : (under ? lo : x);
  const float fx = std::floor(x * 1.44269504088896341f + 0.5f);
  float r = x - fx * 0.693359375f;
  r = r - fx * -2.12194440e-4f;
  float y = 1.9875691500e-4f;
  y = y * r + 1.3981999507e-3f;
  y = y * r + 8.3334519073e-3f;
  y = y * r + 4.1665795894e-2f;
  y = y * r + 1.6666665459e-1f;
  y = y * r + 5.0000001201e-1f;
  y = y * r * r + r + 1.0f;
  const int32_t bits = (int32_t(fx) + 127) << 23;
  float pow2n;
  std::memcpy(&pow2n, &bits, sizeof pow2n);
  return under ? 0.0f : y * pow2n;
}

// Dot product in eight fixed lanes (a fixed summation order the compiler can vectorise).
FROST_INLINE float dot(const float* __restrict a, const float* __restrict b, int64_t n) {
  float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t c = 0;
  for (; c + 8 <= n; c += 8)
    for (int l = 0; l < 8; ++l) lane[l] += a[c + l] * b[c + l];
  float s = ((lane[0] + lane[4]) + (lane[1] + lane[5])) + ((lane[2] + lane[6]) + (lane[3] + lane[7]));
  for (; c < n; ++c) s += a[c] * b[c];
  return s;
}

FROST_INLINE void axpy(float a, const float* __restrict x, float* __restrict y, int64_t n) {
  for (int64_t c = 0; c < n; ++c) y[c] += a * x[c];
}

// What prepare() works out once: the geometry, the per-thread scratch layout, the backward's task split.
struct Plan {
  AttentionGeometry g;
  int threads = 1;
  size_t per_thread = 0;  // floats of scratch per thread
  int64_t group = 1;      // backward: consecutive tuples sharing one prefix-gradient slice (one task)
};
const Plan& plan_of(const KernelContext& ctx) {
  return *static_cast<const Plan*>(ctx.state);
}

// Rows of one operand of one tuple: contiguous rows read in place, other strides gathered into `buf`.
struct RowSource {
  const float* base;
  int64_t row_stride, col_stride, width;
  FROST_INLINE const float* row(int64_t r, float* buf) const {
    const float* p = base + r * row_stride;
    if (col_stride == 1) return p;
    for (int64_t c = 0; c < width; ++c) buf[c] = p[c * col_stride];
    return buf;
  }
};
RowSource source(const TensorView& in, const StridedOperand& o, const Shape& batch, int64_t t,
                 int64_t width) {
  return {in.as<const float>() + batch_offset(o, batch, t), o.strides[o.strides.size() - 2], o.strides.back(),
          width};
}

// The score columns of one tuple: prefix rows then key rows (and the matching value rows).
struct Columns {
  RowSource k, v, pk, pv;
  int64_t P;
  FROST_INLINE const float* key(int64_t j, float* buf) const {
    return j < P ? pk.row(j, buf) : k.row(j - P, buf);
  }
  FROST_INLINE const float* value(int64_t j, float* buf) const {
    return j < P ? pv.row(j, buf) : v.row(j - P, buf);
  }
};
Columns columns(const KernelContext& ctx, const AttentionGeometry& g, int first, int64_t t) {
  Columns c{source(ctx.in[first + g.k_in], g.k, g.batch, t, g.D),
            source(ctx.in[first + g.v_in], g.v, g.batch, t, g.Dv),
            {},
            {},
            g.P};
  if (g.has_prefix) {
    c.pk = source(ctx.in[first + g.pk_in], g.pk, g.batch, t, g.D);
    c.pv = source(ctx.in[first + g.pv_in], g.pv, g.batch, t, g.Dv);
  }
  return c;
}

// The mask bias of tuple t, row i: a pointer and its column stride (nullptr without a mask).
const float* mask_row(const KernelContext& ctx, const AttentionGeometry& g, int first, int64_t t, int64_t i) {
  if (!g.has_mask) return nullptr;
  return ctx.in[first + g.mask_in].as<const float>() + mask_batch_offset(g, t) +
         i * g.mask_strides[g.mask_strides.size() - 2];
}

// S[r][j - j0] = scale * q_r . key_j + mask[r][j] for the block's rows and columns.
FROST_INLINE void block_scores(const KernelContext& ctx, const AttentionGeometry& g, int first, int64_t t,
                               int64_t i0, int64_t rows, int64_t j0, int64_t j1, const float* qb,
                               const Columns& cols, float* kbuf, float scale, float* S) {
  for (int64_t j = j0; j < j1; ++j) {
    const float* key = cols.key(j, kbuf);
    for (int64_t r = 0; r < rows; ++r) S[r * kKeyBlock + (j - j0)] = dot(qb + r * g.D, key, g.D) * scale;
  }
  if (g.has_mask) {
    const int64_t ms = g.mask_strides.back();
    for (int64_t r = 0; r < rows; ++r) {
      const float* m = mask_row(ctx, g, first, t, i0 + r);
      for (int64_t j = j0; j < j1; ++j) S[r * kKeyBlock + (j - j0)] += m[j * ms];
    }
  }
}

// One (tuple, query block): the online softmax over key blocks.
FROST_CPU_CLONES void forward_block(const KernelContext& ctx, const Plan& pl, int64_t t, int64_t i0,
                                    float* scratch) {
  const AttentionGeometry& g = pl.g;
  const int64_t rows = std::min(kQueryBlock, g.Lq - i0), C = g.columns();
  const float scale = float(ctx.node->attrs.scalar);
  float* qb = scratch;                       // (rows, D)
  float* S = qb + kQueryBlock * g.D;         // (rows, kKeyBlock)
  float* acc = S + kQueryBlock * kKeyBlock;  // (rows, Dv)
  float* m = acc + kQueryBlock * g.Dv;       // (rows)
  float* l = m + kQueryBlock;                // (rows)
  float* kbuf = l + kQueryBlock;             // (D) for strided keys
  float* vbuf = kbuf + g.D;                  // (Dv)
  const RowSource q = source(ctx.in[g.q_in], g.q, g.batch, t, g.D);
  for (int64_t r = 0; r < rows; ++r) {
    const float* src = q.row(i0 + r, qb + r * g.D);
    if (src != qb + r * g.D) std::copy(src, src + g.D, qb + r * g.D);
    m[r] = -INFINITY;
    l[r] = 0;
    std::fill(acc + r * g.Dv, acc + (r + 1) * g.Dv, 0.0f);
  }
  const Columns cols = columns(ctx, g, 0, t);
  for (int64_t j0 = 0; j0 < C; j0 += kKeyBlock) {
    const int64_t j1 = std::min(C, j0 + kKeyBlock), n = j1 - j0;
    block_scores(ctx, g, 0, t, i0, rows, j0, j1, qb, cols, kbuf, scale, S);
    for (int64_t r = 0; r < rows; ++r) {
      float* s = S + r * kKeyBlock;
      float bm = -INFINITY;
      for (int64_t j = 0; j < n; ++j) bm = (s[j] > bm || s[j] != s[j]) ? s[j] : bm;  // NaN sticks
      const float m_new = (bm > m[r] || bm != bm) ? bm : m[r];
      if (m_new == -INFINITY) continue;  // every column so far -inf: nothing to add yet
      const float alpha = fast_exp(m[r] - m_new);
      for (int64_t j = 0; j < n; ++j) s[j] = fast_exp(s[j] - m_new);
      float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      int64_t j = 0;
      for (; j + 8 <= n; j += 8)
        for (int k = 0; k < 8; ++k) lane[k] += s[j + k];
      float sum = ((lane[0] + lane[4]) + (lane[1] + lane[5])) + ((lane[2] + lane[6]) + (lane[3] + lane[7]));
      for (; j < n; ++j) sum += s[j];
      l[r] = l[r] * alpha + sum;
      m[r] = m_new;
      float* a = acc + r * g.Dv;
      if (alpha != 1.0f)
        for (int64_t c = 0; c < g.Dv; ++c) a[c] *= alpha;
    }
    for (int64_t jj = 0; jj < n; ++jj) {
      const float* value = cols.value(j0 + jj, vbuf);
      for (int64_t r = 0; r < rows; ++r)
        if (m[r] != -INFINITY) axpy(S[r * kKeyBlock + jj], value, acc + r * g.Dv, g.Dv);
    }
  }
  float* out = ctx.out[0].as<float>() + (t * g.Lq + i0) * g.Dv;
  float* lse = ctx.out[1].as<float>() + t * g.Lq + i0;
  for (int64_t r = 0; r < rows; ++r) {
    const float inv = 1.0f / l[r];  // l = 0 (every column -inf): NaN, as softmax gives
    for (int64_t c = 0; c < g.Dv; ++c) out[r * g.Dv + c] = acc[r * g.Dv + c] * inv;
    lse[r] = m[r] == -INFINITY ? NAN : m[r] + std::log(l[r]);  // as the reference: exp(-inf - -inf)
  }
}

void attention_f32(const KernelContext& ctx) {
  const Plan& pl = plan_of(ctx);
  const int64_t blocks = (pl.g.Lq + kQueryBlock - 1) / kQueryBlock, tasks = pl.g.tuples() * blocks;
  float* ws = static_cast<float*>(ctx.workspace);
#pragma omp parallel num_threads(pl.threads)
  {
    float* scratch = ws + size_t(omp_get_thread_num()) * pl.per_thread;
#pragma omp for schedule(static)
    for (int64_t task = 0; task < tasks; ++task)
      forward_block(ctx, pl, task / blocks, (task % blocks) * kQueryBlock, scratch);
  }
}

// One tuple's backward: dq rows written once per query block; dk, dv (and the prefix's slice) accumulated
// over the query blocks in order.
FROST_CPU_CLONES void backward_tuple(const KernelContext& ctx, const Plan& pl, int64_t t, float* scratch) {
  const AttentionGeometry& g = pl.g;
  const int n_in = attention_num_inputs(ctx.node->attrs);
  const float scale = float(ctx.node->attrs.scalar);
  const int64_t C = g.columns();
  const float* dout = ctx.in[0].as<const float>() + t * g.Lq * g.Dv;
  const float* out = ctx.in[1 + n_in].as<const float>() + t * g.Lq * g.Dv;
  const float* lse = ctx.in[2 + n_in].as<const float>() + t * g.Lq;
  float* dq = ctx.out[0].as<float>() + t * g.Lq * g.D;
  float* dk = ctx.out[1].as<float>() + t * g.Lk * g.D;
  float* dv = ctx.out[2].as<float>() + t * g.Lk * g.Dv;
  float* dpk = g.has_prefix ? ctx.out[3].as<float>() + batch_offset(g.pk_grad, g.batch, t) : nullptr;
  float* dpv = g.has_prefix ? ctx.out[4].as<float>() + batch_offset(g.pv_grad, g.batch, t) : nullptr;
  std::fill(dk, dk + g.Lk * g.D, 0.0f);
  std::fill(dv, dv + g.Lk * g.Dv, 0.0f);
  float* qb = scratch;                        // (rows, D)
  float* S = qb + kQueryBlock * g.D;          // (rows, kKeyBlock): P, then dS
  float* dP = S + kQueryBlock * kKeyBlock;    // (rows, kKeyBlock)
  float* dqa = dP + kQueryBlock * kKeyBlock;  // (rows, D)
  float* delta = dqa + kQueryBlock * g.D;     // (rows)
  float* kbuf = delta + kQueryBlock;          // (D)
  float* vbuf = kbuf + g.D;                   // (Dv)
  const RowSource q = source(ctx.in[1 + g.q_in], g.q, g.batch, t, g.D);
  const Columns cols = columns(ctx, g, 1, t);
  for (int64_t i0 = 0; i0 < g.Lq; i0 += kQueryBlock) {
    const int64_t rows = std::min(kQueryBlock, g.Lq - i0);
    for (int64_t r = 0; r < rows; ++r) {
      const float* src = q.row(i0 + r, qb + r * g.D);
      if (src != qb + r * g.D) std::copy(src, src + g.D, qb + r * g.D);
      delta[r] = dot(dout + (i0 + r) * g.Dv, out + (i0 + r) * g.Dv, g.Dv);
      std::fill(dqa + r * g.D, dqa + (r + 1) * g.D, 0.0f);
    }
    for (int64_t j0 = 0; j0 < C; j0 += kKeyBlock) {
      const int64_t j1 = std::min(C, j0 + kKeyBlock), n = j1 - j0;
      block_scores(ctx, g, 1, t, i0, rows, j0, j1, qb, cols, kbuf, scale, S);
      for (int64_t r = 0; r < rows; ++r) {
        float* s = S + r * kKeyBlock;
        const float lr = lse[i0 + r];
        for (int64_t j = 0; j < n; ++j) s[j] = fast_exp(s[j] - lr);
      }
      // dv_j += sum_r P[r][j] dout_r; dP[r][j] = dout_r . v_j
      for (int64_t jj = 0; jj < n; ++jj) {
        const int64_t j = j0 + jj;
        const float* value = cols.value(j, vbuf);
        float* dvalue = j < g.P ? dpv + j * g.Dv : dv + (j - g.P) * g.Dv;
        for (int64_t r = 0; r < rows; ++r) {
          const float* dout_r = dout + (i0 + r) * g.Dv;
          axpy(S[r * kKeyBlock + jj], dout_r, dvalue, g.Dv);
          dP[r * kKeyBlock + jj] = dot(dout_r, value, g.Dv);
        }
      }
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t jj = 0; jj < n; ++jj)
          S[r * kKeyBlock + jj] = S[r * kKeyBlock + jj] * (dP[r * kKeyBlock + jj] - delta[r]);
      // dq_r += sum_j dS[r][j] key_j; dkey_j += scale sum_r dS[r][j] q_r
      for (int64_t jj = 0; jj < n; ++jj) {
        const int64_t j = j0 + jj;
        const float* key = cols.key(j, kbuf);
        float* dkey = j < g.P ? dpk + j * g.D : dk + (j - g.P) * g.D;
        for (int64_t r = 0; r < rows; ++r) {
          const float ds = S[r * kKeyBlock + jj];
          axpy(ds, key, dqa + r * g.D, g.D);
          axpy(scale * ds, qb + r * g.D, dkey, g.D);
        }
      }
    }
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < g.D; ++c) dq[(i0 + r) * g.D + c] = scale * dqa[r * g.D + c];
  }
}

void attention_backward_f32(const KernelContext& ctx) {
  const Plan& pl = plan_of(ctx);
  const AttentionGeometry& g = pl.g;
  if (g.has_prefix) {  // each task sums its tuples into its own slice of these
    std::fill(ctx.out[3].as<float>(), ctx.out[3].as<float>() + g.pk.shape.numel(), 0.0f);
    std::fill(ctx.out[4].as<float>(), ctx.out[4].as<float>() + g.pv.shape.numel(), 0.0f);
  }
  const int64_t tasks = (g.tuples() + pl.group - 1) / pl.group;
  float* ws = static_cast<float*>(ctx.workspace);
#pragma omp parallel num_threads(pl.threads)
  {
    float* scratch = ws + size_t(omp_get_thread_num()) * pl.per_thread;
#pragma omp for schedule(static)
    for (int64_t task = 0; task < tasks; ++task)
      for (int64_t t = task * pl.group; t < std::min(g.tuples(), (task + 1) * pl.group); ++t)
        backward_tuple(ctx, pl, t, scratch);
  }
}

bool supports(const Graph& graph, const Node& node) {
  return graph.value(node.outputs[0]).type.dtype == DType::F32 &&
         graph.value(node.outputs[0]).type.shape.numel() > 0;
}

KernelPrep prepare(const Graph& graph, const Node& node) {
  auto pl = std::make_shared<Plan>();
  pl->g = attention_geometry(graph, node);
  const AttentionGeometry& g = pl->g;
  pl->threads = std::max(1, omp_get_max_threads());
  const size_t blocks = size_t(kQueryBlock) * size_t(2 * g.D + g.Dv + 2 * kKeyBlock + 2) + size_t(g.D + g.Dv);
  pl->per_thread = (blocks + 15) / 16 * 16;  // 64-byte apart
  if (node.kind == OpKind::AttentionBackward && g.has_prefix) {
    // Tuples that add into one prefix-gradient slice must share a task: the prefix may broadcast over
    // trailing batch dims (the video's groups), which makes them runs of consecutive tuples; any other
    // broadcast pattern runs as one task.
    int d = g.batch.rank() - 1;
    pl->group = 1;
    for (; d >= 0 &&
           ((g.pk_grad.strides[size_t(d)] == 0 && g.pv_grad.strides[size_t(d)] == 0) || g.batch[d] == 1);
         --d)
      pl->group *= g.batch[d];
    for (; d >= 0; --d)
      if ((g.pk_grad.strides[size_t(d)] == 0 || g.pv_grad.strides[size_t(d)] == 0) && g.batch[d] > 1)
        pl->group = std::max<int64_t>(1, g.tuples());
  }
  const size_t bytes = size_t(pl->threads) * pl->per_thread * sizeof(float);
  return {pl, bytes};
}

}  // namespace

void register_cpu_own_attention_kernels(KernelRegistry& r) {
  r.add(OpKind::Attention, BackendKind::Cpu, DType::F32,
        {"cpu.attention_tiled", attention_f32, supports, prepare});
  r.add(OpKind::AttentionBackward, BackendKind::Cpu, DType::F32,
        {"cpu.attention_backward_tiled", attention_backward_f32, supports, prepare});
}

}  // namespace frost::ops
