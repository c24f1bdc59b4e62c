// The op test table: every op variant (shapes, odd sizes, broadcasting, attributes) as one row. The
// consistency test runs each row on every backend against the reference kernel and an f64 oracle; the
// gradient check runs each differentiable row by central differences in f64; the registry audit fails if
// an op kind has no row. Adding an op means adding rows here — no new harness.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/graph.h"
#include "engine/storage.h"

namespace frost::test {

struct InputSpec {
  Shape shape;
  double lo = -2.0, hi = 2.0;  // uniform range of the generated values
  // Set for inputs that are not of the case's dtype (indices, masks, offsets): integers drawn from
  // [lo, hi), never parameters of the gradient check, never given NaN/Inf.
  std::optional<DType> fixed = std::nullopt;
};

struct OpCase {
  std::string name;  // "matmul/trans_b": unique
  OpKind kind;       // the op under test (the audit counts rows per kind)
  std::vector<InputSpec> inputs;
  // Builds the op on inputs named in0, in1, ... of dtype `dt`; returns the tensors to compare.
  std::function<std::vector<Tensor>(Graph& g, DType dt, const std::vector<Tensor>& in)> build;
  double atol = 1e-5, rtol = 1e-5;  // f32 result vs the f64 oracle
  bool gradcheck = true;            // differentiable rows: check gradients by central differences
  std::vector<std::string> states;  // persistent state to compare after one run (assign)
};

const std::vector<OpCase>& op_cases();

// Graph + inputs for one case at one dtype; `inject_nan_inf` puts NaN, +Inf and -Inf into input 0.
struct CaseGraph {
  Graph graph;
  std::map<std::string, HostTensor> inputs;
};
CaseGraph build_case(const OpCase& c, DType dt, bool inject_nan_inf = false);

}  // namespace frost::test
