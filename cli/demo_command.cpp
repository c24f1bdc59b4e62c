// frost demo: until the dual encoder and its training demo exist, a small end-to-end demonstration of the
// engine: build a graph with self-attention and an MLP, differentiate it, append SGD updates, compile it,
// print the plan, and train for a few steps on a fixed random batch (the loss must fall).
//
// Legend: B batch, L tokens, C channels, H heads, F hidden features, K classes.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "engine/autodiff.h"
#include "engine/backend.h"
#include "engine/compiled_graph.h"
#include "engine/error.h"
#include "model/nn.h"
#include "ops/api.h"

namespace frost::cli {
namespace {

struct DemoOptions {
  int steps = 20;
  double lr = 0.5;
  uint64_t seed = 1;
  std::string backend = "cpu";
  bool show_plan = true;
  CLI::App* cmd = nullptr;  // to ask which options were given
};

void run_demo(const DemoOptions& opt) {
  const int64_t B = 8, L = 6, C = 16, H = 2, F = 32, K = 4;
  Graph g;
  std::vector<Tensor> params;
  auto param = [&](const std::string& name, Shape shape) {
    // Each parameter has its own Philox stream; bound 1/sqrt(fan_in) as PyTorch's Linear default.
    double bound = 1.0 / std::sqrt(double(shape[0]));
    params.push_back(nn::parameter(g, name, shape, Philox(opt.seed, params.size() + 1), bound));
    return params.back();
  };

  Tensor x = g.input("x", DType::F32, {B, L, C});         // (B, L, C)
  Tensor target = g.input("target", DType::F32, {B, K});  // (B, K) one-hot
  Tensor h;                                               // (B, L, C)
  {
    auto s = g.scope("attn");
    nn::SelfAttentionWeights w{
        param("attn.q.weight", {C, C}),    param("attn.q.bias", {C}),      param("attn.k.weight", {C, C}),
        param("attn.k.bias", {C}),         param("attn.v.weight", {C, C}), param("attn.v.bias", {C}),
        param("attn.proj.weight", {C, C}), param("attn.proj.bias", {C}),   int(H)};
    h = x + nn::self_attention(w, x);
  }
  Tensor logits;  // (B, K)
  {
    auto s = g.scope("mlp");
    Tensor pooled = mean(h, {1});  // (B, C)
    Tensor hidden = relu(nn::linear(pooled, param("mlp.fc1.weight", {C, F}), param("mlp.fc1.bias", {F})));
    logits = nn::linear(hidden, param("mlp.fc2.weight", {F, K}), param("mlp.fc2.bias", {K}));
  }
  Tensor loss = nn::cross_entropy_one_hot(logits, target);  // ()
  g.output("loss", loss);
  const size_t forward_nodes = g.num_nodes();
  std::vector<Tensor> grads = gradients(loss, params);
  const size_t backward_nodes = g.num_nodes() - forward_nodes;
  {
    auto s = g.scope("sgd");
    nn::sgd(params, grads, opt.lr);
  }
  std::printf("graph: %zu forward nodes, %zu backward nodes, %zu update nodes, %zu parameters\n",
              forward_nodes, backward_nodes, g.num_nodes() - forward_nodes - backward_nodes, params.size());

  CompileOptions options;
  options.backend = opt.backend;
  auto compiled = compile(g, options);
  if (opt.show_plan) std::cout << compiled->report();

  // A fixed batch: random tokens, label = b mod K. The model has to memorise it.
  HostTensor x_data(DType::F32, {B, L, C});
  fill_normal(x_data, Philox(opt.seed, 1000), 0.0, 1.0);
  HostTensor t_data(DType::F32, {B, K});
  for (int64_t b = 0; b < B; ++b) t_data.data<float>()[b * K + b % K] = 1.0f;
  compiled->set_input("x", x_data);
  compiled->set_input("target", t_data);

  float first = 0, last = 0;
  auto start = std::chrono::steady_clock::now();
  for (int step = 0; step < opt.steps; ++step) {
    compiled->run();  // forward, backward and the SGD update: one static graph
    last = compiled->output_copy("loss").data<float>()[0];
    if (step == 0) first = last;
    if (step % 5 == 0 || step == opt.steps - 1) std::printf("step %3d  loss %.5f\n", step, last);
  }
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::printf("loss %s from %.5f to %.5f over %d steps (%.3f ms per step on backend '%s')\n",
              last < first ? "fell" : "did not fall", first, last, opt.steps, ms / opt.steps,
              opt.backend.c_str());
  // With the default settings the loss always falls (tests/CMakeLists.txt runs it): if it does not, frost is
  // broken. With a learning rate of the user's, it is the rate.
  if (!(last < first)) {
    if (opt.cmd->count("--lr") > 0)
      FROST_FAIL(InvalidArgument, "the loss did not fall (from " << first << " to " << last << ") with --lr "
                                                                 << opt.lr << " — try a smaller --lr");
    FROST_FAIL(Internal, "the loss did not fall (from " << first << " to " << last << ")");
  }
}

}  // namespace

void add_demo_command(CLI::App& app) {
  auto opt = std::make_shared<DemoOptions>();
  CLI::App* cmd = app.add_subcommand(
      "demo", "Build, differentiate, compile and train a small attention + MLP graph; print its plan");
  opt->cmd = cmd;
  cmd->add_option("--steps", opt->steps, "training steps (at least 2: the loss must be seen to fall)")
      ->check(CLI::Range(2, 100000));
  cmd->add_option("--lr", opt->lr, "SGD learning rate, in (0, 1e6]")
      ->check(CLI::Validator(
          [](std::string& v) -> std::string {
            char* end = nullptr;
            const double x = std::strtod(v.c_str(), &end);
            return *end == '\0' && std::isfinite(x) && x > 0 && x <= 1e6
                       ? ""
                       : "must be a number in (0, 1e6], got " + v;
          },
          "(0, 1e6]"));
  add_u64_option(cmd, "--seed", opt->seed, "seed of the parameter and data streams");
  cmd->add_option("--backend", opt->backend, "backend: reference, cpu, or cuda where a GPU is present")
      ->check(CLI::IsMember(available_backends()));
  cmd->add_flag("!--no-plan", opt->show_plan, "do not print the compiled plan");
  set_command(cmd, [opt] { run_demo(*opt); });
}

}  // namespace frost::cli
