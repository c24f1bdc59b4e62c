// libFuzzer target: any bytes given to the safetensors reader either parse — and then every tensor can be
// read back — or raise frost::Error. Nothing else: no crash, no hang, no huge allocation.
//
//   make fuzz                      # clang, -fsanitize=fuzzer,address,undefined, bounded time
//   build/tests/safetensors_fuzz_replay tests/fuzz/corpus/safetensors   # what CI runs (gcc build)
#include <cstddef>
#include <cstdint>
#include <span>

#include "engine/error.h"
#include "loader/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const frost::loader::SafetensorsFile f = frost::loader::SafetensorsFile::parse(
        std::span<const std::byte>(reinterpret_cast<const std::byte*>(data), size), "fuzz");
    for (const frost::loader::TensorEntry& t : f.tensors()) {
      if (!t.dtype || t.bytes.size() > (64u << 20)) continue;
      frost::HostTensor h = f.read(t.name);
      if (frost::is_floating(h.dtype())) f.read(t.name, frost::DType::F32);
    }
  } catch (const frost::Error&) {
  }
  return 0;
}
