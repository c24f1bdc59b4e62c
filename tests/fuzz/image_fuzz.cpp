// libFuzzer target: any bytes given to the image decoder either decode to u8 (H, W, 3) within the limits
// or raise frost::Error. No crash, no hang, no allocation beyond the pixel budget.
#include <cstddef>
#include <cstdint>
#include <span>

#include "engine/error.h"
#include "loader/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  frost::loader::ImageLimits limits;
  limits.max_pixels = 4096 * 4096;  // keeps each run's memory bounded under the fuzzer's RSS limit
  try {
    const frost::HostTensor img = frost::loader::decode_image(
        std::span<const std::byte>(reinterpret_cast<const std::byte*>(data), size), "fuzz", limits);
    if (img.shape().rank() != 3 || img.shape()[2] != 3 || img.shape()[0] * img.shape()[1] > limits.max_pixels)
      __builtin_trap();
  } catch (const frost::Error&) {
  }
  return 0;
}
