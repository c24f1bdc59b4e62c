#include "engine/memory_plan.h"

#include <algorithm>
#include <sstream>

#include "engine/error.h"
#include "engine/op_registry.h"
#include "engine/passes/passes.h"

namespace frost {

const char* arena_name(Arena a) {
  switch (a) {
    case Arena::Weights:
      return "weights";
    case Arena::Gradients:
      return "gradients";
    case Arena::IO:
      return "io";
    case Arena::Activations:
      return "activations";
    case Arena::Workspace:
      return "workspace";
  }
  return "?";
}

static size_t align_up(size_t x, size_t a) {
  return (x + a - 1) / a * a;
}

MemoryPlan plan_memory(const Graph& graph, const std::vector<NodeId>& schedule,
                       const std::vector<size_t>& workspace_needs, const PlanOptions& options) {
  FROST_CHECK(options.alignment > 0 && (options.alignment & (options.alignment - 1)) == 0, InvalidArgument,
              "plan_memory: alignment " << options.alignment << " is not a power of two");
  FROST_CHECK(workspace_needs.size() == schedule.size(), Internal,
              "plan_memory: one workspace need per step");
  MemoryPlan plan;
  plan.options = options;
  plan.slots.resize(graph.num_values());

  // Which values the schedule touches: node inputs and outputs, graph outputs, and all state (persistent
  // state is allocated even when this graph does not read it, so it can be set and read by name).
  std::vector<bool> used(graph.num_values(), false);
  for (NodeId n : schedule) {
    for (ValueId v : graph.node(n).inputs) used[v] = true;
    for (ValueId v : graph.node(n).outputs) used[v] = true;
  }
  std::vector<bool> is_output(graph.num_values(), false);
  for (const GraphOutput& o : graph.outputs()) used[o.value] = is_output[o.value] = true;
  for (ValueId v = 0; v < graph.num_values(); ++v) {
    if (graph.value(v).role != ValueRole::Intermediate) used[v] = true;
  }

  std::vector<ValueId> root = alias_roots(graph);
  std::array<size_t, kNumArenas> cursor{};
  const size_t guard = options.guard_bytes;
  for (ValueId v = 0; v < graph.num_values(); ++v) {
    if (!used[v]) continue;
    const Value& value = graph.value(v);
    ValueSlot& slot = plan.slots[v];
    slot.planned = true;
    slot.bytes = size_t(value.type.shape.numel()) * size_of(value.type.dtype);
    if (root[v] != v) {
      // A view shares its base's bytes (the base precedes it, so its slot is set).
      const ValueSlot& base = plan.slots[root[v]];
      FROST_CHECK(base.planned, Internal,
                  "plan_memory: view " << graph.describe_value(v) << " has an unplanned base");
      slot.arena = base.arena;
      slot.offset = base.offset;
      slot.alias_of = root[v];
      continue;
    }
    if (value.role == ValueRole::State)
      slot.arena = Arena::Weights;
    else if (value.role == ValueRole::Input || is_output[v])
      slot.arena = Arena::IO;
    else
      slot.arena = Arena::Activations;
    size_t& c = cursor[size_t(slot.arena)];
    slot.offset = align_up(c + guard, options.alignment);
    c = slot.offset + slot.bytes + guard;
    plan.naive_bytes += slot.bytes;
  }
  for (int a = 0; a < kNumArenas; ++a)
    plan.arena_bytes[size_t(a)] = align_up(cursor[size_t(a)], options.alignment);
  size_t workspace = 0;
  for (size_t w : workspace_needs) workspace = std::max(workspace, w);
  plan.arena_bytes[size_t(Arena::Workspace)] = align_up(workspace, options.alignment);
  return plan;
}

std::string describe_plan(const MemoryPlan& plan) {
  std::ostringstream os;
  os << "memory plan (" << (plan.options.mode == PlanMode::NoReuse ? "no_reuse" : "?") << ")\n";
  size_t total = 0;
  for (int a = 0; a < kNumArenas; ++a) {
    size_t bytes = plan.arena_bytes[size_t(a)];
    total += bytes;
    os << "  arena " << arena_name(Arena(a)) << ": " << bytes << " bytes\n";
  }
  os << "  total " << total << " bytes; naive sum of values " << plan.naive_bytes << " bytes\n";
  return os.str();
}

}  // namespace frost
