// Gradient checks (DESIGN tests, 2): every differentiable row of the op table, by central differences in
// f64. Each input becomes a parameter; the loss is sum_i sum(out_i * R_i) with fixed random R_i, so every
// output element's gradient is exercised with a different weight.
#include <gtest/gtest.h>

#include "engine/op_registry.h"
#include "gradcheck.h"
#include "op_cases.h"
#include "ops/api.h"
#include "test_util.h"

namespace frost::test {
namespace {

class Gradcheck : public ::testing::TestWithParam<std::string> {};

TEST_P(Gradcheck, MatchesCentralDifferences) {
  const OpCase* found = nullptr;
  for (const OpCase& c : op_cases())
    if (c.name == GetParam()) found = &c;
  ASSERT_NE(found, nullptr);
  const OpCase& c = *found;
  expect_gradients_match([&](Graph& g) {
    GradProblem p;
    std::vector<Tensor> in;
    CaseGraph data = build_case(c, DType::F64);  // the same values as the consistency test
    for (size_t i = 0; i < c.inputs.size(); ++i) {
      std::string name = "in" + std::to_string(i);
      if (c.inputs[i].fixed) {  // indices, masks, offsets: data, not parameters
        in.push_back(g.input(name, *c.inputs[i].fixed, c.inputs[i].shape));
        p.inputs.emplace(name, data.inputs.at(name));
        continue;
      }
      auto init = std::make_shared<HostTensor>(data.inputs.at(name).to(DType::F64));
      in.push_back(g.state(name, DType::F64, c.inputs[i].shape, init));
      p.params.push_back(in.back());
    }
    std::vector<Tensor> outs = c.build(g, DType::F64, in);
    Tensor loss;
    for (size_t i = 0; i < outs.size(); ++i) {
      std::string name = "weight" + std::to_string(i);
      Tensor r = g.input(name, DType::F64, outs[i].shape());
      p.inputs.emplace(name, uniform(DType::F64, outs[i].shape(), 77 + i, -1.0, 1.0));
      Tensor term = sum(outs[i] * r);
      loss = loss.valid() ? loss + term : term;
    }
    p.loss = loss;
    return p;
  });
}

std::vector<std::string> gradcheck_names() {
  ops::register_all();
  std::vector<std::string> names;
  for (const OpCase& c : op_cases())
    if (c.gradcheck && op_registry().row(c.kind).grad == Grad::Rule) names.push_back(c.name);
  return names;
}

INSTANTIATE_TEST_SUITE_P(AllOps, Gradcheck, ::testing::ValuesIn(gradcheck_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string n = info.param;
                           for (char& ch : n)
                             if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });

}  // namespace
}  // namespace frost::test
