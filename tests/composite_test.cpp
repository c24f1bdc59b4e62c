// Autodiff on composite graphs (DESIGN tests, 2-3): a 2-layer MLP and an attention block. Gradients match
// central differences in f64, every parameter gets a non-zero gradient, a few SGD steps (inside the graph)
// lower the loss, and the same graph run twice gives bit-identical results.
//
// Legend: B batch, L tokens, C channels, H heads, F hidden features, K classes.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/autodiff.h"
#include "engine/compiled_graph.h"
#include "gradcheck.h"
#include "model/nn.h"
#include "ops/api.h"
#include "test_util.h"

namespace frost::test {
namespace {

constexpr int64_t B = 3, L = 4, C = 6, H = 2, F = 5, K = 3;

struct Model {
  std::vector<Tensor> params;
  Tensor loss;
};

// x (B, L, C) -> x + self_attention(x) -> mean over L -> fc1 -> relu -> fc2 -> cross-entropy (K classes).
Model build_attention_mlp(Graph& g, DType dt, bool with_attention) {
  Model m;
  auto param = [&](const std::string& name, Shape shape) {
    m.params.push_back(nn::parameter(g, name, shape, Philox(5, m.params.size() + 1), 0.7, dt));
    return m.params.back();
  };
  Tensor x = g.input("x", dt, {B, L, C});         // (B, L, C)
  Tensor target = g.input("target", dt, {B, K});  // (B, K)
  Tensor h = x;
  if (with_attention) {
    nn::SelfAttentionWeights w{param("q.w", {C, C}), param("q.b", {C}),    param("k.w", {C, C}),
                               param("k.b", {C}),    param("v.w", {C, C}), param("v.b", {C}),
                               param("o.w", {C, C}), param("o.b", {C}),    int(H)};
    h = x + nn::self_attention(w, x);  // (B, L, C)
  }
  Tensor pooled = mean(h, {1});                                                           // (B, C)
  Tensor hidden = relu(nn::linear(pooled, param("fc1.w", {C, F}), param("fc1.b", {F})));  // (B, F)
  Tensor logits = nn::linear(hidden, param("fc2.w", {F, K}), param("fc2.b", {K}));        // (B, K)
  m.loss = nn::cross_entropy_one_hot(logits, target);
  return m;
}

std::map<std::string, HostTensor> batch(DType dt) {
  HostTensor target(DType::F32, {B, K});
  for (int64_t b = 0; b < B; ++b) target.data<float>()[b * K + (b + 1) % K] = 1.0f;
  return {{"x", uniform(dt, {B, L, C}, 99, -1.5, 1.5)}, {"target", target.to(dt)}};
}

void check_gradients(bool with_attention) {
  auto grads = expect_gradients_match([&](Graph& g) {
    Model m = build_attention_mlp(g, DType::F64, with_attention);
    return GradProblem{m.loss, m.params, batch(DType::F64)};
  });
  // Gradient coverage (DESIGN tests, 3): no parameter is left with an all-zero gradient.
  for (const HostTensor& gr : grads) {
    double norm = 0;
    for (int64_t i = 0; i < gr.numel(); ++i) norm += std::fabs(gr.at(i));
    EXPECT_GT(norm, 0.0);
  }
}

TEST(Composite, MlpGradientsMatchFiniteDifferences) {
  check_gradients(false);
}
TEST(Composite, AttentionBlockGradientsMatchFiniteDifferences) {
  check_gradients(true);
}

std::unique_ptr<CompiledGraph> training_graph(const std::string& backend, double lr) {
  Graph g;
  Model m = build_attention_mlp(g, DType::F32, true);
  g.output("loss", m.loss);
  std::vector<Tensor> grads = gradients(m.loss, m.params);
  nn::sgd(m.params, grads, lr);
  CompileOptions options;
  options.backend = backend;
  auto cg = compile(g, options);
  for (const auto& [name, data] : batch(DType::F32)) cg->set_input(name, data);
  return cg;
}

TEST(Composite, SgdStepsInsideTheGraphLowerTheLoss) {
  for (const std::string& backend : available_backends()) {
    auto cg = training_graph(backend, 0.3);
    std::vector<float> losses;
    for (int step = 0; step < 15; ++step) {
      cg->run();
      losses.push_back(cg->output_copy("loss").data<float>()[0]);
    }
    EXPECT_LT(losses.back(), 0.5f * losses.front())
        << backend << ": " << losses.front() << " -> " << losses.back();
    EXPECT_LT(losses[1], losses[0]) << backend;
  }
}

TEST(Composite, DeterministicRunToRunAndCompileToCompile) {
  auto a = training_graph("cpu", 0.3), b = training_graph("cpu", 0.3);
  for (int step = 0; step < 5; ++step) {
    a->run();
    b->run();
    ASSERT_TRUE(bit_identical(a->output_copy("loss"), b->output_copy("loss"))) << "step " << step;
  }
  EXPECT_TRUE(bit_identical(a->state_copy("q.w"), b->state_copy("q.w")));
  EXPECT_TRUE(bit_identical(a->state_copy("fc2.b"), b->state_copy("fc2.b")));

  // An inference graph run twice on the same compiled graph: bit-identical.
  Graph g;
  Model m = build_attention_mlp(g, DType::F32, true);
  g.output("loss", m.loss);
  auto cg = compile(g, {});
  for (const auto& [name, data] : batch(DType::F32)) cg->set_input(name, data);
  cg->run();
  HostTensor first = cg->output_copy("loss");
  cg->run();
  EXPECT_TRUE(bit_identical(cg->output_copy("loss"), first));
}

}  // namespace
}  // namespace frost::test
