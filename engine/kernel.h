// Kernels: free functions registered per (op kind, backend, dtype) by ops/ (DESIGN principle 6). A compiled
// graph picks one kernel per node at compile time; run() then calls `run` with pre-planned buffers.
//
//   kernel_registry().add(OpKind::Add, BackendKind::Reference, DType::F32, {"reference.add", &add_f32});
//   const Kernel* k = kernel_registry().find(OpKind::Add, BackendKind::Cpu, graph, node);
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/graph.h"

namespace frost {

enum class BackendKind : uint8_t {
  Reference,  // plain reference kernels on the host: the oracle for every fast path
  Cpu,        // own vectorised kernels (and oneDNN), falling back to reference kernels op by op
  Cuda,       // cuDNN, cuBLASLt and hand-written CUDA kernels
};
const char* backend_kind_name(BackendKind kind);

// What a kernel sees. Buffers are contiguous; `in`/`out` follow the node's inputs/outputs.
struct KernelContext {
  const Node* node = nullptr;
  NodeId node_id = kNoId;  // for error messages (an index out of range at run time, say)
  const TensorView* in = nullptr;
  int num_in = 0;
  const TensorView* out = nullptr;
  int num_out = 0;
  void* workspace = nullptr;  // from the plan's workspace arena; `workspace_bytes` as prepare asked
  size_t workspace_bytes = 0;
  void* state = nullptr;  // what prepare returned (a oneDNN primitive, say)
  // state_epoch() when this run began: a kernel that keeps a derived copy of persistent state (weights
  // packed into its GEMM's layout) rebuilds it when the epoch differs from the one it was built at.
  uint64_t state_epoch = 0;
};

// The persistent-state epoch: a process-wide count that advances whenever state may have changed outside
// the graph reading it — after a host write (CompiledGraph::set_state, StateStore::set / zero), after a run
// of a graph that writes state (it may share that state with others), and at the start of every run of a
// graph whose state was handed out as a writable view (CompiledGraph::state). A copy derived from state at
// epoch E (a packed weight) is current until state_epoch() moves past E. Thread-safe.
uint64_t state_epoch();
void advance_state_epoch();

struct KernelPrep {
  std::shared_ptr<void> state;
  size_t workspace_bytes = 0;
};

struct Kernel {
  const char* name = nullptr;  // "reference.matmul": shown in plans and errors
  void (*run)(const KernelContext& ctx) = nullptr;
  // Optional: whether this kernel handles this node (narrow fast kernels decline, the next one is tried).
  bool (*supports)(const Graph& graph, const Node& node) = nullptr;
  // Optional: called once at compile time, where shapes are static (primitive creation, workspace size).
  KernelPrep (*prepare)(const Graph& graph, const Node& node) = nullptr;
  // Set when this kernel cannot write its output over the input its op's row allows (OpRow::inplace_input):
  // e.g. it reads the input again after writing (oneDNN's NaN fix-ups). The planner then keeps them apart.
  bool no_inplace = false;
  // Optional: called once at compile time when the step's buffers are final (`ctx` as run() will pass it,
  // with no data read): a kernel may acquire resources keyed by its operands' addresses (a packed copy of a
  // weight, shared by every graph that reads that weight).
  void (*attach)(const KernelContext& ctx) = nullptr;
};

// The dtype that selects a node's kernel: its first output's, or its first input's when it has no outputs
// (assign). Kernels whose inputs have other dtypes (cast, gather's indices) dispatch on those themselves.
DType kernel_dtype(const Graph& graph, const Node& node);

class KernelRegistry {
 public:
  void add(OpKind kind, BackendKind backend, DType dtype, Kernel kernel);
  // The first kernel registered for (kind, backend, dtype) that supports the node; for Cpu, falls back to
  // the Reference kernels. nullptr when none.
  // Kernels whose name starts with one of `disabled` ("onednn.") are skipped: for bisecting a kernel
  // family and for testing every kernel path of a backend.
  const Kernel* find(OpKind kind, BackendKind backend, const Graph& graph, const Node& node,
                     const std::vector<std::string>& disabled = {}) const;
  // Every kernel registered for (kind, backend), any dtype: for audits and `frost ops`.
  std::vector<std::pair<DType, const Kernel*>> list(OpKind kind, BackendKind backend) const;

 private:
  struct Entry {
    OpKind kind;
    BackendKind backend;
    DType dtype;
    Kernel kernel;
  };
  std::vector<std::unique_ptr<Entry>> entries_;  // pointers stay valid as entries are added
};

KernelRegistry& kernel_registry();

}  // namespace frost
