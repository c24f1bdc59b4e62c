// PyTorch checkpoints (loader/pytorch_checkpoint.h, loader/pickle.h): the fixtures written by
// tests/fixtures/pytorch/make_fixtures.py (torch 2.15) read to the same tensors as PyTorch holds, bitwise
// (expected.safetensors); the hostile files run nothing; damaged files are refused naming the file; and a
// table of hand-made pickles walks the opcode edge cases (nesting, memo, lengths, wide integers, cycles).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/error.h"
#include "loader/pickle.h"
#include "loader/pytorch_checkpoint.h"
#include "loader/safetensors.h"

namespace frost::loader {
namespace {

const std::string kDir = std::string(FROST_TEST_FIXTURES) + "/pytorch";

nlohmann::json expected_json() {
  std::ifstream in(kDir + "/expected.json");
  return nlohmann::json::parse(in);
}

std::string torch_dtype_to_name(const std::string& t) {
  static const std::map<std::string, std::string> names = {
      {"float32", "F32"}, {"float16", "F16"}, {"bfloat16", "BF16"}, {"float64", "F64"}, {"int64", "I64"},
      {"int32", "I32"},   {"int16", "I16"},   {"int8", "I8"},       {"uint8", "U8"},    {"bool", "BOOL"}};
  return names.at(t);
}

std::vector<std::string> names_of(const PyTorchCheckpoint& c) {
  std::vector<std::string> out;
  for (const CheckpointTensor& t : c.tensors()) out.push_back(t.name);
  return out;
}

// Runs f and returns the frost::Error it throws (fails the test when it throws nothing).
template <class F>
Error error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "no frost::Error thrown";
  return Error(ErrorCategory::Internal, "none");
}

class ReferenceCheckpoint : public ::testing::TestWithParam<std::string> {};

TEST_P(ReferenceCheckpoint, ReadsTheTensorsPyTorchWroteBitwise) {
  const std::string file = GetParam();
  const nlohmann::json want = expected_json()[file];
  const PyTorchCheckpoint c = PyTorchCheckpoint::open(kDir + "/" + file);
  EXPECT_EQ(c.format(), want["format"].get<std::string>());
  EXPECT_EQ(c.placeholders(), want["placeholders"].get<std::vector<std::string>>());

  std::vector<std::string> want_names;
  for (const auto& [name, t] : want["tensors"].items()) want_names.push_back(name);
  std::vector<std::string> got_names = names_of(c);
  std::sort(want_names.begin(), want_names.end());
  std::sort(got_names.begin(), got_names.end());
  EXPECT_EQ(got_names, want_names);

  const SafetensorsFile ref = SafetensorsFile::open(kDir + "/expected.safetensors");
  for (const auto& [name, t] : want["tensors"].items()) {
    SCOPED_TRACE(name);
    const CheckpointTensor* got = c.find(name);
    ASSERT_NE(got, nullptr);
    EXPECT_EQ(got->dtype_name, torch_dtype_to_name(t["dtype"]));
    EXPECT_EQ(got->shape.to_vector(), t["shape"].get<std::vector<int64_t>>());
    const TensorEntry* r = ref.find(name);
    ASSERT_NE(r, nullptr);
    const std::vector<std::byte> bytes = c.read_bytes(name);
    ASSERT_EQ(bytes.size(), r->bytes.size());
    EXPECT_TRUE(std::equal(bytes.begin(), bytes.end(), r->bytes.begin()));
    if (got->contiguous) {
      EXPECT_EQ(got->bytes.size(), bytes.size());  // mapped in place
    }
    if (got->dtype) {
      const HostTensor h = c.read(name);
      ASSERT_EQ(h.bytes(), bytes.size());
      if (!bytes.empty()) {
        EXPECT_EQ(std::memcmp(h.raw(), bytes.data(), bytes.size()), 0);
      }
      if (is_floating(*got->dtype)) {  // conversion to F32 as the safetensors reader converts
        const HostTensor a = c.read(name, DType::F32), b = ref.read(name, DType::F32);
        ASSERT_EQ(a.bytes(), b.bytes());
        if (a.bytes() > 0) {
          EXPECT_EQ(std::memcmp(a.raw(), b.raw(), a.bytes()), 0);
        }
      }
    } else {
      EXPECT_EQ(error_of([&] { c.read(name); }).category(), ErrorCategory::Unsupported);
    }
  }
  // The layout the reference saves: views and shared storages as PyTorch wrote them.
  const CheckpointTensor* t = c.find("state_dict.module.vid_proj.weight_t");
  ASSERT_NE(t, nullptr);
  EXPECT_FALSE(t->contiguous);
  EXPECT_EQ(t->strides, (std::vector<int64_t>{1, 6}));
  EXPECT_EQ(t->storage_key, c.find("state_dict.module.txt_proj.weight")->storage_key);
  EXPECT_EQ(c.find("state_dict.module.txt_proj.weight_rows")->storage_offset, 6);

  const auto sd = c.state_dict();
  EXPECT_EQ(sd.size(), 16u);
  EXPECT_TRUE(sd.count("module.txt_proj.weight"));
  EXPECT_FALSE(sd.count("optimizer.state.0.exp_avg"));
}

INSTANTIATE_TEST_SUITE_P(Formats, ReferenceCheckpoint,
                         ::testing::Values("reference.pth.tar", "reference_legacy.pth.tar"));

TEST(PyTorchCheckpoint, HostileFileRunsNothingAndItsWeightsLoad) {
  const nlohmann::json want = expected_json();
  for (const std::string file : {"hostile.pth.tar", "hostile_legacy.pth.tar"}) {
    SCOPED_TRACE(file);
    const std::string marker = want[file]["marker"];
    std::filesystem::remove(marker);
    // The fixture is live: its pickle really names os.system (posix.system) with the command that makes
    // the marker, so a reader that called it would leave the marker behind.
    std::ifstream in(kDir + "/" + file, std::ios::binary);
    const std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ASSERT_NE(raw.find("posix\nsystem\n"), std::string::npos);
    ASSERT_NE(raw.find("touch " + marker), std::string::npos);

    const PyTorchCheckpoint c = PyTorchCheckpoint::open(kDir + "/" + file);
    EXPECT_FALSE(std::filesystem::exists(marker)) << "the hostile pickle's os.system ran";
    EXPECT_EQ(c.placeholders(), want[file]["placeholders"].get<std::vector<std::string>>());
    const HostTensor w = c.read("state_dict.module.w");
    EXPECT_EQ(w.shape(), Shape({4}));
    for (int i = 0; i < 4; ++i) EXPECT_EQ(w.data<float>()[i], float(i));
    EXPECT_EQ(c.state_dict().size(), 1u);
  }
}

TEST(PyTorchCheckpoint, TensorBuiltFromAnUnknownCallIsRefusedByName) {
  const Error e = error_of([] { PyTorchCheckpoint::open(kDir + "/hostile_storage.pth.tar"); });
  EXPECT_EQ(e.category(), ErrorCategory::Unsupported);
  EXPECT_NE(std::string(e.what()).find("posix.system"), std::string::npos) << e.what();
  EXPECT_NE(std::string(e.what()).find("hostile_storage.pth.tar"), std::string::npos) << e.what();
  EXPECT_FALSE(std::filesystem::exists("/tmp/frost_pwned_by_fixture"));
}

TEST(PyTorchCheckpoint, DamagedFilesAreBadFileNamingTheFile) {
  const nlohmann::json want = expected_json();
  for (const std::string file :
       {"truncated.pth.tar", "truncated_legacy.pth.tar", "corrupt_data_pkl.pth.tar"}) {
    SCOPED_TRACE(file);
    const Error e = error_of([&] { PyTorchCheckpoint::open(kDir + "/" + file); });
    EXPECT_EQ(e.category(), ErrorCategory::BadFile) << e.what();
    const std::string msg = e.what();
    EXPECT_NE(msg.find(file), std::string::npos) << msg;
    EXPECT_NE(msg.find(want[file]["format"].get<std::string>()), std::string::npos)
        << msg;  // names the format
    if (want[file].contains("contains")) {
      EXPECT_NE(msg.find(want[file]["contains"].get<std::string>()), std::string::npos) << msg;
    }
  }
}

// Files a review crafted against the reader (tests/fixtures/pytorch/make_fixtures.py, "review"): a zip
// record whose stated sizes lie (3 GB from 3 MB that are not in the 478-byte file: refused before any
// allocation), a legacy storage redeclared as another dtype to read past it, views with an empty dimension
// and offsets or sizes near 2^62, _rebuild_from_type_v2 nested in itself (it recursed without end), each
// refused naming the file; a state dict shared with an earlier key, and a legacy file of pickle protocol 1
// (the magic number as text), read as torch reads them.
TEST(PyTorchCheckpoint, FilesCraftedAgainstTheReaderAreRefusedOrReadAsTorchReadsThem) {
  const nlohmann::json review = expected_json()["review"];
  ASSERT_GE(review.size(), 7u);
  for (const auto& [file, want] : review.items()) {
    SCOPED_TRACE(file);
    const std::string path = kDir + "/" + file;
    if (want.contains("error")) {
      const Error e = error_of([&] {
        const PyTorchCheckpoint c = PyTorchCheckpoint::open(path);
        for (const CheckpointTensor& t : c.tensors()) c.read_bytes(t.name);
      });
      EXPECT_EQ(e.category(),
                want["error"] == "Unsupported" ? ErrorCategory::Unsupported : ErrorCategory::BadFile)
          << e.what();
      EXPECT_NE(std::string(e.what()).find(file), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(want["contains"].get<std::string>()), std::string::npos)
          << e.what();
      continue;
    }
    const PyTorchCheckpoint c = PyTorchCheckpoint::open(path);
    std::vector<std::string> names;
    for (const auto& [name, t] : c.state_dict()) names.push_back(name);
    EXPECT_EQ(names, want["state_dict"].get<std::vector<std::string>>());
    const HostTensor w = c.read(c.state_dict().at("module.w")->name);
    ASSERT_EQ(w.numel(), 6);
    for (int i = 0; i < 6; ++i) EXPECT_EQ(w.data<float>()[i], float(i));  // torch.arange(6)
  }
}

TEST(PyTorchCheckpoint, OtherFilesAreRefusedByName) {
  const Error st = error_of([] { PyTorchCheckpoint::open(kDir + "/expected.safetensors"); });
  EXPECT_EQ(st.category(), ErrorCategory::BadFile);
  EXPECT_NE(std::string(st.what()).find("safetensors"), std::string::npos) << st.what();
  for (const std::string& text : {std::string(), std::string("hello world, not a checkpoint"),
                                  std::string("PK\x05\x06", 4) + std::string(18, '\0')}) {
    const auto bytes = std::as_bytes(std::span<const char>(text.data(), text.size()));
    const Error e = error_of([&] { PyTorchCheckpoint::parse(bytes, "x.pth"); });
    EXPECT_EQ(e.category(), ErrorCategory::BadFile);
    EXPECT_NE(std::string(e.what()).find("x.pth: not a PyTorch checkpoint"), std::string::npos) << e.what();
  }
  EXPECT_EQ(PyTorchCheckpoint::sniff(std::as_bytes(std::span<const char>("PK\x03\x04", 4))), "zip");
}

// ---- hand-made pickles ---------------------------------------------------------------------------------

// A string literal with its NUL bytes (a plain const char* would stop at the first).
template <size_t N>
std::string B(const char (&s)[N]) {
  return std::string(s, N - 1);
}
std::string le64(uint64_t v) {
  std::string s;
  for (int i = 0; i < 8; ++i) s += char((v >> (8 * i)) & 0xff);
  return s;
}
std::string binunicode(const std::string& s) {
  std::string out = "X";
  for (int i = 0; i < 4; ++i) out += char((s.size() >> (8 * i)) & 0xff);
  return out + s;
}
// A legacy checkpoint around an object pickle, with the storage keys and their data (F32).
std::string legacy_file(const std::string& object,
                        const std::vector<std::pair<std::string, std::vector<float>>>& storages = {}) {
  std::string f = std::string("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.", 15);
  f += std::string("\x80\x02M\xe9\x03.", 6);  // 1001
  f += std::string("\x80\x02}.", 4);          // sys_info: {}
  f += object;
  f += std::string("\x80\x02]", 3);
  for (const auto& [key, values] : storages) f += binunicode(key) + "a";
  f += ".";
  for (const auto& [key, values] : storages) {
    f += le64(values.size());
    f.append(reinterpret_cast<const char*>(values.data()), values.size() * 4);
  }
  return f;
}
// _rebuild_tensor_v2(storage 'k' of `numel` floats, offset 0, size, stride, False, {}) as an object pickle.
std::string tensor_pickle(const std::string& size_tuple, const std::string& stride_tuple, int numel = 2) {
  return std::string("\x80\x02") + "ctorch._utils\n_rebuild_tensor_v2\n(" + "(" + binunicode("storage") +
         "ctorch\nFloatStorage\n" + binunicode("k") + binunicode("cpu") + "K" + char(numel) + "NtQ" +
         B("K\x00") + size_tuple + stride_tuple + "\x89}tR.";
}

// parse() keeps spans into its bytes: they live as long as the test binary.
PyTorchCheckpoint parse_string(const std::string& s) {
  static std::vector<std::unique_ptr<std::string>> keep;
  keep.push_back(std::make_unique<std::string>(s));
  return PyTorchCheckpoint::parse(std::as_bytes(std::span<const char>(keep.back()->data(), s.size())),
                                  "hand.pth");
}
pickle::Id unpickle(const std::string& s, pickle::Unpickler*& keep) {
  static std::vector<std::unique_ptr<std::string>> texts;
  static std::vector<std::unique_ptr<pickle::Unpickler>> us;
  texts.push_back(std::make_unique<std::string>(s));
  us.push_back(std::make_unique<pickle::Unpickler>(
      std::as_bytes(std::span<const char>(texts.back()->data(), texts.back()->size())), "hand.pkl"));
  keep = us.back().get();
  return keep->load();
}

TEST(Pickle, HandMadeTensorLoads) {
  const auto c = parse_string(legacy_file(tensor_pickle("K\x02\x85", "K\x01\x85"), {{"k", {1.5f, -2.0f}}}));
  EXPECT_EQ(c.format(), "legacy");
  ASSERT_EQ(names_of(c), std::vector<std::string>{""});
  const HostTensor t = c.read("");
  EXPECT_EQ(t.data<float>()[0], 1.5f);
  EXPECT_EQ(t.data<float>()[1], -2.0f);
}

struct BadCase {
  const char* label;
  std::string file;
  ErrorCategory category;
  const char* contains;
};

TEST(Pickle, EdgeCasesAreRefusedByName) {
  const std::string deep =
      std::string("\x80\x02") + std::string(100000, '(') + std::string(100000, 'l') + ".";
  const std::vector<BadCase> cases = {
      {"memo index never stored", legacy_file(std::string("\x80\x02h\x05.", 4)), ErrorCategory::BadFile,
       "memo index 5 was never stored"},
      {"unknown opcode", legacy_file(std::string("\x80\x02\xff.", 4)), ErrorCategory::BadFile,
       "opcode 0xff at offset 27: unknown opcode" /* offsets count from the file's start */},
      {"huge string length", legacy_file(std::string("\x80\x02X\xff\xff\xff\x7f", 7)), ErrorCategory::BadFile,
       "a string of 2147483647 bytes"},
      {"huge BINUNICODE8 length", legacy_file(std::string("\x80\x02\x8d", 3) + le64(~uint64_t(0) >> 1) + "."),
       ErrorCategory::BadFile, "remain"},
      {"LONG beyond 64 bits as a size",
       legacy_file(tensor_pickle(std::string("\x8a\x09", 2) + std::string(9, '\x01') + "\x85", "K\x01\x85"),
                   {{"k", {1, 2}}}),
       ErrorCategory::BadFile, "wider than 64 bits"},
      {"deep nesting", legacy_file(deep), ErrorCategory::BadFile, "nested deeper than 200"},
      {"stack underflow", legacy_file(std::string("\x80\x02]a.", 5)), ErrorCategory::BadFile,
       "stack is empty"},
      {"no STOP", legacy_file(std::string("\x80\x02]", 3)).substr(0, 15 + 6 + 4 + 3), ErrorCategory::BadFile,
       "without STOP"},
      {"view past its storage", legacy_file(tensor_pickle("K\x03\x85", "K\x01\x85"), {{"k", {1, 2}}}),
       ErrorCategory::BadFile, "too small for the view"},
      {"storage without data", legacy_file(tensor_pickle("K\x02\x85", "K\x01\x85")), ErrorCategory::BadFile,
       "has no data"},
      {"wrong element count", legacy_file(tensor_pickle("K\x02\x85", "K\x01\x85"), {{"k", {1, 2, 3}}}),
       ErrorCategory::BadFile, "holds 3 elements"},
      {"extension registry", legacy_file(std::string("\x80\x02\x82\x01.", 5)), ErrorCategory::Unsupported,
       "EXT1"},
      {"bad magic", std::string("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 14),
       ErrorCategory::BadFile, "without STOP"},
  };
  for (const BadCase& k : cases) {
    SCOPED_TRACE(k.label);
    const Error e = error_of([&] { parse_string(k.file); });
    EXPECT_EQ(e.category(), k.category) << e.what();
    EXPECT_NE(std::string(e.what()).find(k.contains), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("hand.pth (PyTorch legacy checkpoint)"), std::string::npos)
        << e.what();
  }
}

TEST(Pickle, CallsNothingAndKeepsPlaceholders) {
  const std::string marker = "/tmp/frost_pwned_by_pickle_test";
  std::filesystem::remove(marker);
  // {'a': os.system('touch ...'), 'b': builtins.eval('...'), 'c': tensor}
  const std::string obj = std::string("\x80\x02}(") + binunicode("a") + "cos\nsystem\n" +
                          binunicode("touch " + marker) + "\x85R" + binunicode("b") + "cbuiltins\neval\n" +
                          binunicode("__import__('os').system('touch " + marker + "')") + "\x85R" +
                          binunicode("c") +
                          tensor_pickle("K\x02\x85", "K\x01\x85").substr(2, std::string::npos);
  // tensor_pickle ends in STOP; the dict's SETITEMS and STOP follow it
  std::string body = obj.substr(0, obj.size() - 1) + "u.";
  const auto c = parse_string(legacy_file(body, {{"k", {3, 4}}}));
  EXPECT_FALSE(std::filesystem::exists(marker));
  EXPECT_EQ(c.placeholders(), (std::vector<std::string>{"os.system at a", "builtins.eval at b"}));
  EXPECT_EQ(names_of(c), std::vector<std::string>{"c"});
  EXPECT_EQ(c.read("c").data<float>()[1], 4.0f);
  EXPECT_EQ(c.state_dict().size(), 1u);  // a bare dict of tensors is its own state dict
}

TEST(Pickle, CyclesAreWalkedOnce) {
  // l = []; l.append(l); d = {'l': l, 'd': d-itself, 't': tensor}
  const std::string t = tensor_pickle("K\x02\x85", "K\x01\x85").substr(2);
  const std::string body = B("\x80\x02}q\x00(") + binunicode("l") +
                           "]q\x01h\x01"
                           "a" +
                           binunicode("d") + B("h\x00") + binunicode("t") + t.substr(0, t.size() - 1) + "u.";
  const auto c = parse_string(legacy_file(body, {{"k", {3, 4}}}));
  EXPECT_EQ(names_of(c), std::vector<std::string>{"t"});
}

TEST(Pickle, OpcodesOfOtherProtocols) {
  pickle::Unpickler* u = nullptr;
  // Protocol 0 text: (lp0\nI1\naI01\naF2.5\naS'a\\nb'\naVx\\u00e9\nag0\na.
  const pickle::Id l =
      unpickle("(lp0\nI1\naI01\naF2.5\naS'a\\nb'\naVx\\u00e9\naL12345678901234567890L\na.", u);
  const auto& items = u->value(l).items;
  ASSERT_EQ(items.size(), 6u);
  EXPECT_EQ(u->value(items[0]).number, 1);
  EXPECT_EQ(u->value(items[1]).kind, pickle::Kind::Bool);
  EXPECT_EQ(u->value(items[2]).real, 2.5);
  EXPECT_EQ(u->value(items[3]).text, "a\nb");
  EXPECT_EQ(u->value(items[4]).text, "x\xc3\xa9");
  EXPECT_EQ(u->value(items[5]).kind, pickle::Kind::BigInt);
  EXPECT_EQ(u->int_of(items[0], "x"), 1);
  EXPECT_EQ(error_of([&] { u->int_of(items[5], "a size"); }).category(), ErrorCategory::BadFile);
  // Protocol 4: FRAME, SHORT_BINUNICODE, STACK_GLOBAL, MEMOIZE, NEWOBJ on an unknown class -> placeholder.
  const pickle::Id p = unpickle(
      B("\x80\x04\x95\x20\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x94\x8c\x06system\x94\x93\x94)\x81\x94}b."),
      u);
  EXPECT_EQ(u->value(p).kind, pickle::Kind::Placeholder);
  EXPECT_EQ(u->value(p).text, "os.system");
  // LONG1 negative, BININT negative, sets.
  const pickle::Id n = unpickle(std::string("\x80\x02\x8a\x01\xff.", 6), u);
  EXPECT_EQ(u->value(n).number, -1);
  const pickle::Id s = unpickle(std::string("\x80\x04\x8f(K\x01K\x02\x90.", 10), u);
  EXPECT_EQ(u->value(s).items.size(), 2u);
}

}  // namespace
}  // namespace frost::loader
