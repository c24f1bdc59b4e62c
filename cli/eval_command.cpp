// frost eval --weights W [--config C] --data TEST.csv [--ties reference|pessimistic] [--json]
//
// Text-to-video and video-to-text retrieval metrics of a checkpoint on a dataset (loader/dataset.h: CSV or
// JSONL of video, caption[, id]; a video may have several captions), as the reference's test.py reports them
// (retrieval/metrics.h): every caption ranks all the dataset's videos, every video ranks all captions (its
// best caption counts). Ties are the reference's (optimistic t2v, averaged v2t) unless --ties pessimistic.
// --sliding-window-stride S averages each video's window embeddings as test.py -s S does.
// Videos are sampled uniformly and preprocessed as the reference tests; images are one-frame clips. A video
// that cannot be read is skipped with its captions, with a warning (an error under --strict).
#include <CLI/CLI.hpp>
#include <cstring>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/model_files.h"
#include "cli/retrieval_common.h"
#include "engine/backend.h"
#include "engine/error.h"
#include "loader/dataset.h"
#include "loader/files.h"
#include "loader/image.h"
#include "model/encoder.h"
#include "retrieval/metrics.h"
#include "train/validation.h"

namespace frost::cli {
namespace {

struct EvalOptions {
  std::string data;
  std::string weights;
  std::string config;  // "": the checkpoint's, else base
  std::string vocab;
  std::string backend = "cpu";
  std::string ties = "reference";
  int64_t frames = 0;
  int64_t batch = 8;
  int64_t stride = 0;  // --sliding-window-stride; 0: one uniform clip per video
  bool json = false;
};

void run_eval(const EvalOptions& opt) {
  check_backend(opt.backend);
  const loader::Dataset data = loader::read_dataset(opt.data);
  const model::FitConfig config = config_for(opt.config, opt.weights);
  const int64_t F = opt.frames > 0 ? opt.frames : config.video.num_frames;
  FROST_CHECK(F <= config.video.num_frames, InvalidArgument,
              "--frames " << F << ": the model of config '" << config.name << "' takes 1 to "
                          << config.video.num_frames << " frames per clip");
  model::WeightSet weights = load_towers(config, opt.weights, model::Towers::Both);
  model::DualEncoder encoder(config, std::move(weights), tokenizer_for(opt.vocab, opt.weights, config),
                             {.backend = opt.backend, .batch_size = opt.batch});
  const bool pessimistic = opt.ties == "pessimistic";
  train::RetrievalOptions ro;
  ro.frames = F;
  ro.stride = opt.stride;
  ro.t2v_ties = pessimistic ? retrieval::Ties::Pessimistic : retrieval::Ties::Optimistic;
  ro.v2t_ties = pessimistic ? retrieval::Ties::Pessimistic : retrieval::Ties::Averaged;
  ro.on_skip = [](const std::string& why) { warn(why); };
  ro.on_warning = warn;
  const train::RetrievalResult r = train::evaluate_retrieval(encoder, data, ro);
  const retrieval::Evaluation& e = r.metrics;
  const retrieval::Ties t2v_ties = ro.t2v_ties, v2t_ties = ro.v2t_ties;
  const size_t skipped = size_t(r.skipped_videos);
  if (opt.json) {
    nlohmann::ordered_json out;
    out["data"] = loader::escape_invalid_utf8(opt.data);
    out["t2v"] = metrics_json(e.t2v, t2v_ties);
    out["v2t"] = metrics_json(e.v2t, v2t_ties);
    out["skipped_videos"] = skipped;
    out["sliding_window_stride"] = opt.stride;
    std::cout << out.dump() << "\n";
    return;
  }
  std::cout << display(opt.data) << ": " << r.text_rows.size() << " captions, " << r.videos.size()
            << " videos" << (skipped ? " (" + std::to_string(skipped) + " skipped)" : "") << "\n"
            << "  t2v  " << retrieval::format_metrics(e.t2v) << ", " << retrieval::ties_name(t2v_ties)
            << " ties\n"
            << "  v2t  " << retrieval::format_metrics(e.v2t) << ", " << retrieval::ties_name(v2t_ties)
            << " ties\n";
}

}  // namespace

void add_eval_command(CLI::App& app) {
  auto opt = std::make_shared<EvalOptions>();
  CLI::App* cmd = app.add_subcommand(
      "eval", "Retrieval metrics (R@K, MedR, MeanR) of a checkpoint on a video-caption dataset");
  cmd->add_option("--data", opt->data, "a dataset: .csv (video, caption[, id]) or .jsonl")->required();
  cmd->add_option("--weights", opt->weights, "a Frozen in Time checkpoint (.safetensors)")->required();
  cmd->add_option("--config", opt->config,
                  "base, tiny, or a JSON config file (default: the one the checkpoint records, else base)");
  cmd->add_option("--vocab", opt->vocab,
                  "a tokenizer: a Hugging Face model folder, a tokenizer.json, or a vocab.txt (with the "
                  "tokenizer_config.json beside it, if any) "
                  "(default: the one the checkpoint records, else BERT uncased, as the reference)");
  cmd->add_option("--backend", opt->backend, "the backend to run on (frost --version lists them)");
  cmd->add_option("--frames", opt->frames, "frames sampled per video (default: the config's)")
      ->check(CLI::Range(int64_t(1), int64_t(1024)));
  cmd->add_option("--batch", opt->batch, "clips per run")->check(CLI::Range(int64_t(1), int64_t(4096)));
  cmd->add_option(
         "--sliding-window-stride", opt->stride,
         "test.py -s: windows at offsets arange(0, frames / (F + 1), STRIDE), their embeddings averaged "
         "per video (default: one uniform clip)")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 30));
  cmd->add_option("--ties", opt->ties,
                  "reference (optimistic t2v, averaged v2t, as test.py) or pessimistic (every tie against)")
      ->check(CLI::IsMember({"reference", "pessimistic"}));
  cmd->add_flag("--json", opt->json, "print one JSON object");
  set_command(cmd, [opt] { run_eval(*opt); });
}

}  // namespace frost::cli
