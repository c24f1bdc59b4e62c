// PyTorch checkpoints (`torch.save` files such as the released `.pth.tar`), read without executing
// anything: the pickle is interpreted by loader/pickle.h, which calls nothing; an explicit allow-list of the
// tensor rebuild functions (torch._utils._rebuild_tensor_v2, _rebuild_tensor, _rebuild_parameter,
// _rebuild_parameter_with_state, torch._tensor._rebuild_from_type_v2) is interpreted here; every other
// class or function the pickle names (the reference's parse_config.ConfigParser stored beside the weights,
// os.system in a hostile file) is an inert placeholder, listed by placeholders(), and refused by name only
// if a tensor would have to be built from it.
//
// Formats, told apart by their first bytes:
//   "zip"     torch >= 1.6: a zip archive <archive>/data.pkl (the object), <archive>/data/<key> (one record
//             per storage, stored uncompressed and 64-byte aligned by torch), <archive>/byteorder, version.
//             Read through minizip (zlib's contrib, Debian libminizip-dev). Stored records are used in
//             place (mapped, not copied); compressed ones (a re-zipped file) are inflated at open.
//   "legacy"  before 1.6 (`_use_new_zipfile_serialization=False`): pickles of the magic number
//             0x1950a86a20f9469cfc6c, the protocol version 1001 and a sys_info dict, then the object, then
//             the sorted storage keys, then per key an int64 little-endian element count and the raw bytes.
//
//   PyTorchCheckpoint c = PyTorchCheckpoint::open("model.pth.tar");        // throws BadFile naming the rule
//   c.format();                                                            // "zip" or "legacy"
//   for (const CheckpointTensor& t : c.tensors()) ... t.name, t.dtype_name, t.shape, t.strides
//   HostTensor w = c.read("state_dict.module.txt_proj.weight", DType::F32);  // gathered, converted
//   for (const auto& [name, tensor] : c.state_dict()) ...                   // "module.txt_proj.weight"
//
// Tensor names are dotted paths inside the saved object: dict keys (strings as stored, integers in decimal)
// and list/tuple indices, e.g. "state_dict.module.text_model.embeddings.word_embeddings.weight",
// "optimizer.state.0.exp_avg". A container the pickle shares (its memo) is walked once, under the first
// path that reaches it; a cycle is walked once. Tensors inside an object of an unknown class are not
// listed (nothing says what they are).
//
// Errors: BadFile naming the file and what is wrong (a truncated archive, no data.pkl, a CRC mismatch, a
// storage key with no record, a storage too small for a view, a malformed pickle with the opcode's byte and
// offset); Unsupported for a valid file frost cannot read (a big-endian file, a storage type such as
// complex or quantized, a tensor that would be built by a global frost does not call — named).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "engine/dtype.h"
#include "engine/shape.h"
#include "engine/storage.h"

namespace frost::loader {

// One tensor of a checkpoint, as stored: a view (offset, sizes, strides, in elements) into a storage.
struct CheckpointTensor {
  std::string name;            // dotted path, see above
  std::string dtype_name;      // safetensors' names: "F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8",
                               // "U8", "BOOL" (others, e.g. "C64", are listed and refused by read())
  std::optional<DType> dtype;  // frost's dtype when frost computes on it (F32, F16, BF16, F64, I32, I64, U8)
  size_t element_size = 0;     // bytes per element
  Shape shape;
  std::vector<int64_t> strides;      // elements, one per dimension
  int64_t storage_offset = 0;        // elements
  std::string storage_key;           // the record ("data/<key>") or legacy key it views
  bool contiguous = false;           // row-major with no gaps: `bytes` is then the tensor's data
  std::span<const std::byte> bytes;  // contiguous tensors: their bytes, in the mapped file when the record
                                     // is stored uncompressed (may be misaligned for the dtype); else empty
};

class PyTorchCheckpoint {
 public:
  // Maps `path` and parses it. The file is refused by name when it is neither format (a safetensors file,
  // a TorchScript archive without data.pkl, a tar archive of PyTorch < 0.4 are each named).
  static PyTorchCheckpoint open(const std::string& path);
  // Parses bytes already in memory (tests, fuzzing); `name` stands for the file in messages. The bytes
  // must outlive the returned object.
  static PyTorchCheckpoint parse(std::span<const std::byte> bytes, const std::string& name);
  // "zip", "legacy", or nullopt, from a file's first bytes (at least 16 are needed for "legacy").
  static std::optional<std::string> sniff(std::span<const std::byte> head);

  PyTorchCheckpoint(PyTorchCheckpoint&&) noexcept;
  PyTorchCheckpoint& operator=(PyTorchCheckpoint&&) noexcept;
  ~PyTorchCheckpoint();

  const std::string& path() const { return path_; }
  const std::string& format() const { return format_; }  // "zip" or "legacy"
  // In the order the walk meets them (dict insertion order, depth first).
  const std::vector<CheckpointTensor>& tensors() const { return tensors_; }
  const CheckpointTensor* find(const std::string& name) const;  // nullptr when absent
  // The inert objects found, each as "<global> at <path>", e.g. "parse_config.ConfigParser at config",
  // "posix.system at payload" (os.system on Linux). Nothing of them was run.
  const std::vector<std::string>& placeholders() const { return placeholders_; }

  // The weights of the reference's layout: the tensors under the top-level dict's "state_dict", named
  // relative to it ("module.txt_proj.weight": prefixes kept as found, frost's name map strips "module."),
  // or — when the top-level object is itself a dict holding tensors and no "state_dict" — those. Throws
  // BadFile naming the file and its top-level keys when neither holds.
  std::map<std::string, const CheckpointTensor*> state_dict() const;

  // Copies a tensor out, gathered to row-major order (non-contiguous views included), converted to `as`
  // when given: any pair among F32, F16, BF16, F64 (and the integer types to themselves). Throws
  // InvalidArgument for an unknown name, Unsupported for a dtype frost does not compute on (named; see
  // read_bytes), BadFile when the storage's CRC-32 does not match its record (zip).
  HostTensor read(const std::string& name, std::optional<DType> as = std::nullopt) const;
  // Any dtype's elements, gathered to row-major order, as stored (little-endian): I16, I8, BOOL, ...
  std::vector<std::byte> read_bytes(const std::string& name) const;

  struct Impl;  // the mapping, the storages and the rebuilt views (defined in the .cpp)

 private:
  PyTorchCheckpoint();
  std::unique_ptr<Impl> impl_;
  std::string path_;
  std::string format_;
  std::vector<CheckpointTensor> tensors_;
  std::vector<std::string> placeholders_;
};

}  // namespace frost::loader
