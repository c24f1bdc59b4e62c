// What a command needs to open a model (model/model_files.h), with its notes and warnings printed on
// stderr: the config (--config; metadata "frost.config"; base), the vocabulary (--vocab; metadata
// "frost.vocab"; BERT uncased) and the weights of the towers the command uses. Checkpoints frost writes
// record their config and vocabulary, so
//   frost search --index demo/videos.index --weights demo/model.safetensors "a red circle moving left"
// needs no --config or --vocab.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "loader/tokenizer.h"
#include "model/config.h"
#include "model/model_files.h"
#include "model/weights.h"

namespace frost::cli {

using model::kConfigKey;  // the metadata keys frost writes into checkpoints beside the weights
using model::kTokenizerKey;
using model::kVocabKey;
using model::tokenizer_in;
using model::tokenizer_metadata_for;
using model::vocab_text_for;

// model::config_for, tokenizer_for, load_towers and video_hash_of, printing what they note and warn
// ("frost <command>: note: ..."; a warning is an error under --strict).
model::FitConfig config_for(const std::string& option, const std::string& weights_path,
                            const std::optional<model::FitConfig>& fallback = std::nullopt);
loader::WordPieceTokenizer tokenizer_for(const std::string& option, const std::string& weights_path,
                                         const model::FitConfig& config);
model::WeightSet load_towers(const model::FitConfig& config, const std::string& weights_path,
                             model::Towers towers);
std::string video_hash_of(const std::string& weights_path, const model::WeightSet& weights);

}  // namespace frost::cli
