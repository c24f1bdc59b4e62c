// Issue 16's definition of done: the tiny dual encoder, trained from scratch on the synthetic set frost
// renders to real MP4 files (read back through the same decode path as a user's videos), learns it. A fixed
// seed and step budget; every tie counted against the model. Heavy: a few minutes on 2 cores, release only.
//
// Asserts: held-out text→video R@1 >= 50% among >= 100 candidates (pessimistic ties; chance 1%); >= 90% of
// the held-out clips score their caption strictly above the caption with the opposite direction (chance
// 50%); no two held-out clips and no two distinct captions with identical embeddings.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>

#include "loader/dataset.h"
#include "loader/tokenizer.h"
#include "loader/video.h"
#include "loader/video_write.h"
#include "model/encoder.h"
#include "model/init.h"
#include "train/data_pipeline.h"
#include "train/synthetic_videos.h"
#include "train/trainer.h"
#include "train/validation.h"

namespace frost::train {
namespace {

namespace fs = std::filesystem;

// The recipe (docs/training.md, "A model that learns"): batch 64 for in-batch negatives that differ in one
// attribute only, cosine decay from 1e-3 after 100 warm-up steps.
constexpr int64_t kSteps = 3000, kBatch = 64, kTextLength = 12;

double cosine(const float* a, const float* b, int64_t n) {
  double ab = 0, aa = 0, bb = 0;
  for (int64_t i = 0; i < n; ++i) {
    ab += double(a[i]) * b[i];
    aa += double(a[i]) * a[i];
    bb += double(b[i]) * b[i];
  }
  return ab / std::sqrt(aa * bb);
}

bool same_row(const HostTensor& t, int64_t i, int64_t j) {
  const int64_t P = t.shape()[1];
  return std::equal(t.data<float>() + i * P, t.data<float>() + (i + 1) * P, t.data<float>() + j * P);
}

TEST(HeavyLearning, TheTinyModelLearnsTheSyntheticSetFromScratch) {
  if (!loader::video_writing_supported()) GTEST_SKIP() << "this build cannot write H.264 videos";
  const fs::path dir = fs::temp_directory_path() / ("frost_learning_test_" + std::to_string(::getpid()));
  const SyntheticSet set = make_synthetic_set((dir / "synthetic").string(), SyntheticOptions{});
  const auto tokenizer = loader::WordPieceTokenizer::from_vocab(set.vocab_path);
  const model::FitConfig config = model::FitConfig::tiny();
  const auto start = std::chrono::steady_clock::now();

  TrainOptions to;
  to.batch = kBatch;
  to.text_length = kTextLength;
  to.frames = config.video.num_frames;
  to.adamw.lr = 1e-3;
  to.schedule = {.kind = ScheduleKind::Cosine, .warmup_steps = 100, .total_steps = kSteps};
  to.seed = 0;
  Trainer trainer(config, to);
  trainer.set_weights(model::initial_weights(config, 0, tokenizer.pad_id()));

  PipelineOptions po;
  po.batch = kBatch;
  po.text_length = kTextLength;
  po.frames = config.video.num_frames;
  po.image_size = config.video.image_size;
  po.seed = 0;
  po.cache_bytes = int64_t(512) << 20;
  po.flip_swaps = set.flip_swaps;
  DataPipeline data({loader::read_dataset(set.train_path)}, tokenizer, po);
  double first_loss = 0, last_loss = 0;
  LoopOptions lo;
  lo.steps = kSteps;
  lo.on_step = [&](const StepResult& r) { (r.step == 1 ? first_loss : last_loss) = r.loss; };
  run_training(
      trainer, [&](int64_t) { return std::vector<MicroBatch>{data.next()}; }, lo);
  const double train_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  model::DualEncoder encoder(config, trainer.weights(), tokenizer, {.backend = "cpu", .batch_size = 64});
  RetrievalOptions ro;
  ro.t2v_ties = retrieval::Ties::Pessimistic;
  ro.v2t_ties = retrieval::Ties::Pessimistic;
  const loader::Dataset val = loader::read_dataset(set.val_path);
  const RetrievalResult r = evaluate_retrieval(encoder, val, ro);
  std::printf("  %lld steps in %.0f s, loss %.3f -> %.3f\n  t2v %s\n  v2t %s\n",
              static_cast<long long>(kSteps), train_seconds, first_loss, last_loss,
              retrieval::format_metrics(r.metrics.t2v).c_str(),
              retrieval::format_metrics(r.metrics.v2t).c_str());
  EXPECT_GE(r.metrics.t2v.candidates, 100);
  EXPECT_GE(r.metrics.t2v.R1, 50.0) << "held-out text→video R@1 with pessimistic ties";

  // Direction-only pairs: each held-out clip against its caption and the opposite direction's.
  ASSERT_EQ(int64_t(set.val_attributes.size()), r.video_embedding.shape()[0]);
  std::vector<std::string> truth, opposite;
  for (const SceneAttributes& a : set.val_attributes) {
    truth.push_back(synthetic_caption(a));
    opposite.push_back(synthetic_caption(opposite_direction(a)));
  }
  const HostTensor t = encoder.encode_text(truth).embedding, o = encoder.encode_text(opposite).embedding;
  const int64_t P = t.shape()[1];
  int64_t won = 0;
  for (int64_t i = 0; i < t.shape()[0]; ++i) {
    const float* v = r.video_embedding.data<float>() + i * P;
    won += cosine(v, t.data<float>() + i * P, P) > cosine(v, o.data<float>() + i * P, P);  // a tie loses
  }
  const double direction_accuracy = 100.0 * double(won) / double(t.shape()[0]);
  std::printf("  direction-only pairs: %.1f%% of %lld won\n", direction_accuracy,
              static_cast<long long>(t.shape()[0]));
  EXPECT_GE(direction_accuracy, 90.0);

  // Not degenerate: distinct clips and distinct captions have distinct embeddings.
  const HostTensor& V = r.video_embedding;
  for (int64_t i = 0; i < V.shape()[0]; ++i)
    for (int64_t j = i + 1; j < V.shape()[0]; ++j)
      EXPECT_FALSE(same_row(V, i, j)) << "clips " << i << ", " << j;
  std::vector<std::string> captions;
  for (const SceneAttributes& a : all_attribute_combinations()) captions.push_back(synthetic_caption(a));
  const HostTensor C = encoder.encode_text(captions).embedding;
  for (int64_t i = 0; i < C.shape()[0]; ++i)
    for (int64_t j = i + 1; j < C.shape()[0]; ++j)
      EXPECT_FALSE(same_row(C, i, j))
          << "'" << captions[size_t(i)] << "' and '" << captions[size_t(j)] << "'";
  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace
}  // namespace frost::train
