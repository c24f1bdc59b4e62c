// frost encode text|video|image --weights W.safetensors [--config C] INPUT... --out OUT.safetensors
//
// Embeds captions (arguments, or --captions FILE with one a line), videos (files, folders of frames sorted
// by name, or .safetensors files holding already-preprocessed clips F32 [B, F, 3, S, S] named `clips`, as
// `frost clip` writes) or images with the Frozen in Time dual encoder. OUT holds `embeddings` F32 [N, P]
// (the projected embeddings, unnormalised unless --normalize) and `features` F32 [N, C] (before the
// projection), in input order; an OUT ending in .npy holds the embeddings alone (NumPy's format).
// An input that cannot be read or decoded is skipped with a warning (an error under --strict): the metadata
// `frost` says which input each row came from ("inputs") and which were skipped, and why ("skipped").
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/model_files.h"
#include "engine/backend.h"
#include "engine/error.h"
#include "loader/files.h"
#include "loader/npy.h"
#include "loader/safetensors.h"
#include "model/encoder.h"
#include "retrieval/similarity.h"

namespace frost::cli {
namespace {

struct EncodeOptions {
  std::string kind;  // text, video, image
  std::vector<std::string> inputs;
  std::string captions_file;
  std::string weights;
  std::string text_weights, text_config;  // a Hugging Face text model: features only
  std::string config;                     // "": the checkpoint's, else base
  std::string vocab;
  std::string backend = "cpu";
  int64_t batch = 8;
  int64_t frames = 0;
  bool normalize = false;
  std::string out;
  CLI::App* cmd = nullptr;  // to ask which options were given
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// An --out NumPy file: .npy in any case.
bool is_npy(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  for (char& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".npy";
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

// Options that do not apply to a kind are errors, not silently ignored.
void check_options_apply(const EncodeOptions& opt) {
  auto given = [&](const char* name) { return opt.cmd->count(name) > 0; };
  auto refuse = [&](const char* name, const char* why) {
    FROST_CHECK(!given(name), InvalidArgument,
                name << " does not apply to `encode " << opt.kind << "`: " << why);
  };
  FROST_CHECK(given("--weights") != given("--text-weights"), InvalidArgument,
              (given("--weights") ? "--weights and --text-weights: give one"
                                  : "give --weights (a Frozen in Time checkpoint) or, for `encode text`, "
                                    "--text-weights (a Hugging Face DistilBERT/BERT model.safetensors)"));
  FROST_CHECK(!given("--text-config") || given("--text-weights"), InvalidArgument,
              "--text-config is the config.json of --text-weights (a Frozen in Time checkpoint records its "
              "own config: --config)");
  FROST_CHECK(!given("--text-weights") || !given("--normalize"), InvalidArgument,
              "--normalize applies to embeddings, and a Hugging Face text model (--text-weights) gives "
              "features only");
  FROST_CHECK(
      !given("--text-weights") || !given("--config"), InvalidArgument,
      "--config does not apply to --text-weights: its config is the model's config.json (--text-config)");
  if (opt.kind == "text") {
    refuse("--frames", "captions have no frames");
    // A stream is fine for captions (a pipe, <(cmd), - for standard input); a folder or device is not.
    if (given("--captions") && opt.captions_file != "-") {
      const loader::FileKind kind = loader::file_kind(opt.captions_file);
      FROST_CHECK(kind == loader::FileKind::Regular || kind == loader::FileKind::Fifo, BadFile,
                  "--captions " << opt.captions_file << " is " << loader::describe_path(opt.captions_file)
                                << " — give a file of captions, one a line, a pipe, or - for standard input");
    }
  } else {
    refuse("--vocab", "only captions are tokenized");
    refuse("--captions", "it lists captions (use `encode text`)");
    refuse("--text-weights", "a Hugging Face text model embeds captions only (`encode text`)");
    if (opt.kind == "image") refuse("--frames", "an image is a one-frame clip");
  }
}

// Inputs that are files must be there and be of the right kind before any work: a typo is an error, not a
// skipped row. (What a file holds is only known by reading it: those failures skip the input, below.)
void check_inputs(const EncodeOptions& opt) {
  if (opt.kind == "text") return;
  FROST_CHECK(!opt.inputs.empty(), InvalidArgument, "nothing to encode: give " << opt.kind << " files");
  for (const std::string& in : opt.inputs) {
    const loader::FileKind kind = loader::file_kind(in);
    if (opt.kind == "image") {
      FROST_CHECK(loader::is_image_file(in), BadFile,
                  "input " << in << " is "
                           << (kind == loader::FileKind::Regular ? "not a PNG or JPEG image"
                                                                 : loader::describe_path(in))
                           << " — `encode image` takes PNG or JPEG files; videos and frame folders are "
                              "`encode video`");
    } else {
      FROST_CHECK(kind == loader::FileKind::Regular || kind == loader::FileKind::Directory, BadFile,
                  "input " << in << " is " << loader::describe_path(in)
                           << " — give video files, frame folders, images or .safetensors clips");
    }
  }
}

// Every row's values must be finite: NaN or Inf embeddings (NaN/Inf weights or inputs, or values past F32's
// range) would rank as garbage without a sign.
void check_finite(const model::Embeddings& e, const std::vector<std::string>& rows, bool captions) {
  const int64_t P = e.embedding.shape()[1], C = e.features.shape()[1];
  for (size_t r = 0; r < rows.size(); ++r) {
    bool ok = true;
    for (int64_t k = 0; k < P; ++k) ok = ok && std::isfinite(e.embedding.data<float>()[int64_t(r) * P + k]);
    for (int64_t k = 0; k < C; ++k) ok = ok && std::isfinite(e.features.data<float>()[int64_t(r) * C + k]);
    FROST_CHECK(
        ok, InvalidArgument,
        "the embedding of " << (captions ? "caption '" + rows[r] + "'" : rows[r])
                            << " is not finite (NaN or Inf) — the weights or the input hold NaN/Inf or "
                               "values too large for F32 (frost info shows the weights; frost warns "
                               "of non-finite ones)");
  }
}

void run_encode(const EncodeOptions& opt) {
  check_options_apply(opt);
  check_inputs(opt);
  check_backend(opt.backend);

  // The output is checked against every file this run reads, before it reads any of them.
  std::vector<std::string> read_files;
  for (const std::string* f :
       {&opt.weights, &opt.text_weights, &opt.text_config, &opt.vocab, &opt.captions_file})
    if (!f->empty()) read_files.push_back(*f);
  if (!opt.config.empty() && opt.config != "base" && opt.config != "tiny") read_files.push_back(opt.config);
  if (opt.kind != "text") read_files.insert(read_files.end(), opt.inputs.begin(), opt.inputs.end());
  loader::check_output_path(opt.out, read_files);

  // A Hugging Face text model: its config.json and vocab.txt beside it by default; no projection, so the
  // features alone (embeddings need a Frozen in Time checkpoint, or one trained from it: frost train
  // --text-weights).
  const bool hf = !opt.text_weights.empty();
  const std::string folder = hf ? std::filesystem::path(opt.text_weights).parent_path().string() : "";
  auto beside = [&](const std::string& given, const char* name) {
    if (!given.empty()) return given;
    const std::string p = (std::filesystem::path(folder) / name).string();
    return loader::file_kind(p) == loader::FileKind::Regular ? p : std::string();
  };
  model::FitConfig config;
  if (hf) {
    const loader::FileKind kind = loader::file_kind(opt.text_weights);
    FROST_CHECK(kind == loader::FileKind::Regular, BadFile,
                "--text-weights " << display(opt.text_weights) << " is "
                                  << loader::describe_path(opt.text_weights)
                                  << " — give a Hugging Face model.safetensors");
    const std::string text_config = beside(opt.text_config, "config.json");
    FROST_CHECK(
        !text_config.empty(), InvalidArgument,
        "--text-weights " << display(opt.text_weights)
                          << ": no config.json beside it — give the model's config.json with --text-config");
    config.text = model::TextConfig::from_hf_config_file(text_config);
    config.name = "the Hugging Face model of " + display(text_config);
  } else {
    config = config_for(opt.config, opt.weights);
  }
  const int64_t frames = opt.kind == "image" ? 1 : opt.frames > 0 ? opt.frames : config.video.num_frames;
  FROST_CHECK(opt.kind == "text" || frames <= config.video.num_frames, InvalidArgument,
              "--frames " << frames << ": the model of config '" << config.name << "' takes 1 to "
                          << config.video.num_frames << " frames per clip");

  model::WeightSet weights =
      hf ? model::load_weights(config, {{opt.text_weights, model::WeightSource::HuggingFaceText}},
                               {.towers = model::Towers::Text, .allow_missing = true})
         : load_towers(config, opt.weights, opt.kind == "text" ? model::Towers::Text : model::Towers::Video);
  if (hf) {  // every text-model tensor is there (only the projection may be missing)
    std::vector<std::string> missing;
    for (const model::ParamSpec& s : model::fit_param_specs(config))
      if (s.name.rfind("text_model.", 0) == 0 && !weights.tensors.count(s.name)) missing.push_back(s.name);
    FROST_CHECK(missing.empty(), BadFile,
                display(opt.text_weights)
                    << " lacks " << missing.size()
                    << " tensors of the text model (first: " << (missing.empty() ? "" : missing[0])
                    << ") — is it a DistilBERT/BERT model.safetensors matching its config.json?");
    for (const std::string& w : weights.warnings) warn(w);
  }
  std::optional<loader::WordPieceTokenizer> tokenizer;
  if (opt.kind == "text") {
    if (hf) {
      // The model folder's own tokenizer (tokenizer.json, else vocab.txt with its tokenizer_config.json).
      const std::string folder = std::filesystem::path(opt.text_weights).parent_path().string();
      const std::string vocab = opt.vocab.empty() ? tokenizer_in(folder.empty() ? "." : folder) : opt.vocab;
      if (vocab.empty())
        note("no tokenizer.json or vocab.txt beside --text-weights " + display(opt.text_weights) +
             ": using BERT uncased (the reference's) — give --vocab for another");
      tokenizer = tokenizer_for(vocab, opt.text_weights, config);
    } else {
      tokenizer = tokenizer_for(opt.vocab, opt.weights, config);
    }
  }
  model::DualEncoder encoder(config, std::move(weights), std::move(tokenizer),
                             {.backend = opt.backend, .batch_size = opt.batch, .projection = !hf});

  std::vector<std::string> rows;  // the input of each row, in row order
  nlohmann::json skipped = nlohmann::json::array();
  auto skip = [&](const std::string& input, const std::string& why) {
    warn("skipping " + why);
    skipped.push_back(
        {{"input", loader::escape_invalid_utf8(input)}, {"error", loader::escape_invalid_utf8(why)}});
  };
  model::Embeddings all{HostTensor(DType::F32, {0, 0}), HostTensor(DType::F32, {0, 0})};
  auto add = [&](const model::Embeddings& e) {
    append(all.embedding, e.embedding);
    append(all.features, e.features);
  };
  size_t considered = 0;
  if (opt.kind == "text") {
    std::vector<std::string> captions;
    auto take = [&](const std::string& caption, const std::string& where) {
      ++considered;
      if (!loader::is_valid_utf8(caption)) return skip(where, where + ": the caption is not valid UTF-8");
      captions.push_back(caption);
      rows.push_back(caption);
    };
    for (const std::string& c : opt.inputs) take(c, "caption '" + c + "'");
    if (!opt.captions_file.empty()) {
      // A stream is fine here: a file, a pipe, <(cmd), or - for standard input.
      for (const StreamLine& l : read_stream_lines(opt.captions_file, "captions", "--captions"))
        take(l.text, opt.captions_file + ":" + std::to_string(l.number));
    }
    FROST_CHECK(considered > 0, InvalidArgument, "nothing to encode: give captions or --captions FILE");
    if (!captions.empty()) add(encoder.encode_text(captions));
  } else {
    loader::ClipOptions clip;
    clip.sampling.num_frames = frames;
    clip.test_transform.size = config.video.image_size;
    clip.limits.on_warning = warn;
    const int64_t S = config.video.image_size;
    HostTensor batch(DType::F32, {opt.batch, frames, 3, S, S});  // clips decoded, waiting to be encoded
    int64_t filled = 0;
    const size_t clip_bytes = size_t(frames * 3 * S * S) * sizeof(float);
    auto flush = [&] {
      if (filled == 0) return;
      HostTensor part(DType::F32, {filled, frames, 3, S, S});
      std::memcpy(part.raw(), batch.raw(), size_t(filled) * clip_bytes);
      add(encoder.encode_clips(part));
      filled = 0;
    };
    const model::VideoConfig& v = config.video;
    for (size_t i = 0; i < opt.inputs.size(); ++i) {
      const std::string& in = opt.inputs[i];
      ++considered;
      if (opt.kind == "video" && ends_with(in, ".safetensors")) {
        // Already-preprocessed clips, as `frost clip` writes them: their own frame count, encoded apart.
        HostTensor clips;
        try {
          const auto f = loader::SafetensorsFile::open(in);
          const loader::TensorEntry* t = f.find("clips");
          FROST_CHECK(t != nullptr, BadFile, in << ": no tensor named 'clips' (F32 [N, F, 3, S, S])");
          const Shape& s = t->shape;
          FROST_CHECK(!opt.cmd->count("--frames") || (s.rank() == 5 && s[1] == frames), BadFile,
                      in << ": its clips have " << (s.rank() == 5 ? s[1] : 0) << " frames, not the --frames "
                         << frames << " asked for (clips are encoded as they were sampled)");
          FROST_CHECK(t->dtype_name == "F32" && s.rank() == 5 && s[0] >= 1 && s[1] >= 1 &&
                          s[1] <= v.num_frames && s[2] == v.channels && s[3] == v.image_size &&
                          s[4] == v.image_size,
                      BadFile,
                      in << ": clips " << t->dtype_name << s << " do not fit the model of config '"
                         << config.name << "', which takes F32 [N, F, " << v.channels << ", " << v.image_size
                         << ", " << v.image_size << "] with 1 <= F <= " << v.num_frames);
          clips = f.read("clips");
        } catch (const Error& e) {
          // A bug or a missing capability of this build is no input's fault: never a skip.
          if (e.category() == ErrorCategory::Internal || e.category() == ErrorCategory::Unsupported) throw;
          skip(in, e.what());
          continue;
        }
        flush();
        add(encoder.encode_clips(clips));
        for (int64_t k = 0; k < clips.shape()[0]; ++k) rows.push_back(in + "[" + std::to_string(k) + "]");
        continue;
      }
      clip.sampling.sample = uint64_t(i);
      loader::Clip c;
      try {
        c = loader::load_clip(in, clip);
      } catch (const Error& e) {
        // A bug or a missing capability of this build is no input's fault: never a skip.
        if (e.category() == ErrorCategory::Internal || e.category() == ErrorCategory::Unsupported) throw;
        std::string why = e.what();
        if (why.rfind(in, 0) != 0) why = in + ": " + why;
        skip(in, why);
        continue;
      }
      std::memcpy(static_cast<char*>(batch.raw()) + size_t(filled) * clip_bytes, c.pixels.raw(), clip_bytes);
      rows.push_back(in);
      if (++filled == opt.batch) flush();
    }
    flush();
  }
  FROST_CHECK(!rows.empty(), BadFile,
              "none of the " << considered << " inputs could be read (see the warnings above)");
  check_finite(all, rows, opt.kind == "text");

  if (hf) {  // features only: there is no projection
    if (is_npy(opt.out))
      loader::write_npy(opt.out, all.features);
    else
      loader::write_safetensors(
          opt.out, {{"features", &all.features}},
          {{"frost", nlohmann::json({{"kind", "text"},
                                     {"inputs",
                                      [&] {
                                        nlohmann::json r = nlohmann::json::array();
                                        for (const std::string& x : rows)
                                          r.push_back(loader::escape_invalid_utf8(x));
                                        return r;
                                      }()},
                                     {"skipped", skipped},
                                     {"text_weights", loader::escape_invalid_utf8(opt.text_weights)}})
                         .dump()}});
    std::cout
        << "wrote " << display(opt.out) << ": features F32[" << all.features.shape()[0] << ", "
        << all.features.shape()[1]
        << "] (the text model's output before the Frozen in Time projection, which a Hugging Face model "
           "does not have: no embeddings — score, search, index and eval need a Frozen in Time checkpoint; "
           "frost train --text-weights starts one from this model)\n";
    return;
  }
  // --normalize: unit rows, as retrieval compares them (the reference's sim_matrix: x / max(||x||, 1e-8)).
  if (opt.normalize) {
    const retrieval::NormalizedRows n = retrieval::normalize_rows(all.embedding);
    std::memcpy(all.embedding.raw(), n.data.data(), all.embedding.bytes());
  }
  const char* state = opt.normalize ? "normalised" : "unnormalised";
  if (is_npy(opt.out)) {  // NumPy: the embeddings alone, rows in input order
    loader::write_npy(opt.out, all.embedding);
    std::cout << "wrote " << display(opt.out) << ": embeddings F32[" << all.embedding.shape()[0] << ", "
              << all.embedding.shape()[1] << "] (" << state << "; row i is input i"
              << (skipped.empty() ? "" : " of those read") << ")\n";
    if (!skipped.empty())
      std::cout << "skipped " << skipped.size() << " of " << considered
                << " inputs (see the warnings above): they have no row\n";
    return;
  }
  nlohmann::json row_inputs = nlohmann::json::array();
  for (const std::string& r : rows) row_inputs.push_back(loader::escape_invalid_utf8(r));
  const nlohmann::json meta = {{"kind", opt.kind},
                               {"inputs", row_inputs},
                               {"skipped", skipped},
                               {"config", config.name},
                               {"normalized", opt.normalize}};
  loader::write_safetensors(opt.out, {{"embeddings", &all.embedding}, {"features", &all.features}},
                            {{"frost", meta.dump()}});
  std::cout << "wrote " << display(opt.out) << ": embeddings F32[" << all.embedding.shape()[0] << ", "
            << all.embedding.shape()[1] << "] (" << state << "), features F32[" << all.features.shape()[0]
            << ", " << all.features.shape()[1] << "]\n";
  if (!skipped.empty())
    std::cout << "skipped " << skipped.size() << " of " << considered
              << " inputs (see the warnings above; the file's metadata lists them)\n";
}

}  // namespace

void add_encode_command(CLI::App& app) {
  auto opt = std::make_shared<EncodeOptions>();
  CLI::App* cmd = app.add_subcommand(
      "encode",
      "Embed captions, videos or images with the Frozen in Time dual encoder: the projected "
      "embeddings (unnormalised, as the model outputs them; --normalize for unit rows) and "
      "the features before the projection");
  opt->cmd = cmd;
  cmd->add_option("kind", opt->kind, "text, video or image")
      ->required()
      ->check(CLI::IsMember({"text", "video", "image"}));
  cmd->add_option("inputs", opt->inputs,
                  "captions; or video files, frame folders, .safetensors clips (tensor 'clips'); or images");
  cmd->add_option("--captions", opt->captions_file,
                  "captions, one a line (encode text): a file, a pipe, or - for standard input");
  cmd->add_option("--weights", opt->weights, "a Frozen in Time checkpoint (.safetensors)");
  cmd->add_option("--text-weights", opt->text_weights,
                  "instead of --weights, for `encode text`: a Hugging Face DistilBERT/BERT model.safetensors "
                  "(writes its features: it has no projection, so no embeddings)");
  cmd->add_option("--text-config", opt->text_config,
                  "the config.json of --text-weights (default: the one beside it)");
  cmd->add_option("--config", opt->config,
                  "base, tiny, or a JSON config file (default: the one the checkpoint records, else base)");
  cmd->add_option(
      "--vocab", opt->vocab,
      "a tokenizer: a Hugging Face model folder, a tokenizer.json, or a vocab.txt (with the "
      "tokenizer_config.json beside it, if any) "
      "(default: the one the checkpoint records, else BERT uncased, as the reference; with --text-weights, "
      "the tokenizer beside it)");
  cmd->add_option("--backend", opt->backend, "the backend to run on (frost --version lists them)");
  cmd->add_option("--batch", opt->batch, "inputs per run")->check(CLI::Range(int64_t(1), int64_t(4096)));
  cmd->add_option("--frames", opt->frames, "frames per clip (default: the config's)")
      ->check(CLI::Range(int64_t(1), int64_t(1024)));
  cmd->add_flag("--normalize", opt->normalize,
                "scale each embedding to unit length (cosine similarity is then a dot product); features are "
                "left as they are");
  cmd->add_option(
         "--out", opt->out,
         "the file to write: .safetensors (embeddings and features; metadata 'frost' lists the input "
         "of each row and the inputs skipped) or .npy (the embeddings alone, for np.load)")
      ->required();
  set_command(cmd, [opt] { run_encode(*opt); });
}

}  // namespace frost::cli
