// Memory planning (DESIGN principle 4): every value of a compiled graph gets an arena and an offset before
// anything runs, so run() allocates nothing. This first planner gives every value its own slot
// (PlanMode::NoReuse — kept forever as the switch for bisecting aliasing bugs); liveness and greedy-by-size
// reuse arrive with the compiler issue behind the same interface.
//
//   MemoryPlan plan = plan_memory(graph, schedule, workspace_needs, {.guard_bytes = 64});
//   plan.slots[v]   -> {arena, offset, bytes};   plan.arena_bytes[Arena::Activations]
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <vector>

#include "engine/graph.h"

namespace frost {

enum class Arena : uint8_t {
  Weights,      // persistent state: parameters (and, until the training issue, optimiser moments)
  Gradients,    // gradients + optimiser state (used once the planner separates them)
  IO,           // graph inputs and outputs: never reused, readable after run()
  Activations,  // everything else: planned
  Workspace,    // one scratch area sized to the largest kernel need
};
inline constexpr int kNumArenas = 5;
const char* arena_name(Arena a);

enum class PlanMode : uint8_t {
  NoReuse,  // every value its own slot
};

struct PlanOptions {
  PlanMode mode = PlanMode::NoReuse;
  size_t alignment = 64;
  // Debug aid: this many canary bytes before and after every slot, checked after run (tests use it to
  // catch kernels that write out of bounds).
  size_t guard_bytes = 0;
};

struct ValueSlot {
  bool planned = false;  // false: the value is not used by the schedule
  Arena arena = Arena::Activations;
  size_t offset = 0;
  size_t bytes = 0;
  ValueId alias_of = kNoId;  // a view: shares the slot of this value
};

struct MemoryPlan {
  PlanOptions options;
  std::vector<ValueSlot> slots;  // indexed by ValueId
  std::array<size_t, kNumArenas> arena_bytes{};
  size_t naive_bytes = 0;  // sum of all planned values' sizes (views not counted): the no-planning cost
};

// `schedule` lists the nodes to run, in order; `workspace_needs[i]` is node schedule[i]'s scratch need.
MemoryPlan plan_memory(const Graph& graph, const std::vector<NodeId>& schedule,
                       const std::vector<size_t>& workspace_needs, const PlanOptions& options);

// A human-readable summary: bytes per arena, naive sum.
std::string describe_plan(const MemoryPlan& plan);

}  // namespace frost
