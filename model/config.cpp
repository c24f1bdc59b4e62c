#include "model/config.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <type_traits>
#include <vector>

#include "engine/error.h"
#include "loader/files.h"

namespace frost::model {
namespace {

using nlohmann::json;

// Configs are small JSON files a user names: a FIFO, a device or /dev/zero is refused, never read.
constexpr size_t kMaxConfigBytes = size_t(1) << 20;

std::string read_text(const std::string& path) {
  return loader::read_regular_file(path, "config", kMaxConfigBytes);
}

// Parses with duplicate keys refused at any depth (nlohmann keeps the last one silently).
json parse(const std::string& text, const std::string& name) {
  std::vector<std::set<std::string>> open_objects;
  std::string duplicate;
  const json::parser_callback_t check = [&](int, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) open_objects.emplace_back();
    if (event == json::parse_event_t::object_end && !open_objects.empty()) open_objects.pop_back();
    if (event == json::parse_event_t::key && !open_objects.empty() &&
        !open_objects.back().insert(parsed.get<std::string>()).second && duplicate.empty())
      duplicate = parsed.get<std::string>();
    return true;
  };
  json j;
  try {
    j = json::parse(text, check);
  } catch (const json::exception& e) {
    FROST_FAIL(BadFile, name << ": not valid JSON: " << loader::json_error_text(e.what()));
  }
  FROST_CHECK(duplicate.empty(), BadFile, name << ": field '" << duplicate << "' appears twice");
  return j;
}

// Reads `key` of `j` into `out` when present. Types are exact: an integer field takes a JSON integer
// (64.5 is an error, not 64), a number field any finite number, a bool a bool, a string a string.
template <class T>
void get(const json& j, const char* key, T& out, const std::string& where) {
  if (!j.contains(key)) return;
  const json& v = j.at(key);
  bool ok = false;
  if constexpr (std::is_same_v<T, bool>) {
    ok = v.is_boolean();
  } else if constexpr (std::is_integral_v<T>) {
    ok = v.is_number_integer() &&
         (!v.is_number_unsigned() || v.get<uint64_t>() <= uint64_t(std::numeric_limits<T>::max()));
  } else if constexpr (std::is_floating_point_v<T>) {
    ok = v.is_number();
  } else {
    ok = v.is_string();
  }
  const char* want = std::is_same_v<T, bool>       ? "true or false"
                     : std::is_integral_v<T>       ? "an integer"
                     : std::is_floating_point_v<T> ? "a number"
                                                   : "a string";
  FROST_CHECK(ok, BadFile, where << ": field '" << key << "' must be " << want << ", got " << v.dump());
  out = v.get<T>();
}

void reject_unknown(const json& j, std::initializer_list<const char*> known, const std::string& where) {
  for (const auto& [key, value] : j.items()) {
    bool ok = false;
    for (const char* k : known) ok = ok || key == k;
    FROST_CHECK(ok, BadFile, where << ": unknown field '" << key << "'");
  }
}

// The reference's own experiment config (configs/*.json of m-bain/frozen-in-time: "arch": {"type":
// "FrozenInTime", "args": {video_params, text_params, projection}}, "data_loader", "loss", and training
// keys frost does not need), mapped onto FitConfig: model.py L21-74 reads arch.args, so only the values it
// accepts and frost implements pass; anything else is refused naming its field.
FitConfig from_reference_json(const json& j, const std::string& name, std::vector<std::string>* notes) {
  auto object = [&](const json& parent, const char* key, const std::string& where) -> const json& {
    FROST_CHECK(parent.contains(key) && parent.at(key).is_object(), BadFile,
                where << ": '" << key << "' must be a JSON object (the reference's configs/*.json layout)");
    return parent.at(key);
  };
  auto refuse_unless = [&](const json& obj, const char* key, std::initializer_list<const char*> allowed,
                           const char* fallback, const std::string& where, const std::string& why) {
    std::string value = fallback;
    get(obj, key, value, where);
    bool ok = false;
    for (const char* a : allowed) ok = ok || value == a;
    FROST_CHECK(ok, Unsupported, where << " " << key << " '" << value << "' is not supported — " << why);
    return value;
  };
  FitConfig c = FitConfig::base();
  c.name = name;
  if (const size_t slash = c.name.rfind('/'); slash != std::string::npos) c.name = c.name.substr(slash + 1);
  if (const size_t dot = c.name.rfind('.'); dot != std::string::npos && dot > 0)
    c.name = c.name.substr(0, dot);
  get(j, "name", c.name, name);
  const json& arch = object(j, "arch", name);
  refuse_unless(arch, "type", {"FrozenInTime"}, "", name + ": arch", "frost runs FrozenInTime");
  const json& args = object(arch, "args", name + ": arch");
  const std::string where = name + ": arch.args";
  // FrozenInTime(**args) takes exactly these keyword arguments (model.py L17-22): any other is its
  // TypeError, so a misspelt key is refused here too rather than ignored.
  reject_unknown(
      args,
      {"video_params", "text_params", "projection_dim", "load_checkpoint", "projection", "load_temporal_fix"},
      where);
  const std::string temporal_fix =
      refuse_unless(args, "load_temporal_fix", {"zeros", "interp", "bilinear"}, "zeros", where,
                    "the reference inflates a temporal table with 'zeros', 'interp' or 'bilinear'");
  if (temporal_fix != "zeros" && notes)
    notes->push_back(name + ": arch.args.load_temporal_fix '" + temporal_fix +
                     "' is how the reference inflates a checkpoint's temporal table for more frames; frost "
                     "inflates with zeros unless told otherwise");
  refuse_unless(args, "projection", {"minimal"}, "minimal", where,
                "frost runs the reference's 'minimal' projections (model.py L59-74)");
  get(args, "projection_dim", c.projection_dim, where);
  if (args.contains("load_checkpoint") && args.at("load_checkpoint").is_string() &&
      !args.at("load_checkpoint").get<std::string>().empty() && notes)
    notes->push_back(
        name + ": arch.args.load_checkpoint is not read from a config: give the checkpoint as --weights");

  const json& video = object(args, "video_params", where);
  const std::string vw = where + ".video_params";
  refuse_unless(video, "model", {"SpaceTimeTransformer"}, "SpaceTimeTransformer", vw,
                "frost runs the reference's SpaceTimeTransformer");
  refuse_unless(video, "arch_config", {"base_patch16_224"}, "base_patch16_224", vw,
                "the reference builds only base_patch16_224 (model.py L36)");
  refuse_unless(video, "time_init", {"zeros"}, "zeros", vw,
                "frost initialises the temporal table with zeros, as every released config does");
  refuse_unless(video, "attention_style", {"frozen-in-time"}, "frozen-in-time", vw,
                "frost runs the divided space-time attention of the paper");
  c.video.num_frames = 4;  // model.py L33: video_params.get('num_frames', 4)
  get(video, "num_frames", c.video.num_frames, vw);

  const json& text = object(args, "text_params", where);
  const std::string tw = where + ".text_params";
  const std::string model = refuse_unless(
      text, "model", {"distilbert-base-uncased", "bert-base-uncased"}, "", tw,
      "frost's text encoders are DistilBERT and BERT with the uncased vocabulary (distilbert-base-uncased, "
      "bert-base-uncased); another Hugging Face model cannot be built from a name");
  if (model == "bert-base-uncased") {  // the reference's `bert*` branch: pooler_output (model.py L104)
    c.text.arch = TextArch::Bert;
    c.text.layers = 12;
    c.text.type_vocab_size = 2;
    c.text.use_pooler = true;
  }
  refuse_unless(text, "input", {"text"}, "text", tw, "frost embeds captions");

  if (j.contains("loss")) {
    const json& loss = object(j, "loss", name);
    refuse_unless(loss, "type", {"NormSoftmaxLoss"}, "NormSoftmaxLoss", name + ": loss",
                  "frost trains with the reference's NormSoftmaxLoss");
    if (loss.contains("args") && loss.at("args").is_object())
      get(loss.at("args"), "temperature", c.temperature, name + ": loss.args");
  }
  // Each data loader's frames per clip and crop: the crop must be the model's 224; a frame count other
  // than the model's is what the loader samples (1-frame pretraining of a 4-frame model), said in a note.
  if (j.contains("data_loader")) {
    const json& dl = j.at("data_loader");
    std::vector<const json*> loaders;
    if (dl.is_array())
      for (const json& l : dl) loaders.push_back(&l);
    else
      loaders.push_back(&dl);
    for (size_t i = 0; i < loaders.size(); ++i) {
      const std::string lw = name + ": data_loader" + (dl.is_array() ? "[" + std::to_string(i) + "]" : "");
      FROST_CHECK(loaders[i]->is_object(), BadFile, lw << ": must be a JSON object");
      if (!loaders[i]->contains("args") || !loaders[i]->at("args").is_object()) continue;
      const json& la = loaders[i]->at("args");
      if (!la.contains("video_params") || !la.at("video_params").is_object()) continue;
      const json& vp = la.at("video_params");
      int64_t input_res = c.video.image_size, frames = c.video.num_frames;
      get(vp, "input_res", input_res, lw + ".args.video_params");
      get(vp, "num_frames", frames, lw + ".args.video_params");
      FROST_CHECK(input_res == c.video.image_size, Unsupported,
                  lw << ".args.video_params input_res " << input_res << " is not the model's "
                     << c.video.image_size << " (base_patch16_224)");
      if (frames != c.video.num_frames && notes)
        notes->push_back(lw + " samples " + std::to_string(frames) + " frame" + (frames == 1 ? "" : "s") +
                         " per clip; frost commands sample the model's " +
                         std::to_string(c.video.num_frames) + " unless --frames says otherwise");
    }
  }
  return c;
}

}  // namespace

TextConfig TextConfig::from_hf_config_file(const std::string& path) {
  return from_hf_config_json(read_text(path), path);
}

TextConfig TextConfig::from_hf_config_json(const std::string& text, const std::string& name) {
  const json j = parse(text, name);
  FROST_CHECK(j.is_object() && j.contains("model_type"), BadFile,
              name << ": no \"model_type\" in the config");
  std::string type;
  get(j, "model_type", type, name);
  TextConfig c;
  if (type == "distilbert") {
    c.arch = TextArch::DistilBert;
    get(j, "vocab_size", c.vocab_size, name);
    get(j, "dim", c.dim, name);
    get(j, "n_layers", c.layers, name);
    get(j, "n_heads", c.heads, name);
    get(j, "hidden_dim", c.ffn_dim, name);
    get(j, "max_position_embeddings", c.max_positions, name);
    c.eps = 1e-12;  // DistilBERT's LayerNorms are fixed at 1e-12 (not in its config)
    std::string act = "gelu";
    get(j, "activation", act, name);
    FROST_CHECK(act == "gelu", Unsupported,
                name << ": activation '" << act << "' (frost's DistilBERT uses gelu)");
    bool sinusoidal = false;
    get(j, "sinusoidal_pos_embds", sinusoidal, name);
    FROST_CHECK(!sinusoidal, Unsupported, name << ": sinusoidal position embeddings are not supported");
  } else if (type == "bert") {
    c.arch = TextArch::Bert;
    get(j, "vocab_size", c.vocab_size, name);
    get(j, "hidden_size", c.dim, name);
    get(j, "num_hidden_layers", c.layers, name);
    get(j, "num_attention_heads", c.heads, name);
    get(j, "intermediate_size", c.ffn_dim, name);
    get(j, "max_position_embeddings", c.max_positions, name);
    c.type_vocab_size = 2;
    get(j, "type_vocab_size", c.type_vocab_size, name);
    get(j, "layer_norm_eps", c.eps, name);
    std::string act = "gelu";
    get(j, "hidden_act", act, name);
    FROST_CHECK(act == "gelu", Unsupported, name << ": hidden_act '" << act << "' (frost's BERT uses gelu)");
    std::string position = "absolute";
    get(j, "position_embedding_type", position, name);
    FROST_CHECK(position == "absolute", Unsupported,
                name << ": position_embedding_type '" << position << "'");
    c.use_pooler = true;  // the reference's bert* branch: pooler_output
  } else {
    FROST_FAIL(Unsupported, name << ": model_type '" << type << "' (frost reads distilbert and bert)");
  }
  return c;
}

FitConfig FitConfig::base() {
  return FitConfig{};
}

FitConfig FitConfig::tiny() {
  FitConfig c;
  c.name = "tiny";
  c.text.vocab_size = 512;
  c.text.dim = 64;
  c.text.layers = 2;
  c.text.heads = 2;
  c.text.ffn_dim = 128;
  c.text.max_positions = 64;
  c.video.image_size = 32;
  c.video.patch_size = 8;
  c.video.dim = 64;
  c.video.depth = 2;
  c.video.heads = 2;
  c.video.mlp_dim = 128;
  c.video.num_frames = 4;
  c.projection_dim = 32;
  return c;
}

FitConfig FitConfig::named_or_file(const std::string& name_or_path, std::vector<std::string>* notes) {
  if (name_or_path == "base") return base();
  if (name_or_path == "tiny") return tiny();
  return from_json(read_text(name_or_path), name_or_path, notes);
}

std::string FitConfig::to_json() const {
  json t = {{"arch", text.arch == TextArch::Bert ? "bert" : "distilbert"},
            {"vocab_size", text.vocab_size},
            {"dim", text.dim},
            {"layers", text.layers},
            {"heads", text.heads},
            {"ffn_dim", text.ffn_dim},
            {"max_positions", text.max_positions},
            {"type_vocab_size", text.type_vocab_size},
            {"eps", text.eps},
            {"use_pooler", text.use_pooler}};
  json v = {{"image_size", video.image_size},
            {"patch_size", video.patch_size},
            {"channels", video.channels},
            {"dim", video.dim},
            {"depth", video.depth},
            {"heads", video.heads},
            {"mlp_dim", video.mlp_dim},
            {"num_frames", video.num_frames},
            {"eps", video.eps}};
  json j = {{"name", name},
            {"projection_dim", projection_dim},
            {"temperature", temperature},
            {"similarity_eps", similarity_eps},
            {"text", t},
            {"video", v}};
  return j.dump();
}

FitConfig FitConfig::from_json(const std::string& text, const std::string& name,
                               std::vector<std::string>* notes) {
  const json j = parse(text, name);
  FROST_CHECK(j.is_object(), BadFile, name << ": a config is a JSON object");
  if (j.contains("arch")) return from_reference_json(j, name, notes);  // the reference's configs/*.json
  reject_unknown(j, {"name", "projection_dim", "temperature", "similarity_eps", "text", "video"}, name);
  FitConfig c;
  // Without a "name", a config is called after its file (fit_small.json → fit_small), never "base".
  c.name = name;
  if (const size_t slash = c.name.rfind('/'); slash != std::string::npos) c.name = c.name.substr(slash + 1);
  if (const size_t dot = c.name.rfind('.'); dot != std::string::npos && dot > 0)
    c.name = c.name.substr(0, dot);
  get(j, "name", c.name, name);
  get(j, "projection_dim", c.projection_dim, name);
  get(j, "temperature", c.temperature, name);
  get(j, "similarity_eps", c.similarity_eps, name);
  if (j.contains("text")) {
    const json& t = j.at("text");
    const std::string where = name + " text";
    FROST_CHECK(t.is_object(), BadFile, where << ": must be a JSON object");
    reject_unknown(t,
                   {"arch", "vocab_size", "dim", "layers", "heads", "ffn_dim", "max_positions",
                    "type_vocab_size", "eps", "use_pooler"},
                   where);
    std::string arch = "distilbert";
    get(t, "arch", arch, where);
    FROST_CHECK(arch == "distilbert" || arch == "bert", BadFile,
                where << ": arch '" << arch << "' (distilbert or bert)");
    c.text.arch = arch == "bert" ? TextArch::Bert : TextArch::DistilBert;
    if (c.text.arch == TextArch::Bert) {
      c.text.type_vocab_size = 2;
      c.text.use_pooler = true;
    }
    get(t, "vocab_size", c.text.vocab_size, where);
    get(t, "dim", c.text.dim, where);
    get(t, "layers", c.text.layers, where);
    get(t, "heads", c.text.heads, where);
    get(t, "ffn_dim", c.text.ffn_dim, where);
    get(t, "max_positions", c.text.max_positions, where);
    get(t, "type_vocab_size", c.text.type_vocab_size, where);
    get(t, "eps", c.text.eps, where);
    get(t, "use_pooler", c.text.use_pooler, where);
  }
  if (j.contains("video")) {
    const json& v = j.at("video");
    const std::string where = name + " video";
    FROST_CHECK(v.is_object(), BadFile, where << ": must be a JSON object");
    reject_unknown(
        v, {"image_size", "patch_size", "channels", "dim", "depth", "heads", "mlp_dim", "num_frames", "eps"},
        where);
    get(v, "image_size", c.video.image_size, where);
    get(v, "patch_size", c.video.patch_size, where);
    get(v, "channels", c.video.channels, where);
    get(v, "dim", c.video.dim, where);
    get(v, "depth", c.video.depth, where);
    get(v, "heads", c.video.heads, where);
    get(v, "mlp_dim", c.video.mlp_dim, where);
    get(v, "num_frames", c.video.num_frames, where);
    get(v, "eps", c.video.eps, where);
  }
  try {
    c.validate(name);  // errors name the file
  } catch (const Error& e) {
    throw Error(ErrorCategory::BadFile, std::string(e.what()) + " — fix it in the config file");
  }
  return c;
}

// Bounds well past any released model (base: width 768, 12 layers, 4 frames of 14x14 patches), low enough
// that every size the graph derives from them fits 64-bit arithmetic and a machine's memory.
namespace {
constexpr int64_t kMaxWidth = 1 << 16;      // dim, projection_dim
constexpr int64_t kMaxHidden = 1 << 18;     // ffn_dim, mlp_dim
constexpr int64_t kMaxLayers = 256;         // layers, depth
constexpr int64_t kMaxHeads = 1024;         //
constexpr int64_t kMaxVocab = 1 << 24;      // vocab_size
constexpr int64_t kMaxPositions = 1 << 16;  // max_positions
constexpr int64_t kMaxTypes = 1024;         // type_vocab_size
constexpr int64_t kMaxImageSize = 4096;     // image_size
constexpr int64_t kMaxFrames = 1024;        // num_frames
constexpr int64_t kMaxPatches = 1 << 16;    // patches per frame
constexpr double kMaxParameters = 4.0e9;    // 16 GB of F32 weights
}  // namespace

double FitConfig::parameter_count() const {
  // In double: exact far past the bound checked against it, and it cannot wrap.
  const double td = double(text.dim), tf = double(text.ffn_dim), vd = double(video.dim);
  const double vm = double(video.mlp_dim), p = double(video.patch_size);
  const double text_layer = 4 * (td * td + td) + 2 * td * tf + tf + td + 4 * td;  // attention, FFN, 2 LNs
  const double text_params =
      (double(text.vocab_size) + double(text.max_positions) + double(text.type_vocab_size)) * td + 2 * td +
      double(text.layers) * text_layer + (text.use_pooler ? td * td + td : 0);
  const double video_block = 8 * (vd * vd + vd) + 2 * vd * vm + vm + vd + 6 * vd;  // 2 attentions, MLP, 3 LNs
  const double video_params = double(video.channels) * p * p * vd + vd + vd +
                              (double(video.patches_per_frame()) + 1) * vd + double(video.num_frames) * vd +
                              double(video.depth) * video_block + 2 * vd;
  const double heads = (td + vd) * double(projection_dim) + 2 * double(projection_dim);
  return text_params + video_params + heads;
}

void FitConfig::validate() const {
  validate("config " + name);
}

void FitConfig::validate(const std::string& where) const {
  const std::string& name = where;  // messages below read "<where>: <field> ..."
  auto in_range = [&](int64_t v, const char* field, int64_t max) {
    FROST_CHECK(v > 0 && v <= max, InvalidArgument,
                name << ": " << field << " must be in 1.." << max << ", got " << v);
  };
  auto finite_positive = [&](double v, const char* field, double max) {
    FROST_CHECK(std::isfinite(v) && v > 0 && v <= max, InvalidArgument,
                name << ": " << field << " must be a positive number up to " << max << ", got " << v);
  };
  in_range(text.vocab_size, "text.vocab_size", kMaxVocab);
  in_range(text.dim, "text.dim", kMaxWidth);
  in_range(text.layers, "text.layers", kMaxLayers);
  in_range(text.heads, "text.heads", kMaxHeads);
  in_range(text.ffn_dim, "text.ffn_dim", kMaxHidden);
  in_range(text.max_positions, "text.max_positions", kMaxPositions);
  FROST_CHECK(
      text.type_vocab_size >= 0 && text.type_vocab_size <= kMaxTypes, InvalidArgument,
      name << ": text.type_vocab_size must be in 0.." << kMaxTypes << ", got " << text.type_vocab_size);
  finite_positive(text.eps, "text.eps", 1.0);
  FROST_CHECK(text.dim % text.heads == 0, InvalidArgument,
              name << ": text.dim " << text.dim << " is not a multiple of text.heads " << text.heads);
  FROST_CHECK(
      text.arch != TextArch::Bert || text.type_vocab_size >= 1, InvalidArgument,
      name << ": BERT needs at least one token type (type_vocab_size " << text.type_vocab_size << ")");
  FROST_CHECK(text.arch == TextArch::Bert || text.type_vocab_size == 0, InvalidArgument,
              name << ": DistilBERT has no token types (type_vocab_size " << text.type_vocab_size << ")");
  in_range(video.image_size, "video.image_size", kMaxImageSize);
  in_range(video.patch_size, "video.patch_size", video.image_size);
  // Frames are decoded to RGB (loader/video.h): a video encoder of other channels could never be fed.
  FROST_CHECK(video.channels == 3, InvalidArgument,
              name << ": video.channels must be 3 (frames are RGB), got " << video.channels);
  in_range(video.dim, "video.dim", kMaxWidth);
  in_range(video.depth, "video.depth", kMaxLayers);
  in_range(video.heads, "video.heads", kMaxHeads);
  in_range(video.mlp_dim, "video.mlp_dim", kMaxHidden);
  in_range(video.num_frames, "video.num_frames", kMaxFrames);
  finite_positive(video.eps, "video.eps", 1.0);
  FROST_CHECK(video.image_size % video.patch_size == 0, InvalidArgument,
              name << ": video.image_size " << video.image_size << " is not a multiple of patch_size "
                   << video.patch_size);
  FROST_CHECK(video.patches_per_frame() <= kMaxPatches, InvalidArgument,
              name << ": " << video.patches_per_frame() << " patches per frame (image_size / "
                   << "patch_size, squared) exceed " << kMaxPatches);
  FROST_CHECK(video.dim % video.heads == 0, InvalidArgument,
              name << ": video.dim " << video.dim << " is not a multiple of video.heads " << video.heads);
  in_range(projection_dim, "projection_dim", kMaxWidth);
  finite_positive(temperature, "temperature", 1e6);
  finite_positive(similarity_eps, "similarity_eps", 1.0);
  const double params = parameter_count();
  FROST_CHECK(params <= kMaxParameters, InvalidArgument,
              name << ": about " << params / 1e9 << " billion parameters (" << params * 4 / double(1ull << 30)
                   << " GiB of F32 weights) exceed frost's limit of " << kMaxParameters / 1e9 << " billion");
}

}  // namespace frost::model
