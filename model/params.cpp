#include "model/params.h"

#include "engine/error.h"

namespace frost::model {

Tensor Params::get(const std::string& name, Shape shape) {
  if (auto it = by_name_.find(name); it != by_name_.end()) {
    FROST_CHECK(it->second.shape() == shape, InvalidArgument,
                "parameter " << name << " declared as " << it->second.shape() << " and again as " << shape);
    return it->second;
  }
  Tensor t = graph_->state(name, DType::F32, shape);
  specs_.push_back({name, shape});
  by_name_.emplace(name, t);
  return t;
}

std::vector<Tensor> Params::tensors() const {
  std::vector<Tensor> out;
  out.reserve(specs_.size());
  for (const ParamSpec& s : specs_) out.push_back(by_name_.at(s.name));
  return out;
}

}  // namespace frost::model
