// Known values for the reference kernels themselves (they are the oracle of every other test, so they are
// checked against numbers worked out by hand, and against PyTorch's documented conventions).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "ops/api.h"
#include "test_util.h"

namespace frost::test {
namespace {

HostTensor run1(Graph& g, Tensor out, std::map<std::string, HostTensor> inputs) {
  g.output("out", out);
  return run_once(g, "reference", inputs).at("out");
}

void expect_values(const HostTensor& t, const std::vector<double>& want, double tol = 1e-6) {
  ASSERT_EQ(t.numel(), int64_t(want.size()));
  for (size_t i = 0; i < want.size(); ++i) {
    if (std::isnan(want[i]))
      EXPECT_TRUE(std::isnan(t.at(int64_t(i)))) << "element " << i;
    else
      EXPECT_NEAR(t.at(int64_t(i)), want[i], tol) << "element " << i;
  }
}

TEST(ReferenceValues, Matmul) {
  Graph g;
  Tensor a = g.input("a", DType::F32, {2, 3}), b = g.input("b", DType::F32, {3, 2});
  auto out = run1(g, matmul(a, b),
                  {{"a", HostTensor::from_f32({1, 2, 3, 4, 5, 6}, {2, 3})},
                   {"b", HostTensor::from_f32({7, 8, 9, 10, 11, 12}, {3, 2})}});
  expect_values(out, {58, 64, 139, 154});
}

TEST(ReferenceValues, MatmulTransposedOperands) {
  Graph g;
  Tensor a = g.input("a", DType::F32, {3, 2}), b = g.input("b", DType::F32, {2, 3});
  // a^T = [[1,3,5],[2,4,6]], b^T = [[7,10],[8,11],[9,12]]: a^T b^T = [[76,103],[100,136]]
  auto out = run1(g, matmul(a, b, true, true),
                  {{"a", HostTensor::from_f32({1, 2, 3, 4, 5, 6}, {3, 2})},
                   {"b", HostTensor::from_f32({7, 8, 9, 10, 11, 12}, {2, 3})}});
  expect_values(out, {76, 103, 100, 136});
}

TEST(ReferenceValues, SoftmaxAndLogSoftmax) {
  const double e1 = std::exp(1.0), e2 = std::exp(2.0), e3 = std::exp(3.0), s = e1 + e2 + e3;
  {
    Graph g;
    Tensor x = g.input("x", DType::F32, {1, 3});
    expect_values(run1(g, softmax(x), {{"x", HostTensor::from_f32({1, 2, 3}, {1, 3})}}),
                  {e1 / s, e2 / s, e3 / s});
  }
  {
    Graph g;
    Tensor x = g.input("x", DType::F32, {1, 3});
    // Shift invariance: a large offset must not overflow.
    expect_values(run1(g, log_softmax(x), {{"x", HostTensor::from_f32({1001, 1002, 1003}, {1, 3})}}),
                  {1 - std::log(s), 2 - std::log(s), 3 - std::log(s)}, 1e-4);
  }
}

TEST(ReferenceValues, ReductionsAndBroadcast) {
  Graph g;
  Tensor x = g.input("x", DType::F32, {2, 3});
  Tensor y = g.input("y", DType::F32, {3});
  g.output("sum0", sum(x, {0}));
  g.output("mean1", mean(x, {1}, true));
  g.output("bcast", x - y);
  g.output("perm", transpose(x, 0, 1));
  auto out = run_once(
      g, "reference",
      {{"x", HostTensor::from_f32({1, 2, 3, 4, 5, 6}, {2, 3})}, {"y", HostTensor::from_f32({1, 1, 2}, {3})}});
  expect_values(out.at("sum0"), {5, 7, 9});
  EXPECT_EQ(out.at("mean1").shape(), (Shape{2, 1}));
  expect_values(out.at("mean1"), {2, 5});
  expect_values(out.at("bcast"), {0, 1, 1, 3, 4, 4});
  expect_values(out.at("perm"), {1, 4, 2, 5, 3, 6});
}

TEST(ReferenceValues, NanPropagatesLikePyTorch) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Graph g;
  Tensor x = g.input("x", DType::F32, {1, 4});
  g.output("relu", relu(x));
  g.output("softmax", softmax(x));
  g.output("sum", sum(x));
  auto out = run_once(g, "reference", {{"x", HostTensor::from_f32({-1, nan, 2, 0}, {1, 4})}});
  expect_values(out.at("relu"), {0, std::nan(""), 2, 0});  // relu(NaN) = NaN
  expect_values(out.at("softmax"), {std::nan(""), std::nan(""), std::nan(""), std::nan("")});
  expect_values(out.at("sum"), {std::nan("")});
}

TEST(ReferenceValues, ExpandAndFill) {
  Graph g;
  Tensor x = g.input("x", DType::F32, {2, 1});
  g.output("expand", expand(x, {2, 3}));
  g.output("fill", fill(g, {2, 2}, DType::I32, 7.9));  // integer fill truncates as a C++ cast
  auto out = run_once(g, "reference", {{"x", HostTensor::from_f32({1, 2}, {2, 1})}});
  expect_values(out.at("expand"), {1, 1, 1, 2, 2, 2});
  expect_values(out.at("fill"), {7, 7, 7, 7});
}

}  // namespace
}  // namespace frost::test
