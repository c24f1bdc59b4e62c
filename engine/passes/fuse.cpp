#include "engine/op_registry.h"
#include "engine/passes/passes.h"

namespace frost {

FusionCounts fuse(Graph& graph) {
  FusionCounts counts;
  counts.attention = fuse_attention(graph);
  counts.layer_norm = fuse_layer_norm(graph);
  return counts;
}

std::map<std::string, int> count_fused_ops(const Graph& graph) {
  std::map<std::string, int> counts;
  const std::vector<bool> live = live_nodes(graph);
  for (NodeId n = 0; n < graph.num_nodes(); ++n) {
    const OpKind k = graph.node(n).kind;
    if (live[n] && (k == OpKind::LayerNorm || k == OpKind::Attention)) ++counts[op_name(k)];
  }
  return counts;
}

}  // namespace frost
