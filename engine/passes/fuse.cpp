#include "engine/op_registry.h"
#include "engine/passes/passes.h"

namespace frost {

// Order matters: attention first (its matmuls must not become linears), layer_norm before the add in
// front of it joins, linear last (a residual add is never a bias add: both its operands are full-size).
FusionCounts fuse(Graph& graph, const FusionOptions& options) {
  FusionCounts counts;
  counts.attention = fuse_attention(graph);
  counts.layer_norm = fuse_layer_norm(graph);
  counts.add_layer_norm = fuse_add_layer_norm(graph);
  counts.linear = fuse_linear(graph);
  if (options.activation_epilogues) counts.linear_activation = fuse_linear_activation(graph);
  return counts;
}

std::map<std::string, int> count_fused_ops(const Graph& graph) {
  std::map<std::string, int> counts;
  const std::vector<bool> live = live_nodes(graph);
  for (NodeId n = 0; n < graph.num_nodes(); ++n) {
    const OpKind k = graph.node(n).kind;
    if (!live[n] || (k != OpKind::LayerNorm && k != OpKind::AddLayerNorm && k != OpKind::Attention &&
                     k != OpKind::Linear))
      continue;
    ++counts[op_name(k)];
    const Activation act = graph.node(n).attrs.activation;
    if (k == OpKind::Linear && act != Activation::None)
      ++counts[std::string(op_name(k)) + "/" + activation_name(act)];
  }
  return counts;
}

}  // namespace frost
