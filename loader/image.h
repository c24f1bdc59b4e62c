// Image files: JPEG and PNG decoded with stb_image (compiled in loader/stb_impl.cpp with only those two
// formats, no stdio, a dimension cap), PNG written with stb_image_write. Every input is checked before
// stb sees it — file size, format signature, and width x height x channels against a pixel budget read
// with stbi_info_from_memory — so a hostile file cannot make the decoder allocate without bound.
//
//   HostTensor rgb = read_image("frame_0001.jpg");   // u8 (H, W, 3), RGB
//   write_png("out.png", rgb);
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "engine/storage.h"

namespace frost::loader {

struct ImageLimits {
  size_t max_file_bytes = size_t(64) << 20;  // 64 MiB
  int64_t max_pixels = 8192LL * 8192;        // width x height
};

// Decodes a JPEG or PNG held in memory into u8 (H, W, 3) RGB (grey and alpha are converted as stb does).
// `name` stands for the file in errors, which are BadFile and say what is wrong.
HostTensor decode_image(std::span<const std::byte> bytes, const std::string& name,
                        const ImageLimits& limits = {});
HostTensor read_image(const std::string& path, const ImageLimits& limits = {});

// Writes u8 (H, W, C) with C in 1..4 as PNG, atomically (temporary file, fsync, rename).
void write_png(const std::string& path, const HostTensor& image);

}  // namespace frost::loader
