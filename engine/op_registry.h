// The op registry: one row per op kind (DESIGN principle 6) holding everything the engine needs to know
// about an op without including ops/ — shape/dtype inference, the in-place and view rules, the backward
// rule and the cost. Rows are defined in ops/defs/ and registered explicitly by frost::ops::register_all()
// (no static initialisers that a linker could drop).
//
//   const OpRow& row = op_registry().row(OpKind::MatMul);
//   std::vector<TensorType> outs = row.infer({kind, input_types, attrs});
#pragma once

#include <array>
#include <span>
#include <vector>

#include "engine/graph.h"

namespace frost {

class BackwardContext;  // engine/autodiff.h

struct InferContext {
  OpKind kind;
  std::span<const TensorType> inputs;
  const Attrs& attrs;
};

struct Cost {
  double flops = 0;  // floating-point operations (a multiply-add counts 2)
  double bytes = 0;  // bytes read + written, assuming no cache reuse across kernels
};

// Returns the output types or throws frost::Error with a reason; Graph::add_node adds op, node and shapes.
using InferFn = std::vector<TensorType> (*)(const InferContext& ctx);
// Appends the nodes computing the inputs' gradients from the outputs' gradients (engine/autodiff.h).
using BackwardFn = void (*)(BackwardContext& ctx);
using CostFn = Cost (*)(std::span<const TensorType> inputs, std::span<const TensorType> outputs,
                        const Attrs& attrs);

// How gradients treat an op.
enum class Grad : uint8_t {
  Rule,  // gradients flow through it; its `backward` appends the input gradients
  None,  // no gradient by nature: constants, state writes, integer results; autodiff stops here
  // Backward helpers (layer_norm_backward, ...): second derivatives are not implemented, so autodiff
  // reaching one is an error naming it — never a silent zero gradient.
  Unsupported,
};
const char* grad_name(Grad g);  // "backward", "none", "unsupported"

// OpRow::num_inputs of ops taking any number (>= 1) of inputs; num_outputs of ops whose inference decides
// (attention_backward: three gradients, five with a prefix).
inline constexpr int kVariadic = -1;

struct OpRow {
  OpKind kind{};
  const char* name = nullptr;
  int num_inputs = 0;   // exact count, or kVariadic
  int num_outputs = 1;  // exact count, or kVariadic
  InferFn infer = nullptr;
  // Output 0 may be written over this input's buffer when the input dies at this node and the types match
  // (an elementwise op reading each element before writing it); -1 when never.
  int inplace_input = -1;
  // Output 0 is a view of this input: same bytes, new shape (reshape); -1 when not a view.
  int view_of_input = -1;
  Grad grad = Grad::Rule;
  BackwardFn backward = nullptr;  // required when grad == Grad::Rule
  bool side_effect = false;       // kept without consumers (assign): dead-code elimination never removes it
  CostFn cost = nullptr;
};

class OpRegistry {
 public:
  void set(const OpRow& row);  // throws Internal on a duplicate or malformed row
  bool has(OpKind kind) const { return rows_[size_t(kind)].name != nullptr; }
  // Throws Internal naming the op when no row was registered (ops::register_all() not called).
  const OpRow& row(OpKind kind) const;
  // Swaps in a different row and returns the old one. Only for tests that need a broken row (an op
  // without a backward rule, say); not thread-safe against concurrent graph building.
  OpRow replace_for_testing(const OpRow& row);

 private:
  std::array<OpRow, kNumOpKinds> rows_{};
};

OpRegistry& op_registry();

}  // namespace frost
