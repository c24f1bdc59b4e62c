// libFuzzer target: any bytes given to the PyTorch checkpoint reader (zip through minizip, or legacy pickles;
// loader/pickle.h executes nothing) either parse — and then every tensor can be read back — or raise
// frost::Error. Nothing else: no crash, no hang, no huge allocation, and nothing the pickle names is called.
//
//   make fuzz                      # clang, -fsanitize=fuzzer,address,undefined, bounded time
//   build/tests/pytorch_checkpoint_fuzz_replay tests/fuzz/corpus/pytorch_checkpoint   # what CI runs
#include <cstddef>
#include <cstdint>
#include <span>

#include "engine/error.h"
#include "loader/pytorch_checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const frost::loader::PyTorchCheckpoint c = frost::loader::PyTorchCheckpoint::parse(
        std::span<const std::byte>(reinterpret_cast<const std::byte*>(data), size), "fuzz");
    for (const frost::loader::CheckpointTensor& t : c.tensors()) {
      if (uint64_t(t.shape.numel()) * t.element_size > (64u << 20)) continue;
      c.read_bytes(t.name);
      if (t.dtype && frost::is_floating(*t.dtype)) c.read(t.name, frost::DType::F32);
    }
    (void)c.placeholders();
    try {
      (void)c.state_dict();
    } catch (const frost::Error&) {
    }
  } catch (const frost::Error&) {
  }
  return 0;
}
