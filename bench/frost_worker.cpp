// frost's side of bench/compare_pytorch.py: one workload of the dual encoder, in its own process, driven
// over stdin/stdout so the harness can interleave its timed rounds with PyTorch's and ONNX Runtime's and
// measure every contender's memory the same way.
//
//   bench_frost_worker --workload text|video|train --config base|tiny --weights W.safetensors
//                      --inputs I.safetensors --out O.safetensors [--warmup N] [--lr X]
//
// Workloads (the same graphs the `frost` command and the trainer run):
//   text   the DistilBERT text encoder + txt_proj: inputs "input_ids" I64 (B, L), "attention_mask" I64
//          (B, L); outputs "text_embedding" (B, P), "text_features" (B, D)
//   video  the SpaceTimeTransformer + vid_proj: input "video" F32 (B, F, 3, S, S); outputs
//          "video_embedding", "video_features"
//   train  one optimiser step of the dual encoder through train::Trainer: forward, NormSoftmax loss,
//          backward, AdamW (PyTorch's variant, eps 1e-6, no weight decay, learning rate --lr) over every
//          parameter; inputs "input_ids", "attention_mask", "video"; outputs "loss" F32 (warm-up steps,
//          one loss each: step k's loss shows the effect of the first k - 1 updates) and the parameters
//          named in the inputs file's metadata "check_params" (comma-separated) after the warm-up steps
//
// Protocol (one JSON object per stdout line; diagnostics on stderr):
//   start    the baseline resident set is read before the weights are loaded (VmRSS, then the
//            high-water mark reset through /proc/self/clear_refs); the worker loads, compiles, runs
//            --warmup times, writes --out and prints {"event":"ready", ...}
//   "run N"  N timed runs → {"event":"times","seconds":[...]} (wall clock, steady_clock)
//   "profile N"  N runs of the workload's compiled graph with every step timed
//            (CompiledGraph::run_profiled) → {"event":"profile","runs":N,"ops":[{"op","kernel","steps",
//            "seconds","flops","bytes"}, ...]}: per op and kernel, seconds per run and the cost model's
//            flops and bytes per run. For train, the step graph alone (the trainer's host-side
//            bookkeeping between steps is not in it), run with the last step's inputs
//   "quit"   → {"event":"done","baseline_rss":B,"peak_rss":P,"rss_anon":A,"rss_file":F} in bytes (VmHWM:
//            the whole process, weights, optimiser state and arenas included; the resident set now,
//            anonymous and file-backed), then exits
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "engine/compiled_graph.h"
#include "engine/error.h"
#include "engine/state_store.h"
#include "loader/safetensors.h"
#include "model/dual_encoder.h"
#include "model/weights.h"
#include "train/trainer.h"

namespace {

using namespace frost;
using Clock = std::chrono::steady_clock;

// A /proc/self/status field in bytes ("VmRSS", "VmHWM"); 0 if absent.
size_t status_bytes(const std::string& field) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(field + ":", 0) == 0) return size_t(std::stoull(line.substr(field.size() + 1))) * 1024;
  return 0;
}

// Resets VmHWM to the current resident set (Linux ≥ 4.0), so the peak read at the end is the peak after
// the baseline; without it the peak still bounds the process from above.
void reset_peak() {
  std::ofstream f("/proc/self/clear_refs");
  f << "5";
}

struct Args {
  std::string workload, config = "base", weights, inputs, out;
  int warmup = 2;
  double lr = 3e-5;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    FROST_CHECK(i + 1 < argc, InvalidArgument, "option " << k << " needs a value");
    const std::string v = argv[++i];
    if (k == "--workload")
      a.workload = v;
    else if (k == "--config")
      a.config = v;
    else if (k == "--weights")
      a.weights = v;
    else if (k == "--inputs")
      a.inputs = v;
    else if (k == "--out")
      a.out = v;
    else if (k == "--warmup")
      a.warmup = std::stoi(v);
    else if (k == "--lr")
      a.lr = std::stod(v);
    else
      FROST_FAIL(InvalidArgument, "unknown option " << k);
  }
  FROST_CHECK(a.workload == "text" || a.workload == "video" || a.workload == "train", InvalidArgument,
              "--workload must be text, video or train, got '" << a.workload << "'");
  FROST_CHECK(!a.weights.empty() && !a.inputs.empty() && !a.out.empty(), InvalidArgument,
              "--weights, --inputs and --out are required");
  FROST_CHECK(a.warmup >= (a.workload == "train" ? 2 : 1), InvalidArgument,
              "--warmup must be at least 1 (2 for train: the check compares the losses of two steps)");
  return a;
}

std::string json_bytes(const MemoryPlan& plan) {
  std::ostringstream s;
  s << "{";
  for (int a = 0; a < kNumArenas; ++a)
    s << (a ? "," : "") << "\"" << arena_name(Arena(a)) << "\":" << plan.arena_bytes[size_t(a)];
  s << "}";
  return s.str();
}

// One workload: run() is what the harness times.
class Workload {
 public:
  virtual ~Workload() = default;
  virtual void run() = 0;
  // Written to --out after the warm-up runs.
  virtual std::vector<std::pair<std::string, HostTensor>> outputs() = 0;
  // The planned bytes per arena and the graph's flop count (cost model), as JSON members.
  virtual std::string plan_json() const = 0;
  // The compiled graph run() runs (for a training step: the step graph).
  virtual CompiledGraph& graph() = 0;
};

model::FitConfig config_named(const std::string& name) {
  if (name == "base") return model::FitConfig::base();
  if (name == "tiny") return model::FitConfig::tiny();
  FROST_FAIL(InvalidArgument, "--config must be base or tiny, got '" << name << "'");
}

class Inference : public Workload {
 public:
  Inference(const Args& a, const loader::SafetensorsFile& in) : text_(a.workload == "text") {
    const model::FitConfig c = config_named(a.config);
    model::WeightSet w =
        model::load_weights(c, {{a.weights}}, {.towers = text_ ? model::Towers::Text : model::Towers::Video});
    // As model::DualEncoder holds them: adopted by one store the graph binds, where they lie (the mapped
    // file's pages), not copied into the graph's weights arena.
    for (auto& [name, t] : w.tensors) states_->adopt(name, StateKind::Parameter, std::move(t));
    model::FitGraphOptions o;
    if (text_) {
      HostTensor ids = in.read("input_ids");
      o = {.part = model::Part::Text, .batch = ids.shape()[0], .text_length = ids.shape()[1]};
      cg_ = compile(*model::build_fit_graph(c, o).graph, {.backend = "cpu", .states = states_});
      cg_->set_input("input_ids", ids);
      // the encoder's own conversion (model/encoder.cpp): the tokenizer's I64 mask as F32
      cg_->set_input("attention_mask", in.read("attention_mask").to(DType::F32));
    } else {
      HostTensor video = in.read("video");
      o = {.part = model::Part::Video, .batch = video.shape()[0], .frames = video.shape()[1]};
      cg_ = compile(*model::build_fit_graph(c, o).graph, {.backend = "cpu", .states = states_});
      cg_->set_input("video", video);
    }
  }
  void run() override {
    cg_->run();
    // What a caller reads back (model::DualEncoder copies the embeddings out of every run).
    embedding_ = cg_->output_copy(text_ ? "text_embedding" : "video_embedding");
  }
  std::vector<std::pair<std::string, HostTensor>> outputs() override {
    const std::string p = text_ ? "text_" : "video_";
    return {{p + "embedding", cg_->output_copy(p + "embedding")},
            {p + "features", cg_->output_copy(p + "features")}};
  }
  CompiledGraph& graph() override { return *cg_; }
  std::string plan_json() const override {
    return "\"threads\":" + std::to_string(cg_->threads()) + ",\"planned_bytes\":" + json_bytes(cg_->plan()) +
           ",\"state_bytes\":{\"parameters\":" + std::to_string(states_->bytes(StateKind::Parameter)) +
           "},\"graph_flops\":" + std::to_string(cg_->total_cost().flops);
  }

 private:
  bool text_;
  std::shared_ptr<StateStore> states_ = std::make_shared<StateStore>("cpu");
  std::unique_ptr<CompiledGraph> cg_;
  HostTensor embedding_;
};

class TrainStep : public Workload {
 public:
  TrainStep(const Args& a, const loader::SafetensorsFile& in) {
    const model::FitConfig c = config_named(a.config);
    batch_.input_ids = in.read("input_ids");
    batch_.attention_mask = in.read("attention_mask").to(DType::F32);
    batch_.video = in.read("video");
    const Shape& v = batch_.video.shape();
    train::TrainOptions o{.batch = v[0], .text_length = batch_.input_ids.shape()[1], .frames = v[1]};
    o.adamw = {.variant = train::AdamWVariant::Torch, .lr = a.lr, .eps = 1e-6, .weight_decay = 0.0};
    trainer_ = std::make_unique<train::Trainer>(c, o);
    trainer_->set_weights(model::load_weights(c, {{a.weights}}));
    const auto& md = in.metadata();
    if (auto it = md.find("check_params"); it != md.end()) {
      std::stringstream s(it->second);
      for (std::string name; std::getline(s, name, ',');) check_.push_back(name);
    }
  }
  void run() override { losses_.push_back(trainer_->step({&batch_, 1}).loss); }
  std::vector<std::pair<std::string, HostTensor>> outputs() override {
    std::vector<std::pair<std::string, HostTensor>> out;
    HostTensor loss(DType::F32, {int64_t(losses_.size())});
    for (size_t i = 0; i < losses_.size(); ++i) loss.data<float>()[i] = float(losses_[i]);
    out.emplace_back("loss", std::move(loss));
    for (const std::string& n : check_) out.emplace_back(n, trainer_->parameter(n));
    return out;
  }
  CompiledGraph& graph() override { return trainer_->step_graph(); }
  std::string plan_json() const override {
    CompiledGraph& g = trainer_->step_graph();
    const StateStore& s = trainer_->states();
    return "\"threads\":" + std::to_string(g.threads()) + ",\"planned_bytes\":" + json_bytes(g.plan()) +
           ",\"state_bytes\":{\"parameters\":" + std::to_string(s.bytes(StateKind::Parameter)) +
           ",\"optimizer\":" + std::to_string(s.bytes(StateKind::Optimizer)) +
           "},\"graph_flops\":" + std::to_string(g.total_cost().flops);
  }

 private:
  train::MicroBatch batch_;
  std::unique_ptr<train::Trainer> trainer_;
  std::vector<double> losses_;
  std::vector<std::string> check_;
};

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// `n` profiled runs of g, per (op, kernel): steps, seconds, flops and bytes per run, as a JSON line.
std::string profile_json(CompiledGraph& g, int n) {
  std::vector<double> seconds(g.num_steps(), 0.0);
  for (int i = 0; i < n; ++i) g.run_profiled(seconds);
  const std::vector<std::string> kernels = g.kernel_names();
  const auto costs = g.step_costs();
  struct Row {
    int steps = 0;
    double seconds = 0, flops = 0, bytes = 0;
  };
  std::map<std::pair<std::string, std::string>, Row> rows;
  for (size_t i = 0; i < seconds.size(); ++i) {
    Row& r = rows[{op_name(costs[i].first), kernels[i]}];
    r.steps += 1;
    r.seconds += seconds[i] / n;
    r.flops += costs[i].second.flops;
    r.bytes += costs[i].second.bytes;
  }
  std::ostringstream s;
  s.precision(9);
  s << "{\"event\":\"profile\",\"runs\":" << n << ",\"ops\":[";
  bool first = true;
  for (const auto& [key, r] : rows) {
    s << (first ? "" : ",") << "{\"op\":\"" << key.first << "\",\"kernel\":\"" << key.second
      << "\",\"steps\":" << r.steps << ",\"seconds\":" << r.seconds << ",\"flops\":" << r.flops
      << ",\"bytes\":" << r.bytes << "}";
    first = false;
  }
  s << "]}";
  return s.str();
}

int run_worker(const Args& a) {
  const size_t baseline = status_bytes("VmRSS");
  reset_peak();
  const auto t0 = Clock::now();
  std::unique_ptr<Workload> w;
  {
    const loader::SafetensorsFile in = loader::SafetensorsFile::open(a.inputs);
    if (a.workload == "train")
      w = std::make_unique<TrainStep>(a, in);
    else
      w = std::make_unique<Inference>(a, in);
  }
  const double setup_s = seconds_since(t0);
  std::vector<double> warm;
  for (int i = 0; i < a.warmup; ++i) {
    const auto t = Clock::now();
    w->run();
    warm.push_back(seconds_since(t));
  }
  {
    const auto outs = w->outputs();
    std::vector<std::pair<std::string, const HostTensor*>> refs;
    for (const auto& [name, t] : outs) refs.emplace_back(name, &t);
    loader::write_safetensors(a.out, refs);
  }
  std::cout << "{\"event\":\"ready\",\"setup_s\":" << setup_s << ",\"warmup_s\":[";
  for (size_t i = 0; i < warm.size(); ++i) std::cout << (i ? "," : "") << warm[i];
  std::cout << "]," << w->plan_json() << "}" << std::endl;

  for (std::string line; std::getline(std::cin, line);) {
    if (line.rfind("run ", 0) == 0) {
      const int n = std::stoi(line.substr(4));
      std::vector<double> times;
      for (int i = 0; i < n; ++i) {
        const auto t = Clock::now();
        w->run();
        times.push_back(seconds_since(t));
      }
      std::cout << "{\"event\":\"times\",\"seconds\":[";
      for (size_t i = 0; i < times.size(); ++i) std::cout << (i ? "," : "") << times[i];
      std::cout << "]}" << std::endl;
    } else if (line.rfind("profile ", 0) == 0) {
      std::cout << profile_json(w->graph(), std::stoi(line.substr(8))) << std::endl;
    } else if (line == "quit") {
      std::cout << "{\"event\":\"done\",\"baseline_rss\":" << baseline
                << ",\"peak_rss\":" << status_bytes("VmHWM") << ",\"rss_anon\":" << status_bytes("RssAnon")
                << ",\"rss_file\":" << status_bytes("RssFile") << "}" << std::endl;
      return 0;
    } else {
      std::cerr << "bench_frost_worker: unknown command '" << line << "'\n";
      return 2;
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::cout.precision(9);
  try {
    return run_worker(parse(argc, argv));
  } catch (const std::exception& e) {
    std::cerr << "bench_frost_worker: " << e.what() << "\n";
    std::cout << "{\"event\":\"error\"}" << std::endl;
    return 1;
  }
}
