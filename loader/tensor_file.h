// A file of named tensors, whatever its format — what `--weights` and `frost info` / `frost convert` take:
//
//   safetensors         loader/safetensors.h (frost's own checkpoints, Hugging Face and timm files)
//   PyTorch checkpoint  loader/pytorch_checkpoint.h: `torch.save` output, zip or legacy (the released Frozen
//                       in Time `.pth.tar`), read without executing anything; its tensors are the state
//                       dict's (the top-level "state_dict" of the reference's layout, else the dict of
//                       tensors itself), named as there ("module.text_model.…": prefixes kept as found)
//
// The format is recognised by its first bytes, never by the file name; a file that is neither is refused
// naming what it looks like.
//
//   TensorFile f = TensorFile::open("model_best.pth.tar");
//   for (const TensorEntry& e : f.tensors()) f.read(e.name, DType::F32);
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/storage.h"
#include "loader/safetensors.h"

namespace frost::loader {

class PyTorchCheckpoint;

class TensorFile {
 public:
  // Throws BadFile naming the file and its format (and what is wrong), Unsupported for a valid file frost
  // cannot read.
  static TensorFile open(const std::string& path);
  // Whether `path` starts as a PyTorch checkpoint does (zip or legacy), without parsing it: such a file has
  // no metadata, so a caller that wants only metadata need not parse it.
  static bool is_pytorch_file(const std::string& path);
  TensorFile(TensorFile&&) noexcept;
  TensorFile& operator=(TensorFile&&) noexcept;
  ~TensorFile();

  const std::string& path() const { return path_; }
  // "safetensors", "PyTorch zip checkpoint" or "PyTorch legacy checkpoint".
  const std::string& format() const { return format_; }
  bool is_pytorch() const { return pytorch_ != nullptr; }
  // The tensors (a PyTorch checkpoint's: its state dict's, by state-dict name); `bytes` is set for tensors
  // stored contiguously in the mapped file, else empty.
  const std::vector<TensorEntry>& tensors() const { return tensors_; }
  // A safetensors file's metadata; empty for PyTorch checkpoints (their other contents are in `notes`).
  const std::map<std::string, std::string>& metadata() const;
  // What else a PyTorch checkpoint holds beside the state dict, one line each: its other top-level tensors
  // (an optimizer's state) by count, and the objects of classes frost does not read, which were not run
  // ("parse_config.ConfigParser at config").
  const std::vector<std::string>& notes() const { return notes_; }
  // A tensor by name, converted to `as` when given (F32, F16, BF16, F64 among themselves). Throws
  // InvalidArgument for an unknown name, Unsupported for a dtype frost does not compute on.
  HostTensor read(const std::string& name, std::optional<DType> as = std::nullopt) const;
  // As read, but a safetensors tensor already in the dtype asked for borrows the mapped file's pages
  // instead of being copied (SafetensorsFile::read_shared: private, copy-on-write, kept mapped while the
  // tensor lives). A PyTorch checkpoint's tensors are copied (their storages are checked against their
  // CRC-32 and may be strided views).
  HostTensor read_shared(const std::string& name, std::optional<DType> as = std::nullopt) const;
  // File bytes, data bytes and (safetensors) header bytes, for `frost info`.
  size_t file_size() const { return file_size_; }

 private:
  TensorFile() = default;
  std::string path_, format_;
  std::optional<SafetensorsFile> safetensors_;
  std::unique_ptr<PyTorchCheckpoint> pytorch_;
  std::vector<TensorEntry> tensors_;
  std::map<std::string, std::string> pytorch_names_;  // state-dict name → the checkpoint's dotted name
  std::vector<std::string> notes_;
  size_t file_size_ = 0;
};

}  // namespace frost::loader
