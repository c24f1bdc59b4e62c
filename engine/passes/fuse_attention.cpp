// Attention fusion: the canonical sequence model code emits (model/nn.cpp nn::attention, DESIGN "canonical
// sequences") becomes one attention op, whose kernels never materialise the score matrix and whose backward
// recomputes the probabilities from the saved logsumexp.
//
//   q ─► [scale α] ─► matmul(·, k, trans_b) ─► [scale β] ─► [add mask | masked fill] ─► softmax
//     ─► [dropout] ─► matmul(·, v)
//
//   ⇒  attention(q, k, v[, mask][, offset]; scale = α·β, dropout rate and key) → (out, logsumexp)
//
// The mask is a float bias added on either side, or a masked fill: where(mask u8, fill, scores) (fills where
// the mask is nonzero, torch's masked_fill) or where(mask, scores, fill) (where it is zero), the fill a
// scalar constant carried in attrs.fill.
//
// The video model's form, where one key/value row (the CLS token's) is concatenated in front of every
// group's keys and values, also fuses the concatenations; the repeated rows are then never built:
//
//   k = concat([expand(pk), kg], axis -2),  v = concat([expand(pv), vg], axis -2)
//   ⇒  attention(q, kg, vg, pk, pv[, mask]) with pk/pv broadcast over the batch dims where theirs are 1
//
// Preconditions: matmuls over the last two dims with q, k, v of one rank and equal batch dims (no
// broadcasting between them); the mask bias (either operand of the add) broadcasts to the scores; every
// intermediate (α·q, scores, β·scores, + mask, probabilities, the concatenations) consumed only inside the
// pattern and not a graph output; all of one floating dtype. The final matmul keeps its value id.
#include <algorithm>

#include "engine/attention_geometry.h"
#include "engine/error.h"
#include "engine/passes/matcher.h"
#include "engine/passes/passes.h"

namespace frost {
namespace {

bool plain_matmul(const Node* n, bool trans_b) {
  return n != nullptr && !n->attrs.trans_a && n->attrs.trans_b == trans_b;
}

struct Prefix {
  ValueId keys = kNoId, values = kNoId, prefix_k = kNoId, prefix_v = kNoId;
  const Node *k_concat = nullptr, *v_concat = nullptr;
};

// k = concat([pk, kg], -2) and v = concat([pv, vg], -2), each consumed only by its matmul: the prefix form.
// A prefix made by expand is read before the expand (broadcast in the kernel instead).
Prefix match_prefix(const Matcher& m, ValueId k, ValueId v, const Node* scores, const Node* out) {
  Prefix p;
  const Node* kc = m.producer(k, OpKind::Concat);
  const Node* vc = m.producer(v, OpKind::Concat);
  if (kc == nullptr || vc == nullptr || kc->inputs.size() != 2 || vc->inputs.size() != 2) return p;
  const int rank = m.g.value(k).type.shape.rank();
  if (kc->attrs.axis != rank - 2 || vc->attrs.axis != rank - 2 || !m.internal(k, {scores}) ||
      !m.internal(v, {out}))
    return p;
  auto unexpanded = [&](ValueId x) {
    const Node* e = m.producer(x, OpKind::Expand);
    if (e == nullptr) return x;
    const Shape &from = m.g.value(e->inputs[0]).type.shape, &to = m.g.value(x).type.shape;
    if (from.rank() != to.rank() || from[-1] != to[-1] || from[-2] != to[-2]) return x;
    return e->inputs[0];
  };
  p = {kc->inputs[1], vc->inputs[1], unexpanded(kc->inputs[0]), unexpanded(vc->inputs[0]), kc, vc};
  return p;
}

}  // namespace

int fuse_attention(Graph& g) {
  int fused = 0;
  const Matcher m(g);
  std::vector<bool> consumed(g.num_nodes(), false);

  for (NodeId id = 0; id < g.num_nodes(); ++id) {
    const Node& out_mm = g.node(id);
    if (out_mm.kind != OpKind::MatMul || !plain_matmul(&out_mm, false) || consumed[id]) continue;
    ValueId probs = out_mm.inputs[0];
    const ValueId v_full = out_mm.inputs[1];
    // Dropout of the probabilities (training): softmax → dropout → matmul, its rate, key and offset kept.
    const Node* drop = m.producer(probs, OpKind::Dropout);
    if (drop != nullptr) {
      if (!m.internal(probs, {&out_mm}) || drop->attrs.scalar <= 0) continue;
      probs = drop->inputs[0];
    }
    const Node* softmax = m.producer(probs, OpKind::Softmax);
    if (softmax == nullptr || !m.internal(probs, {drop != nullptr ? drop : &out_mm})) continue;
    // Walk back from the softmax input: [add mask] ← [scale β] ← matmul(q', k, trans_b) ← [scale α].
    ValueId s = softmax->inputs[0], mask = kNoId;
    std::vector<const Node*> members = {softmax};
    if (drop != nullptr) members.push_back(drop);
    auto is_scores = [&](ValueId x) {
      return m.producer(x, OpKind::Scale) != nullptr || plain_matmul(m.producer(x, OpKind::MatMul), true);
    };
    Attrs attrs;
    bool filling = false;  // a u8 mask (masked fill) rather than a bias
    if (const Node* add = m.producer(s, OpKind::Add)) {
      if (!m.internal(s, {softmax})) continue;
      const int side = is_scores(add->inputs[0]) ? 0 : is_scores(add->inputs[1]) ? 1 : -1;
      if (side < 0) continue;
      mask = add->inputs[size_t(1 - side)];
      s = add->inputs[size_t(side)];
      members.push_back(add);
    } else if (const Node* where = m.producer(s, OpKind::Where)) {
      // Masked fill: where(mask, fill, scores) fills where the mask is nonzero (masked_fill), where(mask,
      // scores, fill) where it is zero; the fill a scalar, the scores not broadcast up by the mask.
      if (!m.internal(s, {softmax})) continue;
      auto scalar_fill = [&](ValueId x) {
        const Node* f = m.producer(x, OpKind::Fill);
        return f != nullptr && g.value(x).type.shape.numel() == 1 &&
                       g.value(x).type.dtype == g.value(s).type.dtype
                   ? f
                   : nullptr;
      };
      const Node* fill = nullptr;
      if ((fill = scalar_fill(where->inputs[1])) != nullptr && is_scores(where->inputs[2])) {
        s = where->inputs[2];
      } else if ((fill = scalar_fill(where->inputs[2])) != nullptr && is_scores(where->inputs[1])) {
        s = where->inputs[1];
        attrs.fill_where_zero = true;
      } else {
        continue;
      }
      if (g.value(s).type != g.value(where->outputs[0]).type) continue;
      attrs.fill = fill->attrs.scalar;
      filling = true;
      mask = where->inputs[0];
      members.push_back(where);
    }
    double scale = 1.0;
    const Node* consumer = members.back() == drop ? softmax : members.back();
    if (const Node* beta = m.producer(s, OpKind::Scale)) {
      if (!m.internal(s, {consumer})) continue;
      scale *= beta->attrs.scalar;
      members.push_back(beta);
      consumer = beta;
      s = beta->inputs[0];
    }
    const Node* scores = m.producer(s, OpKind::MatMul);
    if (!plain_matmul(scores, true) || !m.internal(s, {consumer})) continue;
    members.push_back(scores);
    ValueId q = scores->inputs[0];
    const ValueId k_full = scores->inputs[1];
    if (const Node* alpha = m.producer(q, OpKind::Scale); alpha != nullptr && m.internal(q, {scores})) {
      scale *= alpha->attrs.scalar;
      members.push_back(alpha);
      q = alpha->inputs[0];
    }
    // Types: one floating dtype, q/k/v of one rank with equal batch dims (matmul would broadcast them).
    const TensorType &qt = g.value(q).type, &kt = g.value(k_full).type, &vt = g.value(v_full).type;
    if (!is_floating(qt.dtype) || kt.dtype != qt.dtype || vt.dtype != qt.dtype || qt.shape.rank() < 2 ||
        kt.shape.rank() != qt.shape.rank() || vt.shape.rank() != qt.shape.rank())
      continue;
    if (mask != kNoId && g.value(mask).type.dtype != (filling ? DType::U8 : qt.dtype)) continue;
    bool same_batch = true;
    for (int d = 0; d < qt.shape.rank() - 2; ++d)
      same_batch = same_batch && kt.shape[d] == qt.shape[d] && vt.shape[d] == qt.shape[d];
    if (!same_batch) continue;

    const Prefix prefix = match_prefix(m, k_full, v_full, scores, &out_mm);
    if (prefix.k_concat != nullptr) {
      members.push_back(prefix.k_concat);
      members.push_back(prefix.v_concat);
    }
    attrs.scalar = scale;
    attrs.prefix = prefix.k_concat != nullptr;
    attrs.masked = mask != kNoId;
    std::vector<ValueId> inputs = {q, attrs.prefix ? prefix.keys : k_full,
                                   attrs.prefix ? prefix.values : v_full};
    if (attrs.prefix) {
      inputs.push_back(prefix.prefix_k);
      inputs.push_back(prefix.prefix_v);
    }
    if (attrs.masked) inputs.push_back(mask);
    if (drop != nullptr) {
      attrs.dropout = drop->attrs.scalar;
      attrs.seed = drop->attrs.seed;
      inputs.push_back(drop->inputs[1]);
    }
    // The op's own shape rules (the mask's broadcast, the prefix's) decide the rest.
    std::vector<Shape> shapes;
    for (ValueId in : inputs) shapes.push_back(g.value(in).type.shape);
    try {
      attention_geometry(shapes, attrs);
    } catch (const Error&) {
      continue;
    }
    auto node_id = [&](const Node* n) { return size_t(n - &g.node(0)); };  // members point into g's nodes
    if (std::any_of(members.begin(), members.end(), [&](const Node* n) { return consumed[node_id(n)]; }))
      continue;
    for (const Node* n : members) consumed[node_id(n)] = true;
    consumed[id] = true;
    g.rewrite_node(id, OpKind::Attention, std::move(inputs), attrs);
    ++fused;
  }
  return fused;
}

}  // namespace frost
