// frost clip INPUT... --out CLIPS.safetensors: videos (files, frame folders or images) → the model's input
// clips, sampled and preprocessed exactly as Frozen in Time does (loader/video.h). The file holds `clips`
// F32 [B, F, 3, S, S] in input order — what `frost encode video` accepts as already-preprocessed input —
// with `frame_indices` I64 [B, F] (the source frames used; -1 for zero padding) and `source_frames` I64 [B].
// An input that cannot be decoded is skipped with a warning (an error under --strict); the metadata
// `frost` says which input each row came from ("inputs") and which were skipped, and why ("skipped").
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "engine/error.h"
#include "loader/files.h"
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
  CLI::App* cmd = nullptr;  // to ask which options were given
};

// Physical memory, for refusing a clip tensor that cannot fit before decoding anything.
size_t physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? size_t(pages) * size_t(page) : SIZE_MAX;
}

void check_before_work(const ClipCommandOptions& opt) {
  auto given = [&](const char* name) { return opt.cmd->count(name) > 0; };
  FROST_CHECK(!given("--fix-start") || opt.sampling == "fix_start", InvalidArgument,
              "--fix-start applies to --sampling fix_start only (this run samples '" << opt.sampling << "')");
  FROST_CHECK(!given("--seed") || opt.sampling == "rand" || opt.train, InvalidArgument,
              "--seed has no effect here: it seeds --sampling rand and the --train transform");
  for (const std::string& in : opt.inputs) {
    const loader::FileKind kind = loader::file_kind(in);
    FROST_CHECK(kind == loader::FileKind::Regular || kind == loader::FileKind::Directory, BadFile,
                "input " << in << " is " << loader::describe_path(in)
                         << " — give video files, images or folders of frames");
  }
  loader::check_output_path(opt.out, opt.inputs);
  const double bytes = double(opt.inputs.size()) * double(opt.frames) * 3 * double(opt.size * opt.size) * 4;
  FROST_CHECK(bytes <= 0.75 * double(physical_memory_bytes()), InvalidArgument,
              "the clips of " << opt.inputs.size() << " inputs would take " << bytes / double(1ull << 30)
                              << " GiB, more than this machine's memory allows — split the inputs into "
                                 "several runs");
}

void run_clip(const ClipCommandOptions& opt) {
  static const std::map<std::string, loader::FrameSampling> modes = {
      {"uniform", loader::FrameSampling::Uniform},
      {"rand", loader::FrameSampling::Rand},
      {"fix_start", loader::FrameSampling::FixStart}};
  check_before_work(opt);
  const int64_t F = opt.frames, S = opt.size;
  const int64_t sample_bytes = F * 3 * S * S * int64_t(sizeof(float));
  std::vector<std::string> rows;  // the input of each row, in row order
  nlohmann::json skipped = nlohmann::json::array();
  std::vector<char> pixels;  // rows of (F, 3, S, S) F32, appended as read
  std::vector<int64_t> indices, source_frames;
  for (size_t b = 0; b < opt.inputs.size(); ++b) {
    const std::string& input = opt.inputs[b];
    loader::ClipOptions o;
    o.sampling = {.num_frames = F,
                  .mode = modes.at(opt.sampling),
                  .fix_start = opt.fix_start,
                  .seed = opt.seed,
                  .sample = uint64_t(b)};  // the input's position: skipping another input changes nothing
    o.train = opt.train;
    o.limits.on_warning = warn;
    o.test_transform.size = S;
    o.train_transform.size = S;
    loader::Clip clip;
    try {
      clip = loader::load_clip(input, o);
    } catch (const Error& e) {
      // A bug or a missing capability of this build is no input's fault: never a skip.
      if (e.category() == ErrorCategory::Internal || e.category() == ErrorCategory::Unsupported) throw;
      std::string why = e.what();
      if (why.rfind(input, 0) != 0) why = input + ": " + why;  // every message names the input
      warn("skipping " + why);
      skipped.push_back(
          {{"input", loader::escape_invalid_utf8(input)}, {"error", loader::escape_invalid_utf8(why)}});
      continue;
    }
    rows.push_back(input);
    pixels.insert(pixels.end(), static_cast<const char*>(clip.pixels.raw()),
                  static_cast<const char*>(clip.pixels.raw()) + sample_bytes);
    for (int64_t f = 0; f < F; ++f)
      indices.push_back(f < int64_t(clip.indices.size()) ? clip.indices[size_t(f)] : -1);
    source_frames.push_back(clip.source_frames);
    std::cout << display(input) << ": " << clip.source_frames
              << (clip.source_frames == 1 ? " frame" : " frames") << ", sampled";
    for (int64_t i : clip.indices) std::cout << " " << i;
    if (int64_t(clip.indices.size()) < F)
      std::cout << " (+" << F - int64_t(clip.indices.size()) << " zero frames)";
    std::cout << "\n";
  }
  FROST_CHECK(!rows.empty(), BadFile,
              "none of the " << opt.inputs.size() << " inputs could be read (see the warnings above)");
  const int64_t B = int64_t(rows.size());
  HostTensor clips(DType::F32, {B, F, 3, S, S});
  std::memcpy(clips.raw(), pixels.data(), pixels.size());
  HostTensor frame_indices(DType::I64, {B, F});
  std::memcpy(frame_indices.raw(), indices.data(), indices.size() * sizeof(int64_t));
  HostTensor sources(DType::I64, {B});
  std::memcpy(sources.raw(), source_frames.data(), source_frames.size() * sizeof(int64_t));
  nlohmann::json row_inputs = nlohmann::json::array();
  for (const std::string& r : rows) row_inputs.push_back(loader::escape_invalid_utf8(r));
  const nlohmann::json meta = {{"inputs", row_inputs},
                               {"skipped", skipped},
                               {"sampling", opt.sampling},
                               {"fix_start", opt.fix_start},
                               {"transform", opt.train ? "train" : "test"},
                               {"seed", opt.seed},
                               {"size", S}};
  loader::write_safetensors(
      opt.out, {{"clips", &clips}, {"frame_indices", &frame_indices}, {"source_frames", &sources}},
      {{"frost", meta.dump()}});
  std::cout << "wrote " << display(opt.out) << ": clips F32[" << B << ", " << F << ", 3, " << S << ", " << S
            << "]\n";
  if (!skipped.empty())
    std::cout << "skipped " << skipped.size() << " of " << opt.inputs.size()
              << " inputs (see the warnings above; the file's metadata lists them)\n";
}

}  // namespace

void add_clip_command(CLI::App& app) {
  auto opt = std::make_shared<ClipCommandOptions>();
  CLI::App* cmd = app.add_subcommand("clip",
                                     "Sample and preprocess videos (files, frame folders, images) into "
                                     "model-ready clips, as Frozen in Time");
  opt->cmd = cmd;
  cmd->add_option("inputs", opt->inputs, "video files, folders of frame images (sorted by name) or images")
      ->required();
  cmd->add_option("--out", opt->out,
                  "the .safetensors file to write (clips, frame_indices, source_frames; metadata 'frost' "
                  "lists the input of each row and the inputs skipped)")
      ->required();
  cmd->add_option("--frames", opt->frames, "frames per clip; shorter videos are zero-padded")
      ->check(CLI::Range(int64_t(1), int64_t(1024)));
  cmd->add_option("--sampling", opt->sampling,
                  "uniform (test), rand (training) or fix_start (sliding windows)")
      ->check(CLI::IsMember({"uniform", "rand", "fix_start"}));
  cmd->add_option("--fix-start", opt->fix_start, "the offset for --sampling fix_start")
      ->check(CLI::Range(int64_t(0), int64_t(1) << 40));
  cmd->add_flag("--train", opt->train,
                "the training transform (random resized crop + flip) instead of the test one");
  add_u64_option(cmd, "--seed", opt->seed,
                 "seed for rand sampling and the training crop (input i uses sample i)");
  cmd->add_option("--size", opt->size, "output side in pixels (the reference: 224)")
      ->check(CLI::Range(int64_t(1), int64_t(256)));
  set_command(cmd, [opt] { run_clip(*opt); });
}

}  // namespace frost::cli
