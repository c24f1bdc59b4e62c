// The parameters a model graph declares, by their canonical names — the Frozen in Time state-dict names
// without `module.` ("video_model.blocks.0.attn.qkv.weight") — in PyTorch's layouts (a Linear's weight
// is (out, in)), so a checkpoint's tensors load without reshaping. Each is persistent graph state; the
// weights are set after compile (model/weights.h).
//
//   Params p(g);
//   Tensor w = p.get("txt_proj.1.weight", {256, 768});   // declared once; the same Tensor on repeats
//   p.specs();                                           // every (name, shape) declared, in order
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "engine/graph.h"

namespace frost::model {

struct ParamSpec {
  std::string name;
  Shape shape;
};

class Params {
 public:
  explicit Params(Graph& g) : graph_(&g) {}
  // The parameter `name`, declared as F32 state of `shape` on first use; later uses must agree on the shape.
  Tensor get(const std::string& name, Shape shape);
  const std::vector<ParamSpec>& specs() const { return specs_; }
  std::vector<Tensor> tensors() const;
  Graph& graph() const { return *graph_; }

 private:
  Graph* graph_;
  std::vector<ParamSpec> specs_;
  std::unordered_map<std::string, Tensor> by_name_;
};

}  // namespace frost::model
