// What opening a model needs, each from the option given, else from what the weights file records, else
// the default: the config (an option; metadata "frost.config"; base), the vocabulary (an option; metadata
// "frost.vocab" and "frost.tokenizer"; BERT uncased) and the weights of the towers a job uses. Checkpoints
// frost writes (frost train, the demo) record their config and vocabulary, so they need neither option;
// converted reference checkpoints record neither: base and BERT uncased. The `frost` command
// (cli/model_files.h) and the C API (capi/) both open models through these.
//
// Nothing here prints: what a user should know goes to the Diagnostics' sinks (dropped where empty; no
// defaults, so that a call names where its messages go).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>

#include "loader/tokenizer.h"
#include "model/config.h"
#include "model/weights.h"

namespace frost::model {

struct Diagnostics {
  std::function<void(const std::string&)> note;  // a choice made for the user, a setting inferred
  std::function<void(const std::string&)> warn;  // something probably wrong in an input (non-finite weights)
  // How messages name the two options to their user: the command's flags, or the C API's fields.
  std::string config_option = "--config";
  std::string vocab_option = "--vocab";
};

// The config for `weights_path` (may be empty: no checkpoint): `option` when given ("base", "tiny" or a
// JSON file), else the one the file records, else `fallback` (an index's own config; may be nullopt), else
// base. An explicit option that differs from the recorded one is used, with a note. Throws as
// FitConfig::named_or_file, or for a recorded config that is not valid.
FitConfig config_for(const std::string& option, const std::string& weights_path,
                     const std::optional<FitConfig>& fallback, const Diagnostics& diag);

// The tokenizer: `option` when given (a Hugging Face model folder, a tokenizer.json or a vocab.txt, with
// the settings beside it: WordPieceTokenizer::from_path), else the vocabulary and settings the weights file
// records, else BERT uncased (built in). Settings inferred are notes. Throws InvalidArgument when the
// vocabulary does not fit the config's word-embedding table, saying where it came from and what to pass;
// the loader's errors for settings frost does not run.
loader::WordPieceTokenizer tokenizer_for(const std::string& option, const std::string& weights_path,
                                         const FitConfig& config, const Diagnostics& diag);

// The text of a vocab.txt to record in a checkpoint: the vocabulary `option` names (a vocab.txt's own text;
// a tokenizer.json's or a folder's tokens, one a line), or the one `weights_path` records; nullopt when
// neither (the default BERT uncased vocabulary is not copied into every checkpoint).
std::optional<std::string> vocab_text_for(const std::string& option, const std::string& weights_path);

// The metadata a checkpoint trained with that tokenizer records: kVocabKey (vocab_text_for) and
// kTokenizerKey (the settings); empty for the default tokenizer.
std::map<std::string, std::string> tokenizer_metadata_for(const std::string& option,
                                                          const std::string& weights_path);

// The tokenizer a Hugging Face model folder holds: the folder when it has a tokenizer.json or a vocab.txt
// (tokenizer_for reads it with its settings), else "".
std::string tokenizer_in(const std::string& folder);

// A Frozen in Time checkpoint's weights for `towers` (the other tower is not read); its warnings
// (non-finite values, inflated tables) go to diag.warn. Throws InvalidArgument for a Hugging Face text
// model or a timm ViT, saying what takes them; the loader's errors otherwise.
WeightSet load_towers(const FitConfig& config, const std::string& weights_path, Towers towers,
                      const Diagnostics& diag);

// The video-tower hash the weights file records (metadata kVideoHashKey); "" when it records none (a
// PyTorch checkpoint, a converted file).
std::string recorded_video_hash(const std::string& weights_path);

// A config as a model identity (its JSON without the name), for comparing an index's config with a model's.
// Throws BadFile for text that is not a JSON object (a damaged index's config).
std::string model_identity(const std::string& config_json);

// The weights file's recorded video-tower hash (metadata kVideoHashKey, written by frost's exports), or —
// when it has none — the hash computed from `weights` (about a second per 400 MB; a note says so).
std::string video_hash_of(const std::string& weights_path, const WeightSet& weights, const Diagnostics& diag);

}  // namespace frost::model
