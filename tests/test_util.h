// Shared test helpers: seeded data, the DESIGN principle 10 comparison (|a - b| <= atol + rtol * |b| per
// element, NaN/Inf parity, and a report of max abs error and max abs error over max |b|), and small runners.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "engine/compiled_graph.h"
#include "engine/random.h"
#include "engine/storage.h"

namespace frost::test {

HostTensor uniform(DType dtype, Shape shape, uint64_t seed, double lo = -1.0, double hi = 1.0);

struct Comparison {
  bool ok = true;
  double max_abs_error = 0;
  double max_abs_error_over_max = 0;  // max |a - b| / max |b|
  std::string detail;                 // the first failing element, or the summary
};
// NaN must sit at the same elements in both; infinities must be equal; the rest within tolerance.
Comparison compare(const HostTensor& actual, const HostTensor& expected, double atol, double rtol);

// gtest assertion form: EXPECT_TRUE(close(a, b, 1e-5, 1e-5)) prints the report on failure.
::testing::AssertionResult close(const HostTensor& actual, const HostTensor& expected, double atol,
                                 double rtol);
// Bitwise equality (determinism tests).
::testing::AssertionResult bit_identical(const HostTensor& a, const HostTensor& b);

// Every kernel path of the build that runs here: each available backend (cuda where a device is present),
// and the cpu and cuda backends once more with the kernel family they prefer (oneDNN, cuBLAS) switched off,
// so the kernels underneath (own, reference, plain CUDA) are tested too.
struct KernelPath {
  std::string label;  // "reference", "cpu", "cpu without onednn.", "cuda", "cuda without cuda.cublas."
  CompileOptions options;
};
std::vector<KernelPath> kernel_paths();
// gtest prints a path parameter by its label.
inline void PrintTo(const KernelPath& p, std::ostream* os) {
  *os << p.label;
}

// Compiles `graph` on `backend`, binds `inputs`, runs once; returns every output by name.
std::map<std::string, HostTensor> run_once(const Graph& graph, const std::string& backend,
                                           const std::map<std::string, HostTensor>& inputs,
                                           size_t guard_bytes = 64);

// The bytes of a hex string (two digits a byte), as the fixture scripts write files and pixels into JSON.
std::vector<uint8_t> from_hex(const std::string& hex);

}  // namespace frost::test
