#include "cli/retrieval_common.h"

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "cli/common.h"
#include "engine/error.h"

namespace frost::cli {

std::string model_identity(const model::FitConfig& config) {
  return model::model_identity(config.to_json());
}

nlohmann::ordered_json metrics_json(const retrieval::Metrics& m, retrieval::Ties ties) {
  return {{"R1", m.R1},
          {"R5", m.R5},
          {"R10", m.R10},
          {"R50", m.R50},
          {"MedR", m.MedR},
          {"MeanR", m.MeanR},
          {"geometric_mean", m.geometric_mean},
          {"queries", m.queries},
          {"candidates", m.candidates},
          {"ties", retrieval::ties_name(ties)}};
}

}  // namespace frost::cli
