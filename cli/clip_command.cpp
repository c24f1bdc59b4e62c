// frost clip INPUT... --out CLIPS.safetensors: videos (files, frame folders or images) → the model's input
// clips, sampled and preprocessed exactly as Frozen in Time does (loader/video.h). The file holds `clips`
// F32 [B, F, 3, S, S] in input order — what `frost encode video` accepts as already-preprocessed input —
// with `frame_indices` I64 [B, F] (the source frames used; -1 for zero padding) and `source_frames` I64 [B].
#include <CLI/CLI.hpp>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "loader/safetensors.h"
#include "loader/video.h"

namespace frost::cli {
namespace {

struct ClipCommandOptions {
  std::vector<std::string> inputs;
  std::string out;
  int64_t frames = 4;
  std::string sampling = "uniform";
  int64_t fix_start = 0;
  bool train = false;
  uint64_t seed = 0;
  int64_t size = 224;
};

void run_clip(const ClipCommandOptions& opt) {
  static const std::map<std::string, loader::FrameSampling> modes = {
      {"uniform", loader::FrameSampling::Uniform},
      {"rand", loader::FrameSampling::Rand},
      {"fix_start", loader::FrameSampling::FixStart}};
  const int64_t B = int64_t(opt.inputs.size()), F = opt.frames, S = opt.size;
  HostTensor clips(DType::F32, {B, F, 3, S, S});
  HostTensor indices(DType::I64, {B, F});
  HostTensor source_frames(DType::I64, {B});
  for (int64_t b = 0; b < B; ++b) {
    loader::ClipOptions o;
    o.sampling = {.num_frames = F,
                  .mode = modes.at(opt.sampling),
                  .fix_start = opt.fix_start,
                  .seed = opt.seed,
                  .sample = uint64_t(b)};
    o.train = opt.train;
    o.test_transform.size = S;
    o.train_transform.size = S;
    const std::string& input = opt.inputs[size_t(b)];
    const loader::Clip clip = loader::load_clip(input, o);
    std::memcpy(clips.data<float>() + b * clip.pixels.numel(), clip.pixels.raw(), clip.pixels.bytes());
    for (int64_t f = 0; f < F; ++f)
      indices.data<int64_t>()[b * F + f] = f < int64_t(clip.indices.size()) ? clip.indices[size_t(f)] : -1;
    source_frames.data<int64_t>()[b] = clip.source_frames;
    std::cout << input << ": " << clip.source_frames << (clip.source_frames == 1 ? " frame" : " frames")
              << ", sampled";
    for (int64_t i : clip.indices) std::cout << " " << i;
    if (int64_t(clip.indices.size()) < F)
      std::cout << " (+" << F - int64_t(clip.indices.size()) << " zero frames)";
    std::cout << "\n";
  }
  const nlohmann::json meta = {{"inputs", opt.inputs},       {"sampling", opt.sampling},
                               {"fix_start", opt.fix_start}, {"transform", opt.train ? "train" : "test"},
                               {"seed", opt.seed},           {"size", S}};
  loader::write_safetensors(
      opt.out, {{"clips", &clips}, {"frame_indices", &indices}, {"source_frames", &source_frames}},
      {{"frost", meta.dump()}});
  std::cout << "wrote " << opt.out << ": clips F32[" << B << ", " << F << ", 3, " << S << ", " << S << "]\n";
}

}  // namespace

void add_clip_command(CLI::App& app) {
  auto opt = std::make_shared<ClipCommandOptions>();
  CLI::App* cmd = app.add_subcommand("clip",
                                     "Sample and preprocess videos (files, frame folders, images) into "
                                     "model-ready clips, as Frozen in Time");
  cmd->add_option("inputs", opt->inputs, "video files, folders of frame images (sorted by name) or images")
      ->required();
  cmd->add_option("--out", opt->out, "the .safetensors file to write (clips, frame_indices, source_frames)")
      ->required();
  cmd->add_option("--frames", opt->frames, "frames per clip; shorter videos are zero-padded")
      ->check(CLI::Range(int64_t(1), int64_t(1024)));
  cmd->add_option("--sampling", opt->sampling,
                  "uniform (test), rand (training) or fix_start (sliding windows)")
      ->check(CLI::IsMember({"uniform", "rand", "fix_start"}));
  cmd->add_option("--fix-start", opt->fix_start, "the offset for --sampling fix_start")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--train", opt->train,
                "the training transform (random resized crop + flip) instead of the test one");
  cmd->add_option("--seed", opt->seed, "seed for rand sampling and the training crop (clip b uses sample b)");
  cmd->add_option("--size", opt->size, "output side in pixels (the reference: 224)")
      ->check(CLI::Range(int64_t(1), int64_t(256)));
  cmd->callback([opt] { run_clip(*opt); });
}

}  // namespace frost::cli
