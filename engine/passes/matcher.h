// What the fusion passes share: looking up producers of a kind and checking that an intermediate stays
// inside a matched pattern (consumed only by its nodes, not a graph output).
#pragma once

#include <algorithm>
#include <initializer_list>
#include <vector>

#include "engine/graph.h"

namespace frost {

struct Matcher {
  const Graph& g;
  std::vector<std::vector<NodeId>> consumers;
  std::vector<bool> is_output;

  explicit Matcher(const Graph& graph)
      : g(graph), consumers(graph.consumers()), is_output(graph.num_values()) {
    for (const GraphOutput& o : graph.outputs()) is_output[o.value] = true;
  }

  // The node producing v, if it is `kind`.
  const Node* producer(ValueId v, OpKind kind) const {
    const NodeId p = g.value(v).producer;
    if (p == kNoId) return nullptr;
    const Node& n = g.node(p);
    return n.kind == kind ? &n : nullptr;
  }
  // v is consumed only by nodes in `allowed` (each consumer counted once per use) and is not an output.
  bool internal(ValueId v, std::initializer_list<const Node*> allowed) const {
    if (is_output[v]) return false;
    for (NodeId c : consumers[v]) {
      const Node* n = &g.node(c);
      if (std::find(allowed.begin(), allowed.end(), n) == allowed.end()) return false;
    }
    return true;
  }
  bool last_axis_keepdim_mean(const Node* n) const {
    if (n == nullptr || n->kind != OpKind::Mean || !n->attrs.keepdim || n->attrs.axes.size() != 1)
      return false;
    const int64_t rank = g.value(n->inputs[0]).type.shape.rank();
    return n->attrs.axes[0] == rank - 1 || n->attrs.axes[0] == -1;
  }
};

}  // namespace frost
