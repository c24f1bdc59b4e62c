// JPEG decoding through libjpeg-turbo (Debian libjpeg62-turbo-dev): the decoder Pillow, torchvision and
// FFmpeg use, so frames decode to the same bytes as in the reference's pipeline, and one that is hardened
// by continuous fuzzing. libjpeg reports errors by calling error_exit, which must not return: it longjmps
// back here, so this file keeps to C-style resources between setjmp and the jump. Damaged data is what
// Pillow makes of it: data that ends before the image does is refused ("image file is truncated", even when
// only the end marker is missing); every other corrupt-data warning of libjpeg (stray bytes between
// markers, a damaged scan, an early end marker) leaves the pixels libjpeg recovers, and is reported.
//
// "Truncated" is decided as Pillow decides it: Pillow feeds libjpeg through a suspending data source and
// calls the file truncated when its data runs out while libjpeg still wants more to finish the header or
// the last scanline; once every scanline is out, a missing end marker does not matter. frost's source
// suspends at the end of the data the same way (libjpeg's jpeg_mem_src would instead invent an end marker
// and decode grey), so the same files are refused.
#include <algorithm>
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <jpeglib.h>
// After jpeglib.h: the warning codes.
#include <jerror.h>

#include "loader/jpeg_decode.h"

namespace frost::loader {
namespace {

struct ErrorManager {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  char warning[JMSG_LENGTH_MAX];  // the first corrupt-data warning
  int warnings;
};

void on_error(j_common_ptr cinfo) {
  auto* e = reinterpret_cast<ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, e->message);
  std::longjmp(e->jump, 1);
}

// msg_level < 0 is a warning. The ones about corrupt data are counted, the first one kept; notices about a
// valid file (an unknown JFIF revision, an unusual Adobe transform, a bad ICC profile chunk), which Pillow
// reads silently, are not damage.
void on_message(j_common_ptr cinfo, int msg_level) {
  if (msg_level >= 0) return;
  switch (cinfo->err->msg_code) {
    case JWRN_ARITH_BAD_CODE:
    case JWRN_BOGUS_PROGRESSION:
    case JWRN_EXTRANEOUS_DATA:
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_JPEG_EOF:
    case JWRN_MUST_RESYNC:
    case JWRN_NOT_SEQUENTIAL:
    case JWRN_TOO_MUCH_DATA:
      break;
    default:
      return;
  }
  auto* e = reinterpret_cast<ErrorManager*>(cinfo->err);
  if (e->warnings++ == 0) (*cinfo->err->format_message)(cinfo, e->warning);
}

// A data source holding the whole file that suspends (returns FALSE) when libjpeg asks for more: the end
// of the data, as Pillow's decoder sees it when the file has no more to give.
void init_source(j_decompress_ptr) {}
boolean fill_input_buffer(j_decompress_ptr) {
  return FALSE;
}
void skip_input_data(j_decompress_ptr cinfo, long num_bytes) {
  jpeg_source_mgr* src = cinfo->src;
  if (num_bytes <= 0) return;
  const size_t skip = std::min(size_t(num_bytes), src->bytes_in_buffer);  // past the end: suspends next
  src->next_input_byte += skip;
  src->bytes_in_buffer -= skip;
}
void term_source(j_decompress_ptr) {}

[[noreturn]] void truncated(j_decompress_ptr cinfo) {
  auto* e = reinterpret_cast<ErrorManager*>(cinfo->err);
  std::snprintf(e->message, sizeof e->message, "%s",
                "the file is truncated (its data ends before the image does; Pillow refuses it too)");
  std::longjmp(e->jump, 1);
}

// Pillow's CMYK;I unpacking (c = 255 - stored) and cmyk2rgb (libImaging/Convert.c): with nk = 255 - k,
// each channel is CLIP8(nk - MULDIV255(c, nk)), MULDIV255(a, b) = ((a·b + 128) >> 8 + a·b + 128) >> 8.
// Stored Adobe values are inverted, so nk is the stored k byte and c is 255 minus the stored byte.
void cmyk_to_rgb(const unsigned char* stored, unsigned char* rgb) {
  const int nk = stored[3];
  for (int i = 0; i < 3; ++i) {
    const int c = 255 - stored[i], tmp = c * nk + 128;
    const int v = nk - (((tmp >> 8) + tmp) >> 8);
    rgb[i] = static_cast<unsigned char>(v < 0 ? 0 : v > 255 ? 255 : v);
  }
}

}  // namespace

JpegResult decode_jpeg_rgb(const unsigned char* data, size_t size, long long max_pixels) {
  JpegResult result;
  jpeg_decompress_struct cinfo;
  ErrorManager err;
  std::memset(&cinfo, 0, sizeof(cinfo));
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = on_error;
  err.pub.emit_message = on_message;
  err.message[0] = '\0';
  err.warning[0] = '\0';
  err.warnings = 0;
  unsigned char* volatile pixels = nullptr;
  unsigned char* volatile cmyk_row = nullptr;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    std::free(pixels);
    std::free(cmyk_row);
    result.error = err.message;
    return result;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_source_mgr source{};
  source.init_source = init_source;
  source.fill_input_buffer = fill_input_buffer;
  source.skip_input_data = skip_input_data;
  source.resync_to_restart = jpeg_resync_to_restart;
  source.term_source = term_source;
  source.next_input_byte = data;
  source.bytes_in_buffer = size;
  cinfo.src = &source;
  if (jpeg_read_header(&cinfo, TRUE) == JPEG_SUSPENDED) truncated(&cinfo);
  const long long w = cinfo.image_width, h = cinfo.image_height;
  if (w <= 0 || h <= 0 || w * h > max_pixels) {
    jpeg_destroy_decompress(&cinfo);
    result.error = std::to_string(w) + "x" + std::to_string(h) + " pixels exceed the budget of " +
                   std::to_string(max_pixels);
    return result;
  }
  // CMYK and YCCK (Adobe print workflows): libjpeg's own CMYK → RGB is refused ("Unsupported color
  // conversion request"); Pillow reads them as CMYK with Adobe's inverted convention ("CMYK;I", always) and
  // converts as below. Everything else libjpeg converts to RGB as Pillow's decode does.
  const bool cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
  cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
  if (!jpeg_start_decompress(&cinfo)) truncated(&cinfo);  // a multi-scan file reads every scan here
  if (cinfo.output_components != (cmyk ? 4 : 3)) {
    jpeg_destroy_decompress(&cinfo);
    result.error = "cannot convert to RGB";
    return result;
  }
  pixels = static_cast<unsigned char*>(std::malloc(size_t(w) * size_t(h) * 3));
  if (cmyk) cmyk_row = static_cast<unsigned char*>(std::malloc(size_t(w) * 4));
  if (pixels == nullptr || (cmyk && cmyk_row == nullptr)) {
    std::free(pixels);
    std::free(cmyk_row);
    jpeg_destroy_decompress(&cinfo);
    result.error = "out of memory";
    return result;
  }
  while (cinfo.output_scanline < cinfo.output_height) {
    unsigned char* rgb = pixels + size_t(cinfo.output_scanline) * size_t(w) * 3;
    if (!cmyk) {
      JSAMPROW row = rgb;
      if (jpeg_read_scanlines(&cinfo, &row, 1) != 1) truncated(&cinfo);
      continue;
    }
    JSAMPROW row = cmyk_row;  // a scratch row: CMYK takes 4 bytes a pixel, the output row 3
    if (jpeg_read_scanlines(&cinfo, &row, 1) != 1) truncated(&cinfo);
    for (long long x = 0; x < w; ++x) cmyk_to_rgb(cmyk_row + 4 * x, rgb + 3 * x);
  }
  jpeg_finish_decompress(&cinfo);  // suspends (FALSE) without an end marker: every scanline is out, so fine
  jpeg_destroy_decompress(&cinfo);
  std::free(cmyk_row);
  result.width = int(w);
  result.height = int(h);
  result.pixels = pixels;
  result.warnings = err.warnings;
  result.warning = err.warning;
  return result;
}

}  // namespace frost::loader
