// safetensors: read by mmap (zero-copy, validated as strictly as the reference reader and a little more),
// and write atomically. The format: 8 bytes little-endian header length N, N bytes of UTF-8 JSON
// ({"name": {"dtype", "shape", "data_offsets": [begin, end]}, ..., "__metadata__": {str: str}}), then
// the tensor bytes, offsets relative to the end of the header.
//
//   SafetensorsFile f = SafetensorsFile::open("model.safetensors");   // throws BadFile naming the rule
//   for (const TensorEntry& t : f.tensors()) ... t.name, t.dtype_name, t.shape, t.bytes
//   HostTensor w = f.read("txt_proj.1.weight", DType::F32);           // copies; converts f16/bf16 -> f32
//   write_safetensors("out.safetensors", {{"emb", &tensor}}, {{"format", "pt"}});
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "engine/dtype.h"
#include "engine/shape.h"
#include "engine/storage.h"

namespace frost::loader {

// One tensor of a safetensors file, as stored.
struct TensorEntry {
  std::string name;
  std::string dtype_name;      // as in the file: "F32", "BF16", "I16", "F8_E4M3", ...
  std::optional<DType> dtype;  // frost's dtype, when frost computes on it (F32, F16, BF16, F64, I32, I64, U8)
  Shape shape;
  std::span<const std::byte> bytes;  // into the mapped file: may be misaligned for the dtype
  size_t offset = 0;                 // of the first byte, from the start of the file
};

class SafetensorsFile {
 public:
  // Maps and validates `path`. Every error is BadFile and names the file, the tensor (where there is one)
  // and the rule broken.
  static SafetensorsFile open(const std::string& path);
  // Validates bytes already in memory (tests, fuzzing); `name` stands for the file in messages. The
  // bytes must outlive the returned object.
  static SafetensorsFile parse(std::span<const std::byte> bytes, const std::string& name);

  SafetensorsFile(SafetensorsFile&&) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept;
  ~SafetensorsFile();

  const std::string& path() const { return path_; }
  size_t file_size() const { return bytes_.size(); }
  size_t header_size() const { return header_size_; }
  // In file order of data (sorted by offset).
  const std::vector<TensorEntry>& tensors() const { return tensors_; }
  const TensorEntry* find(const std::string& name) const;  // nullptr when absent
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // Copies a tensor out (misaligned data is copied, never cast in place), converting to `as` when given:
  // any pair among F32, F16, BF16, F64 (and the integer types to themselves). Throws InvalidArgument for
  // an unknown name, Unsupported for a dtype frost does not compute on (named).
  HostTensor read(const std::string& name, std::optional<DType> as = std::nullopt) const;
  // As read, but without a copy where the file's bytes can serve as they are — the file was opened (not
  // parsed from memory), the dtype is the one asked for and the data is aligned to its elements: the tensor
  // then borrows the mapped pages, which stay mapped while it lives (after this object is gone, too). The
  // mapping is private; the borrowed pages are made writable, copy-on-write: writing to the tensor never
  // changes the file, only this process's pages — but the tensors borrowed from one file share them, as
  // views do. (Where making them writable is refused — a strict commit limit — the tensor is a copy.) A
  // change made to the file in place while mapped shows through, and truncating it makes later reads fault
  // (SIGBUS), as with any mapped file: frost's writers replace files by rename, never in place.
  HostTensor read_shared(const std::string& name, std::optional<DType> as = std::nullopt) const;

 private:
  SafetensorsFile() = default;
  struct Mapping;
  std::shared_ptr<Mapping> mapping_;
  std::string path_;
  std::span<const std::byte> bytes_;
  size_t header_size_ = 0;
  std::vector<TensorEntry> tensors_;
  std::map<std::string, std::string> metadata_;
};

std::string safetensors_dtype_name(DType dtype);  // "F32", ...

// Writes tensors and metadata to `path`: header padded with spaces to a multiple of 8, tensors ordered by
// element size (largest first) so every tensor is aligned with no holes, written to a temporary file in
// the same folder, fsynced and renamed — a crash never leaves a half-written file under the real name.
void write_safetensors(const std::string& path,
                       const std::vector<std::pair<std::string, const HostTensor*>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace frost::loader
