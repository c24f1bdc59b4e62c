// The host backends: "reference" (plain reference kernels only: the oracle) and "cpu" (own vectorised and
// oneDNN kernels where registered, reference kernels for the rest). Both keep arenas in aligned host memory.
#include <cstdlib>
#include <cstring>

#include "engine/backend.h"
#include "engine/error.h"
#include "engine/storage.h"

#ifdef FROST_HAVE_CUDA
#include "engine/cuda/cuda_info.h"
#endif

namespace frost {

#ifdef FROST_HAVE_CUDA
Backend& cuda_backend();  // engine/cuda/cuda_backend.cpp: throws Unsupported without a device
#endif
namespace {

class HostBackend final : public Backend {
 public:
  HostBackend(BackendKind kind, const char* name) : kind_(kind), name_(name) {}
  BackendKind kind() const override { return kind_; }
  const char* name() const override { return name_; }
  bool is_host() const override { return true; }
  void* alloc(size_t bytes) override {
    if (bytes == 0) return nullptr;
    size_t rounded = (bytes + kBufferAlignment - 1) / kBufferAlignment * kBufferAlignment;
    void* p = std::aligned_alloc(kBufferAlignment, rounded);
    FROST_CHECK(p != nullptr, InvalidArgument,
                name_ << " backend: out of memory allocating " << bytes << " bytes");
    std::memset(p, 0, rounded);
    return p;
  }
  void free(void* ptr) override { std::free(ptr); }
  void copy_from_host(void* dst, const void* src, size_t bytes) override {
    if (bytes) std::memcpy(dst, src, bytes);
  }
  void copy_to_host(void* dst, const void* src, size_t bytes) override {
    if (bytes) std::memcpy(dst, src, bytes);
  }
  void memset(void* dst, int byte, size_t bytes) override {
    if (bytes) std::memset(dst, byte, bytes);
  }
  const Kernel* find_kernel(const Graph& graph, const Node& node,
                            const std::vector<std::string>& disabled) const override {
    return kernel_registry().find(node.kind, kind_, graph, node, disabled);
  }
  void synchronize() override {}

 private:
  BackendKind kind_;
  const char* name_;
};

}  // namespace

Backend& get_backend(std::string_view name) {
  static HostBackend reference(BackendKind::Reference, "reference");
  static HostBackend cpu(BackendKind::Cpu, "cpu");
  if (name == "reference") return reference;
  if (name == "cpu") return cpu;
#ifdef FROST_HAVE_CUDA
  if (name == "cuda") return cuda_backend();
#endif
  std::string list;
  for (const std::string& b : available_backends()) list += (list.empty() ? "" : ", ") + b;
  FROST_FAIL(Unsupported, "no backend named '"
                              << name << "' in this build (available: " << list << ")"
#ifndef FROST_HAVE_CUDA
                              << (name == "cuda" ? "; this build has no CUDA (nvcc was not found)" : "")
#endif
  );
}

std::vector<std::string> available_backends() {
#ifdef FROST_HAVE_CUDA
  if (cuda_device_count() > 0) return {"reference", "cpu", "cuda"};
#endif
  return {"reference", "cpu"};
}

}  // namespace frost
