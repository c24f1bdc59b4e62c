// The "cuda" backend: device 0, one stream, arenas from cudaMalloc (one per arena, made at compile time),
// host copies through a pinned staging buffer, kernels looked up in the registry's Cuda rows, and the step
// list recorded once as a CUDA graph and replayed by every later run() (FROST_CUDA_GRAPHS=0 turns recording
// off, for bisecting). Kernels report bad data (an index outside a table) through a device error slot that
// synchronize() reads after each run.
#include "engine/cuda/cuda_backend.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "engine/backend.h"
#include "engine/cuda/cuda_info.h"

namespace frost {

void cuda_fail(cudaError_t error, const char* expr, const char* file, int line) {
  std::ostringstream os;
  os << "CUDA error " << cudaGetErrorName(error) << " (" << cudaGetErrorString(error) << ") in " << expr
     << " at " << file << ":" << line;
  cudaGetLastError();  // clear a non-sticky error so the next call starts clean
  throw_error(error == cudaErrorMemoryAllocation ? ErrorCategory::InvalidArgument : ErrorCategory::Internal,
              os.str());
}

namespace {

// Host copies go through pinned memory in chunks of at most this many bytes (pageable copies would stage
// through the driver's own buffer, synchronously).
constexpr size_t kStagingBytes = size_t(32) << 20;

// A captured step list, instantiated for replay.
struct Recording {
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  ~Recording() {
    if (exec != nullptr) cudaGraphExecDestroy(exec);
    if (graph != nullptr) cudaGraphDestroy(graph);
  }
};

class CudaBackend final : public Backend {
 public:
  CudaBackend() {
    FROST_CHECK(
        cuda_device_count() > 0, Unsupported,
        "backend 'cuda': " << cuda_describe_devices() << " (this build has CUDA; the machine has no device)");
    FROST_CUDA_CHECK(cudaSetDevice(0));
    FROST_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    FROST_CUDA_CHECK(cudaMalloc(&error_slot_, sizeof(cuda::DeviceError)));
    FROST_CUDA_CHECK(cudaMemset(error_slot_, 0, sizeof(cuda::DeviceError)));
    FROST_CUDA_CHECK(cudaMallocHost(&staging_, kStagingBytes));
    FROST_CUDA_CHECK(cudaMallocHost(&error_host_, sizeof(cuda::DeviceError)));
    const char* graphs = std::getenv("FROST_CUDA_GRAPHS");
    records_ = !(graphs != nullptr && std::strcmp(graphs, "0") == 0);
  }
  // Never destroyed (it lives until exit, when the CUDA runtime may already be gone).

  BackendKind kind() const override { return BackendKind::Cuda; }
  const char* name() const override { return "cuda"; }
  bool is_host() const override { return false; }

  void* alloc(size_t bytes) override {
    if (bytes == 0) return nullptr;
    void* p = nullptr;
    const cudaError_t e = cudaMalloc(&p, bytes);
    if (e != cudaSuccess) {
      cudaGetLastError();
      size_t free_bytes = 0, total = 0;
      cudaMemGetInfo(&free_bytes, &total);
      FROST_FAIL(InvalidArgument, "backend 'cuda': cannot allocate " << bytes << " bytes of device memory ("
                                                                     << free_bytes << " of " << total
                                                                     << " free): " << cudaGetErrorString(e));
    }
    FROST_CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, stream_));
    FROST_CUDA_CHECK(cudaStreamSynchronize(stream_));
    return p;
  }
  void free(void* ptr) override {
    if (ptr == nullptr) return;
    cudaStreamSynchronize(stream_);
    cudaFree(ptr);  // no throw: called from destructors
  }
  void copy_from_host(void* dst, const void* src, size_t bytes) override {
    std::lock_guard<std::mutex> lock(staging_mutex_);
    for (size_t done = 0; done < bytes;) {
      const size_t n = std::min(kStagingBytes, bytes - done);
      std::memcpy(staging_, static_cast<const char*>(src) + done, n);
      FROST_CUDA_CHECK(
          cudaMemcpyAsync(static_cast<char*>(dst) + done, staging_, n, cudaMemcpyHostToDevice, stream_));
      FROST_CUDA_CHECK(cudaStreamSynchronize(stream_));  // the staging buffer is reused by the next chunk
      done += n;
    }
  }
  void copy_to_host(void* dst, const void* src, size_t bytes) override {
    std::lock_guard<std::mutex> lock(staging_mutex_);
    for (size_t done = 0; done < bytes;) {
      const size_t n = std::min(kStagingBytes, bytes - done);
      FROST_CUDA_CHECK(cudaMemcpyAsync(staging_, static_cast<const char*>(src) + done, n,
                                       cudaMemcpyDeviceToHost, stream_));
      FROST_CUDA_CHECK(cudaStreamSynchronize(stream_));
      std::memcpy(static_cast<char*>(dst) + done, staging_, n);
      done += n;
    }
  }
  void memset(void* dst, int byte, size_t bytes) override {
    if (bytes == 0) return;
    FROST_CUDA_CHECK(cudaMemsetAsync(dst, byte, bytes, stream_));
    FROST_CUDA_CHECK(cudaStreamSynchronize(stream_));
  }
  const Kernel* find_kernel(const Graph& graph, const Node& node,
                            const std::vector<std::string>& disabled) const override {
    return kernel_registry().find(node.kind, BackendKind::Cuda, graph, node, disabled);
  }

  void synchronize() override {
    FROST_CUDA_CHECK(cudaStreamSynchronize(stream_));
    FROST_CUDA_CHECK(cudaMemcpyAsync(error_host_, error_slot_, sizeof(cuda::DeviceError),
                                     cudaMemcpyDeviceToHost, stream_));
    FROST_CUDA_CHECK(cudaStreamSynchronize(stream_));
    const cuda::DeviceError e = *error_host_;
    if (e.code == cuda::kNoDeviceError) return;
    FROST_CUDA_CHECK(cudaMemsetAsync(error_slot_, 0, sizeof(cuda::DeviceError), stream_));
    FROST_CUDA_CHECK(cudaStreamSynchronize(stream_));
    if (e.code == cuda::kIndexOutOfRange)
      FROST_FAIL(InvalidArgument, "gather_rows / scatter_add_rows (node "
                                      << e.node << "): index " << e.value << " at position " << e.position
                                      << " is outside the table's " << e.limit << " rows");
    FROST_FAIL(InvalidArgument, "softmax_cross_entropy (node "
                                    << e.node << "): target " << e.value << " of row " << e.position
                                    << " is outside the " << e.limit << " classes");
  }

  bool records() const override { return records_; }
  void begin_recording() override {
    FROST_CUDA_CHECK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeRelaxed));
  }
  std::shared_ptr<void> end_recording() override {
    cudaGraph_t graph = nullptr;
    FROST_CUDA_CHECK(cudaStreamEndCapture(stream_, &graph));
    cudaGraphExec_t exec = nullptr;
    const cudaError_t e = cudaGraphInstantiate(&exec, graph, 0);
    if (e != cudaSuccess) {
      cudaGraphDestroy(graph);
      FROST_CUDA_CHECK(e);
    }
    auto recording = std::make_shared<Recording>();
    recording->graph = graph;
    recording->exec = exec;
    return recording;
  }
  void abort_recording() override {
    cudaGraph_t graph = nullptr;
    if (cudaStreamEndCapture(stream_, &graph) == cudaSuccess && graph != nullptr) cudaGraphDestroy(graph);
    cudaGetLastError();
  }
  void replay(void* recording) override {
    FROST_CUDA_CHECK(cudaGraphLaunch(static_cast<Recording*>(recording)->exec, stream_));
  }

  cudaStream_t stream() const { return stream_; }
  cuda::DeviceError* error_slot() const { return error_slot_; }

 private:
  cudaStream_t stream_ = nullptr;
  cuda::DeviceError* error_slot_ = nullptr;
  cuda::DeviceError* error_host_ = nullptr;  // pinned
  void* staging_ = nullptr;                  // pinned, kStagingBytes
  std::mutex staging_mutex_;
  bool records_ = true;
};

CudaBackend& instance() {
  static CudaBackend* backend = new CudaBackend();  // a throw leaves it unset: the next call tries again
  return *backend;
}

}  // namespace

Backend& cuda_backend() {
  return instance();
}

cudaStream_t cuda_stream() {
  return instance().stream();
}

cuda::DeviceError* cuda_error_slot() {
  return instance().error_slot();
}

}  // namespace frost
