#include <set>
#include <string>

#include "engine/error.h"
#include "engine/op_registry.h"
#include "engine/passes/passes.h"

namespace frost {

std::vector<ValueId> alias_roots(const Graph& graph) {
  std::vector<ValueId> root(graph.num_values());
  for (ValueId v = 0; v < graph.num_values(); ++v) root[v] = v;
  for (const Node& node : graph.nodes()) {
    int view = op_registry().row(node.kind).view_of_input;
    if (view >= 0) root[node.outputs[0]] = root[node.inputs[size_t(view)]];
  }
  return root;
}

void verify(const Graph& graph) {
  std::set<std::string> names;
  for (ValueId v = 0; v < graph.num_values(); ++v) {
    const Value& value = graph.value(v);
    if (value.role == ValueRole::Intermediate) {
      FROST_CHECK(value.producer < graph.num_nodes(), Internal,
                  "verify: " << graph.describe_value(v) << " has no producing node");
      continue;
    }
    FROST_CHECK(!value.name.empty() && names.insert(value.name).second, InvalidArgument,
                "verify: input/state name '" << value.name << "' is empty or used twice");
  }

  std::vector<ValueId> root = alias_roots(graph);
  std::vector<NodeId> assigned_at(graph.num_values(), kNoId);  // per state value: its assign node
  for (NodeId n = 0; n < graph.num_nodes(); ++n) {
    const Node& node = graph.node(n);
    const OpRow& row = op_registry().row(node.kind);
    std::vector<TensorType> in_types;
    for (ValueId v : node.inputs) {
      FROST_CHECK(v < graph.num_values(), Internal,
                  "verify: " << op_name(node.kind) << " node " << n << " reads value " << v
                             << ", which does not exist");
      const Value& value = graph.value(v);
      FROST_CHECK(value.producer == kNoId || value.producer < n, Internal,
                  "verify: " << graph.describe_node(n) << " reads " << graph.describe_value(v)
                             << " before it is produced (nodes out of topological order)");
      // Reading a state after it was overwritten would see the new value: forbid it.
      ValueId r = root[v];
      FROST_CHECK(assigned_at[r] == kNoId, InvalidArgument,
                  "verify: " << graph.describe_node(n) << " reads state '" << graph.value(r).name
                             << "' after node " << assigned_at[r]
                             << " assigned it; read it before the update");
      in_types.push_back(value.type);
    }
    std::vector<TensorType> expected = row.infer(InferContext{node.kind, in_types, node.attrs});
    FROST_CHECK(expected.size() == node.outputs.size(), Internal,
                "verify: " << graph.describe_node(n) << " has " << node.outputs.size()
                           << " outputs, inference gives " << expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
      const Value& out = graph.value(node.outputs[i]);
      FROST_CHECK(out.type == expected[i] && out.producer == n && out.output_index == i, Internal,
                  "verify: output " << i << " of " << graph.describe_node(n) << " is " << to_string(out.type)
                                    << " but inference gives " << to_string(expected[i]));
    }
    // The ops that write persistent state through inputs: assign (its input 0), adamw (param, m, v).
    std::vector<size_t> written;
    if (node.kind == OpKind::Assign) written = {0};
    if (node.kind == OpKind::AdamW) written = {0, 2, 3};
    for (size_t w : written) {
      ValueId target = node.inputs[w];
      FROST_CHECK(graph.value(target).role == ValueRole::State, InvalidArgument,
                  "verify: " << graph.describe_node(n) << " writes " << graph.describe_value(target)
                             << ", which is not persistent state");
      assigned_at[target] = n;
    }
  }
  for (const GraphOutput& o : graph.outputs()) {
    FROST_CHECK(o.value < graph.num_values(), Internal,
                "verify: output '" << o.name << "' refers to no value");
  }
}

std::vector<bool> live_nodes(const Graph& graph) {
  std::vector<bool> value_needed(graph.num_values(), false);
  for (const GraphOutput& o : graph.outputs()) value_needed[o.value] = true;
  std::vector<bool> live(graph.num_nodes(), false);
  for (NodeId n = NodeId(graph.num_nodes()); n-- > 0;) {
    const Node& node = graph.node(n);
    bool needed = op_registry().row(node.kind).side_effect;
    for (ValueId v : node.outputs) needed = needed || value_needed[v];
    if (!needed) continue;
    live[n] = true;
    for (ValueId v : node.inputs) value_needed[v] = true;
  }
  return live;
}

}  // namespace frost
