// Image files: PNG decoded with stb_image (compiled in loader/stb_impl.cpp: PNG only, no stdio, a dimension
// cap), JPEG with libjpeg-turbo (loader/jpeg_decode.cpp; fuzzing found an out-of-bounds write in stb's
// JPEG decoder), PNG written with stb_image_write. Every input is checked before a decoder allocates — file
// size, format signature, and width x height from the header against a pixel budget — so a hostile file
// cannot make it allocate without bound; corrupt or truncated data is an error, never garbage pixels.
//
//   HostTensor rgb = read_image("frame_0001.jpg");   // u8 (H, W, 3), RGB
//   write_png("out.png", rgb);
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "engine/storage.h"

namespace frost::loader {

// Damaged input that the reference's library still decodes (a JPEG with stray bytes between markers, a
// video frame the decoder concealed damage in) is decoded, and a message naming the file and what is wrong
// goes to the sink, on the thread that reads. Without a sink such input is refused (BadFile): a caller
// that does not listen never gets a damaged picture silently. A sink may throw to refuse it (--strict).
using WarningSink = std::function<void(const std::string& message)>;

struct ImageLimits {
  size_t max_file_bytes = size_t(64) << 20;  // 64 MiB
  int64_t max_pixels = 8192LL * 8192;        // width x height
  WarningSink on_warning;                    // see WarningSink
};

// Decodes a JPEG or PNG held in memory into u8 (H, W, 3) RGB (grey and alpha are converted as stb does).
// `name` stands for the file in errors, which are BadFile and say what is wrong.
HostTensor decode_image(std::span<const std::byte> bytes, const std::string& name,
                        const ImageLimits& limits = {});
HostTensor read_image(const std::string& path, const ImageLimits& limits = {});

// Whether `path` is a regular file that starts with a PNG or JPEG signature (what decode_image reads).
// Never blocks: a FIFO or device is not an image.
bool is_image_file(const std::string& path);

// The name of an image format Pillow reads that frost does not (GIF, TIFF, WebP, BMP, ICO, JPEG 2000, JPEG
// XL, QOI, PSD, DDS, OpenEXR, ICNS, PCX, PNM, AVIF/HEIF, SGI, Sun raster, XBM, XPM, PFM, FITS, BLP, DCX,
// EPS, FTEX, GRIB, BUFR, HDF5, MSP, PIXAR, WMF/EMF, XV thumbnails), from the file's signature — and TGA,
// which has none, from its extension; "" for anything else (PNG and JPEG included). Such files are refused
// by name, never handed to FFmpeg as videos (it decodes some of them to wrong pixels). Never blocks.
std::string other_image_format(const std::string& path);
// "an image in TIFF format: frost reads PNG and JPEG images only (...)" — the refusal.
std::string unsupported_image_message(const std::string& format);

// Writes u8 (H, W, C) with C in 1..4 as PNG, atomically (temporary file, fsync, rename).
void write_png(const std::string& path, const HostTensor& image);
// The same PNG's bytes in memory (an image embedded in a page); `name` for errors.
std::string encode_png(const HostTensor& image, const std::string& name);

}  // namespace frost::loader
