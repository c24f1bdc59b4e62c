// Configurations of the Frozen in Time dual encoder (../shared/spec/frozen-in-time.md §1–3): the text
// encoder (DistilBERT or BERT), the SpaceTimeTransformer video encoder and the projection size.
//
//   FitConfig c = FitConfig::base();                   // the released model: 4 frames, ViT-B/16, DistilBERT
//   FitConfig t = FitConfig::tiny();                   // 2 layers, width 64: tests and the demo
//   FitConfig j = FitConfig::named_or_file("fit.json");  // any config: {"text": {...}, "video": {...}}
//   TextConfig hf = TextConfig::from_hf_config_file("config.json");  // a Hugging Face DistilBERT/BERT config
//
// A config file is a regular JSON file of at most 1 MiB; integer fields take JSON integers, duplicate keys
// and unknown fields are errors, and `name` defaults to the file's name without its extension. Errors are
// BadFile naming the file and the field.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace frost::model {

enum class TextArch { DistilBert, Bert };

struct TextConfig {
  TextArch arch = TextArch::DistilBert;
  int64_t vocab_size = 30522;
  int64_t dim = 768;
  int64_t layers = 6;
  int64_t heads = 12;
  int64_t ffn_dim = 3072;
  int64_t max_positions = 512;
  int64_t type_vocab_size = 0;  // BERT: token types (2); DistilBERT has none
  double eps = 1e-12;           // LayerNorm
  // The text embedding: DistilBERT's last-layer [CLS] state; BERT's pooler output (tanh(dense([CLS]))) as
  // the reference's `bert*` branch, or its [CLS] state when a checkpoint has no pooler.
  bool use_pooler = false;

  // Reads a Hugging Face config.json ("model_type": "distilbert" or "bert").
  static TextConfig from_hf_config_file(const std::string& path);
  static TextConfig from_hf_config_json(const std::string& json, const std::string& name);
};

struct VideoConfig {
  int64_t image_size = 224;
  int64_t patch_size = 16;
  int64_t channels = 3;
  int64_t dim = 768;
  int64_t depth = 12;
  int64_t heads = 12;
  int64_t mlp_dim = 3072;
  int64_t num_frames = 4;  // the temporal table's length; clips may have fewer frames
  double eps = 1e-6;

  int64_t patches_per_frame() const { return (image_size / patch_size) * (image_size / patch_size); }
};

struct FitConfig {
  std::string name = "base";
  TextConfig text;
  VideoConfig video;
  int64_t projection_dim = 256;
  double temperature = 0.05;     // NormSoftmax loss
  double similarity_eps = 1e-8;  // the eps-clamped norm of the cosine similarity

  static FitConfig base();
  static FitConfig tiny();
  // "base", "tiny", or a path to a JSON file: {"name", "projection_dim", "text": {...}, "video": {...}}
  // with the fields above under their names here (unknown fields are errors) — or the reference's own
  // experiment config (configs/*.json of the Frozen in Time repository, recognised by its "arch" key):
  // arch.args.video_params (SpaceTimeTransformer base_patch16_224, num_frames, time_init zeros),
  // text_params.model (distilbert-base-uncased or bert-base-uncased), projection ('minimal') and
  // projection_dim, loss.args.temperature, and each data loader's crop (input_res, which must be 224) map
  // onto this config; any other value is refused (Unsupported) naming its field; training-only keys
  // (n_gpu, optimizer, trainer, ...) are ignored. `notes` gets what a user should know (a data loader that
  // samples another frame count than the model's).
  static FitConfig named_or_file(const std::string& name_or_path, std::vector<std::string>* notes = nullptr);
  static FitConfig from_json(const std::string& json, const std::string& name,
                             std::vector<std::string>* notes = nullptr);
  // Every field, in the form from_json reads (from_json(to_json()) gives this config back): checkpoints
  // store it, and two configs are the same model exactly when their JSON is equal.
  std::string to_json() const;
  // Throws InvalidArgument naming the field: every size positive and within frost's bounds (far past any
  // released model; config.cpp lists them), eps and temperature finite, at most 4 billion parameters.
  void validate() const;
  void validate(const std::string& where) const;  // the same, messages naming `where` (a file)
  // Parameters the dual encoder of this config holds (both encoders and the projections).
  double parameter_count() const;
};

}  // namespace frost::model
