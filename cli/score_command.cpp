// frost score --weights W [--config C] --video V "caption 1" "caption 2" ... [--captions FILE] [--json]
//
// One clip (a video file, a frame folder, or an image as a one-frame clip), a few captions: the cosine
// similarity of each caption with the clip and the softmax over the captions at the model's temperature
// (retrieval/similarity.h score_captions) — "which of these sentences describes my video". Captions are
// listed in input order with their rank by score.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/model_files.h"
#include "engine/backend.h"
#include "engine/error.h"
#include "loader/files.h"
#include "loader/image.h"
#include "model/encoder.h"
#include "retrieval/similarity.h"

namespace frost::cli {
namespace {

struct ScoreOptions {
  std::string video;
  std::vector<std::string> captions;
  std::string captions_file;
  std::string weights;
  std::string config;  // "": the checkpoint's, else base
  std::string vocab;
  std::string backend = "cpu";
  int64_t frames = 0;
  bool json = false;
  CLI::App* cmd = nullptr;
};

void run_score(const ScoreOptions& opt) {
  check_backend(opt.backend);
  const loader::FileKind kind = loader::file_kind(opt.video);
  FROST_CHECK(kind == loader::FileKind::Regular || kind == loader::FileKind::Directory, BadFile,
              "--video " << opt.video << " is " << loader::describe_path(opt.video)
                         << " — give a video file, a folder of frames or an image");
  const bool image = loader::is_image_file(opt.video);
  FROST_CHECK(!image || opt.cmd->count("--frames") == 0, InvalidArgument,
              "--frames does not apply to an image (a one-frame clip)");

  std::vector<std::string> captions;
  for (const std::string& c : opt.captions) {
    FROST_CHECK(loader::is_valid_utf8(c), InvalidArgument, "caption '" << c << "' is not valid UTF-8");
    captions.push_back(c);
  }
  if (!opt.captions_file.empty()) {
    for (const StreamLine& l : read_stream_lines(opt.captions_file, "captions", "--captions")) {
      FROST_CHECK(loader::is_valid_utf8(l.text), InvalidArgument,
                  opt.captions_file << ":" << l.number << ": the caption is not valid UTF-8");
      captions.push_back(l.text);
    }
  }
  FROST_CHECK(!captions.empty(), InvalidArgument, "nothing to score: give captions or --captions FILE");
  FROST_CHECK(captions.size() <= 100000, InvalidArgument,
              captions.size() << " captions: score takes at most 100000 (search an index for more)");

  const model::FitConfig config = config_for(opt.config, opt.weights);
  const int64_t frames = image ? 1 : opt.frames > 0 ? opt.frames : config.video.num_frames;
  FROST_CHECK(frames <= config.video.num_frames, InvalidArgument,
              "--frames " << frames << ": the model of config '" << config.name << "' takes 1 to "
                          << config.video.num_frames << " frames per clip");
  model::WeightSet weights = load_towers(config, opt.weights, model::Towers::Both);
  model::DualEncoder encoder(config, std::move(weights), tokenizer_for(opt.vocab, opt.weights, config),
                             {.backend = opt.backend});
  loader::ClipOptions clip;
  clip.sampling.num_frames = frames;
  clip.test_transform.size = config.video.image_size;
  clip.limits.on_warning = warn;
  const model::Embeddings v =
      image ? encoder.encode_images({opt.video}, clip.limits) : encoder.encode_videos({opt.video}, clip);
  const model::Embeddings t = encoder.encode_text(captions);
  const retrieval::CaptionScores s = retrieval::score_captions(t.embedding, v.embedding, config.temperature);

  std::vector<size_t> order(captions.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return s.cosine[a] > s.cosine[b]; });
  std::vector<size_t> rank(captions.size());
  for (size_t r = 0; r < order.size(); ++r) rank[order[r]] = r + 1;
  if (opt.json) {
    nlohmann::ordered_json out;
    out["video"] = loader::escape_invalid_utf8(opt.video);
    out["frames"] = frames;
    out["temperature"] = config.temperature;
    out["captions"] = nlohmann::ordered_json::array();
    for (size_t i = 0; i < captions.size(); ++i)
      out["captions"].push_back({{"caption", captions[i]},
                                 {"cosine", s.cosine[i]},
                                 {"probability", s.probability[i]},
                                 {"rank", rank[i]}});
    std::cout << out.dump() << "\n";
    return;
  }
  std::cout << display(opt.video) << " (" << frames << (frames == 1 ? " frame" : " frames")
            << "): cosine similarity, and the softmax over these captions at temperature "
            << config.temperature << "\n  rank  cosine   probability  caption\n";
  for (size_t i = 0; i < captions.size(); ++i)
    std::cout << "  " << std::setw(4) << rank[i] << "  " << std::fixed << std::setprecision(4) << std::setw(7)
              << s.cosine[i] << "  " << std::setw(11) << s.probability[i] << "  " << display(captions[i])
              << "\n";
}

}  // namespace

void add_score_command(CLI::App& app) {
  auto opt = std::make_shared<ScoreOptions>();
  CLI::App* cmd = app.add_subcommand(
      "score", "Score captions against one video or image: cosine similarity and softmax over the captions");
  opt->cmd = cmd;
  cmd->add_option("captions", opt->captions, "the captions to score");
  cmd->add_option("--captions", opt->captions_file,
                  "more captions, one a line: a file, a pipe, or - for standard input");
  cmd->add_option("--video", opt->video, "a video file, a folder of frames, or an image (PNG, JPEG)")
      ->required();
  cmd->add_option("--weights", opt->weights, "a converted Frozen in Time checkpoint (.safetensors)")
      ->required();
  cmd->add_option("--config", opt->config,
                  "base, tiny, or a JSON config file (default: the one the checkpoint records, else base)");
  cmd->add_option("--vocab", opt->vocab,
                  "a tokenizer: a Hugging Face model folder, a tokenizer.json, or a vocab.txt (with the "
                  "tokenizer_config.json beside it, if any) "
                  "(default: the one the checkpoint records, else BERT uncased, as the reference)");
  cmd->add_option("--backend", opt->backend, "the backend to run on (frost --version lists them)");
  cmd->add_option("--frames", opt->frames, "frames sampled from the video (default: the config's)")
      ->check(CLI::Range(int64_t(1), int64_t(1024)));
  cmd->add_flag("--json", opt->json, "print one JSON object");
  set_command(cmd, [opt] { run_score(*opt); });
}

}  // namespace frost::cli
