// frost plan --config base --batch 8 [--part video|text|dual] [--frames F] [--text-len L] [--train] [--json]
//
// Plans the dual encoder's memory without allocating weights or activations (plan_graph): per arena the
// planned bytes, the naive sum (every value its own bytes) and the lower bound (the most bytes live at one
// step after the same view and in-place decisions; for arenas that are not reused, the naive sum), and the
// ten largest values live at the activation peak. --train plans the training step of train/trainer.h —
// forward, loss, backward, AdamW — with --clip-norm and --accumulation choosing the gradients' layout, and
// says where the gradients live and how many of their bytes are live at the activation peak.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "engine/backend.h"
#include "engine/compiled_graph.h"
#include "engine/error.h"
#include "engine/passes/passes.h"
#include "model/dual_encoder.h"
#include "train/trainer.h"

namespace frost::cli {
namespace {

struct PlanCommandOptions {
  std::string config = "base";
  int64_t batch = 8;
  std::string part = "video";
  int64_t frames = 0;
  int64_t text_len = 32;
  bool train = false;
  double clip_norm = 0;
  int64_t accumulation = 1;
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
  check_backend(opt.backend);
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
  FROST_CHECK(opt.train || (!given("--clip-norm") && !given("--accumulation")), InvalidArgument,
              "--clip-norm and --accumulation apply to --train only");
  CompileOptions co{.backend = opt.backend};
  co.fuse = !opt.no_fuse;
  if (opt.no_reuse) co.plan.mode = PlanMode::NoReuse;
  std::unique_ptr<Graph> graph;
  train::TrainOptions to{.batch = opt.batch,
                         .text_length = opt.text_len,
                         .frames = opt.frames,
                         .accumulation = opt.accumulation,
                         .clip_norm = opt.clip_norm,
                         .compile = co};
  std::vector<ValueId> gradient_values;
  size_t update_optimizer_bytes =
      0;  // accumulation: the update graph's optimizer arena (accumulators + moments)
  if (opt.train) {
    train::TrainingGraphs tg = train::build_training_graphs(config, to);
    graph = std::make_unique<Graph>(std::move(tg.step));
    gradient_values = tg.gradient_values;
    if (tg.update)
      update_optimizer_bytes = plan_graph(*tg.update, co).memory.arena_bytes[size_t(Arena::Optimizer)];
  } else {
    graph = std::move(model::build_fit_graph(config, {.part = part,
                                                      .batch = opt.batch,
                                                      .text_length = opt.text_len,
                                                      .frames = opt.frames,
                                                      .loss = false,
                                                      .fuse = !opt.no_fuse})
                          .graph);
  }
  const GraphPlan gp = plan_graph(*graph, co);
  const MemoryPlan& m = gp.memory;
  const Graph& g = gp.graph;
  const std::vector<ValueId> peak = live_at(m, m.peak_step);
  // The gradients' bytes in all, and those live at the activation peak: a gradient occupies the buffer of
  // its alias root, or — written in place over a dying input (a fan-in add over a partial gradient) — the
  // buffer that input's chain started; each buffer counts once.
  size_t gradient_bytes = 0, gradient_peak_bytes = 0;
  std::vector<ValueId> gradient_buffers;
  for (ValueId v : gradient_values) {
    gradient_bytes += m.slots[v].bytes;
    ValueId r = m.slots[v].alias_of != kNoId ? m.slots[v].alias_of : v;
    while (m.slots[r].inplace_of != kNoId) r = m.slots[r].inplace_of;
    gradient_buffers.push_back(r);
  }
  if (opt.accumulation == 1)
    for (const PlannedBuffer& b : m.buffers)
      if (b.bytes > 0 && b.first <= m.peak_step && m.peak_step <= b.last &&
          std::find(gradient_buffers.begin(), gradient_buffers.end(), b.value) != gradient_buffers.end())
        gradient_peak_bytes += b.bytes;

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
    if (opt.train)
      out["gradients"] = {{"placement", train::gradient_placement(to)},
                          {"bytes", gradient_bytes},
                          {"live_at_peak_bytes", gradient_peak_bytes}};
    if (update_optimizer_bytes > 0) out["update_graph_optimizer_bytes"] = update_optimizer_bytes;
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
  if (opt.train)
    std::cout << "  gradients: " << mib(gradient_bytes) << " in " << train::gradient_placement(to) << "; "
              << mib(gradient_peak_bytes) << " of them live at the activation peak\n";
  if (update_optimizer_bytes > 0)
    std::cout << "  (the micro-step graph, run " << opt.accumulation << " times per step; the update graph's "
              << "optimizer arena — accumulators and AdamW moments — is " << mib(update_optimizer_bytes)
              << ")\n";
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
  cmd->add_flag("--train", opt->train,
                "the training step: forward, loss, backward, AdamW (needs --part dual)");
  cmd->add_option("--clip-norm", opt->clip_norm, "--train: clip by global gradient norm (gradients held)")
      ->check(CLI::Range(0.0, 1e30));
  cmd->add_option("--accumulation", opt->accumulation,
                  "--train: micro-batches per step (plans the micro-step graph; gradients accumulate in "
                  "the optimizer arena)")
      ->check(CLI::Range(int64_t(1), int64_t(1 << 16)));
  cmd->add_flag("--no-reuse", opt->no_reuse, "every value its own bytes (the planner's off switch)");
  cmd->add_flag("--no-fuse", opt->no_fuse, "skip the fusion passes");
  cmd->add_option("--backend", opt->backend, "the backend whose kernels are planned");
  cmd->add_flag("--json", opt->json, "print one JSON object");
  set_command(cmd, [opt] { run_plan(*opt); });
}

}  // namespace frost::cli
