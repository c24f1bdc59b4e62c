// What a command needs to open a model, each from the option given, else from what the weights file
// records, else the default: the config (--config; metadata "frost.config"; base), the vocabulary
// (--vocab; metadata "frost.vocab"; BERT uncased) and the weights of the towers the command uses.
// Checkpoints frost writes (frost train, the demo) record their config and vocabulary, so
//   frost search --index demo/videos.index --weights demo/model.safetensors "a red circle moving left"
// needs no --config or --vocab. Converted reference checkpoints record neither: base and BERT uncased.
#pragma once

#include <optional>
#include <string>

#include "loader/tokenizer.h"
#include "model/config.h"
#include "model/weights.h"

namespace frost::cli {

using model::kConfigKey;  // the metadata keys frost writes into checkpoints beside the weights
using model::kVocabKey;

// The config for `weights_path` (may be empty: no checkpoint): `option` when given ("base", "tiny" or a
// JSON file), else the one the file records, else `fallback` (an index's own config), else base. An
// explicit option that differs from the recorded one is used, with a note. Throws as
// FitConfig::named_or_file, or for a recorded config that is not valid.
model::FitConfig config_for(const std::string& option, const std::string& weights_path,
                            const std::optional<model::FitConfig>& fallback = std::nullopt);

// The tokenizer: `option` (a vocab.txt) when given, else the vocabulary the weights file records, else
// BERT uncased. Throws InvalidArgument when the vocabulary does not fit the config's word-embedding table,
// saying where it came from and what to pass.
loader::WordPieceTokenizer tokenizer_for(const std::string& option, const std::string& weights_path,
                                         const model::FitConfig& config);

// The text of a vocab.txt to record in a checkpoint: the file's, or the one `weights_path` records; nullopt
// when neither (the default BERT uncased vocabulary is not copied into every checkpoint).
std::optional<std::string> vocab_text_for(const std::string& option, const std::string& weights_path);

// A Frozen in Time checkpoint's weights for `towers` (the other tower is not read), warnings printed.
model::WeightSet load_towers(const model::FitConfig& config, const std::string& weights_path,
                             model::Towers towers);

}  // namespace frost::cli
