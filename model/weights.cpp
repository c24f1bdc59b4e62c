#include "model/weights.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

#include "engine/error.h"
#include "loader/hash.h"
#include "loader/safetensors.h"
#include "loader/tensor_file.h"
#include "model/dual_encoder.h"

namespace frost::model {
namespace {

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string strip(const std::string& s, const std::string& prefix) {
  return starts_with(s, prefix) ? s.substr(prefix.size()) : s;
}

bool starts_with_any(const std::string& s, std::initializer_list<const char*> prefixes) {
  for (const char* p : prefixes)
    if (starts_with(s, p)) return true;
  return false;
}

// The reference's temporal-table inflation (model.py _inflate_positional_embeds) on (1, Fc, C) → (1, F, C).
HostTensor inflate_temporal(const HostTensor& t, int64_t F, TemporalFix fix) {
  const int64_t Fc = t.shape()[1], C = t.shape()[2];
  HostTensor out(DType::F32, {1, F, C});
  const float* in = t.data<float>();
  float* o = out.data<float>();
  if (Fc >= F || fix == TemporalFix::Zeros) {  // truncate, or copy the first frames and zero the rest
    std::copy_n(in, std::min(Fc, F) * C, o);
    return out;
  }
  for (int64_t f = 0; f < F; ++f) {
    if (fix == TemporalFix::Interp) {  // nearest: source floor(f * Fc / F)
      const int64_t src = std::min(Fc - 1, int64_t(std::floor(double(f) * double(Fc) / double(F))));
      std::copy_n(in + src * C, C, o + f * C);
    } else {  // bilinear with align_corners=True along frames (the embedding axis keeps its size)
      const double pos = F > 1 ? double(f) * double(Fc - 1) / double(F - 1) : 0.0;
      const int64_t i0 = std::min(Fc - 1, int64_t(std::floor(pos))), i1 = std::min(Fc - 1, i0 + 1);
      const float w1 = float(pos - double(i0)), w0 = 1.0f - w1;
      for (int64_t c = 0; c < C; ++c) o[f * C + c] = in[i0 * C + c] * w0 + in[i1 * C + c] * w1;
    }
  }
  return out;
}

// The reference's initial values of the parameters a ViT checkpoint lacks (spec §1.6, §4.3).
HostTensor vit_init_value(const std::string& name, const Shape& shape) {
  HostTensor t(DType::F32, shape);  // zeros: temporal_embed, timeattn qkv, proj bias, norm3 bias
  if (ends_with(name, ".timeattn.proj.weight") || ends_with(name, ".norm3.weight"))
    std::fill_n(t.data<float>(), t.numel(), 1.0f);
  return t;
}

bool vit_init_covers(const std::string& name) {
  return name == "video_model.temporal_embed" ||
         (starts_with(name, "video_model.blocks.") &&
          (name.find(".timeattn.") != std::string::npos || name.find(".norm3.") != std::string::npos));
}

}  // namespace

std::string list_some(const std::vector<std::string>& items, size_t limit) {
  std::ostringstream os;
  size_t n = 0;
  for (const auto& s : items) {
    if (n == limit) {
      os << "\n    ... and " << (items.size() - limit) << " more";
      break;
    }
    os << "\n    " << s;
    ++n;
  }
  return os.str();
}

std::vector<ParamSpec> fit_param_specs(const FitConfig& c) {
  FitGraph fg =
      build_fit_graph(c, {.part = Part::Dual, .batch = 1, .text_length = 1, .frames = 1, .loss = false});
  return fg.params->specs();
}

std::string canonical_weight_name(const std::string& raw, WeightSource source, const FitConfig& c) {
  const std::string name = strip(raw, "module.");
  switch (source) {
    case WeightSource::FrozenInTime:
      if (name == "text_model.embeddings.position_ids")
        return "";  // a buffer some transformers versions saved
      return name;
    case WeightSource::HuggingFaceText: {
      std::string n = strip(strip(name, "distilbert."), "bert.");
      // Task heads and buffers: DistilBERT MLM (vocab_*), BERT MLM/NSP (cls.*), classifiers, QA, position
      // ids.
      if (starts_with_any(n, {"vocab_transform.", "vocab_layer_norm.", "vocab_projector.", "pre_classifier.",
                              "classifier.", "qa_outputs.", "cls.", "lm_head."}) ||
          n == "embeddings.position_ids")
        return "";
      if (starts_with(n, "pooler.") && !(c.text.arch == TextArch::Bert && c.text.use_pooler)) return "";
      return "text_model." + n;
    }
    case WeightSource::TimmVit:
      if (starts_with_any(name, {"head.", "fc_norm.", "pre_logits.", "head_drop."})) return "";
      return "video_model." + name;
  }
  return name;
}

bool in_towers(const std::string& name, Towers towers) {
  const bool text = name.rfind("text_model.", 0) == 0 || name.rfind("txt_proj.", 0) == 0;
  return towers == Towers::Both || (towers == Towers::Text) == text;
}

WeightSet load_weights(const FitConfig& c, const std::vector<WeightFile>& files, const LoadOptions& options) {
  std::vector<ParamSpec> specs;
  std::map<std::string, Shape> expected;
  std::set<std::string> other_tower;  // the tower not asked for: skipped, never required
  for (const ParamSpec& s : fit_param_specs(c)) {
    if (!in_towers(s.name, options.towers)) {
      other_tower.insert(s.name);
      continue;
    }
    specs.push_back(s);
    expected.emplace(s.name, s.shape);
  }

  WeightSet set;
  std::vector<std::string> unexpected, misshaped, duplicated;
  std::set<std::string> rejected;  // canonical names found but refused: reported as mis-shaped, not missing
  bool from_vit = false;
  for (const WeightFile& file : files) {
    from_vit = from_vit || file.source == WeightSource::TimmVit;
    const auto st = loader::TensorFile::open(file.path);  // safetensors or a PyTorch checkpoint
    for (const loader::TensorEntry& e : st.tensors()) {
      const std::string name = canonical_weight_name(e.name, file.source, c);
      if (name.empty() || other_tower.count(name)) {
        set.ignored.push_back(file.path + ": " + e.name);
        continue;
      }
      auto it = expected.find(name);
      if (it == expected.end()) {
        unexpected.push_back(file.path + ": " + e.name + " " + e.dtype_name + to_string(e.shape));
        continue;
      }
      if (set.tensors.count(name)) {
        duplicated.push_back(name + " (again in " + file.path + " as " + e.name + ")");
        continue;
      }
      const Shape& want = it->second;
      const bool temporal = name == "video_model.temporal_embed" && e.shape.rank() == 3 && want.rank() == 3 &&
                            e.shape[0] == 1 && e.shape[2] == want[2];
      if (e.shape != want && !temporal) {
        misshaped.push_back(file.path + ": " + e.name + " is " + to_string(e.shape) + ", the model's " +
                            name + " is " + to_string(want));
        rejected.insert(name);
        continue;
      }
      if (!e.dtype || !(*e.dtype == DType::F32 || *e.dtype == DType::F16 || *e.dtype == DType::BF16 ||
                        *e.dtype == DType::F64)) {
        misshaped.push_back(file.path + ": " + e.name + " has dtype " + e.dtype_name +
                            " (weights must be F32, F16, BF16 or F64)");
        rejected.insert(name);
        continue;
      }
      // Borrowed from the mapped file when it is F32 already (no copy: the compiled graphs then compute on
      // the file's pages, shared with the page cache), else converted into a copy.
      HostTensor t = st.read_shared(e.name, DType::F32);
      if (temporal && e.shape != want) {
        set.warnings.push_back(file.path + ": " + name + ": the checkpoint has " +
                               std::to_string(e.shape[1]) + " frames, the model " + std::to_string(want[1]) +
                               ": inflated as the reference does");
        t = inflate_temporal(t, want[1], options.temporal_fix);
      }
      int64_t bad = 0;
      for (int64_t i = 0; i < t.numel(); ++i) bad += !std::isfinite(t.data<float>()[i]);
      if (bad > 0)
        set.warnings.push_back(file.path + ": " + name + ": " + std::to_string(bad) + " of " +
                               std::to_string(t.numel()) + " values are NaN or Inf");
      set.tensors.emplace(name, std::move(t));
    }
  }
  std::vector<std::string> missing;
  for (const ParamSpec& s : specs) {
    if (set.tensors.count(s.name) || rejected.count(s.name)) continue;
    if (from_vit && vit_init_covers(s.name)) {
      set.tensors.emplace(s.name, vit_init_value(s.name, s.shape));
      continue;
    }
    if (!options.allow_missing) missing.push_back(s.name + " " + to_string(s.shape));
  }
  if (!missing.empty() || !unexpected.empty() || !misshaped.empty() || !duplicated.empty()) {
    std::ostringstream os;
    os << "the weights do not fit the " << c.name << " config";
    // A whole tower absent is one fact, not a hundred: say which, and which commands need it.
    for (const auto& [tower, what] : {std::pair{Towers::Text, "text"}, std::pair{Towers::Video, "video"}}) {
      if (options.towers != Towers::Both && options.towers != tower) continue;
      bool any = false, all_missing = true;
      for (const ParamSpec& s : specs)
        if (in_towers(s.name, tower)) {
          any = true;
          all_missing = all_missing && !set.tensors.count(s.name) && !rejected.count(s.name);
        }
      if (any && all_missing)
        os << ": the " << what << " tower ("
           << (tower == Towers::Text ? "text_model.*, txt_proj.*" : "video_model.*, vid_proj.*")
           << ") is not in the files given — "
           << (tower == Towers::Text ? "embedding captions" : "embedding videos and images")
           << " needs a checkpoint that holds it";
    }
    if (!missing.empty()) os << "\n  " << missing.size() << " missing:" << list_some(missing);
    if (!unexpected.empty()) os << "\n  " << unexpected.size() << " unexpected:" << list_some(unexpected);
    if (!misshaped.empty()) os << "\n  " << misshaped.size() << " mis-shaped:" << list_some(misshaped);
    if (!duplicated.empty()) os << "\n  " << duplicated.size() << " given twice:" << list_some(duplicated);
    throw_error(ErrorCategory::BadFile, os.str());
  }
  return set;
}

void WeightSet::apply(CompiledGraph& cg, const std::vector<std::string>& other_states) const {
  const std::set<std::string> skip(other_states.begin(), other_states.end());
  std::vector<std::string> absent;
  for (const Value& v : cg.graph().values()) {
    if (v.role != ValueRole::State || skip.count(v.name)) continue;
    auto it = tensors.find(v.name);
    if (it == tensors.end()) {
      absent.push_back(v.name);
      continue;
    }
    cg.set_state(v.name, it->second);
  }
  FROST_CHECK(absent.empty(), InvalidArgument,
              "the weight set has no values for " << absent.size()
                                                  << " parameters of the graph:" << list_some(absent));
}

std::string video_tower_hash(const std::map<std::string, HostTensor>& tensors) {
  loader::Sha256 h;
  for (const auto& [name, t] : tensors) {  // std::map: sorted by name
    if (name.rfind("video_model.", 0) != 0 && name.rfind("vid_proj.", 0) != 0) continue;
    std::ostringstream type;
    type << t.dtype() << t.shape();
    h.update(name);
    h.update("\0", 1);
    h.update(type.str());
    h.update("\0", 1);
    h.update(t.raw(), t.bytes());
  }
  return h.hex();
}

}  // namespace frost::model
