// Real pretrained weights in frost's BERT: all-MiniLM-L6-v2 (fetched from the package registry by
// scripts/fetch_minilm.py; not committed) against `transformers` on 56 real sentences
// (tests/parity/fixtures/minilm_expected.safetensors, from tests/parity/make_minilm_fixture.py): frost's
// tokenizer gives the same ids, and the last hidden states and pooler_output agree to 2e-5 (measured 3.5e-6).
// ctest runs it through tests/parity/run_minilm.sh, which reports it as skipped where the registry cannot
// be reached; run directly, it needs FROST_MINILM_DIR.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "cli_runner.h"
#include "loader/safetensors.h"
#include "loader/tokenizer.h"
#include "model/text_encoder.h"
#include "model/weights.h"
#include "ops/api.h"
#include "test_util.h"

namespace frost::model {
namespace {

TEST(MiniLM, MatchesTransformersOnRealSentences) {
  const char* dir_env = std::getenv("FROST_MINILM_DIR");
  ASSERT_NE(dir_env, nullptr) << "set FROST_MINILM_DIR (scripts/fetch_minilm.py DIR fetches it)";
  const std::string dir = dir_env;
  const auto fixture =
      loader::SafetensorsFile::open(std::string(FROST_PARITY_DIR) + "/fixtures/minilm_expected.safetensors");
  const auto meta = nlohmann::json::parse(fixture.metadata().at("fixture"));
  const std::vector<std::string> sentences = meta.at("sentences");
  ASSERT_GE(sentences.size(), 50u);

  // frost's tokenizer on the model's own vocabulary gives transformers' ids.
  const auto tok = loader::WordPieceTokenizer::from_vocab(dir + "/vocab.txt");
  const loader::TokenBatch batch = tok.encode_batch(sentences);
  const HostTensor want_ids = fixture.read("input_ids");
  ASSERT_EQ(batch.input_ids.shape(), want_ids.shape());
  EXPECT_EQ(std::memcmp(batch.input_ids.raw(), want_ids.raw(), want_ids.bytes()), 0);

  FitConfig c = FitConfig::tiny();
  c.text = TextConfig::from_hf_config_file(dir + "/config.json");
  const WeightSet w =
      load_weights(c, {{dir + "/model.safetensors", WeightSource::HuggingFaceText}}, {.allow_missing = true});
  const int64_t B = batch.input_ids.shape()[0], L = batch.input_ids.shape()[1], C = c.text.dim;
  Graph g;
  Params p(g);
  const TextInputs in = text_inputs(g, c.text, B, L);
  const TextOutputs out = text_encoder(p, c.text, in, "text_model.");
  g.output("last_hidden_state", out.last_hidden_state);
  g.output("pooler", out.pooler);
  for (const test::KernelPath& path : test::kernel_paths()) {
    // The single-threaded f64 reference kernels are slow at this size; tests/parity_test.cpp holds them to
    // the same PyTorch outputs on the tiny model.
    if (path.label == "reference") continue;
    SCOPED_TRACE(path.label);
    auto cg = compile(g, path.options);
    w.apply(*cg);
    cg->set_input("input_ids", batch.input_ids);
    cg->set_input("attention_mask", batch.attention_mask.to(DType::F32));
    cg->set_input("token_type_ids", HostTensor(DType::I64, {B, L}));
    cg->run();
    // The real tokens' rows, one sentence after another, as the fixture stores them.
    const HostTensor hidden = cg->output_copy("last_hidden_state");
    const HostTensor lengths = fixture.read("lengths");
    const HostTensor want_rows = fixture.read("last_hidden_state_tokens");
    HostTensor rows(DType::F32, want_rows.shape());
    int64_t at = 0;
    for (int64_t b = 0; b < B; ++b) {
      const int64_t n = lengths.data<int64_t>()[b];
      std::memcpy(rows.data<float>() + at * C, hidden.data<float>() + b * L * C,
                  size_t(n * C) * sizeof(float));
      at += n;
    }
    ASSERT_EQ(at, want_rows.shape()[0]);
    for (const auto& [name, got, want] :
         {std::tuple{"last_hidden_state", rows, want_rows},
          std::tuple{"pooler_output", cg->output_copy("pooler"), fixture.read("pooler_output")}}) {
      const test::Comparison cmp = test::compare(got, want, 2e-5, 0);  // measured: 3.5e-6 at most
      EXPECT_TRUE(cmp.ok) << name << ": " << cmp.detail;
      std::printf("  %s %-18s max abs %.3g, max abs / max |value| %.3g\n", path.label.c_str(), name,
                  cmp.max_abs_error, cmp.max_abs_error_over_max);
    }
  }
}

// The same model through the command a user runs: `frost encode text --text-weights` (config.json and
// vocab.txt found beside the weights) writes the features a Hugging Face model gives — BERT's pooler_output,
// the reference's text embedding for bert* — equal to transformers' on the 56 sentences.
TEST(MiniLM, EncodeTextWithTextWeightsGivesTransformersPoolerOutput) {
  const char* dir_env = std::getenv("FROST_MINILM_DIR");
  ASSERT_NE(dir_env, nullptr) << "set FROST_MINILM_DIR (scripts/fetch_minilm.py DIR fetches it)";
  const std::string dir = dir_env;
  const auto fixture =
      loader::SafetensorsFile::open(std::string(FROST_PARITY_DIR) + "/fixtures/minilm_expected.safetensors");
  const std::vector<std::string> sentences =
      nlohmann::json::parse(fixture.metadata().at("fixture")).at("sentences");
  const std::filesystem::path work =
      std::filesystem::temp_directory_path() / ("frost_minilm_cli_" + std::to_string(::getpid()));
  std::filesystem::create_directories(work);
  {
    std::ofstream captions(work / "captions.txt");
    for (const std::string& s : sentences) captions << s << "\n";
  }
  const test::Result r = test::run_frost({"encode", "text", "--text-weights", dir + "/model.safetensors",
                                          "--captions", "captions.txt", "--out", "features.safetensors"},
                                         {}, work.string(), "", 600);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("features F32[" + std::to_string(sentences.size()) + ", 384]"), std::string::npos)
      << r.out;
  const auto out = loader::SafetensorsFile::open((work / "features.safetensors").string());
  EXPECT_EQ(out.find("embeddings"), nullptr) << "a Hugging Face model has no projection: no embeddings";
  const test::Comparison cmp =
      test::compare(out.read("features", DType::F32), fixture.read("pooler_output"), 2e-5, 0);
  EXPECT_TRUE(cmp.ok) << cmp.detail;
  std::printf("  frost encode text --text-weights: pooler_output max abs %.3g\n", cmp.max_abs_error);
  std::error_code ec;
  std::filesystem::remove_all(work, ec);
}

}  // namespace
}  // namespace frost::model
