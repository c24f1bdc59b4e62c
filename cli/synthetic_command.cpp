// frost synthetic --out DIR [--renderings N] [--size S] [--frames T] [--seed S]
//
// Writes the synthetic video–text set (train/synthetic_videos.h): real H.264 videos of a shape moving over a
// textured background, train.jsonl / val.jsonl with captions ("a small red square moving left"), and the
// vocabulary, then says how to train on it. A folder that already holds the same set is reused.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "train/synthetic_videos.h"

namespace frost::cli {
namespace {

struct SyntheticCommandOptions {
  std::string out;
  train::SyntheticOptions set;
};

void run_synthetic(const SyntheticCommandOptions& opt) {
  const bool tty = ::isatty(2) != 0;
  const train::SyntheticSet s = train::make_synthetic_set(opt.out, opt.set, [&](int64_t done, int64_t total) {
    if (tty && (done % 20 == 0 || done == total))
      std::fprintf(stderr, "\rrendered %lld/%lld videos", static_cast<long long>(done),
                   static_cast<long long>(total));
  });
  if (tty && !s.reused) std::fputc('\n', stderr);
  std::printf("%s: %lld training rows (%s), %lld held-out rows (%s), vocabulary %s%s\n",
              display(s.folder).c_str(), static_cast<long long>(s.train_rows), display(s.train_path).c_str(),
              static_cast<long long>(s.val_rows), display(s.val_path).c_str(), display(s.vocab_path).c_str(),
              s.reused ? " (already there: reused)" : "");
  std::printf(
      "train on it (the demo's recipe, docs/training.md): frost train --config tiny --vocab %s --data %s "
      "--val %s "
      "--flip-swap left:right --text-length 12 --cache-mb 512 --batch 64 --steps 3000 --lr 1e-3 --warmup 100 "
      "--schedule cosine --val-every 500 --out run\n",
      display(s.vocab_path).c_str(), display(s.train_path).c_str(), display(s.val_path).c_str());
}

}  // namespace

void add_synthetic_command(CLI::App& app) {
  auto opt = std::make_shared<SyntheticCommandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "synthetic", "Write the synthetic video-caption set (moving shapes, real MP4 files) frost learns on");
  cmd->add_option("--out", opt->out, "the folder to write (created; reused when it holds the same set)")
      ->required();
  cmd->add_option("--renderings", opt->set.train_renderings,
                  "training renderings of each of the 120 attribute combinations (default 8)")
      ->check(CLI::Range(int64_t(1), int64_t(10000)));
  cmd->add_option("--val-renderings", opt->set.val_renderings, "held-out renderings of each (default 1)")
      ->check(CLI::Range(int64_t(0), int64_t(10000)));
  cmd->add_option("--size", opt->set.size, "frame side in pixels, even (default 64)")
      ->check(CLI::Range(int64_t(32), int64_t(512)));
  cmd->add_option("--frames", opt->set.frames, "frames per video (default 12)")
      ->check(CLI::Range(int64_t(4), int64_t(256)));
  add_u64_option(cmd, "--seed", opt->set.seed, "the renderings' seed (default 1)");
  set_command(cmd, [opt] { run_synthetic(*opt); });
}

}  // namespace frost::cli
