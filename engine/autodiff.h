// Autodiff as a graph transform (DESIGN principle 2): appends the backward nodes of a scalar loss to the
// same graph, so forward and backward are one static graph with one memory plan. Fan-in is accumulated
// with add nodes. An op on a path from a parameter to the loss that has no backward rule is
// an error naming the op and node — never a silent zero gradient.
//
//   Tensor loss = ...;                                   // numel 1, floating point
//   std::vector<Tensor> g = gradients(loss, {w1, w2});   // g[i] has w_i's type; invalid if w_i is unused
//   g.output("grad/w1", g[0]);
#pragma once

#include <functional>
#include <span>
#include <vector>

#include "engine/graph.h"

namespace frost {

// What a backward rule (OpRow::backward) sees: the forward node, and the gradients of its outputs.
class BackwardContext {
 public:
  BackwardContext(Graph& graph, NodeId node, std::vector<ValueId> output_grads, std::vector<bool> needs_grad);

  Graph& graph() { return graph_; }
  NodeId node_id() const { return node_id_; }
  const Attrs& attrs() const { return node_.attrs; }
  int num_inputs() const { return int(node_.inputs.size()); }
  Tensor input(int i);
  Tensor output(int i);
  // The gradient of the loss with respect to output i; an invalid Tensor when output i does not reach the
  // loss.
  Tensor grad_output(int i);
  // Whether input i depends on a parameter (rules skip the others).
  bool needs_grad(int i) const { return needs_grad_.at(size_t(i)); }
  // Sets the gradient of input i; its type must equal the input's (broadcasting is the rule's job).
  void set_grad_input(int i, Tensor grad);
  const std::vector<ValueId>& input_grads() const { return input_grads_; }

 private:
  Graph& graph_;
  NodeId node_id_;
  Node node_;  // a copy: rules add nodes, which may move the graph's node vector
  std::vector<ValueId> output_grads_;
  std::vector<bool> needs_grad_;
  std::vector<ValueId> input_grads_;
};

// Appends backward nodes for d(loss)/d(wrt[i]). `loss` must hold one element of a floating type.
// `on_complete(i, grad)`, when given, is called as soon as wrt[i]'s gradient is complete — after the
// backward of its first consumer, when no later backward node reads wrt[i] or a view of it — so nodes the
// caller appends there (an optimiser's update of wrt[i], a norm) run early and the gradient dies early:
// the memory planner sees a short life instead of one to the end of the backward pass.
std::vector<Tensor> gradients(Tensor loss, std::span<const Tensor> wrt,
                              const std::function<void(size_t, Tensor)>& on_complete = {});

}  // namespace frost
