#include "engine/attention_geometry.h"

#include "engine/error.h"

namespace frost {
namespace {

std::vector<int64_t> row_major_strides(const Shape& s) {
  std::vector<int64_t> st(size_t(s.rank()));
  int64_t acc = 1;
  for (int d = s.rank() - 1; d >= 0; --d) {
    st[size_t(d)] = acc;
    acc *= s[d];
  }
  return st;
}

// Operand `j` (q, k, v, pk, pv order) from input shape `in` and its segment of attrs.views at `cursor`.
StridedOperand operand(const Shape& in, const Attrs& attrs, size_t& cursor, const char* name) {
  StridedOperand o;
  const std::vector<int64_t>& v = attrs.views;
  const int64_t rank = cursor < v.size() ? v[cursor] : 0;
  if (v.empty() || rank == 0) {
    if (!v.empty()) ++cursor;
    o.shape = in;
    o.strides = row_major_strides(in);
    return o;
  }
  FROST_CHECK(rank > 0 && cursor + 2 + 2 * size_t(rank) <= v.size(), InvalidArgument,
              "attention: malformed view of " << name);
  o.contiguous = false;
  o.offset = v[cursor + 1];
  std::vector<int64_t> sizes(v.begin() + int64_t(cursor) + 2, v.begin() + int64_t(cursor) + 2 + rank);
  o.strides.assign(v.begin() + int64_t(cursor) + 2 + rank, v.begin() + int64_t(cursor) + 2 + 2 * rank);
  o.shape = Shape(sizes);
  cursor += 2 + 2 * size_t(rank);
  // The window must stay inside its input: every reachable element offset in [0, numel).
  int64_t last = o.offset;
  for (int64_t d = 0; d < rank; ++d) {
    FROST_CHECK(sizes[size_t(d)] >= 0 && o.strides[size_t(d)] >= 0, InvalidArgument,
                "attention: view of " << name << " has a negative size or stride");
    if (sizes[size_t(d)] > 0) last += (sizes[size_t(d)] - 1) * o.strides[size_t(d)];
  }
  FROST_CHECK(o.offset >= 0 && (o.shape.numel() == 0 || last < in.numel()), InvalidArgument,
              "attention: view of " << name << " " << o.shape << " at offset " << o.offset
                                    << " reaches element " << last << " of an input of " << in.numel());
  return o;
}

}  // namespace

int attention_num_inputs(const Attrs& attrs) {
  return 3 + (attrs.prefix ? 2 : 0) + (attrs.masked ? 1 : 0) + (attrs.dropout > 0 ? 1 : 0);
}

AttentionGeometry attention_geometry(std::span<const Shape> inputs, const Attrs& attrs) {
  AttentionGeometry g;
  FROST_CHECK(int(inputs.size()) >= attention_num_inputs(attrs), InvalidArgument,
              "attention: " << inputs.size() << " inputs, expected " << attention_num_inputs(attrs));
  g.has_prefix = attrs.prefix;
  g.has_mask = attrs.masked;
  size_t cursor = 0;
  g.q = operand(inputs[0], attrs, cursor, "q");
  g.k = operand(inputs[1], attrs, cursor, "k");
  g.v = operand(inputs[2], attrs, cursor, "v");
  const Shape &q = g.q.shape, &k = g.k.shape, &v = g.v.shape;
  FROST_CHECK(q.rank() >= 2 && k.rank() == q.rank() && v.rank() == q.rank(), InvalidArgument,
              "attention: q " << q << ", k " << k << " and v " << v << " must have one rank >= 2");
  const int nb = q.rank() - 2;
  g.batch = Shape(std::span<const int64_t>(q.begin(), size_t(nb)));
  for (int d = 0; d < nb; ++d)
    FROST_CHECK(k[d] == q[d] && v[d] == q[d], InvalidArgument,
                "attention: batch dims differ: q " << q << ", k " << k << ", v " << v);
  g.Lq = q[-2];
  g.D = q[-1];
  g.Lk = k[-2];
  g.Dv = v[-1];
  FROST_CHECK(
      k[-1] == g.D && v[-2] == g.Lk, InvalidArgument,
      "attention: q " << q << ", k " << k << ", v " << v << " do not fit (q, k share D; k, v share L)");
  int next = 3;
  if (g.has_prefix) {
    g.pk_in = next++;
    g.pv_in = next++;
    g.pk = operand(inputs[size_t(g.pk_in)], attrs, cursor, "prefix k");
    g.pv = operand(inputs[size_t(g.pv_in)], attrs, cursor, "prefix v");
    const Shape &pk = g.pk.shape, &pv = g.pv.shape;
    FROST_CHECK(pk.rank() == q.rank() && pv.rank() == q.rank() && pk[-1] == g.D && pv[-1] == g.Dv &&
                    pk[-2] == pv[-2] && pk[-2] >= 1,
                InvalidArgument,
                "attention: prefix k " << pk << " and v " << pv << " must be (..., P, " << g.D
                                       << ") and (..., P, " << g.Dv << ")");
    for (int d = 0; d < nb; ++d) {
      FROST_CHECK(
          (pk[d] == q[d] || pk[d] == 1) && (pv[d] == q[d] || pv[d] == 1), InvalidArgument,
          "attention: prefix k " << pk << " / v " << pv << " do not broadcast to the batch " << g.batch);
      if (pk[d] != q[d]) g.pk.strides[size_t(d)] = 0;
      if (pv[d] != q[d]) g.pv.strides[size_t(d)] = 0;
    }
    g.P = pk[-2];
    g.pk_grad = {pk, row_major_strides(pk), 0, true};
    g.pv_grad = {pv, row_major_strides(pv), 0, true};
    for (int d = 0; d < nb; ++d) {
      if (pk[d] != q[d]) g.pk_grad.strides[size_t(d)] = 0;
      if (pv[d] != q[d]) g.pv_grad.strides[size_t(d)] = 0;
    }
  }
  FROST_CHECK(g.columns() >= 1, InvalidArgument, "attention: no keys");
  if (g.has_mask) {
    g.mask_in = next++;
    const Shape& m = inputs[size_t(g.mask_in)];
    const int full = q.rank();
    FROST_CHECK(m.rank() <= full, InvalidArgument,
                "attention: mask " << m << " has more dims than the scores");
    std::vector<int64_t> dims(g.batch.begin(), g.batch.end());
    dims.push_back(g.Lq);
    dims.push_back(g.columns());
    g.mask_strides.assign(size_t(full), 0);
    int64_t stride = 1;
    for (int d = full - 1, md = m.rank() - 1; md >= 0; --d, --md) {
      FROST_CHECK(m[md] == dims[size_t(d)] || m[md] == 1, InvalidArgument,
                  "attention: mask " << m << " does not broadcast to the scores " << Shape(dims));
      g.mask_strides[size_t(d)] = m[md] == 1 ? 0 : stride;
      stride *= m[md];
    }
  }
  if (attrs.dropout > 0) {
    FROST_CHECK(attrs.dropout < 1, InvalidArgument,
                "attention: dropout rate " << attrs.dropout << " not in [0, 1)");
    g.offset_in = next++;
    FROST_CHECK(inputs[size_t(g.offset_in)].numel() == 1, InvalidArgument,
                "attention: the dropout offset must be one element, got " << inputs[size_t(g.offset_in)]);
  }
  return g;
}

AttentionGeometry attention_geometry(const Graph& graph, const Node& node) {
  const bool backward = node.kind == OpKind::AttentionBackward;
  FROST_CHECK(backward || node.kind == OpKind::Attention, Internal,
              "attention_geometry: node is " << op_name(node.kind));
  std::vector<Shape> s;
  const size_t first = backward ? 1 : 0, last = backward ? node.inputs.size() - 2 : node.inputs.size();
  for (size_t i = first; i < last; ++i) s.push_back(graph.value(node.inputs[i]).type.shape);
  return attention_geometry(s, node.attrs);
}

int64_t batch_offset(const StridedOperand& o, const Shape& batch, int64_t t) {
  int64_t off = o.offset;
  for (int d = batch.rank() - 1; d >= 0; --d) {
    off += (t % batch[d]) * o.strides[size_t(d)];
    t /= batch[d];
  }
  return off;
}

int64_t mask_batch_offset(const AttentionGeometry& g, int64_t t) {
  int64_t off = 0;
  for (int d = g.batch.rank() - 1; d >= 0; --d) {
    off += (t % g.batch[d]) * g.mask_strides[size_t(d)];
    t /= g.batch[d];
  }
  return off;
}

int64_t mask_row_offset(const AttentionGeometry& g, int64_t t, int64_t i) {
  return mask_batch_offset(g, t) + i * g.mask_strides[g.mask_strides.size() - 2];
}

void append_view(std::vector<int64_t>& views, const StridedOperand* o) {
  if (o == nullptr || o->contiguous) {
    views.push_back(0);
    return;
  }
  views.push_back(o->shape.rank());
  views.push_back(o->offset);
  for (int64_t s : o->shape) views.push_back(s);
  for (int64_t s : o->strides) views.push_back(s);
}

}  // namespace frost
