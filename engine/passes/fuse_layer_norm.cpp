// LayerNorm fusion: the canonical decomposition model code emits (model/nn.cpp, DESIGN "canonical
// sequences") becomes one LayerNorm op, whose kernels normalise each row in one pass and whose backward
// reuses the saved mean and rstd.
//
//        x ─┬──────────────► sub ─► d ─┬─► mul(d, d) ─► mean ─► var ─► add(·, eps) ─► rsqrt ─► rstd
//           └─► mean ─► mu ──┘         │                                 ▲ fill(eps)           │
//                                      └──────────────────────────────► mul(d, rstd) ◄─────────┘
//                                                                          │
//                                                          mul(·, w) ─► add(·, b) ─► y
//
//   ⇒  layer_norm(x, w, b; eps) → (y, mean, rstd)
//
// Preconditions: both means over the last axis with keepdim; eps a scalar fill; w and b of shape (C) with
// C the last dim of x; f32/f64 alike; every intermediate (mu, d, d², var, var + eps, rstd, d·rstd,
// d·rstd·w) consumed only inside the pattern and not a graph output. The final add keeps its value id, so
// consumers and handles of y are untouched; the other nodes lose their consumers and DCE drops them.
#include <algorithm>

#include "engine/passes/matcher.h"
#include "engine/passes/passes.h"

namespace frost {

int fuse_layer_norm(Graph& g) {
  int fused = 0;
  const Matcher m(g);
  std::vector<bool> consumed(g.num_nodes(), false);  // nodes already part of a match

  for (NodeId id = 0; id < g.num_nodes(); ++id) {
    const Node& add_b = g.node(id);
    if (add_b.kind != OpKind::Add) continue;
    // add(t3, b), t3 = mul(t2, w), t2 = mul(d, rstd)
    const Node* mul_w = m.producer(add_b.inputs[0], OpKind::Mul);
    if (mul_w == nullptr) continue;
    const Node* mul_r = m.producer(mul_w->inputs[0], OpKind::Mul);
    if (mul_r == nullptr) continue;
    const ValueId d = mul_r->inputs[0], rstd_v = mul_r->inputs[1];
    const Node* rsqrt = m.producer(rstd_v, OpKind::Rsqrt);
    const Node* sub = m.producer(d, OpKind::Sub);
    if (rsqrt == nullptr || sub == nullptr) continue;
    const Node* add_eps = m.producer(rsqrt->inputs[0], OpKind::Add);
    if (add_eps == nullptr) continue;
    const Node* var = m.producer(add_eps->inputs[0], OpKind::Mean);
    const Node* eps = m.producer(add_eps->inputs[1], OpKind::Fill);
    if (!m.last_axis_keepdim_mean(var) || eps == nullptr ||
        g.value(add_eps->inputs[1]).type.shape.numel() != 1)
      continue;
    const Node* square = m.producer(var->inputs[0], OpKind::Mul);
    if (square == nullptr || square->inputs[0] != d || square->inputs[1] != d) continue;
    const ValueId x = sub->inputs[0];
    const Node* mu = m.producer(sub->inputs[1], OpKind::Mean);
    if (!m.last_axis_keepdim_mean(mu) || mu->inputs[0] != x) continue;
    // Shapes: w and b are (C); y has x's shape.
    const ValueId w = mul_w->inputs[1], b = add_b.inputs[1];
    const Shape xs = g.value(x).type.shape;
    const int64_t C = xs[xs.rank() - 1];
    if (g.value(w).type.shape != Shape{C} || g.value(b).type.shape != Shape{C} ||
        g.value(add_b.outputs[0]).type != g.value(x).type)
      continue;
    // Every intermediate stays inside the pattern.
    if (!m.internal(sub->inputs[1], {sub}) || !m.internal(d, {square, mul_r}) ||
        !m.internal(var->inputs[0], {var}) || !m.internal(add_eps->inputs[0], {add_eps}) ||
        !m.internal(rsqrt->inputs[0], {rsqrt}) || !m.internal(rstd_v, {mul_r}) ||
        !m.internal(mul_w->inputs[0], {mul_w}) || !m.internal(add_b.inputs[0], {&add_b}))
      continue;
    const NodeId members[] = {g.value(sub->inputs[1]).producer,   g.value(d).producer,
                              g.value(var->inputs[0]).producer,   g.value(add_eps->inputs[0]).producer,
                              g.value(rsqrt->inputs[0]).producer, g.value(rstd_v).producer,
                              g.value(mul_w->inputs[0]).producer, g.value(add_b.inputs[0]).producer};
    if (std::any_of(std::begin(members), std::end(members), [&](NodeId n) { return consumed[n]; })) continue;
    Attrs attrs;
    attrs.scalar = g.node(g.value(add_eps->inputs[1]).producer).attrs.scalar;
    for (NodeId n : members) consumed[n] = true;
    consumed[id] = true;
    g.rewrite_node(id, OpKind::LayerNorm, {x, w, b}, attrs);
    ++fused;
  }
  return fused;
}

// Residual add + LayerNorm (after fuse_layer_norm): the add in front of a layer_norm joins it.
//
//        a ─┐                                    a ─┐
//           ├─► add ─► s ─┬─► layer_norm ─► y   ⇒      ├─► add_layer_norm ─► (s, y', mean', rstd')
//        b ─┘             └─► later uses        b ─┘                          └─► later uses
//
// The add node becomes add_layer_norm: s keeps its value id (the residual stream after it — pre-LN's
// x = x + f(x) feeding the next residual add — and, in a differentiated graph, the layer_norm backward
// still read it), and the sum may overwrite a summand that dies there, as the add did. The layer_norm's
// outputs move to the new y', mean', rstd' (their consumers are rewired) and the layer_norm node, left
// without consumers, goes to DCE. The summand with no later use goes first (the in-place input). The
// normalisation now runs where the add was: in the model nothing lies between them (the layer norm's
// parameters are sources), elsewhere y' may live longer than y did.
// Preconditions: a and b of s's shape (no broadcasting: the kernel adds rows); the weight and bias made
// before the add (parameters are sources, so they are); no layer_norm output is a graph output (outputs
// name value ids, which cannot move).
int fuse_add_layer_norm(Graph& g) {
  int fused = 0;
  for (NodeId id = 0; id < g.num_nodes(); ++id) {
    if (g.node(id).kind != OpKind::LayerNorm) continue;
    // Consumers and liveness afresh for each candidate: a rewrite moves values' consumers, and the
    // decomposition fuse_layer_norm replaced (dead now) still reads s.
    const Matcher m(g);
    const std::vector<bool> live = live_nodes(g);
    if (!live[id]) continue;
    const Node ln = g.node(id);
    const ValueId s = ln.inputs[0];
    const Node* add = m.producer(s, OpKind::Add);
    if (add == nullptr) continue;
    const NodeId add_id = g.value(s).producer;
    const TensorType& st = g.value(s).type;
    ValueId a = add->inputs[0], b = add->inputs[1];
    if (g.value(a).type != st || g.value(b).type != st) continue;
    auto made_before_add = [&](ValueId v) {
      return g.value(v).producer == kNoId || g.value(v).producer < add_id;
    };
    if (!made_before_add(ln.inputs[1]) || !made_before_add(ln.inputs[2])) continue;
    if (std::any_of(ln.outputs.begin(), ln.outputs.end(), [&](ValueId v) { return m.is_output[v]; }))
      continue;
    auto used_later = [&](ValueId v) {
      return std::any_of(m.consumers[v].begin(), m.consumers[v].end(),
                         [&](NodeId c) { return live[c] && c > add_id; });
    };
    if (used_later(a) && !used_later(b)) std::swap(a, b);
    g.rewrite_node(add_id, OpKind::AddLayerNorm, {a, b, ln.inputs[1], ln.inputs[2]}, ln.attrs);
    for (size_t k = 0; k < ln.outputs.size(); ++k) {
      const ValueId from = ln.outputs[k], to = g.node(add_id).outputs[k + 1];
      for (NodeId c : m.consumers[from]) {
        std::vector<ValueId> inputs = g.node(c).inputs;
        std::replace(inputs.begin(), inputs.end(), from, to);
        g.rewrite_node(c, g.node(c).kind, std::move(inputs), g.node(c).attrs);
      }
    }
    ++fused;
  }
  return fused;
}

}  // namespace frost
