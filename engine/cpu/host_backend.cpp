// The host backends: "reference" (plain reference kernels only: the oracle) and "cpu" (own vectorised and
// oneDNN kernels where registered, reference kernels for the rest). Both keep arenas in aligned host memory.
#include <sys/mman.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_map>

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
    if (bytes >= kMapThreshold) {
      // Fresh anonymous pages are zero already, and count in the resident set only once written: an arena
      // or optimizer state costs memory when it is used, not when it is planned. (The C library would map
      // these too, but the memset below would touch every page at once.)
      const size_t rounded = (bytes + kPage - 1) / kPage * kPage;
      void* p = mmap(nullptr, rounded, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      FROST_CHECK(p != MAP_FAILED, InvalidArgument,
                  name_ << " backend: out of memory mapping " << bytes << " bytes: " << std::strerror(errno));
      std::lock_guard<std::mutex> lock(mutex_);
      mapped_.emplace(p, rounded);
      return p;
    }
    size_t rounded = (bytes + kBufferAlignment - 1) / kBufferAlignment * kBufferAlignment;
    void* p = std::aligned_alloc(kBufferAlignment, rounded);
    FROST_CHECK(p != nullptr, InvalidArgument,
                name_ << " backend: out of memory allocating " << bytes << " bytes");
    std::memset(p, 0, rounded);
    return p;
  }
  void free(void* ptr) override {
    if (ptr == nullptr) return;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (auto it = mapped_.find(ptr); it != mapped_.end()) {
        munmap(ptr, it->second);
        mapped_.erase(it);
        return;
      }
    }
    std::free(ptr);
  }
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
  static constexpr size_t kMapThreshold = size_t(1) << 20;  // bytes: smaller buffers come from the heap
  static constexpr size_t kPage = 4096;                     // mmap rounds to pages anyway
  BackendKind kind_;
  const char* name_;
  std::mutex mutex_;                          // compiles on several threads allocate at once
  std::unordered_map<void*, size_t> mapped_;  // mapped buffers and their lengths, for munmap
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
