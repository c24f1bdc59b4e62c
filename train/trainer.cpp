#include "train/trainer.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "engine/autodiff.h"
#include "loader/safetensors.h"
#include "model/dual_encoder.h"
#include "ops/api.h"

namespace frost::train {

using nlohmann::json;

namespace {

constexpr const char* kMetadataKey = "frost.training";
constexpr int kCheckpointFormat = 1;

const char* variant_name(AdamWVariant v) {
  return v == AdamWVariant::Transformers ? "transformers" : "torch";
}
const char* schedule_name(ScheduleKind k) {
  return k == ScheduleKind::Constant ? "constant" : k == ScheduleKind::Linear ? "linear" : "cosine";
}

// sqrt(sum of the per-gradient sums of squares): the global L2 norm (torch's clip_grad_norm_, norm 2).
Tensor global_norm(const std::vector<Tensor>& squares) {
  std::vector<Tensor> parts;
  for (const Tensor& s : squares) parts.push_back(reshape(s, {1}));
  return sqrt(sum(parts.size() == 1 ? parts[0] : concat(parts, 0)));
}

// torch.nn.utils.clip_grad_norm_: min(1, max_norm / (norm + 1e-6)), as -max(-c, -1).
Tensor clip_coefficient(Tensor norm, double max_norm) {
  Graph& g = *norm.graph;
  Tensor c = fill(g, {}, norm.dtype(), max_norm) / (norm + fill(g, {}, norm.dtype(), 1e-6));
  return neg(max(concat({reshape(neg(c), {1}), fill(g, {1}, norm.dtype(), -1.0)}, 0)));
}

json options_json(const TrainOptions& o) {
  return {{"batch", o.batch},
          {"text_length", o.text_length},
          {"frames", o.frames},
          {"accumulation", o.accumulation},
          {"adamw",
           {{"variant", variant_name(o.adamw.variant)},
            {"lr", o.adamw.lr},
            {"betas", {o.adamw.beta1, o.adamw.beta2}},
            {"eps", o.adamw.eps},
            {"weight_decay", o.adamw.weight_decay}}},
          {"schedule",
           {{"kind", schedule_name(o.schedule.kind)},
            {"warmup_steps", o.schedule.warmup_steps},
            {"total_steps", o.schedule.total_steps}}},
          {"decay_everything", o.decay_everything},
          {"clip_norm", o.clip_norm},
          {"frozen", o.frozen},
          {"dropout", o.dropout},
          {"attention_dropout", o.attention_dropout},
          {"seed", o.seed}};
}

// The config as a model identity: every field but the name (a config read from "tiny.json" is "tiny" too).
json model_identity(const std::string& config_json) {
  json j = json::parse(config_json);
  j.erase("name");
  return j;
}

}  // namespace

void TrainOptions::validate() const {
  FROST_CHECK(batch > 0 && text_length > 0 && frames >= 0, InvalidArgument,
              "training: batch (" << batch << ") and text_length (" << text_length
                                  << ") must be positive, frames (" << frames << ") non-negative");
  FROST_CHECK(accumulation >= 1 && accumulation <= 1 << 16, InvalidArgument,
              "training: accumulation must be in [1, 65536], got " << accumulation);
  FROST_CHECK(std::isfinite(clip_norm) && clip_norm >= 0, InvalidArgument,
              "training: clip_norm must be finite and non-negative (0 = off), got " << clip_norm);
  FROST_CHECK(
      dropout >= 0 && dropout < 1 && attention_dropout >= 0 && attention_dropout < 1, InvalidArgument,
      "training: dropout probabilities must be in [0, 1), got " << dropout << " and " << attention_dropout);
  adamw_coefficients(adamw, 1, adamw.lr, true);  // throws naming a bad beta, eps, lr or decay
  schedule_factor(schedule, 0);
  FROST_CHECK(schedule.kind == ScheduleKind::Constant || schedule.total_steps > schedule.warmup_steps,
              InvalidArgument,
              "training: a decaying schedule needs total_steps ("
                  << schedule.total_steps << ") past warmup_steps (" << schedule.warmup_steps << ")");
  FROST_CHECK(!compile.states, InvalidArgument, "training: the trainer makes its own state store");
}

TrainingGraphs build_training_graphs(const model::FitConfig& config, const TrainOptions& options) {
  config.validate();
  options.validate();
  TrainingGraphs out;
  const bool accumulate = options.accumulation > 1;
  model::FitGraph fg = model::build_fit_graph(config, {.part = model::Part::Dual,
                                                       .batch = options.batch,
                                                       .text_length = options.text_length,
                                                       .frames = options.frames,
                                                       .fuse = options.compile.fuse,
                                                       .dropout = options.dropout,
                                                       .attention_dropout = options.attention_dropout,
                                                       .dropout_seed = options.seed});
  out.dropout_active = options.dropout > 0 || options.attention_dropout > 0;
  Graph& g = *fg.graph;
  const std::vector<Tensor> all = fg.params->tensors();
  std::vector<Tensor> trainable;
  for (const std::string& prefix : options.frozen) {
    const bool matches = std::any_of(fg.params->specs().begin(), fg.params->specs().end(),
                                     [&](const model::ParamSpec& s) { return s.name.rfind(prefix, 0) == 0; });
    FROST_CHECK(!prefix.empty() && matches, InvalidArgument,
                "training: frozen prefix '" << prefix << "' matches no parameter (e.g. 'text_model.', "
                                            << "'video_model.blocks.0.', 'txt_proj.')");
  }
  for (size_t i = 0; i < all.size(); ++i) {
    const std::string& name = fg.params->specs()[i].name;
    out.param_names.push_back(name);
    const bool frozen = std::any_of(options.frozen.begin(), options.frozen.end(),
                                    [&](const std::string& p) { return name.rfind(p, 0) == 0; });
    if (frozen) continue;
    trainable.push_back(all[i]);
    out.trainable_names.push_back(name);
  }
  FROST_CHECK(!trainable.empty(), InvalidArgument, "training: every parameter is frozen");

  std::function<bool(const std::string&)> decays = decays_by_default;
  if (options.decay_everything) decays = [](const std::string&) { return true; };
  const bool immediate = !accumulate && options.clip_norm <= 0;  // updates placed at each gradient
  AdamWBuilder adam(g, decays);
  std::vector<Tensor> squares(trainable.size()), held(trainable.size());
  out.gradient_values.assign(trainable.size(), kNoId);
  gradients(fg.loss, trainable, [&](size_t i, Tensor grad) {
    out.gradient_values[i] = grad.id;
    if (accumulate) {
      Tensor acc = g.state("grad." + out.trainable_names[i], DType::F32, trainable[i].shape(), nullptr,
                           StateKind::Optimizer);
      assign(acc, acc + grad);
      return;
    }
    squares[i] = sum(grad * grad);
    if (immediate)
      adam.add(trainable[i], grad);
    else
      held[i] = grad;
  });
  for (size_t i = 0; i < trainable.size(); ++i)
    FROST_CHECK(out.gradient_values[i] != kNoId, InvalidArgument,
                "training: parameter '" << out.trainable_names[i] << "' does not reach the loss; freeze it");

  if (!accumulate) {
    Tensor norm = global_norm(squares);
    g.output("grad_norm", norm);
    if (!immediate) {
      const Tensor coef = clip_coefficient(norm, options.clip_norm);
      for (size_t i = 0; i < trainable.size(); ++i) adam.add(trainable[i], held[i] * coef);
    }
    out.adam = adam.result();
    out.step = std::move(g);
    return out;
  }
  std::vector<Shape> shapes;
  for (const Tensor& t : trainable) shapes.push_back(t.shape());
  out.step = std::move(g);  // the Tensor handles on it are dead from here

  // The update graph: the accumulated gradients' norm, clipping, AdamW.
  out.update = std::make_unique<Graph>();
  Graph& u = *out.update;
  AdamWBuilder uadam(u, decays);
  std::vector<Tensor> params, accs;
  for (size_t i = 0; i < trainable.size(); ++i) {
    const Shape& shape = shapes[i];
    params.push_back(u.state(out.trainable_names[i], DType::F32, shape));
    accs.push_back(
        u.state("grad." + out.trainable_names[i], DType::F32, shape, nullptr, StateKind::Optimizer));
    squares[i] = sum(accs[i] * accs[i]);
  }
  Tensor norm = global_norm(squares);
  u.output("grad_norm", norm);
  Tensor coef = options.clip_norm > 0 ? clip_coefficient(norm, options.clip_norm) : Tensor{};
  for (size_t i = 0; i < trainable.size(); ++i) uadam.add(params[i], coef.valid() ? accs[i] * coef : accs[i]);
  out.adam = uadam.result();
  return out;
}

std::string gradient_placement(const TrainOptions& options) {
  if (options.accumulation > 1) return "optimizer arena (accumulators)";
  if (options.clip_norm > 0) return "activations, all held until the clipping norm is known";
  return "activations, each consumed by its parameter's update as soon as it is complete";
}

Trainer::Trainer(model::FitConfig config, TrainOptions options)
    : config_(std::move(config)), options_(std::move(options)) {
  TrainingGraphs graphs = build_training_graphs(config_, options_);
  store_ = std::make_shared<StateStore>(options_.compile.backend);
  CompileOptions co = options_.compile;
  co.states = store_;
  micro_ = compile(graphs.step, co);
  if (graphs.update) update_ = compile(*graphs.update, co);
  adam_ = std::move(graphs.adam);
  param_names_ = std::move(graphs.param_names);
  trainable_names_ = std::move(graphs.trainable_names);
  dropout_active_ = graphs.dropout_active;
}

Trainer::~Trainer() = default;

void Trainer::set_weights(const model::WeightSet& weights) {
  std::vector<std::string> missing;
  for (const std::string& name : param_names_) {
    auto it = weights.tensors.find(name);
    if (it == weights.tensors.end()) {
      missing.push_back(name);
      continue;
    }
    FROST_CHECK(it->second.dtype() == DType::F32 && it->second.shape() == store_->type(name).shape,
                InvalidArgument,
                "training: weight '" << name << "' is " << it->second.dtype() << it->second.shape()
                                     << ", the model's " << to_string(store_->type(name)));
  }
  FROST_CHECK(
      missing.empty(), InvalidArgument,
      "training: the weights lack " << missing.size() << " parameters, e.g. '" << missing.front() << "'");
  for (const std::string& name : param_names_) store_->set(name, weights.tensors.at(name));
}

void Trainer::bind_batch(CompiledGraph& cg, const MicroBatch& b) const {
  cg.set_input("input_ids", b.input_ids);
  cg.set_input("attention_mask", b.attention_mask);
  if (config_.text.arch == model::TextArch::Bert) cg.set_input("token_type_ids", b.token_type_ids);
  cg.set_input("video", b.video);
}

int64_t Trainer::frames_of(const CompiledGraph& cg) {
  return cg.graph().value(cg.graph().find_source("video")).type.shape[1];
}

CompiledGraph& Trainer::micro_graph_for(const MicroBatch& b) {
  const int64_t F = b.video.shape().rank() == 5 ? b.video.shape()[1] : 0;
  if (F <= 0 || F == frames_of(*micro_)) return *micro_;
  auto it = other_micro_.find(F);
  if (it != other_micro_.end()) return *it->second;
  FROST_CHECK(F <= config_.video.num_frames, InvalidArgument,
              "training: a micro-batch of " << F << "-frame clips; the model has " << config_.video.num_frames
                                            << " temporal positions");
  // The same step (or micro-step) at another frame count, over the same state store: parameters, moments
  // and accumulators are shared by name, so steps may alternate between frame counts (images and videos).
  TrainOptions o = options_;
  o.frames = F;
  TrainingGraphs graphs = build_training_graphs(config_, o);
  CompileOptions co = options_.compile;
  co.states = store_;
  return *other_micro_.emplace(F, compile(graphs.step, co)).first->second;
}

StepResult Trainer::step(std::span<const MicroBatch> micro_batches) {
  FROST_CHECK(int64_t(micro_batches.size()) == options_.accumulation, InvalidArgument,
              "training: a step takes " << options_.accumulation << " micro-batches (the accumulation), got "
                                        << micro_batches.size());
  // Each micro-batch runs on the graph of its frame count (compiled on first use).
  std::vector<CompiledGraph*> graphs;
  for (const MicroBatch& b : micro_batches) graphs.push_back(&micro_graph_for(b));
  // Every micro-batch is checked before anything runs, so a bad one changes nothing.
  auto check = [&](const char* name, const HostTensor& t, size_t k) {
    const Graph& mg = graphs[k]->graph();
    const ValueId id = mg.find_source(name);
    if (id == kNoId) return;
    const TensorType& want = mg.value(id).type;
    FROST_CHECK(t.dtype() == want.dtype && t.shape() == want.shape, InvalidArgument,
                "training: micro-batch " << k << ": " << name << " is " << t.dtype() << t.shape()
                                         << ", the step takes " << to_string(want));
  };
  for (size_t k = 0; k < micro_batches.size(); ++k) {
    check("input_ids", micro_batches[k].input_ids, k);
    check("attention_mask", micro_batches[k].attention_mask, k);
    check("token_type_ids", micro_batches[k].token_type_ids, k);
    check("video", micro_batches[k].video, k);
  }
  const int64_t t = step_ + 1;
  const double lr = options_.adamw.lr * schedule_factor(options_.schedule, t - 1);
  CompiledGraph& last = update_ ? *update_ : *graphs.front();  // K = 1: the step graph updates
  adam_.set_step(last, options_.adamw, t, lr);
  double loss = 0;
  const int64_t micro_before = micro_steps_;
  struct Rollback {  // a throw part-way leaves no step done: the dropout stream and accumulators restart
    Trainer& t;
    int64_t micro;
    bool armed = true;
    ~Rollback() {
      if (!armed) return;
      t.micro_steps_ = micro;
      if (t.update_)
        for (const std::string& name : t.trainable_names_) t.store_->zero("grad." + name);
    }
  } rollback{*this, micro_before};
  for (size_t k = 0; k < micro_batches.size(); ++k) {
    CompiledGraph& g = *graphs[k];
    bind_batch(g, micro_batches[k]);
    if (dropout_active_) {
      HostTensor offset(DType::I64, {});
      offset.data<int64_t>()[0] = micro_steps_;
      g.set_input("dropout.offset", offset);
    }
    g.run();
    ++micro_steps_;
    loss += g.output_copy("loss").to(DType::F64).data<double>()[0];
  }
  if (update_) {
    update_->run();
    for (const std::string& name : trainable_names_) store_->zero("grad." + name);
  }
  const double norm = last.output_copy("grad_norm").to(DType::F64).data<double>()[0];
  rollback.armed = false;
  step_ = t;
  if (!std::isfinite(loss) || !std::isfinite(norm)) {
    std::ostringstream ids;
    for (const MicroBatch& b : micro_batches)
      for (const std::string& id : b.sample_ids) ids << (ids.tellp() > 0 ? ", " : "") << id;
    std::ostringstream msg;
    msg << "training diverged at step " << t << ": loss " << loss << ", gradient norm " << norm;
    if (ids.tellp() > 0) msg << " (samples " << ids.str() << ")";
    throw Diverged(msg.str(), t);
  }
  return {t, loss, norm, lr};
}

model::WeightSet Trainer::weights() const {
  model::WeightSet w;
  for (const std::string& name : param_names_) w.tensors.emplace(name, parameter(name));
  return w;
}

HostTensor Trainer::parameter(const std::string& name) const {
  FROST_CHECK(std::find(param_names_.begin(), param_names_.end(), name) != param_names_.end(),
              InvalidArgument, "training: no parameter named '" << name << "'");
  return store_->copy(name);
}

void Trainer::save_checkpoint(const std::string& path) const {
  std::vector<HostTensor> copies;
  std::vector<std::string> names = param_names_;
  names.insert(names.end(), adam_.moment_states.begin(), adam_.moment_states.end());
  copies.reserve(names.size());
  std::vector<std::pair<std::string, const HostTensor*>> tensors;
  for (const std::string& name : names) {
    copies.push_back(store_->copy(name));
    tensors.emplace_back(name, &copies.back());
  }
  const json meta = {{"format", kCheckpointFormat},
                     {"step", step_},
                     {"micro_steps", micro_steps_},
                     {"seed", options_.seed},
                     {"config", json::parse(config_.to_json())},
                     {"trainable", trainable_names_},
                     {"options", options_json(options_)}};
  std::map<std::string, std::string> metadata = file_metadata_;
  metadata[kMetadataKey] = meta.dump();
  metadata[model::kConfigKey] = config_.to_json();
  loader::write_safetensors(path, tensors, metadata);
}

void Trainer::set_file_metadata(std::map<std::string, std::string> metadata) {
  for (const auto& [key, value] : metadata)
    FROST_CHECK(key.rfind(kMetadataKey, 0) != 0 && key != model::kConfigKey && key != model::kVideoHashKey &&
                    key != "frost.step" && key != "format",
                InvalidArgument, "training: metadata key '" << key << "' is the trainer's own");
  file_metadata_ = std::move(metadata);
}

void Trainer::load_checkpoint(const std::string& path) {
  const auto file = loader::SafetensorsFile::open(path);
  auto it = file.metadata().find(kMetadataKey);
  FROST_CHECK(it != file.metadata().end(), BadFile,
              path << ": not a frost training checkpoint (no '" << kMetadataKey
                   << "' metadata) — weights alone are loaded with set_weights, not resumed");
  json meta;
  try {
    meta = json::parse(it->second);
  } catch (const json::exception&) {
    FROST_FAIL(BadFile, path << ": its '" << kMetadataKey << "' metadata is not JSON");
  }
  try {
    FROST_CHECK(
        meta.at("format").get<int>() == kCheckpointFormat, BadFile,
        path << ": checkpoint format " << meta.at("format") << ", this frost reads " << kCheckpointFormat);
    const json theirs = model_identity(meta.at("config").dump()), ours = model_identity(config_.to_json());
    if (theirs != ours) {
      std::string field = "?";
      for (const auto& [key, value] : ours.items())
        if (!theirs.contains(key) || theirs.at(key) != value) {
          field = key;
          if (value.is_object())
            for (const auto& [k2, v2] : value.items())
              if (!theirs.at(key).contains(k2) || theirs.at(key).at(k2) != v2) field = key + "." + k2;
          break;
        }
      FROST_FAIL(BadFile, path << ": the checkpoint is of another model (config field '" << field
                               << "' differs: "
                               << "checkpoint " << meta.at("config").dump() << ")");
    }
    const auto their_trainable = meta.at("trainable").get<std::vector<std::string>>();
    if (their_trainable != trainable_names_) {
      std::set<std::string> a(their_trainable.begin(), their_trainable.end()),
          b(trainable_names_.begin(), trainable_names_.end());
      std::string example;
      for (const std::string& n : b)
        if (!a.count(n)) example = "'" + n + "' is trained here but was frozen in the checkpoint";
      for (const std::string& n : a)
        if (example.empty() && !b.count(n))
          example = "'" + n + "' was trained in the checkpoint but is frozen here";
      FROST_FAIL(BadFile, path << ": its optimizer state does not fit this trainer (" << example
                               << "): resume with the same frozen parameters");
    }
    const json& their = meta.at("options");
    const json ours_opt = options_json(options_);
    for (const char* key : {"variant", "betas"})
      FROST_CHECK(their.at("adamw").at(key) == ours_opt.at("adamw").at(key), BadFile,
                  path << ": trained with AdamW " << key << " " << their.at("adamw").at(key).dump()
                       << ", this trainer's is " << ours_opt.at("adamw").at(key).dump()
                       << ": its moments would not fit");
    const bool their_dropout =
        their.at("dropout").get<double>() > 0 || their.at("attention_dropout").get<double>() > 0;
    if (dropout_active_ && their_dropout)
      FROST_CHECK(meta.at("seed").get<uint64_t>() == options_.seed, BadFile,
                  path << ": trained with dropout seed " << meta.at("seed") << ", this trainer's is "
                       << options_.seed << ": the masks would not continue — use the checkpoint's seed");
    std::vector<std::string> names = param_names_;
    names.insert(names.end(), adam_.moment_states.begin(), adam_.moment_states.end());
    std::vector<HostTensor> values;
    for (const std::string& name : names) {
      const loader::TensorEntry* e = file.find(name);
      FROST_CHECK(e != nullptr, BadFile, path << ": the checkpoint has no tensor '" << name << "'");
      FROST_CHECK(e->dtype == DType::F32 && e->shape == store_->type(name).shape, BadFile,
                  path << ": tensor '" << name << "' is " << e->dtype_name << e->shape << ", the trainer's "
                       << to_string(store_->type(name)));
      values.push_back(file.read(name));
    }
    const int64_t step = meta.at("step").get<int64_t>(), micro = meta.at("micro_steps").get<int64_t>();
    FROST_CHECK(step >= 0 && micro >= 0, BadFile, path << ": negative step count");
    for (size_t i = 0; i < names.size(); ++i) store_->set(names[i], values[i]);
    if (update_)
      for (const std::string& name : trainable_names_) store_->zero("grad." + name);
    step_ = step;
    micro_steps_ = micro;
  } catch (const json::exception& e) {
    FROST_FAIL(BadFile, path << ": its '" << kMetadataKey << "' metadata lacks a field or has a wrong type");
  }
}

std::vector<std::pair<std::string, Shape>> Trainer::inference_names(const model::FitConfig& c) {
  std::vector<std::pair<std::string, Shape>> out;
  for (const model::ParamSpec& s : model::fit_param_specs(c)) out.emplace_back("module." + s.name, s.shape);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

void Trainer::export_inference(const std::string& path) const {
  std::map<std::string, HostTensor> by_name;
  for (const std::string& name : param_names_) by_name.emplace(name, store_->copy(name));
  std::vector<std::pair<std::string, const HostTensor*>> tensors;
  for (const auto& [name, t] : by_name) tensors.emplace_back("module." + name, &t);
  std::map<std::string, std::string> metadata = file_metadata_;
  metadata["format"] = "pt";
  metadata[model::kConfigKey] = config_.to_json();
  metadata["frost.step"] = std::to_string(step_);
  metadata[model::kVideoHashKey] = model::video_tower_hash(by_name);
  loader::write_safetensors(path, tensors, metadata);
}

std::string Trainer::report() const {
  std::ostringstream os;
  os << (update_ ? "micro-step graph (run " + std::to_string(options_.accumulation) + " times per step)\n"
                 : "training step graph\n")
     << micro_->report();
  if (update_) os << "update graph\n" << update_->report();
  os << "gradients: " << gradient_placement() << "\n";
  return os.str();
}

LoopEnd run_training(Trainer& trainer, const std::function<std::vector<MicroBatch>(int64_t step)>& batches,
                     const LoopOptions& o) {
  FROST_CHECK(o.steps >= 0 && o.checkpoint_every >= 0, InvalidArgument,
              "training loop: steps and checkpoint_every must be non-negative");
  std::string last_good = "none written";
  auto checkpoint = [&] {
    if (o.checkpoint_path.empty()) return;
    trainer.save_checkpoint(o.checkpoint_path);
    last_good = o.checkpoint_path + " (step " + std::to_string(trainer.step_count()) + ")";
  };
  bool ran = false;
  while (trainer.step_count() < o.steps) {
    if (trainer.stop_requested()) {
      if (ran) checkpoint();
      trainer.clear_stop();
      return LoopEnd::Stopped;
    }
    const std::vector<MicroBatch> b = batches(trainer.step_count() + 1);
    StepResult r;
    try {
      r = trainer.step(b);
    } catch (const Diverged& e) {
      throw Diverged(std::string(e.what()) + "; the last good checkpoint is " + last_good, e.step());
    }
    ran = true;
    if (o.on_step) o.on_step(r);
    if (o.checkpoint_every > 0 && r.step % o.checkpoint_every == 0 && r.step < o.steps) checkpoint();
  }
  if (ran) checkpoint();
  const bool stopped = trainer.stop_requested();
  trainer.clear_stop();
  return stopped ? LoopEnd::Stopped : LoopEnd::Finished;
}

}  // namespace frost::train
