#include "model/config.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/error.h"

namespace frost::model {
namespace {

using nlohmann::json;

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  FROST_CHECK(in.good(), BadFile, path << ": cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

json parse(const std::string& text, const std::string& name) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    FROST_FAIL(BadFile, name << ": not valid JSON: " << e.what());
  }
}

// Reads `key` of `j` into `out` when present; type errors name the file and field.
template <class T>
void get(const json& j, const char* key, T& out, const std::string& where) {
  if (!j.contains(key)) return;
  try {
    out = j.at(key).get<T>();
  } catch (const json::exception&) {
    FROST_FAIL(BadFile, where << ": field '" << key << "' has the wrong type: " << j.at(key).dump());
  }
}

void reject_unknown(const json& j, std::initializer_list<const char*> known, const std::string& where) {
  for (const auto& [key, value] : j.items()) {
    bool ok = false;
    for (const char* k : known) ok = ok || key == k;
    FROST_CHECK(ok, BadFile, where << ": unknown field '" << key << "'");
  }
}

}  // namespace

TextConfig TextConfig::distilbert_base() {
  return TextConfig{};
}

TextConfig TextConfig::from_hf_config_file(const std::string& path) {
  return from_hf_config_json(read_text(path), path);
}

TextConfig TextConfig::from_hf_config_json(const std::string& text, const std::string& name) {
  const json j = parse(text, name);
  FROST_CHECK(j.is_object() && j.contains("model_type"), BadFile,
              name << ": no \"model_type\" in the config");
  const std::string type = j.at("model_type").get<std::string>();
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

FitConfig FitConfig::named_or_file(const std::string& name_or_path) {
  if (name_or_path == "base") return base();
  if (name_or_path == "tiny") return tiny();
  return from_json(read_text(name_or_path), name_or_path);
}

FitConfig FitConfig::from_json(const std::string& text, const std::string& name) {
  const json j = parse(text, name);
  FROST_CHECK(j.is_object(), BadFile, name << ": a config is a JSON object");
  reject_unknown(j, {"name", "projection_dim", "temperature", "similarity_eps", "text", "video"}, name);
  FitConfig c;
  get(j, "name", c.name, name);
  get(j, "projection_dim", c.projection_dim, name);
  get(j, "temperature", c.temperature, name);
  get(j, "similarity_eps", c.similarity_eps, name);
  if (j.contains("text")) {
    const json& t = j.at("text");
    const std::string where = name + " text";
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
  c.validate();
  return c;
}

std::string FitConfig::to_json() const {
  json j = {{"name", name},
            {"projection_dim", projection_dim},
            {"temperature", temperature},
            {"similarity_eps", similarity_eps},
            {"text",
             {{"arch", text.arch == TextArch::Bert ? "bert" : "distilbert"},
              {"vocab_size", text.vocab_size},
              {"dim", text.dim},
              {"layers", text.layers},
              {"heads", text.heads},
              {"ffn_dim", text.ffn_dim},
              {"max_positions", text.max_positions},
              {"type_vocab_size", text.type_vocab_size},
              {"eps", text.eps},
              {"use_pooler", text.use_pooler}}},
            {"video",
             {{"image_size", video.image_size},
              {"patch_size", video.patch_size},
              {"channels", video.channels},
              {"dim", video.dim},
              {"depth", video.depth},
              {"heads", video.heads},
              {"mlp_dim", video.mlp_dim},
              {"num_frames", video.num_frames},
              {"eps", video.eps}}}};
  return j.dump(2);
}

void FitConfig::validate() const {
  auto positive = [&](int64_t v, const char* field) {
    FROST_CHECK(v > 0, InvalidArgument, "config " << name << ": " << field << " must be positive, got " << v);
  };
  positive(text.vocab_size, "text.vocab_size");
  positive(text.dim, "text.dim");
  positive(text.layers, "text.layers");
  positive(text.heads, "text.heads");
  positive(text.ffn_dim, "text.ffn_dim");
  positive(text.max_positions, "text.max_positions");
  FROST_CHECK(
      text.dim % text.heads == 0, InvalidArgument,
      "config " << name << ": text.dim " << text.dim << " is not a multiple of text.heads " << text.heads);
  FROST_CHECK(text.arch == TextArch::Bert || text.type_vocab_size == 0, InvalidArgument,
              "config " << name << ": DistilBERT has no token types (type_vocab_size " << text.type_vocab_size
                        << ")");
  positive(video.image_size, "video.image_size");
  positive(video.patch_size, "video.patch_size");
  positive(video.channels, "video.channels");
  positive(video.dim, "video.dim");
  positive(video.depth, "video.depth");
  positive(video.heads, "video.heads");
  positive(video.mlp_dim, "video.mlp_dim");
  positive(video.num_frames, "video.num_frames");
  FROST_CHECK(video.image_size % video.patch_size == 0, InvalidArgument,
              "config " << name << ": video.image_size " << video.image_size
                        << " is not a multiple of patch_size " << video.patch_size);
  FROST_CHECK(video.dim % video.heads == 0, InvalidArgument,
              "config " << name << ": video.dim " << video.dim << " is not a multiple of video.heads "
                        << video.heads);
  positive(projection_dim, "projection_dim");
  FROST_CHECK(temperature > 0 && similarity_eps > 0, InvalidArgument,
              "config " << name << ": temperature and similarity_eps must be positive");
}

}  // namespace frost::model
