// The retrieval library (retrieval/): the metrics against the reference's own metric code, transcribed in
// tests/parity/make_metric_fixtures.py and run on tie-heavy matrices; chunked evaluation against the whole
// matrix; top-k against a full sort.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/random.h"
#include "loader/safetensors.h"
#include "retrieval/index.h"
#include "retrieval/metrics.h"
#include "retrieval/search.h"
#include "test_util.h"

namespace frost::retrieval {
namespace {

const std::string kFixtures = std::string(FROST_PARITY_DIR) + "/fixtures";

void expect_metrics(const Metrics& got, const nlohmann::json& want, const std::string& what) {
  auto near = [&](double g, const char* key) {
    const double w = want.at(key).get<double>();
    EXPECT_NEAR(g, w, 1e-12 * std::max(1.0, std::abs(w))) << what << " " << key;
  };
  near(got.R1, "R1");
  near(got.R5, "R5");
  near(got.R10, "R10");
  near(got.R50, "R50");
  near(got.MedR, "MedR");
  near(got.MeanR, "MeanR");
  near(got.geometric_mean, "geometric_mean_R1-R5-R10");
}

TEST(RetrievalMetrics, EqualTheReferenceCodeOnTieHeavyMatrices) {
  const auto file = loader::SafetensorsFile::open(kFixtures + "/retrieval_metrics.safetensors");
  const auto meta = nlohmann::json::parse(file.metadata().at("fixture"));
  int checked = 0;
  for (size_t k = 0; k < meta.at("cases").size(); ++k) {
    const nlohmann::json& c = meta.at("cases")[k];
    const std::string p = "case" + std::to_string(k) + ".";
    const HostTensor sims = file.read(p + "sims");
    const int64_t T = sims.shape()[0], V = sims.shape()[1];
    const std::span<const float> s(sims.data<float>(), size_t(sims.numel()));
    for (Ties ties : {Ties::Optimistic, Ties::Averaged, Ties::Pessimistic}) {
      for (const char* dir : {"t2v", "v2t"}) {
        const bool t2v = std::string(dir) == "t2v";
        const std::string key = std::string(dir) + "." + ties_name(ties);
        const std::vector<double> got = t2v ? t2v_ranks(s, T, V, ties) : v2t_ranks(s, T, V, ties);
        const HostTensor want = file.read(p + key);
        ASSERT_EQ(int64_t(got.size()), want.numel()) << c.at("name") << " " << key;
        for (size_t i = 0; i < got.size(); ++i)
          EXPECT_EQ(got[i], want.data<double>()[i]) << c.at("name") << " " << key << " query " << i;
        expect_metrics(metrics_from_ranks(got, t2v ? V : T), c.at(key),
                       c.at("name").get<std::string>() + " " + key);
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 36);  // six matrices, two directions, three tie rules
}

// The collapsed model of the fixture (every similarity equal): R@1 100% under the reference's optimistic
// t2v rule, 0% pessimistic — why tests assert with pessimistic ties.
TEST(RetrievalMetrics, ACollapsedModelScoresOnlyWithOptimisticTies) {
  const std::vector<float> sims(20 * 20, 0.5f);
  EXPECT_EQ(metrics_from_ranks(t2v_ranks(sims, 20, 20, Ties::Optimistic), 20).R1, 100.0);
  EXPECT_EQ(metrics_from_ranks(t2v_ranks(sims, 20, 20, Ties::Pessimistic), 20).R1, 0.0);
  EXPECT_EQ(metrics_from_ranks(t2v_ranks(sims, 20, 20, Ties::Pessimistic), 20).MedR, 20.0);
}

TEST(RetrievalMetrics, BadShapesAndNaNAreRefused) {
  const std::vector<float> sims(6, 0.0f);
  EXPECT_THROW(t2v_ranks(sims, 3, 2, Ties::Optimistic), Error);  // 3 captions for 2 videos
  EXPECT_THROW(t2v_ranks(sims, 2, 2, Ties::Optimistic), Error);  // 6 values are not 2 x 2
  std::vector<float> nan(4, 0.0f);
  nan[0] = std::nanf("");
  EXPECT_THROW(t2v_ranks(nan, 2, 2, Ties::Optimistic), Error);
  EXPECT_THROW(metrics_from_ranks({}, 1), Error);
}

// Embeddings with ties (entries from {-1, 0, 1}, two captions per video): the chunked evaluation equals
// ranking the whole matrix, whatever the chunk.
TEST(RetrievalEvaluate, ChunksDoNotChangeAnyRank) {
  const int64_t V = 37, C = 2, T = V * C, P = 8;
  HostTensor text(DType::F32, {T, P}), video(DType::F32, {V, P});
  const Philox rng(5);
  for (int64_t i = 0; i < T * P; ++i)
    text.data<float>()[i] = std::floor(rng.uniform(uint64_t(i)) * 3.0f) - 1.0f;
  for (int64_t i = 0; i < V * P; ++i)
    video.data<float>()[i] = std::floor(rng.uniform(uint64_t(1000 + i)) * 3.0f) - 1.0f;
  const NormalizedRows a = normalize_rows(text), b = normalize_rows(video);
  std::vector<float> sims(size_t(T * V));
  similarity_block(a, 0, T, b, 0, V, sims.data());
  for (Ties ties : {Ties::Optimistic, Ties::Averaged, Ties::Pessimistic}) {
    const Metrics t2v = metrics_from_ranks(t2v_ranks(sims, T, V, ties), V);
    const Metrics v2t = metrics_from_ranks(v2t_ranks(sims, T, V, ties), T);
    for (int64_t chunk : {1, 5, 64, 1000}) {
      const Evaluation e = evaluate(text, video, ties, ties, chunk);
      for (const auto& [got, want] : {std::pair{e.t2v, t2v}, std::pair{e.v2t, v2t}}) {
        EXPECT_EQ(got.R1, want.R1) << ties_name(ties) << " chunk " << chunk;
        EXPECT_EQ(got.R5, want.R5);
        EXPECT_EQ(got.R10, want.R10);
        EXPECT_EQ(got.R50, want.R50);
        EXPECT_EQ(got.MedR, want.MedR);
        EXPECT_EQ(got.MeanR, want.MeanR);  // the mean of every rank: equal sums of the same ranks
        EXPECT_EQ(got.geometric_mean, want.geometric_mean);
      }
      EXPECT_EQ(e.t2v.candidates, V);
      EXPECT_EQ(e.v2t.candidates, T);
    }
  }
}

// Any grouping — captions in any order, videos with 1 to 3 captions: the metrics of the ranks written out
// here by their definition (pessimistic ties), in any chunk; a video without a caption is refused.
TEST(RetrievalEvaluate, AnyGroupingRanksByDefinition) {
  const int64_t V = 11, P = 6;
  std::vector<int64_t> video_of_text;
  for (int64_t v = 0; v < V; ++v)
    for (int64_t c = 0; c <= v % 3; ++c) video_of_text.push_back((v * 7) % V);  // 1-3 captions, shuffled
  const int64_t T = int64_t(video_of_text.size());
  HostTensor text(DType::F32, {T, P}), video(DType::F32, {V, P});
  const Philox rng(3);
  for (int64_t i = 0; i < T * P; ++i)
    text.data<float>()[i] = std::floor(rng.uniform(uint64_t(i)) * 3.0f) - 1.0f;
  for (int64_t i = 0; i < V * P; ++i)
    video.data<float>()[i] = std::floor(rng.uniform(uint64_t(500 + i)) * 3.0f) - 1.0f;
  const NormalizedRows a = normalize_rows(text), b = normalize_rows(video);
  std::vector<float> sims(size_t(T * V));
  similarity_block(a, 0, T, b, 0, V, sims.data());
  std::vector<double> t2v, v2t(size_t(V), INFINITY);
  for (int64_t t = 0; t < T; ++t) {  // pessimistic, written out
    const float gt = sims[size_t(t * V + video_of_text[size_t(t)])];
    int64_t above = 0, equal = 0;
    for (int64_t v = 0; v < V; ++v) {
      above += sims[size_t(t * V + v)] > gt;
      equal += sims[size_t(t * V + v)] == gt;
    }
    t2v.push_back(double(above + equal - 1));
  }
  for (int64_t t = 0; t < T; ++t) {
    const int64_t v = video_of_text[size_t(t)];
    const float x = sims[size_t(t * V + v)];
    int64_t above = 0, equal = 0;
    for (int64_t u = 0; u < T; ++u) {
      above += sims[size_t(u * V + v)] > x;
      equal += sims[size_t(u * V + v)] == x;
    }
    v2t[size_t(v)] = std::min(v2t[size_t(v)], double(above + equal - 1));
  }
  for (int64_t chunk : {1, 4, 100}) {
    const Evaluation e = evaluate(text, video, video_of_text, Ties::Pessimistic, Ties::Pessimistic, chunk);
    const Metrics wt = metrics_from_ranks(t2v, V), wv = metrics_from_ranks(v2t, T);
    EXPECT_EQ(e.t2v.MeanR, wt.MeanR) << chunk;
    EXPECT_EQ(e.t2v.R1, wt.R1);
    EXPECT_EQ(e.t2v.MedR, wt.MedR);
    EXPECT_EQ(e.v2t.MeanR, wv.MeanR) << chunk;
    EXPECT_EQ(e.v2t.R5, wv.R5);
    EXPECT_EQ(e.v2t.MedR, wv.MedR);
  }
  std::vector<int64_t> orphan = video_of_text;
  for (int64_t& v : orphan)
    if (v == 0) v = 1;  // video 0 loses its captions
  EXPECT_THROW(evaluate(text, video, orphan), Error);
}

TEST(RetrievalSearch, TopKEqualsAFullSortWithTiesToTheLowerRow) {
  const int64_t N = 20000, P = 16;  // N P past the threading threshold: per-thread heaps, then the merge
  std::vector<float> values(size_t(N * P));
  const Philox rng(9);
  for (size_t i = 0; i < values.size(); ++i) values[i] = std::floor(rng.uniform(i) * 4.0f);  // many ties
  const NormalizedRows rows = normalize_rows(values, N, P);
  const NormalizedRows query =
      normalize_rows(std::span<const float>(values.data() + 17 * P, size_t(P)), 1, P);
  std::vector<Hit> all;
  for (int64_t r = 0; r < N; ++r) all.push_back({r, dot(query.row(0), rows.row(r), P)});
  std::stable_sort(all.begin(), all.end(), [](const Hit& a, const Hit& b) { return a.score > b.score; });
  for (int64_t k : {int64_t(1), int64_t(10), int64_t(257), N, N + 5}) {
    const std::vector<Hit> got = top_k(rows, query.row(0), P, k);
    ASSERT_EQ(int64_t(got.size()), std::min(k, N));
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].row, all[i].row) << "k " << k << " position " << i;
      EXPECT_EQ(got[i].score, all[i].score);
    }
  }
  // The query's own row scores 1 (within rounding) and comes first among its equals.
  EXPECT_NEAR(top_k(rows, query.row(0), P, 1)[0].score, 1.0f, 1e-6f);
  EXPECT_THROW(top_k(rows, query.row(0), P, 0), Error);
  EXPECT_THROW(top_k(rows, query.row(0), P - 1, 3), Error);
}

// `frost score`'s numbers from fixed embeddings against the formula written out in double: cosine =
// a.b / (|a| |b|), probability = softmax over the captions of cosine / 0.05.
TEST(RetrievalScore, CosinesAndSoftmaxEqualTheFormula) {
  const HostTensor text = HostTensor::from_f32({1, 0, 0, 0.6f, 0.8f, 0, -1, 2, 2, 0, 0, 3}, {4, 3});
  const HostTensor video = HostTensor::from_f32({2, 1, 2}, {1, 3});
  const CaptionScores s = score_captions(text, video, 0.05);
  std::vector<double> cos, e;
  double sum = 0;
  for (int r = 0; r < 4; ++r) {
    double ab = 0, aa = 0, bb = 0;
    for (int c = 0; c < 3; ++c) {
      const double a = text.data<float>()[r * 3 + c], b = video.data<float>()[c];
      ab += a * b;
      aa += a * a;
      bb += b * b;
    }
    cos.push_back(ab / std::sqrt(aa) / std::sqrt(bb));
    e.push_back(std::exp(cos.back() / 0.05));
    sum += e.back();
  }
  ASSERT_EQ(s.cosine.size(), 4u);
  for (int r = 0; r < 4; ++r) {
    EXPECT_NEAR(s.cosine[size_t(r)], cos[size_t(r)], 1e-6) << r;
    EXPECT_NEAR(s.probability[size_t(r)], e[size_t(r)] / sum, 1e-5 * e[size_t(r)] / sum + 1e-12) << r;
  }
  EXPECT_NEAR(s.cosine[3], 2.0 / 3.0, 1e-6);  // (0, 0, 3) . (2, 1, 2) / (3 * 3)
  EXPECT_THROW(score_captions(text, video, 0.0), Error);
  EXPECT_THROW(score_captions(text, HostTensor::from_f32({1, 2}, {1, 2}), 0.05), Error);
}

TEST(RetrievalIndex, SavesLoadsReplacesAndRemoves) {
  const std::string dir = ::testing::TempDir();
  Index ix("{\"name\":\"t\"}", "abc", 4, 3);
  ix.add({"a.mp4", 10, 20, {0, 5, 9}}, std::vector<float>{3, 0, 4, 0});
  ix.add({"b/", 11, 21, {}}, std::vector<float>{0, 2, 0, 0});
  ix.add({"c.png", 12, 22, {0}}, std::vector<float>{1, 1, 1, 1});
  ix.add({"a.mp4", 13, 23, {1, 2}}, std::vector<float>{0, 0, 0, 5});  // the same path: replaced
  ASSERT_EQ(ix.size(), 3u);
  EXPECT_EQ(ix.item(0).size, 13);
  EXPECT_EQ(ix.rows().row(0)[3], 1.0f);  // normalised
  EXPECT_FLOAT_EQ(ix.rows().row(2)[0], 0.5f);
  ix.save(dir + "/ix.index");
  const Index back = Index::load(dir + "/ix.index");
  ASSERT_EQ(back.size(), 3u);
  EXPECT_EQ(back.config_json(), "{\"name\":\"t\"}");
  EXPECT_EQ(back.video_hash(), "abc");
  EXPECT_EQ(back.frames(), 3);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(back.item(i).path, ix.item(i).path);
    EXPECT_EQ(back.item(i).size, ix.item(i).size);
    EXPECT_EQ(back.item(i).mtime_ns, ix.item(i).mtime_ns);
    EXPECT_EQ(back.item(i).frames, ix.item(i).frames);
  }
  EXPECT_EQ(back.rows().data, ix.rows().data);
  ix.save(dir + "/ix16.index", /*f16=*/true);
  const Index half = Index::load(dir + "/ix16.index");
  for (size_t i = 0; i < half.rows().data.size(); ++i)
    EXPECT_NEAR(half.rows().data[i], ix.rows().data[i], 1e-3);
  Index cut = back;
  EXPECT_EQ(cut.remove({"b/", "nope", "b/"}), 1u);
  ASSERT_EQ(cut.size(), 2u);
  EXPECT_EQ(cut.item(1).path, "c.png");
  EXPECT_EQ(*cut.find("c.png"), 1u);
  EXPECT_FLOAT_EQ(cut.rows().row(1)[0], 0.5f);
  EXPECT_THROW(ix.add({"d", 0, 0, {}}, std::vector<float>{1, 2}), Error);                  // width
  EXPECT_THROW(ix.add({"d", 0, 0, {1, 2, 3, 4}}, std::vector<float>{1, 2, 3, 4}), Error);  // frames
  EXPECT_THROW(ix.add({"d", 0, 0, {}}, std::vector<float>{NAN, 0, 0, 0}), Error);
}

TEST(RetrievalIndex, DamagedFilesAreRefusedByName) {
  const std::string dir = ::testing::TempDir();
  Index ix("{}", "h", 2, 1);
  ix.add({"a", 1, 1, {0}}, std::vector<float>{1, 0});
  ix.add({"bb", 1, 1, {0}}, std::vector<float>{0, 1});
  ix.save(dir + "/good.index");
  const auto f = loader::SafetensorsFile::open(dir + "/good.index");
  auto rewrite = [&](const std::string& name, const std::function<void(HostTensor&)>& edit,
                     std::map<std::string, std::string> meta) {
    std::vector<HostTensor> keep;
    keep.reserve(f.tensors().size());
    std::vector<std::pair<std::string, const HostTensor*>> out;
    for (const loader::TensorEntry& e : f.tensors()) {
      keep.push_back(f.read(e.name));
      if (e.name == name) edit(keep.back());
      out.emplace_back(e.name, &keep.back());
    }
    loader::write_safetensors(dir + "/bad.index", out, meta);
  };
  auto refused = [&](const std::string& needle) {
    try {
      Index::load(dir + "/bad.index");
      ADD_FAILURE() << "accepted; wanted " << needle;
    } catch (const Error& e) {
      EXPECT_EQ(e.category(), ErrorCategory::BadFile) << e.what();
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  rewrite(
      "item.path_end", [](HostTensor& t) { t.data<int64_t>()[0] = 7; }, f.metadata());
  refused("item.path_end[0] = 7");
  rewrite(
      "item.path_end", [](HostTensor& t) { t.data<int64_t>()[1] = 2; }, f.metadata());
  refused("bytes past the last item's path");
  rewrite(
      "embeddings", [](HostTensor& t) { t.data<float>()[1] = NAN; }, f.metadata());
  refused("embedding of item 0");
  rewrite(
      "embeddings", [](HostTensor& t) { t.data<float>()[2] = 1e30f; }, f.metadata());  // item 1: (1e30, 1)
  refused("embedding of item 1 has norm");
  {
    // Two items with one path: "a" and "a".
    std::vector<HostTensor> keep;
    std::vector<std::pair<std::string, const HostTensor*>> out;
    keep.reserve(f.tensors().size());
    for (const loader::TensorEntry& e : f.tensors()) {
      if (e.name == "item.path") {
        keep.push_back(HostTensor(DType::U8, {2}));
        keep.back().data<uint8_t>()[0] = 'a';
        keep.back().data<uint8_t>()[1] = 'a';
      } else if (e.name == "item.path_end") {
        keep.push_back(HostTensor(DType::I64, {2}));
        keep.back().data<int64_t>()[0] = 1;
        keep.back().data<int64_t>()[1] = 2;
      } else {
        keep.push_back(f.read(e.name));
      }
      out.emplace_back(e.name, &keep.back());
    }
    loader::write_safetensors(dir + "/bad.index", out, f.metadata());
  }
  refused("repeats the path");
  rewrite("embeddings", [](HostTensor&) {}, {{"frost.index", "{\"format\": 99}"}});
  refused("index format 99");
  rewrite("embeddings", [](HostTensor&) {}, {});
  refused("not a frost index");
}

}  // namespace
}  // namespace frost::retrieval
