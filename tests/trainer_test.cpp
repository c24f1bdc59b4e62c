// The trainer beyond parity (train/trainer.h): exact resume (2N steps in one run equal N + checkpoint +
// resume + N to the bit, with dropout on and a warm-up + cosine schedule across the resume point), a stop
// request, steps alternating between frame counts, refusals of checkpoints that do not fit, the inference
// export's names against the reference model's state_dict (tests/parity/make_export_fixture.py), divergence,
// a full disk, bad batches, and where the gradients live.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "engine/passes/passes.h"
#include "loader/safetensors.h"
#include "model/dual_encoder.h"
#include "model/weights.h"
#include "test_util.h"
#include "train/trainer.h"

namespace frost::train {
namespace {

namespace fs = std::filesystem;
const std::string kFixtures = std::string(FROST_PARITY_DIR) + "/fixtures";

const model::WeightSet& initial_weights() {
  static const model::WeightSet w = model::load_weights(
      model::FitConfig::tiny(),
      {{kFixtures + "/tiny_dual_weights.safetensors", model::WeightSource::FrozenInTime}});
  return w;
}

// Micro-batch k of the parity fixture's five (4 pairs, 8 tokens), with sample ids "b<k>.<i>".
MicroBatch fixture_batch(int64_t k) {
  static const auto io = loader::SafetensorsFile::open(kFixtures + "/tiny_train_plain.safetensors");
  const std::string b = "batch" + std::to_string(k % 5) + ".";
  MicroBatch m{.input_ids = io.read(b + "input_ids"),
               .attention_mask = io.read(b + "attention_mask"),
               .video = io.read(b + "video")};
  for (int i = 0; i < 4; ++i) m.sample_ids.push_back("b" + std::to_string(k % 5) + "." + std::to_string(i));
  return m;
}

std::vector<MicroBatch> batches_of_step(int64_t step, int64_t K) {
  std::vector<MicroBatch> out;
  for (int64_t k = 0; k < K; ++k) out.push_back(fixture_batch((step - 1) * K + k));
  return out;
}

// Dropout on text hidden states and attention probabilities, warm-up 3 then cosine to step 8, weight decay
// on the default group: every piece of state a resume must restore.
TrainOptions resumable_options(int64_t K, double clip_norm = 30.0) {
  TrainOptions o{.batch = 4, .text_length = 8, .accumulation = K};
  o.adamw.lr = 1e-3;
  o.adamw.weight_decay = 0.01;
  o.schedule = {.kind = ScheduleKind::Cosine, .warmup_steps = 3, .total_steps = 8};
  o.dropout = 0.1;
  o.attention_dropout = 0.1;
  o.seed = 1234;
  o.clip_norm = clip_norm;
  return o;
}

std::string temp_path(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("frost_trainer_test_" + std::to_string(getpid()));
  fs::create_directories(dir);
  return (dir / name).string();
}

bool same_bits(const HostTensor& a, const HostTensor& b) {
  return a.bytes() == b.bytes() && std::memcmp(a.raw(), b.raw(), a.bytes()) == 0;
}

// (accumulation, clip norm): each gradient layout — consumed by its update, held for clipping, accumulated.
class Resume : public ::testing::TestWithParam<std::pair<int64_t, double>> {};

TEST_P(Resume, TwoNStepsEqualNPlusResumePlusNToTheBit) {
  const int64_t K = GetParam().first, N = 4;
  auto resumable_options = [&](int64_t k) { return train::resumable_options(k, GetParam().second); };
  Trainer straight(model::FitConfig::tiny(), resumable_options(K));
  straight.set_weights(initial_weights());
  std::vector<double> losses;
  for (int64_t s = 1; s <= 2 * N; ++s) losses.push_back(straight.step(batches_of_step(s, K)).loss);

  const std::string ckpt = temp_path("resume_" + std::to_string(K) + "_" +
                                     std::to_string(int(GetParam().second)) + ".safetensors");
  {
    Trainer first(model::FitConfig::tiny(), resumable_options(K));
    first.set_weights(initial_weights());
    // Stopped by a request after step N, as a signal handler would: the loop writes the checkpoint.
    const LoopEnd end =
        run_training(first, [&](int64_t s) { return batches_of_step(s, K); },
                     {.steps = 2 * N, .checkpoint_path = ckpt, .on_step = [&](const StepResult& r) {
                        if (r.step == N) first.request_stop();
                      }});
    EXPECT_EQ(end, LoopEnd::Stopped);
    EXPECT_EQ(first.step_count(), N);
  }
  Trainer second(model::FitConfig::tiny(), resumable_options(K));
  second.load_checkpoint(ckpt);
  EXPECT_EQ(second.step_count(), N);
  for (int64_t s = N + 1; s <= 2 * N; ++s) {
    const StepResult r = second.step(batches_of_step(s, K));
    EXPECT_EQ(r.loss, losses[size_t(s - 1)]) << "step " << s;
  }
  int compared = 0;
  for (const std::string& name : straight.states().names()) {
    if (name.rfind("grad.", 0) == 0) continue;  // accumulators: zero between steps
    EXPECT_TRUE(same_bits(straight.states().copy(name), second.states().copy(name))) << name;
    ++compared;
  }
  EXPECT_EQ(compared, 3 * int(straight.parameter_names().size()));  // parameters, m and v
}

INSTANTIATE_TEST_SUITE_P(Layouts, Resume,
                         ::testing::Values(std::make_pair(int64_t(1), 0.0), std::make_pair(int64_t(1), 30.0),
                                           std::make_pair(int64_t(2), 0.0)));

// The first frame of each clip: a micro-batch of 1-frame clips (as images are) from a video fixture batch.
MicroBatch first_frames(MicroBatch m) {
  const Shape s = m.video.shape();  // (B, F, 3, S, S)
  HostTensor one(DType::F32, {s[0], 1, s[2], s[3], s[4]});
  const int64_t frame = s[2] * s[3] * s[4];
  for (int64_t b = 0; b < s[0]; ++b)
    std::memcpy(one.data<float>() + b * frame, m.video.data<float>() + b * s[1] * frame, size_t(frame) * 4);
  m.video = one;
  return m;
}

// A run whose steps alternate between 1-frame and 4-frame micro-batches (images and videos) equals the
// same steps taken by single-frame-count trainers handing over through checkpoints, to the bit.
TEST(Trainer, StepsAlternateBetweenFrameCountsOverOneStateStore) {
  auto batch = [](int64_t step) {
    return step % 2 == 1 ? first_frames(fixture_batch(step)) : fixture_batch(step);
  };
  TrainOptions o = resumable_options(1);
  Trainer mixed(model::FitConfig::tiny(), o);  // built for the config's 4 frames
  mixed.set_weights(initial_weights());
  std::vector<double> losses;
  for (int64_t s = 1; s <= 4; ++s) losses.push_back(mixed.step(std::vector<MicroBatch>{batch(s)}).loss);

  const std::string ckpt = temp_path("frames_handover.safetensors");
  for (int64_t s = 1; s <= 4; ++s) {
    TrainOptions os = o;
    os.frames = s % 2 == 1 ? 1 : 4;
    Trainer t(model::FitConfig::tiny(), os);
    if (s == 1)
      t.set_weights(initial_weights());
    else
      t.load_checkpoint(ckpt);
    EXPECT_EQ(t.step(std::vector<MicroBatch>{batch(s)}).loss, losses[size_t(s - 1)]) << "step " << s;
    t.save_checkpoint(ckpt);
    if (s < 4) continue;
    for (const std::string& name : mixed.states().names()) {
      if (name.rfind("grad.", 0) != 0) {
        EXPECT_TRUE(same_bits(mixed.states().copy(name), t.states().copy(name))) << name;
      }
    }
  }
  // More frames than the temporal table has rows is refused by name.
  MicroBatch too_long = fixture_batch(1);
  const Shape s = too_long.video.shape();
  too_long.video = HostTensor(DType::F32, {s[0], 5, s[2], s[3], s[4]});
  try {
    mixed.step(std::vector<MicroBatch>{too_long});
    FAIL() << "a 5-frame micro-batch ran on a 4-frame model";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::InvalidArgument);
    EXPECT_NE(std::string(e.what()).find("5-frame"), std::string::npos) << e.what();
  }
}

TEST(Trainer, AStopRequestIsClearedSoTheNextLoopContinues) {
  Trainer t(model::FitConfig::tiny(), resumable_options(1));
  t.set_weights(initial_weights());
  const std::string ckpt = temp_path("continue.safetensors");
  auto batches = [](int64_t s) { return batches_of_step(s, 1); };
  t.request_stop();  // before any step: nothing runs, nothing is written
  EXPECT_EQ(run_training(t, batches, {.steps = 3, .checkpoint_path = ckpt}), LoopEnd::Stopped);
  EXPECT_EQ(t.step_count(), 0);
  EXPECT_FALSE(fs::exists(ckpt));
  EXPECT_EQ(run_training(t, batches, {.steps = 3, .checkpoint_path = ckpt}), LoopEnd::Finished);
  EXPECT_EQ(t.step_count(), 3);
  EXPECT_TRUE(fs::exists(ckpt));
}

// The masks change from micro-batch to micro-batch (the stream advances) and from site to site (each its
// own key): at lr 0 the weights stay put, so two steps on one batch differ only by their masks.
TEST(Trainer, DropoutMasksDifferPerStepAndPerSite) {
  TrainOptions o = resumable_options(1);
  o.adamw.lr = 0;
  Trainer t(model::FitConfig::tiny(), o);
  t.set_weights(initial_weights());
  const double first = t.step(batches_of_step(1, 1)).loss, second = t.step(batches_of_step(1, 1)).loss;
  EXPECT_NE(first, second);
  TrainOptions off = o;
  off.dropout = off.attention_dropout = 0;
  Trainer plain(model::FitConfig::tiny(), off);
  plain.set_weights(initial_weights());
  EXPECT_EQ(plain.step(batches_of_step(1, 1)).loss, plain.step(batches_of_step(1, 1)).loss);
  std::set<uint64_t> keys;
  int sites = 0;
  // The forward graph (the backward's dropout nodes reuse their forward site's key, as they must).
  const model::FitGraph fg = model::build_fit_graph(
      model::FitConfig::tiny(),
      {.batch = 4, .text_length = 8, .dropout = 0.1, .attention_dropout = 0.1, .dropout_seed = 1234});
  const std::vector<bool> live = live_nodes(*fg.graph);  // fusion leaves the replaced nodes dead
  for (NodeId id = 0; id < fg.graph->num_nodes(); ++id)
    if (const Node& n = fg.graph->node(id);
        live[id] && (n.kind == OpKind::Dropout || (n.kind == OpKind::Attention && n.attrs.dropout > 0))) {
      keys.insert(n.attrs.seed);
      ++sites;
    }
  EXPECT_EQ(sites, 1 + 2 * model::FitConfig::tiny().text.layers);  // embeddings; attention and FFN per layer
  EXPECT_EQ(int(keys.size()), sites);
}

TEST(Trainer, DropoutChangesTheStepAndDependsOnTheSeed) {
  auto final_weight = [](double p, uint64_t seed) {
    TrainOptions o = resumable_options(1);
    o.dropout = o.attention_dropout = p;
    o.seed = seed;
    Trainer t(model::FitConfig::tiny(), o);
    t.set_weights(initial_weights());
    const double loss = t.step(batches_of_step(1, 1)).loss;
    return std::make_pair(loss, t.parameter("text_model.transformer.layer.0.ffn.lin1.weight"));
  };
  const auto off = final_weight(0, 1), a = final_weight(0.1, 1), a2 = final_weight(0.1, 1),
             b = final_weight(0.1, 2);
  EXPECT_NE(off.first, a.first);
  EXPECT_EQ(a.first, a2.first);
  EXPECT_TRUE(same_bits(a.second, a2.second));
  EXPECT_NE(a.first, b.first);
}

TEST(Trainer, RefusesCheckpointsThatDoNotFit) {
  const std::string ckpt = temp_path("refuse.safetensors");
  {
    Trainer t(model::FitConfig::tiny(), resumable_options(1));
    t.set_weights(initial_weights());
    t.step(batches_of_step(1, 1));
    t.save_checkpoint(ckpt);
  }
  auto expect_refused = [&](Trainer& t, const std::string& path, const std::string& needle) {
    const HostTensor before = t.parameter("txt_proj.1.weight");
    try {
      t.load_checkpoint(path);
      ADD_FAILURE() << "accepted " << path;
    } catch (const Error& e) {
      EXPECT_EQ(e.category(), ErrorCategory::BadFile) << e.what();
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
    EXPECT_EQ(t.step_count(), 0);
    EXPECT_TRUE(same_bits(before, t.parameter("txt_proj.1.weight")));
  };
  model::FitConfig other = model::FitConfig::tiny();
  other.projection_dim = 16;
  Trainer wrong_model(other, resumable_options(1));
  expect_refused(wrong_model, ckpt, "projection_dim");
  TrainOptions frozen = resumable_options(1);
  frozen.frozen = {"text_model."};
  Trainer wrong_state(model::FitConfig::tiny(), frozen);
  expect_refused(wrong_state, ckpt, "optimizer state does not fit");
  TrainOptions seeded = resumable_options(1);
  seeded.seed = 99;
  Trainer wrong_seed(model::FitConfig::tiny(), seeded);
  expect_refused(wrong_seed, ckpt, "dropout seed 1234");
  TrainOptions torch_adamw = resumable_options(1);
  torch_adamw.adamw.variant = AdamWVariant::Torch;
  Trainer wrong_variant(model::FitConfig::tiny(), torch_adamw);
  expect_refused(wrong_variant, ckpt, "AdamW variant");
  TrainOptions betas = resumable_options(1);
  betas.adamw.beta2 = 0.98;
  Trainer wrong_betas(model::FitConfig::tiny(), betas);
  expect_refused(wrong_betas, ckpt, "AdamW betas");
  {  // a checkpoint trained without dropout resumes with dropout whatever the seed
    TrainOptions no_dropout = resumable_options(1);
    no_dropout.dropout = no_dropout.attention_dropout = 0;
    Trainer t(model::FitConfig::tiny(), no_dropout);
    t.set_weights(initial_weights());
    const std::string plain = temp_path("no_dropout.safetensors");
    t.save_checkpoint(plain);
    wrong_seed.load_checkpoint(plain);
  }
  // An inference export has weights but nothing to resume.
  Trainer t(model::FitConfig::tiny(), resumable_options(1));
  const std::string exported = temp_path("export_only.safetensors");
  t.export_inference(exported);
  expect_refused(t, exported, "not a frost training checkpoint");
  // A checkpoint missing a moment.
  const auto file = loader::SafetensorsFile::open(ckpt);
  std::vector<HostTensor> kept;
  kept.reserve(file.tensors().size());
  std::vector<std::pair<std::string, const HostTensor*>> tensors;
  for (const loader::TensorEntry& e : file.tensors()) {
    if (e.name == "adamw.v.vid_proj.0.bias") continue;
    kept.push_back(file.read(e.name));
    tensors.emplace_back(e.name, &kept.back());
  }
  const std::string partial = temp_path("partial.safetensors");
  loader::write_safetensors(partial, tensors, file.metadata());
  expect_refused(t, partial, "adamw.v.vid_proj.0.bias");
}

TEST(Trainer, InferenceExportHasTheReferenceStateDictNames) {
  const auto fixture = loader::SafetensorsFile::open(kFixtures + "/reference_state_dict.safetensors");
  const auto meta = nlohmann::json::parse(fixture.metadata().at("fixture"));
  for (const char* which : {"tiny", "base"}) {
    const model::FitConfig c =
        std::string(which) == "tiny" ? model::FitConfig::tiny() : model::FitConfig::base();
    std::vector<std::pair<std::string, Shape>> want;
    for (const auto& e : meta.at(which)) {
      EXPECT_EQ(e.at(2).get<std::string>(), "float32") << e;
      want.emplace_back(e.at(0).get<std::string>(), Shape(e.at(1).get<std::vector<int64_t>>()));
    }
    EXPECT_EQ(Trainer::inference_names(c), want) << which;
  }
  // The file itself: every name and shape, F32.
  Trainer t(model::FitConfig::tiny(), resumable_options(1));
  t.set_weights(initial_weights());
  const std::string path = temp_path("export.safetensors");
  t.export_inference(path);
  const auto file = loader::SafetensorsFile::open(path);
  std::vector<std::pair<std::string, Shape>> got;
  for (const loader::TensorEntry& e : file.tensors()) {
    EXPECT_EQ(e.dtype_name, "F32") << e.name;
    got.emplace_back(e.name, e.shape);
  }
  std::sort(got.begin(), got.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  EXPECT_EQ(got, Trainer::inference_names(model::FitConfig::tiny()));
  // And frost loads it back as a Frozen in Time checkpoint, unchanged.
  const model::WeightSet back =
      model::load_weights(model::FitConfig::tiny(), {{path, model::WeightSource::FrozenInTime}});
  for (const auto& [name, tensor] : initial_weights().tensors)
    EXPECT_TRUE(same_bits(back.tensors.at(name), tensor));
}

TEST(Trainer, NonFiniteLossStopsNamingStepSamplesAndLastCheckpoint) {
  Trainer t(model::FitConfig::tiny(), resumable_options(1));
  model::WeightSet w = initial_weights();
  const std::string ckpt = temp_path("diverge.safetensors");
  t.set_weights(w);
  int64_t steps_seen = 0;
  try {
    run_training(
        t,
        [&](int64_t s) {
          if (s == 3) {  // poison a weight before step 3: its loss is NaN
            w.tensors.at("vid_proj.0.weight").data<float>()[0] = std::nanf("");
            t.set_weights(w);
          }
          return batches_of_step(s, 1);
        },
        {.steps = 5, .checkpoint_every = 2, .checkpoint_path = ckpt, .on_step = [&](const StepResult&) {
           ++steps_seen;
         }});
    ADD_FAILURE() << "no error";
  } catch (const Diverged& e) {
    const std::string what = e.what();
    EXPECT_EQ(e.step(), 3);
    EXPECT_NE(what.find("step 3"), std::string::npos) << what;
    EXPECT_NE(what.find("b2.0, b2.1, b2.2, b2.3"), std::string::npos) << what;
    EXPECT_NE(what.find(ckpt + " (step 2)"), std::string::npos) << what;
  }
  EXPECT_EQ(steps_seen, 2);
  Trainer resumed(model::FitConfig::tiny(), resumable_options(1));
  resumed.load_checkpoint(ckpt);
  EXPECT_EQ(resumed.step_count(), 2);
}

TEST(Trainer, AFullDiskLeavesThePreviousCheckpointIntact) {
  Trainer t(model::FitConfig::tiny(), resumable_options(1));
  t.set_weights(initial_weights());
  const std::string ckpt = temp_path("full_disk.safetensors");
  t.save_checkpoint(ckpt);
  std::ifstream in(ckpt, std::ios::binary);
  const std::string before((std::istreambuf_iterator<char>(in)), {});
  t.step(batches_of_step(1, 1));
  // A file-size limit below the checkpoint's size: writes fail with EFBIG as on a full disk.
  auto* old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit old_limit{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  rlimit small = old_limit;
  small.rlim_cur = 64 * 1024;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  try {
    t.save_checkpoint(ckpt);
    ADD_FAILURE() << "the write succeeded past the limit";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::Io) << e.what();
  }
  setrlimit(RLIMIT_FSIZE, &old_limit);
  std::signal(SIGXFSZ, old_handler);
  std::ifstream again(ckpt, std::ios::binary);
  EXPECT_EQ(std::string((std::istreambuf_iterator<char>(again)), {}), before);
  for (const auto& entry : fs::directory_iterator(fs::path(ckpt).parent_path()))
    EXPECT_EQ(entry.path().string().find(".tmp"), std::string::npos) << "left behind: " << entry.path();
}

TEST(Trainer, BadBatchesAndOptionsAreRefusedBeforeAnythingChanges) {
  Trainer t(model::FitConfig::tiny(), resumable_options(2));
  t.set_weights(initial_weights());
  const HostTensor before = t.parameter("txt_proj.1.weight");
  EXPECT_THROW(t.step(batches_of_step(1, 1)), Error);  // one micro-batch, accumulation 2
  std::vector<MicroBatch> b = batches_of_step(1, 2);
  b[1].video = HostTensor(DType::F32, {4, 4, 3, 16, 16});  // 16 px frames, the model takes 32
  try {
    t.step(b);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("micro-batch 1: video"), std::string::npos) << e.what();
  }
  EXPECT_EQ(t.step_count(), 0);
  EXPECT_TRUE(same_bits(before, t.parameter("txt_proj.1.weight")));

  auto refused = [](TrainOptions o, const std::string& needle) {
    try {
      Trainer bad(model::FitConfig::tiny(), o);
      ADD_FAILURE() << "accepted; wanted " << needle;
    } catch (const Error& e) {
      EXPECT_EQ(e.category(), ErrorCategory::InvalidArgument);
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  TrainOptions o = resumable_options(1);
  o.frozen = {"text_encoder."};
  refused(o, "frozen prefix 'text_encoder.' matches no parameter");
  o.frozen = {"text_model.", "video_model.", "txt_proj.", "vid_proj."};
  refused(o, "every parameter is frozen");
  o = resumable_options(1);
  o.accumulation = 0;
  refused(o, "accumulation");
  o = resumable_options(1);
  o.clip_norm = -1;
  refused(o, "clip_norm");
  o = resumable_options(1);
  o.dropout = 1.0;
  refused(o, "dropout");
  o = resumable_options(1);
  o.schedule = {.kind = ScheduleKind::Linear, .warmup_steps = 10, .total_steps = 5};
  refused(o, "total_steps");
}

// Without clipping each gradient is consumed by its update as soon as it is complete; with clipping all
// are held until the norm is known; with accumulation they live in the optimizer arena.
TEST(Trainer, GradientsLiveWhereTheLayoutSays) {
  auto activations = [](TrainOptions o) {
    Trainer t(model::FitConfig::tiny(), o);
    return std::make_tuple(t.step_graph().plan().arena_bytes[size_t(Arena::Activations)],
                           t.gradient_placement(), t.states().bytes(StateKind::Optimizer),
                           t.states().bytes(StateKind::Parameter));
  };
  TrainOptions o{.batch = 4, .text_length = 8};
  const auto [consumed, where_consumed, opt_plain, params] = activations(o);
  o.clip_norm = 1.0;
  const auto [held, where_held, opt_clip, params2] = activations(o);
  o.clip_norm = 0;
  o.accumulation = 2;
  const auto [accumulated, where_acc, opt_acc, params3] = activations(o);
  std::printf(
      "activations: %zu bytes (gradients consumed), %zu (held for clipping), %zu (accumulated); "
      "parameters %zu, optimizer state %zu / %zu bytes\n",
      consumed, held, accumulated, params, opt_plain, opt_acc);
  EXPECT_LT(consumed, held);
  EXPECT_NE(where_consumed.find("consumed"), std::string::npos);
  EXPECT_NE(where_held.find("held"), std::string::npos);
  EXPECT_NE(where_acc.find("accumulators"), std::string::npos);
  EXPECT_EQ(opt_plain, 2 * params);  // m and v
  EXPECT_EQ(opt_clip, 2 * params);
  EXPECT_EQ(opt_acc, 3 * params);  // m, v and the accumulators
}

}  // namespace
}  // namespace frost::train
