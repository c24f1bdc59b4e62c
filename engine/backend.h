// The backend interface (DESIGN principle 7): a handful of virtuals — memory, copies, kernel lookup,
// synchronisation. A compiled graph owns its arenas through it and calls kernels on its buffers.
//
//   Backend& b = get_backend("cpu");          // "reference", "cpu" (and "cuda" in CUDA builds, later)
//   void* arena = b.alloc(bytes);  ...  b.free(arena);
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "engine/kernel.h"

namespace frost {

class Backend {
 public:
  virtual ~Backend() = default;
  virtual BackendKind kind() const = 0;
  virtual const char* name() const = 0;
  // Whether its buffers are host memory the CPU may read and write directly.
  virtual bool is_host() const = 0;
  // Zero-filled memory aligned to kBufferAlignment; throws on failure. alloc(0) may return nullptr.
  virtual void* alloc(size_t bytes) = 0;
  virtual void free(void* ptr) = 0;
  virtual void copy_from_host(void* dst, const void* src, size_t bytes) = 0;
  virtual void copy_to_host(void* dst, const void* src, size_t bytes) = 0;
  virtual void memset(void* dst, int byte, size_t bytes) = 0;
  // The kernel this backend runs for the node; nullptr when it has none.
  // Kernels named with a prefix in `disabled` are skipped (KernelRegistry::find).
  virtual const Kernel* find_kernel(const Graph& graph, const Node& node,
                                    const std::vector<std::string>& disabled) const = 0;
  // Waits for all queued work (a no-op on the host).
  virtual void synchronize() = 0;
};

// The backend with this name; throws Unsupported listing the available ones.
Backend& get_backend(std::string_view name);
std::vector<std::string> available_backends();

}  // namespace frost
