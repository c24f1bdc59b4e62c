// The static graph: nodes and values in vectors, referring to each other by 32-bit ids (DESIGN principle 5).
// Model code builds it through `Tensor` handles and the op functions of ops/api.h; every node's output
// shapes and dtypes are inferred when it is added, and a mismatch throws naming the op, node and shapes.
//
//   Graph g;
//   Tensor x = g.input("x", DType::F32, {B, C});          // bound by name before each run
//   Tensor w = g.state("w", DType::F32, {C, D}, init);    // persistent: read and updated across runs
//   Tensor y = relu(matmul(x, w));                        // ops/api.h
//   g.output("y", y);                                     // read by name after each run
//
// Nodes are kept in the order they were added, which is a topological order (inputs exist before use).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/dtype.h"
#include "engine/op_list.h"
#include "engine/shape.h"
#include "engine/storage.h"

namespace frost {

using ValueId = uint32_t;
using NodeId = uint32_t;
inline constexpr uint32_t kNoId = UINT32_MAX;

enum class ValueRole : uint8_t {
  Input,         // bound by name before each run
  State,         // persistent across runs: parameters, optimiser moments; updated in place by Assign
  Intermediate,  // produced by a node
};

// What persistent state holds, which decides its arena (engine/memory_plan.h): model parameters, or an
// optimiser's (moments, gradient accumulators) — kept apart so a plan and a checkpoint can tell them apart.
enum class StateKind : uint8_t { Parameter, Optimizer };

struct TensorType {
  DType dtype = DType::F32;
  Shape shape;
  bool operator==(const TensorType& o) const { return dtype == o.dtype && shape == o.shape; }
};
std::string to_string(const TensorType& t);  // "f32[2, 3]"

// The activation a linear op applies after its bias (its fused epilogue).
enum class Activation : uint8_t { None, Gelu, GeluTanh };
const char* activation_name(Activation a);  // "none", "gelu", "gelu_tanh"

// Attributes of a node. Which fields an op reads is documented in engine/op_list.h and its row.
struct Attrs {
  std::vector<int64_t> axes;  // sum/mean: reduced axes (normalised, sorted); permute: the permutation
  Shape shape;                // reshape/expand/fill: target shape
  double scalar = 0.0;        // scale: factor; fill: value
  DType dtype = DType::F32;   // fill: element type
  bool keepdim = false;       // sum/mean
  bool trans_a = false;       // matmul: use a's last two dims transposed
  bool trans_b = false;       // matmul, linear: use b's last two dims transposed
  Activation activation = Activation::None;  // linear: the epilogue after the bias
  int64_t axis = 0;                          // slice, concat, repeat_interleave: the axis (normalised)
  int64_t start = 0, stop = 0, step = 1;     // slice: [start, stop) by step (normalised and clamped)
  int64_t count = 0;                         // repeat_interleave: repeats of each element
  uint64_t seed = 0;  // dropout: its Philox stream (attrs.scalar is the drop probability)
  // attention: inputs 3 and 4 are prefix keys/values; a mask bias follows; `views` are strided reads of
  // the operands from their sources (ops/attention_geometry.h, engine/passes/absorb_views.cpp).
  bool prefix = false, masked = false;
  // attention with a u8 mask (masked fill; a float mask is a bias added to the scores): a score becomes
  // `fill` where the mask is nonzero (torch's masked_fill), or where it is zero with fill_where_zero.
  double fill = 0.0;
  bool fill_where_zero = false;
  // attention: dropout of the probabilities at this rate (attrs.seed its Philox key; the I64 stream offset
  // is the node's last input), as softmax → dropout → matmul with the mask element (t, i, j) of the
  // (batch..., Lq, P + Lk) probabilities drawn exactly as the dropout op draws it.
  double dropout = 0.0;
  std::vector<int64_t> views;
  bool operator==(const Attrs& o) const = default;
};

struct Value {
  TensorType type;
  ValueRole role = ValueRole::Intermediate;
  NodeId producer = kNoId;  // kNoId for inputs and state
  uint32_t output_index = 0;
  std::string name;                             // required for inputs and state; optional otherwise
  std::shared_ptr<const HostTensor> init;       // state only: initial contents (zeros when null)
  StateKind state_kind = StateKind::Parameter;  // state only
};

struct Node {
  OpKind kind;
  std::vector<ValueId> inputs;
  std::vector<ValueId> outputs;
  Attrs attrs;
  std::string scope;  // the name scope it was built in ("block0/attn"), for messages and reports
};

class Graph;

// A handle on a value of a graph under construction. Cheap to copy; valid while its graph lives.
struct Tensor {
  Graph* graph = nullptr;
  ValueId id = kNoId;

  bool valid() const { return graph != nullptr && id != kNoId; }
  // By value: adding nodes grows the graph's vectors, so a reference could dangle mid-expression.
  TensorType type() const;
  Shape shape() const { return type().shape; }
  DType dtype() const { return type().dtype; }
  int rank() const { return shape().rank(); }
};

struct GraphOutput {
  std::string name;
  ValueId value;
};

class Graph {
 public:
  Graph() = default;
  Graph(const Graph&) = default;
  Graph& operator=(const Graph&) = default;
  Graph(Graph&&) = default;
  Graph& operator=(Graph&&) = default;

  // Sources. Names are unique among inputs and state.
  Tensor input(std::string name, DType dtype, Shape shape);
  Tensor state(std::string name, DType dtype, Shape shape, std::shared_ptr<const HostTensor> init = nullptr,
               StateKind kind = StateKind::Parameter);
  // Marks a value as a graph output, read by name after each run. Names are unique among outputs.
  void output(std::string name, Tensor t);

  // For rewrite passes (fusion): turns node `id` into `kind` on `inputs`, in place. Its outputs keep their
  // value ids (and must keep their types), so every consumer and Tensor handle stays valid; extra outputs of
  // the new op are appended as new values. The inputs must be produced before `id` (topological order).
  // Nodes the rewrite leaves without consumers are removed by dead-code elimination at compile time.
  void rewrite_node(NodeId id, OpKind kind, std::vector<ValueId> inputs, Attrs attrs = {});

  // Adds a node; infers its outputs' types through the op registry. Errors name the op, node and shapes.
  std::vector<ValueId> add_node(OpKind kind, std::vector<ValueId> inputs, Attrs attrs = {});

  // Name scopes for messages and reports: `auto s = g.scope("block0");` until s goes out of scope.
  class ScopeGuard {
   public:
    ScopeGuard(Graph& g, std::string_view name);
    ~ScopeGuard();
    ScopeGuard(const ScopeGuard&) = delete;
    ScopeGuard& operator=(const ScopeGuard&) = delete;

   private:
    Graph& graph_;
    size_t previous_length_;
  };
  [[nodiscard]] ScopeGuard scope(std::string_view name) { return ScopeGuard(*this, name); }

  const Value& value(ValueId id) const;
  const Node& node(NodeId id) const;
  size_t num_values() const { return values_.size(); }
  size_t num_nodes() const { return nodes_.size(); }
  const std::vector<Node>& nodes() const { return nodes_; }
  const std::vector<Value>& values() const { return values_; }
  const std::vector<GraphOutput>& outputs() const { return outputs_; }
  Tensor tensor(ValueId id) { return Tensor{this, id}; }

  // The input or state value with this name, or kNoId.
  ValueId find_source(std::string_view name) const;
  // Consumers of each value, in node order (computed on demand; O(nodes)).
  std::vector<std::vector<NodeId>> consumers() const;

  // "node 12 'block0/matmul' (inputs f32[2, 3], f32[4, 5])": used in every error about a node.
  std::string describe_node(NodeId id) const;
  // "value 7 (x: f32[2, 3])".
  std::string describe_value(ValueId id) const;

 private:
  ValueId add_value(TensorType type, ValueRole role, NodeId producer, uint32_t index, std::string name);
  std::vector<Node> nodes_;
  std::vector<Value> values_;
  std::vector<GraphOutput> outputs_;
  std::string scope_;
};

}  // namespace frost
