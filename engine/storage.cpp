#include "engine/storage.h"

#include <cstdlib>
#include <cstring>

#include "engine/error.h"

namespace frost {

void HostBuffer::Free::operator()(void* p) const {
  std::free(p);
}

HostBuffer::HostBuffer(size_t bytes) : bytes_(bytes) {
  if (bytes == 0) return;
  size_t rounded = (bytes + kBufferAlignment - 1) / kBufferAlignment * kBufferAlignment;
  void* p = std::aligned_alloc(kBufferAlignment, rounded);
  FROST_CHECK(p != nullptr, InvalidArgument, "out of host memory allocating " << bytes << " bytes");
  std::memset(p, 0, rounded);
  data_.reset(p);
}

HostBuffer::HostBuffer(const HostBuffer& other) : HostBuffer(other.bytes_) {
  if (bytes_) std::memcpy(data_.get(), other.data_.get(), bytes_);
}

HostBuffer& HostBuffer::operator=(const HostBuffer& other) {
  if (this != &other) *this = HostBuffer(other);
  return *this;
}

HostTensor::HostTensor(DType dtype, Shape shape)
    : dtype_(dtype), shape_(shape), buffer_(size_t(shape.numel()) * size_of(dtype)) {}

HostTensor HostTensor::from_f32(const std::vector<float>& values, Shape shape, DType dtype) {
  FROST_CHECK(int64_t(values.size()) == shape.numel(), InvalidArgument,
              "HostTensor::from_f32: " << values.size() << " values for shape " << shape);
  HostTensor t(dtype, shape);
  convert(values.data(), DType::F32, t.raw(), dtype, values.size());
  return t;
}

double HostTensor::at(int64_t i) const {
  FROST_CHECK(i >= 0 && i < numel(), InvalidArgument,
              "HostTensor::at(" << i << ") out of range for " << shape_);
  double v;
  convert(static_cast<const char*>(raw()) + i * size_of(dtype_), dtype_, &v, DType::F64, 1);
  return v;
}

HostTensor HostTensor::to(DType dtype) const {
  HostTensor out(dtype, shape_);
  convert(raw(), dtype_, out.raw(), dtype, size_t(numel()));
  return out;
}

}  // namespace frost
