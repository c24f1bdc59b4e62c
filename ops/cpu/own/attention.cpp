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
#include "engine/random.h"
#include "ops/cpu/own/clones.h"
#include "ops/cpu/parallel.h"
#include "ops/registration.h"

namespace frost::ops {
namespace {

#define FROST_INLINE inline __attribute__((always_inline))

constexpr int64_t kQueryBlock = 16;  // query rows sharing each key row while it is in L1
constexpr int64_t kKeyBlock = 128;   // score columns per online-softmax step (a multiple of 16)

// exp(x) in float to ~1 ulp (Cephes' expf: x = n ln2 + r, a degree-6 polynomial in r, 2^n from the
// exponent bits), written so GCC vectorises loops of it; below -87.3 it gives 0 (as exp's underflow does,
// and as a -inf mask must), NaN stays NaN (returned as given: converting NaN to an integer is undefined).
FROST_INLINE float fast_exp(float x) {
  if (x != x) return x;
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

// Only inlined into the clones below, never passed across a call: the AVX-return ABI note is moot.
#pragma GCC diagnostic ignored "-Wpsabi"
typedef float v8 __attribute__((vector_size(32)));
FROST_INLINE v8 load8(const float* p) {
  v8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
FROST_INLINE void store8(float* p, v8 v) {
  std::memcpy(p, &v, sizeof v);
}
// fast_exp on 8 lanes at once, the same arithmetic (so the same results) in GCC vector extensions: the
// scalar version's floor and bit casts keep GCC from vectorising loops of it.
typedef int32_t v8i __attribute__((vector_size(32)));
FROST_INLINE v8 fast_exp8(v8 x) {
  const v8 lo = v8{} - 87.33654f, hi = v8{} + 88.3762626647949f;
  const v8 given = x;
  const v8i nan = x != x;  // NaN lanes compute on 0 (no NaN reaches the integer conversion) and return NaN
  x = nan ? v8{} : x;
  const v8i under = x < lo;
  x = x > hi ? hi : x;
  x = under ? lo : x;
  const v8 t = x * 1.44269504088896341f + 0.5f;
  v8i n = __builtin_convertvector(t, v8i);           // truncates toward zero
  n += __builtin_convertvector(n, v8) > t ? -1 : 0;  // floor: one less where truncation rounded up
  const v8 fx = __builtin_convertvector(n, v8);
  v8 r = x - fx * 0.693359375f;
  r = r - fx * -2.12194440e-4f;
  v8 y = v8{} + 1.9875691500e-4f;
  y = y * r + 1.3981999507e-3f;
  y = y * r + 8.3334519073e-3f;
  y = y * r + 4.1665795894e-2f;
  y = y * r + 1.6666665459e-1f;
  y = y * r + 5.0000001201e-1f;
  y = y * r * r + r + 1.0f;
  const v8 pow2n = (v8)((n + 127) << 23);
  const v8 e = y * pow2n;
  return nan ? given : (under ? v8{} : e);
}

// s[j] = exp(s[j] - sub) over a row.
FROST_INLINE void exp_row(float* s, int64_t n, float sub) {
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) store8(s + j, fast_exp8(load8(s + j) - sub));
  for (; j < n; ++j) s[j] = fast_exp(s[j] - sub);
}

// max of s[0, n), NaN when any is NaN (a NaN score makes its row NaN, as softmax does). Eight lanes, each
// keeping the first NaN it meets, then the lanes: a scalar scan of this (NaN makes every comparison false,
// so it took 30% of the kernel's time, unvectorised) gave the same value — max is exact in any order — up
// to the sign of a zero maximum, which nothing depends on (s - 0 = s - -0, exp(±0) = 1, -0 + log l = +0 +
// log l).
FROST_INLINE float row_max(const float* s, int64_t n) {
  v8 m = v8{} - INFINITY;
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const v8 x = load8(s + j);
    m = ((x > m) | (x != x)) ? x : m;  // NaN sticks: nothing compares greater than it
  }
  float bm = -INFINITY;
  for (int l = 0; l < 8; ++l) bm = (m[l] > bm || m[l] != m[l]) ? m[l] : bm;
  for (; j < n; ++j) bm = (s[j] > bm || s[j] != s[j]) ? s[j] : bm;
  return bm;
}

// C (M x N) += A (M x K) B (K x N): A read element by element through strides (so A or its transpose),
// B and C by rows. Register-blocked 4 rows x 16 columns (eight 8-float accumulators, each B row chunk
// loaded once per four rows); the summation over k runs in order, so every C element is computed the same
// way on every run.
FROST_INLINE void small_gemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t sai, int64_t sak,
                             const float* B, int64_t ldb, float* C, int64_t ldc) {
  int64_t i = 0;
  for (; i + 4 <= M; i += 4) {
    int64_t c = 0;
    for (; c + 16 <= N; c += 16) {
      v8 acc[4][2];
      for (int r = 0; r < 4; ++r) {
        acc[r][0] = load8(C + (i + r) * ldc + c);
        acc[r][1] = load8(C + (i + r) * ldc + c + 8);
      }
      for (int64_t k = 0; k < K; ++k) {
        const v8 b0 = load8(B + k * ldb + c), b1 = load8(B + k * ldb + c + 8);
        for (int r = 0; r < 4; ++r) {
          const float a = A[(i + r) * sai + k * sak];
          acc[r][0] += a * b0;
          acc[r][1] += a * b1;
        }
      }
      for (int r = 0; r < 4; ++r) {
        store8(C + (i + r) * ldc + c, acc[r][0]);
        store8(C + (i + r) * ldc + c + 8, acc[r][1]);
      }
    }
    for (; c < N; ++c)
      for (int r = 0; r < 4; ++r) {
        float a = C[(i + r) * ldc + c];
        for (int64_t k = 0; k < K; ++k) a += A[(i + r) * sai + k * sak] * B[k * ldb + c];
        C[(i + r) * ldc + c] = a;
      }
  }
  for (; i < M; ++i) {
    int64_t c = 0;
    for (; c + 8 <= N; c += 8) {
      v8 acc = load8(C + i * ldc + c);
      for (int64_t k = 0; k < K; ++k) acc += A[i * sai + k * sak] * load8(B + k * ldb + c);
      store8(C + i * ldc + c, acc);
    }
    for (; c < N; ++c) {
      float a = C[i * ldc + c];
      for (int64_t k = 0; k < K; ++k) a += A[i * sai + k * sak] * B[k * ldb + c];
      C[i * ldc + c] = a;
    }
  }
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

// Copies all score columns of one tuple out of their (strided) sources, once per tuple: as rows (C, width)
// and/or transposed (width, C). Blocks of them then feed the small GEMMs.
// The transposed copy has padded_columns(C) columns, the extra ones zero, so the GEMMs never take their
// scalar column tail.
int64_t padded_columns(int64_t C) {
  return (C + 15) / 16 * 16;
}
FROST_INLINE void gather_columns(const RowSource& main, const RowSource& prefix, int64_t P, int64_t C,
                                 int64_t width, float* rows, float* transposed, float* buf) {
  const int64_t Cp = padded_columns(C);
  for (int64_t j = 0; j < C; ++j) {
    const float* src = j < P ? prefix.row(j, buf) : main.row(j - P, buf);
    if (rows != nullptr) std::copy(src, src + width, rows + j * width);
    if (transposed != nullptr)
      for (int64_t c = 0; c < width; ++c) transposed[c * Cp + j] = src[c];
  }
  if (transposed != nullptr)
    for (int64_t c = 0; c < width; ++c) std::fill(transposed + c * Cp + C, transposed + (c + 1) * Cp, 0.0f);
}

// Tuples with many score columns and several query rows (space groups, text) use the register-blocked
// GEMMs on transposed keys/values. The rest use dot products on key rows: few columns (the time groups,
// 1 + 4), or few queries (the CLS row, 1 query over 785 keys), where transposing every key costs more than
// the products it would feed (0.705 vs 0.216 ms for one clip-layer of CLS rows).
constexpr int64_t kWideColumns = 16, kWideQueries = 4;
bool wide_layout(const AttentionGeometry& g) {
  return g.columns() >= kWideColumns && g.Lq >= kWideQueries;
}

// A u8 mask (masked fill) rather than a float bias.
bool fill_mask(const KernelContext& ctx, const AttentionGeometry& g, int first) {
  return g.has_mask && ctx.in[first + g.mask_in].dtype == DType::U8;
}

// S[r][j - j0] = scale * q_r . key_j + mask[r][j] (a float mask), or attrs.fill where a u8 mask fills, for
// the block's rows and columns, from the tuple's keys transposed (kt, (D, C)) when wide, else from its key
// rows (kb, (C, D)).
FROST_INLINE void block_scores(const KernelContext& ctx, const AttentionGeometry& g, int first, int64_t t,
                               int64_t i0, int64_t rows, int64_t j0, int64_t j1, const float* qb,
                               const float* kt, const float* kb, float scale, float* S) {
  const int64_t n = j1 - j0, C = g.columns();
  if (wide_layout(g)) {
    const int64_t np = padded_columns(n);  // kKeyBlock is a multiple of 16: stays inside S and kt
    for (int64_t r = 0; r < rows; ++r) std::fill(S + r * kKeyBlock, S + r * kKeyBlock + np, 0.0f);
    small_gemm(rows, np, g.D, qb, g.D, 1, kt + j0, padded_columns(C), S, kKeyBlock);
  } else {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = j0; j < j1; ++j) S[r * kKeyBlock + (j - j0)] = dot(qb + r * g.D, kb + j * g.D, g.D);
  }
  const int64_t ms = g.has_mask ? g.mask_strides.back() : 0;
  const bool fill = fill_mask(ctx, g, first);
  for (int64_t r = 0; r < rows; ++r) {
    float* s = S + r * kKeyBlock;
    for (int64_t jj = 0; jj < n; ++jj) s[jj] *= scale;
    if (!g.has_mask) continue;
    const int64_t off = mask_row_offset(g, t, i0 + r);
    if (fill) {
      const uint8_t* m = ctx.in[first + g.mask_in].as<const uint8_t>() + off;
      const float value = float(ctx.node->attrs.fill);
      for (int64_t j = j0; j < j1; ++j)
        if (mask_fills(m[j * ms], ctx.node->attrs)) s[j - j0] = value;
    } else {
      const float* m = ctx.in[first + g.mask_in].as<const float>() + off;
      for (int64_t j = j0; j < j1; ++j) s[j - j0] += m[j * ms];
    }
  }
}

// Attention-probability dropout (attrs.dropout): the factor of probability (t, i, j) — 1 / (1 - rate) kept,
// 0 dropped — drawn as the dropout op draws element (t, i, j) of the probabilities.
struct Dropout {
  bool on = false;
  float keep_scale = 1.0f;
  double rate = 0;
  Philox rng{0};
  Dropout(const KernelContext& ctx, const AttentionGeometry& g, int first) {
    rate = ctx.node->attrs.dropout;
    on = rate > 0;
    if (!on) return;
    rng = Philox(ctx.node->attrs.seed, uint64_t(ctx.in[first + g.offset_in].as<const int64_t>()[0]));
    keep_scale = float(1.0 / (1.0 - rate));
  }
  // x[r][jj] *= factor(t, i0 + r, j0 + jj) over a block's rows and n columns (row stride kKeyBlock). A
  // row's run of uniforms is drawn at once (Philox::uniforms, the same numbers as uniform(i)); the test is
  // dropout_keeps's.
  void apply(const AttentionGeometry& g, int64_t t, int64_t i0, int64_t rows, int64_t j0, int64_t n,
             float* x) const {
    float u[kKeyBlock];
    const float threshold = dropout_threshold(rate);
    for (int64_t r = 0; r < rows; ++r) {
      rng.uniforms(probability_index(g, t, i0 + r, j0), n, u);
      float* xr = x + r * kKeyBlock;
      for (int64_t jj = 0; jj < n; ++jj) xr[jj] = u[jj] >= threshold ? xr[jj] * keep_scale : 0.0f;
    }
  }
};

// dS = 0 where a u8 mask filled the score: a constant there, whatever its probability.
void zero_filled(const KernelContext& ctx, const AttentionGeometry& g, int64_t t, int64_t i0, int64_t rows,
                 int64_t j0, int64_t j1, float* dS) {
  if (!fill_mask(ctx, g, 1)) return;
  const int64_t ms = g.mask_strides.back();
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* m = ctx.in[1 + g.mask_in].as<const uint8_t>() + mask_row_offset(g, t, i0 + r);
    for (int64_t j = j0; j < j1; ++j)
      if (mask_fills(m[j * ms], ctx.node->attrs)) dS[r * kKeyBlock + (j - j0)] = 0.0f;
  }
}

// One (tuple, query block): the online softmax over key blocks.
FROST_CPU_CLONES void forward_tuple(const KernelContext& ctx, const Plan& pl, int64_t t, float* scratch) {
  const AttentionGeometry& g = pl.g;
  const int64_t C = g.columns();
  const bool wide = wide_layout(g);
  const float scale = float(ctx.node->attrs.scalar);
  float* qb = scratch;                         // (rows, D)
  float* S = qb + kQueryBlock * g.D;           // (rows, kKeyBlock): scores, then probabilities
  float* acc = S + kQueryBlock * kKeyBlock;    // (rows, Dv)
  float* m = acc + kQueryBlock * g.Dv;         // (rows) running max
  float* l = m + kQueryBlock;                  // (rows) running sum
  float* keys = l + kQueryBlock;               // (D, padded C) transposed when wide, else (C, D)
  float* vb = keys + padded_columns(C) * g.D;  // (C, Dv)
  float* buf = vb + C * g.Dv;                  // (max(D, Dv)) for strided rows
  const RowSource q = source(ctx.in[g.q_in], g.q, g.batch, t, g.D);
  const Columns cols = columns(ctx, g, 0, t);
  const Dropout drop(ctx, g, 0);
  gather_columns(cols.k, cols.pk, g.P, C, g.D, wide ? nullptr : keys, wide ? keys : nullptr, buf);
  gather_columns(cols.v, cols.pv, g.P, C, g.Dv, vb, nullptr, buf);
  for (int64_t i0 = 0; i0 < g.Lq; i0 += kQueryBlock) {
    const int64_t rows = std::min(kQueryBlock, g.Lq - i0);
    for (int64_t r = 0; r < rows; ++r) {
      const float* src = q.row(i0 + r, qb + r * g.D);
      if (src != qb + r * g.D) std::copy(src, src + g.D, qb + r * g.D);
      m[r] = -INFINITY;
      l[r] = 0;
      std::fill(acc + r * g.Dv, acc + (r + 1) * g.Dv, 0.0f);
    }
    for (int64_t j0 = 0; j0 < C; j0 += kKeyBlock) {
      const int64_t j1 = std::min(C, j0 + kKeyBlock), n = j1 - j0;
      block_scores(ctx, g, 0, t, i0, rows, j0, j1, qb, keys, keys, scale, S);
      for (int64_t r = 0; r < rows; ++r) {
        float* s = S + r * kKeyBlock;
        const float bm = row_max(s, n);
        const float m_new = (bm > m[r] || bm != bm) ? bm : m[r];
        if (m_new == -INFINITY) {  // every column so far -inf: nothing to add yet
          std::fill(s, s + n, 0.0f);
          continue;
        }
        const float alpha = fast_exp(m[r] - m_new);
        exp_row(s, n, m_new);
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
      // The sum l above is of the kept and the dropped: softmax normalises before dropout.
      if (drop.on) drop.apply(g, t, i0, rows, j0, n, S);
      small_gemm(rows, g.Dv, n, S, kKeyBlock, 1, vb + j0 * g.Dv, g.Dv, acc, g.Dv);  // acc += P V
    }
    float* out = ctx.out[0].as<float>() + (t * g.Lq + i0) * g.Dv;
    float* lse = ctx.out[1].as<float>() + t * g.Lq + i0;
    for (int64_t r = 0; r < rows; ++r) {
      const float inv = 1.0f / l[r];  // l = 0 (every column -inf): NaN, as softmax gives
      for (int64_t c = 0; c < g.Dv; ++c) out[r * g.Dv + c] = acc[r * g.Dv + c] * inv;
      lse[r] = m[r] == -INFINITY ? NAN : m[r] + std::log(l[r]);  // as the reference: exp(-inf - -inf)
    }
  }
}

void attention_f32(const KernelContext& ctx) {
  const Plan& pl = plan_of(ctx);
  const int64_t tasks = pl.g.tuples();
  float* ws = static_cast<float*>(ctx.workspace);
  parallel_region(
      true,
      [&](int thread, int threads) {
        float* scratch = ws + size_t(thread) * pl.per_thread;
        const Range r = static_range(tasks, thread, threads);
        for (int64_t t = r.begin; t < r.end; ++t) forward_tuple(ctx, pl, t, scratch);
      },
      pl.threads);  // at most the threads the workspace holds scratch for
}

// One tuple's backward: dq rows written once per query block; dk, dv (and the prefix's slice) accumulated
// over the query blocks in order.
FROST_CPU_CLONES void backward_tuple(const KernelContext& ctx, const Plan& pl, int64_t t, float* scratch) {
  const AttentionGeometry& g = pl.g;
  const int n_in = attention_num_inputs(ctx.node->attrs);
  const float scale = float(ctx.node->attrs.scalar);
  const int64_t C = g.columns(), D = g.D, Dv = g.Dv;
  const float* dout = ctx.in[0].as<const float>() + t * g.Lq * Dv;
  const float* out = ctx.in[1 + n_in].as<const float>() + t * g.Lq * Dv;
  const float* lse = ctx.in[2 + n_in].as<const float>() + t * g.Lq;
  float* dq = ctx.out[0].as<float>() + t * g.Lq * D;
  float* dk = ctx.out[1].as<float>() + t * g.Lk * D;
  float* dv = ctx.out[2].as<float>() + t * g.Lk * Dv;
  float* dpk = g.has_prefix ? ctx.out[3].as<float>() + batch_offset(g.pk_grad, g.batch, t) : nullptr;
  float* dpv = g.has_prefix ? ctx.out[4].as<float>() + batch_offset(g.pv_grad, g.batch, t) : nullptr;
  std::fill(dk, dk + g.Lk * D, 0.0f);
  std::fill(dv, dv + g.Lk * Dv, 0.0f);
  float* qb = scratch;                        // (rows, D)
  float* S = qb + kQueryBlock * D;            // (rows, kKeyBlock): P, then dS
  float* dP = S + kQueryBlock * kKeyBlock;    // (rows, kKeyBlock)
  float* dqa = dP + kQueryBlock * kKeyBlock;  // (rows, D)
  float* delta = dqa + kQueryBlock * D;       // (rows)
  float* kt = delta + kQueryBlock;            // (D, C) keys transposed (wide rows only)
  float* kb = kt + D * padded_columns(C);     // (C, D) keys
  float* vs = kb + C * D;                     // (Dv, C) values transposed when wide, else (C, Dv)
  float* dkb = vs + Dv * padded_columns(C);   // (kKeyBlock, D) this block's key gradients
  float* dvb = dkb + kKeyBlock * D;           // (kKeyBlock, Dv) this block's value gradients
  float* buf = dvb + kKeyBlock * Dv;          // (max(D, Dv))
  float* pd = buf + std::max(D, Dv);          // (rows, kKeyBlock): P with dropout (dropout only)
  const RowSource q = source(ctx.in[1 + g.q_in], g.q, g.batch, t, D);
  const Columns cols = columns(ctx, g, 1, t);
  const Dropout drop(ctx, g, 1);
  const bool wide = wide_layout(g);
  gather_columns(cols.k, cols.pk, g.P, C, D, kb, wide ? kt : nullptr, buf);
  gather_columns(cols.v, cols.pv, g.P, C, Dv, wide ? nullptr : vs, wide ? vs : nullptr, buf);
  for (int64_t i0 = 0; i0 < g.Lq; i0 += kQueryBlock) {
    const int64_t rows = std::min(kQueryBlock, g.Lq - i0);
    const float* dout_b = dout + i0 * Dv;  // (rows, Dv)
    for (int64_t r = 0; r < rows; ++r) {
      const float* src = q.row(i0 + r, qb + r * D);
      if (src != qb + r * D) std::copy(src, src + D, qb + r * D);
      delta[r] = dot(dout_b + r * Dv, out + (i0 + r) * Dv, Dv);
      std::fill(dqa + r * D, dqa + (r + 1) * D, 0.0f);
    }
    for (int64_t j0 = 0; j0 < C; j0 += kKeyBlock) {
      const int64_t j1 = std::min(C, j0 + kKeyBlock), n = j1 - j0;
      block_scores(ctx, g, 1, t, i0, rows, j0, j1, qb, kt, kb, scale, S);
      for (int64_t r = 0; r < rows; ++r) {
        float* s = S + r * kKeyBlock;
        const float lr = lse[i0 + r];
        exp_row(s, n, lr);
        std::fill(dP + r * kKeyBlock, dP + r * kKeyBlock + padded_columns(n), 0.0f);
      }
      // dP = dout V^T; with dropout factors F: PF = P F, dP = F dP. dV_block = (PF)^T dout; dS = P (dP -
      // delta)
      if (wide) {
        small_gemm(rows, padded_columns(n), Dv, dout_b, Dv, 1, vs + j0, padded_columns(C), dP, kKeyBlock);
      } else {
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t j = j0; j < j1; ++j)
            dP[r * kKeyBlock + (j - j0)] = dot(dout_b + r * Dv, vs + j * Dv, Dv);
      }
      const float* pv = S;
      if (drop.on) {  // pd = F, then dP *= F and pd = P F
        for (int64_t r = 0; r < rows; ++r) std::fill(pd + r * kKeyBlock, pd + r * kKeyBlock + n, 1.0f);
        drop.apply(g, t, i0, rows, j0, n, pd);
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t jj = 0; jj < n; ++jj) {
            dP[r * kKeyBlock + jj] *= pd[r * kKeyBlock + jj];
            pd[r * kKeyBlock + jj] *= S[r * kKeyBlock + jj];
          }
        pv = pd;
      }
      std::fill(dvb, dvb + n * Dv, 0.0f);
      small_gemm(n, Dv, rows, pv, 1, kKeyBlock, dout_b, Dv, dvb, Dv);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t jj = 0; jj < n; ++jj)
          S[r * kKeyBlock + jj] = S[r * kKeyBlock + jj] * (dP[r * kKeyBlock + jj] - delta[r]);
      zero_filled(ctx, g, t, i0, rows, j0, j1, S);
      // dq += dS K; dK_block = dS^T q (scaled below)
      small_gemm(rows, D, n, S, kKeyBlock, 1, kb + j0 * D, D, dqa, D);
      std::fill(dkb, dkb + n * D, 0.0f);
      small_gemm(n, D, rows, S, 1, kKeyBlock, qb, D, dkb, D);
      for (int64_t jj = 0; jj < n; ++jj) {
        const int64_t j = j0 + jj;
        float* dkey = j < g.P ? dpk + j * D : dk + (j - g.P) * D;
        float* dvalue = j < g.P ? dpv + j * Dv : dv + (j - g.P) * Dv;
        for (int64_t c = 0; c < D; ++c) dkey[c] += scale * dkb[jj * D + c];
        for (int64_t c = 0; c < Dv; ++c) dvalue[c] += dvb[jj * Dv + c];
      }
    }
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < D; ++c) dq[(i0 + r) * D + c] = scale * dqa[r * D + c];
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
  parallel_region(
      true,
      [&](int thread, int threads) {
        float* scratch = ws + size_t(thread) * pl.per_thread;
        const Range r = static_range(tasks, thread, threads);
        for (int64_t task = r.begin; task < r.end; ++task)
          for (int64_t t = task * pl.group; t < std::min(g.tuples(), (task + 1) * pl.group); ++t)
            backward_tuple(ctx, pl, t, scratch);
      },
      pl.threads);
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
  const size_t Q = size_t(kQueryBlock), K = size_t(kKeyBlock), D = size_t(g.D), Dv = size_t(g.Dv);
  const size_t C = size_t(padded_columns(g.columns()));
  const size_t forward = Q * (D + K + Dv + 2) + C * (D + Dv) + std::max(D, Dv);
  const size_t backward = Q * (2 * D + 3 * K + 1) + C * (2 * D + Dv) + K * (D + Dv) + std::max(D, Dv);
  pl->per_thread = (std::max(forward, backward) + 15) / 16 * 16;  // 64 bytes apart
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
