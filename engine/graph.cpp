#include "engine/graph.h"

#include <sstream>

#include "engine/error.h"
#include "engine/op_registry.h"

namespace frost {

const char* op_name(OpKind kind) {
  static constexpr const char* kNames[] = {
#define FROST_OP_NAME(kind, name) name,
      FROST_OP_LIST(FROST_OP_NAME)
#undef FROST_OP_NAME
  };
  size_t i = size_t(kind);
  return i < std::size(kNames) ? kNames[i] : "?";
}

std::string to_string(const TensorType& t) {
  return std::string(dtype_name(t.dtype)) + to_string(t.shape);
}

const char* activation_name(Activation a) {
  switch (a) {
    case Activation::None:
      return "none";
    case Activation::Gelu:
      return "gelu";
    case Activation::GeluTanh:
      return "gelu_tanh";
  }
  return "?";
}

TensorType Tensor::type() const {
  FROST_CHECK(valid(), InvalidArgument, "use of an empty Tensor handle");
  return graph->value(id).type;
}

ValueId Graph::add_value(TensorType type, ValueRole role, NodeId producer, uint32_t index, std::string name) {
  FROST_CHECK(values_.size() < size_t(kNoId), Unsupported, "graph exceeds " << kNoId << " values");
  values_.push_back(Value{std::move(type), role, producer, index, std::move(name), nullptr});
  return ValueId(values_.size() - 1);
}

Tensor Graph::input(std::string name, DType dtype, Shape shape) {
  FROST_CHECK(!name.empty(), InvalidArgument, "graph input needs a name");
  FROST_CHECK(find_source(name) == kNoId, InvalidArgument,
              "graph already has an input or state named '" << name << "'");
  return Tensor{this, add_value({dtype, shape}, ValueRole::Input, kNoId, 0, std::move(name))};
}

Tensor Graph::state(std::string name, DType dtype, Shape shape, std::shared_ptr<const HostTensor> init,
                    StateKind kind) {
  FROST_CHECK(!name.empty(), InvalidArgument, "graph state needs a name");
  FROST_CHECK(find_source(name) == kNoId, InvalidArgument,
              "graph already has an input or state named '" << name << "'");
  if (init) {
    FROST_CHECK(init->dtype() == dtype && init->shape() == shape, InvalidArgument,
                "state '" << name << "' is " << dtype << shape << " but its initial value is "
                          << init->dtype() << init->shape());
  }
  ValueId id = add_value({dtype, shape}, ValueRole::State, kNoId, 0, std::move(name));
  values_[id].init = std::move(init);
  values_[id].state_kind = kind;
  return Tensor{this, id};
}

void Graph::output(std::string name, Tensor t) {
  FROST_CHECK(t.graph == this, InvalidArgument, "output '" << name << "' is a tensor of another graph");
  FROST_CHECK(t.id < values_.size(), InvalidArgument, "output '" << name << "' refers to no value");
  for (const GraphOutput& o : outputs_) {
    FROST_CHECK(o.name != name, InvalidArgument, "graph already has an output named '" << name << "'");
  }
  outputs_.push_back({std::move(name), t.id});
}

std::vector<ValueId> Graph::add_node(OpKind kind, std::vector<ValueId> inputs, Attrs attrs) {
  const OpRow& row = op_registry().row(kind);
  NodeId id = NodeId(nodes_.size());
  std::vector<TensorType> in_types;
  in_types.reserve(inputs.size());
  for (ValueId v : inputs) {
    FROST_CHECK(v < values_.size(), InvalidArgument,
                row.name << " (node " << id << "): input refers to value " << v << ", which does not exist");
    in_types.push_back(values_[v].type);
  }
  auto describe = [&] {
    std::ostringstream os;
    os << row.name << " (node " << id;
    if (!scope_.empty()) os << " in '" << scope_ << "'";
    os << ", inputs";
    for (size_t i = 0; i < in_types.size(); ++i) os << (i ? ", " : " ") << to_string(in_types[i]);
    if (in_types.empty()) os << " none";
    os << ")";
    return os.str();
  };
  if (row.num_inputs == kVariadic) {
    FROST_CHECK(!inputs.empty(), InvalidArgument, describe() << ": expects at least one input");
  } else {
    FROST_CHECK(int(inputs.size()) == row.num_inputs, InvalidArgument,
                describe() << ": expects " << row.num_inputs << " inputs, got " << inputs.size());
  }
  std::vector<TensorType> out_types;
  try {
    out_types = row.infer(InferContext{kind, in_types, attrs});
    for (const TensorType& t : out_types) t.shape.check_numel();  // inference may write dims by index
  } catch (const Error& e) {
    throw Error(e.category(), describe() + ": " + e.what());
  }
  FROST_CHECK(row.num_outputs == kVariadic || int(out_types.size()) == row.num_outputs, Internal,
              describe() << ": inference returned " << out_types.size() << " outputs, the row says "
                         << row.num_outputs);
  Node node{kind, std::move(inputs), {}, std::move(attrs), scope_};
  for (size_t i = 0; i < out_types.size(); ++i) {
    node.outputs.push_back(add_value(out_types[i], ValueRole::Intermediate, id, uint32_t(i), ""));
  }
  nodes_.push_back(std::move(node));
  return nodes_.back().outputs;
}

void Graph::rewrite_node(NodeId id, OpKind kind, std::vector<ValueId> inputs, Attrs attrs) {
  FROST_CHECK(id < nodes_.size(), Internal, "rewrite_node: node " << id << " does not exist");
  const OpRow& row = op_registry().row(kind);
  std::vector<TensorType> in_types;
  for (ValueId v : inputs) {
    FROST_CHECK(v < values_.size(), Internal, "rewrite_node: value " << v << " does not exist");
    const NodeId producer = values_[v].producer;
    FROST_CHECK(producer == kNoId || producer < id, Internal,
                "rewrite_node: " << describe_value(v) << " is produced after " << describe_node(id));
    in_types.push_back(values_[v].type);
  }
  std::vector<TensorType> out_types = row.infer(InferContext{kind, in_types, attrs});
  Node& node = nodes_[id];
  FROST_CHECK(out_types.size() >= node.outputs.size(), Internal,
              "rewrite_node: " << row.name << " has fewer outputs than " << describe_node(id));
  for (size_t i = 0; i < node.outputs.size(); ++i)
    FROST_CHECK(out_types[i] == values_[node.outputs[i]].type, Internal,
                "rewrite_node: " << row.name << " output " << i << " would be " << to_string(out_types[i])
                                 << ", " << describe_value(node.outputs[i]) << " is "
                                 << to_string(values_[node.outputs[i]].type));
  node.kind = kind;
  node.inputs = std::move(inputs);
  node.attrs = std::move(attrs);
  for (size_t i = node.outputs.size(); i < out_types.size(); ++i) {
    const ValueId v = add_value(out_types[i], ValueRole::Intermediate, id, uint32_t(i), "");
    nodes_[id].outputs.push_back(v);
  }
}

Graph::ScopeGuard::ScopeGuard(Graph& g, std::string_view name)
    : graph_(g), previous_length_(g.scope_.size()) {
  if (!g.scope_.empty()) g.scope_ += '/';
  g.scope_ += name;
}
Graph::ScopeGuard::~ScopeGuard() {
  graph_.scope_.resize(previous_length_);
}

const Value& Graph::value(ValueId id) const {
  FROST_CHECK(id < values_.size(), InvalidArgument,
              "value " << id << " does not exist (graph has " << values_.size() << ")");
  return values_[id];
}

const Node& Graph::node(NodeId id) const {
  FROST_CHECK(id < nodes_.size(), InvalidArgument,
              "node " << id << " does not exist (graph has " << nodes_.size() << ")");
  return nodes_[id];
}

ValueId Graph::find_source(std::string_view name) const {
  for (ValueId i = 0; i < values_.size(); ++i) {
    const Value& v = values_[i];
    if (v.role != ValueRole::Intermediate && v.name == name) return i;
  }
  return kNoId;
}

std::vector<std::vector<NodeId>> Graph::consumers() const {
  std::vector<std::vector<NodeId>> out(values_.size());
  for (NodeId n = 0; n < nodes_.size(); ++n)
    for (ValueId v : nodes_[n].inputs) out[v].push_back(n);
  return out;
}

std::string Graph::describe_node(NodeId id) const {
  const Node& n = node(id);
  std::ostringstream os;
  os << "node " << id << " '" << (n.scope.empty() ? "" : n.scope + "/") << op_name(n.kind) << "' (inputs";
  for (size_t i = 0; i < n.inputs.size(); ++i) os << (i ? ", " : " ") << to_string(values_[n.inputs[i]].type);
  if (n.inputs.empty()) os << " none";
  os << ")";
  return os.str();
}

std::string Graph::describe_value(ValueId id) const {
  const Value& v = value(id);
  std::ostringstream os;
  os << "value " << id << " (";
  if (!v.name.empty()) os << v.name << ": ";
  os << to_string(v.type);
  if (v.producer != kNoId)
    os << ", output " << v.output_index << " of " << op_name(nodes_[v.producer].kind) << " node "
       << v.producer;
  os << ")";
  return os.str();
}

}  // namespace frost
