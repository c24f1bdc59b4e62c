#include "loader/image.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <memory>
#include <vector>

#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

#include "engine/error.h"
#include "loader/files.h"
#include "loader/jpeg_decode.h"

namespace frost::loader {
namespace {

bool starts_with(std::span<const std::byte> b, std::initializer_list<unsigned char> sig) {
  if (b.size() < sig.size()) return false;
  size_t i = 0;
  for (unsigned char c : sig)
    if (b[i++] != std::byte(c)) return false;
  return true;
}

[[noreturn]] void bad(const std::string& name, const std::string& what) {
  throw_error(ErrorCategory::BadFile, name + ": " + what);
}

// The image formats Pillow reads besides PNG and JPEG, by signature (what its plugins accept in _accept).
// frost decodes none of them — FFmpeg, which would take several as a "video", decodes some wrongly (a
// JPEG-compressed TIFF to black, a GIF's transparent index to white where Pillow gives the palette
// colour) — so each is refused by name instead of a silent wrong picture.
std::string other_image_format(std::span<const std::byte> b) {
  using namespace std::string_view_literals;
  auto at = [&](size_t offset, std::string_view sig) {
    if (b.size() < offset + sig.size()) return false;
    return std::memcmp(b.data() + offset, sig.data(), sig.size()) == 0;
  };
  if (at(0, "GIF87a"sv) || at(0, "GIF89a"sv)) return "GIF";
  if (at(0, "II*\0"sv) || at(0, "MM\0*"sv) || at(0, "II+\0"sv) || at(0, "MM\0+"sv)) return "TIFF";
  if (at(0, "RIFF"sv) && at(8, "WEBP"sv)) return "WebP";
  if (at(0, "BM"sv) && b.size() >= 14) return "BMP";
  // ICO/CUR: a file of 256 or 512 bytes' first box (a MOV's "mdat", "moov", "wide", "ftyp") or an M2TS
  // packet whose arrival time is 0x100 starts with the same four bytes; an icon directory's first entry
  // follows instead (a reserved zero byte, and one or two colour planes or a hotspot).
  const auto byte = [&](size_t i) { return i < b.size() ? uint8_t(b[i]) : uint8_t(0xff); };
  if ((at(0, "\0\0\1\0"sv) || at(0, "\0\0\2\0"sv)) && (byte(4) | byte(5)) != 0 && byte(4) != 0x47 &&
      byte(9) == 0 && !std::isalpha(byte(4)))
    return "ICO/CUR";
  if (at(0, "\0\0\0\x0cjP  \r\n\x87\n"sv) || at(0, "\xff\x4f\xff\x51"sv)) return "JPEG 2000";
  if (at(0, "\xff\x0a"sv) || at(0, "\0\0\0\x0cJXL \r\n\x87\n"sv)) return "JPEG XL";
  if (at(0, "qoif"sv)) return "QOI";
  if (at(0, "8BPS"sv)) return "PSD (Photoshop)";
  if (at(0, "DDS "sv)) return "DDS";
  if (at(0, "v/1\x01"sv)) return "OpenEXR";
  if (at(0, "icns"sv)) return "ICNS";
  if (at(0, "\x0a"sv) && byte(1) <= 5 && byte(2) == 1 &&
      (byte(3) == 1 || byte(3) == 2 || byte(3) == 4 || byte(3) == 8) && byte(4) != 0x47)
    return "PCX";
  if (at(0, "\x01\xda"sv)) return "SGI";
  if (at(0, "\x59\xa6\x6a\x95"sv)) return "Sun raster";
  if (at(0, "#define"sv)) return "XBM";
  if (at(0, "/* XPM */"sv)) return "XPM";
  if ((at(0, "PF"sv) || at(0, "Pf"sv)) && (byte(2) == '\n' || byte(2) == '\r' || byte(2) == ' '))
    return "PFM";
  if (at(0, "SIMPLE  ="sv)) return "FITS";
  if (at(0, "BLP1"sv) || at(0, "BLP2"sv)) return "BLP";
  if (at(0, "\xb1\x68\xde\x3a"sv)) return "DCX";
  if (at(0, "%!PS"sv) || at(0, "\xc5\xd0\xd3\xc6"sv)) return "EPS";
  if (at(0, "FTEX"sv)) return "FTEX";
  if (at(0, "GRIB"sv)) return "GRIB";
  if (at(0, "BUFR"sv)) return "BUFR";
  if (at(0, "\x89HDF\r\n\x1a\n"sv)) return "HDF5";
  if (at(0, "DanM"sv) || at(0, "LinS"sv)) return "MSP";
  if (at(0, "\x80\xe8\x00\x00"sv)) return "PIXAR";
  if (at(0, "\xd7\xcd\xc6\x9a"sv) || (at(0, "\x01\0\0\0"sv) && at(40, " EMF"sv))) return "WMF/EMF";
  if (at(0, "P7 332"sv)) return "XV thumbnail";
  if (b.size() >= 3 && at(0, "P"sv) && b[1] >= std::byte('1') && b[1] <= std::byte('7') &&
      (b[2] == std::byte(' ') || b[2] == std::byte('\n') || b[2] == std::byte('\r') ||
       b[2] == std::byte('\t')))
    return "PNM (PBM/PGM/PPM)";
  for (std::string_view brand :
       {"avif"sv, "avis"sv, "heic"sv, "heix"sv, "heim"sv, "heis"sv, "mif1"sv, "msf1"sv})
    if (at(4, "ftyp"sv) && at(8, brand)) return "AVIF/HEIF";
  return "";
}

uint32_t be32(const std::byte* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

// Walks the PNG chunk list before stb does: every chunk must fit in the file, and a zero-length IDAT chunk
// (legal, but produced by no encoder we know of) is refused because stb copies it from a null buffer —
// undefined behaviour that fuzzing found (docs/decisions.md).
void check_png_chunks(std::span<const std::byte> bytes, const std::string& name) {
  size_t at = 8;
  while (at < bytes.size()) {
    if (bytes.size() - at < 12) bad(name, "PNG chunk header at byte " + std::to_string(at) + " is truncated");
    const uint32_t length = be32(bytes.data() + at);
    if (length > bytes.size() - at - 12)
      bad(name, "PNG chunk at byte " + std::to_string(at) + " claims " + std::to_string(length) +
                    " bytes past the end");
    if (length == 0 && std::memcmp(bytes.data() + at + 4, "IDAT", 4) == 0)
      bad(name, "zero-length PNG IDAT chunk at byte " + std::to_string(at) + " (refused: stb mishandles it)");
    if (std::memcmp(bytes.data() + at + 4, "IEND", 4) == 0) return;
    at += 12 + size_t(length);
  }
}

}  // namespace

HostTensor decode_image(std::span<const std::byte> bytes, const std::string& name,
                        const ImageLimits& limits) {
  if (bytes.size() > limits.max_file_bytes)
    bad(name, std::to_string(bytes.size()) + " bytes exceed the image file limit of " +
                  std::to_string(limits.max_file_bytes));
  const bool png = starts_with(bytes, {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'});
  const bool jpeg = starts_with(bytes, {0xff, 0xd8, 0xff});
  if (!png && !jpeg) {
    const std::string format = other_image_format(bytes);
    if (!format.empty()) bad(name, unsupported_image_message(format));
    bad(name, "not a PNG or JPEG file (unknown signature)");
  }
  if (jpeg) {
    JpegResult r = decode_jpeg_rgb(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
                                   limits.max_pixels);
    if (r.pixels == nullptr) bad(name, "cannot decode JPEG: " + r.error);
    HostTensor out(DType::U8, {int64_t(r.height), int64_t(r.width), 3});
    std::memcpy(out.raw(), r.pixels, out.bytes());
    std::free(r.pixels);
    if (r.warnings > 0) {  // damage libjpeg recovered from, as Pillow decodes it (loader/jpeg_decode.cpp)
      const std::string what = "damaged JPEG data (" + r.warning +
                               (r.warnings > 1 ? ", and " + std::to_string(r.warnings - 1) + " more" : "") +
                               ")";
      if (!limits.on_warning) bad(name, what);
      limits.on_warning(name + ": " + what + ", decoded as Pillow decodes it");
    }
    return out;
  }
  if (bytes.size() > size_t(INT32_MAX)) bad(name, "file too large for the decoder");
  check_png_chunks(bytes, name);
  const auto* data = reinterpret_cast<const stbi_uc*>(bytes.data());
  const int len = int(bytes.size());
  int w = 0, h = 0, comp = 0;
  if (!stbi_info_from_memory(data, len, &w, &h, &comp))
    bad(name, std::string("unreadable PNG header: ") + stbi_failure_reason());
  if (w <= 0 || h <= 0 || int64_t(w) * int64_t(h) > limits.max_pixels)
    bad(name, std::to_string(w) + "x" + std::to_string(h) + " pixels exceed the budget of " +
                  std::to_string(limits.max_pixels));
  int dw = 0, dh = 0, dc = 0;
  // 16-bit grey: Pillow opens it as mode I;16 and convert('RGB') clips each sample at 255 (a sample of 200
  // stays 200); stb would keep the high byte (200 → 0). Every other type and depth stb converts as Pillow
  // does — low-bit grey scaled to 0..255, 16-bit colour and grey + alpha by their high byte, alpha and tRNS
  // dropped (tests/fixtures/png_matrix: every colour type and bit depth against Pillow).
  const uint8_t depth = uint8_t(bytes[24]), colour_type = uint8_t(bytes[25]);  // IHDR, checked by stb above
  const bool grey16 = depth == 16 && colour_type == 0;
  void* decoded = grey16 ? static_cast<void*>(stbi_load_16_from_memory(data, len, &dw, &dh, &dc, 1))
                         : static_cast<void*>(stbi_load_from_memory(data, len, &dw, &dh, &dc, 3));
  if (decoded == nullptr) bad(name, std::string("cannot decode PNG: ") + stbi_failure_reason());
  const std::unique_ptr<void, void (*)(void*)> hold(decoded, stbi_image_free);
  if (dw != w || dh != h) bad(name, "decoded size differs from the header's");
  HostTensor out(DType::U8, {int64_t(h), int64_t(w), 3});
  if (grey16) {
    const auto* grey = static_cast<const stbi_us*>(decoded);
    uint8_t* o = out.data<uint8_t>();
    for (int64_t i = 0; i < int64_t(w) * h; ++i)
      o[3 * i] = o[3 * i + 1] = o[3 * i + 2] = uint8_t(std::min<int>(grey[i], 255));
  } else {
    std::memcpy(out.raw(), decoded, out.bytes());
  }
  return out;
}

HostTensor read_image(const std::string& path, const ImageLimits& limits) {
  // A FIFO or device named as an image is refused from its stat, never opened (it could block).
  const std::string buffer = read_regular_file(path, "image", limits.max_file_bytes);
  return decode_image(
      std::span<const std::byte>(reinterpret_cast<const std::byte*>(buffer.data()), buffer.size()), path,
      limits);
}

std::string unsupported_image_message(const std::string& format) {
  return "an image in " + format +
         " format: frost reads PNG and JPEG images only (convert it to PNG, which keeps its pixels)";
}

std::string other_image_format(const std::string& path) {
  // TGA has no signature (Pillow goes by its extension; FFmpeg too).
  std::string ext = std::filesystem::path(path).extension().string();
  for (char& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
  if (ext == ".tga" || ext == ".icb" || ext == ".vda" || ext == ".vst") return "TGA";
  try {
    return other_image_format(read_file_head(path, 64, "image"));
  } catch (const Error&) {
    return "";
  }
}

bool is_image_file(const std::string& path) {
  std::vector<std::byte> head;
  try {
    head = read_file_head(path, 8, "image");  // never blocks: a FIFO or device is not an image
  } catch (const Error&) {
    return false;
  }
  return starts_with(head, {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}) ||
         starts_with(head, {0xff, 0xd8, 0xff});
}

std::string encode_png(const HostTensor& image, const std::string& name) {
  const Shape& s = image.shape();
  FROST_CHECK(image.dtype() == DType::U8 && s.rank() == 3 && s[2] >= 1 && s[2] <= 4 && s[0] > 0 && s[1] > 0 &&
                  s[0] <= INT32_MAX && s[1] <= INT32_MAX,
              InvalidArgument,
              name << ": a PNG needs u8 (H, W, C) with C in 1..4, got " << image.dtype() << s);
  std::string png;
  auto sink = [](void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data), size_t(size));
  };
  const int w = int(s[1]), h = int(s[0]), c = int(s[2]);
  FROST_CHECK(stbi_write_png_to_func(sink, &png, w, h, c, image.raw(), w * c) != 0, InvalidArgument,
              name << ": PNG encoding failed");
  return png;
}

void write_png(const std::string& path, const HostTensor& image) {
  const std::string png = encode_png(image, path);
  AtomicFile file(path);
  file.write(png.data(), png.size());
  file.commit();
}

}  // namespace frost::loader
