// Layers in PyTorch's parameter layouts and names, from primitives (DESIGN principle 3: the fusion
// passes, not these helpers, turn them into fused ops).
#pragma once

#include <string>

#include "model/params.h"

namespace frost::model {

// torch.nn.Linear: x (..., in) @ weight (out, in)^T + bias (out); parameters "<name>.weight", "<name>.bias".
Tensor linear(Params& p, const std::string& name, Tensor x, int64_t in, int64_t out);

// torch.nn.LayerNorm over the last dim, as nn::layer_norm; parameters "<name>.weight", "<name>.bias".
Tensor layer_norm(Params& p, const std::string& name, Tensor x, double eps);

}  // namespace frost::model
