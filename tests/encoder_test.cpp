// The encoding API (model/encoder.h): batching does not change results, clips encode as the parity
// fixture says, images are one-frame clips, and the host similarity equals the graph's.
#include <gtest/gtest.h>

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "engine/error.h"
#include "engine/state_store.h"
#include "loader/safetensors.h"
#include "loader/video.h"
#include "model/encoder.h"
#include "ops/api.h"
#include "test_util.h"

namespace frost::model {
namespace {

// ---- the reference's own experiment configs (issue 18) ------------------------------------------------

// The structure of the Frozen in Time repository's configs/msrvtt_4f_i21k.json (its values, trimmed of
// paths): arch.args as model.py reads them, a data loader, and the training keys frost ignores.
std::string reference_config(const std::string& video_params, const std::string& text_model,
                             const std::string& loaders, const std::string& extra_args = "") {
  return R"({"name": "MSRVTTjsfusion_4f_stformer_pt-im21k", "n_gpu": 4,
    "arch": {"type": "FrozenInTime", "args": {"video_params": )" +
         video_params + R"(, "text_params": {"model": ")" + text_model +
         R"(", "pretrained": true, "input": "text"}, "projection": "minimal")" + extra_args + R"(}},
    "data_loader": )" +
         loaders + R"(,
    "optimizer": {"type": "AdamW", "args": {"lr": 3e-5}},
    "loss": {"type": "NormSoftmaxLoss", "args": {}},
    "metrics": ["t2v_metrics", "v2t_metrics"],
    "trainer": {"epochs": 100, "max_samples_per_epoch": 9000, "save_period": 5, "monitor": "min val_loss",
                "early_stop": 10, "neptune": false}})";
}
const std::string kVideo4 = R"({"model": "SpaceTimeTransformer", "arch_config": "base_patch16_224",
    "num_frames": 4, "pretrained": true, "time_init": "zeros"})";
std::string loader(int frames, int res = 224) {
  return R"({"type": "TextVideoDataLoader", "args": {"dataset_name": "MSRVTT", "batch_size": 16,
    "text_params": {"input": "text"}, "video_params": {"extraction_fps": 25, "extraction_res": 256,
    "input_res": )" +
         std::to_string(res) + R"(, "num_frames": )" + std::to_string(frames) + R"(, "stride": 1}}})";
}

TEST(ReferenceConfigs, MapOntoTheModelTheReferenceBuilds) {
  std::vector<std::string> notes;
  // MSR-VTT 4 frames, DistilBERT: the released model (base), under the reference's name.
  FitConfig msrvtt = FitConfig::from_json(reference_config(kVideo4, "distilbert-base-uncased", loader(4)),
                                          "msrvtt_4f.json", &notes);
  EXPECT_EQ(msrvtt.name, "MSRVTTjsfusion_4f_stformer_pt-im21k");
  msrvtt.name = "base";
  EXPECT_EQ(msrvtt.to_json(), FitConfig::base().to_json());
  EXPECT_TRUE(notes.empty());
  // CC3M + WebVid, 1-frame pretraining of the 4-frame model (a list of loaders): the model keeps 4 frames,
  // and each loader's 1 frame is said.
  FitConfig pretrain = FitConfig::from_json(
      reference_config(kVideo4, "distilbert-base-uncased", "[" + loader(1) + ", " + loader(1) + "]"),
      "cc.json", &notes);
  EXPECT_EQ(pretrain.video.num_frames, 4);
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_NE(notes[0].find("data_loader[0] samples 1 frame per clip"), std::string::npos) << notes[0];
  // 8 frames, BERT (the reference's bert* branch: the pooler output), a wider projection, the loss's
  // temperature.
  std::string eight = kVideo4;
  eight.replace(eight.find("\"num_frames\": 4"), 15, "\"num_frames\": 8");
  std::string config = reference_config(eight, "bert-base-uncased", loader(8), R"(, "projection_dim": 512)");
  config.replace(config.find(R"("args": {}})"), 11, R"("args": {"temperature": 0.07}})");
  const FitConfig bert = FitConfig::from_json(config, "bert_8f.json");
  EXPECT_EQ(bert.video.num_frames, 8);
  EXPECT_EQ(bert.projection_dim, 512);
  EXPECT_EQ(bert.temperature, 0.07);
  EXPECT_EQ(bert.text.arch, TextArch::Bert);
  EXPECT_EQ(bert.text.layers, 12);
  EXPECT_EQ(bert.text.type_vocab_size, 2);
  EXPECT_TRUE(bert.text.use_pooler);
  bert.validate();
  // load_temporal_fix (FrozenInTime's sixth keyword): 'bilinear' is accepted, with a note.
  notes.clear();
  FitConfig::from_json(reference_config(kVideo4, "distilbert-base-uncased", loader(4),
                                        R"(, "load_temporal_fix": "bilinear", "load_checkpoint": "x.pth")"),
                       "fix.json", &notes);
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_NE(notes[0].find("load_temporal_fix 'bilinear'"), std::string::npos) << notes[0];
  EXPECT_NE(notes[1].find("give the checkpoint as --weights"), std::string::npos) << notes[1];
}

TEST(ReferenceConfigs, WhatFrostDoesNotBuildIsRefusedByName) {
  auto refusal = [](const std::string& json) {
    try {
      FitConfig::from_json(json, "ref.json");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  auto swap = [](std::string s, const std::string& from, const std::string& to) {
    s.replace(s.find(from), from.size(), to);
    return s;
  };
  const std::string ok = reference_config(kVideo4, "distilbert-base-uncased", loader(4));
  const std::pair<std::string, std::string> cases[] = {
      {reference_config(kVideo4, "roberta-base", loader(4)),
       "ref.json: arch.args.text_params model 'roberta-base' is not supported"},
      {reference_config(kVideo4, "distilbert-base-cased", loader(4)),
       "text_params model 'distilbert-base-cased' is not supported"},
      {reference_config(swap(kVideo4, "base_patch16_224", "base_patch32_224"), "distilbert-base-uncased",
                        loader(4)),
       "arch.args.video_params arch_config 'base_patch32_224' is not supported"},
      {reference_config(swap(kVideo4, "zeros", "rand"), "distilbert-base-uncased", loader(4)),
       "video_params time_init 'rand' is not supported"},
      {reference_config(swap(kVideo4, "SpaceTimeTransformer", "ResNet50"), "distilbert-base-uncased",
                        loader(4)),
       "video_params model 'ResNet50' is not supported"},
      {swap(ok, R"("projection": "minimal")", R"("projection": "")"), "projection '' is not supported"},
      {swap(ok, R"("type": "FrozenInTime")", R"("type": "CLIP4Clip")"),
       "arch type 'CLIP4Clip' is not supported"},
      {reference_config(kVideo4, "distilbert-base-uncased", loader(4, 256)),
       "data_loader.args.video_params input_res 256 is not the model's 224"},
      {swap(ok, R"("type": "NormSoftmaxLoss")", R"("type": "MaxMarginRankingLoss")"),
       "loss type 'MaxMarginRankingLoss' is not supported"},
      {swap(ok, R"("args": {"video_params")", R"("argz": {"video_params")"), "'args' must be a JSON object"},
      {swap(ok, R"("projection": "minimal")", R"("projection": "minimal", "projektion_dim": 3)"),
       "ref.json: arch.args: unknown field 'projektion_dim'"},
      {swap(ok, R"("projection": "minimal")", R"("projection": "minimal", "load_temporal_fix": "nearest")"),
       "load_temporal_fix 'nearest' is not supported"},
  };
  for (const auto& [json, want] : cases) {
    const std::string got = refusal(json);
    EXPECT_NE(got.find(want), std::string::npos) << "want: " << want << "\ngot: " << got;
  }
}

const std::string kFixtures = std::string(FROST_PARITY_DIR) + "/fixtures";
const std::string kImages = std::string(FROST_PARITY_DIR) + "/../fixtures/preprocess";

WeightSet tiny_weights() {
  return load_weights(FitConfig::tiny(),
                      {{kFixtures + "/tiny_dual_weights.safetensors", WeightSource::FrozenInTime}});
}

TEST(Encoder, ClipsInBatchesMatchTheParityFixture) {
  const auto io = loader::SafetensorsFile::open(kFixtures + "/tiny_dual_io.safetensors");
  DualEncoder enc(FitConfig::tiny(), tiny_weights(), std::nullopt, {.batch_size = 2});
  const Embeddings e = enc.encode_clips(io.read("video"));  // 3 clips: a batch of 2, then 1
  EXPECT_EQ(enc.compiled_graphs(), 2u);
  EXPECT_TRUE(test::close(e.embedding, io.read("video_embedding"), 1e-5, 0));
  EXPECT_TRUE(test::close(e.features, io.read("video_features"), 1e-5, 0));
  // Encoding again reuses the compiled graphs.
  enc.encode_clips(io.read("video"));
  EXPECT_EQ(enc.compiled_graphs(), 2u);
}

TEST(Encoder, TextBatchingDoesNotChangeEmbeddings) {
  const std::vector<std::string> captions = {"a dog runs on the beach", "two children playing with a ball",
                                             "a man is cooking in the kitchen at night", "snow", ""};
  auto vocab = [] { return loader::WordPieceTokenizer::from_vocab(kFixtures + "/tiny_vocab.txt"); };
  DualEncoder one(FitConfig::tiny(), tiny_weights(), vocab(), {.batch_size = 1});
  DualEncoder all(FitConfig::tiny(), tiny_weights(), vocab(), {.batch_size = 8});
  const Embeddings a = one.encode_text(captions), b = all.encode_text(captions);
  ASSERT_EQ(a.embedding.shape(), (Shape{5, 32}));
  EXPECT_TRUE(test::close(a.embedding, b.embedding, 2e-6, 0));
  EXPECT_TRUE(test::close(a.features, b.features, 2e-6, 0));
  // Different captions give different embeddings.
  EXPECT_NE(std::memcmp(a.embedding.data<float>(), a.embedding.data<float>() + 32, 32 * sizeof(float)), 0);
}

// Captions padded up to a length bucket (what search does, so new query lengths reuse compiled graphs)
// embed as unpadded ones: the padding is masked out. Three lengths share one bucket: one graph.
TEST(Encoder, TextLengthBucketsDoNotChangeEmbeddings) {
  const std::vector<std::string> captions = {"snow", "a dog runs on the beach",
                                             "two children playing with a ball"};
  auto vocab = [] { return loader::WordPieceTokenizer::from_vocab(kFixtures + "/tiny_vocab.txt"); };
  DualEncoder exact(FitConfig::tiny(), tiny_weights(), vocab(), {.batch_size = 1});
  DualEncoder bucketed(FitConfig::tiny(), tiny_weights(), vocab(),
                       {.batch_size = 1, .text_length_buckets = {16, 32}});
  const Embeddings a = exact.encode_text(captions), b = bucketed.encode_text(captions);
  EXPECT_TRUE(test::close(a.embedding, b.embedding, 2e-6, 0));
  EXPECT_TRUE(test::close(a.features, b.features, 2e-6, 0));
  EXPECT_EQ(exact.compiled_graphs(), 3u);
  EXPECT_EQ(bucketed.compiled_graphs(), 1u);
}

// test.py's sliding windows: a 14-frame folder at stride 1 has windows at offsets 0, 1, 2 (arange(0, 14 / 5,
// 1)); the video's embedding is the mean of those windows' embeddings, each clip sampled FixStart.
TEST(Encoder, SlidingWindowsAverageTheWindowEmbeddings) {
  const std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) / "frost_sliding_frames";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  // One size, two pictures, in an irregular order (so the windows differ from each other and the uniform
  // clip).
  for (int i = 0; i < 14; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "%04d.png", i);
    const bool second = (i * i + i / 3) % 2 == 1;
    std::filesystem::copy_file(kImages + (second ? "/frames_landscape_1.png" : "/frames_landscape_0.png"),
                               dir / name);
  }
  DualEncoder enc(FitConfig::tiny(), tiny_weights(), std::nullopt, {.batch_size = 2});
  const Embeddings got = enc.encode_videos_sliding({dir.string()}, 1);
  const auto source = loader::open_frame_source(dir.string());
  const std::vector<int64_t> offsets = loader::fix_start_offsets(source->frame_count(), 4, 1);
  ASSERT_EQ(offsets, (std::vector<int64_t>{0, 1, 2}));
  loader::ClipOptions clip;
  clip.sampling.mode = loader::FrameSampling::FixStart;
  clip.test_transform.size = 32;
  HostTensor mean(DType::F32, {1, 32});
  for (int64_t o : offsets) {
    clip.sampling.fix_start = o;
    const loader::Clip c = loader::load_clip(*source, clip);
    HostTensor one(DType::F32, {1, 4, 3, 32, 32});
    std::memcpy(one.raw(), c.pixels.raw(), c.pixels.bytes());
    const HostTensor e = enc.encode_clips(one).embedding;
    for (int k = 0; k < 32; ++k) mean.data<float>()[k] += e.data<float>()[k] / 3.0f;
  }
  EXPECT_TRUE(test::close(got.embedding, mean, 1e-6, 1e-5));
  // Not the plain clip: the windows differ from the uniform sample.
  EXPECT_FALSE(test::close(enc.encode_videos({dir.string()}).embedding, got.embedding, 1e-6, 1e-5));
  EXPECT_THROW(enc.encode_videos_sliding({dir.string()}, 0), Error);
}

TEST(Encoder, ImagesAreOneFrameClips) {
  const std::string png = kImages + "/frames_small_0.png";
  DualEncoder enc(FitConfig::tiny(), tiny_weights(), std::nullopt);
  const Embeddings img = enc.encode_images({png});
  loader::ClipOptions one;
  one.sampling.num_frames = 1;
  one.test_transform.size = 32;
  const loader::Clip clip = loader::load_clip(png, one);
  HostTensor clips(DType::F32, {1, 1, 3, 32, 32});
  std::memcpy(clips.raw(), clip.pixels.raw(), clips.bytes());
  EXPECT_TRUE(test::bit_identical(img.embedding, enc.encode_clips(clips).embedding));
}

TEST(Encoder, HostSimilarityEqualsTheGraphs) {
  const auto io = loader::SafetensorsFile::open(kFixtures + "/tiny_dual_io.safetensors");
  EXPECT_TRUE(test::close(similarity(io.read("text_embedding"), io.read("video_embedding")),
                          io.read("similarity"), 1e-6, 0));
}

// The weights are held once: read from the file without a copy (F32 tensors borrow its mapped pages) and
// bound by every compiled graph, however many batch shapes there are. set_weights replaces them in every
// graph, and refuses a set that lacks one (changing nothing).
TEST(Encoder, WeightsAreHeldOnceWhereTheyLieAndReplacedInEveryGraph) {
  const WeightSet w = tiny_weights();
  size_t bytes = 0, borrowed = 0;
  for (const auto& [name, t] : w.tensors) {
    bytes += t.bytes();
    borrowed += t.borrowed();
  }
  EXPECT_EQ(borrowed, w.tensors.size()) << "F32 weights of an aligned file were copied";
  const auto io = loader::SafetensorsFile::open(kFixtures + "/tiny_dual_io.safetensors");
  // Moved in, as commands do: the encoder's weights are the file's pages (set_weights below writes to them,
  // copy-on-write).
  DualEncoder enc(FitConfig::tiny(), tiny_weights(), std::nullopt, {.batch_size = 2});
  const Embeddings before = enc.encode_clips(io.read("video"));  // graphs for batches of 2 and 1
  ASSERT_EQ(enc.compiled_graphs(), 2u);
  EXPECT_EQ(enc.weight_bytes(), bytes) << "weights held more than once";

  WeightSet other = w;  // every weight halved: another model
  for (auto& [name, t] : other.tensors)
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] *= 0.5f;
  DualEncoder fresh(FitConfig::tiny(), other, std::nullopt, {.batch_size = 2});
  const Embeddings want = fresh.encode_clips(io.read("video"));
  enc.set_weights(other);
  const Embeddings got = enc.encode_clips(io.read("video"));
  EXPECT_TRUE(test::bit_identical(got.embedding, want.embedding));
  EXPECT_FALSE(test::close(got.embedding, before.embedding, 1e-3, 0));

  WeightSet lacking = w;
  lacking.tensors.erase("vid_proj.0.weight");
  EXPECT_THROW(enc.set_weights(lacking), Error);
  WeightSet misshaped = w;
  misshaped.tensors.at("vid_proj.0.bias") = HostTensor(DType::F32, {3});
  EXPECT_THROW(enc.set_weights(misshaped), Error);
  EXPECT_TRUE(test::bit_identical(enc.encode_clips(io.read("video")).embedding, want.embedding))
      << "a refused set changed the weights";
  // The file's bytes were never written: a new load equals the first.
  for (const auto& [name, t] : tiny_weights().tensors)
    EXPECT_TRUE(test::bit_identical(t, w.tensors.at(name)));
}

// A GEMM weight borrowed from a mapped file and packed (onednn.linear_packed) hands its file pages back to
// the kernel after packing, so the weight is resident once, packed, not twice: the file's pages under it
// leave memory (mincore) once it is packed, at the graph's second run. Skipped, and said so, where the build
// or CPU does not pack or the kernel has no MADV_PAGEOUT.
TEST(Encoder, PackedWeightsHandTheirFilePagesBack) {
  const int64_t M = 16, K = 1024, N = 1024;  // a 4 MiB weight
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("frost_pageout_" + std::to_string(::getpid()) + ".safetensors"))
                               .string();
  const HostTensor w = test::uniform(DType::F32, {N, K}, 1), b = test::uniform(DType::F32, {N}, 2);
  loader::write_safetensors(path, {{"w", &w}, {"b", &b}});
  auto store = std::make_shared<StateStore>("cpu");
  const auto file = loader::SafetensorsFile::open(path);
  HostTensor borrowed = file.read_shared("w");
  ASSERT_TRUE(borrowed.borrowed());
  const char* source = static_cast<const char*>(borrowed.raw());
  store->adopt("w", StateKind::Parameter, std::move(borrowed));
  store->adopt("b", StateKind::Parameter, file.read("b"));
  Graph g;
  Tensor x = g.input("x", DType::F32, {M, K});
  // Written as model code writes it, matmul + bias: fusion makes the linear and leaves the matmul dead in
  // the graph, still listing the weight (a dead reader must not stop the pages going back).
  g.output("y", matmul(x, g.state("w", DType::F32, {N, K}), false, true) + g.state("b", DType::F32, {N}));
  auto cg = compile(g, {.states = store});
  const std::vector<std::string> kernels = cg->kernel_names();
  if (std::find(kernels.begin(), kernels.end(), "onednn.linear_packed") == kernels.end())
    GTEST_SKIP() << "this build or CPU keeps GEMM weights in the plain layout";
  // The interior pages of the weight, made resident by reading them.
  const uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
  const uintptr_t begin = (uintptr_t(source) + page - 1) / page * page,
                  end = (uintptr_t(source) + size_t(N * K) * sizeof(float)) / page * page;
  auto resident = [&] {
    std::vector<unsigned char> v((end - begin) / page);
    EXPECT_EQ(mincore(reinterpret_cast<void*>(begin), end - begin, v.data()), 0) << std::strerror(errno);
    size_t n = 0;
    for (unsigned char c : v) n += c & 1;
    return n;
  };
  volatile float sum = 0;
  for (uintptr_t a = begin; a < end; a += page) sum = sum + *reinterpret_cast<const float*>(a);
  const size_t before = resident(), pages = (end - begin) / page;
  ASSERT_EQ(before, pages);
  cg->set_input("x", test::uniform(DType::F32, {M, K}, 3));
  // The first run computes on the weight as stored (a graph run once never earns a reorder back): nothing
  // is packed, nothing handed back. The second packs; both give the same bits (brgemm packs the plain
  // weight into the same panels itself on every call).
  cg->run();
  const HostTensor first = cg->output_copy("y");
  EXPECT_EQ(resident(), pages) << "the weight was packed and paged out on the graph's first run";
  cg->run();
  const size_t after = resident();
  EXPECT_TRUE(test::bit_identical(cg->output_copy("y"), first)) << "packed and plain GEMMs differ";
  std::filesystem::remove(path);
  if (after == pages) {  // nothing was paged out: is MADV_PAGEOUT there at all?
    void* probe = mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    const bool supported = madvise(probe, page, 21 /* MADV_PAGEOUT */) == 0;
    munmap(probe, page);
    if (!supported) GTEST_SKIP() << "this kernel has no MADV_PAGEOUT (Linux 5.4+)";
  }
  EXPECT_LT(after, pages / 10) << after << " of " << pages << " pages of the plain weight still resident";
}

// onednn.linear_packed runs a step's first run on the weight as stored and packs from the second: the two
// must give the same bits, or an encoder's first call would differ from its later ones. The model's GEMM
// shapes (1 caption, a video clip, 64 captions), with and without the GELU epilogue.
TEST(Encoder, PackedAndPlainGemmsGiveTheSameBits) {
  struct Case {
    int64_t M, K, N;
    bool gelu_epilogue;
  };
  for (const Case& c :
       {Case{1, 768, 768, false}, Case{32, 768, 3072, true}, Case{32, 3072, 768, false},
        Case{785, 768, 2304, false}, Case{785, 768, 3072, true}, Case{2048, 768, 3072, true}}) {
    auto store = std::make_shared<StateStore>("cpu");
    store->adopt("w", StateKind::Parameter, test::uniform(DType::F32, {c.N, c.K}, 1));
    store->adopt("b", StateKind::Parameter, test::uniform(DType::F32, {c.N}, 2));
    Graph g;
    Tensor x = g.input("x", DType::F32, {c.M, c.K});
    Tensor y = matmul(x, g.state("w", DType::F32, {c.N, c.K}), false, true) + g.state("b", DType::F32, {c.N});
    g.output("y", c.gelu_epilogue ? gelu(y) : y);
    auto cg = compile(g, {.states = store});
    const std::vector<std::string> kernels = cg->kernel_names();
    if (std::find(kernels.begin(), kernels.end(), "onednn.linear_packed") == kernels.end())
      GTEST_SKIP() << "this build or CPU keeps GEMM weights in the plain layout";
    cg->set_input("x", test::uniform(DType::F32, {c.M, c.K}, 3));
    cg->run();  // plain
    const HostTensor first = cg->output_copy("y");
    cg->run();  // packed
    EXPECT_TRUE(test::bit_identical(cg->output_copy("y"), first))
        << c.M << " x " << c.K << " x " << c.N << (c.gelu_epilogue ? " + gelu" : "");
  }
}

// A weight set that lacks a parameter a graph needs is refused when that graph is built, naming it.
TEST(Encoder, AGraphNeedingAnAbsentWeightIsRefusedByName) {
  WeightSet w = tiny_weights();
  w.tensors.erase("video_model.norm.weight");
  DualEncoder enc(FitConfig::tiny(), std::move(w), std::nullopt);
  try {
    enc.encode_clips(HostTensor(DType::F32, {1, 4, 3, 32, 32}));
    ADD_FAILURE() << "encoded without video_model.norm.weight";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("video_model.norm.weight"), std::string::npos) << e.what();
  }
}

TEST(Encoder, RejectsInputsThatDoNotFit) {
  DualEncoder enc(FitConfig::tiny(), tiny_weights(), std::nullopt);
  EXPECT_THROW(enc.encode_clips(HostTensor(DType::F32, {1, 5, 3, 32, 32})), Error);    // more frames than 4
  EXPECT_THROW(enc.encode_clips(HostTensor(DType::F32, {1, 2, 3, 224, 224})), Error);  // wrong image size
  EXPECT_THROW(enc.encode_text({"no tokenizer"}), Error);
  EXPECT_THROW(DualEncoder(FitConfig::tiny(), tiny_weights(), loader::default_uncased_tokenizer()), Error);
}

}  // namespace
}  // namespace frost::model
