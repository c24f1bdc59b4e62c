// Initial weights for training the dual encoder from scratch: the initialisations of the component models
// the reference starts from before it loads pretrained weights (../shared/spec/frozen-in-time.md §1–2):
//
//   text (Hugging Face DistilBERT/BERT `_init_weights`)  Linear and embedding weights ~ N(0, 0.02), biases
//                                                         0, LayerNorm (1, 0), the [PAD] embedding row 0
//   video (timm ViT `_init_weights`)                      Linear weights ~ N(0, 0.02) (timm's trunc_normal_
//                                                         cuts at ±2, i.e. ±100σ: the same thing), biases 0,
//                                                         LayerNorm (1, 0), pos_embed and cls_token
//                                                         ~ N(0, 0.02), the patch convolution PyTorch's
//                                                         default U(±1/√fan_in), temporal_embed 0 (spec §1.3)
//   projections (PyTorch Linear default)                  weight and bias U(±1/√in)
//
// Every tensor draws from its own Philox stream keyed by (seed, its name), so a tensor's values do not
// depend on which other parameters a config has.
//
//   WeightSet w = initial_weights(FitConfig::tiny(), /*seed=*/1);
//   trainer.set_weights(w);
#pragma once

#include <cstdint>

#include "model/config.h"
#include "model/weights.h"

namespace frost::model {

// Every parameter of the dual encoder of `c` (fit_param_specs), initialised as above. `pad_id` is the
// tokenizer's [PAD] id: its embedding row starts at zero, as HF's padding_idx row does.
WeightSet initial_weights(const FitConfig& c, uint64_t seed, int64_t pad_id = 0);

}  // namespace frost::model
