// What `frost index` and `frost search` share: the video tower's hash of a weights file, an item's size and
// modification time, and the model-identity check between an index and a config.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "model/config.h"
#include "model/weights.h"
#include "retrieval/metrics.h"

namespace frost::cli {

// The weights file's recorded video-tower hash (metadata model::kVideoHashKey, written by frost's exports),
// or — when it has none — the hash computed from `weights` (about a second per 400 MB; says so on stderr).
std::string video_hash_of(const std::string& weights_path, const model::WeightSet& weights);

// A file's size and modification time (ns); for a folder of frames, the sum of its regular files' sizes and
// the newest one's time. Throws BadFile naming the path when it cannot be read.
struct ItemStamp {
  int64_t size = 0;
  int64_t mtime_ns = 0;
};
ItemStamp stamp_of(const std::string& path);

// The config as a model identity (every field but its name), for comparing an index with a config.
std::string model_identity(const model::FitConfig& config);
std::string model_identity(const std::string& config_json);

// One direction's metrics as the commands print them in JSON (eval, train's metrics.jsonl, demo):
// R1 R5 R10 R50 MedR MeanR geometric_mean queries candidates ties.
nlohmann::ordered_json metrics_json(const retrieval::Metrics& m, retrieval::Ties ties);

}  // namespace frost::cli
