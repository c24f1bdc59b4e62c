// frost plan --config base --batch 8 [--part video|text|dual] [--frames F] [--text-len L] [--train] [--json]
//
// Plans the dual encoder's memory without allocating weights or activations (plan_graph): per arena the
// planned bytes, the naive sum (every value its own bytes) and the lower bound (the most bytes live at one
// step after the same view and in-place decisions; for arenas that are not reused, the naive sum), and the
// ten largest values live at the activation peak. --train plans forward + loss + backward (the optimiser
// update arrives with the training issue).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "engine/autodiff.h"
#include "engine/backend.h"
#include "engine/compiled_graph.h"
#include "engine/error.h"
#include "engine/passes/passes.h"
#include "model/dual_encoder.h"

namespace frost::cli {
namespace {

struct PlanCommandOptions {
  std::string config = "base";
  int64_t batch = 8;
  std::string part = "video";
  int64_t frames = 0;
  int64_t text_len = 32;
  bool train = false;
  bool json = false;
  bool no_reuse = false;
  bool no_fuse = false;
  std::string backend = "cpu";
  CLI::App* cmd = nullptr;  // to ask which options were given
};

std::string mib(size_t bytes) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(2) << double(bytes) / (1024.0 * 1024.0) << " MiB";
  return os.str();
}

void run_plan(const PlanCommandOptions& opt) {
  auto given = [&](const char* name) { return opt.cmd->count(name) > 0; };
  FROST_CHECK(!opt.train || opt.part == "dual", InvalidArgument,
              "--train needs --part dual (the loss joins both encoders)");
  FROST_CHECK(!given("--frames") || opt.part != "text", InvalidArgument,
              "--frames does not apply to --part text (captions have no frames)");
  FROST_CHECK(!given("--text-len") || opt.part != "video", InvalidArgument,
              "--text-len does not apply to --part video");
  const std::vector<std::string>& backends = available_backends();
  FROST_CHECK(std::find(backends.begin(), backends.end(), opt.backend) != backends.end(), InvalidArgument,
              "--backend " << opt.backend << " is not in this build (frost --version lists the backends)");
  const model::FitConfig config = model::FitConfig::named_or_file(opt.config);
  FROST_CHECK(opt.frames <= config.video.num_frames, InvalidArgument,
              "--frames " << opt.frames << ": the model of config '" << config.name << "' takes 1 to "
                          << config.video.num_frames << " frames per clip");
  FROST_CHECK(opt.part == "video" || opt.text_len <= config.text.max_positions, InvalidArgument,
              "--text-len " << opt.text_len << ": the text model of config '" << config.name << "' has "
                            << config.text.max_positions << " positions");
  const model::Part part = opt.part == "text"   ? model::Part::Text
                           : opt.part == "dual" ? model::Part::Dual
                                                : model::Part::Video;
  model::FitGraph fg = model::build_fit_graph(config, {.part = part,
                                                       .batch = opt.batch,
                                                       .text_length = opt.text_len,
                                                       .frames = opt.frames,
                                                       .loss = opt.train,
                                                       .fuse = !opt.no_fuse});
  if (opt.train) {
    const std::vector<Tensor> params = fg.params->tensors();
    const std::vector<Tensor> grads = gradients(fg.loss, params);
    for (size_t i = 0; i < params.size(); ++i)
      if (grads[i].valid()) fg.graph->output("grad." + fg.params->specs()[i].name, grads[i]);
  }
  CompileOptions co{.backend = opt.backend};
  co.fuse = !opt.no_fuse;
  if (opt.no_reuse) co.plan.mode = PlanMode::NoReuse;
  const GraphPlan gp = plan_graph(*fg.graph, co);
  const MemoryPlan& m = gp.memory;
  const Graph& g = gp.graph;
  const std::vector<ValueId> peak = live_at(m, m.peak_step);

  // Arenas that hold nothing in this plan (gradients outside training, say) are not printed.
  auto arena_exists = [&](int a) { return m.naive_arena_bytes[size_t(a)] > 0; };
  auto lower_bound = [&](int a) {
    return Arena(a) == Arena::Activations ? m.activation_lower_bound : m.naive_arena_bytes[size_t(a)];
  };
  if (opt.json) {
    nlohmann::ordered_json out;
    out["config"] = config.name;
    out["part"] = opt.part;
    out["batch"] = opt.batch;
    out["train"] = opt.train;
    out["mode"] = opt.no_reuse ? "no_reuse" : "greedy";
    out["steps"] = gp.schedule.size();
    for (int a = 0; a < kNumArenas; ++a)
      if (arena_exists(a))
        out["arenas"][arena_name(Arena(a))] = {{"planned_bytes", m.arena_bytes[size_t(a)]},
                                               {"naive_bytes", m.naive_arena_bytes[size_t(a)]},
                                               {"lower_bound_bytes", lower_bound(a)}};
    out["peak_step"] = m.peak_step;
    out["peak_values"] = nlohmann::ordered_json::array();
    for (size_t i = 0; i < peak.size() && i < 10; ++i)
      out["peak_values"].push_back({{"value", g.describe_value(peak[i])}, {"bytes", m.slots[peak[i]].bytes}});
    out["fusions"] = nlohmann::ordered_json::object();
    for (const auto& [kind, count] : count_fused_ops(g)) out["fusions"][kind] = count;
    std::cout << out.dump(2) << "\n";
    return;
  }
  std::cout << "plan of " << display(config.name) << " " << opt.part
            << (opt.train ? " training" : " inference") << ", batch " << opt.batch << ": "
            << gp.schedule.size() << " steps, " << (opt.no_reuse ? "no_reuse" : "greedy") << "\n";
  std::cout << "  arena         planned        naive          lower bound\n";
  for (int a = 0; a < kNumArenas; ++a)
    if (arena_exists(a))
      std::cout << "  " << std::left << std::setw(12) << arena_name(Arena(a)) << std::right << std::setw(12)
                << mib(m.arena_bytes[size_t(a)]) << "  " << std::setw(12)
                << mib(m.naive_arena_bytes[size_t(a)]) << "  " << std::setw(12) << mib(lower_bound(a))
                << "\n";
  std::cout << "  activations per clip/caption: "
            << mib(m.arena_bytes[size_t(Arena::Activations)] / size_t(opt.batch)) << " planned, "
            << mib(m.activation_lower_bound / size_t(opt.batch)) << " lower bound\n";
  std::cout << "  fused ops:";
  for (const auto& [kind, count] : count_fused_ops(g)) std::cout << " " << kind << " " << count;
  std::cout << "\n  largest values live at the peak (step " << m.peak_step << "):\n";
  for (size_t i = 0; i < peak.size() && i < 10; ++i)
    std::cout << "    " << std::setw(12) << mib(m.slots[peak[i]].bytes) << "  " << g.describe_value(peak[i])
              << "\n";
}

}  // namespace

void add_plan_command(CLI::App& app) {
  auto opt = std::make_shared<PlanCommandOptions>();
  CLI::App* cmd =
      app.add_subcommand("plan", "Plan the dual encoder's memory ahead of time (allocates nothing)");
  opt->cmd = cmd;
  cmd->add_option("--config", opt->config, "base, tiny, or a JSON config file");
  cmd->add_option("--batch", opt->batch, "clips / captions per run")
      ->check(CLI::Range(int64_t(1), int64_t(1 << 16)));
  cmd->add_option("--part", opt->part, "video, text or dual")
      ->check(CLI::IsMember({"video", "text", "dual"}));
  cmd->add_option("--frames", opt->frames, "frames per clip (default: the config's)")
      ->check(CLI::Range(int64_t(1), int64_t(1024)));
  cmd->add_option("--text-len", opt->text_len, "tokens per caption")
      ->check(CLI::Range(int64_t(1), int64_t(1 << 16)));
  cmd->add_flag("--train", opt->train, "forward + loss + backward (needs --part dual)");
  cmd->add_flag("--no-reuse", opt->no_reuse, "every value its own bytes (the planner's off switch)");
  cmd->add_flag("--no-fuse", opt->no_fuse, "skip the fusion passes");
  cmd->add_option("--backend", opt->backend, "the backend whose kernels are planned");
  cmd->add_flag("--json", opt->json, "print one JSON object");
  set_command(cmd, [opt] { run_plan(*opt); });
}

}  // namespace frost::cli
