// The Frozen in Time dual encoder (../shared/spec/frozen-in-time.md §3): text and video encoders, the
// projections (`txt_proj` = ReLU then Linear, `vid_proj` = Linear), cosine similarity with the eps-clamped
// norm, and the NormSoftmax loss (both directions summed). `build_fit_graph` assembles a graph for one
// part (text, video or both, with the loss) at fixed batch shapes; its parameters carry the checkpoint's
// names without `module.` (model/weights.h loads them).
//
//   FitGraph fg = build_fit_graph(FitConfig::tiny(), {.part = Part::Dual, .batch = 4, .text_length = 16});
//   auto cg = compile(*fg.graph);     // inputs: input_ids, attention_mask, video; outputs: see below
#pragma once

#include <memory>

#include "model/config.h"
#include "model/params.h"

namespace frost::model {

// txt_proj: ReLU, then Linear(dim → projection_dim) named "txt_proj.1".
Tensor text_projection(Params& p, const FitConfig& c, Tensor text_embedding);
// vid_proj: Linear(dim → projection_dim) named "vid_proj.0".
Tensor video_projection(Params& p, const FitConfig& c, Tensor video_feature);
// (A, P) x (B, P) → (A, B): rows scaled by 1 / max(||row||, eps), then a_n b_n^T.
Tensor cosine_similarity(Tensor a, Tensor b, double eps);
// sim (B, B) of text i vs video j → -mean(diag(log_softmax(sim / T))) - mean(diag(log_softmax(sim^T / T))).
Tensor norm_softmax_loss(Tensor sim, double temperature);

enum class Part { Text, Video, Dual };

struct FitGraphOptions {
  Part part = Part::Dual;
  int64_t batch = 1;        // captions and clips (the same B for Dual: pair i is (caption i, clip i))
  int64_t text_length = 0;  // tokens per caption (Text, Dual)
  int64_t frames = 0;       // frames per clip; 0 = the config's num_frames (Video, Dual)
  bool loss = true;         // Dual: the similarity matrix and the loss
  bool fuse = true;         // run the fusion passes on the built graph (before any autodiff by the caller)
  // The projections (txt_proj, vid_proj) and the embeddings they give; without them the graph outputs the
  // features alone (a Hugging Face text model or a timm ViT has no projection). Dual with loss needs them.
  bool projection = true;
  // Training dropout of the text encoder (model/text_encoder.h; the video encoder's is 0 in the reference,
  // spec §1). When active the graph has an input "dropout.offset" I64 (): the masks' Philox stream.
  double dropout = 0.0, attention_dropout = 0.0;
  uint64_t dropout_seed = 0;
};

// Inputs: "input_ids" I64 (B, L), "attention_mask" F32 (B, L) [+ "token_type_ids" I64 (B, L) for BERT];
// "video" F32 (B, F, 3, S, S). Outputs: "text_features" (B, text dim), "text_embedding" (B, P),
// "video_features" (B, video dim), "video_embedding" (B, P) (the embeddings only with `projection`), and
// for Dual "similarity" (B, B), "loss" ().
struct FitGraph {
  std::unique_ptr<Graph> graph;
  std::unique_ptr<Params> params;
  Tensor loss;  // invalid unless Dual with loss
};

FitGraph build_fit_graph(const FitConfig& c, const FitGraphOptions& o);

}  // namespace frost::model
