// Images: PNG decoded exactly, JPEG within the measured stb-vs-libjpeg difference, grey converted to RGB,
// PNG round trip, and bad input — wrong format, truncation, a header promising too many pixels, a file
// over the size limit — rejected with the file named and what is wrong.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <span>

#include "engine/error.h"
#include "engine/random.h"
#include "loader/hash.h"
#include "loader/image.h"
#include "test_util.h"

namespace frost::loader {
namespace {

const std::string kImages = std::string(FROST_TEST_FIXTURES) + "/images";

std::vector<std::byte> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> c((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return std::vector<std::byte>(reinterpret_cast<std::byte*>(c.data()),
                                reinterpret_cast<std::byte*>(c.data()) + c.size());
}

int pixel(const HostTensor& img, int64_t y, int64_t x, int c) {
  return img.data<uint8_t>()[(y * img.shape()[1] + x) * 3 + c];
}

void expect_bad(std::span<const std::byte> bytes, const char* part, const ImageLimits& limits = {}) {
  try {
    decode_image(bytes, "bad.img", limits);
    FAIL() << "accepted a bad image";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::BadFile);
    EXPECT_NE(std::string(e.what()).find("bad.img: "), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

TEST(Image, DecodesPngExactlyAndGreyAsRgb) {
  const nlohmann::json want = nlohmann::json::parse(std::ifstream(kImages + "/quadrants.json"));
  const HostTensor img = read_image(kImages + "/quadrants.png");
  ASSERT_EQ(img.shape(), (Shape{24, 32, 3}));
  const int64_t ys[] = {0, 0, 23, 23}, xs[] = {0, 31, 0, 31};
  for (int q = 0; q < 4; ++q)
    for (int c = 0; c < 3; ++c) EXPECT_EQ(pixel(img, ys[q], xs[q], c), want["colours"][q][c].get<int>()) << q;
  const HostTensor grey = read_image(kImages + "/quadrants_grey.png");
  ASSERT_EQ(grey.shape(), (Shape{24, 32, 3}));
  for (int q = 0; q < 4; ++q)
    for (int c = 0; c < 3; ++c) EXPECT_EQ(pixel(grey, ys[q], xs[q], c), want["greys"][q].get<int>()) << q;
}

// JPEG goes through libjpeg-turbo, as in Pillow, torchvision and FFmpeg: the decode equals Pillow's.
// (stb's decoder, used before fuzzing found an overflow in it, differed by up to 3 levels on photo.jpg.)
void compare_with_libjpeg(const std::string& jpg, const std::string& libjpeg_png, int bound) {
  const HostTensor stb = read_image(kImages + "/" + jpg);
  const HostTensor libjpeg = read_image(kImages + "/" + libjpeg_png);  // Pillow's decode, stored losslessly
  ASSERT_EQ(stb.shape(), libjpeg.shape());
  int max_diff = 0;
  double sum = 0;
  for (int64_t i = 0; i < stb.numel(); ++i) {
    const int d = std::abs(int(stb.data<uint8_t>()[i]) - int(libjpeg.data<uint8_t>()[i]));
    max_diff = std::max(max_diff, d);
    sum += d;
  }
  std::printf("frost vs Pillow (libjpeg) on %s: max |difference| %d levels, mean %.3f\n", jpg.c_str(),
              max_diff, sum / double(stb.numel()));
  EXPECT_LE(max_diff, bound) << jpg;
}

// Each file of a fixture table (expected.json: name → Pillow's mode, size and RGB bytes in hex) decodes to
// exactly Pillow's bytes; a difference is reported with its size in levels.
void expect_decodes_as_pillow(const std::string& dir, const nlohmann::json& expected,
                              const std::string& ext) {
  for (auto it = expected.begin(); it != expected.end(); ++it) {
    SCOPED_TRACE(it.key() + " (Pillow mode " + it.value()["mode"].get<std::string>() + ")");
    const HostTensor got = read_image(dir + "/" + it.key() + ext);
    ASSERT_EQ(got.shape(),
              Shape({it.value()["height"].get<int64_t>(), it.value()["width"].get<int64_t>(), 3}));
    const std::vector<uint8_t> want = test::from_hex(it.value()["rgb_hex"]);
    ASSERT_EQ(int64_t(want.size()), got.numel());
    int differing = 0, worst = 0;
    for (int64_t i = 0; i < got.numel(); ++i) {
      const int have = got.data<uint8_t>()[i];
      differing += have != want[size_t(i)];
      worst = std::max(worst, std::abs(have - int(want[size_t(i)])));
    }
    EXPECT_EQ(differing, 0) << "bytes that differ from Pillow's (at most " << worst << " levels)";
  }
}

// Every PNG colour type and bit depth, with and without tRNS, decoded as Pillow's
// Image.open(f).convert('RGB') decodes it (tests/fixtures/png_matrix/make_fixtures.py, Pillow 13.0.0) —
// exactly: 16-bit grey clipped at 255 (the field case: every sample 200 stays 200), 16-bit colour by its
// high byte, low-bit grey scaled, palettes expanded, alpha dropped.
TEST(Image, EveryPngColourTypeAndDepthDecodesAsPillow) {
  const std::string dir = std::string(FROST_TEST_FIXTURES) + "/png_matrix";
  const nlohmann::json expected = nlohmann::json::parse(std::ifstream(dir + "/expected.json"));
  ASSERT_GE(expected.size(), 27u);
  expect_decodes_as_pillow(dir, expected, ".png");
  const HostTensor field = read_image(dir + "/gray16_value200.png");
  for (int64_t i = 0; i < field.numel(); ++i) ASSERT_EQ(field.data<uint8_t>()[i], 200);
}

// JPEG colour spaces as Pillow reads them (tests/fixtures/jpeg_colour/make_fixtures.py, Pillow 13.0.0): grey,
// YCbCr, and Adobe CMYK — which libjpeg alone refuses to convert ("Unsupported color conversion request") —
// through Pillow's inverted-CMYK unpacking and its cmyk2rgb arithmetic, so exactly, not within a level.
// cmyk_const.jpg is the field case: every pixel (200, 30, 60).
TEST(Image, EveryJpegColourSpaceDecodesAsPillow) {
  const std::string dir = std::string(FROST_TEST_FIXTURES) + "/jpeg_colour";
  const nlohmann::json expected = nlohmann::json::parse(std::ifstream(dir + "/expected.json"));
  ASSERT_GE(expected.size(), 6u);
  expect_decodes_as_pillow(dir, expected, "");
  const HostTensor field = read_image(dir + "/cmyk_const.jpg");
  for (int64_t i = 0; i < field.shape()[0] * field.shape()[1]; ++i) {
    ASSERT_EQ(field.data<uint8_t>()[3 * i], 200);
    ASSERT_EQ(field.data<uint8_t>()[3 * i + 1], 30);
    ASSERT_EQ(field.data<uint8_t>()[3 * i + 2], 60);
  }
}

// Damaged JPEGs as Pillow reads them (tests/fixtures/jpeg_damage/make_fixtures.py, Pillow 13.0.0): four
// sources (the field case, baseline, progressive, restart markers), each with stray bytes before every
// marker, overwritten / inserted / early-ended scan data, a lost restart marker, truncation from the header
// down to a missing end marker, garbage after the end. What Pillow decodes, frost decodes to the same bytes
// and reports through the warning sink, naming the file, wherever libjpeg saw damage (overwritten scan
// data that is still valid entropy-coded data changes pixels unnoticed, in Pillow and frost alike); what
// Pillow refuses (truncation that leaves the last scanline unfinished), frost refuses. Without a sink, damage
// is refused: no caller gets a damaged picture silently.
TEST(Image, DamagedJpegsAreReadAsPillowReadsThem) {
  const std::string dir = std::string(FROST_TEST_FIXTURES) + "/jpeg_damage";
  const nlohmann::json expected = nlohmann::json::parse(std::ifstream(dir + "/expected.json"));
  ASSERT_GE(expected.size(), 150u);
  int decoded = 0, refused = 0, warned = 0, unnoticed = 0;
  for (auto it = expected.begin(); it != expected.end(); ++it) {
    const std::string path = dir + "/" + it.key();
    const nlohmann::json& want = it.value();
    SCOPED_TRACE(it.key());
    std::vector<std::string> warnings;
    ImageLimits limits;
    limits.on_warning = [&](const std::string& m) { warnings.push_back(m); };
    if (want["verdict"] == "refused") {
      ++refused;
      try {
        read_image(path, limits);
        ADD_FAILURE() << "decoded what Pillow refuses (" << want["error"].get<std::string>() << ")";
      } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::BadFile);
        EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
      }
      continue;
    }
    ++decoded;
    HostTensor got;
    try {
      got = read_image(path, limits);
    } catch (const Error& e) {
      ADD_FAILURE() << "refused what Pillow decodes: " << e.what();
      continue;
    }
    ASSERT_EQ(got.shape(), Shape({want["height"].get<int64_t>(), want["width"].get<int64_t>(), 3}));
    EXPECT_EQ(sha256_hex(std::string(static_cast<const char*>(got.raw()), got.bytes())),
              want["rgb_sha256"].get<std::string>());
    const bool clean_source = want.value("same_as_source", false) && it.key() == want["source"];
    if (clean_source) {
      EXPECT_TRUE(warnings.empty()) << warnings.front();
      continue;
    }
    if (!warnings.empty()) {
      ++warned;
      ASSERT_EQ(warnings.size(), 1u);
      EXPECT_NE(warnings[0].find(path + ": damaged JPEG data"), std::string::npos) << warnings[0];
      // Without a sink the same file is refused, naming the damage.
      try {
        read_image(path);
        ADD_FAILURE() << "damaged data decoded with nobody told";
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("damaged JPEG data"), std::string::npos) << e.what();
      }
    } else if (!want["same_as_source"].get<bool>()) {
      ++unnoticed;  // overwritten scan data that is still valid entropy-coded data: no decoder can tell
    }
  }
  std::printf(
      "damaged JPEGs: %d decoded as Pillow (%d with a warning, %d changed where libjpeg sees no "
      "damage), %d refused as Pillow\n",
      decoded, warned, unnoticed, refused);
  EXPECT_LE(unnoticed, 8);
  // The field case: 3 stray bytes before DQT decode to the clean file's pixels, with a warning.
  std::vector<std::string> warnings;
  ImageLimits limits;
  limits.on_warning = [&](const std::string& m) { warnings.push_back(m); };
  const HostTensor stray = read_image(dir + "/extraneous_before_dqt.jpg", limits);
  const HostTensor clean = read_image(dir + "/clean.jpg");
  EXPECT_EQ(std::memcmp(stray.raw(), clean.raw(), clean.bytes()), 0);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("3 extraneous bytes before marker 0xdb"), std::string::npos) << warnings[0];
  // libjpeg's notices about a valid file are not damage: an unknown JFIF revision (major version 2), which
  // Pillow reads silently, decodes to the same pixels with no warning and with no sink at all.
  std::ifstream in(dir + "/clean.jpg", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_EQ(bytes.substr(6, 5), std::string("JFIF\0", 5));
  bytes[11] = 2;  // the JFIF major version
  warnings.clear();
  const HostTensor jfif2 =
      decode_image(std::span<const std::byte>(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()),
                   "jfif2.jpg", limits);
  EXPECT_TRUE(warnings.empty()) << warnings.front();
  EXPECT_EQ(std::memcmp(jfif2.raw(),
                        decode_image(std::span<const std::byte>(
                                         reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()),
                                     "jfif2.jpg")
                            .raw(),
                        clean.bytes()),
            0);
  EXPECT_EQ(std::memcmp(jfif2.raw(), clean.raw(), clean.bytes()), 0);
}

// Image formats Pillow reads and frost does not are refused by name — never handed to FFmpeg, which
// decoded the field case (a JPEG-compressed TIFF) to black with no error, and a GIF's transparent index to
// white where Pillow gives its palette colour.
TEST(Image, OtherImageFormatsAreRefusedByName) {
  const std::pair<std::string, std::string> heads[] = {
      {std::string("GIF89a\x01\x00\x01\x00", 10), "GIF"},
      {std::string("II*\0\x08\0\0\0", 8), "TIFF"},
      {std::string("MM\0*\0\0\0\x08", 8), "TIFF"},
      {std::string("RIFF\x10\0\0\0WEBPVP8 ", 16), "WebP"},
      {std::string("BM\x3e\0\0\0\0\0\0\0\x3e\0\0\0", 14), "BMP"},
      {std::string("\0\0\1\0\1\0\x10\x10\0\0", 10), "ICO/CUR"},
      {std::string("\0\0\0\x0cjP  \r\n\x87\n", 12), "JPEG 2000"},
      {std::string("\xff\x0a\xff\x07", 4), "JPEG XL"},
      {std::string("qoif\0\0\0\x10", 8), "QOI"},
      {std::string("8BPS\0\1", 6), "PSD (Photoshop)"},
      {std::string("P6\n4 4\n255\n", 11), "PNM (PBM/PGM/PPM)"},
      {std::string("\0\0\0\x1c"
                   "ftypavif",
                   12),
       "AVIF/HEIF"},
      {std::string("\x01\xda\x01\x01\0\x03", 6), "SGI"},
      {std::string("\x59\xa6\x6a\x95\0\0\0\x08", 8), "Sun raster"},
      {std::string("#define im_width 8\n"), "XBM"},
      {std::string("PF\n4 4\n-1.0\n"), "PFM"},
      {std::string("SIMPLE  =                    T"), "FITS"},
      {std::string("\x0a\x05\x01\x08\0\0\0\0", 8), "PCX"},
  };
  const std::filesystem::path tmp =
      std::filesystem::temp_directory_path() / ("frost_other_images_" + std::to_string(::getpid()));
  std::filesystem::create_directories(tmp);
  const std::string dir = tmp.string();
  for (const auto& [bytes, format] : heads) {
    SCOPED_TRACE(format);
    const std::string path = dir + "/image";
    std::ofstream(path, std::ios::binary) << bytes;
    EXPECT_EQ(other_image_format(path), format);
    try {
      read_image(path);
      ADD_FAILURE() << "decoded";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("an image in " + format +
                                           " format: frost reads PNG and JPEG images only"),
                std::string::npos)
          << e.what();
    }
  }
  // TGA has no signature: its extension names it.
  std::ofstream(dir + "/picture.TGA", std::ios::binary) << std::string(30, '\0');
  EXPECT_EQ(other_image_format(dir + "/picture.TGA"), "TGA");
  // Not images: an MP4 / MOV whose first box is 256 or 512 bytes (the ICO signature's bytes), an M2TS packet
  // whose arrival time is 0x100 (the same bytes, then MPEG-TS's 0x47), MPEG-TS, MPEG-PS, raw H.264,
  // Matroska, AVI, PNG, JPEG, text.
  for (const std::string& bytes :
       {std::string("\0\0\1\0ftypisom", 12), std::string("\0\0\1\0wide\0\0\0\0", 12),
        std::string("\0\0\2\0mdat\0\0\0\0", 12), std::string("\0\0\1\0\x47\x40\x11\x10", 8),
        std::string("\x0a\x05\x01\x08\x47\x40\0\0", 8), std::string("\x47\x40\x11\x10", 4),
        std::string("\0\0\1\xba\x44\0\x04", 7), std::string("\0\0\0\1\x67\x64", 6),
        std::string("\x1a\x45\xdf\xa3\x01", 5), std::string("RIFF\x10\0\0\0AVI LIST", 16),
        std::string("\x89PNG\r\n\x1a\n", 8), std::string("\xff\xd8\xff\xe0", 4), std::string("hello")}) {
    std::ofstream(dir + "/other", std::ios::binary) << bytes;
    EXPECT_EQ(other_image_format(dir + "/other"), "") << bytes.size();
  }
  std::filesystem::remove_all(tmp);
}

TEST(Image, JpegDecodesAsPillowDoes) {
  compare_with_libjpeg("quadrants.jpg", "quadrants_jpg_libjpeg.png", 0);
  compare_with_libjpeg("photo.jpg", "photo_jpg_libjpeg.png", 0);
}

TEST(Image, JpegThatOverflowedStbIsAnError) {
  // The input the fuzzer found: more than 256 Huffman codes in a table (stb wrote past its array).
  const std::vector<std::byte> bytes = read_bytes(
      std::string(FROST_TEST_FIXTURES) + "/../fuzz/corpus/image/regression-stb-huffman-overflow.jpg");
  ASSERT_FALSE(bytes.empty());
  expect_bad(bytes, "cannot decode JPEG");
}

TEST(Image, PngThatMadeStbCopyFromNullIsRefused) {
  // The input the fuzzer found: a zero-length IDAT chunk, which stb copies from a null buffer.
  const std::vector<std::byte> bytes = read_bytes(
      std::string(FROST_TEST_FIXTURES) + "/../fuzz/corpus/image/regression-stb-zero-length-idat.png");
  ASSERT_FALSE(bytes.empty());
  expect_bad(bytes, "zero-length PNG IDAT chunk");
  // A chunk claiming more bytes than the file holds is refused before stb reads it.
  std::vector<std::byte> lying = read_bytes(std::string(FROST_TEST_FIXTURES) + "/images/quadrants.png");
  lying[8] = std::byte{0x7f};
  expect_bad(lying, "past the end");
}

TEST(Image, PngRoundTrip) {
  HostTensor img(DType::U8, {5, 7, 3});
  for (int64_t i = 0; i < img.numel(); ++i) img.data<uint8_t>()[i] = uint8_t(Philox(3).block(uint64_t(i))[0]);
  const std::string path = ::testing::TempDir() + "/frost_round.png";
  write_png(path, img);
  EXPECT_TRUE(test::bit_identical(read_image(path), img));
  EXPECT_THROW(write_png(path, HostTensor(DType::F32, {2, 2, 3})), Error);
}

TEST(Image, RejectsBadInput) {
  const std::vector<std::byte> png = read_bytes(kImages + "/quadrants.png");
  const std::vector<std::byte> jpg = read_bytes(kImages + "/quadrants.jpg");
  std::vector<std::byte> gif(png);
  gif[0] = std::byte('G');
  expect_bad(gif, "not a PNG or JPEG");
  expect_bad(std::span<const std::byte>(png).first(20), "PNG");               // truncated in the header
  expect_bad(std::span<const std::byte>(jpg).first(jpg.size() / 2), "JPEG");  // truncated data
  ImageLimits tiny;
  tiny.max_pixels = 100;  // the fixture is 32x24
  expect_bad(png, "exceed the budget", tiny);
  ImageLimits small_file;
  small_file.max_file_bytes = 50;
  expect_bad(png, "exceed the image file limit", small_file);
  // A PNG header that promises 20000 x 20000 pixels (CRC left wrong on purpose): refused before decoding.
  std::vector<std::byte> huge(png);
  const uint32_t dim = 20000;
  for (int i = 0; i < 4; ++i) {
    huge[16 + size_t(i)] = std::byte((dim >> (24 - 8 * i)) & 0xff);
    huge[20 + size_t(i)] = std::byte((dim >> (24 - 8 * i)) & 0xff);
  }
  expect_bad(huge, "bad.img");
  try {
    read_image(kImages + "/does_not_exist.png");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("does_not_exist.png: cannot open"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace frost::loader
