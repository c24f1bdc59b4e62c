#include "engine/compiled_graph.h"

#include <omp.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iomanip>
#include <sstream>

#include "engine/error.h"
#include "engine/passes/passes.h"
#include "engine/state_store.h"
#include "engine/threads.h"

namespace frost {

static constexpr unsigned char kGuardByte = 0xA5;

std::unique_ptr<CompiledGraph> compile(const Graph& graph, const CompileOptions& options) {
  return std::make_unique<CompiledGraph>(graph, options);
}

namespace {

std::vector<std::string> disabled_kernels(const CompileOptions& options) {
  std::vector<std::string> disabled = options.disabled_kernels;
  if (const char* env = std::getenv("FROST_DISABLE_KERNELS")) {
    std::string list = env;
    for (size_t start = 0; start <= list.size();) {
      size_t end = list.find(',', start);
      if (end == std::string::npos) end = list.size();
      if (end > start) disabled.push_back(list.substr(start, end - start));
      start = end + 1;
    }
  }
  return disabled;
}

struct Chosen {
  const Kernel* kernel = nullptr;
  KernelPrep prep;
};

// Schedule (live nodes in graph order, a topological order), kernel choice and preparation per step, and
// the memory plan: compile() and plan_graph() share it.
bool fusion_enabled(const CompileOptions& options) {
  const char* off = std::getenv("FROST_NO_FUSE");
  return options.fuse && !(off != nullptr && off[0] != '\0' && off[0] != '0');
}

void schedule_and_plan(const Graph& graph, Backend& backend, const CompileOptions& options,
                       std::vector<NodeId>& schedule, std::vector<Chosen>& chosen, MemoryPlan& plan) {
  verify(graph);
  const std::vector<std::string> disabled = disabled_kernels(options);
  std::vector<bool> live = live_nodes(graph);
  for (NodeId n = 0; n < graph.num_nodes(); ++n)
    if (live[n]) schedule.push_back(n);
  chosen.assign(schedule.size(), {});
  std::vector<size_t> workspace_needs(schedule.size(), 0);
  std::vector<bool> inplace_vetoed(schedule.size(), false);
  for (size_t i = 0; i < schedule.size(); ++i) {
    const Node& node = graph.node(schedule[i]);
    if (op_registry().row(node.kind).view_of_input >= 0) continue;  // views run no kernel: they share bytes
    const Kernel* k = backend.find_kernel(graph, node, disabled);
    FROST_CHECK(k != nullptr, Unsupported,
                "compile: backend '" << backend.name() << "' has no kernel for op '" << op_name(node.kind)
                                     << "' on " << dtype_name(kernel_dtype(graph, node)) << " at "
                                     << graph.describe_node(schedule[i]));
    chosen[i].kernel = k;
    if (k->prepare != nullptr) chosen[i].prep = k->prepare(graph, node);  // shapes are static: do it once
    workspace_needs[i] = chosen[i].prep.workspace_bytes;
    inplace_vetoed[i] = k->no_inplace;
  }
  plan = plan_memory(graph, schedule, workspace_needs, options.plan, inplace_vetoed);
}

}  // namespace

GraphPlan plan_graph(const Graph& graph, const CompileOptions& options) {
  GraphPlan out;
  out.graph = graph;
  if (fusion_enabled(options)) {
    fuse(out.graph);
    absorb_views(out.graph);
  }
  std::vector<Chosen> chosen;
  const ThreadScope scope(available_threads());  // the workspaces compile() would plan
  schedule_and_plan(out.graph, get_backend(options.backend), options, out.schedule, chosen, out.memory);
  for (const Chosen& c : chosen) out.kernels.push_back(c.kernel ? c.kernel->name : "");
  return out;
}

CompiledGraph::CompiledGraph(const Graph& graph, const CompileOptions& options)
    : graph_(graph),
      backend_(get_backend(options.backend)),
      states_(options.states),
      threads_(available_threads()) {
  FROST_CHECK(!states_ || &states_->backend() == &backend_, InvalidArgument,
              "compile: the shared state store is on backend '"
                  << states_->backend().name() << "', the graph on '" << backend_.name() << "'");
  const ThreadScope scope(threads_);  // kernels are prepared for the team run() will get (engine/threads.h)
  if (fusion_enabled(options)) {
    fuse(graph_);
    absorb_views(graph_);
  }
  std::vector<NodeId> schedule;
  std::vector<Chosen> chosen;
  schedule_and_plan(graph_, backend_, options, schedule, chosen, plan_);
  if (states_) {  // every state checked against the store before anything is allocated or bound
    for (ValueId v = 0; v < graph_.num_values(); ++v) {
      const Value& value = graph_.value(v);
      if (value.role == ValueRole::State && plan_.slots[v].planned)
        states_->check(value.name, value.type, value.state_kind);
    }
  }
  arenas_.backend = &backend_;
  for (int a = 0; a < kNumArenas; ++a) {
    const bool shared = states_ && (Arena(a) == Arena::Weights || Arena(a) == Arena::Optimizer);
    if (!shared) arenas_[size_t(a)] = backend_.alloc(plan_.arena_bytes[size_t(a)]);
  }
  if (states_) {
    bound_.assign(graph_.num_values(), nullptr);
    for (ValueId v = 0; v < graph_.num_values(); ++v) {
      const Value& value = graph_.value(v);
      if (value.role == ValueRole::State && plan_.slots[v].planned)
        bound_[v] = states_->bind(value.name, value.type, value.state_kind, value.init.get());
    }
  }
  if (options.plan.poison)
    for (Arena a : {Arena::IO, Arena::Activations, Arena::Workspace})
      if (plan_.arena_bytes[size_t(a)] > 0)
        backend_.memset(arenas_[size_t(a)], 0xFF, plan_.arena_bytes[size_t(a)]);

  // Persistent state starts from its initial value (zeros when none).
  for (ValueId v = 0; v < graph_.num_values(); ++v) {
    const Value& value = graph_.value(v);
    if (value.role == ValueRole::State && value.init && !states_)
      backend_.copy_from_host(address(v), value.init->raw(), value.init->bytes());
  }
  if (plan_.options.guard_bytes > 0) {
    for (const ValueSlot& s : plan_.slots) {
      if (!s.planned || s.alias_of != kNoId || arenas_[size_t(s.arena)] == nullptr) continue;
      char* base = static_cast<char*>(arenas_[size_t(s.arena)]);
      backend_.memset(base + s.offset - plan_.options.guard_bytes, kGuardByte, plan_.options.guard_bytes);
      backend_.memset(base + s.offset + s.bytes, kGuardByte, plan_.options.guard_bytes);
    }
  }

  for (size_t i = 0; i < schedule.size(); ++i) {
    if (chosen[i].kernel == nullptr) continue;  // a view
    const Node& node = graph_.node(schedule[i]);
    Step step{schedule[i],
              chosen[i].kernel,
              uint32_t(views_.size()),
              uint32_t(node.inputs.size()),
              0,
              uint32_t(node.outputs.size()),
              chosen[i].prep.state,
              chosen[i].prep.workspace_bytes};
    for (ValueId v : node.inputs) views_.push_back(view_of(v));
    step.out_begin = uint32_t(views_.size());
    for (ValueId v : node.outputs) views_.push_back(view_of(v));
    steps_.push_back(std::move(step));
    writes_state_ = writes_state_ || op_registry().row(node.kind).side_effect;
  }
  for (const Step& s : steps_)  // buffers are final: kernels may key shared resources by address
    if (s.kernel->attach != nullptr) s.kernel->attach(context(s, arenas_[size_t(Arena::Workspace)], 0));
  input_bound_.assign(graph_.num_values(), false);
  for (ValueId v = 0; v < graph_.num_values(); ++v)
    if (graph_.value(v).role == ValueRole::Input && plan_.slots[v].planned) inputs_.push_back(v);
}

CompiledGraph::~CompiledGraph() = default;

CompiledGraph::Arenas::~Arenas() {
  for (void* a : ptr)
    if (a != nullptr) backend->free(a);
}

void* CompiledGraph::address(ValueId v) const {
  const ValueSlot& s = plan_.slots[v];
  FROST_CHECK(s.planned, Internal, "value " << v << " has no memory slot");
  if (!bound_.empty()) {
    const ValueId root = s.alias_of != kNoId ? s.alias_of : v;  // views of a state share its buffer
    if (bound_[root] != nullptr) return bound_[root];
  }
  return static_cast<char*>(arenas_[size_t(s.arena)]) + s.offset;
}

TensorView CompiledGraph::view_of(ValueId v) const {
  const Value& value = graph_.value(v);
  return TensorView{address(v), value.type.dtype, value.type.shape};
}

ValueId CompiledGraph::source_named(std::string_view name, ValueRole role) const {
  ValueId v = graph_.find_source(name);
  FROST_CHECK(v != kNoId && graph_.value(v).role == role, InvalidArgument,
              "compiled graph has no " << (role == ValueRole::Input ? "input" : "state") << " named '" << name
                                       << "'");
  return v;
}

ValueId CompiledGraph::output_named(std::string_view name) const {
  for (const GraphOutput& o : graph_.outputs())
    if (o.name == name) return o.value;
  FROST_FAIL(InvalidArgument, "compiled graph has no output named '" << name << "'");
}

void CompiledGraph::set_input(std::string_view name, const HostTensor& data) {
  ValueId v = source_named(name, ValueRole::Input);
  const TensorType& t = graph_.value(v).type;
  FROST_CHECK(data.dtype() == t.dtype && data.shape() == t.shape, InvalidArgument,
              "input '" << name << "' is " << to_string(t) << ", got " << data.dtype() << data.shape());
  backend_.copy_from_host(address(v), data.raw(), data.bytes());
  input_bound_[v] = true;
}

void CompiledGraph::set_input(std::string_view name, const void* data, size_t bytes) {
  ValueId v = source_named(name, ValueRole::Input);
  FROST_CHECK(bytes == plan_.slots[v].bytes, InvalidArgument,
              "input '" << name << "' is " << to_string(graph_.value(v).type) << " (" << plan_.slots[v].bytes
                        << " bytes), got " << bytes << " bytes");
  backend_.copy_from_host(address(v), data, bytes);
  input_bound_[v] = true;
}

void CompiledGraph::check_runnable() const {
  // Every parallel region must get the team the kernels were prepared for: fewer threads would leave
  // oneDNN's partitions uncomputed (wrong results, silently).
  // Inside a parallel region a nested team shares the caller's thread limit and may come up short, so a
  // multi-threaded graph refuses to run there; a one-thread graph runs inline (one compiled graph per
  // thread).
  FROST_CHECK(threads_ == 1 || (!omp_in_parallel() && omp_get_active_level() < omp_get_max_active_levels() &&
                                omp_get_thread_limit() >= threads_),
              Unsupported,
              "this graph was compiled for "
                  << threads_
                  << " threads, but OpenMP would give fewer here (a thread limit, or "
                     "inside a parallel region) — compile it where it runs");
  for (ValueId v : inputs_) {
    if (!input_bound_[v])
      FROST_FAIL(InvalidArgument, "run: input '" << graph_.value(v).name << "' was never set");
  }
}

// Advances the state epoch when a run that writes state ends, however it ends (a step that throws may
// come after an assign that ran).
struct CompiledGraph::EpochGuard {
  bool writes;
  ~EpochGuard() {
    if (writes) advance_state_epoch();  // graphs sharing this state must not trust copies of it
  }
};

void CompiledGraph::begin_run() const {
  if (views_escaped_ || (states_ && states_->views_escaped())) advance_state_epoch();
}

void CompiledGraph::run() {
  check_runnable();
  begin_run();
  const EpochGuard epoch_guard{writes_state_};
  const ThreadScope scope(threads_);
  if (backend_.records()) {
    // The kernels' arguments (buffers, shapes, attrs) never change between runs, so the launches recorded
    // once replay as they are: one launch per run instead of one per step.
    if (!recording_) {
      backend_.begin_recording();
      try {
        run_steps();
      } catch (...) {
        backend_.abort_recording();
        throw;
      }
      recording_ = backend_.end_recording();
    }
    backend_.replay(recording_.get());
  } else {
    run_steps();
  }
  backend_.synchronize();
}

KernelContext CompiledGraph::context(const Step& s, void* workspace, uint64_t epoch) const {
  return KernelContext{&graph_.nodes()[s.node], s.node,         &views_[s.in_begin], int(s.num_in),
                       &views_[s.out_begin],    int(s.num_out), workspace,           s.workspace_bytes,
                       s.kernel_state.get(),    epoch};
}

void CompiledGraph::run_steps() {
  void* workspace = arenas_[size_t(Arena::Workspace)];
  const uint64_t epoch = state_epoch();
  for (const Step& s : steps_) s.kernel->run(context(s, workspace, epoch));
}

void CompiledGraph::run_profiled(std::span<double> seconds) {
  FROST_CHECK(seconds.size() == steps_.size(), InvalidArgument,
              "run_profiled: " << seconds.size() << " slots for " << steps_.size() << " steps");
  FROST_CHECK(!backend_.records(), Unsupported,
              "run_profiled: backend '"
                  << backend_.name() << "' replays its schedule as one recording; it has no per-step time");
  check_runnable();
  begin_run();
  const EpochGuard epoch_guard{writes_state_};
  const ThreadScope scope(threads_);
  void* workspace = arenas_[size_t(Arena::Workspace)];
  const uint64_t epoch = state_epoch();
  auto last = std::chrono::steady_clock::now();
  for (size_t i = 0; i < steps_.size(); ++i) {
    const Step& s = steps_[i];
    s.kernel->run(context(s, workspace, epoch));
    backend_.synchronize();  // a no-op on the host: kernels return when done
    const auto now = std::chrono::steady_clock::now();
    seconds[i] += std::chrono::duration<double>(now - last).count();
    last = now;
  }
}

TensorView CompiledGraph::output(std::string_view name) const {
  FROST_CHECK(backend_.is_host(), Unsupported,
              "output(): backend '" << backend_.name() << "' is not host memory; use output_copy()");
  return view_of(output_named(name));
}

TensorView CompiledGraph::state(std::string_view name) const {
  FROST_CHECK(backend_.is_host(), Unsupported,
              "state(): backend '" << backend_.name() << "' is not host memory; use state_copy()");
  // The view may be written through at any time: from now on every run of this graph (and of the graphs
  // sharing its store) starts by treating state as changed.
  views_escaped_ = true;
  if (states_) states_->mark_views_escaped();
  return view_of(source_named(name, ValueRole::State));
}

HostTensor CompiledGraph::output_copy(std::string_view name) const {
  ValueId v = output_named(name);
  HostTensor t(graph_.value(v).type.dtype, graph_.value(v).type.shape);
  backend_.copy_to_host(t.raw(), address(v), t.bytes());
  return t;
}

HostTensor CompiledGraph::state_copy(std::string_view name) const {
  ValueId v = source_named(name, ValueRole::State);
  HostTensor t(graph_.value(v).type.dtype, graph_.value(v).type.shape);
  backend_.copy_to_host(t.raw(), address(v), t.bytes());
  return t;
}

void CompiledGraph::set_state(std::string_view name, const HostTensor& data) {
  ValueId v = source_named(name, ValueRole::State);
  const TensorType& t = graph_.value(v).type;
  FROST_CHECK(data.dtype() == t.dtype && data.shape() == t.shape, InvalidArgument,
              "state '" << name << "' is " << to_string(t) << ", got " << data.dtype() << data.shape());
  backend_.copy_from_host(address(v), data.raw(), data.bytes());
  advance_state_epoch();
}

void CompiledGraph::check_guards() const {
  const size_t guard = plan_.options.guard_bytes;
  if (guard == 0) return;
  std::vector<unsigned char> before(guard), after(guard);  // copies: the arenas may be device memory
  for (ValueId v = 0; v < plan_.slots.size(); ++v) {
    const ValueSlot& s = plan_.slots[v];
    if (!s.planned || s.alias_of != kNoId || arenas_[size_t(s.arena)] == nullptr) continue;
    const unsigned char* base = static_cast<const unsigned char*>(arenas_[size_t(s.arena)]) + s.offset;
    backend_.copy_to_host(before.data(), base - guard, guard);
    backend_.copy_to_host(after.data(), base + s.bytes, guard);
    for (size_t i = 0; i < guard; ++i) {
      FROST_CHECK(before[guard - 1 - i] == kGuardByte, Internal,
                  "guard bytes before " << graph_.describe_value(v) << " were overwritten (" << i + 1
                                        << " bytes before it)");
      FROST_CHECK(after[i] == kGuardByte, Internal,
                  "guard bytes after " << graph_.describe_value(v) << " were overwritten (" << i
                                       << " bytes past its end)");
    }
  }
}

std::vector<std::string> CompiledGraph::kernel_names() const {
  std::vector<std::string> names;
  for (const Step& s : steps_) names.emplace_back(s.kernel->name);
  return names;
}

std::vector<std::pair<OpKind, Cost>> CompiledGraph::step_costs() const {
  std::vector<std::pair<OpKind, Cost>> costs;
  for (const Step& s : steps_) {
    const Node& node = graph_.node(s.node);
    std::vector<TensorType> in, out;
    for (ValueId v : node.inputs) in.push_back(graph_.value(v).type);
    for (ValueId v : node.outputs) out.push_back(graph_.value(v).type);
    costs.emplace_back(node.kind, op_registry().row(node.kind).cost(in, out, node.attrs));
  }
  return costs;
}

Cost CompiledGraph::total_cost() const {
  Cost total;
  for (const auto& [kind, c] : step_costs()) {
    total.flops += c.flops;
    total.bytes += c.bytes;
  }
  return total;
}

std::string CompiledGraph::report() const {
  std::ostringstream os;
  os << "compiled graph on backend '" << backend_.name() << "': " << steps_.size() << " steps\n";
  for (size_t i = 0; i < steps_.size(); ++i) {
    const Step& s = steps_[i];
    const Node& node = graph_.node(s.node);
    os << "  " << std::setw(3) << i << "  " << std::left << std::setw(34)
       << ((node.scope.empty() ? "" : node.scope + "/") + op_name(node.kind)) << std::setw(22)
       << s.kernel->name << std::right;
    for (size_t o = 0; o < node.outputs.size(); ++o) {
      ValueId v = node.outputs[o];
      const ValueSlot& slot = plan_.slots[v];
      os << (o ? ", " : "-> ") << to_string(graph_.value(v).type) << " @" << arena_name(slot.arena) << "+"
         << slot.offset;
    }
    if (node.outputs.empty()) os << "-> (writes state '" << graph_.value(node.inputs[0]).name << "')";
    os << "\n";
  }
  Cost c = total_cost();
  os << "  total: " << c.flops / 1e6 << " MFLOP, " << c.bytes / 1e6 << " MB moved per run\n";
  os << describe_plan(plan_);
  if (states_)
    os << "  (the weights and optimizer arenas are a shared state store's: "
       << states_->bytes(StateKind::Parameter) << " + " << states_->bytes(StateKind::Optimizer)
       << " bytes, not this graph's)\n";
  return os.str();
}

}  // namespace frost
