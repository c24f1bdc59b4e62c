// The README's "Using the engine" example, verbatim but for the data, so the first code a user copies
// keeps compiling and working.
#include <gtest/gtest.h>

#include "engine/autodiff.h"
#include "engine/compiled_graph.h"
#include "model/nn.h"
#include "ops/api.h"

namespace {

TEST(Readme, UsingTheEngineExampleRunsAndLearns) {
  using namespace frost;
  HostTensor x_data(DType::F32, {8, 16});
  fill_uniform(x_data, Philox(3), -1.0, 1.0);

  Graph g;
  Tensor x = g.input("x", DType::F32, {8, 16});                         // bound by name each run
  Tensor w = nn::parameter(g, "w", {16, 4}, Philox(/*seed=*/1), 0.25);  // persistent state
  Tensor loss = mean(relu(matmul(x, w)));
  g.output("loss", loss);
  std::vector<Tensor> grads = gradients(loss, std::vector<Tensor>{w});  // backward nodes, same graph
  nn::sgd(std::vector<Tensor>{w}, grads, 0.1);                          // w <- w - 0.1 g, in the graph
  auto step = compile(g, {.backend = "cpu"});
  step->set_input("x", x_data);
  step->run();  // forward + backward + update; no allocation
  float l = step->output("loss").as<float>()[0];

  step->run();
  EXPECT_LT(step->output("loss").as<float>()[0], l);  // minimising mean(relu(.)) lowers it
}

}  // namespace
