// Memory planning (DESIGN principle 4): every value of a compiled graph gets an arena and an offset before
// anything runs, so run() allocates nothing.
//
// Arenas: persistent state (weights; optimizer state apart), graph inputs and outputs (never reused: readable
// after run()), activations (planned), one workspace sized to the largest kernel need. In Greedy mode (the
// default) activations share bytes: each value lives from the step that writes it to the last step that reads
// it (or reads a view of it: views share their base's bytes and extend its life); an op whose row allows it
// writes its output over an input that dies at that step (in place); then buffers are placed largest first,
// each at the lowest offset free of every buffer whose lifetime overlaps its own. NoReuse gives every value
// its own slot — the switch for bisecting aliasing bugs, and what guard bytes need.
//
//   MemoryPlan plan = plan_memory(graph, schedule, workspace_needs, {.mode = PlanMode::Greedy});
//   plan.slots[v]   -> {arena, offset, bytes};   plan.arena_bytes[Arena::Activations]
//   plan.activation_lower_bound;                 // the most bytes ever live at once: no plan can beat it
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <vector>

#include "engine/graph.h"

namespace frost {

enum class Arena : uint8_t {
  Weights,      // persistent state: parameters
  Optimizer,    // persistent state of an optimiser: AdamW moments, gradient accumulators (StateKind)
  IO,           // graph inputs and outputs: never reused, readable after run()
  Activations,  // everything else: planned
  Workspace,    // one scratch area sized to the largest kernel need
};
inline constexpr int kNumArenas = 5;
const char* arena_name(Arena a);

enum class PlanMode : uint8_t {
  Greedy,   // liveness, in place where allowed, greedy-by-size offsets
  NoReuse,  // every value its own slot
};

struct PlanOptions {
  PlanMode mode = PlanMode::Greedy;
  size_t alignment = 64;
  // Debug aid: this many canary bytes before and after every slot, checked after run (tests use it to
  // catch kernels that write out of bounds). Implies NoReuse: a reused region's guards would be
  // overwritten by its next tenant, legitimately.
  size_t guard_bytes = 0;
  // Debug aid: the io, activation and workspace arenas start filled with 0xFF bytes (NaN for floats, -1 for
  // integers) instead of zeros, so an output element a kernel forgets to write shows (tests use it).
  bool poison = false;
};

struct ValueSlot {
  bool planned = false;  // false: the value is not used by the schedule
  Arena arena = Arena::Activations;
  size_t offset = 0;
  size_t bytes = 0;
  ValueId alias_of = kNoId;    // a view: shares the slot of this value
  ValueId inplace_of = kNoId;  // written in place over the bytes of this value (an input's base, dead here)
};

// One activation buffer: a value with its views and the values written over it in place.
struct PlannedBuffer {
  ValueId value = kNoId;  // the first value to occupy it
  size_t first = 0;       // schedule steps [first, last] during which it is live
  size_t last = 0;
  size_t bytes = 0;
  size_t offset = 0;
};

struct MemoryPlan {
  PlanOptions options;
  std::vector<ValueSlot> slots;  // indexed by ValueId
  std::array<size_t, kNumArenas> arena_bytes{};
  // Per arena: the sum of its values' sizes (views and in-place outputs not counted): the no-planning cost.
  std::array<size_t, kNumArenas> naive_arena_bytes{};
  size_t naive_bytes = 0;              // over all arenas
  std::vector<PlannedBuffer> buffers;  // the activation buffers (Greedy mode)
  // The most activation bytes live at any one step, after the same view and in-place decisions, and that
  // step: the bound every offset assignment is measured against.
  size_t activation_lower_bound = 0;
  size_t peak_step = 0;
};

// `schedule` lists the nodes to run, in order; `workspace_needs[i]` is node schedule[i]'s scratch need;
// `inplace_vetoed[i]` (optional) says the kernel chosen for schedule[i] cannot run in place although its
// op's row allows it.
MemoryPlan plan_memory(const Graph& graph, const std::vector<NodeId>& schedule,
                       const std::vector<size_t>& workspace_needs, const PlanOptions& options,
                       const std::vector<bool>& inplace_vetoed = {});

// The values live at `step` in the activation arena, largest first (for reports: what makes the peak).
std::vector<ValueId> live_at(const MemoryPlan& plan, size_t step);

// A human-readable summary: bytes per arena, naive sum, the activation lower bound.
std::string describe_plan(const MemoryPlan& plan);

}  // namespace frost
