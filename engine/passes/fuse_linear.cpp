// Linear fusion: a matmul by a weight matrix plus a bias becomes one linear op, whose cpu kernel applies
// the bias (and an activation) as the GEMM's epilogue (oneDNN post-ops) instead of re-reading the output.
//
//   x ─► matmul(·, w [trans_b]) ─► m ─► add(m, bias) ─► z          ⇒  linear(x, w, bias) ─► z
//   linear(x, w, bias) ─► z ─► gelu | gelu_tanh ─► y               ⇒  linear(x, w, bias; gelu) ─► y
//
// Preconditions (bias): w of rank 2 (one weight for every row of x; batched matmuls, attention's, stay);
// x not transposed; the bias of shape (N) with N the output's last dim, on either side of the add; the add
// not broadcasting the product to a larger shape; m consumed only by the add and not a graph output.
// (Activation): z consumed only by the activation and not an output — in a differentiated graph the
// activation's backward reads z, so it never matches there; before autodiff the caller turns it off
// (FusionOptions::activation_epilogues), as the fused op keeps no pre-activation to differentiate.
// Rewritten nodes keep their value ids; the matmul (and the plain linear under an activation) lose their
// consumers and DCE drops them.
#include "engine/passes/matcher.h"
#include "engine/passes/passes.h"

namespace frost {

int fuse_linear(Graph& g) {
  int fused = 0;
  const Matcher m(g);
  for (NodeId id = 0; id < g.num_nodes(); ++id) {
    const Node& add = g.node(id);
    if (add.kind != OpKind::Add) continue;
    for (int side = 0; side < 2; ++side) {
      const ValueId mv = add.inputs[size_t(side)], bias = add.inputs[size_t(1 - side)];
      const Node* mm = m.producer(mv, OpKind::MatMul);
      if (mm == nullptr || mm->attrs.trans_a) continue;
      const TensorType& out = g.value(mv).type;
      if (g.value(mm->inputs[1]).type.shape.rank() != 2 || g.value(add.outputs[0]).type != out ||
          g.value(bias).type != TensorType{out.dtype, Shape{out.shape[-1]}} || !m.internal(mv, {&add}))
        continue;
      Attrs attrs;
      attrs.trans_b = mm->attrs.trans_b;
      g.rewrite_node(id, OpKind::Linear, {mm->inputs[0], mm->inputs[1], bias}, attrs);
      ++fused;
      break;
    }
  }
  return fused;
}

int fuse_linear_activation(Graph& g) {
  int fused = 0;
  const Matcher m(g);
  for (NodeId id = 0; id < g.num_nodes(); ++id) {
    const Node& act = g.node(id);
    if (act.kind != OpKind::Gelu && act.kind != OpKind::GeluTanh) continue;
    const Node* lin = m.producer(act.inputs[0], OpKind::Linear);
    if (lin == nullptr || lin->attrs.activation != Activation::None || !m.internal(act.inputs[0], {&act}))
      continue;
    Attrs attrs = lin->attrs;
    attrs.activation = act.kind == OpKind::Gelu ? Activation::Gelu : Activation::GeluTanh;
    g.rewrite_node(id, OpKind::Linear, lin->inputs, attrs);
    ++fused;
  }
  return fused;
}

}  // namespace frost
