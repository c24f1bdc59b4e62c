#include "engine/shape.h"

#include <algorithm>
#include <ostream>

#include "engine/error.h"

namespace frost {

Shape::Shape(std::initializer_list<int64_t> dims)
    : Shape(std::span<const int64_t>(dims.begin(), dims.size())) {}

Shape::Shape(std::span<const int64_t> dims) {
  FROST_CHECK(dims.size() <= size_t(kMaxRank), InvalidArgument,
              "shape has rank " << dims.size() << "; frost supports at most " << kMaxRank << " dimensions");
  for (int64_t d : dims) {
    FROST_CHECK(d >= 0, InvalidArgument, "negative dimension " << d << " in a shape");
    dims_[rank_++] = d;
  }
  check_numel();
}

// Every byte count derived from a shape (numel × element size, arena sums) must stay far inside 64 bits,
// so a shape's element count is bounded where it is made, in checked arithmetic.
void Shape::check_numel() const {
  int64_t n = 1;
  bool zero = false;
  for (int i = 0; i < rank_; ++i) zero = zero || dims_[i] == 0;
  if (zero) return;
  for (int i = 0; i < rank_; ++i)
    FROST_CHECK(!__builtin_mul_overflow(n, dims_[i], &n) && n <= kMaxNumel, InvalidArgument,
                "shape " << *this << " has more than 2^48 elements (frost's limit for one tensor)");
}

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int i = 0; i < rank_; ++i) n *= dims_[i];
  return n;
}

int Shape::normalize_axis(int axis) const {
  int a = axis < 0 ? axis + rank_ : axis;
  FROST_CHECK(a >= 0 && a < rank_, InvalidArgument,
              "axis " << axis << " is out of range for shape " << *this);
  return a;
}

void Shape::push_back(int64_t d) {
  FROST_CHECK(rank_ < kMaxRank, InvalidArgument, "shape " << *this << " cannot grow past rank " << kMaxRank);
  FROST_CHECK(d >= 0, InvalidArgument, "negative dimension " << d << " in a shape");
  dims_[rank_++] = d;
  check_numel();
}

bool Shape::operator==(const Shape& o) const {
  if (rank_ != o.rank_) return false;
  for (int i = 0; i < rank_; ++i)
    if (dims_[i] != o.dims_[i]) return false;
  return true;
}

std::string to_string(const Shape& s) {
  std::string out = "[";
  for (int i = 0; i < s.rank(); ++i) {
    if (i) out += ", ";
    out += std::to_string(s[i]);
  }
  return out + "]";
}

std::ostream& operator<<(std::ostream& os, const Shape& s) {
  return os << to_string(s);
}

std::array<int64_t, kMaxRank> contiguous_strides(const Shape& s) {
  std::array<int64_t, kMaxRank> strides{};
  int64_t stride = 1;
  for (int i = s.rank() - 1; i >= 0; --i) {
    strides[i] = stride;
    stride *= s[i];
  }
  return strides;
}

Shape broadcast_shapes(const Shape& a, const Shape& b) {
  int rank = std::max(a.rank(), b.rank());
  Shape out;
  for (int i = 0; i < rank; ++i) {
    int ia = i - (rank - a.rank()), ib = i - (rank - b.rank());
    int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    FROST_CHECK(da == db || da == 1 || db == 1, InvalidArgument,
                "shapes " << a << " and " << b << " do not broadcast (dimension " << i << ": " << da << " vs "
                          << db << ")");
    out.push_back(da == 1 ? db : da);
  }
  return out;
}

std::array<int64_t, kMaxRank> broadcast_strides(const Shape& in, const Shape& out) {
  FROST_CHECK(in.rank() <= out.rank(), Internal,
              "broadcast_strides: " << in << " has more dims than " << out);
  auto in_strides = contiguous_strides(in);
  std::array<int64_t, kMaxRank> strides{};
  int offset = out.rank() - in.rank();
  for (int i = 0; i < out.rank(); ++i) {
    int j = i - offset;
    if (j < 0 || in[j] == 1) {
      strides[i] = 0;
    } else {
      FROST_CHECK(in[j] == out[i], Internal, "broadcast_strides: " << in << " does not broadcast to " << out);
      strides[i] = in_strides[j];
    }
  }
  return strides;
}

}  // namespace frost
