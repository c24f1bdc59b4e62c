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

// Aligned, zero-filled host memory. Copies are deep.
class HostBuffer {
 public:
  HostBuffer() = default;
  explicit HostBuffer(size_t bytes);
  HostBuffer(const HostBuffer& other);
  HostBuffer& operator=(const HostBuffer& other);
  HostBuffer(HostBuffer&&) noexcept = default;
  HostBuffer& operator=(HostBuffer&&) noexcept = default;
  void* data() { return data_.get(); }
  const void* data() const { return data_.get(); }
  size_t size() const { return bytes_; }

 private:
  struct Free {
    void operator()(void* p) const;
  };
  std::unique_ptr<void, Free> data_;
  size_t bytes_ = 0;
};

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

 private:
  DType dtype_ = DType::F32;
  Shape shape_;
  HostBuffer buffer_;
};

}  // namespace frost
