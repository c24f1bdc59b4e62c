// libjpeg-turbo behind a C-style boundary (loader/jpeg_decode.cpp): no exceptions cross libjpeg's longjmp.
// Only loader/image.cpp calls it.
#pragma once

#include <cstddef>
#include <string>

namespace frost::loader {

struct JpegResult {
  unsigned char* pixels = nullptr;  // malloc'd RGB rows (H, W, 3); the caller frees it
  int width = 0, height = 0;
  std::string error;    // set when pixels is null
  int warnings = 0;     // libjpeg's corrupt-data warnings on a decoded image (damage it recovered from)
  std::string warning;  // the first of them
};

JpegResult decode_jpeg_rgb(const unsigned char* data, size_t size, long long max_pixels);

}  // namespace frost::loader
