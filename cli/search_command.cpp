// frost search --index INDEX --weights W [--config C] "query" ... [--queries FILE] [--like PATH] [-k 10]
// [--json]
//
// Text-to-video search over an index (`frost index`): each query is embedded with the text tower (or, with
// --like, a video or image with the video tower: query by example), and the index's items are ranked by
// cosine similarity, exactly (retrieval/search.h). Queries are padded to a few token lengths, so new lengths
// do not compile new graphs. The weights must hold the video tower the index was made with: the index
// records its hash, and another one is refused.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/model_files.h"
#include "cli/retrieval_common.h"
#include "engine/backend.h"
#include "engine/error.h"
#include "loader/files.h"
#include "loader/image.h"
#include "model/encoder.h"
#include "retrieval/index.h"
#include "retrieval/search.h"

namespace frost::cli {
namespace {

struct SearchOptions {
  std::string index;
  std::vector<std::string> queries;
  std::string queries_file;
  std::vector<std::string> like;
  std::string weights;
  std::string config;  // "": the checkpoint's, else base
  std::string vocab;
  std::string backend = "cpu";
  int64_t k = 10;
  bool json = false;
  CLI::App* cmd = nullptr;
};

std::vector<std::string> read_queries(const std::string& path) {
  std::vector<std::string> out;
  for (const StreamLine& l : read_stream_lines(path, "queries", "--queries")) {
    FROST_CHECK(loader::is_valid_utf8(l.text), InvalidArgument,
                path << ":" << l.number << ": the query is not valid UTF-8");
    out.push_back(l.text);
  }
  return out;
}

void run_search(const SearchOptions& opt) {
  check_backend(opt.backend);
  std::vector<std::string> texts;
  for (const std::string& q : opt.queries) {
    FROST_CHECK(loader::is_valid_utf8(q), InvalidArgument, "query '" << q << "' is not valid UTF-8");
    texts.push_back(q);
  }
  if (!opt.queries_file.empty()) {
    const std::vector<std::string> more = read_queries(opt.queries_file);
    texts.insert(texts.end(), more.begin(), more.end());
  }
  for (const std::string& l : opt.like) {
    const loader::FileKind k = loader::file_kind(l);
    FROST_CHECK(k == loader::FileKind::Regular || k == loader::FileKind::Directory, BadFile,
                "--like " << l << " is " << loader::describe_path(l)
                          << " — give a video, a frame folder or an image");
  }
  FROST_CHECK(!texts.empty() || !opt.like.empty(), InvalidArgument,
              "nothing to search for: give queries, --queries FILE or --like VIDEO");

  const retrieval::Index index = retrieval::Index::load(opt.index);
  // The config: --config, else the checkpoint's, else the one the index was made with.
  const model::FitConfig config =
      config_for(opt.config, opt.weights, model::FitConfig::from_json(index.config_json(), opt.index));
  FROST_CHECK(
      model_identity(index.config_json()) == model_identity(config), InvalidArgument,
      opt.index << " was made with another model config (" << index.config_json() << "); give its --config");
  model::WeightSet weights =
      load_towers(config, opt.weights, texts.empty() ? model::Towers::Video : model::Towers::Both);
  const std::string hash = video_hash_of(opt.weights, weights);
  FROST_CHECK(
      hash == index.video_hash(), InvalidArgument,
      opt.index << " was made with other video weights (hash " << index.video_hash().substr(0, 12) << "…; "
                << opt.weights << " has " << hash.substr(0, 12)
                << "…): its embeddings and these queries' would not compare — search with the weights it "
                   "was made with, or re-index");
  std::optional<loader::WordPieceTokenizer> tokenizer;
  if (!texts.empty()) tokenizer = tokenizer_for(opt.vocab, opt.weights, config);
  model::DualEncoder encoder(config, std::move(weights), std::move(tokenizer),
                             {.backend = opt.backend, .text_length_buckets = {16, 32, 64, 128}});

  struct Query {
    std::string text;
    bool like;
    std::vector<retrieval::Hit> hits;
  };
  std::vector<Query> results;
  auto search = [&](const HostTensor& embeddings, const std::vector<std::string>& names, bool like) {
    const retrieval::NormalizedRows q = retrieval::normalize_rows(embeddings);
    for (int64_t i = 0; i < q.rows; ++i)
      results.push_back({names[size_t(i)], like, retrieval::top_k(index.rows(), q.row(i), q.dim, opt.k)});
  };
  if (!texts.empty()) search(encoder.encode_text(texts).embedding, texts, false);
  for (const std::string& l : opt.like) {
    const bool image = loader::is_image_file(l);
    loader::ClipOptions clip;
    clip.sampling.num_frames = image ? 1 : index.frames();
    clip.test_transform.size = config.video.image_size;
    clip.limits.on_warning = warn;
    search((image ? encoder.encode_images({l}, clip.limits) : encoder.encode_videos({l}, clip)).embedding,
           {l}, true);
  }

  if (opt.json) {
    for (const Query& q : results) {
      nlohmann::ordered_json out;
      out[q.like ? "like" : "query"] = loader::escape_invalid_utf8(q.text);
      out["results"] = nlohmann::ordered_json::array();
      for (size_t r = 0; r < q.hits.size(); ++r)
        out["results"].push_back(
            {{"rank", r + 1},
             {"score", q.hits[r].score},
             {"path", loader::escape_invalid_utf8(index.item(size_t(q.hits[r].row)).path)}});
      std::cout << out.dump() << "\n";
    }
    return;
  }
  for (const Query& q : results) {
    std::cout << (q.like ? "like " : "") << display(q.text) << "\n";
    for (size_t r = 0; r < q.hits.size(); ++r)
      std::cout << "  " << std::setw(3) << r + 1 << "  " << std::fixed << std::setprecision(4) << std::setw(7)
                << q.hits[r].score << "  " << display(index.item(size_t(q.hits[r].row)).path) << "\n";
  }
}

}  // namespace

void add_search_command(CLI::App& app) {
  auto opt = std::make_shared<SearchOptions>();
  CLI::App* cmd =
      app.add_subcommand("search", "Search an index by text (or by example, --like) — top k by cosine");
  opt->cmd = cmd;
  cmd->add_option("queries", opt->queries, "text queries");
  cmd->add_option("--queries", opt->queries_file,
                  "more queries, one a line: a file, a pipe, or - for standard input");
  cmd->add_option("--like", opt->like, "a video, frame folder or image to search by example");
  cmd->add_option("--index", opt->index, "the index (frost index)")->required();
  cmd->add_option("--weights", opt->weights, "the checkpoint the index was made with (.safetensors)")
      ->required();
  cmd->add_option("--config", opt->config,
                  "base, tiny, or a JSON config file (default: the one the checkpoint records, else base)");
  cmd->add_option("--vocab", opt->vocab,
                  "a tokenizer: a Hugging Face model folder, a tokenizer.json, or a vocab.txt (with the "
                  "tokenizer_config.json beside it, if any) "
                  "(default: the one the checkpoint records, else BERT uncased, as the reference)");
  cmd->add_option("--backend", opt->backend, "the backend to run on (frost --version lists them)");
  cmd->add_option("-k", opt->k, "results per query")->check(CLI::Range(int64_t(1), int64_t(1) << 30));
  cmd->add_flag("--json", opt->json, "one JSON object per query");
  set_command(cmd, [opt] { run_search(*opt); });
}

}  // namespace frost::cli
