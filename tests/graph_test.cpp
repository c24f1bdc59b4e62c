// Graph building: inference at build time, errors that name the op, node and shapes, verify(), autodiff's
// refusal to differentiate through an op without a backward rule.
#include <gtest/gtest.h>

#include <functional>

#include "engine/autodiff.h"
#include "engine/compiled_graph.h"
#include "engine/error.h"
#include "engine/op_registry.h"
#include "engine/passes/passes.h"
#include "ops/api.h"

namespace frost {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

void expect_contains(const std::string& message, std::initializer_list<const char*> parts) {
  for (const char* p : parts)
    EXPECT_NE(message.find(p), std::string::npos) << "'" << p << "' missing from: " << message;
}

TEST(Graph, InfersShapesAtBuildTime) {
  Graph g;
  Tensor a = g.input("a", DType::F32, {2, 5, 3, 4});
  Tensor b = g.input("b", DType::F32, {5, 4, 6});
  EXPECT_EQ(matmul(a, b).shape(), (Shape{2, 5, 3, 6}));
  EXPECT_EQ(sum(a, {1, -1}).shape(), (Shape{2, 3}));
  EXPECT_EQ(mean(a, {1}, true).shape(), (Shape{2, 1, 3, 4}));
  EXPECT_EQ(permute(a, {3, 2, 1, 0}).shape(), (Shape{4, 3, 5, 2}));
  EXPECT_EQ(reshape(a, {-1, 12}).shape(), (Shape{10, 12}));
  EXPECT_EQ((a * 2.0).dtype(), DType::F32);
}

TEST(Graph, ShapeErrorsNameOpNodeAndShapes) {
  Graph g;
  Tensor a = g.input("a", DType::F32, {2, 3});
  Tensor b = g.input("b", DType::F32, {4, 5});
  std::string m = error_of([&] {
    auto s = g.scope("block0");
    matmul(a, b);
  });
  expect_contains(m, {"matmul", "node 0", "block0", "f32[2, 3]", "f32[4, 5]", "inner dimensions differ"});
  expect_contains(error_of([&] { add(a, b); }), {"add", "node", "[2, 3]", "[4, 5]", "do not broadcast"});
  expect_contains(error_of([&] { reshape(a, {4, 2}); }), {"reshape", "node", "[2, 3]", "[4, 2]"});
  expect_contains(error_of([&] { permute(a, {0, 0}); }), {"permute", "not a permutation"});
  Tensor d = g.input("d", DType::F64, {2, 3});
  expect_contains(error_of([&] { add(a, d); }), {"add", "dtypes differ", "f32", "f64"});
  Tensor h = g.input("h", DType::F16, {2, 3});
  expect_contains(error_of([&] { exp(h); }), {"exp", "f16", "cast first"});
  expect_contains(error_of([&] { sum(a, {2}); }), {"sum", "axis 2", "[2, 3]"});
}

TEST(Graph, SourcesNeedUniqueNames) {
  Graph g;
  g.input("x", DType::F32, {1});
  EXPECT_THROW(g.input("x", DType::F32, {1}), Error);
  EXPECT_THROW(g.state("x", DType::F32, {1}), Error);
  auto init = std::make_shared<HostTensor>(DType::F32, Shape{2});
  EXPECT_THROW(g.state("w", DType::F32, {3}, init), Error);  // init of the wrong shape
}

TEST(Graph, VerifyRejectsReadsOfStateAfterItsUpdate) {
  Graph g;
  Tensor w = g.state("w", DType::F32, {3});
  assign(w, w * 2.0);
  g.output("late", w * 3.0);  // reads w after the assign: ambiguous, so refused
  expect_contains(error_of([&] { verify(g); }), {"verify", "state 'w'", "after node"});
}

TEST(Graph, VerifyRejectsAssignToNonState) {
  Graph g;
  Tensor x = g.input("x", DType::F32, {3});
  assign(x, x * 2.0);
  expect_contains(error_of([&] { verify(g); }), {"assign", "not persistent state"});
}

TEST(Graph, LiveNodesDropDeadCodeButKeepSideEffects) {
  Graph g;
  Tensor x = g.input("x", DType::F32, {3});
  Tensor w = g.state("w", DType::F32, {3});
  exp(x);            // dead
  assign(w, w + x);  // side effect: kept
  g.output("y", relu(x));
  std::vector<bool> live = live_nodes(g);
  ASSERT_EQ(live.size(), 4u);
  EXPECT_FALSE(live[0]);
  EXPECT_TRUE(live[1] && live[2] && live[3]);
}

TEST(Autodiff, MissingBackwardRuleIsAnErrorNamingTheOp) {
  Graph g;
  Tensor w = g.state("w", DType::F32, {3});
  Tensor loss = sum(exp(w));
  OpRow broken = op_registry().row(OpKind::Exp);
  broken.backward = nullptr;
  OpRow saved = op_registry().replace_for_testing(broken);
  std::string m = error_of([&] { gradients(loss, std::vector<Tensor>{w}); });
  op_registry().replace_for_testing(saved);
  expect_contains(m, {"autodiff", "'exp'", "no backward rule", "node 0"});
}

TEST(Autodiff, RejectsNonScalarLossAndUnusedParametersGetNoGradient) {
  Graph g;
  Tensor w = g.state("w", DType::F32, {3});
  Tensor unused = g.state("unused", DType::F32, {3});
  EXPECT_THROW(gradients(exp(w), std::vector<Tensor>{w}), Error);
  std::vector<Tensor> grads = gradients(sum(w * w), std::vector<Tensor>{w, unused});
  EXPECT_TRUE(grads[0].valid());
  EXPECT_FALSE(grads[1].valid());
}

TEST(Autodiff, FanInIsAccumulated) {
  // loss = sum(w * w + w): dL/dw = 2w + 1, reached through three uses of w.
  Graph g;
  auto init = std::make_shared<HostTensor>(HostTensor::from_f32({1, -2, 3}, {3}));
  Tensor w = g.state("w", DType::F32, {3}, init);
  Tensor loss = sum(w * w + w);
  std::vector<Tensor> grads = gradients(loss, std::vector<Tensor>{w});
  g.output("g", grads[0]);
  auto cg = compile(g, {});
  cg->run();
  const float* gv = cg->output("g").as<float>();
  EXPECT_FLOAT_EQ(gv[0], 3);
  EXPECT_FLOAT_EQ(gv[1], -3);
  EXPECT_FLOAT_EQ(gv[2], 7);
}

}  // namespace
}  // namespace frost
