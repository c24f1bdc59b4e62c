#include "model/model_files.h"

#include <chrono>
#include <filesystem>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/error.h"
#include "loader/files.h"
#include "loader/safetensors.h"
#include "loader/tensor_file.h"
#include "model/encoder.h"

namespace frost::model {
namespace {

void say(const std::function<void(const std::string&)>& sink, const std::string& message) {
  if (sink) sink(message);
}

// The value of a metadata key of a safetensors file; nullopt when the file has none (or no path).
std::optional<std::string> recorded(const std::string& weights_path, const char* key) {
  if (weights_path.empty() || loader::TensorFile::is_pytorch_file(weights_path)) return std::nullopt;
  const auto file = loader::TensorFile::open(weights_path);
  const auto it = file.metadata().find(key);
  if (it == file.metadata().end()) return std::nullopt;
  return it->second;
}

}  // namespace

FitConfig config_for(const std::string& option, const std::string& weights_path,
                     const std::optional<FitConfig>& fallback, const Diagnostics& diag) {
  const std::optional<std::string> json = recorded(weights_path, kConfigKey);
  std::optional<FitConfig> own;
  if (json) {
    own = FitConfig::from_json(*json, weights_path + " (metadata " + kConfigKey + ")");
    own->validate(weights_path);
  }
  if (option.empty()) return own ? *own : fallback ? *fallback : FitConfig::base();
  std::vector<std::string> notes;
  FitConfig given = FitConfig::named_or_file(option, &notes);
  for (const std::string& n : notes) say(diag.note, n);
  if (own) {
    FitConfig a = given, b = *own;
    a.name = b.name = "";
    if (a.to_json() != b.to_json())
      say(diag.note, weights_path + " records another config ('" + own->name + "'); using " +
                         diag.config_option + " " + option + " as asked — leave " + diag.config_option +
                         " out to use the checkpoint's");
  }
  return given;
}

namespace {

// The tokenizer and where it came from, without printing anything; nullopt for the default.
struct ChosenTokenizer {
  loader::WordPieceTokenizer tokenizer;
  std::string source;
  std::optional<std::string> vocab_file_text;  // a vocab.txt given as --vocab: its own text, as recorded
};

std::optional<ChosenTokenizer> chosen_tokenizer(const std::string& option, const std::string& weights_path,
                                                std::vector<std::string>* notes,
                                                const std::string& vocab_option) {
  if (!option.empty()) {
    loader::WordPieceTokenizer tok = loader::WordPieceTokenizer::from_path(option, notes);
    std::optional<std::string> text;
    if (loader::file_kind(option) == loader::FileKind::Regular) {
      std::string raw = loader::read_regular_file(option, "vocabulary", size_t(256) << 20);
      const size_t first = raw.find_first_not_of(" \t\r\n");
      if (first == std::string::npos || raw[first] != '{') text = std::move(raw);  // a vocab.txt
    }
    return ChosenTokenizer{std::move(tok), vocab_option + " " + option, std::move(text)};
  }
  const std::optional<std::string> text = recorded(weights_path, kVocabKey);
  if (!text) return std::nullopt;
  const std::string where = weights_path + " (metadata " + kVocabKey + ")";
  const std::optional<std::string> settings = recorded(weights_path, kTokenizerKey);
  return ChosenTokenizer{settings
                             ? loader::WordPieceTokenizer::from_vocab_text(
                                   *text, where,
                                   loader::TokenizerOptions::from_json(
                                       *settings, weights_path + " (metadata " + kTokenizerKey + ")"))
                             : loader::WordPieceTokenizer::from_unconfigured_vocab_text(*text, where, notes),
                         "the vocabulary recorded in " + weights_path, *text};
}

}  // namespace

std::optional<std::string> vocab_text_for(const std::string& option, const std::string& weights_path) {
  std::optional<ChosenTokenizer> c = chosen_tokenizer(option, weights_path, nullptr, "");
  if (!c) return std::nullopt;
  return c->vocab_file_text ? *c->vocab_file_text : c->tokenizer.vocab_text();
}

std::map<std::string, std::string> tokenizer_metadata_for(const std::string& option,
                                                          const std::string& weights_path) {
  std::optional<ChosenTokenizer> c = chosen_tokenizer(option, weights_path, nullptr, "");
  if (!c) return {};
  return {{kVocabKey, c->vocab_file_text ? *c->vocab_file_text : c->tokenizer.vocab_text()},
          {kTokenizerKey, c->tokenizer.options().to_json()}};
}

std::string tokenizer_in(const std::string& folder) {
  for (const char* name : {"tokenizer.json", "vocab.txt"})
    if (loader::file_kind((std::filesystem::path(folder) / name).string()) != loader::FileKind::Missing)
      return folder.empty() ? std::string(".") : folder;
  return "";
}

loader::WordPieceTokenizer tokenizer_for(const std::string& option, const std::string& weights_path,
                                         const FitConfig& config, const Diagnostics& diag) {
  std::vector<std::string> notes;
  std::optional<loader::WordPieceTokenizer> tok;
  std::string source;
  if (std::optional<ChosenTokenizer> c = chosen_tokenizer(option, weights_path, &notes, diag.vocab_option)) {
    tok = std::move(c->tokenizer);
    source = c->source;
  } else {
    tok = loader::default_uncased_tokenizer();
    source = "the default vocabulary (BERT uncased, the reference's)";
  }
  for (const std::string& n : notes) say(diag.note, n);
  // The encoder refuses a vocabulary that does not fit too; here the message can say what to pass.
  const int64_t tokens = int64_t(tok->vocab_size()), rows = config.text.vocab_size;
  const std::string what =
      weights_path.empty()
          ? "give a config whose text.vocab_size fits it (a JSON config; frost synthetic's vocab.txt fits "
            "the "
            "tiny config)"
          : (option.empty() ? "give " + diag.vocab_option + ", the vocab.txt"
                            : std::string("give the vocab.txt")) +
                " the weights were trained with (frost synthetic writes one beside its set; checkpoints from "
                "frost train record theirs)";
  FROST_CHECK(vocabulary_fits(tokens, rows), InvalidArgument,
              source << " has " << tokens << " tokens but the text model of config '" << config.name
                     << "' has a word-embedding table of " << rows << " rows — " << what);
  return std::move(*tok);
}

WeightSet load_towers(const FitConfig& config, const std::string& weights_path, Towers towers,
                      const Diagnostics& diag) {
  // A Hugging Face text model or a timm ViT given as --weights: say what it is and what takes it, instead
  // of listing a hundred missing tensors.
  {
    const auto file = loader::TensorFile::open(weights_path);
    for (const std::string& n : file.notes()) say(diag.note, weights_path + ": " + n);
    bool fit = false, hf_text = false, vit = false;
    for (const loader::TensorEntry& e : file.tensors()) {
      const std::string& n = e.name;
      fit = fit || n.find("text_model.") != std::string::npos || n.find("video_model.") != std::string::npos;
      hf_text = hf_text || n.rfind("distilbert.", 0) == 0 || n.rfind("bert.", 0) == 0 ||
                n.rfind("embeddings.word_embeddings.", 0) == 0;
      vit = vit || n.rfind("patch_embed.", 0) == 0 || n.rfind("blocks.0.attn.qkv.", 0) == 0;
    }
    FROST_CHECK(fit || !hf_text, InvalidArgument,
                weights_path << " is a Hugging Face text model (DistilBERT/BERT names), not a Frozen in "
                                "Time checkpoint: it has no projection, so no embeddings — `frost encode "
                                "text --text-weights` gives its features; `frost train --text-weights` "
                                "starts a Frozen in Time model from it");
    FROST_CHECK(fit || !vit, InvalidArgument,
                weights_path << " is a timm ViT (patch_embed.*, blocks.*), not a Frozen in Time "
                                "checkpoint — `frost train --video-weights` starts a Frozen in Time model "
                                "from it, as the reference does");
  }
  WeightSet w = load_weights(config, {{weights_path, WeightSource::FrozenInTime}}, {.towers = towers});
  for (const std::string& m : w.warnings) say(diag.warn, m);
  return w;
}

std::string recorded_video_hash(const std::string& weights_path) {
  if (loader::TensorFile::is_pytorch_file(weights_path)) return "";  // a PyTorch checkpoint records none
  const auto file = loader::TensorFile::open(weights_path);
  const auto it = file.metadata().find(kVideoHashKey);
  return it != file.metadata().end() ? it->second : "";
}

std::string model_identity(const std::string& config_json) {
  nlohmann::json j = nlohmann::json::parse(config_json, nullptr, /*allow_exceptions=*/false);
  FROST_CHECK(j.is_object(), BadFile,
              "a model config that is not a JSON object: " << config_json.substr(0, 80));
  j.erase("name");
  return j.dump();
}

std::string video_hash_of(const std::string& weights_path, const WeightSet& weights,
                          const Diagnostics& diag) {
  if (std::string recorded = recorded_video_hash(weights_path); !recorded.empty()) return recorded;
  const auto start = std::chrono::steady_clock::now();
  const std::string hash = video_tower_hash(weights.tensors);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::ostringstream msg;
  msg << weights_path << " records no video-tower hash; computed it (" << std::fixed << std::setprecision(1)
      << s << " s) — checkpoints frost writes carry it";
  say(diag.note, msg.str());
  return hash;
}

}  // namespace frost::model
