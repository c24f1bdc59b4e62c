#include "loader/pytorch_checkpoint.h"

#include <fcntl.h>
#include <minizip/unzip.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "engine/error.h"
#include "loader/files.h"
#include "loader/pickle.h"

namespace frost::loader {
namespace {

using pickle::Id;
using pickle::Kind;
using pickle::Unpickler;

// 0x1950a86a20f9469cfc6c, little-endian: the first pickle of a legacy file is this number (LONG1, 10 bytes).
constexpr uint8_t kLegacyMagic[10] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
constexpr int64_t kLegacyProtocolVersion = 1001;
constexpr size_t kMaxTensors = 1000000;       // tensor entries listed (a checkpoint holds a few thousand)
constexpr size_t kMaxWalkDepth = 200;         // nesting of containers; the reference's layout has 6
constexpr size_t kMaxNameBytes = 256u << 20;  // all tensor and placeholder names together
constexpr uint64_t kMaxDeflateRatio = 1032;   // deflate cannot expand more: a larger stated size is a lie

[[noreturn]] void bad(const std::string& what, const std::string& why) {
  throw_error(ErrorCategory::BadFile, what + ": " + why);
}
[[noreturn]] void unsupported(const std::string& what, const std::string& why) {
  throw_error(ErrorCategory::Unsupported, what + ": " + why);
}

struct StorageType {
  const char* torch_name;  // after "torch."
  const char* dtype_name;  // safetensors' name
  size_t element_size;
  std::optional<DType> dtype;
};
// torch's typed storages (torch/storage.py) and the dtypes they hold. frost computes on the ones with a
// DType; the others are listed and refused by read() by name (read_bytes still gives their bytes).
constexpr StorageType kStorageTypes[] = {
    {"FloatStorage", "F32", 4, DType::F32},
    {"HalfStorage", "F16", 2, DType::F16},
    {"BFloat16Storage", "BF16", 2, DType::BF16},
    {"DoubleStorage", "F64", 8, DType::F64},
    {"LongStorage", "I64", 8, DType::I64},
    {"IntStorage", "I32", 4, DType::I32},
    {"ShortStorage", "I16", 2, std::nullopt},
    {"CharStorage", "I8", 1, std::nullopt},
    {"ByteStorage", "U8", 1, DType::U8},
    {"BoolStorage", "BOOL", 1, std::nullopt},
    {"ComplexFloatStorage", "C64", 8, std::nullopt},
    {"ComplexDoubleStorage", "C128", 16, std::nullopt},
    {"UntypedStorage", "U8", 1, DType::U8},
};

const StorageType* storage_type(std::string name) {
  if (name.rfind("torch.cuda.", 0) == 0) name = "torch." + name.substr(11);  // legacy CUDA storages
  if (name.rfind("torch.", 0) != 0) return nullptr;
  name = name.substr(6);
  for (const StorageType& t : kStorageTypes)
    if (name == t.torch_name) return &t;
  return nullptr;
}

uint32_t crc32_of(std::span<const std::byte> data) {
  uLong crc = crc32(0L, Z_NULL, 0);
  size_t done = 0;
  while (done < data.size()) {
    const size_t n = std::min<size_t>(data.size() - done, size_t(1) << 30);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(data.data() + done), uInt(n));
    done += n;
  }
  return uint32_t(crc);
}

std::string hex_bytes(std::span<const std::byte> b, size_t n) {
  std::string out;
  const char* digits = "0123456789abcdef";
  for (size_t i = 0; i < std::min(n, b.size()); ++i) {
    if (i) out += ' ';
    out += digits[uint8_t(b[i]) >> 4];
    out += digits[uint8_t(b[i]) & 15];
  }
  return out;
}

// ---- minizip over a span: the archive is read where it lies (mapped), never through a second file handle.
struct MemoryStream {
  std::span<const std::byte> bytes;
  uint64_t pos = 0;
};
voidpf ZCALLBACK mem_open(voidpf opaque, const void*, int) {
  return opaque;
}
uLong ZCALLBACK mem_read(voidpf, voidpf stream, void* buf, uLong size) {
  auto* s = static_cast<MemoryStream*>(stream);
  const uint64_t left = s->pos < s->bytes.size() ? s->bytes.size() - s->pos : 0;
  const uLong n = uLong(std::min<uint64_t>(size, left));
  if (n) std::memcpy(buf, s->bytes.data() + s->pos, n);
  s->pos += n;
  return n;
}
uLong ZCALLBACK mem_write(voidpf, voidpf, const void*, uLong) {
  return 0;
}
ZPOS64_T ZCALLBACK mem_tell(voidpf, voidpf stream) {
  return static_cast<MemoryStream*>(stream)->pos;
}
long ZCALLBACK mem_seek(voidpf, voidpf stream, ZPOS64_T offset, int origin) {
  auto* s = static_cast<MemoryStream*>(stream);
  uint64_t base = 0;
  if (origin == ZLIB_FILEFUNC_SEEK_CUR)
    base = s->pos;
  else if (origin == ZLIB_FILEFUNC_SEEK_END)
    base = s->bytes.size();
  else if (origin != ZLIB_FILEFUNC_SEEK_SET)
    return -1;
  if (offset > s->bytes.size() || base + offset > s->bytes.size()) return -1;
  s->pos = base + offset;
  return 0;
}
int ZCALLBACK mem_close(voidpf, voidpf) {
  return 0;
}
int ZCALLBACK mem_error(voidpf, voidpf) {
  return 0;
}

struct ZipRecord {
  std::span<const std::byte> data;  // into the file (stored) or into an owned buffer (inflated)
  uint32_t crc = 0;
  bool crc_checked = false;  // inflated records were checked by minizip while reading
  uint64_t offset = 0;       // of the data in the file (stored records)
};

}  // namespace

struct PyTorchCheckpoint::Impl {
  void* map_address = nullptr;
  size_t map_size = 0;
  std::span<const std::byte> bytes;
  std::vector<std::unique_ptr<std::byte[]>> owned;     // inflated zip records
  std::unordered_map<std::string, ZipRecord> records;  // zip: name without the archive prefix

  struct Storage {
    std::string key;
    const StorageType* type = nullptr;
    uint64_t numel = 0;               // elements, as the persistent id declares
    std::span<const std::byte> data;  // numel * element_size bytes once resolved
    bool resolved = false;
    std::optional<uint32_t> crc;  // zip: to check when read
    // Checked once however many views read it (a storage of 700 MB shared by 400 views, say).
    mutable std::unique_ptr<std::once_flag> crc_once = std::make_unique<std::once_flag>();
    mutable bool crc_ok = false;
    std::string record;      // for messages: "data/3" or "legacy storage '9412...'"
    size_t root = SIZE_MAX;  // legacy view: the storage it views, from element `view_offset`
    uint64_t view_offset = 0;
  };
  std::vector<Storage> storages;
  std::unordered_map<std::string, size_t> storage_by_key;

  struct Rebuilt {
    size_t storage;
    int64_t offset;
    std::vector<int64_t> sizes, strides;
  };
  std::vector<Rebuilt> rebuilt;
  std::optional<std::string> state_prefix;          // "state_dict." or "" when found
  std::unordered_map<std::string, size_t> by_name;  // tensor name → its index in tensors_ (the first)
  std::string top_keys;                             // for the message when no state dict is found
  std::string top_object;                           // the same, when the top level is not a dict

  ~Impl() {
    if (map_address) munmap(map_address, map_size);
  }
};

PyTorchCheckpoint::PyTorchCheckpoint() : impl_(std::make_unique<Impl>()) {}
PyTorchCheckpoint::PyTorchCheckpoint(PyTorchCheckpoint&&) noexcept = default;
PyTorchCheckpoint& PyTorchCheckpoint::operator=(PyTorchCheckpoint&&) noexcept = default;
PyTorchCheckpoint::~PyTorchCheckpoint() = default;

std::optional<std::string> PyTorchCheckpoint::sniff(std::span<const std::byte> head) {
  auto at = [&](size_t i) { return i < head.size() ? uint8_t(head[i]) : -1; };
  if (at(0) == 'P' && at(1) == 'K' && at(2) == 3 && at(3) == 4) return "zip";
  // Protocols 0 and 1 write the magic number as text: LONG "119547037146038801333356L".
  static constexpr char kTextMagic[] = "L119547037146038801333356L\n";
  if (head.size() >= sizeof kTextMagic - 1 &&
      std::memcmp(head.data(), kTextMagic, sizeof kTextMagic - 1) == 0)
    return "legacy";
  // A pickle of protocol 2 or more whose first object is LONG1 of the 10-byte magic number; protocol 4+
  // puts a FRAME (9 bytes) first.
  if (at(0) != 0x80 || at(1) < 2 || at(1) > 5) return std::nullopt;
  size_t p = 2;
  if (at(p) == 0x95) p += 9;
  if (at(p) != 0x8a || at(p + 1) != 10) return std::nullopt;
  for (size_t i = 0; i < 10; ++i)
    if (at(p + 2 + i) != kLegacyMagic[i]) return std::nullopt;
  return "legacy";
}

PyTorchCheckpoint PyTorchCheckpoint::open(const std::string& path) {
  const int fd = open_regular_file(path, "PyTorch checkpoint");  // never blocks on a FIFO or device
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    ::close(fd);
    bad(escape_for_terminal(path), std::string("cannot stat: ") + std::strerror(errno));
  }
  const size_t size = size_t(st.st_size);
  void* address = nullptr;
  if (size > 0) {
    address = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (address == MAP_FAILED) {
      ::close(fd);
      bad(escape_for_terminal(path), std::string("cannot map: ") + std::strerror(errno));
    }
  }
  ::close(fd);  // the mapping keeps the file
  std::span<const std::byte> bytes(static_cast<const std::byte*>(address), size);
  try {
    PyTorchCheckpoint c = parse(bytes, path);
    c.impl_->map_address = address;
    c.impl_->map_size = size;
    return c;
  } catch (...) {
    if (address) munmap(address, size);
    throw;
  }
}

namespace {

// The zip archive's records, by name without the "<archive>/" prefix. Every record but the storages (data/)
// is checked against its CRC-32 here; storages are checked when read.
void read_zip(PyTorchCheckpoint::Impl& impl, const std::string& what) {
  MemoryStream stream{impl.bytes, 0};
  zlib_filefunc64_def io{};
  io.zopen64_file = mem_open;
  io.zread_file = mem_read;
  io.zwrite_file = mem_write;
  io.ztell64_file = mem_tell;
  io.zseek64_file = mem_seek;
  io.zclose_file = mem_close;
  io.zerror_file = mem_error;
  io.opaque = &stream;
  unzFile zip = unzOpen2_64("", &io);
  if (!zip)
    bad(what, "no zip end-of-central-directory record could be read: the archive is truncated or damaged");
  struct Close {
    unzFile z;
    ~Close() { unzClose(z); }
  } close_zip{zip};

  std::vector<std::pair<std::string, ZipRecord>> entries;
  std::unordered_set<std::string> names;
  for (int rc = unzGoToFirstFile(zip); rc != UNZ_END_OF_LIST_OF_FILE; rc = unzGoToNextFile(zip)) {
    if (rc != UNZ_OK)
      bad(what, "zip central directory is damaged (minizip error " + std::to_string(rc) + ")");
    unz_file_info64 info{};
    char name_buf[4097];
    if (unzGetCurrentFileInfo64(zip, &info, name_buf, sizeof name_buf, nullptr, 0, nullptr, 0) != UNZ_OK)
      bad(what, "zip central directory entry " + std::to_string(entries.size()) + " is damaged");
    if (info.size_filename >= sizeof name_buf) bad(what, "a zip entry name is longer than 4096 bytes");
    const std::string name(name_buf, info.size_filename);
    const std::string shown = "zip entry '" + escape_for_terminal(name) + "'";
    if (!names.insert(name).second) bad(what, shown + " appears twice");
    if (info.flag & 1) unsupported(what, shown + " is encrypted");
    if (info.compression_method != 0 && info.compression_method != Z_DEFLATED)
      unsupported(what, shown + " uses compression method " + std::to_string(info.compression_method) +
                            " (frost reads stored and deflated entries)");
    if (unzOpenCurrentFile(zip) != UNZ_OK)
      bad(what, shown + ": its local header is damaged or disagrees with the central directory");
    ZipRecord r;
    r.crc = uint32_t(info.crc);
    const uint64_t pos = unzGetCurrentFileZStreamPos64(zip);
    if (info.compression_method == 0) {
      if (info.compressed_size != info.uncompressed_size)
        bad(what, shown + " is stored but its compressed and uncompressed sizes differ");
      if (pos > impl.bytes.size() || info.compressed_size > impl.bytes.size() - pos)
        bad(what, shown + " runs past the end of the " + std::to_string(impl.bytes.size()) +
                      "-byte file (truncated?)");
      r.data = impl.bytes.subspan(size_t(pos), size_t(info.compressed_size));
      r.offset = pos;
    } else {
      // The compressed bytes must be in the file: a stated size is otherwise a lie that would let the
      // ratio check pass for any claim (and drive a huge allocation).
      if (pos > impl.bytes.size() || info.compressed_size > impl.bytes.size() - pos)
        bad(what, shown + " runs past the end of the " + std::to_string(impl.bytes.size()) +
                      "-byte file (truncated?)");
      if (info.uncompressed_size > kMaxDeflateRatio * info.compressed_size + 1024)
        bad(what, shown + " claims " + std::to_string(info.uncompressed_size) + " bytes from " +
                      std::to_string(info.compressed_size) + " compressed, more than deflate can expand");
      // Not value-initialised: the pages are touched only as inflating fills them.
      const size_t size = size_t(info.uncompressed_size);
      std::unique_ptr<std::byte[]> buffer(new std::byte[size == 0 ? 1 : size]);
      size_t done = 0;
      while (done < size) {
        const unsigned chunk = unsigned(std::min<size_t>(size - done, 1u << 30));
        const int n = unzReadCurrentFile(zip, buffer.get() + done, chunk);
        if (n <= 0) bad(what, shown + " cannot be inflated (damaged or truncated)");
        done += size_t(n);
      }
      r.data = std::span<const std::byte>(buffer.get(), size);
      r.crc_checked = true;
      impl.owned.push_back(std::move(buffer));
    }
    const int close_rc = unzCloseCurrentFile(zip);
    if (info.compression_method != 0 && close_rc == UNZ_CRCERROR)
      bad(what, shown + ": CRC-32 mismatch (the file is damaged)");
    entries.emplace_back(name, r);
  }

  // torch names every record "<archive>/<name>"; the archive folder is the file's stem at save time.
  std::string prefix;
  for (const auto& [name, r] : entries) {
    const size_t slash = name.find('/');
    if (slash != std::string::npos && name.substr(slash + 1) == "data.pkl") {
      if (!prefix.empty())
        bad(what, "two data.pkl records ('" + escape_for_terminal(prefix) + "data.pkl' and '" +
                      escape_for_terminal(name) + "')");
      prefix = name.substr(0, slash + 1);
    }
  }
  if (prefix.empty()) {
    for (const auto& [name, r] : entries)
      if (name.size() >= 13 && name.substr(name.size() - 13) == "constants.pkl")
        bad(what,
            "a zip archive without data.pkl but with constants.pkl: a TorchScript archive "
            "(torch.jit.save), not a torch.save checkpoint");
    bad(what, "a zip archive without <archive>/data.pkl: not a torch.save checkpoint (" +
                  std::to_string(entries.size()) + " entries)");
  }
  for (auto& [name, r] : entries) {
    if (name.rfind(prefix, 0) != 0) continue;  // torch ignores records outside its folder
    const std::string rel = name.substr(prefix.size());
    if (rel.rfind("data/", 0) != 0 && !r.crc_checked && crc32_of(r.data) != r.crc)
      bad(what, "record '" + escape_for_terminal(name) + "': CRC-32 mismatch (the file is damaged)");
    impl.records.emplace(rel, r);
  }
}

// The tensor rebuild functions torch.save writes, interpreted; every other torch rebuild function is
// refused by name (it builds something frost cannot hold: quantized, sparse, nested, meta tensors).
std::optional<Id> rebuild(PyTorchCheckpoint::Impl& impl, Unpickler& u, const std::string& name, Id args_id) {
  const std::vector<Id> args = u.value(args_id).items;  // copied: adding values may move the arena
  const std::string& what = u.what();
  auto tensor_arg = [&](Id id) -> Id {
    const pickle::Value& v = u.value(id);
    if (v.kind == Kind::Opaque && v.number % 2 == 1) return id;
    if (v.kind == Kind::Placeholder || v.kind == Kind::Global)
      unsupported(what, name + ": its tensor would come from calling " + escape_for_terminal(v.text) +
                            ", which frost never calls");
    bad(what, name + ": its first argument is a " + pickle::kind_name(v.kind) + ", not a tensor");
  };
  if (name == "torch._utils._rebuild_tensor_v2" || name == "torch._utils._rebuild_tensor") {
    if (args.size() < 4)
      bad(what, name + " with " + std::to_string(args.size()) + " arguments (needs 4 or more)");
    const pickle::Value& s = u.value(args[0]);
    if (s.kind == Kind::Placeholder || s.kind == Kind::Global)
      unsupported(what, name + ": the tensor's storage would come from calling " +
                            escape_for_terminal(s.text) + ", which frost never calls");
    if (s.kind != Kind::Opaque || s.number % 2 != 0)
      bad(what, name + ": its storage argument is a " + pickle::kind_name(s.kind) + ", not a storage");
    PyTorchCheckpoint::Impl::Rebuilt t;
    t.storage = size_t(s.number / 2);
    t.offset = u.int_of(args[1], "a tensor's storage offset");
    for (Id d : u.tuple_of(args[2], "a tensor's size")) t.sizes.push_back(u.int_of(d, "a tensor's size"));
    for (Id d : u.tuple_of(args[3], "a tensor's stride"))
      t.strides.push_back(u.int_of(d, "a tensor's stride"));
    const PyTorchCheckpoint::Impl::Storage& st = impl.storages[t.storage];
    const std::string which = "a tensor on " + st.record;
    if (t.sizes.size() != t.strides.size())
      bad(what, which + " has " + std::to_string(t.sizes.size()) + " sizes but " +
                    std::to_string(t.strides.size()) + " strides");
    if (t.sizes.size() > size_t(kMaxRank))
      unsupported(what, which + " has " + std::to_string(t.sizes.size()) + " dimensions (frost holds up to " +
                            std::to_string(kMaxRank) + ")");
    if (t.offset < 0) bad(what, which + " has a negative storage offset");
    // Every size and stride bounded on its own — an empty dimension would otherwise let the others and
    // the offset be anything (and overflow the contiguity and byte computations).
    if (uint64_t(t.offset) > st.numel)
      bad(what, which + " starts past its storage of " + std::to_string(st.numel) + " elements");
    __int128 numel = 1, last = t.offset;
    for (size_t i = 0; i < t.sizes.size(); ++i) {
      if (t.sizes[i] < 0 || t.strides[i] < 0) bad(what, which + " has a negative size or stride");
      if (t.sizes[i] > kMaxNumel || t.strides[i] > kMaxNumel)
        bad(what, which + " has a size or stride beyond 2^48");
      numel *= t.sizes[i];
      if (numel > kMaxNumel) bad(what, which + " has more than 2^48 elements");
      if (t.sizes[i] > 0) last += __int128(t.sizes[i] - 1) * t.strides[i];
    }
    if (numel > 0 && last >= __int128(st.numel))
      bad(what, which + " reaches element " + std::to_string(int64_t(last)) + " of a storage of " +
                    std::to_string(st.numel) + " elements (the storage is too small for the view)");
    impl.rebuilt.push_back(std::move(t));
    return u.add_opaque(int64_t(impl.rebuilt.size() - 1) * 2 + 1);
  }
  if (name == "torch._utils._rebuild_parameter" || name == "torch._utils._rebuild_parameter_with_state") {
    if (args.empty()) bad(what, name + " without arguments");
    return tensor_arg(args[0]);  // a Parameter is its data; requires_grad and hooks do not matter here
  }
  if (name == "torch._tensor._rebuild_from_type_v2") {  // (func, new_type, args, state): func(*args)
    if (args.size() < 3) bad(what, name + " with " + std::to_string(args.size()) + " arguments (needs 4)");
    const pickle::Value& f = u.value(args[0]);
    if (f.kind != Kind::Global) bad(what, name + ": its function is a " + pickle::kind_name(f.kind));
    if (u.value(args[2]).kind != Kind::Tuple) bad(what, name + ": its arguments are not a tuple");
    const std::string inner = f.text;
    // torch nests one level (a subclass around a plain rebuild); deeper nesting would only recurse.
    if (inner == name) bad(what, name + " nested in itself");
    const std::optional<Id> r = rebuild(impl, u, inner, args[2]);
    if (!r)
      unsupported(what, name + ": its tensor would come from calling " + escape_for_terminal(inner) +
                            ", which frost never calls");
    return tensor_arg(*r);
  }
  if (name.rfind("torch._utils._rebuild", 0) == 0 || name.rfind("torch._tensor._rebuild", 0) == 0)
    unsupported(what,
                "a tensor rebuilt by " + escape_for_terminal(name) +
                    " (quantized, sparse, nested, meta or subclass tensors), which frost does not read");
  return std::nullopt;
}

// persistent_load: ('storage', storage_type, key, location, numel[, view_metadata]).
Id persistent(PyTorchCheckpoint::Impl& impl, Unpickler& u, Id pid, bool legacy) {
  const std::string& what = u.what();
  const std::vector<Id> f = u.tuple_of(pid, "a persistent id");
  if (f.empty() || u.value(f[0]).kind != Kind::Str) bad(what, "a persistent id without its type name");
  const std::string type = u.value(f[0]).text;
  if (type == "module" && legacy && f.size() >= 2)  // a saved nn.Module class (its source): only a name
    return u.add(pickle::Value{Kind::Global, 0, 0, u.describe(f[1]), {}});
  if (type != "storage")
    bad(what, "a persistent id of type '" + escape_for_terminal(type) + "' (expected 'storage')");
  if (f.size() < 5)
    bad(what, "a storage persistent id with " + std::to_string(f.size()) + " fields (needs 5)");
  const pickle::Value& t = u.value(f[1]);
  if (t.kind != Kind::Global)
    bad(what, "a storage whose type is a " + std::string(pickle::kind_name(t.kind)));
  const StorageType* st = storage_type(t.text);
  if (!st)
    unsupported(what, "a storage of type " + escape_for_terminal(t.text) + ", which frost does not read");
  const pickle::Value& k = u.value(f[2]);
  if (k.kind != Kind::Str && k.kind != Kind::Int)
    bad(what, "a storage key that is a " + std::string(pickle::kind_name(k.kind)));
  const std::string key = u.describe(f[2]);
  const int64_t numel = u.int_of(f[4], "a storage's element count");
  if (numel < 0 || uint64_t(numel) > uint64_t(kMaxNumel))
    bad(what, "storage '" + escape_for_terminal(key) + "' declares " + std::to_string(numel) + " elements");

  size_t index;
  if (const auto it = impl.storage_by_key.find(key); it != impl.storage_by_key.end()) {
    index = it->second;
    // torch reinterprets a storage named again with another type; frost does not (it would have to
    // reinterpret the bytes, and a view's bounds would be in the wrong elements): refused.
    if (impl.storages[index].type != st)
      unsupported(what, "storage '" + escape_for_terminal(key) + "' is declared as " +
                            impl.storages[index].type->dtype_name + " and again as " + st->dtype_name);
    if (impl.storages[index].numel != uint64_t(numel))
      bad(what, "storage '" + escape_for_terminal(key) + "' is declared twice with different sizes");
  } else {
    PyTorchCheckpoint::Impl::Storage s;
    s.key = key;
    s.type = st;
    s.numel = uint64_t(numel);
    if (legacy) {
      s.record = "legacy storage '" + escape_for_terminal(key) + "'";
    } else {
      s.record = "record data/" + escape_for_terminal(key);
      const auto r = impl.records.find("data/" + key);
      if (r == impl.records.end())
        bad(what,
            "storage key '" + escape_for_terminal(key) + "' has no record data/" + escape_for_terminal(key));
      if (r->second.data.size() != st->element_size * uint64_t(numel))
        bad(what, s.record + " holds " + std::to_string(r->second.data.size()) +
                      " bytes; its storage declares " + std::to_string(numel) + " elements of " +
                      std::to_string(st->element_size) + " bytes");
      s.data = r->second.data;
      s.resolved = true;
      if (!r->second.crc_checked) s.crc = r->second.crc;
    }
    impl.storages.push_back(std::move(s));
    index = impl.storages.size() - 1;
    impl.storage_by_key.emplace(key, index);
  }
  // Legacy view_metadata (view_key, offset, size): a storage that is part of another (PyTorch < 0.4).
  if (legacy && f.size() >= 6 && u.value(f[5]).kind != Kind::None) {
    const std::vector<Id> v = u.tuple_of(f[5], "a storage view");
    if (v.size() != 3) bad(what, "a storage view with " + std::to_string(v.size()) + " fields (needs 3)");
    const std::string view_key = u.describe(v[0]);
    const int64_t offset = u.int_of(v[1], "a storage view's offset"),
                  size = u.int_of(v[2], "a storage view's size");
    // In bytes: the view's elements are of this persistent id's type (serialization.py _legacy_load).
    const PyTorchCheckpoint::Impl::Storage& root = impl.storages[index];
    if (offset < 0 || size < 0 || uint64_t(offset) > kMaxNumel || uint64_t(size) > kMaxNumel ||
        (uint64_t(offset) + uint64_t(size)) * st->element_size > root.numel * root.type->element_size)
      bad(what, "storage view '" + escape_for_terminal(view_key) + "' lies outside storage '" +
                    escape_for_terminal(key) + "'");
    if (const auto it = impl.storage_by_key.find(view_key); it != impl.storage_by_key.end())
      return u.add_opaque(int64_t(it->second) * 2);
    PyTorchCheckpoint::Impl::Storage s;
    s.key = view_key;
    s.type = st;
    s.numel = uint64_t(size);
    s.record = "legacy storage view '" + escape_for_terminal(view_key) + "'";
    s.root = index;
    s.view_offset = uint64_t(offset);
    impl.storages.push_back(std::move(s));
    index = impl.storages.size() - 1;
    impl.storage_by_key.emplace(view_key, index);
  }
  return u.add_opaque(int64_t(index) * 2);
}

bool is_contiguous(const std::vector<int64_t>& sizes, const std::vector<int64_t>& strides) {
  __int128 expected = 1;  // sizes are each below 2^48 (rebuild): the product of up to kMaxRank fits
  for (size_t i = sizes.size(); i-- > 0;) {
    if (sizes[i] != 1 && strides[i] != expected) return sizes[i] == 0 ? true : false;
    expected *= sizes[i];
  }
  return true;
}

// Lists tensors and placeholders by walking the object from `root`. Paths are kept as parent links and built
// into names only for what is listed, so a long key shared by many entries costs nothing until it names one.
void walk(PyTorchCheckpoint::Impl& impl, const Unpickler& u, Id root, const std::string& what,
          std::vector<CheckpointTensor>& tensors, std::vector<std::string>& placeholders) {
  struct Node {
    size_t parent;
    Id key;  // kNoId: an index
    size_t index;
  };
  std::vector<Node> nodes{{SIZE_MAX, pickle::kNoId, 0}};
  size_t name_bytes = 0;
  auto segment = [&](const Node& n) {
    if (n.key == pickle::kNoId) return std::to_string(n.index);
    return u.describe(n.key);
  };
  auto path_of = [&](size_t node) {
    std::vector<size_t> chain;
    for (size_t i = node; i != 0; i = nodes[i].parent) chain.push_back(i);
    std::string s;
    for (size_t i = chain.size(); i-- > 0;) {
      if (!s.empty()) s += '.';
      s += segment(nodes[chain[i]]);
    }
    name_bytes += s.size();
    if (name_bytes > kMaxNameBytes)
      bad(what, "the names of its tensors exceed " + std::to_string(kMaxNameBytes) + " bytes");
    return s;
  };
  std::unordered_set<Id> visited;
  struct Item {
    Id id;
    size_t node, depth;
  };
  std::vector<Item> todo{{root, 0, 0}};
  while (!todo.empty()) {
    const Item it = todo.back();
    todo.pop_back();
    const pickle::Value& v = u.value(it.id);
    if (v.kind == Kind::Opaque && v.number % 2 == 1) {
      // Each reference lists the tensor again (a 2-byte memo get in the pickle): bounded.
      if (tensors.size() >= kMaxTensors)
        bad(what, "more than " + std::to_string(kMaxTensors) + " tensor entries (references included)");
      const PyTorchCheckpoint::Impl::Rebuilt& r = impl.rebuilt[size_t(v.number / 2)];
      const PyTorchCheckpoint::Impl::Storage& s = impl.storages[r.storage];
      CheckpointTensor t;
      t.name = path_of(it.node);
      t.dtype_name = s.type->dtype_name;
      t.dtype = s.type->dtype;
      t.element_size = s.type->element_size;
      t.shape = Shape(std::span<const int64_t>(r.sizes));
      t.strides = r.strides;
      t.storage_offset = r.offset;
      t.storage_key = s.key;
      t.contiguous = is_contiguous(r.sizes, r.strides);
      if (t.contiguous && s.resolved && t.shape.numel() > 0)
        t.bytes = s.data.subspan(size_t(r.offset) * t.element_size, size_t(t.shape.numel()) * t.element_size);
      tensors.push_back(std::move(t));
      continue;
    }
    if (v.kind == Kind::Placeholder) {
      const std::string p = path_of(it.node);
      placeholders.push_back(v.text + " at " + (p.empty() ? "the top level" : p));
      continue;
    }
    if (v.kind != Kind::Dict && v.kind != Kind::List && v.kind != Kind::Tuple && v.kind != Kind::Set)
      continue;
    if (!visited.insert(it.id).second) continue;  // shared or cyclic: walked once
    if (it.depth >= kMaxWalkDepth)
      bad(what, "objects nested deeper than " + std::to_string(kMaxWalkDepth) + " levels");
    // Pushed in reverse so the walk meets children in their stored order — except the top level's
    // "state_dict", met first: a container shared under two keys is walked once, under the first path,
    // and the weights must be named as the state dict's even when another key (an EMA copy) shares it.
    if (v.kind == Kind::Dict) {
      size_t state_dict_at = SIZE_MAX;
      for (size_t i = v.items.size(); i >= 2; i -= 2) {
        if (it.id == root && u.describe(v.items[i - 2]) == "state_dict") {
          state_dict_at = i - 2;
          continue;
        }
        nodes.push_back({it.node, v.items[i - 2], 0});
        todo.push_back({v.items[i - 1], nodes.size() - 1, it.depth + 1});
      }
      if (state_dict_at != SIZE_MAX) {
        nodes.push_back({it.node, v.items[state_dict_at], 0});
        todo.push_back({v.items[state_dict_at + 1], nodes.size() - 1, it.depth + 1});
      }
    } else {
      for (size_t i = v.items.size(); i-- > 0;) {
        nodes.push_back({it.node, pickle::kNoId, i});
        todo.push_back({v.items[i], nodes.size() - 1, it.depth + 1});
      }
    }
  }
  // The reference's layout: weights under the top-level dict's "state_dict"; or a bare state dict.
  const pickle::Value& top = u.value(root);
  if (top.kind == Kind::Dict) {
    bool has_state_dict = false, has_tensor = false;
    for (size_t i = 0; i + 1 < top.items.size(); i += 2) {
      const std::string k = u.describe(top.items[i]);
      if (impl.top_keys.size() < 400)
        impl.top_keys += (impl.top_keys.empty() ? "" : ", ") + escape_for_terminal(k);
      if (k == "state_dict" && u.value(top.items[i + 1]).kind == Kind::Dict) has_state_dict = true;
      const pickle::Value& val = u.value(top.items[i + 1]);
      if (val.kind == Kind::Opaque && val.number % 2 == 1) has_tensor = true;
    }
    if (has_state_dict)
      impl.state_prefix = "state_dict.";
    else if (has_tensor)
      impl.state_prefix = "";
  } else if (top.kind == Kind::Placeholder) {
    impl.top_object = "an object of class " + escape_for_terminal(top.text) +
                      " (torch.save(model) pickles the module itself: save model.state_dict() instead)";
  } else if (top.kind == Kind::Opaque && top.number % 2 == 1) {
    impl.top_object = "a single tensor";
  } else {
    impl.top_object = std::string("a ") + pickle::kind_name(top.kind);
  }
}

// Returns the object pickle's root; `keep` owns the unpicklers (the walk reads the object's arena).
Id parse_legacy(PyTorchCheckpoint::Impl& impl, const std::string& what, Unpickler*& object_pickle,
                std::vector<std::unique_ptr<Unpickler>>& keep) {
  const auto bytes = impl.bytes;
  size_t pos = 0;
  auto next = [&](const char* role) {
    keep.push_back(std::make_unique<Unpickler>(bytes, what + ": " + role, pos));
    return keep.back().get();
  };
  Unpickler* magic = next("the magic-number pickle");
  const Id m = magic->load();
  // Binary protocols keep the wide integer's 10 little-endian bytes, the text protocols its decimal digits.
  if (magic->value(m).kind != Kind::BigInt ||
      (magic->value(m).text != std::string(reinterpret_cast<const char*>(kLegacyMagic), 10) &&
       magic->value(m).text != "119547037146038801333356" &&
       magic->value(m).text != "119547037146038801333356L"))
    bad(what, "the first pickle is not PyTorch's magic number 0x1950a86a20f9469cfc6c");
  pos = magic->position();
  Unpickler* version = next("the protocol-version pickle");
  const int64_t v = version->int_of(version->load(), "the protocol version");
  if (v != kLegacyProtocolVersion)
    unsupported(what, "legacy protocol version " + std::to_string(v) + " (frost reads " +
                          std::to_string(kLegacyProtocolVersion) + ")");
  pos = version->position();
  Unpickler* sys_info = next("the sys_info pickle");
  const Id info = sys_info->load();
  const pickle::Value& iv = sys_info->value(info);
  if (iv.kind != Kind::Dict)
    bad(what, "sys_info is a " + std::string(pickle::kind_name(iv.kind)) + ", not a dict");
  for (size_t i = 0; i + 1 < iv.items.size(); i += 2)
    if (sys_info->describe(iv.items[i]) == "little_endian" &&
        sys_info->value(iv.items[i + 1]).kind == Kind::Bool && sys_info->value(iv.items[i + 1]).number == 0)
      unsupported(what,
                  "written on a big-endian machine (sys_info little_endian=False); frost reads little-endian "
                  "checkpoints only (load and re-save it on a little-endian machine)");
  pos = sys_info->position();
  Unpickler* object = next("the object pickle");
  object->on_persistent = [&impl](Unpickler& u, Id pid) { return persistent(impl, u, pid, true); };
  object->on_call = [&impl](Unpickler& u, const std::string& name, Id args) {
    return rebuild(impl, u, name, args);
  };
  object_pickle = object;
  const Id root = object->load();
  pos = object->position();
  Unpickler* keys = next("the storage-key pickle");
  const std::vector<Id> key_ids = keys->tuple_of(keys->load(), "the storage-key list");
  pos = keys->position();
  for (Id k : key_ids) {
    const std::string key = keys->describe(k);
    const auto it = impl.storage_by_key.find(key);
    if (it == impl.storage_by_key.end())
      bad(what, "storage key '" + escape_for_terminal(key) + "' is listed but no tensor names it");
    PyTorchCheckpoint::Impl::Storage& s = impl.storages[it->second];
    if (s.resolved) bad(what, "storage key '" + escape_for_terminal(key) + "' is listed twice");
    if (bytes.size() - pos < 8)
      bad(what, s.record + ": its element count runs past the end of the file (truncated)");
    uint64_t count = 0;
    for (int i = 7; i >= 0; --i) count = (count << 8) | uint64_t(bytes[pos + size_t(i)]);
    pos += 8;
    if (count != s.numel)
      bad(what, s.record + " holds " + std::to_string(count) + " elements; the pickle declares " +
                    std::to_string(s.numel));
    const uint64_t n = s.numel * s.type->element_size;
    if (n > bytes.size() - pos)
      bad(what, s.record + ": its " + std::to_string(n) + " bytes run past the end of the file at offset " +
                    std::to_string(bytes.size()) + " (truncated)");
    s.data = bytes.subspan(pos, size_t(n));
    s.resolved = true;
    pos += size_t(n);
  }
  for (PyTorchCheckpoint::Impl::Storage& s : impl.storages) {
    if (s.root == SIZE_MAX) continue;
    const PyTorchCheckpoint::Impl::Storage& r = impl.storages[s.root];
    if (!r.resolved) continue;
    s.data =
        r.data.subspan(size_t(s.view_offset) * s.type->element_size, size_t(s.numel) * s.type->element_size);
    s.resolved = true;
  }
  for (const PyTorchCheckpoint::Impl::Storage& s : impl.storages)
    if (!s.resolved) bad(what, s.record + " is named by a tensor but has no data in the file");
  return root;
}

}  // namespace

PyTorchCheckpoint PyTorchCheckpoint::parse(std::span<const std::byte> bytes, const std::string& name) {
  PyTorchCheckpoint c;
  c.path_ = name;
  c.impl_->bytes = bytes;
  const std::string shown = escape_for_terminal(name);
  const std::optional<std::string> format = sniff(bytes);
  if (!format) {
    std::string kind;
    if (bytes.size() >= 9 && uint8_t(bytes[8]) == '{')
      kind = "it looks like a safetensors file";
    else if (bytes.size() >= 262 && std::memcmp(bytes.data() + 257, "ustar", 5) == 0)
      kind = "it is a tar archive (PyTorch before 0.4 saved tar archives, which frost does not read)";
    else if (bytes.size() >= 4 && std::memcmp(bytes.data(), "PK\x05\x06", 4) == 0)
      kind = "it is an empty zip archive";
    else if (bytes.empty())
      kind = "it is empty";
    else
      kind = "its first bytes are " + hex_bytes(bytes, 16);
    bad(shown,
        "not a PyTorch checkpoint: " + kind +
            " (a torch.save zip checkpoint starts with PK\\x03\\x04, a legacy one with the pickled magic "
            "number 0x1950a86a20f9469cfc6c)");
  }
  c.format_ = *format;
  std::vector<std::unique_ptr<Unpickler>> keep;
  Unpickler* object = nullptr;
  if (c.format_ == "zip") {
    const std::string what = shown + " (PyTorch zip checkpoint)";
    read_zip(*c.impl_, what);
    if (const auto bo = c.impl_->records.find("byteorder"); bo != c.impl_->records.end()) {
      const std::string order(reinterpret_cast<const char*>(bo->second.data.data()), bo->second.data.size());
      if (order == "big")
        unsupported(
            what,
            "byteorder is 'big' (saved on a big-endian machine); frost reads little-endian "
            "checkpoints only, and does not byte-swap (load and re-save it on a little-endian machine)");
      if (order != "little")
        bad(what,
            "byteorder record is '" + escape_for_terminal(order.substr(0, 20)) + "', not 'little' or 'big'");
    }
    const auto pkl = c.impl_->records.find("data.pkl");
    keep.push_back(std::make_unique<Unpickler>(pkl->second.data, what + ": data.pkl"));
    object = keep.back().get();
    Impl& impl = *c.impl_;
    object->on_persistent = [&impl](Unpickler& u, Id pid) { return persistent(impl, u, pid, false); };
    object->on_call = [&impl](Unpickler& u, const std::string& n, Id args) {
      return rebuild(impl, u, n, args);
    };
    const Id root = object->load();
    walk(impl, *object, root, what, c.tensors_, c.placeholders_);
  } else {
    const std::string what = shown + " (PyTorch legacy checkpoint)";
    const Id root = parse_legacy(*c.impl_, what, object, keep);
    walk(*c.impl_, *object, root, what, c.tensors_, c.placeholders_);
  }
  // Two paths that flatten to one name ({'a.b': t, 'a': {'b': u}}): the first is kept, as find() gives.
  for (size_t i = 0; i < c.tensors_.size(); ++i) c.impl_->by_name.emplace(c.tensors_[i].name, i);
  return c;
}

const CheckpointTensor* PyTorchCheckpoint::find(const std::string& name) const {
  const auto it = impl_->by_name.find(name);
  return it == impl_->by_name.end() ? nullptr : &tensors_[it->second];
}

std::map<std::string, const CheckpointTensor*> PyTorchCheckpoint::state_dict() const {
  if (!impl_->state_prefix)
    bad(escape_for_terminal(path_),
        "no state dict: the top-level object is " +
            (impl_->top_object.empty()
                 ? "a dict with neither a 'state_dict' dict nor tensors (top-level keys: " + impl_->top_keys +
                       ")"
                 : impl_->top_object));
  std::map<std::string, const CheckpointTensor*> out;
  const std::string& p = *impl_->state_prefix;
  for (const CheckpointTensor& t : tensors_)
    if (t.name.rfind(p, 0) == 0) out.emplace(t.name.substr(p.size()), &t);
  return out;
}

std::vector<std::byte> PyTorchCheckpoint::read_bytes(const std::string& name) const {
  const CheckpointTensor* t = find(name);
  FROST_CHECK(t != nullptr, InvalidArgument,
              escape_for_terminal(path_) << ": no tensor named '" << escape_for_terminal(name) << "'");
  const Impl::Storage& s = impl_->storages[impl_->storage_by_key.at(t->storage_key)];
  if (s.crc) {
    std::call_once(*s.crc_once, [&] { s.crc_ok = crc32_of(s.data) == *s.crc; });
    if (!s.crc_ok)
      bad(escape_for_terminal(path_),
          s.record + " (tensor '" + escape_for_terminal(name) + "'): CRC-32 mismatch (the file is damaged)");
  }
  const size_t es = t->element_size;
  const int64_t numel = t->shape.numel();
  std::vector<std::byte> out(size_t(numel) * es);
  if (numel == 0) return out;
  if (t->contiguous) {
    std::memcpy(out.data(), s.data.data() + size_t(t->storage_offset) * es, out.size());
    return out;
  }
  // Gather: an odometer over all dimensions but the last, copying the last dimension's elements.
  const int rank = t->shape.rank();
  std::vector<int64_t> index(size_t(rank), 0);
  const int64_t inner = t->shape[rank - 1], inner_stride = t->strides[size_t(rank - 1)];
  std::byte* dst = out.data();
  for (;;) {
    int64_t base = t->storage_offset;
    for (int d = 0; d + 1 < rank; ++d) base += index[size_t(d)] * t->strides[size_t(d)];
    for (int64_t i = 0; i < inner; ++i, dst += es)
      std::memcpy(dst, s.data.data() + size_t(base + i * inner_stride) * es, es);
    int d = rank - 2;
    for (; d >= 0; --d) {
      if (++index[size_t(d)] < t->shape[d]) break;
      index[size_t(d)] = 0;
    }
    if (d < 0) break;
  }
  return out;
}

HostTensor PyTorchCheckpoint::read(const std::string& name, std::optional<DType> as) const {
  const CheckpointTensor* t = find(name);
  FROST_CHECK(t != nullptr, InvalidArgument,
              escape_for_terminal(path_) << ": no tensor named '" << escape_for_terminal(name) << "'");
  FROST_CHECK(t->dtype.has_value(), Unsupported,
              escape_for_terminal(path_)
                  << ": tensor '" << escape_for_terminal(name) << "' has dtype " << t->dtype_name
                  << ", which frost does not compute on (read_bytes gives its bytes)");
  const std::vector<std::byte> bytes = read_bytes(name);
  HostTensor raw(*t->dtype, t->shape);
  if (!bytes.empty()) std::memcpy(raw.raw(), bytes.data(), bytes.size());
  if (!as || *as == *t->dtype) return raw;
  return raw.to(*as);
}

}  // namespace frost::loader
