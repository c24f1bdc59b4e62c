// Loading the dual encoder's weights from safetensors files, through explicit name maps:
//
//   FrozenInTime     a converted Frozen in Time checkpoint (scripts/convert_checkpoint.py): `module.`
//                    optional; text_model.*, video_model.*, txt_proj.1.*, vid_proj.0.*
//   HuggingFaceText  an HF DistilBERT/BERT model.safetensors for the text side: `distilbert.`/`bert.`
//                    prefixes optional; task heads (MLM, NSP, classifiers, QA; the pooler where unused)
//                    recognised and ignored by an explicit list
//   TimmVit          timm's vit_base_patch16_224 for the video side, initialised as the reference does:
//                    time attention qkv zero, its proj weight ones, temporal table zero, norm3 = (1, 0)
//
// Every problem is collected first — missing, unexpected and mis-shaped tensors, by name and shape — and
// reported in one error. A checkpoint whose temporal table has another frame count is inflated as the
// reference does (truncate; 'zeros', 'interp' or 'bilinear' for more frames). NaN or Inf weights are
// loaded but listed in `warnings`.
//
//   WeightSet w = load_weights(FitConfig::base(), {{"fit.safetensors", WeightSource::FrozenInTime}});
//   auto cg = compile(*build_fit_graph(cfg, {...}).graph);
//   w.apply(*cg);                      // sets every parameter the compiled graph declares
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/compiled_graph.h"
#include "engine/storage.h"
#include "model/config.h"
#include "model/params.h"

namespace frost::model {

enum class WeightSource { FrozenInTime, HuggingFaceText, TimmVit };

// How a temporal table with fewer frames than the config is extended (the reference's load_temporal_fix).
enum class TemporalFix { Zeros, Interp, Bilinear };

struct WeightSet {
  std::map<std::string, HostTensor> tensors;  // canonical name → F32, in the config's shapes
  std::vector<std::string> warnings;          // non-finite values, inflated temporal tables
  std::vector<std::string> ignored;           // checkpoint names recognised as unused (task heads, buffers)

  // Sets every parameter state of `cg` from the set; a parameter the set lacks is an error naming it.
  // `other_states` are states that are not model parameters (an optimiser's moments): left as they are.
  void apply(CompiledGraph& cg, const std::vector<std::string>& other_states = {}) const;
};

// Every parameter of the full dual encoder of config `c`, in declaration order.
std::vector<ParamSpec> fit_param_specs(const FitConfig& c);

struct WeightFile {
  std::string path;
  WeightSource source = WeightSource::FrozenInTime;
};

// The two towers of the dual encoder: text = text_model.* + txt_proj.*, video = video_model.* + vid_proj.*.
enum class Towers { Both, Text, Video };
// Whether a canonical parameter name belongs to `towers`.
bool in_towers(const std::string& canonical_name, Towers towers);

struct LoadOptions {
  TemporalFix temporal_fix = TemporalFix::Zeros;
  // A command that embeds only captions (or only clips) loads only that tower: the other's tensors are
  // neither read nor required (they are listed in WeightSet::ignored), so a checkpoint holding one tower
  // serves the commands that use it, and the unused tower costs no memory.
  Towers towers = Towers::Both;
  // When only part of the model is loaded (the text side from HF, say), the parameters no file provides are
  // allowed to stay missing: they are then simply absent from the set.
  bool allow_missing = false;
};

WeightSet load_weights(const FitConfig& c, const std::vector<WeightFile>& files,
                       const LoadOptions& options = {});

// SHA-256 (hex) of the tensors a video embedding depends on — video_model.* and vid_proj.* — by canonical
// name in sorted order, each as name, NUL, dtype and shape as text, NUL, then its bytes. A retrieval index
// records it: a text-side change (fine-tuning the text encoder) keeps an index valid, a video-side one does
// not. Checkpoints frost writes carry it in their metadata ("frost.video_hash"), so it is read, not computed.
std::string video_tower_hash(const std::map<std::string, HostTensor>& tensors);
inline constexpr const char* kVideoHashKey = "frost.video_hash";
// What else checkpoints frost writes record: the model config (FitConfig::to_json) and, when it is not the
// default BERT uncased one, the vocab.txt the captions were tokenized with. Commands read them
// (cli/model_files.h), so a checkpoint needs no --config or --vocab.
inline constexpr const char* kConfigKey = "frost.config";
inline constexpr const char* kVocabKey = "frost.vocab";
// The tokenizer's settings (loader::TokenizerOptions::to_json) beside the vocabulary: a cased model stays
// cased.
inline constexpr const char* kTokenizerKey = "frost.tokenizer";

// The first `limit` of `items`, each on an indented line, then how many more: the lists in error messages.
std::string list_some(const std::vector<std::string>& items, size_t limit = 12);

// The canonical name of a checkpoint tensor, "" if the source ignores it; exposed for tests and tools.
std::string canonical_weight_name(const std::string& name, WeightSource source, const FitConfig& c);

}  // namespace frost::model
