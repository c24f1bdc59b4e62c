#include "model/init.h"

#include <cmath>
#include <string>

#include "engine/error.h"
#include "engine/random.h"

namespace frost::model {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

// FNV-1a: the tensor's stream, from its name alone.
uint64_t name_stream(const std::string& name) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char ch : name) h = (h ^ ch) * 1099511628211ull;
  return h;
}

}  // namespace

WeightSet initial_weights(const FitConfig& c, uint64_t seed, int64_t pad_id) {
  c.validate();
  FROST_CHECK(pad_id >= 0 && pad_id < c.text.vocab_size, InvalidArgument,
              "initial weights: pad id " << pad_id << " is outside the vocabulary of " << c.text.vocab_size);
  WeightSet set;
  for (const ParamSpec& spec : fit_param_specs(c)) {
    const std::string& n = spec.name;
    HostTensor t(DType::F32, spec.shape);
    const Philox rng(seed, name_stream(n));
    const int64_t patch_fan_in = c.video.channels * c.video.patch_size * c.video.patch_size;
    if (starts_with(n, "txt_proj.") || starts_with(n, "vid_proj.")) {
      // PyTorch's Linear default: kaiming_uniform_(a=√5) gives U(±1/√in) for the weight; the bias too.
      const int64_t in = starts_with(n, "txt_proj.") ? c.text.dim : c.video.dim;
      const double bound = 1.0 / std::sqrt(double(in));
      fill_uniform(t, rng, -bound, bound);
    } else if (starts_with(n, "video_model.patch_embed.proj.")) {
      const double bound = 1.0 / std::sqrt(double(patch_fan_in));  // Conv2d's default, fan_in = C·P·P
      fill_uniform(t, rng, -bound, bound);
    } else if (n == "video_model.temporal_embed") {
      // zero, as HostTensor starts
    } else if (spec.shape.rank() == 1) {
      // 1-D: LayerNorm weights (1) and every bias (0).
      const bool norm_weight = ends_with(n, ".weight");
      float* p = t.data<float>();
      for (int64_t i = 0; i < t.numel(); ++i) p[i] = norm_weight ? 1.0f : 0.0f;
    } else {
      // Linear weights, embedding tables, pos_embed, cls_token: N(0, 0.02).
      fill_normal(t, rng, 0.0, 0.02);
      if (ends_with(n, "word_embeddings.weight")) {
        float* row = t.data<float>() + pad_id * spec.shape[1];
        for (int64_t j = 0; j < spec.shape[1]; ++j) row[j] = 0.0f;
      }
    }
    set.tensors.emplace(n, std::move(t));
  }
  return set;
}

}  // namespace frost::model
