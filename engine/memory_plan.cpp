#include "engine/memory_plan.h"

#include <algorithm>
#include <functional>
#include <numeric>
#include <sstream>

#include "engine/error.h"
#include "engine/op_registry.h"
#include "engine/passes/passes.h"

namespace frost {

const char* arena_name(Arena a) {
  switch (a) {
    case Arena::Weights:
      return "weights";
    case Arena::Optimizer:
      return "optimizer";
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

namespace {

constexpr size_t kNever = ~size_t(0);

// Places `buffers` in the given order, each at the lowest aligned offset that overlaps no placed buffer
// whose lifetime intersects its own; returns the arena size.
size_t place_in_order(std::vector<PlannedBuffer>& buffers, const std::vector<size_t>& order, size_t alignment,
                      bool best_fit) {
  std::vector<size_t> placed;
  size_t arena = 0;
  std::vector<std::pair<size_t, size_t>> busy;  // [offset, end) of placed buffers live at the same time
  for (size_t i : order) {
    PlannedBuffer& b = buffers[i];
    busy.clear();
    for (size_t j : placed) {
      const PlannedBuffer& o = buffers[j];
      if (o.first <= b.last && b.first <= o.last) busy.emplace_back(o.offset, o.offset + o.bytes);
    }
    std::sort(busy.begin(), busy.end());
    // Gaps between the busy ranges: first fit takes the lowest, best fit the tightest; else the top.
    size_t offset = 0, chosen = ~size_t(0), chosen_gap = ~size_t(0);
    for (const auto& [start, end] : busy) {
      if (offset + b.bytes <= start) {
        if (!best_fit) {
          chosen = offset;
          break;
        }
        if (start - offset < chosen_gap) {
          chosen_gap = start - offset;
          chosen = offset;
        }
      }
      offset = std::max(offset, align_up(end, alignment));
    }
    b.offset = chosen != ~size_t(0) ? chosen : offset;
    arena = std::max(arena, b.offset + b.bytes);
    placed.push_back(i);
  }
  return align_up(arena, alignment);
}

// Greedy placement under a few orders — largest first (greedy by size), longest-lived first, largest
// size x lifetime first, earliest first — each with first-fit and best-fit gaps, keeping the smallest
// arena. Each is a heuristic; none wins on every graph.
size_t place_greedy(std::vector<PlannedBuffer>& buffers, size_t alignment) {
  using Key = std::function<bool(const PlannedBuffer&, const PlannedBuffer&)>;
  const Key keys[] = {
      [](const PlannedBuffer& a, const PlannedBuffer& b) {
        return a.bytes != b.bytes ? a.bytes > b.bytes : a.first < b.first;
      },
      [](const PlannedBuffer& a, const PlannedBuffer& b) {
        return a.last - a.first != b.last - b.first ? a.last - a.first > b.last - b.first : a.bytes > b.bytes;
      },
      [](const PlannedBuffer& a, const PlannedBuffer& b) {
        const double x = double(a.bytes) * double(a.last - a.first + 1),
                     y = double(b.bytes) * double(b.last - b.first + 1);
        return x != y ? x > y : a.first < b.first;
      },
      [](const PlannedBuffer& a, const PlannedBuffer& b) {
        return a.first != b.first ? a.first < b.first : a.bytes > b.bytes;
      },
  };
  size_t best = ~size_t(0);
  std::vector<PlannedBuffer> best_buffers;
  for (const Key& key : keys) {
    std::vector<size_t> order(buffers.size());
    std::iota(order.begin(), order.end(), size_t(0));
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return key(buffers[a], buffers[b]); });
    for (bool best_fit : {false, true}) {
      std::vector<PlannedBuffer> trial = buffers;
      const size_t size = place_in_order(trial, order, alignment, best_fit);
      if (size < best) {
        best = size;
        best_buffers = std::move(trial);
      }
    }
  }
  buffers = std::move(best_buffers);
  return buffers.empty() ? 0 : best;
}

}  // namespace

MemoryPlan plan_memory(const Graph& graph, const std::vector<NodeId>& schedule,
                       const std::vector<size_t>& workspace_needs, const PlanOptions& options,
                       const std::vector<bool>& inplace_vetoed) {
  FROST_CHECK(options.alignment > 0 && (options.alignment & (options.alignment - 1)) == 0, InvalidArgument,
              "plan_memory: alignment " << options.alignment << " is not a power of two");
  FROST_CHECK(workspace_needs.size() == schedule.size(), Internal,
              "plan_memory: one workspace need per step");
  FROST_CHECK(inplace_vetoed.empty() || inplace_vetoed.size() == schedule.size(), Internal,
              "plan_memory: one in-place veto per step");
  MemoryPlan plan;
  plan.options = options;
  if (options.guard_bytes > 0) plan.options.mode = PlanMode::NoReuse;
  const bool reuse = plan.options.mode == PlanMode::Greedy;
  const size_t V = graph.num_values();
  plan.slots.resize(V);

  // Which values the schedule touches: node inputs and outputs, graph outputs, and all state (persistent
  // state is allocated even when this graph does not read it, so it can be set and read by name).
  std::vector<bool> used(V, false);
  for (NodeId n : schedule) {
    for (ValueId v : graph.node(n).inputs) used[v] = true;
    for (ValueId v : graph.node(n).outputs) used[v] = true;
  }
  std::vector<bool> is_output(V, false);
  for (const GraphOutput& o : graph.outputs()) used[o.value] = is_output[o.value] = true;
  for (ValueId v = 0; v < V; ++v)
    if (graph.value(v).role != ValueRole::Intermediate) used[v] = true;

  const std::vector<ValueId> root = alias_roots(graph);
  // A root is pinned to the IO arena when it, or any view of it, is read from outside after run().
  std::vector<bool> pinned(V, false);
  for (ValueId v = 0; v < V; ++v)
    if (used[v] && (is_output[v] || graph.value(v).role == ValueRole::Input)) pinned[root[v]] = true;

  // Lifetimes per root, in schedule steps: written at `first`, last read (through any alias) at `last`.
  std::vector<size_t> first(V, kNever), last(V, 0);
  for (size_t s = 0; s < schedule.size(); ++s) {
    const Node& node = graph.node(schedule[s]);
    for (ValueId v : node.outputs)
      if (first[root[v]] == kNever) first[root[v]] = s;
    for (ValueId v : node.inputs) last[root[v]] = std::max(last[root[v]], s);
  }

  auto arena_of = [&](ValueId r) {
    const Value& value = graph.value(r);
    if (value.role == ValueRole::State)
      return value.state_kind == StateKind::Optimizer ? Arena::Optimizer : Arena::Weights;
    if (pinned[r]) return Arena::IO;
    return Arena::Activations;
  };

  // Activation buffers: one per root, merged when an op writes in place over an input dying there.
  std::vector<int64_t> buffer_of(V, -1);
  for (ValueId v = 0; v < V; ++v) {
    if (!used[v] || root[v] != v || arena_of(v) != Arena::Activations) continue;
    PlannedBuffer b;
    b.value = v;
    b.first = first[v] == kNever ? 0 : first[v];
    b.last = std::max(b.first, last[v]);
    b.bytes = size_t(graph.value(v).type.shape.numel()) * size_of(graph.value(v).type.dtype);
    buffer_of[v] = int64_t(plan.buffers.size());
    plan.buffers.push_back(b);
    plan.naive_arena_bytes[size_t(Arena::Activations)] += b.bytes;
  }
  std::vector<ValueId> inplace_of(V, kNoId);
  if (reuse) {
    for (size_t s = 0; s < schedule.size(); ++s) {
      const Node& node = graph.node(schedule[s]);
      const OpRow& row = op_registry().row(node.kind);
      if (row.inplace_input < 0 || (!inplace_vetoed.empty() && inplace_vetoed[s])) continue;
      const ValueId x = node.inputs[size_t(row.inplace_input)], y = node.outputs[0];
      const ValueId rx = root[x];
      if (buffer_of[rx] < 0 || buffer_of[y] < 0 || root[y] != y) continue;  // both must be activations
      PlannedBuffer& bx = plan.buffers[size_t(buffer_of[rx])];
      PlannedBuffer& by = plan.buffers[size_t(buffer_of[y])];
      if (&bx == &by || bx.last != s || by.bytes != bx.bytes) continue;  // x must die here, sizes equal
      // y takes over x's buffer (y is fresh: nothing else has joined its own, which is emptied).
      bx.last = std::max(bx.last, by.last);
      by.bytes = 0;
      buffer_of[y] = buffer_of[rx];
      inplace_of[y] = rx;
    }
  }

  // Lower bound: the most bytes of buffers live at one step.
  if (!schedule.empty()) {
    std::vector<size_t> live(schedule.size() + 1, 0);
    for (const PlannedBuffer& b : plan.buffers) {
      if (b.bytes == 0) continue;
      live[b.first] += b.bytes;
      live[b.last + 1] -= b.bytes;
    }
    size_t running = 0;
    for (size_t s = 0; s < schedule.size(); ++s) {
      running += live[s];
      if (running > plan.activation_lower_bound) {
        plan.activation_lower_bound = running;
        plan.peak_step = s;
      }
    }
  }

  // Offsets.
  const size_t guard = plan.options.guard_bytes;
  std::array<size_t, kNumArenas> cursor{};
  if (reuse) {
    std::vector<PlannedBuffer> nonempty;
    std::vector<size_t> index;
    for (size_t i = 0; i < plan.buffers.size(); ++i)
      if (plan.buffers[i].bytes > 0) {
        index.push_back(i);
        nonempty.push_back(plan.buffers[i]);
      }
    cursor[size_t(Arena::Activations)] = place_greedy(nonempty, options.alignment);
    for (size_t k = 0; k < index.size(); ++k) plan.buffers[index[k]].offset = nonempty[k].offset;
  }
  // Roots first, then their views (below): a rewrite pass may have given a base a larger value id than a
  // view of it (add_layer_norm's y', read through a reshape made before the rewrite).
  for (ValueId v = 0; v < V; ++v) {
    if (!used[v] || root[v] != v) continue;
    const Value& value = graph.value(v);
    ValueSlot& slot = plan.slots[v];
    slot.planned = true;
    slot.bytes = size_t(value.type.shape.numel()) * size_of(value.type.dtype);
    slot.arena = arena_of(v);
    if (slot.arena == Arena::Activations && reuse) {
      slot.offset = plan.buffers[size_t(buffer_of[v])].offset;
      slot.inplace_of = inplace_of[v];
      continue;
    }
    if (slot.arena != Arena::Activations) plan.naive_arena_bytes[size_t(slot.arena)] += slot.bytes;
    size_t& c = cursor[size_t(slot.arena)];
    slot.offset = align_up(c + guard, options.alignment);
    c = slot.offset + slot.bytes + guard;
  }
  for (ValueId v = 0; v < V; ++v) {
    if (!used[v] || root[v] == v) continue;
    ValueSlot& slot = plan.slots[v];
    const ValueSlot& base = plan.slots[root[v]];
    FROST_CHECK(base.planned, Internal,
                "plan_memory: view " << graph.describe_value(v) << " has an unplanned base");
    slot.planned = true;
    slot.bytes = size_t(graph.value(v).type.shape.numel()) * size_of(graph.value(v).type.dtype);
    slot.arena = base.arena;
    slot.offset = base.offset;
    slot.alias_of = root[v];
  }
  for (int a = 0; a < kNumArenas; ++a) {
    plan.arena_bytes[size_t(a)] = align_up(cursor[size_t(a)], options.alignment);
    plan.naive_bytes += plan.naive_arena_bytes[size_t(a)];
  }
  size_t workspace = 0;
  for (size_t w : workspace_needs) workspace = std::max(workspace, w);
  plan.arena_bytes[size_t(Arena::Workspace)] = align_up(workspace, options.alignment);
  plan.naive_arena_bytes[size_t(Arena::Workspace)] = workspace;
  return plan;
}

std::vector<ValueId> live_at(const MemoryPlan& plan, size_t step) {
  std::vector<const PlannedBuffer*> live;
  for (const PlannedBuffer& b : plan.buffers)
    if (b.bytes > 0 && b.first <= step && step <= b.last) live.push_back(&b);
  std::sort(live.begin(), live.end(),
            [](const PlannedBuffer* a, const PlannedBuffer* b) { return a->bytes > b->bytes; });
  std::vector<ValueId> out;
  for (const PlannedBuffer* b : live) out.push_back(b->value);
  return out;
}

std::string describe_plan(const MemoryPlan& plan) {
  std::ostringstream os;
  os << "memory plan (" << (plan.options.mode == PlanMode::NoReuse ? "no_reuse" : "greedy") << ")\n";
  size_t total = 0;
  for (int a = 0; a < kNumArenas; ++a) {
    size_t bytes = plan.arena_bytes[size_t(a)];
    total += bytes;
    os << "  arena " << arena_name(Arena(a)) << ": " << bytes << " bytes (naive "
       << plan.naive_arena_bytes[size_t(a)] << ")\n";
  }
  os << "  total " << total << " bytes; naive sum of values " << plan.naive_bytes
     << " bytes; activations' lower bound " << plan.activation_lower_bound << " bytes (at step "
     << plan.peak_step << ")\n";
  return os.str();
}

}  // namespace frost
