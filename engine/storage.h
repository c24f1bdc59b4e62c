// Concrete data: aligned host buffers and the tensors that own them, plus non-owning views.
// Graph values are symbolic (engine/graph.h); these hold the numbers that are bound to inputs, read from
// outputs and used to initialise persistent state.
//
//   HostTensor t(DType::F32, Shape{2, 3});      // 64-byte aligned, zero-filled
//   t.data<float>()[0] = 1.0f;
//   TensorView v = t.view();                     // non-owning {data, dtype, shape}
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "engine/dtype.h"
#include "engine/shape.h"

namespace frost {

inline constexpr size_t kBufferAlignment = 64;  // a cache line; enough for AVX-512 loads

// Aligned, zero-filled host memory, or memory another object owns (`borrow`: a mapped file's pages). Copies
// are deep and always own their memory.
class HostBuffer {
 public:
  HostBuffer() = default;
  explicit HostBuffer(size_t bytes);
  // `bytes` at `data`, which `owner` keeps valid (its deleter releases them: a file mapping, say); no copy.
  // The memory must be writable as far as this buffer's users write to it (a copy-on-write mapping is).
  static HostBuffer borrow(std::shared_ptr<void> owner, void* data, size_t bytes);
  HostBuffer(const HostBuffer& other);
  HostBuffer& operator=(const HostBuffer& other);
  HostBuffer(HostBuffer&& other) noexcept;
  HostBuffer& operator=(HostBuffer&& other) noexcept;
  void* data() { return data_; }
  const void* data() const { return data_; }
  size_t size() const { return bytes_; }
  // Whether the memory belongs to another object (borrow) rather than to this buffer.
  bool borrowed() const { return borrowed_; }

 private:
  std::shared_ptr<void> owner_;  // frees the memory (std::free of our own allocation, or the owner's deleter)
  void* data_ = nullptr;
  size_t bytes_ = 0;
  bool borrowed_ = false;
};

// Address ranges of mapped files (a safetensors file frost computes on in place): their clean pages can be
// dropped and read again from the file, so a kernel that has made its own copy of such data (a packed
// weight) may hand the originals back to the kernel. Registered by the mapping's owner for its lifetime.
// Thread-safe.
void register_file_mapping(const void* begin, size_t bytes);
void unregister_file_mapping(const void* begin);
// Whether [p, p + bytes) lies inside one registered file mapping.
bool in_file_mapping(const void* p, size_t bytes);

// A non-owning, contiguous view of tensor data (on the host unless a backend says otherwise).
struct TensorView {
  void* data = nullptr;
  DType dtype = DType::F32;
  Shape shape;
  size_t bytes() const { return size_t(shape.numel()) * size_of(dtype); }
  template <class T>
  T* as() const {
    return static_cast<T*>(data);
  }
};

class HostTensor {
 public:
  HostTensor() = default;
  HostTensor(DType dtype, Shape shape);
  // Copies `values` (converted to `dtype`).
  static HostTensor from_f32(const std::vector<float>& values, Shape shape, DType dtype = DType::F32);
  // A tensor over memory `owner` keeps valid (HostBuffer::borrow): no copy. `data` must be aligned to the
  // element size (InvalidArgument otherwise). Copies of the tensor are deep.
  static HostTensor borrow(DType dtype, Shape shape, std::shared_ptr<void> owner, void* data);

  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t numel() const { return shape_.numel(); }
  size_t bytes() const { return buffer_.size(); }
  void* raw() { return buffer_.data(); }
  const void* raw() const { return buffer_.data(); }
  template <class T>
  T* data() {
    return static_cast<T*>(buffer_.data());
  }
  template <class T>
  const T* data() const {
    return static_cast<const T*>(buffer_.data());
  }
  TensorView view() { return {buffer_.data(), dtype_, shape_}; }
  TensorView view() const { return {const_cast<void*>(buffer_.data()), dtype_, shape_}; }
  // Element i converted to double (any dtype); for tests and printing.
  double at(int64_t i) const;
  HostTensor to(DType dtype) const;
  bool borrowed() const { return buffer_.borrowed(); }

 private:
  DType dtype_ = DType::F32;
  Shape shape_;
  HostBuffer buffer_;
};

}  // namespace frost
