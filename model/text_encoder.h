// The text side of Frozen in Time (../shared/spec/frozen-in-time.md §2): DistilBERT (post-LN, LayerNorm
// eps 1e-12, GELU erf, key-padding mask; the embedding is the last layer's [CLS] state) and BERT (token
// types, the tanh pooler: `pooler_output`), built from primitives in graph `g`. Parameter names are the
// Hugging Face module names under `prefix` ("text_model." in a Frozen in Time checkpoint).
//
//   TextInputs in = text_inputs(g, B, L);          // input_ids I64 (B, L), attention_mask F32 (B, L)
//   TextOutputs out = text_encoder(p, cfg.text, in, "text_model.");
//   out.embedding;                                  // (B, dim): CLS state (DistilBERT) or pooler (BERT)
#pragma once

#include <string>

#include "model/config.h"
#include "model/params.h"

namespace frost::model {

struct TextInputs {
  Tensor input_ids;       // I64 (B, L): token ids
  Tensor attention_mask;  // F32 (B, L): 1 for tokens, 0 for padding
  Tensor token_type_ids;  // I64 (B, L), BERT only (invalid for DistilBERT)
};

// Declares the graph inputs "input_ids", "attention_mask" (and "token_type_ids" for BERT).
TextInputs text_inputs(Graph& g, const TextConfig& c, int64_t batch, int64_t length);

struct TextOutputs {
  Tensor last_hidden_state;  // (B, L, dim)
  Tensor cls;                // (B, dim): last_hidden_state[:, 0]
  Tensor pooler;             // (B, dim): BERT's tanh(dense(cls)); invalid for DistilBERT
  Tensor embedding;          // what Frozen in Time projects: pooler when use_pooler, else cls
};

// Dropout in training as Hugging Face's DistilBERT and BERT apply it (modeling_distilbert.py: `dropout`
// after the embeddings' LayerNorm and after each FFN's second linear, `attention_dropout` on the attention
// probabilities; BERT adds `hidden_dropout` after the attention output projection). Inverted dropout whose
// masks come from Philox: site s of the encoder draws from key mix(seed, s) at stream `offset` — an I64
// scalar value the trainer advances every micro-step — so masks differ per site and per step and are
// reproducible. Attention-probability dropout is softmax → dropout → matmul, which the fusion pass folds into
// the attention op (the same masks).
struct TextDropout {
  double hidden = 0.0;     // in [0, 1)
  double attention = 0.0;  // in [0, 1)
  uint64_t seed = 0;
  Tensor offset;  // I64 (): required when either probability is positive
  bool active() const { return hidden > 0.0 || attention > 0.0; }
};

TextOutputs text_encoder(Params& p, const TextConfig& c, const TextInputs& in, const std::string& prefix,
                         const TextDropout& dropout = {});

}  // namespace frost::model
