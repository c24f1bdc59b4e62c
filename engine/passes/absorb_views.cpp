// View absorption: the attention op reads its operands through strided maps (engine/attention_geometry.h),
// so the layout copies that feed it — splitting heads, taking q/k/v out of the packed projection, grouping
// tokens by frame or by patch position, the CLS row — need not be materialised. This pass walks each
// operand of every attention (and attention_backward) node up through reshape / permute / slice / expand /
// contiguous to the first value that is really computed, composes the index map on the way, and rewires the
// operand to that value with the map in attrs.views. The copies it bypassed die by dead-code elimination
// when nothing else reads them.
//
//   qkv (B, L, 3C) ─► reshape (B, L, 3, H, D) ─► permute (3, B, H, L, D) ─► slice [0:1] ─► reshape ─► q
//   ⇒  attention reads q[b, h, l, d] at qkv + b·3LC + l·3C + h·D + d  (offset 0, strides (3LC, D, 3C, 1))
//
// It runs in compile() after fusion and after autodiff (the backward rule differentiates the unabsorbed
// op: its gradients flow back through the layout ops as usual). A reshape that cannot be expressed on the
// strided map so far (merging dims that are not adjacent in memory) ends the walk there: that reshape's
// output is a contiguous buffer and becomes the root.
#include <optional>

#include "engine/attention_geometry.h"
#include "engine/passes/passes.h"

namespace frost {
namespace {

bool is_layout(OpKind k) {
  return k == OpKind::Reshape || k == OpKind::Permute || k == OpKind::Slice || k == OpKind::Expand ||
         k == OpKind::Contiguous;
}

StridedOperand contiguous(const Shape& s) {
  StridedOperand o;
  o.shape = s;
  o.strides.assign(size_t(s.rank()), 1);
  for (int d = s.rank() - 2; d >= 0; --d) o.strides[size_t(d)] = o.strides[size_t(d + 1)] * s[d + 1];
  return o;
}

// The strided map of reshape(o, to), if there is one (PyTorch's view rule: each run of new dims must
// cover a run of old dims that are contiguous with one another).
std::optional<StridedOperand> reshape_map(const StridedOperand& o, const Shape& to) {
  StridedOperand r;
  r.shape = to;
  r.offset = o.offset;
  r.strides.assign(size_t(to.rank()), 0);
  if (o.shape.rank() == 0) return to.numel() == 1 ? std::optional(contiguous(to)) : std::nullopt;
  int view_d = to.rank() - 1;
  int64_t chunk_stride = o.strides.back(), tensor_numel = 1, view_numel = 1;
  for (int d = o.shape.rank() - 1; d >= 0; --d) {
    tensor_numel *= o.shape[d];
    const bool chunk_ends =
        d == 0 || (o.shape[d - 1] != 1 && o.strides[size_t(d - 1)] != tensor_numel * chunk_stride);
    if (!chunk_ends) continue;
    while (view_d >= 0 && (view_numel < tensor_numel || to[view_d] == 1)) {
      r.strides[size_t(view_d)] = view_numel * chunk_stride;
      view_numel *= to[view_d];
      --view_d;
    }
    if (view_numel != tensor_numel) return std::nullopt;
    if (d > 0) {
      chunk_stride = o.strides[size_t(d - 1)];
      tensor_numel = 1;
      view_numel = 1;
    }
  }
  if (view_d != -1) return std::nullopt;
  r.contiguous = false;
  return r;
}

// Applies one layout node to a map; nullopt when the map cannot follow (an unviewable reshape).
std::optional<StridedOperand> apply(const Graph& g, const Node& n, const StridedOperand& in) {
  const Shape& out = g.value(n.outputs[0]).type.shape;
  StridedOperand r = in;
  r.contiguous = false;
  switch (n.kind) {
    case OpKind::Contiguous:
      return r;
    case OpKind::Reshape:
      return reshape_map(in, out);
    case OpKind::Permute:
      for (int d = 0; d < out.rank(); ++d) r.strides[size_t(d)] = in.strides[size_t(n.attrs.axes[size_t(d)])];
      r.shape = out;
      return r;
    case OpKind::Slice:
      r.offset += n.attrs.start * in.strides[size_t(n.attrs.axis)];
      r.strides[size_t(n.attrs.axis)] *= n.attrs.step;
      r.shape = out;
      return r;
    case OpKind::Expand: {
      r.shape = out;
      r.strides.assign(size_t(out.rank()), 0);
      const int lead = out.rank() - in.shape.rank();
      for (int d = 0; d < in.shape.rank(); ++d)
        r.strides[size_t(d + lead)] = in.shape[d] == out[d + lead] ? in.strides[size_t(d)] : 0;
      return r;
    }
    default:
      return std::nullopt;
  }
}

// The operand `v` as a strided read of the value its layout chain starts from.
std::pair<ValueId, StridedOperand> trace(const Graph& g, ValueId v) {
  std::vector<NodeId> chain;  // from v up
  ValueId root = v;
  while (true) {
    const NodeId p = g.value(root).producer;
    if (p == kNoId || !is_layout(g.node(p).kind) ||
        g.value(g.node(p).inputs[0]).type.dtype != g.value(v).type.dtype)
      break;
    chain.push_back(p);
    root = g.node(p).inputs[0];
  }
  StridedOperand map = contiguous(g.value(root).type.shape);
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    const Node& n = g.node(*it);
    std::optional<StridedOperand> next = apply(g, n, map);
    if (next) {
      map = *next;
    } else {  // restart at this reshape's (contiguous) output
      root = n.outputs[0];
      map = contiguous(g.value(root).type.shape);
    }
  }
  if (root == v) map.contiguous = true;
  return {root, map};
}

}  // namespace

int absorb_views(Graph& g) {
  int rewired = 0;
  for (NodeId id = 0; id < g.num_nodes(); ++id) {
    const Node& node = g.node(id);
    if ((node.kind != OpKind::Attention && node.kind != OpKind::AttentionBackward) ||
        !node.attrs.views.empty())
      continue;
    const int first = node.kind == OpKind::AttentionBackward ? 1 : 0;
    const int operands = node.attrs.prefix ? 5 : 3;
    std::vector<ValueId> inputs = node.inputs;
    Attrs attrs = node.attrs;
    int changed = 0;
    for (int i = 0; i < operands; ++i) {
      ValueId& in = inputs[size_t(first + i)];
      if (g.value(in).type.shape.numel() == 0) {
        append_view(attrs.views, nullptr);
        continue;
      }
      auto [root, map] = trace(g, in);
      if (root != in) {
        in = root;
        ++changed;
      }
      append_view(attrs.views, map.contiguous ? nullptr : &map);
    }
    if (changed == 0) continue;
    g.rewrite_node(id, node.kind, std::move(inputs), std::move(attrs));
    rewired += changed;
  }
  return rewired;
}

}  // namespace frost
