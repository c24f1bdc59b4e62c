// What a command needs to open a model, each from the option given, else from what the weights file
// records, else the default: the config (--config; metadata "frost.config"; base), the vocabulary
// (--vocab; metadata "frost.vocab"; BERT uncased) and the weights of the towers the command uses.
// Checkpoints frost writes (frost train, the demo) record their config and vocabulary (and the tokenizer's
// settings: lowercasing, accents, special tokens; metadata "frost.tokenizer"), so
//   frost search --index demo/videos.index --weights demo/model.safetensors "a red circle moving left"
// needs no --config or --vocab. Converted reference checkpoints record neither: base and BERT uncased.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "loader/tokenizer.h"
#include "model/config.h"
#include "model/weights.h"

namespace frost::cli {

using model::kConfigKey;  // the metadata keys frost writes into checkpoints beside the weights
using model::kVocabKey;
// The tokenizer's settings beside the vocabulary (loader::TokenizerOptions::to_json), so a cased model stays
// cased. A checkpoint that records a vocabulary without them is read by the rule for a vocabulary alone
// (WordPieceTokenizer::from_unconfigured_vocab_text).
using model::kTokenizerKey;

// The config for `weights_path` (may be empty: no checkpoint): `option` when given ("base", "tiny" or a
// JSON file), else the one the file records, else `fallback` (an index's own config), else base. An
// explicit option that differs from the recorded one is used, with a note. Throws as
// FitConfig::named_or_file, or for a recorded config that is not valid.
model::FitConfig config_for(const std::string& option, const std::string& weights_path,
                            const std::optional<model::FitConfig>& fallback = std::nullopt);

// The tokenizer: `option` when given (a Hugging Face model folder, a tokenizer.json or a vocab.txt, with
// the settings beside it: WordPieceTokenizer::from_path), else the vocabulary and settings the weights file
// records, else BERT uncased. What the user should know (settings inferred) is printed as notes. Throws
// InvalidArgument when the vocabulary does not fit the config's word-embedding table, saying where it came
// from and what to pass; the loader's errors for settings frost does not run.
loader::WordPieceTokenizer tokenizer_for(const std::string& option, const std::string& weights_path,
                                         const model::FitConfig& config);

// The text of a vocab.txt to record in a checkpoint: the vocabulary `option` names (a vocab.txt's own text;
// a tokenizer.json's or a folder's tokens, one a line), or the one `weights_path` records; nullopt when
// neither (the default BERT uncased vocabulary is not copied into every checkpoint).
std::optional<std::string> vocab_text_for(const std::string& option, const std::string& weights_path);

// The metadata a checkpoint trained with that tokenizer records: kVocabKey (vocab_text_for) and
// kTokenizerKey (the settings); empty for the default tokenizer. No notes are printed (tokenizer_for has).
std::map<std::string, std::string> tokenizer_metadata_for(const std::string& option,
                                                          const std::string& weights_path);

// The tokenizer a Hugging Face model folder holds, for `folder` (--text-weights' folder): the folder when
// it has a tokenizer.json or a vocab.txt (tokenizer_for reads it with its settings), else "".
std::string tokenizer_in(const std::string& folder);

// A Frozen in Time checkpoint's weights for `towers` (the other tower is not read), warnings printed.
model::WeightSet load_towers(const model::FitConfig& config, const std::string& weights_path,
                             model::Towers towers);

}  // namespace frost::cli
