#include "model/layers.h"

#include "model/nn.h"
#include "ops/api.h"

namespace frost::model {

Tensor linear(Params& p, const std::string& name, Tensor x, int64_t in, int64_t out) {
  Tensor w = p.get(name + ".weight", {out, in});
  Tensor b = p.get(name + ".bias", {out});
  return matmul(x, w, false, /*trans_b=*/true) + b;
}

Tensor layer_norm(Params& p, const std::string& name, Tensor x, double eps) {
  const int64_t C = x.shape()[-1];
  return nn::layer_norm(x, p.get(name + ".weight", {C}), p.get(name + ".bias", {C}), eps);
}

}  // namespace frost::model
