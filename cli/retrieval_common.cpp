#include "cli/retrieval_common.h"

#include <dirent.h>
#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/common.h"
#include "engine/error.h"
#include "loader/safetensors.h"
#include "loader/tensor_file.h"

namespace frost::cli {

std::string video_hash_of(const std::string& weights_path, const model::WeightSet& weights) {
  if (!loader::TensorFile::is_pytorch_file(weights_path)) {  // a PyTorch checkpoint records no hash
    const auto file = loader::TensorFile::open(weights_path);
    if (auto it = file.metadata().find(model::kVideoHashKey); it != file.metadata().end()) return it->second;
  }
  const auto start = std::chrono::steady_clock::now();
  const std::string hash = model::video_tower_hash(weights.tensors);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::ostringstream msg;
  msg << weights_path << " records no video-tower hash; computed it (" << std::fixed << std::setprecision(1)
      << s << " s) — checkpoints frost writes carry it";
  note(msg.str());
  return hash;
}

namespace {
int64_t mtime_ns(const struct stat& st) {
  return int64_t(st.st_mtim.tv_sec) * 1000000000 + int64_t(st.st_mtim.tv_nsec);
}
}  // namespace

ItemStamp stamp_of(const std::string& path) {
  struct stat st {};
  FROST_CHECK(::stat(path.c_str(), &st) == 0, BadFile, path << ": " << std::strerror(errno));
  if (!S_ISDIR(st.st_mode)) return {int64_t(st.st_size), mtime_ns(st)};
  ItemStamp stamp{0, mtime_ns(st)};
  DIR* dir = ::opendir(path.c_str());
  FROST_CHECK(dir != nullptr, BadFile, path << ": " << std::strerror(errno));
  while (const dirent* e = ::readdir(dir)) {
    struct stat f {};
    const std::string child = path + "/" + e->d_name;
    if (::stat(child.c_str(), &f) != 0 || !S_ISREG(f.st_mode)) continue;
    stamp.size += int64_t(f.st_size);
    stamp.mtime_ns = std::max(stamp.mtime_ns, mtime_ns(f));
  }
  ::closedir(dir);
  return stamp;
}

std::string model_identity(const std::string& config_json) {
  nlohmann::json j = nlohmann::json::parse(config_json);
  j.erase("name");
  return j.dump();
}

std::string model_identity(const model::FitConfig& config) {
  return model_identity(config.to_json());
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
