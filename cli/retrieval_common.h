// What `frost index` and `frost search` share: an item's size and modification time, the model-identity
// check between an index and a config, metrics as JSON. (The video tower's hash of a weights file:
// cli/model_files.h.)
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "model/config.h"
#include "model/model_files.h"
#include "model/weights.h"
#include "retrieval/index.h"
#include "retrieval/metrics.h"

namespace frost::cli {

using model::model_identity;  // a config's JSON as a model identity (model/model_files.h)
using retrieval::ItemStamp;   // an item's size and modification time (retrieval/index.h)
using retrieval::stamp_of;

// The config as a model identity (every field but its name), for comparing an index with a config.
std::string model_identity(const model::FitConfig& config);

// One direction's metrics as the commands print them in JSON (eval, train's metrics.jsonl, demo):
// R1 R5 R10 R50 MedR MeanR geometric_mean queries candidates ties.
nlohmann::ordered_json metrics_json(const retrieval::Metrics& m, retrieval::Ties ties);

}  // namespace frost::cli
