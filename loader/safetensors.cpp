#include "loader/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "engine/error.h"
#include "loader/files.h"

namespace frost::loader {
namespace {

using json = nlohmann::json;

constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // the reference reader's limit

struct DTypeInfo {
  const char* name;
  int bits;
  std::optional<DType> dtype;
};

// Every dtype of the format (safetensors 0.8); frost computes on the ones with a DType.
constexpr DTypeInfo kDTypes[] = {
    {"BOOL", 8, std::nullopt},    {"F4", 4, std::nullopt},      {"F6_E2M3", 6, std::nullopt},
    {"F6_E3M2", 6, std::nullopt}, {"U8", 8, DType::U8},         {"I8", 8, std::nullopt},
    {"F8_E5M2", 8, std::nullopt}, {"F8_E4M3", 8, std::nullopt}, {"F8_E8M0", 8, std::nullopt},
    {"I16", 16, std::nullopt},    {"U16", 16, std::nullopt},    {"F16", 16, DType::F16},
    {"BF16", 16, DType::BF16},    {"I32", 32, DType::I32},      {"U32", 32, std::nullopt},
    {"F32", 32, DType::F32},      {"C64", 64, std::nullopt},    {"F64", 64, DType::F64},
    {"I64", 64, DType::I64},      {"U64", 64, std::nullopt},
};

const DTypeInfo* dtype_info(const std::string& name) {
  for (const DTypeInfo& d : kDTypes)
    if (name == d.name) return &d;
  return nullptr;
}

[[noreturn]] void bad(const std::string& file, const std::string& what) {
  throw_error(ErrorCategory::BadFile, file + ": " + what);
}
[[noreturn]] void bad_tensor(const std::string& file, const std::string& tensor, const std::string& what) {
  bad(file, "tensor '" + tensor + "': " + what);
}

// A SAX pass that only tracks the keys of every open JSON object, so duplicates are rejected (a DOM parser
// keeps the last one, silently, and two readers could then disagree about a file). It is linear in the
// header; nlohmann's parse *callback* is not (its end_object rescans the parent object), which a header
// with a million keys turns into a hang.
struct DuplicateKeyCheck : json::json_sax_t {
  explicit DuplicateKeyCheck(const std::string& f) : file(f) {}
  const std::string& file;
  std::vector<std::set<std::string>> open_objects;
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(json::number_integer_t) override { return true; }
  bool number_unsigned(json::number_unsigned_t) override { return true; }
  bool number_float(json::number_float_t, const json::string_t&) override { return true; }
  bool string(json::string_t&) override { return true; }
  bool binary(json::binary_t&) override { return true; }
  bool start_object(std::size_t) override {
    open_objects.emplace_back();
    return true;
  }
  bool key(json::string_t& key) override {
    if (!open_objects.back().insert(key).second)
      bad(file, "header: key '" + key + "' appears twice" +
                    (open_objects.size() == 1 ? " (duplicate tensor name)" : ""));
    return true;
  }
  bool end_object() override {
    open_objects.pop_back();
    return true;
  }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    bad(file, "header is not valid UTF-8 JSON: " + json_error_text(e.what()));
  }
};

uint64_t read_u64_le(const std::byte* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | uint64_t(p[i]);
  return v;
}

// numel * bits / 8 with overflow checks; throws naming the tensor.
uint64_t byte_size(const std::string& file, const std::string& tensor, const std::vector<uint64_t>& dims,
                   int bits) {
  unsigned __int128 n = 1;
  for (uint64_t d : dims) {
    n *= d;
    if (n > (unsigned __int128)UINT64_MAX) bad_tensor(file, tensor, "shape overflows 64 bits");
  }
  const unsigned __int128 total_bits = n * (unsigned __int128)bits;
  if (total_bits % 8 != 0) bad_tensor(file, tensor, "sub-byte elements do not fill whole bytes");
  const unsigned __int128 bytes = total_bits / 8;
  if (bytes > (unsigned __int128)UINT64_MAX) bad_tensor(file, tensor, "byte size overflows 64 bits");
  return uint64_t(bytes);
}

}  // namespace

std::string safetensors_dtype_name(DType dtype) {
  for (const DTypeInfo& d : kDTypes)
    if (d.dtype == dtype) return d.name;
  FROST_FAIL(Internal, "no safetensors name for dtype " << dtype);
}

struct SafetensorsFile::Mapping {
  void* address = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (!address) return;
    unregister_file_mapping(address);
    munmap(address, size);
  }
};

SafetensorsFile::SafetensorsFile(SafetensorsFile&&) noexcept = default;
SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&&) noexcept = default;
SafetensorsFile::~SafetensorsFile() = default;

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  const int fd = open_regular_file(path, "safetensors file");  // never blocks on a FIFO or device
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    ::close(fd);
    bad(path, std::string("cannot stat: ") + std::strerror(errno));
  }
  const size_t size = size_t(st.st_size);
  if (size < 8) {
    ::close(fd);
    bad(path,
        "file is " + std::to_string(size) + " bytes; a safetensors file has at least 8 (the header length)");
  }
  // Private and read-only: read_shared makes the pages of the tensors it lends writable (copy-on-write,
  // never reaching the file). Read-only private pages count against no commit limit, so a file larger than
  // memory still opens (frost info, a partial load).
  void* address = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);  // the mapping keeps the file
  if (address == MAP_FAILED) bad(path, std::string("cannot map: ") + std::strerror(errno));
  auto mapping = std::make_shared<Mapping>();
  mapping->address = address;
  mapping->size = size;
  register_file_mapping(address, size);
  SafetensorsFile f = parse(std::span<const std::byte>(static_cast<const std::byte*>(address), size), path);
  f.mapping_ = std::move(mapping);
  return f;
}

SafetensorsFile SafetensorsFile::parse(std::span<const std::byte> bytes, const std::string& name) {
  SafetensorsFile f;
  f.path_ = name;
  f.bytes_ = bytes;
  if (bytes.size() < 8)
    bad(name, "file is " + std::to_string(bytes.size()) +
                  " bytes; a safetensors file has at least 8 (the header length)");
  const uint64_t n = read_u64_le(bytes.data());
  if (n > kMaxHeaderBytes)
    bad(name,
        "header length " + std::to_string(n) + " exceeds the limit of " + std::to_string(kMaxHeaderBytes));
  if (n > bytes.size() - 8)
    bad(name, "header length " + std::to_string(n) + " runs past the end of the " +
                  std::to_string(bytes.size()) + "-byte file");
  f.header_size_ = size_t(n);
  const std::string_view text(reinterpret_cast<const char*>(bytes.data() + 8), size_t(n));
  // The reference reader (serde_json) takes one JSON value with only JSON whitespace (space, tab, LF, CR)
  // around it. nlohmann's parser would also skip a UTF-8 byte-order mark and end the input at a NUL byte —
  // the NUL padding some writers leave after the JSON — so both are refused here, by name
  // (tests/fixtures/safetensors/header_variants.json: the reference's verdict on 31 variants).
  if (const size_t nul = text.find('\0'); nul != std::string_view::npos)
    bad(name,
        "header: a NUL byte at offset " + std::to_string(nul) +
            " (padding after the JSON?) — the header is one JSON object with only JSON whitespace (space, "
            "tab, LF, CR) around it, as the reference reader requires");
  if (text.substr(0, 3) == "\xEF\xBB\xBF")
    bad(name,
        "header starts with a byte-order mark — the header is one JSON object with only JSON whitespace "
        "around it, as the reference reader requires");
  json header;
  try {
    DuplicateKeyCheck keys(name);
    json::sax_parse(text.begin(), text.end(), &keys);  // rejects duplicates and malformed JSON
    header = json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {
    bad(name, "header is not valid UTF-8 JSON: " + json_error_text(e.what()));
  }
  if (!header.is_object()) bad(name, "header is not a JSON object");

  const uint64_t data_size = bytes.size() - 8 - n;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& key = it.key();
    const json& value = it.value();
    if (key == "__metadata__") {
      if (!value.is_object()) bad(name, "__metadata__ is not an object of strings");
      for (auto m = value.begin(); m != value.end(); ++m) {
        if (!m.value().is_string()) bad(name, "__metadata__ value of '" + m.key() + "' is not a string");
        f.metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    if (!value.is_object()) bad_tensor(name, key, "entry is not an object");
    for (auto field = value.begin(); field != value.end(); ++field) {
      if (field.key() != "dtype" && field.key() != "shape" && field.key() != "data_offsets")
        bad_tensor(name, key, "unknown field '" + field.key() + "'");
    }
    if (!value.contains("dtype") || !value["dtype"].is_string())
      bad_tensor(name, key, "dtype missing or not a string");
    if (!value.contains("shape") || !value["shape"].is_array())
      bad_tensor(name, key, "shape missing or not an array");
    if (!value.contains("data_offsets") || !value["data_offsets"].is_array() ||
        value["data_offsets"].size() != 2)
      bad_tensor(name, key, "data_offsets missing or not two numbers");
    TensorEntry t;
    t.name = key;
    t.dtype_name = value["dtype"].get<std::string>();
    const DTypeInfo* info = dtype_info(t.dtype_name);
    if (info == nullptr) bad_tensor(name, key, "unknown dtype '" + t.dtype_name + "'");
    t.dtype = info->dtype;
    std::vector<uint64_t> dims;
    for (const json& d : value["shape"]) {
      if (!d.is_number_unsigned())
        bad_tensor(name, key, "shape holds something other than a non-negative integer");
      dims.push_back(d.get<uint64_t>());
    }
    const json& offsets = value["data_offsets"];
    if (!offsets[0].is_number_unsigned() || !offsets[1].is_number_unsigned())
      bad_tensor(name, key, "data_offsets are not non-negative integers");
    const uint64_t begin = offsets[0].get<uint64_t>(), end = offsets[1].get<uint64_t>();
    if (begin > end)
      bad_tensor(name, key,
                 "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) + "] run backwards");
    if (end > data_size)
      bad_tensor(name, key,
                 "data_offsets end " + std::to_string(end) + " is past the " + std::to_string(data_size) +
                     " data bytes (out of bounds)");
    const uint64_t expected = byte_size(name, key, dims, info->bits);
    if (end - begin != expected)
      bad_tensor(name, key,
                 "holds " + std::to_string(end - begin) + " bytes but its dtype " + t.dtype_name +
                     " and shape need " + std::to_string(expected) + " (size mismatch)");
    if (dims.size() > size_t(kMaxRank))
      throw_error(ErrorCategory::Unsupported, name + ": tensor '" + key + "': rank " +
                                                  std::to_string(dims.size()) + " exceeds frost's " +
                                                  std::to_string(kMaxRank));
    for (uint64_t d : dims) {
      if (d > uint64_t(INT64_MAX)) bad_tensor(name, key, "dimension exceeds 2^63");
      t.shape.push_back(int64_t(d));
    }
    t.offset = size_t(8 + n + begin);
    t.bytes = bytes.subspan(t.offset, size_t(end - begin));
    f.tensors_.push_back(std::move(t));
  }

  // Data: contiguous from 0, no holes, no overlaps, nothing after the last tensor (the reference's rule).
  std::stable_sort(f.tensors_.begin(), f.tensors_.end(), [](const TensorEntry& a, const TensorEntry& b) {
    return a.offset != b.offset ? a.offset < b.offset : a.bytes.size() < b.bytes.size();
  });
  uint64_t cursor = 8 + n;
  for (const TensorEntry& t : f.tensors_) {
    if (t.offset > cursor)
      bad_tensor(name, t.name,
                 "data starts at byte " + std::to_string(t.offset - 8 - n) + ", leaving a hole after byte " +
                     std::to_string(cursor - 8 - n));
    if (t.offset < cursor)
      bad_tensor(
          name, t.name,
          "data starting at byte " + std::to_string(t.offset - 8 - n) + " overlaps the tensor before it");
    cursor = t.offset + t.bytes.size();
  }
  if (cursor != bytes.size())
    bad(name, std::to_string(bytes.size() - cursor) + " trailing bytes after the last tensor's data");
  return f;
}

const TensorEntry* SafetensorsFile::find(const std::string& name) const {
  for (const TensorEntry& t : tensors_)
    if (t.name == name) return &t;
  return nullptr;
}

HostTensor SafetensorsFile::read(const std::string& name, std::optional<DType> as) const {
  const TensorEntry* t = find(name);
  FROST_CHECK(t != nullptr, InvalidArgument, path_ << ": no tensor named '" << name << "'");
  FROST_CHECK(t->dtype.has_value(), Unsupported,
              path_ << ": tensor '" << name << "' has dtype " << t->dtype_name
                    << ", which frost does not compute on");
  HostTensor raw(*t->dtype, t->shape);
  if (!t->bytes.empty()) std::memcpy(raw.raw(), t->bytes.data(), t->bytes.size());  // copy: may be misaligned
  if (!as || *as == *t->dtype) return raw;
  return raw.to(*as);
}

HostTensor SafetensorsFile::read_shared(const std::string& name, std::optional<DType> as) const {
  const TensorEntry* t = find(name);
  if (t == nullptr || !t->dtype || (as && *as != *t->dtype) || !mapping_ || t->bytes.empty() ||
      reinterpret_cast<uintptr_t>(t->bytes.data()) % size_of(*t->dtype) != 0)
    return read(name, as);  // a copy (read's errors for an unknown name or dtype)
  // Writable (copy-on-write) from here on: a borrowed tensor may be written like any other. Where the
  // system refuses (a strict commit limit), the tensor is copied instead.
  const uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE)), at = uintptr_t(t->bytes.data());
  const uintptr_t begin = at / page * page, end = (at + t->bytes.size() + page - 1) / page * page;
  if (mprotect(reinterpret_cast<void*>(begin), end - begin, PROT_READ | PROT_WRITE) != 0)
    return read(name, as);
  return HostTensor::borrow(*t->dtype, t->shape, mapping_, const_cast<std::byte*>(t->bytes.data()));
}

void write_safetensors(const std::string& path,
                       const std::vector<std::pair<std::string, const HostTensor*>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  // Largest elements first: each tensor then starts at a multiple of its element size, with no holes.
  std::vector<size_t> order(tensors.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return size_of(tensors[a].second->dtype()) > size_of(tensors[b].second->dtype());
  });
  for (const auto& [key, value] : metadata)
    FROST_CHECK(is_valid_utf8(key) && is_valid_utf8(value), InvalidArgument,
                escape_for_terminal(path) << ": metadata '" << escape_for_terminal(key)
                                          << "' is not valid UTF-8 (the format's header is JSON)");
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::set<std::string> names;
  uint64_t offset = 0;
  for (size_t i : order) {
    const auto& [name, t] = tensors[i];
    FROST_CHECK(name != "__metadata__" && names.insert(name).second, InvalidArgument,
                escape_for_terminal(path)
                    << ": tensor name '" << escape_for_terminal(name) << "' is reserved or repeated");
    FROST_CHECK(is_valid_utf8(name), InvalidArgument,
                escape_for_terminal(path) << ": tensor name '" << escape_for_terminal(name)
                                          << "' is not valid UTF-8 (the format's header is JSON)");
    json entry;
    entry["dtype"] = safetensors_dtype_name(t->dtype());
    entry["shape"] = t->shape().to_vector();
    entry["data_offsets"] = {offset, offset + t->bytes()};
    header[name] = entry;
    offset += t->bytes();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // data starts 8-aligned

  AtomicFile file(path);
  unsigned char length[8];
  for (int i = 0; i < 8; ++i) length[i] = (uint64_t(text.size()) >> (8 * i)) & 0xff;
  file.write(length, 8);
  file.write(text.data(), text.size());
  for (size_t i : order) file.write(tensors[i].second->raw(), tensors[i].second->bytes());
  file.commit();
}

}  // namespace frost::loader
