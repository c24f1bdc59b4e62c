// Op consistency (DESIGN tests, 1): every row of tests/op_cases.cpp, on every backend in the build, against
// (a) the f64 reference oracle and (b) the f32 reference kernel, with guard bytes around every buffer and
// NaN/Inf parity. Runs the whole table; a failure names the case and backend.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <set>

#include "engine/backend.h"
#include "op_cases.h"
#include "ops/api.h"
#include "test_util.h"

namespace frost::test {
namespace {

class OpConsistency : public ::testing::TestWithParam<std::string> {};

std::map<std::string, HostTensor> run_case(const OpCase& c, CaseGraph& cg, CompileOptions options) {
  options.plan.guard_bytes = 64;
  options.plan.poison = true;  // outputs start as NaN: an element a kernel forgets to write shows
  auto compiled = compile(cg.graph, options);
  for (const auto& [name, data] : cg.inputs) compiled->set_input(name, data);
  compiled->run();
  compiled->check_guards();  // throws naming the value a kernel wrote past
  std::map<std::string, HostTensor> out;
  for (const GraphOutput& o : cg.graph.outputs()) out.emplace(o.name, compiled->output_copy(o.name));
  for (const std::string& s : c.states) out.emplace("state:" + s, compiled->state_copy(s));
  return out;
}

// Ops whose every f32 result is one correctly rounded operation (add, sub, mul, div: a double result of two
// floats rounds to the float one) or a copy: any kernel must give the reference kernel's bits (NaNs may
// differ in payload only; -0 and +0 are told apart).
// AdamW is a fixed sequence of such operations, which the cpu kernel keeps (compiled without contraction).
bool ieee_exact(OpKind k) {
  switch (k) {
    case OpKind::AdamW:
    case OpKind::Dropout:  // one multiply by the same factor where the same mask keeps
    case OpKind::Add:
    case OpKind::Sub:
    case OpKind::Mul:
    case OpKind::Div:
    case OpKind::Neg:
    case OpKind::Scale:
    case OpKind::Relu:
    case OpKind::ReluGrad:
    case OpKind::Where:
    case OpKind::Fill:
    case OpKind::Reshape:
    case OpKind::Permute:
    case OpKind::Contiguous:
    case OpKind::Expand:
    case OpKind::Slice:
    case OpKind::Concat:
    case OpKind::Repeat:
    case OpKind::RepeatInterleave:
    case OpKind::Diagonal:
    case OpKind::DiagEmbed:
    case OpKind::GatherRows:
      return true;
    default:
      return false;
  }
}

::testing::AssertionResult same_bits_or_both_nan(const HostTensor& a, const HostTensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return bit_identical(a, b);
  if (a.dtype() != DType::F32) return bit_identical(a, b);
  for (int64_t i = 0; i < a.numel(); ++i) {
    const float x = a.data<float>()[i], y = b.data<float>()[i];
    if (std::isnan(x) && std::isnan(y)) continue;
    if (std::memcmp(&x, &y, sizeof x) != 0)
      return ::testing::AssertionFailure() << "element " << i << ": " << x << " vs " << y << " (bits differ)";
  }
  return ::testing::AssertionSuccess();
}

void check_case(const OpCase& c, bool nan_inf) {
  CaseGraph f64 = build_case(c, DType::F64, nan_inf);
  CaseGraph f32_ref = build_case(c, DType::F32, nan_inf);
  CompileOptions reference_options;
  reference_options.backend = "reference";
  auto oracle = run_case(c, f64, reference_options);
  auto reference = run_case(c, f32_ref, reference_options);
  ASSERT_FALSE(oracle.empty()) << c.name << " compares nothing";
  for (const KernelPath& path : kernel_paths()) {
    const std::string& backend = path.label;
    CaseGraph f32 = build_case(c, DType::F32, nan_inf);
    auto got = run_case(c, f32, path.options);
    for (const auto& [name, expected] : oracle) {
      EXPECT_TRUE(close(got.at(name), expected.to(DType::F32), c.atol, c.rtol))
          << c.name << " [" << name << "] on " << backend << " vs the f64 oracle"
          << (nan_inf ? " (NaN/Inf inputs)" : "");
      // Against the f32 reference kernel: a fast kernel may sum in another order, so allow a few ulps —
      // except where there is nothing to order.
      if (ieee_exact(c.kind))
        EXPECT_TRUE(same_bits_or_both_nan(got.at(name), reference.at(name)))
            << c.name << " [" << name << "] on " << backend << " vs the f32 reference kernel, bit for bit";
      else
        EXPECT_TRUE(close(got.at(name), reference.at(name), c.atol, c.rtol))
            << c.name << " [" << name << "] on " << backend << " vs the f32 reference kernel";
    }
  }
}

TEST_P(OpConsistency, MatchesReference) {
  for (const OpCase& c : op_cases())
    if (c.name == GetParam()) check_case(c, false);
}

TEST_P(OpConsistency, NanInfParity) {
  for (const OpCase& c : op_cases())
    if (c.name == GetParam() && !c.inputs.empty() && !c.inputs[0].fixed && c.inputs[0].shape.numel() > 0)
      check_case(c, true);
}

// The own kernels (the cpu backend with oneDNN off) claim results bit-identical across thread counts: each
// output element is written by one thread in a fixed order (ops/cpu/own/*.cpp). Held to it at 1, 2 and 4
// threads. (oneDNN makes no such promise: its reductions may split by thread.)
TEST_P(OpConsistency, OwnKernelsGiveTheSameBitsOnAnyThreadCount) {
  for (const OpCase& c : op_cases()) {
    if (c.name != GetParam()) continue;
    CompileOptions own{.backend = "cpu"};
    own.disabled_kernels = {"onednn."};
    std::map<std::string, HostTensor> first;
    const int saved = omp_get_max_threads();
    for (int threads : {1, 2, 4}) {
      omp_set_num_threads(threads);
      CaseGraph f32 = build_case(c, DType::F32);
      auto got = run_case(c, f32, own);
      omp_set_num_threads(saved);
      if (first.empty()) {
        first = got;
        continue;
      }
      for (const auto& [name, want] : first)
        EXPECT_TRUE(bit_identical(got.at(name), want))
            << c.name << " [" << name << "] on " << threads << " threads vs 1";
    }
  }
}

// NaN and Inf through chains of unary ops compiled with the real planner, which runs an op in place over an
// input that dies there. oneDNN's relu and exp are followed by a NaN fix-up that re-reads the input, so they
// must never run in place (a veto in ops/cpu/onednn.cpp); single-op cases cannot see that (their inputs are
// graph inputs, never overwritten, and guard bytes force no_reuse). Each chain, on every kernel path, must
// give the no_reuse plan's bits and the reference kernels' NaN/Inf pattern.
TEST(OpConsistencyChains, NanAndInfSurviveInPlacePlans) {
  const std::vector<float> special = {NAN,  INFINITY, -INFINITY, -0.0f,   0.0f,
                                      1.5f, -2.5f,    88.0f,     -100.0f, 3e38f};
  std::vector<float> values;
  for (int i = 0; i < 64; ++i)
    values.push_back(special[size_t(i) % special.size()] * (i % 3 == 2 ? -1.0f : 1.0f));
  const HostTensor x_data = HostTensor::from_f32(values, {8, 8});
  const std::vector<std::pair<const char*, std::function<Tensor(Tensor)>>> chains = {
      {"relu(exp(x))", [](Tensor x) { return relu(exp(x)); }},
      {"exp(relu(x))", [](Tensor x) { return exp(relu(x)); }},
      {"relu(exp(x * 2))", [](Tensor x) { return relu(exp(x * 2.0)); }},
      {"exp(relu(x + x))", [](Tensor x) { return exp(relu(x + x)); }},
      {"relu(relu(-x))", [](Tensor x) { return relu(relu(-x)); }},
      {"tanh(exp(relu(x)))", [](Tensor x) { return tanh(exp(relu(x))); }},
      {"gelu(exp(x))", [](Tensor x) { return gelu(exp(x)); }},
  };
  for (const auto& [label, chain] : chains) {
    auto run = [&, &chain = chain](CompileOptions options) {
      Graph g;
      g.output("y", chain(g.input("x", DType::F32, {8, 8})));
      auto cg = compile(g, options);
      cg->set_input("x", x_data);
      cg->run();
      return cg->output_copy("y");
    };
    CompileOptions reference{.backend = "reference"};
    const HostTensor want = run(reference);
    for (const KernelPath& path : kernel_paths()) {
      CompileOptions planned = path.options, separate = path.options;
      planned.plan.poison = true;
      separate.plan.mode = PlanMode::NoReuse;
      const HostTensor got = run(planned);
      EXPECT_TRUE(bit_identical(got, run(separate))) << label << " on " << path.label << ": in place differs";
      EXPECT_TRUE(close(got, want, 1e-5, 1e-5))
          << label << " on " << path.label << " vs the reference kernels";
    }
  }
}

std::vector<std::string> case_names() {
  ops::register_all();
  std::vector<std::string> names;
  for (const OpCase& c : op_cases()) names.push_back(c.name);
  return names;
}

INSTANTIATE_TEST_SUITE_P(AllOps, OpConsistency, ::testing::ValuesIn(case_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string n = info.param;
                           for (char& ch : n)
                             if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });

TEST(OpConsistencyTable, CaseNamesAreUnique) {
  std::set<std::string> seen;
  for (const OpCase& c : op_cases()) EXPECT_TRUE(seen.insert(c.name).second) << "duplicate case " << c.name;
}

}  // namespace
}  // namespace frost::test
