#include "gradcheck.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/autodiff.h"
#include "engine/compiled_graph.h"
#include "test_util.h"

namespace frost::test {

std::vector<HostTensor> expect_gradients_match(const std::function<GradProblem(Graph&)>& build,
                                               const GradcheckOptions& options) {
  Graph g;
  GradProblem p = build(g);
  g.output("loss", p.loss);
  Graph forward = g;  // before the backward nodes: for the finite differences
  std::vector<Tensor> grads = gradients(p.loss, p.params);
  for (size_t i = 0; i < grads.size(); ++i) {
    const std::string& name = g.value(p.params[i].id).name;
    EXPECT_TRUE(grads[i].valid()) << "parameter '" << name << "' got no gradient";
    if (grads[i].valid()) g.output("grad:" + name, grads[i]);
  }
  CompileOptions options_ref;
  options_ref.backend = "reference";
  options_ref.plan.guard_bytes = 32;
  auto full = compile(g, options_ref);
  auto fwd = compile(forward, options_ref);
  for (const auto& [name, data] : p.inputs) {
    full->set_input(name, data);
    fwd->set_input(name, data);
  }
  full->run();
  full->check_guards();

  std::vector<HostTensor> analytic;
  for (size_t i = 0; i < p.params.size(); ++i) {
    const std::string& name = g.value(p.params[i].id).name;
    if (!grads[i].valid()) {
      analytic.emplace_back();
      continue;
    }
    HostTensor a = full->output_copy("grad:" + name);
    HostTensor numeric(DType::F64, a.shape());
    TensorView state = fwd->state(name);
    double* x = state.as<double>();
    for (int64_t j = 0; j < a.numel(); ++j) {
      const double saved = x[j];
      x[j] = saved + options.eps;
      fwd->run();
      const double up = fwd->output("loss").as<double>()[0];
      x[j] = saved - options.eps;
      fwd->run();
      const double down = fwd->output("loss").as<double>()[0];
      x[j] = saved;
      numeric.data<double>()[j] = (up - down) / (2 * options.eps);
    }
    // The difference quotient's own rounding error is about |loss| * 2^-52 / eps: a loss of 1e4 (a
    // masked fill's -1e4) cannot be checked to 1e-8. The tolerance is the larger of the two.
    fwd->run();
    const double loss = std::abs(fwd->output("loss").as<double>()[0]);
    const double atol =
        std::max(options.atol, 8 * loss * std::numeric_limits<double>::epsilon() / options.eps);
    EXPECT_TRUE(close(a, numeric, atol, options.rtol))
        << "gradient of '" << name << "' (atol " << atol << ")";
    analytic.push_back(std::move(a));
  }
  return analytic;
}

}  // namespace frost::test
