// The backend interface (DESIGN principle 7): a handful of virtuals — memory, copies, kernel lookup,
// synchronisation. A compiled graph owns its arenas through it and calls kernels on its buffers.
//
//   Backend& b = get_backend("cpu");          // "reference", "cpu", and "cuda" in CUDA builds with a device
//   void* arena = b.alloc(bytes);  ...  b.free(arena);
#pragma once

#include <cstddef>
#include <memory>
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
  // Zero-filled memory aligned to kBufferAlignment; throws on failure. alloc(0) may return nullptr. The host
  // backends map buffers of 1 MiB and more straight from the kernel: their pages count in the resident set
  // once written, not when allocated.
  virtual void* alloc(size_t bytes) = 0;
  virtual void free(void* ptr) = 0;
  virtual void copy_from_host(void* dst, const void* src, size_t bytes) = 0;
  virtual void copy_to_host(void* dst, const void* src, size_t bytes) = 0;
  virtual void memset(void* dst, int byte, size_t bytes) = 0;
  // The kernel this backend runs for the node; nullptr when it has none.
  // Kernels named with a prefix in `disabled` are skipped (KernelRegistry::find).
  virtual const Kernel* find_kernel(const Graph& graph, const Node& node,
                                    const std::vector<std::string>& disabled) const = 0;
  // Waits for all queued work (a no-op on the host). A device backend also reports here what its kernels
  // found wrong in the data (an index outside a table): it throws InvalidArgument naming it.
  virtual void synchronize() = 0;

  // Recording (CUDA graphs): a backend that records() captures the kernel launches queued between
  // begin_recording() and end_recording() once, and replay() then runs them again with one launch.
  // run() records its step list on the first run and replays it after. Host backends do not record.
  virtual bool records() const { return false; }
  virtual void begin_recording() {}
  virtual std::shared_ptr<void> end_recording() { return nullptr; }
  virtual void abort_recording() {}  // after a step threw while recording
  virtual void replay(void* recording) { (void)recording; }
};

// The backend with this name; throws Unsupported listing the available ones ("cuda" in a CUDA build on a
// machine without a device: Unsupported saying why).
Backend& get_backend(std::string_view name);
// The backends this build can run here: "reference", "cpu", and "cuda" when a CUDA device is present.
std::vector<std::string> available_backends();

}  // namespace frost
