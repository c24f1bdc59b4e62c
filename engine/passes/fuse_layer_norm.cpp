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

}  // namespace frost
