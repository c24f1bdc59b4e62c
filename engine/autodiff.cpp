#include "engine/autodiff.h"

#include <algorithm>

#include "engine/error.h"
#include "engine/op_registry.h"

namespace frost {

BackwardContext::BackwardContext(Graph& graph, NodeId node, std::vector<ValueId> output_grads,
                                 std::vector<bool> needs_grad)
    : graph_(graph),
      node_id_(node),
      node_(graph.node(node)),
      output_grads_(std::move(output_grads)),
      needs_grad_(std::move(needs_grad)),
      input_grads_(node_.inputs.size(), kNoId) {}

Tensor BackwardContext::input(int i) {
  return Tensor{&graph_, node_.inputs.at(size_t(i))};
}
Tensor BackwardContext::output(int i) {
  return Tensor{&graph_, node_.outputs.at(size_t(i))};
}
Tensor BackwardContext::grad_output(int i) {
  ValueId g = output_grads_.at(size_t(i));
  return g == kNoId ? Tensor{} : Tensor{&graph_, g};
}

void BackwardContext::set_grad_input(int i, Tensor grad) {
  ValueId in = node_.inputs.at(size_t(i));
  FROST_CHECK(
      grad.valid() && grad.graph == &graph_, Internal,
      "backward rule of " << graph_.describe_node(node_id_) << " set an invalid gradient for input " << i);
  FROST_CHECK(grad.type() == graph_.value(in).type, Internal,
              "backward rule of " << graph_.describe_node(node_id_) << " gave input " << i
                                  << " a gradient of type " << to_string(grad.type()) << "; the input is "
                                  << to_string(graph_.value(in).type));
  input_grads_[size_t(i)] = grad.id;
}

std::vector<Tensor> gradients(Tensor loss, std::span<const Tensor> wrt,
                              const std::function<void(size_t, Tensor)>& on_complete) {
  FROST_CHECK(loss.valid(), InvalidArgument, "gradients: the loss is an empty Tensor");
  Graph& g = *loss.graph;
  FROST_CHECK(loss.shape().numel() == 1 && is_floating(loss.dtype()), InvalidArgument,
              "gradients: the loss must be one floating-point element, got " << g.describe_value(loss.id));
  const size_t num_forward_nodes = g.num_nodes();

  // Forward sweep: which values depend on a parameter.
  std::vector<bool> depends(g.num_values(), false);
  for (const Tensor& w : wrt) {
    FROST_CHECK(w.valid() && w.graph == &g, InvalidArgument,
                "gradients: a parameter is not a value of the loss's graph");
    depends[w.id] = true;
  }
  for (NodeId n = 0; n < num_forward_nodes; ++n) {
    const Node& node = g.node(n);
    bool any = false;
    for (ValueId v : node.inputs) any = any || depends[v];
    if (!any) continue;
    if (op_registry().row(node.kind).grad == Grad::None) continue;  // gradient stops here by definition
    for (ValueId v : node.outputs) depends[v] = true;
  }

  // Backward sweep in reverse node order; grad[v] accumulates d(loss)/d(v).
  std::vector<ValueId> grad(g.num_values(), kNoId);
  Attrs ones;
  ones.shape = loss.shape();
  ones.dtype = loss.dtype();
  ones.scalar = 1.0;
  grad[loss.id] = g.add_node(OpKind::Fill, {}, ones)[0];

  // Each parameter's first consumer: once its backward is appended, the parameter's gradient is complete.
  // A consumer through a view counts by the view's producer (itself a consumer of the parameter).
  std::vector<std::vector<size_t>> completes_at(num_forward_nodes);
  if (on_complete) {
    for (size_t i = 0; i < wrt.size(); ++i) {
      for (NodeId n = 0; n < num_forward_nodes; ++n) {
        const std::vector<ValueId>& in = g.node(n).inputs;
        if (std::find(in.begin(), in.end(), wrt[i].id) != in.end()) {
          completes_at[n].push_back(i);
          break;
        }
      }
    }
  }
  auto complete = [&](NodeId n) {
    for (size_t i : completes_at[n])
      if (grad[wrt[i].id] != kNoId) on_complete(i, Tensor{&g, grad[wrt[i].id]});
  };

  const Value& loss_value = g.value(loss.id);
  NodeId last = loss_value.producer == kNoId ? kNoId : loss_value.producer;
  auto backward = [&](NodeId n) {
    const Node node = g.node(n);  // copy: rules append nodes
    std::vector<ValueId> out_grads;
    bool any_out = false;
    for (ValueId v : node.outputs) {
      out_grads.push_back(grad[v]);
      any_out = any_out || grad[v] != kNoId;
    }
    std::vector<bool> needs;
    bool any_in = false;
    for (ValueId v : node.inputs) {
      needs.push_back(depends[v]);
      any_in = any_in || depends[v];
    }
    if (!any_out || !any_in) return;
    const OpRow& row = op_registry().row(node.kind);
    if (row.grad == Grad::None) return;
    FROST_CHECK(row.grad == Grad::Rule && row.backward != nullptr, Unsupported,
                "autodiff: op '" << row.name << "' has no backward rule"
                                 << (row.grad == Grad::Unsupported
                                         ? " (it is a backward helper: second derivatives are not supported)"
                                         : "")
                                 << ", but " << g.describe_node(n)
                                 << " lies between a parameter and the loss");
    BackwardContext ctx(g, n, std::move(out_grads), std::move(needs));
    row.backward(ctx);
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      ValueId gi = ctx.input_grads()[i];
      if (gi == kNoId || !depends[node.inputs[i]]) continue;
      ValueId& acc = grad[node.inputs[i]];
      acc = acc == kNoId ? gi : g.add_node(OpKind::Add, {acc, gi})[0];  // fan-in
    }
  };
  for (NodeId n = last; n != kNoId && n < num_forward_nodes; n = n == 0 ? kNoId : n - 1) {
    backward(n);
    complete(n);
  }

  std::vector<Tensor> out;
  for (const Tensor& w : wrt) out.push_back(grad[w.id] == kNoId ? Tensor{} : Tensor{&g, grad[w.id]});
  return out;
}

}  // namespace frost
