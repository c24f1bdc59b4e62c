#include <gtest/gtest.h>

#include "engine/error.h"
#include "engine/shape.h"

namespace frost {
namespace {

TEST(Shape, Basics) {
  Shape s{2, 3, 4};
  EXPECT_EQ(s.rank(), 3);
  EXPECT_EQ(s.numel(), 24);
  EXPECT_EQ(s[-1], 4);
  EXPECT_EQ(to_string(s), "[2, 3, 4]");
  EXPECT_EQ(Shape{}.numel(), 1);  // a scalar
  EXPECT_EQ((Shape{0, 5}).numel(), 0);
  EXPECT_THROW(s[3], Error);
  EXPECT_THROW((Shape{-1}), Error);
  EXPECT_THROW((Shape{1, 1, 1, 1, 1, 1, 1, 1, 1}), Error);
  auto strides = contiguous_strides(s);
  EXPECT_EQ(strides[0], 12);
  EXPECT_EQ(strides[2], 1);
}

TEST(Shape, Broadcasting) {
  EXPECT_EQ(broadcast_shapes({4, 1}, {1, 5}), (Shape{4, 5}));
  EXPECT_EQ(broadcast_shapes({2, 3, 4}, {4}), (Shape{2, 3, 4}));
  EXPECT_EQ(broadcast_shapes({}, {3, 2}), (Shape{3, 2}));
  try {
    broadcast_shapes({2, 3}, {4});
    FAIL() << "expected a broadcast error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[2, 3] and [4]"), std::string::npos) << e.what();
    EXPECT_EQ(e.category(), ErrorCategory::InvalidArgument);
  }
  auto s = broadcast_strides({3, 1}, {2, 3, 4});
  EXPECT_EQ(s[0], 0);
  EXPECT_EQ(s[1], 1);
  EXPECT_EQ(s[2], 0);
}

}  // namespace
}  // namespace frost
