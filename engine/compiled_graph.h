// compile() turns a Graph into a flat list of kernel calls over pre-planned arenas; run() executes it with
// no allocation and no graph work (DESIGN principle 1). Inputs and outputs are bound by name; persistent
// state lives in the weights arena and is read and updated in place across runs.
//
//   auto cg = compile(graph, {.backend = "cpu"});   // verify -> dead-code elimination -> kernels -> plan
//   cg->set_input("x", x_host);                      // copies into the IO arena
//   cg->run();
//   TensorView loss = cg->output("loss");            // valid until the next run
//   std::cout << cg->report();                       // the steps and the memory plan
//
// A compiled graph's run() is not reentrant: one caller at a time, or one compiled graph per thread.
#pragma once

#include <atomic>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/backend.h"
#include "engine/graph.h"
#include "engine/memory_plan.h"
#include "engine/op_registry.h"
#include "engine/storage.h"

namespace frost {

class StateStore;

struct CompileOptions {
  std::string backend = "cpu";
  PlanOptions plan;
  // Kernel-name prefixes not to use ("onednn.", "cpu."): the next kernel for the op is taken, down to the
  // reference kernel. The environment variable FROST_DISABLE_KERNELS (comma-separated) adds to it.
  std::vector<std::string> disabled_kernels;
  // Run the fusion passes (engine/passes/passes.h) on the graph first, then absorb_views (attention reads
  // its operands through strided maps instead of layout copies). The environment variable FROST_NO_FUSE=1
  // turns both off (for bisecting: everything runs unfused, within tolerance the same).
  bool fuse = true;
  // Persistent state shared with other compiled graphs (engine/state_store.h): the graph's state values
  // are bound to the store's buffers by name instead of its own weights and optimizer arenas. The store's
  // backend must be this graph's.
  std::shared_ptr<StateStore> states;
};

class CompiledGraph {
 public:
  CompiledGraph(const Graph& graph, const CompileOptions& options);
  ~CompiledGraph();
  CompiledGraph(const CompiledGraph&) = delete;
  CompiledGraph& operator=(const CompiledGraph&) = delete;

  // Copies host data into the named input; dtype and shape (or byte count) must match.
  void set_input(std::string_view name, const HostTensor& data);
  void set_input(std::string_view name, const void* data, size_t bytes);
  // Executes every step. Throws if an input was never set.
  void run();
  // run() with every step timed, for profiles (bench_frost_worker's `profile`): adds step i's wall-clock
  // seconds to seconds[i]; `seconds` has num_steps() elements (InvalidArgument otherwise). The same
  // kernels on the same arenas, no allocation; the clock is read between steps (tens of nanoseconds
  // each). Host backends that run step by step only: a recording backend (CUDA graphs) replays the whole
  // schedule as one launch, so it throws Unsupported.
  void run_profiled(std::span<double> seconds);

  // Host views into the arenas, valid until the next run (host backends). An output view is for reading
  // (an output may be a state's buffer). A state view may be written; state is then treated as changed at
  // every later run of this graph and of the graphs sharing its store, so derived copies (packed weights)
  // are rebuilt each run — set_state is the way to change state without that cost.
  TensorView output(std::string_view name) const;
  TensorView state(std::string_view name) const;
  // Copies, on any backend.
  HostTensor output_copy(std::string_view name) const;
  HostTensor state_copy(std::string_view name) const;
  void set_state(std::string_view name, const HostTensor& data);

  // With PlanOptions::guard_bytes: throws naming the value whose guard bytes a kernel overwrote.
  void check_guards() const;

  // The step list with kernels, output types, arena offsets and costs, then the memory plan.
  std::string report() const;
  const MemoryPlan& plan() const { return plan_; }
  const Graph& graph() const { return graph_; }
  Backend& backend() const { return backend_; }
  size_t num_steps() const { return steps_.size(); }
  // The OpenMP threads the kernels were prepared for and every run uses (engine/threads.h).
  int threads() const { return threads_; }
  // The kernel chosen for each step, in order ("reference.matmul", ...).
  std::vector<std::string> kernel_names() const;
  Cost total_cost() const;
  // Step i's op and its cost-model cost (flops, bytes), in schedule order.
  std::vector<std::pair<OpKind, Cost>> step_costs() const;

 private:
  struct Step {
    NodeId node;
    const Kernel* kernel;
    uint32_t in_begin, num_in, out_begin, num_out;  // ranges in views_
    std::shared_ptr<void> kernel_state;
    size_t workspace_bytes;
  };
  void check_runnable() const;  // the team and the inputs run() needs, or throws
  void* address(ValueId v) const;
  TensorView view_of(ValueId v) const;
  ValueId source_named(std::string_view name, ValueRole role) const;
  ValueId output_named(std::string_view name) const;

  Graph graph_;  // a copy: kernels read node attributes from it
  Backend& backend_;
  std::shared_ptr<StateStore> states_;  // shared persistent state, or null: states in this graph's arenas
  std::vector<void*> bound_;            // per value: its buffer in states_ (state roots only)
  int threads_ = 1;                     // the OpenMP team the kernels were prepared for
  MemoryPlan plan_;
  // The arenas, freed by their owner's destructor — also when the constructor throws half-way (a member's
  // destructor runs then; the graph's does not).
  struct Arenas {
    Backend* backend = nullptr;
    std::array<void*, kNumArenas> ptr{};
    ~Arenas();
    void*& operator[](size_t i) { return ptr[i]; }
    void* operator[](size_t i) const { return ptr[i]; }
  } arenas_;
  std::vector<Step> steps_;
  std::vector<TensorView> views_;  // step inputs and outputs, contiguous per step
  std::vector<ValueId> inputs_;    // the graph inputs this schedule reads
  std::vector<bool> input_bound_;  // per value; only inputs matter
  // The step list as the backend recorded it on the first run (a CUDA graph), replayed by later runs;
  // null on backends that do not record.
  std::shared_ptr<void> recording_;
  bool writes_state_ = false;  // a step writes persistent state (assign, adamw): each run advances the epoch
  mutable std::atomic<bool> views_escaped_{false};  // state() handed out a writable view
  struct EpochGuard;
  void begin_run() const;
  KernelContext context(const Step& s, void* workspace, uint64_t epoch) const;
  void run_steps();
};

std::unique_ptr<CompiledGraph> compile(const Graph& graph, const CompileOptions& options = {});

// Everything compile() decides before it allocates: the schedule, the kernel of each step and the memory
// plan. `frost plan` and the planner tests use it on graphs too large to allocate.
struct GraphPlan {
  Graph graph;  // the graph planned: the input after the fusion passes
  std::vector<NodeId> schedule;
  std::vector<std::string> kernels;  // per step; "" for views (no kernel)
  MemoryPlan memory;
};
GraphPlan plan_graph(const Graph& graph, const CompileOptions& options = {});

}  // namespace frost
