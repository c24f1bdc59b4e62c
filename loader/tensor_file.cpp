#include "loader/tensor_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "engine/error.h"
#include "loader/files.h"
#include "loader/pytorch_checkpoint.h"

namespace frost::loader {

TensorFile::TensorFile(TensorFile&&) noexcept = default;
TensorFile& TensorFile::operator=(TensorFile&&) noexcept = default;
TensorFile::~TensorFile() = default;

bool TensorFile::is_pytorch_file(const std::string& path) {
  return PyTorchCheckpoint::sniff(read_file_head(path, 64, "tensor file")).has_value();
}

TensorFile TensorFile::open(const std::string& path) {
  TensorFile f;
  f.path_ = path;
  const std::vector<std::byte> head = read_file_head(path, 64, "tensor file");
  std::error_code ec;
  f.file_size_ = size_t(std::filesystem::file_size(path, ec));
  if (const std::optional<std::string> kind = PyTorchCheckpoint::sniff(head)) {
    f.format_ = "PyTorch " + *kind + " checkpoint";
    f.pytorch_ = std::make_unique<PyTorchCheckpoint>(PyTorchCheckpoint::open(path));
    const std::map<std::string, const CheckpointTensor*> weights = f.pytorch_->state_dict();
    for (const auto& [name, t] : weights) {
      f.tensors_.push_back({name, t->dtype_name, t->dtype, t->shape, t->bytes, 0});
      f.pytorch_names_.emplace(name, t->name);
    }
    const size_t others = f.pytorch_->tensors().size() - weights.size();
    if (others > 0)
      f.notes_.push_back(std::to_string(others) +
                         " more tensors outside the weights (an optimizer's state, " +
                         "buffers of other objects): not read");
    for (const std::string& p : f.pytorch_->placeholders())
      f.notes_.push_back("an object of class " + p + " (not run: frost executes nothing in a checkpoint)");
    return f;
  }
  // Neither format's signature: a safetensors file begins with its header's length and then '{'.
  const bool safetensors_like = head.size() >= 9 && head[8] == std::byte('{');
  if (!safetensors_like) {
    std::string kind;
    if (head.empty())
      kind = "it is empty";
    else if (head.size() >= 4 && std::memcmp(head.data(), "PK\x05\x06", 4) == 0)
      kind = "it is an empty zip archive";
    else if (std::memcmp(head.data(), "\x89HDF", std::min<size_t>(4, head.size())) == 0)
      kind = "it is an HDF5 file (Keras / TensorFlow weights?)";
    else if (std::memcmp(head.data(), "\x93NUMPY", std::min<size_t>(6, head.size())) == 0)
      kind = "it is a NumPy .npy array";
    else {
      kind = "its first bytes are";
      static const char* hex = "0123456789abcdef";
      for (size_t i = 0; i < std::min<size_t>(head.size(), 16); ++i)
        kind += std::string(" ") + hex[uint8_t(head[i]) >> 4] + hex[uint8_t(head[i]) & 15];
    }
    // A tar archive (PyTorch before 0.4) has "ustar" at byte 257.
    const std::vector<std::byte> more = read_file_head(path, 262, "tensor file");
    if (more.size() >= 262 && std::memcmp(more.data() + 257, "ustar", 5) == 0)
      kind = "it is a tar archive (PyTorch before 0.4 saved tar archives, which frost does not read)";
    FROST_FAIL(BadFile, escape_for_terminal(path)
                            << ": neither a safetensors file nor a PyTorch checkpoint: " << kind
                            << " (safetensors starts with an 8-byte header length and '{'; a torch.save zip "
                               "checkpoint with PK\\x03\\x04; a legacy one with a pickled magic number)");
  }
  f.format_ = "safetensors";
  f.safetensors_.emplace(SafetensorsFile::open(path));
  f.tensors_ = f.safetensors_->tensors();
  return f;
}

const std::map<std::string, std::string>& TensorFile::metadata() const {
  static const std::map<std::string, std::string> none;
  return safetensors_ ? safetensors_->metadata() : none;
}

HostTensor TensorFile::read_shared(const std::string& name, std::optional<DType> as) const {
  return safetensors_ ? safetensors_->read_shared(name, as) : read(name, as);
}

HostTensor TensorFile::read(const std::string& name, std::optional<DType> as) const {
  if (safetensors_) return safetensors_->read(name, as);
  const auto it = pytorch_names_.find(name);
  FROST_CHECK(it != pytorch_names_.end(), InvalidArgument,
              path_ << ": no tensor '" << name << "' in its weights");
  return pytorch_->read(it->second, as);
}

}  // namespace frost::loader
