// Shape: up to kMaxRank dimensions stored inline, so kernels and steps can carry shapes without allocating.
// PyTorch dimension order and broadcasting rules throughout (DESIGN principle 8).
//
//   Shape s{2, 3, 4};   s.rank() == 3;   s.numel() == 24;   s[-1] == 4;   to_string(s) == "[2, 3, 4]"
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <span>
#include <string>
#include <vector>

namespace frost {

inline constexpr int kMaxRank = 8;
// The most elements one tensor may have (2^48): byte counts and arena sums then never overflow 64 bits.
inline constexpr int64_t kMaxNumel = int64_t(1) << 48;

class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<int64_t> dims);
  explicit Shape(std::span<const int64_t> dims);
  static Shape from_vector(const std::vector<int64_t>& dims) { return Shape(std::span<const int64_t>(dims)); }

  int rank() const { return rank_; }
  int64_t numel() const;
  // Negative indices count from the end, as in Python. Checked: throws naming the shape.
  int64_t operator[](int i) const { return dims_[normalize_axis(i)]; }
  int64_t& operator[](int i) { return dims_[normalize_axis(i)]; }
  int normalize_axis(int axis) const;  // throws InvalidArgument if out of range
  const int64_t* begin() const { return dims_.data(); }
  const int64_t* end() const { return dims_.data() + rank_; }
  std::vector<int64_t> to_vector() const { return {begin(), end()}; }
  void push_back(int64_t d);
  // Throws InvalidArgument when numel() exceeds kMaxNumel (constructors and push_back check; code that
  // writes a dimension through operator[] calls it, as Graph does for every inferred type).
  void check_numel() const;

  bool operator==(const Shape& o) const;
  bool operator!=(const Shape& o) const { return !(*this == o); }

 private:
  std::array<int64_t, kMaxRank> dims_{};
  int rank_ = 0;
};

std::string to_string(const Shape& s);
std::ostream& operator<<(std::ostream& os, const Shape& s);

// Row-major element strides of a contiguous tensor of this shape.
std::array<int64_t, kMaxRank> contiguous_strides(const Shape& s);

// numpy/PyTorch broadcasting; throws InvalidArgument naming both shapes when they do not broadcast.
Shape broadcast_shapes(const Shape& a, const Shape& b);

// Element strides to read `in` as if it had shape `out` (0 on broadcast dimensions), aligned right.
// `in` must broadcast to `out`.
std::array<int64_t, kMaxRank> broadcast_strides(const Shape& in, const Shape& out);

}  // namespace frost
