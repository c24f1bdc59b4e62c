// Index loops shared by the reference kernels: walking a shape in row-major order while tracking the
// element offsets of N strided operands (stride 0 on broadcast dimensions). No allocation.
#pragma once

#include <array>
#include <cstdint>

#include "engine/dtype.h"
#include "engine/shape.h"

namespace frost::ops::reference {

using Strides = std::array<int64_t, kMaxRank>;

// Calls f(i, offsets) for every element i of a tensor of `shape`, in row-major order, where offsets[k] is
// the sum over dimensions of index * strides[k][dim].
template <size_t N, class F>
void for_each_offsets(const Shape& shape, const std::array<Strides, N>& strides, F&& f) {
  const int64_t n = shape.numel();
  if (n == 0) return;
  const int rank = shape.rank();
  std::array<int64_t, kMaxRank> index{};
  std::array<int64_t, N> offset{};
  for (int64_t i = 0; i < n; ++i) {
    f(i, offset);
    for (int d = rank - 1; d >= 0; --d) {
      if (++index[size_t(d)] < shape[d]) {
        for (size_t k = 0; k < N; ++k) offset[k] += strides[k][size_t(d)];
        break;
      }
      for (size_t k = 0; k < N; ++k) offset[k] -= strides[k][size_t(d)] * (shape[d] - 1);
      index[size_t(d)] = 0;
    }
  }
}

// One operand: f(i, offset).
template <class F>
void for_each_offset(const Shape& shape, const Strides& strides, F&& f) {
  for_each_offsets<1>(shape, {strides}, [&](int64_t i, const std::array<int64_t, 1>& o) { f(i, o[0]); });
}

// Two operands: f(i, offset_a, offset_b).
template <class F>
void for_each_offset2(const Shape& shape, const Strides& sa, const Strides& sb, F&& f) {
  for_each_offsets<2>(shape, {sa, sb}, [&](int64_t i, const std::array<int64_t, 2>& o) { f(i, o[0], o[1]); });
}

// The unsigned integer type of an element size: layout kernels move elements without interpreting them.
template <int Bytes>
struct Bits;
template <>
struct Bits<1> {
  using type = uint8_t;
};
template <>
struct Bits<2> {
  using type = uint16_t;
};
template <>
struct Bits<4> {
  using type = uint32_t;
};
template <>
struct Bits<8> {
  using type = uint64_t;
};

// Calls reg(dtype, fn) for every dtype with the instantiation of Kernel<Bytes> of its element size.
template <template <int> class Kernel, class Reg>
void for_each_dtype_by_size(Reg&& reg) {
  for (int i = 0; i < kNumDTypes; ++i) {
    const DType dt = DType(i);
    switch (size_of(dt)) {
      case 1: reg(dt, &Kernel<1>::run); break;
      case 2: reg(dt, &Kernel<2>::run); break;
      case 4: reg(dt, &Kernel<4>::run); break;
      case 8: reg(dt, &Kernel<8>::run); break;
    }
  }
}

}  // namespace frost::ops::reference
