#include "engine/kernel.h"

#include <atomic>
#include <string_view>

#include "engine/error.h"

namespace frost {

namespace {
std::atomic<uint64_t> g_state_epoch{1};
}  // namespace

uint64_t state_epoch() {
  return g_state_epoch.load(std::memory_order_acquire);
}

void advance_state_epoch() {
  g_state_epoch.fetch_add(1, std::memory_order_acq_rel);
}

const char* backend_kind_name(BackendKind kind) {
  switch (kind) {
    case BackendKind::Reference:
      return "reference";
    case BackendKind::Cpu:
      return "cpu";
    case BackendKind::Cuda:
      return "cuda";
  }
  return "?";
}

DType kernel_dtype(const Graph& graph, const Node& node) {
  if (!node.outputs.empty()) return graph.value(node.outputs[0]).type.dtype;
  FROST_CHECK(!node.inputs.empty(), Internal,
              "node of op '" << op_name(node.kind) << "' has no inputs and no outputs");
  return graph.value(node.inputs[0]).type.dtype;
}

void KernelRegistry::add(OpKind kind, BackendKind backend, DType dtype, Kernel kernel) {
  FROST_CHECK(kernel.name != nullptr && kernel.run != nullptr, Internal,
              "kernel for op '" << op_name(kind) << "' registered without a name or run function");
  entries_.push_back(std::make_unique<Entry>(Entry{kind, backend, dtype, kernel}));
}

const Kernel* KernelRegistry::find(OpKind kind, BackendKind backend, const Graph& graph, const Node& node,
                                   const std::vector<std::string>& disabled) const {
  const DType dtype = kernel_dtype(graph, node);
  auto allowed = [&](const Kernel& k) {
    for (const std::string& prefix : disabled)
      if (std::string_view(k.name).starts_with(prefix)) return false;
    return k.supports == nullptr || k.supports(graph, node);
  };
  for (const auto& e : entries_) {
    if (e->kind == kind && e->backend == backend && e->dtype == dtype && allowed(e->kernel))
      return &e->kernel;
  }
  if (backend == BackendKind::Cpu) return find(kind, BackendKind::Reference, graph, node, disabled);
  return nullptr;
}

std::vector<std::pair<DType, const Kernel*>> KernelRegistry::list(OpKind kind, BackendKind backend) const {
  std::vector<std::pair<DType, const Kernel*>> out;
  for (const auto& e : entries_)
    if (e->kind == kind && e->backend == backend) out.emplace_back(e->dtype, &e->kernel);
  return out;
}

KernelRegistry& kernel_registry() {
  static KernelRegistry registry;
  return registry;
}

}  // namespace frost
