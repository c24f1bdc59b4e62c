// The training data pipeline (train/data_pipeline.h) and what feeds it: the same batches whatever the
// worker count and when resumed, streams by frame count, flip-swapped captions, crops that keep the moving
// shape, unreadable items replaced (lax) or fatal (strict); the synthetic set (train/synthetic_videos.h)
// and from-scratch weights (model/init.h).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "loader/image.h"
#include "loader/video.h"
#include "loader/video_write.h"
#include "model/init.h"
#include "train/data_pipeline.h"
#include "train/synthetic_videos.h"

namespace frost::train {
namespace {

namespace fs = std::filesystem;

fs::path test_dir() {
  static const fs::path d = [] {
    fs::path p = fs::temp_directory_path() / ("frost_data_test_" + std::to_string(::getpid()));
    fs::create_directories(p);
    return p;
  }();
  return d;
}

SyntheticOptions small_set() {
  SyntheticOptions o;
  o.size = 32;
  o.frames = 6;
  o.train_renderings = 1;
  o.val_renderings = 1;
  o.seed = 7;
  return o;
}

// The small synthetic set, made once per process (FFmpeg with H.264 needed: else the tests say so).
const SyntheticSet* synthetic() {
  static const SyntheticSet* s = [] {
    if (!loader::video_writing_supported()) return static_cast<SyntheticSet*>(nullptr);
    return new SyntheticSet(make_synthetic_set((test_dir() / "synthetic").string(), small_set()));
  }();
  return s;
}
#define NEED_SYNTHETIC() \
  if (synthetic() == nullptr) GTEST_SKIP() << "this build cannot write H.264 videos (FFmpeg + libx264)"

const loader::WordPieceTokenizer& tokenizer() {
  static const loader::WordPieceTokenizer t = loader::WordPieceTokenizer::from_vocab(synthetic()->vocab_path);
  return t;
}

PipelineOptions options(int workers) {
  PipelineOptions o;
  o.batch = 8;
  o.text_length = 12;
  o.frames = 4;
  o.image_size = 16;
  o.seed = 11;
  o.workers = workers;
  return o;
}

// `f` throws an Error of `category` whose message holds `fragment`.
template <typename F>
void expect_error(F&& f, ErrorCategory category, const std::string& fragment = "") {
  try {
    f();
    ADD_FAILURE() << "no error; expected one naming '" << fragment << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), category) << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

bool same(const HostTensor& a, const HostTensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() && std::memcmp(a.raw(), b.raw(), a.bytes()) == 0;
}
bool same(const MicroBatch& a, const MicroBatch& b) {
  return same(a.input_ids, b.input_ids) && same(a.attention_mask, b.attention_mask) &&
         same(a.video, b.video) && a.sample_ids == b.sample_ids;
}

TEST(SwapWords, SwapsWholeWordsBothWaysKeepingTheRest) {
  const std::vector<std::pair<std::string, std::string>> lr{{"left", "right"}};
  EXPECT_EQ(swap_words("a red square moving left", lr), "a red square moving right");
  EXPECT_EQ(swap_words("Right, then LEFT!", lr), "left, then right!");
  // Only whole words: "leftover", "brightly" and "left2" are other words.
  EXPECT_EQ(swap_words("leftover brightly left2 left", lr), "leftover brightly left2 right");
  EXPECT_EQ(swap_words("café left", lr), "café right");
  EXPECT_EQ(swap_words("", lr), "");
  EXPECT_EQ(swap_words("moving left", {}), "moving left");
  const std::vector<std::pair<std::string, std::string>> two{{"left", "right"}, {"east", "west"}};
  EXPECT_EQ(swap_words("left to west", two), "right to east");
}

TEST(TrainCropKeeping, EveryCropHoldsTheBoxAndIsDeterministic) {
  const loader::TrainTransform t;
  const loader::PixelBox keep{20, 10, 25, 30};
  int not_whole_frame = 0;
  for (uint64_t sample = 0; sample < 200; ++sample) {
    const loader::TrainCrop c = loader::draw_train_crop_keeping(64, 64, t, keep, 3, sample);
    EXPECT_TRUE((loader::PixelBox{c.top, c.left, c.height, c.width}.contains(keep))) << sample;
    const loader::TrainCrop again = loader::draw_train_crop_keeping(64, 64, t, keep, 3, sample);
    EXPECT_EQ(c.top, again.top);
    EXPECT_EQ(c.width, again.width);
    EXPECT_EQ(c.flip, again.flip);
    not_whole_frame += c.height != 64 || c.width != 64;
  }
  EXPECT_GT(not_whole_frame, 100);  // the constraint still leaves real augmentation
  // A box no crop of half the area can hold: the whole frame, the first draw's flip.
  const loader::PixelBox wide{0, 0, 64, 60};
  const loader::TrainCrop c = loader::draw_train_crop_keeping(64, 64, t, wide, 3, 5);
  EXPECT_EQ(c.height, 64);
  EXPECT_EQ(c.width, 64);
  EXPECT_EQ(c.flip, loader::draw_train_crop(64, 64, t, 3, 5).flip);
  expect_error(
      [&] {
        loader::draw_train_crop_keeping(64, 64, t, {60, 0, 10, 10}, 3, 5);
      },
      ErrorCategory::InvalidArgument);
}

TEST(DatasetKeep, CsvAndJsonlBoxesAndTheirErrors) {
  const fs::path d = test_dir() / "keep";
  fs::create_directories(d);
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(d / name) << text;
    return (d / name).string();
  };
  const loader::Dataset csv =
      loader::read_dataset(write("k.csv", "video,caption,keep\na.mp4,x,1 2 3 4\nb.mp4,y,\n"));
  ASSERT_TRUE(csv.rows[0].keep.has_value());
  EXPECT_EQ(csv.rows[0].keep->top, 1);
  EXPECT_EQ(csv.rows[0].keep->width, 4);
  EXPECT_FALSE(csv.rows[1].keep.has_value());
  const loader::Dataset jl =
      loader::read_dataset(write("k.jsonl", R"({"video":"a.mp4","caption":"x","keep":[5,6,7,8]})"));
  EXPECT_EQ(jl.rows[0].keep->left, 6);
  // A bad box (the "1,2,3,4" one is three fields too many in a CSV row).
  for (const char* bad : {"1 2 3", "1 2 3 4 5", "1 -2 3 4", "1 2 0 4", "a b c d", "1,2,3,4"})
    expect_error(
        [&] {
          loader::read_dataset(write("bad.csv", std::string("video,caption,keep\na.mp4,x,") + bad + "\n"));
        },
        ErrorCategory::BadFile);
  for (const char* bad : {"[1,2,3]", "\"1 2 3 4\"", "[1,2,3,4.5]", "[1,2,-3,4]"})
    expect_error(
        [&] {
          loader::read_dataset(
              write("bad.jsonl", std::string(R"({"video":"a.mp4","caption":"x","keep":)") + bad + "}"));
        },
        ErrorCategory::BadFile);
}

TEST(DataPipeline, TheSameBatchesWhateverTheWorkerCount) {
  NEED_SYNTHETIC();
  const loader::Dataset d = loader::read_dataset(synthetic()->train_path);
  std::vector<MicroBatch> one;
  {
    DataPipeline p({d}, tokenizer(), options(1));
    for (int k = 0; k < 20; ++k) one.push_back(p.next());  // past one epoch: 120 rows / 8 = 15 batches
    EXPECT_EQ(p.batches_per_epoch(), 15);
  }
  PipelineOptions o = options(3);
  o.prefetch = 4;
  DataPipeline three({d}, tokenizer(), o);
  for (int k = 0; k < 20; ++k) EXPECT_TRUE(same(one[size_t(k)], three.next())) << "batch " << k;
  // Another seed: another order and other augmentation.
  PipelineOptions other = options(1);
  other.seed = 12;
  DataPipeline p12({d}, tokenizer(), other);
  EXPECT_FALSE(same(one[0], p12.next()));
  // An epoch visits every row once; the next epoch is another order.
  std::multiset<std::string> ids;
  for (int k = 0; k < 15; ++k) ids.insert(one[size_t(k)].sample_ids.begin(), one[size_t(k)].sample_ids.end());
  EXPECT_EQ(ids.size(), 120u);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 120u);
  EXPECT_NE(one[15].sample_ids, one[0].sample_ids);
}

TEST(DataPipeline, ResumingAtABatchContinuesTheSameSequence) {
  NEED_SYNTHETIC();
  const loader::Dataset d = loader::read_dataset(synthetic()->train_path);
  DataPipeline p({d}, tokenizer(), options(2));
  std::vector<MicroBatch> all;
  for (int k = 0; k < 18; ++k) all.push_back(p.next());
  PipelineOptions o = options(2);
  o.first_batch = 13;
  DataPipeline resumed({d}, tokenizer(), o);
  for (int k = 13; k < 18; ++k) EXPECT_TRUE(same(all[size_t(k)], resumed.next())) << "batch " << k;
}

TEST(DataPipeline, ItemsAreTheDecodedClipsAndTheirTokenizedCaptions) {
  NEED_SYNTHETIC();
  const loader::Dataset d = loader::read_dataset(synthetic()->train_path);
  PipelineOptions o = options(1);
  o.augment = false;  // the test transform, 'uniform' sampling: each item is load_clip's clip
  o.sampling = loader::FrameSampling::Uniform;
  o.cache_bytes = 64 << 20;  // and the cache changes nothing
  DataPipeline p({d}, tokenizer(), o);
  for (int k = 0; k < 3; ++k) {
    const MicroBatch b = p.next();
    ASSERT_EQ(b.video.shape(), Shape({8, 4, 3, 16, 16}));
    for (int64_t i = 0; i < 8; ++i) {
      const auto row = std::find_if(d.rows.begin(), d.rows.end(), [&](const loader::DatasetRow& r) {
        return r.id == b.sample_ids[size_t(i)];
      });
      ASSERT_NE(row, d.rows.end());
      loader::ClipOptions co;
      co.sampling.num_frames = 4;
      co.test_transform.size = 16;
      const loader::Clip c = loader::load_clip(row->video, co);
      EXPECT_EQ(std::memcmp(b.video.data<float>() + i * c.pixels.numel(), c.pixels.raw(), c.pixels.bytes()),
                0);
      const loader::TokenBatch t =
          tokenizer().encode_batch({row->caption}, {.max_length = 12, .pad_to_max = true});
      for (int64_t j = 0; j < 12; ++j) {
        EXPECT_EQ(b.input_ids.data<int64_t>()[i * 12 + j], t.input_ids.data<int64_t>()[j]);
        EXPECT_EQ(b.attention_mask.data<float>()[i * 12 + j], float(t.attention_mask.data<int64_t>()[j]));
      }
    }
  }
}

TEST(DataPipeline, AMirroredClipGetsTheSwappedCaption) {
  NEED_SYNTHETIC();
  const loader::Dataset d = loader::read_dataset(synthetic()->train_path);
  PipelineOptions o = options(1);
  o.flip_swaps = synthetic()->flip_swaps;
  PipelineOptions always = o, never = o;
  always.train_transform.flip_probability = 1.0;
  never.train_transform.flip_probability = 0.0;
  DataPipeline flipped({d}, tokenizer(), always), plain({d}, tokenizer(), never);
  const int32_t left = *tokenizer().token_id("left"), right = *tokenizer().token_id("right");
  int swapped = 0;
  for (int k = 0; k < 5; ++k) {
    const MicroBatch f = flipped.next(), n = plain.next();
    ASSERT_EQ(f.sample_ids, n.sample_ids);  // the same rows: order does not depend on the transform
    for (int64_t i = 0; i < f.input_ids.numel(); ++i) {
      const int64_t a = n.input_ids.data<int64_t>()[i], b = f.input_ids.data<int64_t>()[i];
      if (a == left || a == right) {
        EXPECT_EQ(b, a == left ? right : left);
        ++swapped;
      } else {
        EXPECT_EQ(a, b);
      }
    }
  }
  EXPECT_GT(swapped, 5);
}

// A dataset of the synthetic videos plus `bad` unreadable files.
std::string dataset_with_unreadable(int bad) {
  const fs::path d = test_dir() / ("bad" + std::to_string(bad));
  fs::create_directories(d);
  std::ofstream f(d / "data.csv");
  f << "video,caption\n";
  const loader::Dataset good = loader::read_dataset(synthetic()->train_path);
  for (size_t r = 0; r < 40; ++r) f << good.rows[r].video << "," << good.rows[r].caption << "\n";
  for (int i = 0; i < bad; ++i) {
    const fs::path p = d / ("broken" + std::to_string(i) + ".mp4");
    std::ofstream(p) << "not a video";
    f << p.string() << ",broken\n";
  }
  return (d / "data.csv").string();
}

TEST(DataPipeline, UnreadableItemsAreReplacedAndCountedOrStopTheRunUnderStrict) {
  NEED_SYNTHETIC();
  const loader::Dataset d = loader::read_dataset(dataset_with_unreadable(8));
  PipelineOptions o = options(2);
  std::vector<std::string> warnings;
  o.on_warning = [&](const std::string& w) { warnings.push_back(w); };
  std::vector<MicroBatch> lax;
  {
    DataPipeline p({d}, tokenizer(), o);
    for (int k = 0; k < 12; ++k) lax.push_back(p.next());  // 48 rows / 8: 6 batches an epoch, two epochs
    EXPECT_EQ(p.unreadable_videos(), 8);
    EXPECT_EQ(p.replaced_items(), 16);  // each broken row, each epoch
    for (const MicroBatch& b : lax)
      for (const std::string& id : b.sample_ids) EXPECT_EQ(id.find("broken"), std::string::npos) << id;
  }
  EXPECT_EQ(warnings.size(), 8u);  // one per bad video, not per use
  for (const std::string& w : warnings) EXPECT_NE(w.find("broken"), std::string::npos) << w;
  // Replacements are deterministic: one worker gives the same batches.
  o.workers = 1;
  o.on_warning = nullptr;
  DataPipeline p1({d}, tokenizer(), o);
  for (int k = 0; k < 12; ++k) EXPECT_TRUE(same(lax[size_t(k)], p1.next())) << "batch " << k;
  // Strict: the first batch holding a broken row throws, naming its file.
  o.strict = true;
  DataPipeline strict({d}, tokenizer(), o);
  try {
    for (int k = 0; k < 10; ++k) strict.next();
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::BadFile) << e.what();
    EXPECT_NE(std::string(e.what()).find("broken"), std::string::npos) << e.what();
  }
}

TEST(DataPipeline, ImagesAndVideosAreSeparateStreamsTakingTurns) {
  NEED_SYNTHETIC();
  const fs::path d = test_dir() / "mixed";
  fs::create_directories(d);
  std::ofstream f(d / "data.csv");
  f << "video,caption\n";
  const loader::Dataset good = loader::read_dataset(synthetic()->train_path);
  for (size_t r = 0; r < 16; ++r) f << good.rows[r].video << "," << good.rows[r].caption << "\n";
  HostTensor img(DType::U8, {20, 24, 3});
  for (int i = 0; i < 8; ++i) {
    img.data<uint8_t>()[i] = uint8_t(40 * i);
    loader::write_png((d / ("img" + std::to_string(i) + ".png")).string(), img);
    f << "img" << i << ".png,an image\n";
  }
  f.close();
  DataPipeline p({loader::read_dataset((d / "data.csv").string())}, tokenizer(), options(1));
  ASSERT_EQ(p.streams().size(), 2u);
  EXPECT_EQ(p.streams()[0].frames, 4);
  EXPECT_EQ(p.streams()[1].frames, 1);
  for (int k = 0; k < 6; ++k) EXPECT_EQ(p.next().video.shape()[1], k % 2 == 0 ? 4 : 1) << k;
  // A stream smaller than a batch is refused, saying why.
  PipelineOptions big = options(1);
  big.batch = 12;
  try {
    DataPipeline q({loader::read_dataset((d / "data.csv").string())}, tokenizer(), big);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("8 image rows"), std::string::npos) << e.what();
  }
}

TEST(DataPipeline, RefusesBadOptionsByName) {
  NEED_SYNTHETIC();
  const loader::Dataset d = loader::read_dataset(synthetic()->train_path);
  auto refused = [&](PipelineOptions o, const std::string& word) {
    try {
      DataPipeline p({d}, tokenizer(), o);
      ADD_FAILURE() << "accepted; expected an error naming " << word;
    } catch (const Error& e) {
      EXPECT_EQ(e.category(), ErrorCategory::InvalidArgument) << e.what();
      EXPECT_NE(std::string(e.what()).find(word), std::string::npos) << e.what();
    }
  };
  PipelineOptions o = options(1);
  o.batch = 0;
  refused(o, "batch");
  o = options(1);
  o.workers = 0;
  refused(o, "workers");
  o = options(1);
  o.text_length = 1;
  refused(o, "text_length");
  o = options(1);
  o.flip_swaps = {{"left", "left"}};
  refused(o, "flip swap");
  o = options(1);
  o.flip_swaps = {{"to the left", "right"}};
  refused(o, "one word");
  expect_error([&] { DataPipeline({}, tokenizer(), options(1)); }, ErrorCategory::InvalidArgument,
               "no dataset");
}

TEST(SyntheticVideos, CaptionsAttributesAndTheHeldOutSplit) {
  NEED_SYNTHETIC();
  const std::vector<SceneAttributes> all = all_attribute_combinations();
  EXPECT_EQ(all.size(), 120u);
  std::set<std::string> captions;
  for (const SceneAttributes& a : all) captions.insert(synthetic_caption(a));
  EXPECT_EQ(captions.size(), 120u);
  EXPECT_EQ(synthetic_caption({0, 0, 0, 0}), "a small red square moving left");
  EXPECT_EQ(synthetic_caption(opposite_direction({1, 2, 1, 0})), "a large green triangle moving right");
  EXPECT_EQ(synthetic_caption(opposite_direction({1, 2, 1, 2})), "a large green triangle moving down");
  // The held-out file: one rendering per combination, every caption distinct, none a training video.
  const loader::Dataset val = loader::read_dataset(synthetic()->val_path);
  const loader::Dataset train = loader::read_dataset(synthetic()->train_path);
  ASSERT_EQ(val.rows.size(), 120u);
  std::set<std::string> val_captions;
  for (size_t i = 0; i < val.rows.size(); ++i) {
    val_captions.insert(val.rows[i].caption);
    EXPECT_EQ(val.rows[i].caption, synthetic_caption(synthetic()->val_attributes[i]));
  }
  EXPECT_EQ(val_captions.size(), 120u);
  std::set<std::string> train_videos(train.videos.begin(), train.videos.end());
  for (const std::string& v : val.videos) EXPECT_EQ(train_videos.count(v), 0u);
  // Every word of every caption is in the vocabulary, which fills the tiny config's table.
  for (const std::string& c : val_captions)
    for (int32_t id : tokenizer().encode(c, false)) EXPECT_NE(id, tokenizer().unk_id()) << c;
  EXPECT_EQ(tokenizer().vocab_size(), 512u);
  // Made again with the same options: reused, not rendered.
  EXPECT_TRUE(make_synthetic_set(synthetic()->folder, small_set()).reused);
}

TEST(SyntheticVideos, TheShapeMovesTheWayItsCaptionSaysInsideItsKeepBox) {
  const SyntheticOptions o = small_set();
  for (const SceneAttributes& a : all_attribute_combinations()) {
    const Scene s = draw_scene(a, o, 1000 + uint64_t(a.colour * 24 + a.direction));
    const HostTensor v = render_scene(s, o);  // (T, S, S, 3)
    ASSERT_EQ(v.shape(), Shape({o.frames, o.size, o.size, 3}));
    // The centroid of pixels that differ from the scene rendered without... the shape's pure colour is
    // where coverage is full: its centroid per frame moves in the caption's direction.
    const int64_t N = o.size;
    std::vector<double> cx, cy;
    const uint8_t* px = v.data<uint8_t>();
    HostTensor ref =
        render_scene(Scene{s.attributes, -1000, -1000, 0, 0, s.background, s.texture_key, {}}, o);
    for (int64_t t = 0; t < o.frames; ++t) {
      double sx = 0, sy = 0, n = 0;
      for (int64_t y = 0; y < N; ++y)
        for (int64_t x = 0; x < N; ++x) {
          const int64_t at = ((t * N + y) * N + x) * 3;
          const bool shape = std::memcmp(px + at, ref.data<uint8_t>() + at, 3) != 0;
          if (!shape) continue;
          EXPECT_TRUE((s.keep.contains({y, x, 1, 1}))) << synthetic_caption(a) << " frame " << t;
          sx += double(x);
          sy += double(y);
          n += 1;
        }
      ASSERT_GT(n, 0) << synthetic_caption(a);
      cx.push_back(sx / n);
      cy.push_back(sy / n);
    }
    const double mx = cx.back() - cx.front(), my = cy.back() - cy.front();
    const double along = a.direction == 0 ? -mx : a.direction == 1 ? mx : a.direction == 2 ? -my : my;
    const double across = a.direction < 2 ? std::abs(my) : std::abs(mx);
    EXPECT_GT(along, 0.15 * double(N)) << synthetic_caption(a);
    EXPECT_LT(across, 1.0) << synthetic_caption(a);
  }
  // Sizes are 2× apart (the crop's 1.41× zoom never makes a small one look large).
  EXPECT_DOUBLE_EQ(shape_radius(1, o), 2 * shape_radius(0, o));
  // Deterministic.
  const Scene s = draw_scene({2, 1, 0, 3}, o, 5);
  EXPECT_TRUE(same(render_scene(s, o), render_scene(draw_scene({2, 1, 0, 3}, o, 5), o)));
}

TEST(InitialWeights, TheComponentModelsInitialisations) {
  const model::FitConfig c = model::FitConfig::tiny();
  const model::WeightSet w = model::initial_weights(c, 5, 0);
  const std::vector<model::ParamSpec> specs = model::fit_param_specs(c);
  ASSERT_EQ(w.tensors.size(), specs.size());
  for (const model::ParamSpec& s : specs) ASSERT_EQ(w.tensors.at(s.name).shape(), s.shape) << s.name;
  auto values = [&](const std::string& n) {
    const HostTensor& t = w.tensors.at(n);
    return std::vector<float>(t.data<float>(), t.data<float>() + t.numel());
  };
  auto all_equal = [&](const std::string& n, float v) {
    for (float x : values(n))
      if (x != v) return false;
    return true;
  };
  EXPECT_TRUE(all_equal("video_model.temporal_embed", 0.0f));
  EXPECT_TRUE(all_equal("video_model.blocks.0.norm3.weight", 1.0f));
  EXPECT_TRUE(all_equal("video_model.blocks.0.norm3.bias", 0.0f));
  EXPECT_TRUE(all_equal("text_model.embeddings.LayerNorm.weight", 1.0f));
  EXPECT_TRUE(all_equal("text_model.transformer.layer.0.ffn.lin1.bias", 0.0f));
  // N(0, 0.02): the sample deviation of a 64 x 128 matrix within 5% of 0.02.
  auto stddev = [&](const std::string& n) {
    const std::vector<float> v = values(n);
    double s = 0, s2 = 0;
    for (float x : v) s += x, s2 += double(x) * x;
    const double m = s / double(v.size());
    return std::sqrt(s2 / double(v.size()) - m * m);
  };
  EXPECT_NEAR(stddev("video_model.blocks.0.mlp.fc1.weight"), 0.02, 0.001);
  EXPECT_NEAR(stddev("text_model.embeddings.word_embeddings.weight"), 0.02, 0.001);
  // The projections: U(±1/√in), so within the bound and with a deviation near bound/√3.
  const double bound = 1.0 / std::sqrt(64.0);
  for (float x : values("vid_proj.0.weight")) EXPECT_LE(std::abs(x), bound);
  EXPECT_NEAR(stddev("vid_proj.0.weight"), bound / std::sqrt(3.0), 0.1 * bound);
  // The [PAD] row is zero; other rows are not.
  const HostTensor& emb = w.tensors.at("text_model.embeddings.word_embeddings.weight");
  for (int64_t j = 0; j < c.text.dim; ++j) EXPECT_EQ(emb.data<float>()[j], 0.0f);
  EXPECT_NE(emb.data<float>()[c.text.dim], 0.0f);
  // Each tensor depends on the seed and its name only.
  const model::WeightSet again = model::initial_weights(c, 5, 0), other = model::initial_weights(c, 6, 0);
  EXPECT_TRUE(same(w.tensors.at("vid_proj.0.weight"), again.tensors.at("vid_proj.0.weight")));
  EXPECT_FALSE(same(w.tensors.at("vid_proj.0.weight"), other.tensors.at("vid_proj.0.weight")));
  model::FitConfig deeper = c;
  deeper.video.depth = 3;
  EXPECT_TRUE(same(w.tensors.at("video_model.blocks.1.attn.qkv.weight"),
                   model::initial_weights(deeper, 5, 0).tensors.at("video_model.blocks.1.attn.qkv.weight")));
  expect_error([&] { model::initial_weights(c, 5, c.text.vocab_size); }, ErrorCategory::InvalidArgument);
}

}  // namespace
}  // namespace frost::train
