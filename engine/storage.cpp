#include "engine/storage.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <utility>

#include "engine/error.h"

namespace frost {

HostBuffer::HostBuffer(size_t bytes) : bytes_(bytes) {
  if (bytes == 0) return;
  size_t rounded = (bytes + kBufferAlignment - 1) / kBufferAlignment * kBufferAlignment;
  void* p = std::aligned_alloc(kBufferAlignment, rounded);
  FROST_CHECK(p != nullptr, InvalidArgument, "out of host memory allocating " << bytes << " bytes");
  std::memset(p, 0, rounded);
  owner_.reset(p, [](void* q) { std::free(q); });
  data_ = p;
}

HostBuffer HostBuffer::borrow(std::shared_ptr<void> owner, void* data, size_t bytes) {
  FROST_CHECK(owner != nullptr && (data != nullptr || bytes == 0), InvalidArgument,
              "HostBuffer::borrow: " << bytes << " bytes with no owner or no data");
  HostBuffer b;
  b.owner_ = std::move(owner);
  b.data_ = data;
  b.bytes_ = bytes;
  b.borrowed_ = true;
  return b;
}

HostBuffer::HostBuffer(const HostBuffer& other) : HostBuffer(other.bytes_) {
  if (bytes_) std::memcpy(data_, other.data_, bytes_);
}

HostBuffer::HostBuffer(HostBuffer&& other) noexcept
    : owner_(std::move(other.owner_)),
      data_(std::exchange(other.data_, nullptr)),
      bytes_(std::exchange(other.bytes_, 0)),
      borrowed_(std::exchange(other.borrowed_, false)) {}

HostBuffer& HostBuffer::operator=(HostBuffer&& other) noexcept {
  if (this != &other) {
    owner_ = std::move(other.owner_);
    data_ = std::exchange(other.data_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
    borrowed_ = std::exchange(other.borrowed_, false);
  }
  return *this;
}

HostBuffer& HostBuffer::operator=(const HostBuffer& other) {
  if (this != &other) *this = HostBuffer(other);
  return *this;
}

namespace {
std::mutex g_mappings_mutex;
std::map<uintptr_t, size_t> g_mappings;  // begin → bytes
}  // namespace

void register_file_mapping(const void* begin, size_t bytes) {
  std::lock_guard<std::mutex> lock(g_mappings_mutex);
  g_mappings[reinterpret_cast<uintptr_t>(begin)] = bytes;
}

void unregister_file_mapping(const void* begin) {
  std::lock_guard<std::mutex> lock(g_mappings_mutex);
  g_mappings.erase(reinterpret_cast<uintptr_t>(begin));
}

bool in_file_mapping(const void* p, size_t bytes) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  std::lock_guard<std::mutex> lock(g_mappings_mutex);
  auto it = g_mappings.upper_bound(a);
  if (it == g_mappings.begin()) return false;
  --it;
  return a >= it->first && a + bytes <= it->first + it->second;
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

HostTensor HostTensor::borrow(DType dtype, Shape shape, std::shared_ptr<void> owner, void* data) {
  FROST_CHECK(reinterpret_cast<uintptr_t>(data) % size_of(dtype) == 0, InvalidArgument,
              "HostTensor::borrow: " << dtype << shape << " data at " << data << " is not aligned to its "
                                     << size_of(dtype) << "-byte elements");
  HostTensor t;
  t.dtype_ = dtype;
  t.shape_ = shape;
  t.buffer_ = HostBuffer::borrow(std::move(owner), data, size_t(shape.numel()) * size_of(dtype));
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
