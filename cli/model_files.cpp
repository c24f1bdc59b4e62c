#include "cli/model_files.h"

#include "cli/common.h"

namespace frost::cli {
namespace {

// The command's notes and warnings on stderr, escaped for the terminal (paths are the user's bytes).
model::Diagnostics printed() {
  return {.note = [](const std::string& m) { note(display(m)); },
          .warn = [](const std::string& m) { warn(display(m)); }};
}

}  // namespace

model::FitConfig config_for(const std::string& option, const std::string& weights_path,
                            const std::optional<model::FitConfig>& fallback) {
  return model::config_for(option, weights_path, fallback, printed());
}

loader::WordPieceTokenizer tokenizer_for(const std::string& option, const std::string& weights_path,
                                         const model::FitConfig& config) {
  return model::tokenizer_for(option, weights_path, config, printed());
}

model::WeightSet load_towers(const model::FitConfig& config, const std::string& weights_path,
                             model::Towers towers) {
  return model::load_towers(config, weights_path, towers, printed());
}

std::string video_hash_of(const std::string& weights_path, const model::WeightSet& weights) {
  return model::video_hash_of(weights_path, weights, printed());
}

}  // namespace frost::cli
