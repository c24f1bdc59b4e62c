// frost encode text|video|image --weights W.safetensors [--config C] INPUT... --out OUT.safetensors
//
// Embeds captions (arguments, or --captions FILE with one a line), videos (files, folders of frames sorted
// by name, or .safetensors files holding already-preprocessed clips F32 [B, F, 3, S, S] named `clips`, as
// `frost clip` writes) or images with the Frozen in Time dual encoder. OUT holds `embeddings` F32 [N, P]
// (the projected, unnormalised embeddings) and `features` F32 [N, C] (before the projection), in input order.
#include <CLI/CLI.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "engine/error.h"
#include "loader/safetensors.h"
#include "model/encoder.h"

namespace frost::cli {
namespace {

struct EncodeOptions {
  std::string kind;  // text, video, image
  std::vector<std::string> inputs;
  std::string captions_file;
  std::string weights, text_weights, video_weights;
  std::string config = "base";
  std::string vocab;
  std::string backend = "cpu";
  int64_t batch = 8;
  int64_t frames = 0;
  std::string out;
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Appends rows of `part` to `all` (both F32 (N, K)).
void append(HostTensor& all, const HostTensor& part) {
  if (all.numel() == 0 || all.shape().rank() == 0) {
    all = part;
    return;
  }
  HostTensor grown(DType::F32, {all.shape()[0] + part.shape()[0], all.shape()[1]});
  std::memcpy(grown.raw(), all.raw(), all.bytes());
  std::memcpy(static_cast<char*>(grown.raw()) + all.bytes(), part.raw(), part.bytes());
  all = std::move(grown);
}

void run_encode(const EncodeOptions& opt) {
  model::FitConfig config = model::FitConfig::named_or_file(opt.config);
  // An HF text checkpoint's config.json beside it sets the text side (its width, depth, BERT or DistilBERT).
  if (!opt.text_weights.empty()) {
    const std::filesystem::path hf_config =
        std::filesystem::path(opt.text_weights).parent_path() / "config.json";
    if (std::filesystem::exists(hf_config)) {
      config.text = model::TextConfig::from_hf_config_file(hf_config.string());
      config.validate();
    }
  }
  std::vector<model::WeightFile> files;
  if (!opt.weights.empty()) files.push_back({opt.weights, model::WeightSource::FrozenInTime});
  if (!opt.text_weights.empty()) files.push_back({opt.text_weights, model::WeightSource::HuggingFaceText});
  if (!opt.video_weights.empty()) files.push_back({opt.video_weights, model::WeightSource::TimmVit});
  FROST_CHECK(!files.empty(), InvalidArgument,
              "encode: give --weights (or --text-weights / --video-weights)");
  model::WeightSet weights =
      model::load_weights(config, files, {.allow_missing = opt.weights.empty()});  // HF/timm: one side only
  for (const std::string& w : weights.warnings) std::cerr << "frost: warning: " << w << "\n";
  std::optional<loader::WordPieceTokenizer> tokenizer;
  if (opt.kind == "text")
    tokenizer = opt.vocab.empty() ? loader::default_uncased_tokenizer()
                                  : loader::WordPieceTokenizer::from_vocab(opt.vocab);
  model::DualEncoder encoder(config, std::move(weights), std::move(tokenizer),
                             {.backend = opt.backend, .batch_size = opt.batch});

  std::vector<std::string> inputs = opt.inputs;
  if (!opt.captions_file.empty()) {
    FROST_CHECK(opt.kind == "text", InvalidArgument, "encode: --captions is for `encode text`");
    std::ifstream in(opt.captions_file);
    FROST_CHECK(in.good(), BadFile, opt.captions_file << ": cannot open");
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) inputs.push_back(line);
  }
  FROST_CHECK(!inputs.empty(), InvalidArgument, "encode: nothing to encode");

  model::Embeddings all{HostTensor(DType::F32, {0, 0}), HostTensor(DType::F32, {0, 0})};
  auto add = [&](const model::Embeddings& e) {
    append(all.embedding, e.embedding);
    append(all.features, e.features);
  };
  if (opt.kind == "text") {
    add(encoder.encode_text(inputs));
  } else if (opt.kind == "image") {
    add(encoder.encode_images(inputs));
  } else {
    loader::ClipOptions clip;
    clip.sampling.num_frames = opt.frames > 0 ? opt.frames : config.video.num_frames;
    std::vector<std::string> run;  // consecutive decodable inputs, encoded as one batched call
    auto flush = [&] {
      if (!run.empty()) add(encoder.encode_videos(run, clip));
      run.clear();
    };
    for (const std::string& in : inputs) {
      if (!ends_with(in, ".safetensors")) {
        run.push_back(in);
        continue;
      }
      flush();
      const auto f = loader::SafetensorsFile::open(in);
      FROST_CHECK(f.find("clips") != nullptr, BadFile,
                  in << ": no tensor named 'clips' (F32 [B, F, 3, S, S])");
      try {
        add(encoder.encode_clips(f.read("clips")));
      } catch (const Error& e) {
        throw_error(e.category(), in + ": " + e.what());
      }
    }
    flush();
  }
  const nlohmann::json meta = {{"kind", opt.kind}, {"inputs", inputs}, {"config", config.name}};
  loader::write_safetensors(opt.out, {{"embeddings", &all.embedding}, {"features", &all.features}},
                            {{"frost", meta.dump()}});
  std::cout << "wrote " << opt.out << ": embeddings F32[" << all.embedding.shape()[0] << ", "
            << all.embedding.shape()[1] << "], features F32[" << all.features.shape()[0] << ", "
            << all.features.shape()[1] << "]\n";
}

}  // namespace

void add_encode_command(CLI::App& app) {
  auto opt = std::make_shared<EncodeOptions>();
  CLI::App* cmd =
      app.add_subcommand("encode", "Embed captions, videos or images with the Frozen in Time dual encoder");
  cmd->add_option("kind", opt->kind, "text, video or image")
      ->required()
      ->check(CLI::IsMember({"text", "video", "image"}));
  cmd->add_option("inputs", opt->inputs,
                  "captions; or video files, frame folders, .safetensors clips (tensor 'clips'); or images");
  cmd->add_option("--captions", opt->captions_file, "a file of captions, one a line (encode text)");
  cmd->add_option("--weights", opt->weights, "a converted Frozen in Time checkpoint (.safetensors)");
  cmd->add_option("--text-weights", opt->text_weights, "a Hugging Face DistilBERT/BERT model.safetensors");
  cmd->add_option("--video-weights", opt->video_weights,
                  "a timm ViT (.safetensors), initialised as the reference");
  cmd->add_option("--config", opt->config, "base, tiny, or a JSON config file");
  cmd->add_option("--vocab", opt->vocab, "a WordPiece vocab.txt (default: BERT uncased, as the reference)");
  cmd->add_option("--backend", opt->backend, "the backend to run on (frost --version lists them)");
  cmd->add_option("--batch", opt->batch, "inputs per run")->check(CLI::Range(int64_t(1), int64_t(4096)));
  cmd->add_option("--frames", opt->frames, "frames per clip (default: the config's)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--out", opt->out, "the .safetensors file to write (embeddings, features)")->required();
  cmd->callback([opt] { run_encode(*opt); });
}

}  // namespace frost::cli
