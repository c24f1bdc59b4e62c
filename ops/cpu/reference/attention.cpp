// Reference kernels for the fused attention op and its backward: one query row at a time, every score and
// sum in double, straight from the definitions (ops/defs/attention.cpp). The oracle for the tiled kernels.
//
// Legend (engine/attention_geometry.h): t batch tuple, i query row, j score column (P prefix keys first,
// then the Lk keys), D q/k width, Dv v width.
#include <cmath>
#include <memory>
#include <vector>

#include "engine/attention_geometry.h"
#include "engine/kernel.h"
#include "engine/random.h"
#include "ops/registration.h"

namespace frost::ops {
namespace {

// Typed, strided access to one operand of one batch tuple.
template <class T>
struct Rows {
  const T* base = nullptr;
  int64_t row_stride = 0, col_stride = 0;
  T at(int64_t r, int64_t c) const { return base[r * row_stride + c * col_stride]; }
};
template <class T>
Rows<T> rows(const TensorView& in, const StridedOperand& o, const Shape& batch, int64_t t) {
  return {in.as<const T>() + batch_offset(o, batch, t), o.strides[o.strides.size() - 2], o.strides.back()};
}

// The geometry prepare() built at compile time (run() allocates nothing).
const AttentionGeometry& geometry(const KernelContext& ctx) {
  return *static_cast<const AttentionGeometry*>(ctx.state);
}

// Column j of the scores: a prefix key (j < P) or key j - P, and its value row.
template <class T>
struct Columns {
  Rows<T> k, v, pk, pv;
  int64_t P;
  T key(int64_t j, int64_t c) const { return j < P ? pk.at(j, c) : k.at(j - P, c); }
  T value(int64_t j, int64_t c) const { return j < P ? pv.at(j, c) : v.at(j - P, c); }
};

template <class T>
Columns<T> columns_of(const KernelContext& ctx, const AttentionGeometry& g, int first, int64_t t) {
  Columns<T> c{};
  c.P = g.P;
  c.k = rows<T>(ctx.in[first + g.k_in], g.k, g.batch, t);
  c.v = rows<T>(ctx.in[first + g.v_in], g.v, g.batch, t);
  if (g.has_prefix) {
    c.pk = rows<T>(ctx.in[first + g.pk_in], g.pk, g.batch, t);
    c.pv = rows<T>(ctx.in[first + g.pv_in], g.pv, g.batch, t);
  }
  return c;
}

// Whether score j of row i is replaced by attrs.fill (a u8 mask: masked fill).
bool filled(const KernelContext& ctx, const AttentionGeometry& g, int first, int64_t t, int64_t i,
            int64_t j) {
  if (!g.has_mask) return false;
  const TensorView& mask = ctx.in[first + g.mask_in];
  return mask.dtype == DType::U8 &&
         mask_fills(mask.as<const uint8_t>()[mask_row_offset(g, t, i) + j * g.mask_strides.back()],
                    ctx.node->attrs);
}

// The dropout factor of probability (t, i, j): 1 / (1 - rate) where kept, 0 where dropped; 1 without.
struct DropoutMask {
  double rate = 0, keep_scale = 1;
  Philox rng{0};
  DropoutMask(const KernelContext& ctx, const AttentionGeometry& g, int first) {
    rate = ctx.node->attrs.dropout;
    if (rate <= 0) return;
    rng = Philox(ctx.node->attrs.seed, uint64_t(ctx.in[first + g.offset_in].as<const int64_t>()[0]));
    keep_scale = 1.0 / (1.0 - rate);
  }
  double operator()(const AttentionGeometry& g, int64_t t, int64_t i, int64_t j) const {
    if (rate <= 0) return 1.0;
    return dropout_keeps(rng, probability_index(g, t, i, j), rate) ? keep_scale : 0.0;
  }
};

// scores[j] = scale * q_i . key_j + mask[i, j] (a float mask), or attrs.fill where a u8 mask fills.
template <class T>
void row_scores(const KernelContext& ctx, const AttentionGeometry& g, int first, int64_t t, int64_t i,
                const Rows<T>& q, const Columns<T>& cols, double* scores) {
  const double scale = ctx.node->attrs.scalar;
  const bool bias = g.has_mask && ctx.in[first + g.mask_in].dtype != DType::U8;
  const T* mask = bias ? ctx.in[first + g.mask_in].as<const T>() + mask_row_offset(g, t, i) : nullptr;
  for (int64_t j = 0; j < g.columns(); ++j) {
    double s = 0;
    for (int64_t c = 0; c < g.D; ++c) s += double(q.at(i, c)) * double(cols.key(j, c));
    scores[j] = scale * s + (mask ? double(mask[j * g.mask_strides.back()]) : 0.0);
    if (filled(ctx, g, first, t, i, j)) scores[j] = ctx.node->attrs.fill;
  }
}

template <class T>
void attention_kernel(const KernelContext& ctx) {
  const AttentionGeometry& g = geometry(ctx);
  double* scores = static_cast<double*>(ctx.workspace);  // (P + Lk)
  double* acc = scores + g.columns();                    // (Dv)
  T* out = ctx.out[0].as<T>();
  T* lse = ctx.out[1].as<T>();
  const DropoutMask drop(ctx, g, 0);
  for (int64_t t = 0; t < g.tuples(); ++t) {
    const Rows<T> q = rows<T>(ctx.in[g.q_in], g.q, g.batch, t);
    const Columns<T> cols = columns_of<T>(ctx, g, 0, t);
    for (int64_t i = 0; i < g.Lq; ++i) {
      row_scores(ctx, g, 0, t, i, q, cols, scores);
      double m = -INFINITY;
      for (int64_t j = 0; j < g.columns(); ++j) m = std::max(m, scores[j]);
      double l = 0;
      for (int64_t j = 0; j < g.columns(); ++j) l += std::exp(scores[j] - m);
      for (int64_t c = 0; c < g.Dv; ++c) acc[c] = 0;
      for (int64_t j = 0; j < g.columns(); ++j) {
        const double p = std::exp(scores[j] - m) / l * drop(g, t, i, j);
        for (int64_t c = 0; c < g.Dv; ++c) acc[c] += p * double(cols.value(j, c));
      }
      const int64_t row = t * g.Lq + i;
      for (int64_t c = 0; c < g.Dv; ++c) out[row * g.Dv + c] = T(acc[c]);
      lse[row] = T(m + std::log(l));
    }
  }
}

// With p = exp(s - lse), d_j the dropout factor (1 without), dp_j = d_j dout_i . v_j, delta_i = dout_i .
// out_i
// (= sum_j p_j dp_j), ds_j = p_j (dp_j - delta_i):
//   dq_i = scale sum_j ds_j key_j,  dkey_j += scale ds_j q_i,  dvalue_j += d_j p_j dout_i.
// Sums over the rows of a tuple (and, for a broadcast prefix, over tuples) are kept in double until the end.
template <class T>
void attention_backward_kernel(const KernelContext& ctx) {
  const AttentionGeometry& g = geometry(ctx);
  const double scale = ctx.node->attrs.scalar;
  const int n = attention_num_inputs(ctx.node->attrs);
  const T* dout = ctx.in[0].as<const T>();
  const T* out = ctx.in[1 + n].as<const T>();
  const T* lse = ctx.in[2 + n].as<const T>();
  const int64_t C = g.columns();
  double* scores = static_cast<double*>(ctx.workspace);  // (C)
  double* ds = scores + C;                               // (C)
  double* dq = ds + C;                                   // (D)
  double* dk = dq + g.D;                                 // (Lk, D) of this tuple
  double* dv = dk + g.Lk * g.D;                          // (Lk, Dv)
  double* dpk = dv + g.Lk * g.Dv;                        // prefix k's whole logical shape
  double* dpv = dpk + (g.has_prefix ? g.pk.shape.numel() : 0);
  if (g.has_prefix) {
    for (int64_t e = 0; e < g.pk.shape.numel(); ++e) dpk[e] = 0;
    for (int64_t e = 0; e < g.pv.shape.numel(); ++e) dpv[e] = 0;
  }
  const StridedOperand &pk_grad = g.pk_grad, &pv_grad = g.pv_grad;
  const DropoutMask drop(ctx, g, 1);
  for (int64_t t = 0; t < g.tuples(); ++t) {
    const Rows<T> q = rows<T>(ctx.in[1 + g.q_in], g.q, g.batch, t);
    const Columns<T> cols = columns_of<T>(ctx, g, 1, t);
    for (int64_t e = 0; e < g.Lk * g.D; ++e) dk[e] = 0;
    for (int64_t e = 0; e < g.Lk * g.Dv; ++e) dv[e] = 0;
    double* tdpk = g.has_prefix ? dpk + batch_offset(pk_grad, g.batch, t) : nullptr;  // (P, D)
    double* tdpv = g.has_prefix ? dpv + batch_offset(pv_grad, g.batch, t) : nullptr;  // (P, Dv)
    for (int64_t i = 0; i < g.Lq; ++i) {
      const int64_t row = t * g.Lq + i;
      const T* dout_i = dout + row * g.Dv;
      row_scores(ctx, g, 1, t, i, q, cols, scores);
      double delta = 0;
      for (int64_t c = 0; c < g.Dv; ++c) delta += double(dout_i[c]) * double(out[row * g.Dv + c]);
      for (int64_t j = 0; j < C; ++j) {
        const double p = std::exp(scores[j] - double(lse[row])), d = drop(g, t, i, j);
        double dp = 0;
        for (int64_t c = 0; c < g.Dv; ++c) dp += double(dout_i[c]) * double(cols.value(j, c));
        dp *= d;
        ds[j] = filled(ctx, g, 1, t, i, j) ? 0.0 : p * (dp - delta);  // a filled score is a constant
        double* dvalue = j < g.P ? tdpv + j * g.Dv : dv + (j - g.P) * g.Dv;
        for (int64_t c = 0; c < g.Dv; ++c) dvalue[c] += d * p * double(dout_i[c]);
        double* dkey = j < g.P ? tdpk + j * g.D : dk + (j - g.P) * g.D;
        for (int64_t c = 0; c < g.D; ++c) dkey[c] += scale * ds[j] * double(q.at(i, c));
      }
      for (int64_t c = 0; c < g.D; ++c) dq[c] = 0;
      for (int64_t j = 0; j < C; ++j)
        for (int64_t c = 0; c < g.D; ++c) dq[c] += ds[j] * double(cols.key(j, c));
      T* dq_out = ctx.out[0].as<T>() + row * g.D;
      for (int64_t c = 0; c < g.D; ++c) dq_out[c] = T(scale * dq[c]);
    }
    for (int64_t e = 0; e < g.Lk * g.D; ++e) ctx.out[1].as<T>()[t * g.Lk * g.D + e] = T(dk[e]);
    for (int64_t e = 0; e < g.Lk * g.Dv; ++e) ctx.out[2].as<T>()[t * g.Lk * g.Dv + e] = T(dv[e]);
  }
  if (g.has_prefix) {
    for (int64_t e = 0; e < g.pk.shape.numel(); ++e) ctx.out[3].as<T>()[e] = T(dpk[e]);
    for (int64_t e = 0; e < g.pv.shape.numel(); ++e) ctx.out[4].as<T>()[e] = T(dpv[e]);
  }
}

KernelPrep prepare_forward(const Graph& graph, const Node& node) {
  auto g = std::make_shared<AttentionGeometry>(attention_geometry(graph, node));
  return {g, size_t(g->columns() + g->Dv) * sizeof(double)};
}
KernelPrep prepare_backward(const Graph& graph, const Node& node) {
  auto g = std::make_shared<AttentionGeometry>(attention_geometry(graph, node));
  const int64_t prefix = g->has_prefix ? g->pk.shape.numel() + g->pv.shape.numel() : 0;
  return {g, size_t(2 * g->columns() + g->D + g->Lk * (g->D + g->Dv) + prefix) * sizeof(double)};
}

template <class T>
void register_for(KernelRegistry& r, DType dt) {
  r.add(OpKind::Attention, BackendKind::Reference, dt,
        {"reference.attention", attention_kernel<T>, nullptr, prepare_forward});
  r.add(OpKind::AttentionBackward, BackendKind::Reference, dt,
        {"reference.attention_backward", attention_backward_kernel<T>, nullptr, prepare_backward});
}

}  // namespace

void register_reference_attention_kernels(KernelRegistry& r) {
  register_for<float>(r, DType::F32);
  register_for<double>(r, DType::F64);
}

}  // namespace frost::ops
