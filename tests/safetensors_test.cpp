// safetensors: files written by the Python package (the reference writer) read back exactly; our writer
// round-trips every dtype, aligned, atomically; and every rejection rule of the reference reader (and a
// few stricter ones) gives an error naming the file, the tensor where there is one, and the rule.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/random.h"
#include "loader/safetensors.h"
#include "test_util.h"

namespace frost::loader {
namespace {

namespace fs = std::filesystem;
const std::string kFixtures = FROST_TEST_FIXTURES;

// A file image: 8-byte little-endian length, the header text, then `data` bytes.
std::vector<std::byte> image(const std::string& header, size_t data_bytes,
                             uint64_t length_override = UINT64_MAX) {
  const uint64_t n = length_override == UINT64_MAX ? header.size() : length_override;
  std::vector<std::byte> out(8 + header.size() + data_bytes, std::byte{0});
  for (int i = 0; i < 8; ++i) out[size_t(i)] = std::byte((n >> (8 * i)) & 0xff);
  std::memcpy(out.data() + 8, header.data(), header.size());
  return out;
}

// Parses the image and returns the error message, or "" when it parsed.
std::string rejection(const std::vector<std::byte>& bytes) {
  try {
    SafetensorsFile::parse(bytes, "bad.safetensors");
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::BadFile) << e.what();
    return e.what();
  }
  return "";
}

void expect_rejected(const std::vector<std::byte>& bytes, std::initializer_list<const char*> parts) {
  const std::string m = rejection(bytes);
  ASSERT_FALSE(m.empty()) << "accepted a bad file";
  EXPECT_NE(m.find("bad.safetensors: "), std::string::npos) << m;
  for (const char* p : parts) EXPECT_NE(m.find(p), std::string::npos) << "'" << p << "' missing from: " << m;
}

TEST(Safetensors, ReadsWhatThePythonPackageWrote) {
  const SafetensorsFile f = SafetensorsFile::open(kFixtures + "/safetensors/python_mixed.safetensors");
  const nlohmann::json want =
      nlohmann::json::parse(std::ifstream(kFixtures + "/safetensors/python_mixed.json"));
  EXPECT_EQ(f.metadata().at("format"), "np");
  EXPECT_EQ(f.metadata().at("source"), "frost tests");
  ASSERT_EQ(f.tensors().size(), want["tensors"].size());
  for (auto it = want["tensors"].begin(); it != want["tensors"].end(); ++it) {
    SCOPED_TRACE(it.key());
    const TensorEntry* t = f.find(it.key());
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->dtype_name, it.value()["dtype"].get<std::string>());
    EXPECT_EQ(t->shape.to_vector(), it.value()["shape"].get<std::vector<int64_t>>());
    const std::vector<double> values = it.value()["values"].get<std::vector<double>>();
    if (!t->dtype) {  // BOOL, I16: listed, not computed on; reading names the dtype
      try {
        f.read(it.key());
        FAIL() << "read an unsupported dtype";
      } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::Unsupported);
        EXPECT_NE(std::string(e.what()).find(t->dtype_name), std::string::npos) << e.what();
      }
      continue;
    }
    const HostTensor got = f.read(it.key());
    ASSERT_EQ(got.numel(), int64_t(values.size()));
    for (size_t i = 0; i < values.size(); ++i) EXPECT_EQ(got.at(int64_t(i)), values[i]) << "element " << i;
  }
  // f16 converted on request, exactly (every f16 is an f32).
  const HostTensor h = f.read("f16", DType::F32);
  EXPECT_EQ(h.dtype(), DType::F32);
  EXPECT_EQ(h.data<float>()[2], 65504.0f);
  EXPECT_TRUE(std::signbit(h.data<float>()[5]));
}

TEST(Safetensors, RoundTripsEveryDtypeAlignedAndAtomically) {
  const fs::path dir = fs::temp_directory_path() / ("frost_st_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string path = (dir / "round.safetensors").string();
  std::vector<HostTensor> values;
  const DType types[] = {DType::U8, DType::F16, DType::F32, DType::BF16, DType::I64, DType::F64, DType::I32};
  for (size_t i = 0; i < std::size(types); ++i) {
    HostTensor t(types[i], Shape{3, int64_t(i) + 1});
    for (size_t b = 0; b < t.bytes(); ++b)
      static_cast<unsigned char*>(t.raw())[b] = (unsigned char)(Philox(i).block(b)[0]);
    values.push_back(std::move(t));
  }
  values.emplace_back(DType::F32, Shape{0, 5});  // zero-length: legal
  std::vector<std::pair<std::string, const HostTensor*>> named;
  for (size_t i = 0; i < values.size(); ++i) named.emplace_back("t" + std::to_string(i), &values[i]);
  std::ofstream(path) << "an older file the write must replace";
  write_safetensors(path, named, {{"written_by", "frost"}});

  const SafetensorsFile f = SafetensorsFile::open(path);
  EXPECT_EQ(f.metadata().at("written_by"), "frost");
  EXPECT_EQ(f.header_size() % 8, 0u);
  for (size_t i = 0; i < values.size(); ++i) {
    const TensorEntry* t = f.find(named[i].first);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->offset % size_of(values[i].dtype()), 0u) << "tensor " << i << " is not aligned";
    EXPECT_TRUE(test::bit_identical(f.read(named[i].first), values[i])) << "tensor " << i;
  }
  size_t files = 0;
  for (const auto& entry : fs::directory_iterator(dir)) files += entry.is_regular_file();
  EXPECT_EQ(files, 1u) << "a temporary file was left behind";
  fs::remove_all(dir);

  EXPECT_THROW(write_safetensors((dir / "missing_dir" / "x.safetensors").string(), named), Error);
  HostTensor one(DType::F32, {1});
  EXPECT_THROW(write_safetensors(path, {{"a", &one}, {"a", &one}}), Error);  // repeated name
}

TEST(Safetensors, MisalignedDataIsCopiedNotCast) {
  // A one-byte U8 tensor first puts the F32 tensor at an odd address.
  const std::string header = R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                             R"("b":{"dtype":"F32","shape":[2],"data_offsets":[1,9]}})";
  std::vector<std::byte> bytes = image(header, 9);
  const float b[2] = {1.25f, -3.5f};
  std::memcpy(bytes.data() + 8 + header.size() + 1, b, 8);
  const SafetensorsFile f = SafetensorsFile::parse(bytes, "mis.safetensors");
  const HostTensor t = f.read("b");
  EXPECT_EQ(t.data<float>()[0], 1.25f);
  EXPECT_EQ(t.data<float>()[1], -3.5f);
}

// read_shared: a tensor of an opened file already in the dtype asked for borrows the mapped pages (no
// copy), equals read(), outlives the file object, and writing to it changes neither the file nor what a
// later open reads. Anything else — another dtype, misaligned data, bytes parsed from memory — is a copy.
TEST(Safetensors, ReadSharedBorrowsAlignedTensorsAndNeverWritesTheFile) {
  const fs::path dir = fs::temp_directory_path() / ("frost_st_shared_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string path = (dir / "w.safetensors").string();
  HostTensor w = HostTensor::from_f32({1.5f, -2.0f, 3.25f, 0.0f, 7.0f, -1.0f}, {2, 3});
  HostTensor h = HostTensor::from_f32({1.0f, 2.0f}, {2}, DType::F16);
  write_safetensors(path, {{"w", &w}, {"h", &h}});

  HostTensor shared;
  {
    const SafetensorsFile f = SafetensorsFile::open(path);
    shared = f.read_shared("w");
    EXPECT_TRUE(shared.borrowed());
    EXPECT_EQ(static_cast<const void*>(shared.raw()), static_cast<const void*>(f.find("w")->bytes.data()))
        << "the tensor is not the file's bytes";
    EXPECT_TRUE(test::bit_identical(shared, f.read("w")));
    const HostTensor f32 = f.read_shared("w", DType::F32), f16 = f.read_shared("w", DType::F16);
    EXPECT_TRUE(f32.borrowed());
    EXPECT_FALSE(f16.borrowed()) << "a converted tensor is a copy";
    EXPECT_TRUE(test::bit_identical(f16, f.read("w", DType::F16)));
    EXPECT_FALSE(f.read("w").borrowed()) << "read always copies";
    EXPECT_THROW(f.read_shared("absent"), Error);
  }
  // The file object is gone; the mapping lives on with the tensor.
  EXPECT_TRUE(test::bit_identical(shared, w));
  const HostTensor copy = shared;  // copies of a borrowed tensor own their memory
  EXPECT_FALSE(copy.borrowed());
  shared.data<float>()[0] = 99.0f;  // copy-on-write: this process's page only
  EXPECT_EQ(copy.data<float>()[0], 1.5f);
  EXPECT_TRUE(test::bit_identical(SafetensorsFile::open(path).read("w"), w)) << "a write reached the file";
  fs::remove_all(dir);

  // Misaligned data (an F32 tensor at an odd offset) and bytes parsed from memory are copied.
  const std::string header = R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                             R"("b":{"dtype":"F32","shape":[2],"data_offsets":[1,9]}})";
  std::vector<std::byte> bytes = image(header, 9);
  const SafetensorsFile parsed = SafetensorsFile::parse(bytes, "mem.safetensors");
  EXPECT_FALSE(parsed.read_shared("a").borrowed()) << "parsed bytes have no mapping to keep alive";
  const fs::path odd = fs::temp_directory_path() / ("frost_st_odd_" + std::to_string(::getpid()));
  std::ofstream(odd, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  const SafetensorsFile mapped = SafetensorsFile::open(odd.string());
  EXPECT_TRUE(mapped.read_shared("a").borrowed());
  EXPECT_FALSE(mapped.read_shared("b").borrowed()) << "a misaligned F32 tensor must be copied";
  fs::remove(odd);
}

TEST(Safetensors, AcceptsSurroundingWhitespaceAndEmptyFiles) {
  EXPECT_EQ(rejection(image("  {}  ", 0)), "");
  EXPECT_EQ(rejection(image(R"({"__metadata__":{"k":"v"}})", 0)), "");
  EXPECT_EQ(rejection(image(R"({"z":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}})", 0)), "");
}

// A variant's file, from its "file_hex".
std::vector<std::byte> file_bytes(const nlohmann::json& variant) {
  const std::vector<uint8_t> b = test::from_hex(variant["file_hex"]);
  std::vector<std::byte> out(b.size());
  std::memcpy(out.data(), b.data(), b.size());
  return out;
}

// What surrounds the header's JSON, against the reference reader's verdict on each variant
// (tests/fixtures/safetensors/make_fixtures.py: safetensors 0.8.0): NUL padding, a BOM, whitespace beyond
// JSON's four, a second value are refused; JSON whitespace on either side is not.
TEST(Safetensors, HeaderVariantsAreAcceptedExactlyAsByTheReferenceReader) {
  const nlohmann::json variants =
      nlohmann::json::parse(std::ifstream(kFixtures + "/safetensors/header_variants.json"));
  ASSERT_GE(variants.size(), 30u);
  int accepted = 0;
  for (auto it = variants.begin(); it != variants.end(); ++it) {
    const std::string m = rejection(file_bytes(it.value()));
    const bool reference = it.value()["accepted"];
    EXPECT_EQ(m.empty(), reference) << it.key() << ": the reference "
                                    << (reference
                                            ? "accepts it"
                                            : "refuses it (" + it.value()["error"].get<std::string>() + ")")
                                    << "; frost: " << (m.empty() ? "accepted" : m);
    accepted += reference;
  }
  EXPECT_EQ(accepted, 10);
  // The case from the field: a header followed by NUL padding, named.
  expect_rejected(file_bytes(variants["trailing_nul_x8"]),
                  {"header: a NUL byte at offset 54 (padding after the JSON?)"});
}

TEST(Safetensors, RejectsWhatTheReferenceRejects) {
  const std::string f32_2 = R"("dtype":"F32","shape":[2])";
  expect_rejected(std::vector<std::byte>(5), {"5 bytes", "at least 8"});
  expect_rejected(image("{}", 0, 100'000'001), {"header length 100000001 exceeds the limit"});
  expect_rejected(image("{}", 0, 50), {"header length 50 runs past the end"});
  expect_rejected(image("{\"a\xff\":1}", 0), {"not valid UTF-8 JSON"});
  expect_rejected(image("{not json", 0), {"not valid UTF-8 JSON"});
  expect_rejected(image("[1,2]", 0), {"not a JSON object"});
  expect_rejected(image(R"({"t":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}})", 4),
                  {"tensor 't'", "unknown dtype 'F33'"});
  expect_rejected(
      image(R"({"a":{)" + f32_2 + R"(,"data_offsets":[0,8]},"b":{)" + f32_2 + R"(,"data_offsets":[4,12]}})",
            12),
      {"tensor 'b'", "overlaps"});
  expect_rejected(
      image(R"({"a":{)" + f32_2 + R"(,"data_offsets":[0,8]},"b":{)" + f32_2 + R"(,"data_offsets":[12,20]}})",
            20),
      {"tensor 'b'", "hole"});
  expect_rejected(image(R"({"a":{)" + f32_2 + R"(,"data_offsets":[4,12]}})", 12), {"tensor 'a'", "hole"});
  expect_rejected(image(R"({"a":{)" + f32_2 + R"(,"data_offsets":[0,8]}})", 4),
                  {"tensor 'a'", "out of bounds"});
  expect_rejected(image(R"({"a":{)" + f32_2 + R"(,"data_offsets":[0,12]}})", 12),
                  {"tensor 'a'", "size mismatch"});
  expect_rejected(
      image(R"({"a":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,4]}})", 4),
      {"tensor 'a'", "overflows"});
  expect_rejected(image(R"({"a":{)" + f32_2 + R"(,"data_offsets":[0,8]}})", 12), {"4 trailing bytes"});
  expect_rejected(
      image(R"({"a":{)" + f32_2 + R"(,"data_offsets":[0,8]},"a":{)" + f32_2 + R"(,"data_offsets":[0,8]}})",
            8),
      {"'a' appears twice", "duplicate tensor name"});
  expect_rejected(image(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8),
                  {"tensor 'a'", "non-negative"});
  expect_rejected(image(R"({"a":{)" + f32_2 + R"(,"data_offsets":[8,0]}})", 8), {"tensor 'a'", "backwards"});
  expect_rejected(image(R"({"a":{)" + f32_2 + R"(,"data_offsets":[0,8],"extra":1}})", 8),
                  {"tensor 'a'", "unknown field 'extra'"});
  expect_rejected(image(R"({"__metadata__":{"k":3}})", 0), {"__metadata__ value of 'k' is not a string"});
  expect_rejected(image(R"({"a":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}})", 2),
                  {"tensor 'a'", "whole bytes"});
}

TEST(Safetensors, RejectsTenThousandEntriesAliasingOneRange) {
  std::string header = "{";
  for (int i = 0; i < 10000; ++i)
    header += (i ? "," : "") + std::string("\"t") + std::to_string(i) +
              R"(":{"dtype":"F32","shape":[1],"data_offsets":[0,4]})";
  header += "}";
  expect_rejected(image(header, 4), {"overlaps"});
}

}  // namespace
}  // namespace frost::loader
