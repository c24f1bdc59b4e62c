// `frost train` as a function, for `frost demo`, which trains with a fixed recipe and reports as
// `frost train` does (progress, validation lines, metrics.jsonl, checkpoint, model). Flags:
// train_command.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace frost::cli {

// The options of `frost train`, field for flag (--help describes each).
struct TrainCommandOptions {
  std::string config;  // "": the --weights/--resume checkpoint's, else base
  std::vector<std::string> data;
  std::string val;
  std::string weights, resume, vocab, out = "frost-train";
  std::string text_weights,
      video_weights;  // Hugging Face text model, timm ViT: the reference's initialisation
  std::string temporal_fix = "zeros";
  std::string backend = "cpu";
  int64_t frames = 0, steps = 0, epochs = 0, batch = 16, accumulate = 1, text_length = 32;
  std::vector<std::string> freeze, flip_swap;
  double lr = 3e-5, weight_decay = 0.0, clip_norm = 0.0, dropout = 0.0, attention_dropout = 0.0;
  std::string schedule = "constant", adamw = "transformers", val_sampling = "uniform";
  int64_t warmup = 0, val_every = 0, checkpoint_every = 0, log_every = 0;
  uint64_t seed = 0, init_seed = 0;
  int workers = 1;
  int64_t cache_mb = 0;
  bool lax = false, json = false;
};

// Trains into opt.out (checkpoint.safetensors, model.safetensors, metrics.jsonl). *exit_code is set to 130
// when interrupted (the checkpoint written), else left. Throws as every command does.
void run_train(const TrainCommandOptions& opt, int* exit_code);

}  // namespace frost::cli
