// Index loops shared by the reference kernels: walking a shape in row-major order while tracking the
// element offset of one or two strided operands (stride 0 on broadcast dimensions). No allocation.
#pragma once

#include <array>
#include <cstdint>

#include "engine/shape.h"

namespace frost::ops::reference {

using Strides = std::array<int64_t, kMaxRank>;

// Calls f(i, offset) for every element i of a tensor of `shape`, in row-major order, where `offset`
// is the sum over dimensions of index * strides[dim].
template <class F>
void for_each_offset(const Shape& shape, const Strides& strides, F&& f) {
  const int64_t n = shape.numel();
  if (n == 0) return;
  const int rank = shape.rank();
  std::array<int64_t, kMaxRank> index{};
  int64_t offset = 0;
  for (int64_t i = 0; i < n; ++i) {
    f(i, offset);
    for (int d = rank - 1; d >= 0; --d) {
      if (++index[size_t(d)] < shape[d]) {
        offset += strides[size_t(d)];
        break;
      }
      offset -= strides[size_t(d)] * (shape[d] - 1);
      index[size_t(d)] = 0;
    }
  }
}

// The same with two operands: f(i, offset_a, offset_b).
template <class F>
void for_each_offset2(const Shape& shape, const Strides& sa, const Strides& sb, F&& f) {
  const int64_t n = shape.numel();
  if (n == 0) return;
  const int rank = shape.rank();
  std::array<int64_t, kMaxRank> index{};
  int64_t oa = 0, ob = 0;
  for (int64_t i = 0; i < n; ++i) {
    f(i, oa, ob);
    for (int d = rank - 1; d >= 0; --d) {
      if (++index[size_t(d)] < shape[d]) {
        oa += sa[size_t(d)];
        ob += sb[size_t(d)];
        break;
      }
      oa -= sa[size_t(d)] * (shape[d] - 1);
      ob -= sb[size_t(d)] * (shape[d] - 1);
      index[size_t(d)] = 0;
    }
  }
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

}  // namespace frost::ops::reference
