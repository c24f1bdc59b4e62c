// Gradient checking by central differences in f64 (DESIGN tests, 2): the analytic gradients that autodiff
// appends are compared with (L(p + eps) - L(p - eps)) / 2 eps for every element of every parameter.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "engine/graph.h"
#include "engine/storage.h"

namespace frost::test {

struct GradProblem {
  Tensor loss;                 // one f64 element
  std::vector<Tensor> params;  // f64 state values
  std::map<std::string, HostTensor> inputs;
};

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-8;  // f64 central differences reach ~1e-10; raised where the loss is large (gradcheck.cpp)
  double rtol = 1e-6;
};

// Builds the problem (in a fresh graph), differentiates it and checks every gradient element; returns the
// analytic gradients, one per parameter, for further assertions.
std::vector<HostTensor> expect_gradients_match(const std::function<GradProblem(Graph&)>& build,
                                               const GradcheckOptions& options = {});

}  // namespace frost::test
