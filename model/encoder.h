// The encoding API of the dual encoder for the rest of frost (the `frost encode` command, retrieval, the
// C API): captions, clips, videos and images in → embeddings out, in batches, on any backend. Graphs are
// compiled on first use for each batch shape and kept (a cache keyed by part and shape). The weights are
// held once, in a StateStore every compiled graph binds to: a weight borrowed from its mapped file
// (load_weights) is computed on where it lies, not copied into each graph (a GEMM weight's packed copy,
// shared by the graphs, takes the place of its file pages in memory: ops/cpu/onednn.cpp).
//
//   DualEncoder enc(FitConfig::base(), load_weights(cfg, {{"fit.safetensors"}}),
//   default_uncased_tokenizer()); Embeddings t = enc.encode_text({"a dog runs on the beach", "a cooking
//   show"});   // (2, 256), (2, 768) Embeddings v = enc.encode_videos({"clip.mp4", "frames/"}); // sampled as
//   the reference HostTensor s = similarity(t.embedding, v.embedding);                              // (2, 2)
//   cosine
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "engine/compiled_graph.h"
#include "engine/state_store.h"
#include "loader/tokenizer.h"
#include "loader/video.h"
#include "model/config.h"
#include "model/weights.h"

namespace frost::model {

struct EncoderOptions {
  std::string backend = "cpu";
  int64_t batch_size = 8;         // inputs per run; the last batch may be smaller
  int64_t max_text_length = 512;  // tokens, special tokens included (the tokenizer's model_max_length)
  // When not empty, a batch of captions is padded up to the smallest of these lengths that holds it (or to
  // the longest allowed), so queries of new lengths reuse a few compiled graphs (search). The key-padding
  // mask keeps the padding out of the result.
  std::vector<int64_t> text_length_buckets;
  // false: the weights have no projections (a Hugging Face text model, a timm ViT): the features alone are
  // computed, and Embeddings::embedding is (N, 0).
  bool projection = true;
};

struct Embeddings {
  HostTensor embedding;  // F32 (N, projection_dim): the projected, unnormalised embeddings ((N, 0) without)
  HostTensor features;   // F32 (N, dim): before the projection (text: CLS or pooler; video: final-norm CLS)
};

// Whether a vocabulary of `tokens` fits a word-embedding table of `rows`: it fills the table up to the
// padding some models add to round it up (at most 128 rows, to a multiple of 8 or 64, say); a shorter or a
// longer vocabulary is another model's.
bool vocabulary_fits(int64_t tokens, int64_t rows);

class DualEncoder {
 public:
  // The tokenizer is needed by encode_text only.
  DualEncoder(FitConfig config, WeightSet weights, std::optional<loader::WordPieceTokenizer> tokenizer,
              EncoderOptions options = {});
  ~DualEncoder();

  // Captions → embeddings, in input order; each batch is padded to its longest caption (the key-padding
  // mask makes that invisible).
  Embeddings encode_text(const std::vector<std::string>& captions);
  // Preprocessed clips F32 (N, F, C, S, S), F ≤ num_frames, S = image_size.
  Embeddings encode_clips(const HostTensor& clips);
  // Video files, frame folders or images, sampled and preprocessed as the reference at test time
  // (`clip` sets frames, sampling and transform; its num_frames defaults to the config's).
  Embeddings encode_videos(const std::vector<std::string>& paths, loader::ClipOptions clip = {});
  // The reference's sliding-window test (test.py -s STRIDE; ../shared/spec/frozen-in-time.md §3.7-3.8): for
  // each video, a clip at every offset of loader::fix_start_offsets(frames, F, stride), sampled FixStart, and
  // the mean of its windows' unnormalised embeddings (and features). stride > 0.
  Embeddings encode_videos_sliding(const std::vector<std::string>& paths, int64_t stride,
                                   loader::ClipOptions clip = {});
  // Images as one-frame clips (the reference's image path); `limits` bounds them and takes damage
  // warnings (loader/image.h).
  Embeddings encode_images(const std::vector<std::string>& paths, const loader::VideoLimits& limits = {});

  const FitConfig& config() const { return config_; }
  // The tokenizer encode_text uses; InvalidArgument when the encoder was built without one.
  const loader::WordPieceTokenizer& tokenizer() const;
  const EncoderOptions& options() const { return options_; }
  // Replaces the weights (a training run's current ones, for validation), copying them into the buffers
  // every graph compiled so far computes on. The set must hold every weight the encoder holds, in the same
  // shapes (InvalidArgument naming them otherwise, nothing changed).
  void set_weights(const WeightSet& weights);
  // Bytes of weights held (each once, whatever the number of compiled graphs).
  size_t weight_bytes() const;
  // How many graphs have been compiled so far (one per part and batch shape).
  size_t compiled_graphs() const { return cache_.size(); }

 private:
  CompiledGraph& graph_for(int part, int64_t batch, int64_t length_or_frames);

  FitConfig config_;
  std::shared_ptr<StateStore> weights_;  // every parameter, bound by name by every compiled graph
  std::optional<loader::WordPieceTokenizer> tokenizer_;
  EncoderOptions options_;
  std::map<std::tuple<int, int64_t, int64_t>, std::unique_ptr<CompiledGraph>> cache_;
};

// Cosine similarity of every row of a (A, P) with every row of b (B, P), rows scaled by
// 1 / max(||row||, eps) as the reference's sim_matrix; computed in f64, returned as F32 (A, B).
HostTensor similarity(const HostTensor& a, const HostTensor& b, double eps = 1e-8);

}  // namespace frost::model
