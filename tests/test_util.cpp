#include "test_util.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>
#include <string_view>
#include <tuple>

#include "engine/kernel.h"
#include "ops/api.h"

namespace frost::test {

HostTensor uniform(DType dtype, Shape shape, uint64_t seed, double lo, double hi) {
  HostTensor t(DType::F64, shape);
  fill_uniform(t, Philox(seed), lo, hi);
  return t.to(dtype);
}

std::vector<uint8_t> from_hex(const std::string& hex) {
  std::vector<uint8_t> out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) out[i] = uint8_t(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  return out;
}

Comparison compare(const HostTensor& actual, const HostTensor& expected, double atol, double rtol) {
  Comparison c;
  std::ostringstream os;
  if (actual.shape() != expected.shape()) {
    c.ok = false;
    os << "shape " << actual.shape() << " vs expected " << expected.shape();
    c.detail = os.str();
    return c;
  }
  double max_ref = 0;
  for (int64_t i = 0; i < expected.numel(); ++i) {
    double b = expected.at(i);
    if (std::isfinite(b)) max_ref = std::max(max_ref, std::fabs(b));
  }
  int64_t first_bad = -1;
  for (int64_t i = 0; i < expected.numel(); ++i) {
    double a = actual.at(i), b = expected.at(i);
    bool good;
    if (std::isnan(a) || std::isnan(b))
      good = std::isnan(a) && std::isnan(b);
    else if (std::isinf(a) || std::isinf(b))
      good = a == b;
    else {
      double err = std::fabs(a - b);
      c.max_abs_error = std::max(c.max_abs_error, err);
      good = err <= atol + rtol * std::fabs(b);
    }
    if (!good && first_bad < 0) first_bad = i;
  }
  c.max_abs_error_over_max = max_ref > 0 ? c.max_abs_error / max_ref : c.max_abs_error;
  c.ok = first_bad < 0;
  os << "max abs error " << c.max_abs_error << ", max abs error / max |expected| " << c.max_abs_error_over_max
     << " (atol " << atol << ", rtol " << rtol << ", " << expected.numel() << " elements)";
  if (!c.ok)
    os << "; first mismatch at element " << first_bad << ": " << actual.at(first_bad) << " vs expected "
       << expected.at(first_bad);
  c.detail = os.str();
  return c;
}

::testing::AssertionResult close(const HostTensor& actual, const HostTensor& expected, double atol,
                                 double rtol) {
  Comparison c = compare(actual, expected, atol, rtol);
  if (c.ok) return ::testing::AssertionSuccess() << c.detail;
  return ::testing::AssertionFailure() << c.detail;
}

::testing::AssertionResult bit_identical(const HostTensor& a, const HostTensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape())
    return ::testing::AssertionFailure()
           << "types differ: " << a.dtype() << a.shape() << " vs " << b.dtype() << b.shape();
  if (a.bytes() && std::memcmp(a.raw(), b.raw(), a.bytes()) != 0)
    return ::testing::AssertionFailure() << "bytes differ";
  return ::testing::AssertionSuccess();
}

std::vector<KernelPath> kernel_paths() {
  ops::register_all();
  std::vector<KernelPath> paths;
  for (const std::string& backend : available_backends()) {
    CompileOptions options;
    options.backend = backend;
    paths.push_back({backend, options});
  }
  // A family is worth its own path when some op has a kernel of it on its backend (and the backend runs
  // here): oneDNN on the cpu backend, cuBLAS on the cuda backend (whose plain kernels are then tested too).
  const std::vector<std::string> backends = available_backends();
  for (const auto& [backend, kind, family] : {std::tuple{"cpu", BackendKind::Cpu, "onednn."},
                                              std::tuple{"cuda", BackendKind::Cuda, "cuda.cublas."}}) {
    if (std::find(backends.begin(), backends.end(), backend) == backends.end()) continue;
    bool present = false;
    for (int k = 0; k < kNumOpKinds && !present; ++k)
      for (const auto& entry : kernel_registry().list(OpKind(k), kind))
        present = present || std::string_view(entry.second->name).starts_with(family);
    if (!present) continue;
    CompileOptions options;
    options.backend = backend;
    options.disabled_kernels = {family};
    paths.push_back({std::string(backend) + " without " + family, options});
  }
  return paths;
}

std::map<std::string, HostTensor> run_once(const Graph& graph, const std::string& backend,
                                           const std::map<std::string, HostTensor>& inputs,
                                           size_t guard_bytes) {
  CompileOptions options;
  options.backend = backend;
  options.plan.guard_bytes = guard_bytes;
  auto cg = compile(graph, options);
  for (const auto& [name, data] : inputs) cg->set_input(name, data);
  cg->run();
  cg->check_guards();
  std::map<std::string, HostTensor> out;
  for (const GraphOutput& o : graph.outputs()) out.emplace(o.name, cg->output_copy(o.name));
  return out;
}

}  // namespace frost::test
