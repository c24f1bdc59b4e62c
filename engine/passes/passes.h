// Graph passes that run before memory planning: verification, dead-code elimination, fusion (attention,
// LayerNorm, residual add + LayerNorm, matmul + bias [+ gelu]) and the absorption of layout copies into the
// attention op's strided reads.
//
//   verify(graph);                                  // throws naming the node on any broken invariant
//   std::vector<bool> live = live_nodes(graph);     // nodes needed by the outputs or by side effects
//   FusionCounts f = fuse(graph);                   // rewrites canonical sequences into fused ops, in place
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/graph.h"

namespace frost {

// Checks the invariants every later stage relies on: inputs exist and come earlier (topological order),
// output types equal what inference gives today, sources are named uniquely, outputs exist, and every
// assign writes a state value of its own type, at most once, after every read of that state.
void verify(const Graph& graph);

// Nodes that contribute to a graph output or have a side effect (assign), in node order.
std::vector<bool> live_nodes(const Graph& graph);

// For each value, the value whose bytes it shares: itself, or the base of a chain of views (reshape).
std::vector<ValueId> alias_roots(const Graph& graph);

// The fusion passes. Each rewrites the last node of a matched sequence into the fused op
// (Graph::rewrite_node: value ids and Tensor handles stay valid) and leaves the rest to dead-code
// elimination. Run them on a forward graph before autodiff, so the backward differentiates the fused ops;
// compile() runs them too (CompileOptions::fuse), where a sequence already differentiated no longer matches
// (its intermediates have backward consumers) and stays as it is.
struct FusionOptions {
  // Fold gelu into the linear before it. The fused op keeps no pre-activation, so it has no backward:
  // turn this off when fusing a graph that will be differentiated. compile() leaves it on (in a
  // differentiated graph the pre-activation feeds the gelu backward, so the pattern cannot match).
  bool activation_epilogues = true;
};
struct FusionCounts {
  int layer_norm = 0;      // layer_norm ops made, before add_layer_norm takes some of them
  int add_layer_norm = 0;  // residual add + layer_norm
  int attention = 0;
  int linear = 0;             // matmul + bias
  int linear_activation = 0;  // of those, with gelu folded in
};
FusionCounts fuse(Graph& graph, const FusionOptions& options = {});
int fuse_layer_norm(Graph& graph);         // engine/passes/fuse_layer_norm.cpp
int fuse_add_layer_norm(Graph& graph);     // engine/passes/fuse_layer_norm.cpp
int fuse_attention(Graph& graph);          // engine/passes/fuse_attention.cpp
int fuse_linear(Graph& graph);             // engine/passes/fuse_linear.cpp
int fuse_linear_activation(Graph& graph);  // engine/passes/fuse_linear.cpp

// Rewires the q/k/v (and prefix) operands of attention nodes past the layout copies that made them
// (reshape, permute, slice, expand, contiguous) to strided reads of the computed value underneath
// (engine/passes/absorb_views.cpp). For compile(), after autodiff. Returns the operands rewired.
int absorb_views(Graph& graph);

// Fused ops among the graph's live nodes, by kind name ("layer_norm": 1, "add_layer_norm": 36), and
// "linear/gelu" for linears with a gelu epilogue (also counted in "linear"): what the golden tests assert.
std::map<std::string, int> count_fused_ops(const Graph& graph);

}  // namespace frost
