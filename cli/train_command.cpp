// frost train --config C --data TRAIN [--data TRAIN2] [--val VAL] [--weights W | --resume CKPT] --out DIR ...
//
// Trains the dual encoder (train/trainer.h) on datasets (loader/dataset.h) fed by the data pipeline
// (train/data_pipeline.h), with validation every --val-every steps (train/validation.h: the reference's
// retrieval metrics), a progress bar on a terminal and plain lines otherwise, and in --out:
//   checkpoint.safetensors  resumable (weights, AdamW moments, step, RNG): every --checkpoint-every steps,
//                           at the end, and when interrupted (Ctrl-C once: the step finishes, the checkpoint
//                           is written, exit 130; twice: at once)
//   model.safetensors       the weights alone, `module.`-named (frost encode/index/search/eval --weights)
//   metrics.jsonl           one line per step (loss, lr, grad_norm, pairs/s, data wait) and per validation
// Initial weights: --weights (a Frozen in Time checkpoint, e.g. an earlier run's model.safetensors — the
// curriculum's second stage; a temporal table of another length is inflated by --temporal-fix), else
// from scratch (model/init.h, --init-seed). --resume continues a run exactly: same step count, optimiser
// state and data order.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/model_files.h"
#include "cli/retrieval_common.h"
#include "cli/train_command.h"
#include "engine/error.h"
#include "loader/dataset.h"
#include "loader/files.h"
#include "loader/tokenizer.h"
#include "model/encoder.h"
#include "model/init.h"
#include "model/weights.h"
#include "train/data_pipeline.h"
#include "train/trainer.h"
#include "train/validation.h"

namespace frost::cli {
namespace {

train::Trainer* g_trainer = nullptr;
extern "C" void on_interrupt(int sig) {
  if (g_trainer == nullptr || g_trainer->stop_requested()) {  // a second interrupt: now
    loader::remove_temporary_files();
    std::signal(sig, SIG_DFL);
    std::raise(sig);
    return;
  }
  g_trainer->request_stop();
}

std::string duration_text(double s) {
  char buf[32];
  if (s < 60)
    std::snprintf(buf, sizeof buf, "%.0fs", s);
  else if (s < 3600)
    std::snprintf(buf, sizeof buf, "%dm%02ds", int(s / 60), int(s) % 60);
  else
    std::snprintf(buf, sizeof buf, "%dh%02dm", int(s / 3600), int(s / 60) % 60);
  return buf;
}

}  // namespace

void run_train(const TrainCommandOptions& opt, int* exit_code) {
  namespace fs = std::filesystem;
  check_backend(opt.backend);
  FROST_CHECK(!(opt.steps > 0 && opt.epochs > 0), InvalidArgument,
              "--steps and --epochs: give one (a step is one optimiser update)");
  FROST_CHECK(opt.weights.empty() || opt.resume.empty(), InvalidArgument,
              "--weights and --resume: --resume restores the weights itself");
  const bool parts = !opt.text_weights.empty() || !opt.video_weights.empty();
  FROST_CHECK(
      !parts || (opt.weights.empty() && opt.resume.empty()), InvalidArgument,
      (opt.resume.empty() ? "--weights" : "--resume")
          << " and --text-weights/--video-weights: the first is a whole Frozen in Time model; give one");
  // The checkpoint a run starts from records its config and vocabulary (frost writes them).
  const std::string& start_file = !opt.resume.empty() ? opt.resume : opt.weights;
  const model::FitConfig config = config_for(opt.config, start_file);
  const int64_t F = opt.frames > 0 ? opt.frames : config.video.num_frames;
  FROST_CHECK(F <= config.video.num_frames, InvalidArgument,
              "--frames " << F << ": the model of config '" << config.name << "' takes 1 to "
                          << config.video.num_frames << " frames per clip");
  const loader::WordPieceTokenizer tokenizer = tokenizer_for(opt.vocab, start_file, config);
  FROST_CHECK(opt.text_length <= config.text.max_positions, InvalidArgument,
              "--text-length " << opt.text_length << " exceeds the text model's " << config.text.max_positions
                               << " positions");

  // The output folder: never another run's files, unless resuming from it.
  const fs::path out(opt.out);
  const fs::path checkpoint = out / "checkpoint.safetensors", exported = out / "model.safetensors",
                 log_path = out / "metrics.jsonl";
  std::error_code ec;
  if (opt.resume.empty())
    FROST_CHECK(!fs::exists(checkpoint, ec) && !fs::exists(log_path, ec), InvalidArgument,
                "--out " << display(opt.out) << " already holds a training run — --resume "
                         << display(checkpoint.string()) << " continues it; or choose another --out");
  fs::create_directories(out, ec);
  FROST_CHECK(!ec && fs::is_directory(out), Io,
              "--out " << display(opt.out) << ": cannot create the folder (" << ec.message() << ")");

  std::vector<loader::Dataset> sources;
  for (const std::string& d : opt.data) sources.push_back(loader::read_dataset(d));

  train::TrainOptions to;
  to.batch = opt.batch;
  to.text_length = opt.text_length;
  to.frames = F;
  to.accumulation = opt.accumulate;
  to.adamw = {
      .variant = opt.adamw == "torch" ? train::AdamWVariant::Torch : train::AdamWVariant::Transformers,
      .lr = opt.lr,
      .weight_decay = opt.weight_decay};
  to.clip_norm = opt.clip_norm;
  to.dropout = opt.dropout;
  to.attention_dropout = opt.attention_dropout;
  to.seed = opt.seed;
  to.compile.backend = opt.backend;
  for (const std::string& f : opt.freeze)
    to.frozen.push_back(f == "text" ? "text_model." : f == "video" ? "video_model." : f);

  train::PipelineOptions po;
  po.batch = opt.batch;
  po.text_length = opt.text_length;
  po.frames = F;
  po.image_size = config.video.image_size;
  po.token_type_ids = config.text.arch == model::TextArch::Bert;
  po.seed = opt.seed;
  po.workers = opt.workers;
  po.cache_bytes = opt.cache_mb << 20;
  FROST_CHECK(!(opt.lax && session().strict), InvalidArgument, "--lax and --strict: give one");
  po.strict = session().strict;
  po.on_warning = [](const std::string& w) { warn(w); };
  for (const std::string& pair : opt.flip_swap) {
    const size_t colon = pair.find(':');
    FROST_CHECK(colon != std::string::npos, InvalidArgument,
                "--flip-swap '" << display(pair) << "': give two words as WORD:WORD (left:right)");
    po.flip_swaps.emplace_back(pair.substr(0, colon), pair.substr(colon + 1));
  }
  // The steps: --steps, or --epochs over the pipeline's epoch (computed once the streams are known).
  int64_t first_step = 0;
  std::unique_ptr<train::Trainer> trainer;
  // The pipeline first: --epochs takes the step count (the schedule's length) from its streams.
  auto data = std::make_unique<train::DataPipeline>(sources, tokenizer, po);
  // Images (1 frame) and videos (F frames) are separate streams taking turns; the trainer runs each batch on
  // the step graph of its frame count.
  const int64_t batches_per_step = opt.accumulate;
  const int64_t total_steps =
      opt.steps > 0 ? opt.steps
                    : std::max<int64_t>(1, opt.epochs * data->batches_per_epoch() / batches_per_step);
  to.schedule = {.kind = opt.schedule == "linear"   ? train::ScheduleKind::Linear
                         : opt.schedule == "cosine" ? train::ScheduleKind::Cosine
                                                    : train::ScheduleKind::Constant,
                 .warmup_steps = opt.warmup,
                 .total_steps = total_steps};
  trainer = std::make_unique<train::Trainer>(config, to);
  // The vocabulary and the tokenizer's settings travel with the run's files, so its model needs no --vocab
  // (cli/model_files.h).
  trainer->set_file_metadata(tokenizer_metadata_for(opt.vocab, start_file));
  if (!opt.resume.empty()) {
    trainer->load_checkpoint(opt.resume);
    first_step = trainer->step_count();
    note("resumed at step " + std::to_string(first_step) + " from " + display(opt.resume));
  } else if (!opt.weights.empty()) {
    model::LoadOptions lo;
    lo.temporal_fix = opt.temporal_fix == "interp"     ? model::TemporalFix::Interp
                      : opt.temporal_fix == "bilinear" ? model::TemporalFix::Bilinear
                                                       : model::TemporalFix::Zeros;
    model::WeightSet w = model::load_weights(config, {{opt.weights, model::WeightSource::FrozenInTime}}, lo);
    for (const std::string& m : w.warnings) warn(m);
    trainer->set_weights(w);
  } else if (parts) {
    // The reference's initialisation: the text model from Hugging Face, the video model from a timm ViT
    // (time attention and temporal table as the reference sets them); the rest — the projections, and a
    // tower no file gives — from scratch (--init-seed).
    std::vector<model::WeightFile> files;
    if (!opt.text_weights.empty()) files.push_back({opt.text_weights, model::WeightSource::HuggingFaceText});
    if (!opt.video_weights.empty()) files.push_back({opt.video_weights, model::WeightSource::TimmVit});
    model::WeightSet w = model::load_weights(config, files, {.allow_missing = true});
    for (const std::string& m : w.warnings) warn(m);
    const model::WeightSet init = model::initial_weights(config, opt.init_seed, tokenizer.pad_id());
    std::vector<std::string> fresh;
    for (const auto& [name, t] : init.tensors)
      if (w.tensors.emplace(name, t).second) fresh.push_back(name);
    std::string prefixes;
    for (const char* p : {"text_model.", "txt_proj.", "video_model.", "vid_proj."}) {
      size_t n = 0;
      for (const std::string& f : fresh) n += f.rfind(p, 0) == 0;
      if (n > 0)
        prefixes += (prefixes.empty() ? "" : ", ") + std::string(p) + "* (" + std::to_string(n) + ")";
    }
    note("initialised from scratch (--init-seed " + std::to_string(opt.init_seed) +
         "), as no file gives them: " + prefixes);
    trainer->set_weights(w);
  } else {
    trainer->set_weights(model::initial_weights(config, opt.init_seed, tokenizer.pad_id()));
  }
  FROST_CHECK(first_step < total_steps, InvalidArgument,
              "the checkpoint is at step " << first_step << ", past the " << total_steps
                                           << " steps asked — give more --steps to continue");
  if (first_step > 0) {  // the data continues where the checkpoint left it
    po.first_batch = first_step * batches_per_step;
    data.reset();
    data = std::make_unique<train::DataPipeline>(sources, tokenizer, po);
  }

  // Validation: an encoder over the trainer's current weights, built once.
  std::unique_ptr<model::DualEncoder> encoder;
  std::optional<loader::Dataset> val;
  if (!opt.val.empty()) {
    val = loader::read_dataset(opt.val);
    encoder =
        std::make_unique<model::DualEncoder>(config, trainer->weights(), tokenizer,
                                             model::EncoderOptions{.backend = opt.backend, .batch_size = 64});
  }
  std::ofstream log(log_path, first_step > 0 ? std::ios::app : std::ios::trunc);
  FROST_CHECK(log.good(), Io, display(log_path.string()) << ": cannot write the metrics log");
  auto validate = [&](int64_t step) {
    if (!encoder) return;
    encoder->set_weights(trainer->weights());
    train::RetrievalOptions ro;
    ro.frames = F;
    ro.sampling = opt.val_sampling == "rand" ? loader::FrameSampling::Rand : loader::FrameSampling::Uniform;
    ro.seed = opt.seed;
    ro.on_skip = [](const std::string& w) { warn(w); };
    ro.on_warning = warn;
    const train::RetrievalResult r = train::evaluate_retrieval(*encoder, *val, ro);
    nlohmann::ordered_json j = {{"step", step},
                                {"val",
                                 {{"t2v", metrics_json(r.metrics.t2v, ro.t2v_ties)},
                                  {"v2t", metrics_json(r.metrics.v2t, ro.v2t_ties)}}}};
    log << j.dump() << "\n" << std::flush;
    std::fprintf(stderr, "%sstep %lld validation: t2v %s\n                     v2t %s\n",
                 ::isatty(2) ? "\r\33[K" : "", static_cast<long long>(step),
                 retrieval::format_metrics(r.metrics.t2v).c_str(),
                 retrieval::format_metrics(r.metrics.v2t).c_str());
  };

  const bool tty = ::isatty(2) != 0;
  const int64_t log_every = opt.log_every > 0 ? opt.log_every : std::max<int64_t>(1, total_steps / 50);
  const auto start = std::chrono::steady_clock::now();
  double wait_in_step = 0, pairs_done = 0;
  train::LoopOptions lo;
  lo.steps = total_steps;
  lo.checkpoint_every = opt.checkpoint_every;
  lo.checkpoint_path = checkpoint.string();
  lo.on_step = [&](const train::StepResult& r) {
    pairs_done += double(opt.batch * batches_per_step);
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double rate = pairs_done / std::max(elapsed, 1e-9);
    const double eta = double(total_steps - r.step) * elapsed / double(r.step - first_step);
    nlohmann::ordered_json j = {{"step", r.step},      {"loss", r.loss},
                                {"lr", r.lr},          {"grad_norm", r.grad_norm},
                                {"pairs_per_s", rate}, {"data_wait_s", wait_in_step}};
    log << j.dump() << "\n";
    if (r.step % log_every == 0 || r.step == total_steps) log << std::flush;
    if (tty) {
      const int width = 24, filled = int(double(width) * double(r.step) / double(total_steps));
      std::fprintf(stderr,
                   "\r\33[Kstep %lld/%lld [%s%s] loss %.4f lr %.2e %.0f pairs/s data wait %.0f ms ETA %s",
                   static_cast<long long>(r.step), static_cast<long long>(total_steps),
                   std::string(size_t(filled), '#').c_str(), std::string(size_t(width - filled), ' ').c_str(),
                   r.loss, r.lr, rate, wait_in_step * 1e3, duration_text(eta).c_str());
    } else if (r.step % log_every == 0 || r.step == total_steps) {
      std::fprintf(stderr,
                   "step %lld/%lld loss %.4f lr %.2e grad_norm %.3g %.0f pairs/s data wait %.0f ms ETA %s\n",
                   static_cast<long long>(r.step), static_cast<long long>(total_steps), r.loss, r.lr,
                   r.grad_norm, rate, wait_in_step * 1e3, duration_text(eta).c_str());
    }
    if (opt.val_every > 0 && r.step % opt.val_every == 0 && r.step != total_steps) validate(r.step);
  };
  auto batches = [&](int64_t) {
    std::vector<train::MicroBatch> mb;
    wait_in_step = 0;
    for (int64_t k = 0; k < batches_per_step; ++k) {
      mb.push_back(data->next());
      wait_in_step += data->last_wait_seconds();
    }
    return mb;
  };

  g_trainer = trainer.get();
  auto old_int = std::signal(SIGINT, on_interrupt);
  auto old_term = std::signal(SIGTERM, on_interrupt);
  train::LoopEnd end;
  try {
    end = train::run_training(*trainer, batches, lo);
  } catch (...) {
    std::signal(SIGINT, old_int);
    std::signal(SIGTERM, old_term);
    g_trainer = nullptr;
    if (tty) std::fputc('\n', stderr);
    throw;
  }
  std::signal(SIGINT, old_int);
  std::signal(SIGTERM, old_term);
  g_trainer = nullptr;
  if (tty) std::fputc('\n', stderr);
  trainer->export_inference(exported.string());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (end == train::LoopEnd::Stopped) {
    note("interrupted after step " + std::to_string(trainer->step_count()) + "; resume with --resume " +
         display(checkpoint.string()));
    *exit_code = 130;
    return;
  }
  validate(trainer->step_count());
  if (data->replaced_items() > 0)
    warn(std::to_string(data->replaced_items()) +
         " items were replaced: " + std::to_string(data->unreadable_videos()) + " videos could not be read");
  std::fprintf(stderr,
               "trained %lld steps in %s (data wait %s in all); checkpoint %s, model %s, metrics %s\n",
               static_cast<long long>(trainer->step_count() - first_step), duration_text(seconds).c_str(),
               duration_text(data->total_wait_seconds()).c_str(), display(checkpoint.string()).c_str(),
               display(exported.string()).c_str(), display(log_path.string()).c_str());
}

void add_train_command(CLI::App& app) {
  auto opt = std::make_shared<TrainCommandOptions>();
  auto exit_code = std::make_shared<int>(0);
  CLI::App* cmd = app.add_subcommand("train", "Train the dual encoder on video-caption datasets");
  cmd->add_option("--data", opt->data,
                  "a training dataset: .csv (video, caption[, id][, keep]) or .jsonl; repeat for several "
                  "sources (steps alternate between them)")
      ->required();
  cmd->add_option("--val", opt->val,
                  "a held-out dataset: retrieval metrics every --val-every steps and at the end");
  cmd->add_option("--config", opt->config,
                  "base, tiny, or a JSON config file (default: the one --weights or --resume records, else "
                  "base)");
  cmd->add_option("--vocab", opt->vocab,
                  "a tokenizer: a Hugging Face model folder, a tokenizer.json, or a vocab.txt (with the "
                  "tokenizer_config.json beside it, if any), "
                  "recorded with its settings in the run's checkpoints (default: the one --weights or "
                  "--resume records, else BERT uncased, as the reference)");
  cmd->add_option("--weights", opt->weights,
                  "initial weights: a Frozen in Time checkpoint (.safetensors), e.g. an earlier run's "
                  "model.safetensors (default: from scratch)");
  cmd->add_option("--temporal-fix", opt->temporal_fix,
                  "a --weights temporal table shorter than the config's: zeros, interp or bilinear (the "
                  "reference's load_temporal_fix)")
      ->check(CLI::IsMember({"zeros", "interp", "bilinear"}));
  cmd->add_option(
      "--text-weights", opt->text_weights,
      "initial text model: a Hugging Face DistilBERT/BERT model.safetensors (the reference starts "
      "from distilbert-base-uncased); what no file gives, the projections included, starts from "
      "scratch");
  cmd->add_option("--video-weights", opt->video_weights,
                  "initial video model: a timm ViT .safetensors (the reference starts from "
                  "vit_base_patch16_224), its time attention set up as the reference does");
  add_u64_option(cmd, "--init-seed", opt->init_seed, "the seed of from-scratch weights (default 0)");
  cmd->add_option("--resume", opt->resume, "continue a run from its checkpoint.safetensors");
  cmd->add_option("--out", opt->out, "the run's folder (default frost-train)");
  cmd->add_option("--frames", opt->frames,
                  "frames per clip (default: the config's; 1 for the curriculum's first stage)")
      ->check(CLI::Range(int64_t(1), int64_t(1024)));
  cmd->add_option("--steps", opt->steps, "optimiser steps in all (default: from --epochs)")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 40));
  cmd->add_option("--epochs", opt->epochs,
                  "passes over the data instead of --steps (default: --steps decides)")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 20));
  cmd->add_option("--batch", opt->batch, "pairs per batch (in-batch negatives; default 16)")
      ->check(CLI::Range(int64_t(2), int64_t(65536)));
  cmd->add_option("--accumulate", opt->accumulate, "batches per optimiser step (default 1)")
      ->check(CLI::Range(int64_t(1), int64_t(4096)));
  cmd->add_option("--text-length", opt->text_length, "tokens per caption with [CLS] and [SEP] (default 32)")
      ->check(CLI::Range(int64_t(2), int64_t(4096)));
  cmd->add_option("--freeze", opt->freeze, "text, video, or a parameter-name prefix not trained; repeatable");
  cmd->add_option("--lr", opt->lr, "peak learning rate (default 3e-5, the reference's)")
      ->check(CLI::Range(0.0, 10.0));
  cmd->add_option("--schedule", opt->schedule, "constant (the reference's), linear or cosine decay")
      ->check(CLI::IsMember({"constant", "linear", "cosine"}));
  cmd->add_option("--warmup", opt->warmup, "linear warm-up steps (default 0)")
      ->check(CLI::Range(int64_t(0), int64_t(1) << 40));
  cmd->add_option("--weight-decay", opt->weight_decay, "AdamW weight decay (default 0)")
      ->check(CLI::Range(0.0, 10.0));
  cmd->add_option("--adamw", opt->adamw, "transformers (the reference's AdamW) or torch")
      ->check(CLI::IsMember({"transformers", "torch"}));
  cmd->add_option("--clip-norm", opt->clip_norm, "clip gradients to this global L2 norm (default: off)")
      ->check(CLI::Range(0.0, 1e9));
  cmd->add_option("--dropout", opt->dropout, "the text encoder's hidden dropout (default 0)")
      ->check(CLI::Range(0.0, 0.99));
  cmd->add_option("--attention-dropout", opt->attention_dropout, "its attention dropout (default 0)")
      ->check(CLI::Range(0.0, 0.99));
  add_u64_option(cmd, "--seed", opt->seed, "the data order, augmentation and dropout seed (default 0)");
  cmd->add_option("--workers", opt->workers, "decoding threads (default 1)")->check(CLI::Range(1, 256));
  cmd->add_option("--cache-mb", opt->cache_mb,
                  "keep decoded videos in memory up to this many MiB (default 0)")
      ->check(CLI::Range(int64_t(0), int64_t(1) << 24));
  cmd->add_option("--flip-swap", opt->flip_swap,
                  "WORD:WORD swapped in the caption of a mirrored clip (left:right for the synthetic set); "
                  "repeatable")
      ->type_name("WORD:WORD");
  cmd->add_option("--val-every", opt->val_every, "validate every N steps (default: at the end only)")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 40));
  cmd->add_option("--val-sampling", opt->val_sampling,
                  "validation frames: uniform (default, the same clip each time) or rand (the reference's)")
      ->check(CLI::IsMember({"uniform", "rand"}));
  cmd->add_option("--checkpoint-every", opt->checkpoint_every,
                  "write the checkpoint every N steps (default: at the end)")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 40));
  cmd->add_option("--log-every", opt->log_every,
                  "a progress line every N steps when not on a terminal (default: every 2% of the steps)")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 40));
  cmd->add_option("--backend", opt->backend, "the backend to run on (frost --version lists them)");
  cmd->add_flag("--lax", opt->lax,
                "an unreadable video is skipped with a warning, its rows replaced by others (the default); "
                "--strict stops the run at the first");
  cmd->footer(
      "Unreadable items: by default skipped with a warning and counted, each replaced by another row of its "
      "dataset; under --strict the run stops at the first. Ctrl-C finishes the current step, writes the "
      "checkpoint and exits with 130.");
  set_command(cmd, [opt, exit_code] {
    run_train(*opt, exit_code.get());
    if (*exit_code != 0) std::exit(*exit_code);
  });
}

}  // namespace frost::cli
