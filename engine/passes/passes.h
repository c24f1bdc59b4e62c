// Graph passes that run before memory planning. Today: verification and dead-code elimination; the fusion
// passes (attention, LayerNorm, bias + GELU) join them with the compiler issue.
//
//   verify(graph);                                  // throws naming the node on any broken invariant
//   std::vector<bool> live = live_nodes(graph);     // nodes needed by the outputs or by side effects
#pragma once

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

}  // namespace frost
