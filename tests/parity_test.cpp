// The Frozen in Time dual encoder against the PyTorch reference (tests/parity/fixtures, written by
// tests/parity/make_fixtures.py; CI needs no PyTorch): text and video embeddings, similarity and loss within
// atol 1e-5, every parameter's gradient within atol 1e-6 + rtol 1e-4, 1-, 2- and 4-frame clips, BERT's last
// hidden states and pooler, padded batches equal to single captions — on every kernel path of the build.
// Then the weight loader's errors, and the fixture's freshness against its generator script.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/autodiff.h"
#include "engine/error.h"
#include "engine/passes/passes.h"
#include "loader/safetensors.h"
#include "model/dual_encoder.h"
#include "model/text_encoder.h"
#include "model/video_encoder.h"
#include "model/weights.h"
#include "ops/api.h"
#include "sha256.h"
#include "test_util.h"

namespace frost::model {
namespace {

const std::string kDir = std::string(FROST_PARITY_DIR);
const std::string kFixtures = kDir + "/fixtures";

// |a - b| <= atol + rtol |b| per element, with the report the issue asks for.
void expect_close(const HostTensor& got, const HostTensor& want, double atol, double rtol,
                  const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  const test::Comparison c = test::compare(got, want, atol, rtol);
  EXPECT_TRUE(c.ok) << what << ": " << c.detail;
  std::printf("  %-48s max abs %.3g, max abs / max |value| %.3g\n", what.c_str(), c.max_abs_error,
              c.max_abs_error_over_max);
}

struct DualRun {
  std::map<std::string, HostTensor> out;
};

// Builds the dual graph at the fixture's shapes (with gradients of the loss), loads the fixture weights,
// runs it on `path` and returns every output.
DualRun run_dual(const test::KernelPath& path, const loader::SafetensorsFile& io, const WeightSet& w) {
  const FitConfig c = FitConfig::tiny();
  const Shape ids = io.find("input_ids")->shape;
  FitGraph fg = build_fit_graph(c, {.part = Part::Dual, .batch = ids[0], .text_length = ids[1]});
  const std::vector<Tensor> params = fg.params->tensors();
  const std::vector<Tensor> grads = gradients(fg.loss, params);
  for (size_t i = 0; i < params.size(); ++i) {
    EXPECT_TRUE(grads[i].valid()) << fg.params->specs()[i].name << " gets no gradient";
    if (grads[i].valid()) fg.graph->output("grad." + fg.params->specs()[i].name, grads[i]);
  }
  auto cg = compile(*fg.graph, path.options);
  w.apply(*cg);
  cg->set_input("input_ids", io.read("input_ids"));
  cg->set_input("attention_mask", io.read("attention_mask"));
  cg->set_input("video", io.read("video"));
  cg->run();
  DualRun r;
  for (const GraphOutput& o : cg->graph().outputs()) r.out.emplace(o.name, cg->output_copy(o.name));
  return r;
}

class Parity : public ::testing::TestWithParam<test::KernelPath> {};

TEST_P(Parity, DualEncoderForwardLossAndGradients) {
  const auto io = loader::SafetensorsFile::open(kFixtures + "/tiny_dual_io.safetensors");
  const WeightSet w = load_weights(
      FitConfig::tiny(), {{kFixtures + "/tiny_dual_weights.safetensors", WeightSource::FrozenInTime}});
  EXPECT_TRUE(w.warnings.empty());
  const DualRun r = run_dual(GetParam(), io, w);
  for (const char* name :
       {"text_features", "text_embedding", "video_features", "video_embedding", "similarity"})
    expect_close(r.out.at(name), io.read(name), 1e-5, 0, name);
  expect_close(r.out.at("loss").to(DType::F32), io.read("loss"), 1e-5, 0, "loss");
  int checked = 0;
  for (const loader::TensorEntry& e : io.tensors()) {
    if (e.name.rfind("grad.", 0) != 0) continue;
    auto it = r.out.find(e.name);
    ASSERT_NE(it, r.out.end()) << e.name;
    expect_close(it->second, io.read(e.name), 1e-6, 1e-4, e.name);
    ++checked;
  }
  EXPECT_EQ(checked, int(fit_param_specs(FitConfig::tiny()).size()));
}

TEST_P(Parity, VideoEncoderOnOneAndTwoFrames) {
  const auto io = loader::SafetensorsFile::open(kFixtures + "/tiny_dual_io.safetensors");
  const WeightSet w = load_weights(
      FitConfig::tiny(), {{kFixtures + "/tiny_dual_weights.safetensors", WeightSource::FrozenInTime}});
  for (int64_t F : {1, 2}) {
    const std::string key = "f" + std::to_string(F) + ".";
    const HostTensor clips = io.read(key + "video");
    FitGraph fg =
        build_fit_graph(FitConfig::tiny(), {.part = Part::Video, .batch = clips.shape()[0], .frames = F});
    auto cg = compile(*fg.graph, GetParam().options);
    w.apply(*cg);
    cg->set_input("video", clips);
    cg->run();
    expect_close(cg->output_copy("video_features"), io.read(key + "video_features"), 1e-5, 0,
                 key + "video_features");
    expect_close(cg->output_copy("video_embedding"), io.read(key + "video_embedding"), 1e-5, 0,
                 key + "video_embedding");
  }
}

TEST_P(Parity, BertLastHiddenStateAndPooler) {
  FitConfig c = FitConfig::tiny();
  c.text = TextConfig::from_hf_config_file(kFixtures + "/tiny_bert_config.json");
  const WeightSet w =
      load_weights(c, {{kFixtures + "/tiny_bert_weights.safetensors", WeightSource::HuggingFaceText}},
                   {.allow_missing = true});
  EXPECT_EQ(w.ignored.size(), 2u);  // the MLM head's two tensors
  const auto io = loader::SafetensorsFile::open(kFixtures + "/tiny_bert_io.safetensors");
  const Shape ids = io.find("input_ids")->shape;
  Graph g;
  Params p(g);
  const TextInputs in = text_inputs(g, c.text, ids[0], ids[1]);
  const TextOutputs out = text_encoder(p, c.text, in, "text_model.");
  g.output("last_hidden_state", out.last_hidden_state);
  g.output("pooler", out.pooler);
  auto cg = compile(g, GetParam().options);
  w.apply(*cg);
  cg->set_input("input_ids", io.read("input_ids"));
  cg->set_input("attention_mask", io.read("attention_mask"));
  cg->set_input("token_type_ids", io.read("token_type_ids"));
  cg->run();
  // Padded positions of last_hidden_state are compared too: HF computes them the same way.
  expect_close(cg->output_copy("last_hidden_state"), io.read("last_hidden_state"), 1e-5, 0,
               "bert last_hidden_state");
  expect_close(cg->output_copy("pooler"), io.read("pooler_output"), 1e-5, 0, "bert pooler_output");
}

INSTANTIATE_TEST_SUITE_P(KernelPaths, Parity, ::testing::ValuesIn(test::kernel_paths()),
                         [](const auto& info) {
                           std::string s = info.param.label;
                           for (char& ch : s)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return s;
                         });

// Fused and unfused graphs agree, forward and backward: the tiny dual encoder's outputs and every gradient.
TEST_P(Parity, FusedEqualsUnfused) {
  const auto io = loader::SafetensorsFile::open(kFixtures + "/tiny_dual_io.safetensors");
  const WeightSet w = load_weights(
      FitConfig::tiny(), {{kFixtures + "/tiny_dual_weights.safetensors", WeightSource::FrozenInTime}});
  std::map<std::string, HostTensor> results[2];
  for (int fused = 0; fused < 2; ++fused) {
    FitGraph fg = build_fit_graph(FitConfig::tiny(),
                                  {.part = Part::Dual, .batch = 3, .text_length = 9, .fuse = fused == 1});
    const std::vector<Tensor> params = fg.params->tensors();
    const std::vector<Tensor> grads = gradients(fg.loss, params);
    for (size_t i = 0; i < params.size(); ++i)
      fg.graph->output("grad." + fg.params->specs()[i].name, grads[i]);
    CompileOptions options = GetParam().options;
    options.fuse = fused == 1;
    auto cg = compile(*fg.graph, options);
    // (A training graph: gelu stays out of the linears, its backward reads the pre-activation.)
    for (const char* op : {"layer_norm", "add_layer_norm", "attention", "linear"})
      EXPECT_EQ(count_fused_ops(cg->graph()).count(op), size_t(fused)) << op;
    w.apply(*cg);
    for (const char* in : {"input_ids", "attention_mask", "video"}) cg->set_input(in, io.read(in));
    cg->run();
    for (const GraphOutput& o : cg->graph().outputs())
      results[fused].emplace(o.name, cg->output_copy(o.name));
  }
  for (const auto& [name, unfused] : results[0]) {
    const bool grad = name.rfind("grad.", 0) == 0;
    expect_close(results[1].at(name), unfused, grad ? 1e-6 : 1e-5, grad ? 1e-4 : 0,
                 "fused vs unfused " + name);
  }
}

// A caption alone gives the same embedding as inside a padded batch (the key-padding mask at work).
TEST(ParityBatching, PaddedCaptionsEqualSingleCaptions) {
  const auto io = loader::SafetensorsFile::open(kFixtures + "/tiny_dual_io.safetensors");
  const WeightSet w = load_weights(
      FitConfig::tiny(), {{kFixtures + "/tiny_dual_weights.safetensors", WeightSource::FrozenInTime}});
  const HostTensor ids = io.read("input_ids"), mask = io.read("attention_mask");
  const HostTensor batch_emb = io.read("text_embedding");
  const int64_t B = ids.shape()[0], L = ids.shape()[1];
  const auto meta = nlohmann::json::parse(io.metadata().at("fixture"));
  for (int64_t b = 0; b < B; ++b) {
    const int64_t n = meta.at("lengths")[size_t(b)];
    FitGraph fg = build_fit_graph(FitConfig::tiny(), {.part = Part::Text, .batch = 1, .text_length = n});
    auto cg = compile(*fg.graph);
    w.apply(*cg);
    HostTensor one_ids(DType::I64, {1, n}), one_mask(DType::F32, {1, n});
    for (int64_t i = 0; i < n; ++i) {
      one_ids.data<int64_t>()[i] = ids.data<int64_t>()[b * L + i];
      one_mask.data<float>()[i] = 1.0f;
    }
    cg->set_input("input_ids", one_ids);
    cg->set_input("attention_mask", one_mask);
    cg->run();
    const HostTensor got = cg->output_copy("text_embedding");
    HostTensor want(DType::F32, {1, got.shape()[1]});
    std::memcpy(want.raw(), batch_emb.data<float>() + b * got.shape()[1], want.bytes());
    expect_close(got, want, 1e-5, 0, "caption " + std::to_string(b) + " alone vs in the padded batch");
  }
}

// ---- fusion golden counts -------------------------------------------------------------------------------

// The fused ops each model graph must contain: a pattern that silently stops matching fails here.
// LayerNorm: 3 per video block (norm1, norm2, norm3) + the final norm, all but the first norm3 behind a
// residual add (add_layer_norm); DistilBERT 2 per layer, each behind its residual add, + the embeddings'
// (word + position embeddings broadcast: a plain layer_norm). Attention: 4 per video block (time and space,
// each a CLS row over all tokens + the grouped queries with the CLS prefix); 1 per text layer. Linear:
// 6 per block (video: qkv, proj for time and space, fc1, fc2; text: q, k, v, out, fc1, fc2) + the patch
// embedding, the video projection and the text projection; gelu joins fc1 in inference graphs (compile()),
// never in training graphs (its backward reads the pre-activation).
TEST(Fusion, GoldenCountsPerModel) {
  struct Want {
    const char* config;
    Part part;
    bool train;
    std::map<std::string, int> counts;
  };
  const Want wants[] = {
      {"tiny",
       Part::Video,
       false,
       {{"add_layer_norm", 6}, {"attention", 8}, {"layer_norm", 1}, {"linear", 14}, {"linear/gelu", 2}}},
      {"tiny",
       Part::Text,
       false,
       {{"add_layer_norm", 4}, {"attention", 2}, {"layer_norm", 1}, {"linear", 13}, {"linear/gelu", 2}}},
      {"tiny",
       Part::Dual,
       true,
       {{"add_layer_norm", 10}, {"attention", 10}, {"layer_norm", 2}, {"linear", 27}}},
      {"base",
       Part::Video,
       false,
       {{"add_layer_norm", 36}, {"attention", 48}, {"layer_norm", 1}, {"linear", 74}, {"linear/gelu", 12}}},
      {"base",
       Part::Text,
       false,
       {{"add_layer_norm", 12}, {"attention", 6}, {"layer_norm", 1}, {"linear", 37}, {"linear/gelu", 6}}},
      {"base",
       Part::Dual,
       true,
       {{"add_layer_norm", 48}, {"attention", 54}, {"layer_norm", 2}, {"linear", 111}}}};
  for (const Want& want : wants) {
    const FitConfig c = FitConfig::named_or_file(want.config);
    FitGraph fg = build_fit_graph(c, {.part = want.part, .batch = 2, .text_length = 8, .loss = want.train});
    if (want.train) {
      const std::vector<Tensor> params = fg.params->tensors();
      const std::vector<Tensor> grads = gradients(fg.loss, params);
      for (size_t i = 0; i < params.size(); ++i)
        fg.graph->output("grad." + fg.params->specs()[i].name, grads[i]);
    }
    const std::string what = std::string(want.config) + (want.train ? " training " : " inference ") +
                             (want.part == Part::Video  ? "video"
                              : want.part == Part::Text ? "text"
                                                        : "dual");
    // What compile() runs: the graph as built (fused before autodiff), then its own fusion passes.
    const GraphPlan plan = plan_graph(*fg.graph);
    EXPECT_EQ(count_fused_ops(plan.graph), want.counts) << what;
    // The video model's grouped attention reads the CLS key/value as a prefix: half of its attentions.
    int prefixed = 0;
    for (NodeId n = 0; n < plan.graph.num_nodes(); ++n)
      prefixed += plan.graph.node(n).kind == OpKind::Attention && plan.graph.node(n).attrs.prefix;
    EXPECT_EQ(prefixed, want.part == Part::Text ? 0 : (want.config == std::string("tiny") ? 4 : 24)) << what;
    // In training graphs every fused forward op has its fused backward (add_layer_norm's is a layer_norm
    // backward reading the kept sum).
    if (want.train) {
      int ln_backward = 0, attention_backward = 0;
      const std::vector<bool> live = live_nodes(plan.graph);
      for (NodeId n = 0; n < plan.graph.num_nodes(); ++n) {
        ln_backward += live[n] && plan.graph.node(n).kind == OpKind::LayerNormBackward;
        attention_backward += live[n] && plan.graph.node(n).kind == OpKind::AttentionBackward;
      }
      EXPECT_EQ(ln_backward, want.counts.at("layer_norm") + want.counts.at("add_layer_norm")) << what;
      EXPECT_EQ(attention_backward, want.counts.at("attention")) << what;
    }
    // Unfused, none.
    FitGraph plain = build_fit_graph(
        c, {.part = want.part, .batch = 2, .text_length = 8, .loss = want.train, .fuse = false});
    EXPECT_TRUE(count_fused_ops(*plain.graph).empty()) << what;
    EXPECT_TRUE(count_fused_ops(plan_graph(*plain.graph, {.fuse = false}).graph).empty()) << what;
  }
}

// ---- the weight loader
// ---------------------------------------------------------------------------------------

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Writes `tensors` (name → tensor) to a temporary safetensors file.
std::string write_temp(const std::string& name, const std::map<std::string, HostTensor>& tensors) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::vector<std::pair<std::string, const HostTensor*>> list;
  for (const auto& [n, t] : tensors) list.emplace_back(n, &t);
  loader::write_safetensors(path, list);
  return path;
}

std::map<std::string, HostTensor> fixture_weights() {
  const auto f = loader::SafetensorsFile::open(kFixtures + "/tiny_dual_weights.safetensors");
  std::map<std::string, HostTensor> out;
  for (const auto& e : f.tensors()) out.emplace(e.name, f.read(e.name));
  return out;
}

TEST(WeightLoading, ReportsMissingUnexpectedAndMisshapedAllAtOnce) {
  auto t = fixture_weights();
  t.erase("module.txt_proj.1.bias");
  t.erase("module.video_model.norm.weight");
  t["module.video_model.blocks.9.attn.qkv.weight"] = HostTensor(DType::F32, {3, 3});
  t["module.vid_proj.0.weight"] = HostTensor(DType::F32, {32, 65});
  const std::string path = write_temp("bad_weights.safetensors", t);
  const std::string e = error_of([&] {
    load_weights(FitConfig::tiny(), {{path, WeightSource::FrozenInTime}});
  });
  for (const char* part : {"2 missing", "txt_proj.1.bias [32]", "video_model.norm.weight [64]",
                           "1 unexpected", "blocks.9.attn.qkv.weight F32[3, 3]", "1 mis-shaped",
                           "vid_proj.0.weight is [32, 65]", "the model's vid_proj.0.weight is [32, 64]"})
    EXPECT_NE(e.find(part), std::string::npos) << part << " not in: " << e;
}

TEST(WeightLoading, TheWrongModelIsRefusedByName) {
  // The BERT checkpoint given as the dual encoder's.
  const std::string e = error_of([&] {
    load_weights(FitConfig::tiny(),
                 {{kFixtures + "/tiny_bert_weights.safetensors", WeightSource::FrozenInTime}});
  });
  EXPECT_NE(e.find("missing"), std::string::npos) << e;
  EXPECT_NE(e.find("unexpected"), std::string::npos) << e;
  EXPECT_NE(e.find("bert.encoder.layer.0"), std::string::npos) << e;
}

TEST(WeightLoading, NonFiniteWeightsLoadWithAWarning) {
  auto t = fixture_weights();
  t["module.vid_proj.0.bias"].data<float>()[3] = std::nanf("");
  const std::string path = write_temp("nan_weights.safetensors", t);
  const WeightSet w = load_weights(FitConfig::tiny(), {{path, WeightSource::FrozenInTime}});
  ASSERT_EQ(w.warnings.size(), 1u);
  EXPECT_NE(w.warnings[0].find("vid_proj.0.bias: 1 of 32 values are NaN or Inf"), std::string::npos)
      << w.warnings[0];
}

TEST(WeightLoading, TemporalTableInflation) {
  FitConfig eight = FitConfig::tiny();
  eight.video.num_frames = 8;
  const auto t = fixture_weights();
  const HostTensor& four = t.at("module.video_model.temporal_embed");  // (1, 4, 64)
  const std::string path = write_temp("four_frames.safetensors", t);
  for (TemporalFix fix : {TemporalFix::Zeros, TemporalFix::Interp, TemporalFix::Bilinear}) {
    const WeightSet w = load_weights(eight, {{path, WeightSource::FrozenInTime}}, {.temporal_fix = fix});
    const HostTensor& got = w.tensors.at("video_model.temporal_embed");
    ASSERT_EQ(got.shape(), (Shape{1, 8, 64}));
    const float* g = got.data<float>();
    const float* f = four.data<float>();
    EXPECT_EQ(g[0], f[0]);            // frame 0 kept by every method
    if (fix == TemporalFix::Zeros) {  // frames 4..7 zero
      EXPECT_EQ(g[5 * 64 + 7], 0.0f);
      EXPECT_EQ(g[3 * 64 + 7], f[3 * 64 + 7]);
    } else if (fix == TemporalFix::Interp) {  // nearest: frame 5 ← floor(5 · 4 / 8) = 2
      EXPECT_EQ(g[5 * 64 + 7], f[2 * 64 + 7]);
    } else {  // align_corners: frame 7 ← frame 3; frame 1 at 3/7 between 0 and 1
      EXPECT_EQ(g[7 * 64 + 7], f[3 * 64 + 7]);
      EXPECT_NEAR(g[1 * 64 + 7], f[7] * (4.0f / 7) + f[64 + 7] * (3.0f / 7), 1e-6);
    }
    EXPECT_EQ(w.warnings.size(), 1u);
  }
  FitConfig two = FitConfig::tiny();
  two.video.num_frames = 2;  // fewer frames: truncated
  const WeightSet w = load_weights(two, {{path, WeightSource::FrozenInTime}});
  EXPECT_EQ(w.tensors.at("video_model.temporal_embed").shape(), (Shape{1, 2, 64}));
}

TEST(WeightLoading, TimmVitInitialisesTheVideoSideAsTheReference) {
  // A timm-named ViT: the fixture's shared video weights without the `module.video_model.` prefix.
  std::map<std::string, HostTensor> vit;
  for (const auto& [name, t] : fixture_weights()) {
    const std::string prefix = "module.video_model.";
    if (name.rfind(prefix, 0) != 0) continue;
    const std::string n = name.substr(prefix.size());
    if (n.find(".timeattn.") != std::string::npos || n.find(".norm3.") != std::string::npos ||
        n == "temporal_embed")
      continue;
    vit.emplace(n, t);
  }
  vit.emplace("head.weight", HostTensor(DType::F32, {1000, 64}));
  vit.emplace("head.bias", HostTensor(DType::F32, {1000}));
  const std::string path = write_temp("timm_vit.safetensors", vit);
  const WeightSet w =
      load_weights(FitConfig::tiny(), {{path, WeightSource::TimmVit}}, {.allow_missing = true});
  EXPECT_EQ(w.ignored.size(), 2u);
  const auto& qkv = w.tensors.at("video_model.blocks.1.timeattn.qkv.weight");
  const auto& proj = w.tensors.at("video_model.blocks.1.timeattn.proj.weight");
  EXPECT_EQ(qkv.at(5), 0.0);
  EXPECT_EQ(proj.at(5), 1.0);
  EXPECT_EQ(w.tensors.at("video_model.temporal_embed").at(3), 0.0);
  EXPECT_EQ(w.tensors.at("video_model.blocks.0.norm3.weight").at(0), 1.0);
  EXPECT_EQ(w.tensors.count("text_model.embeddings.word_embeddings.weight"), 0u);
}

TEST(WeightLoading, BadInputsNameTheInput) {
  const FitConfig c = FitConfig::tiny();
  EXPECT_NE(error_of([&] {
              build_fit_graph(c, {.part = Part::Video, .batch = 1, .frames = 5});
            }).find("a clip of 5 frames; the model takes 1 to 4"),
            std::string::npos);
  Graph g;
  Params p(g);
  Tensor clips = g.input("video", DType::F32, {1, 2, 3, 48, 48});
  EXPECT_NE(error_of([&] {
              video_encoder(p, c.video, clips, "video_model.");
            }).find("clips must be (B, F, 3, 32, 32)"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              build_fit_graph(c, {.part = Part::Text, .batch = 1, .text_length = 65});
            }).find("65 tokens exceed the model's 64 positions"),
            std::string::npos);
}

// The fixtures must come from the committed generators: each records its script's SHA-256.

// The reference's own text model as Hugging Face ships it: the fixture's DistilBERT under `distilbert.`
// names with the MLM head beside it, loaded from that file while the rest comes from the Frozen in Time
// checkpoint, gives PyTorch's text features and embeddings (the fixture's, from transformers).
TEST(WeightLoading, DistilBertFromAHuggingFaceCheckpointGivesTheReferenceOutputs) {
  std::map<std::string, HostTensor> hf, rest;
  for (auto& [name, t] : fixture_weights()) {
    const std::string prefix = "module.text_model.";
    if (name.rfind(prefix, 0) == 0)
      hf.emplace("distilbert." + name.substr(prefix.size()), t);
    else
      rest.emplace(name, t);
  }
  ASSERT_GT(hf.size(), 10u);
  const FitConfig c = FitConfig::tiny();
  const int64_t V = c.text.vocab_size, C = c.text.dim;
  for (const auto& [name, shape] :
       std::vector<std::pair<std::string, Shape>>{{"vocab_transform.weight", {C, C}},
                                                  {"vocab_transform.bias", {C}},
                                                  {"vocab_layer_norm.weight", {C}},
                                                  {"vocab_layer_norm.bias", {C}},
                                                  {"vocab_projector.bias", {V}}})
    hf.emplace(name, test::uniform(DType::F32, shape, 7));
  const WeightSet w =
      load_weights(c, {{write_temp("hf_distilbert.safetensors", hf), WeightSource::HuggingFaceText},
                       {write_temp("fit_without_text.safetensors", rest), WeightSource::FrozenInTime}});
  EXPECT_EQ(w.ignored.size(), 5u);  // the MLM head
  const auto io = loader::SafetensorsFile::open(kFixtures + "/tiny_dual_io.safetensors");
  const DualRun r = run_dual(test::kernel_paths().front(), io, w);
  for (const char* name : {"text_features", "text_embedding", "similarity"})
    expect_close(r.out.at(name), io.read(name), 1e-5, 0, std::string("distilbert. ") + name);
}

TEST(ParityFixtures, AreFreshForTheirGeneratorScripts) {
  const std::pair<const char*, std::vector<const char*>> generators[] = {
      {"make_fixtures.py", {"tiny_dual_io", "tiny_dual_weights", "tiny_bert_io", "tiny_bert_weights"}},
      {"make_minilm_fixture.py", {"minilm_expected"}},
      {"make_adamw_fixtures.py", {"adamw"}},
      {"make_train_fixtures.py",
       {"tiny_train_plain", "tiny_train_accum2", "tiny_train_clip", "tiny_train_frozen_text"}},
      {"make_export_fixture.py", {"reference_state_dict"}},
      {"make_metric_fixtures.py", {"retrieval_metrics"}}};
  for (const auto& [script, fixtures] : generators) {
    const std::string sha = test::sha256_of_file(kDir + "/" + script);
    for (const char* f : fixtures) {
      const auto file = loader::SafetensorsFile::open(kFixtures + "/" + f + ".safetensors");
      const auto meta = nlohmann::json::parse(file.metadata().at("fixture"));
      EXPECT_EQ(meta.at("script_sha256").get<std::string>(), sha)
          << f << " was written by another version of tests/parity/" << script << ": regenerate it";
    }
  }
}

}  // namespace
}  // namespace frost::model
