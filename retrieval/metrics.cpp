#include "retrieval/metrics.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>

#include "engine/error.h"
#include "retrieval/similarity.h"

namespace frost::retrieval {

const char* ties_name(Ties t) {
  switch (t) {
    case Ties::Optimistic:
      return "optimistic";
    case Ties::Averaged:
      return "averaged";
    case Ties::Pessimistic:
      return "pessimistic";
  }
  return "?";
}

namespace {

void check_shape(size_t size, int64_t texts, int64_t videos) {
  FROST_CHECK(
      texts > 0 && videos > 0 && texts % videos == 0, InvalidArgument,
      "retrieval metrics: " << texts << " captions for " << videos
                            << " videos; each video needs the same number of captions (consecutive rows)");
  FROST_CHECK(
      size == size_t(texts) * size_t(videos), InvalidArgument,
      "retrieval metrics: a similarity matrix of " << size << " values is not " << texts << " x " << videos);
}

// The 0-based rank of score `x` among `n` scores (itself included) under a tie rule.
double rank_of(float x, const float* scores, int64_t n, int64_t stride, Ties ties) {
  FROST_CHECK(!std::isnan(x), InvalidArgument, "retrieval metrics: a ground-truth similarity is NaN");
  int64_t above = 0, equal = 0;
  for (int64_t j = 0; j < n; ++j) {
    const float s = scores[j * stride];
    above += s > x;
    equal += s == x;
  }
  switch (ties) {
    case Ties::Optimistic:
      return double(above);
    case Ties::Averaged:
      return double(above) + double(equal - 1) / 2.0;
    case Ties::Pessimistic:
      return double(above + equal - 1);
  }
  return 0;
}

// Caption i's rank among the videos of its row; row = sims + i * videos.
double t2v_rank(const float* row, int64_t i, int64_t per_video, int64_t videos, Ties ties) {
  return rank_of(row[i / per_video], row, videos, 1, ties);
}

// Video v's best caption rank; column[t * stride] is sim(caption t, video v).
double v2t_rank(const float* column, int64_t stride, int64_t v, int64_t per_video, int64_t texts, Ties ties) {
  double best = INFINITY;
  for (int64_t j = v * per_video; j < (v + 1) * per_video; ++j)
    best = std::min(best, rank_of(column[j * stride], column, texts, stride, ties));
  return best;
}

}  // namespace

std::vector<double> t2v_ranks(std::span<const float> sims, int64_t texts, int64_t videos, Ties ties) {
  check_shape(sims.size(), texts, videos);
  std::vector<double> ranks(static_cast<size_t>(texts));
  for (int64_t i = 0; i < texts; ++i)
    ranks[size_t(i)] = t2v_rank(sims.data() + i * videos, i, texts / videos, videos, ties);
  return ranks;
}

std::vector<double> v2t_ranks(std::span<const float> sims, int64_t texts, int64_t videos, Ties ties) {
  check_shape(sims.size(), texts, videos);
  std::vector<double> ranks(static_cast<size_t>(videos));
  for (int64_t v = 0; v < videos; ++v)
    ranks[size_t(v)] = v2t_rank(sims.data() + v, videos, v, texts / videos, texts, ties);
  return ranks;
}

Metrics metrics_from_ranks(std::span<const double> ranks, int64_t candidates) {
  FROST_CHECK(!ranks.empty(), InvalidArgument, "retrieval metrics: no queries");
  Metrics m;
  m.queries = int64_t(ranks.size());
  m.candidates = candidates;
  const double n = double(ranks.size());
  auto percent_below = [&](double k) {
    return 100.0 * double(std::count_if(ranks.begin(), ranks.end(), [&](double r) { return r < k; })) / n;
  };
  m.R1 = 100.0 * double(std::count(ranks.begin(), ranks.end(), 0.0)) / n;  // the reference's `cols == 0`
  m.R5 = percent_below(5);
  m.R10 = percent_below(10);
  m.R50 = percent_below(50);
  std::vector<double> sorted(ranks.begin(), ranks.end());
  std::sort(sorted.begin(), sorted.end());
  const size_t h = sorted.size() / 2;
  m.MedR = (sorted.size() % 2 ? sorted[h] : (sorted[h - 1] + sorted[h]) / 2.0) + 1.0;
  double sum = 0;
  for (double r : ranks) sum += r;
  m.MeanR = sum / n + 1.0;
  m.geometric_mean = (m.R1 > 0 && m.R5 > 0 && m.R10 > 0)
                         ? std::exp((std::log(m.R1) + std::log(m.R5) + std::log(m.R10)) / 3.0)
                         : 0.0;
  return m;
}

Evaluation evaluate(const HostTensor& text, const HostTensor& video, std::span<const int64_t> video_of_text,
                    Ties t2v_ties, Ties v2t_ties, int64_t chunk) {
  FROST_CHECK(text.dtype() == DType::F32 && video.dtype() == DType::F32 && text.shape().rank() == 2 &&
                  video.shape().rank() == 2 && text.shape()[1] == video.shape()[1],
              InvalidArgument,
              "retrieval evaluation: text " << text.dtype() << text.shape() << " and video " << video.dtype()
                                            << video.shape() << " must be F32 (N, P) with one P");
  FROST_CHECK(chunk > 0, InvalidArgument, "retrieval evaluation: chunk must be positive");
  const int64_t T = text.shape()[0], V = video.shape()[0];
  FROST_CHECK(T > 0 && V > 0 && int64_t(video_of_text.size()) == T, InvalidArgument,
              "retrieval evaluation: " << video_of_text.size() << " video indices for " << T << " captions");
  std::vector<std::vector<int64_t>> captions_of(static_cast<size_t>(V));
  for (int64_t t = 0; t < T; ++t) {
    const int64_t v = video_of_text[size_t(t)];
    FROST_CHECK(v >= 0 && v < V, InvalidArgument,
                "retrieval evaluation: caption " << t << " names video " << v << " of " << V);
    captions_of[size_t(v)].push_back(t);
  }
  for (int64_t v = 0; v < V; ++v)
    FROST_CHECK(!captions_of[size_t(v)].empty(), InvalidArgument,
                "retrieval evaluation: video " << v << " has no caption (v2t would have no ground truth)");
  const NormalizedRows a = normalize_rows(text), b = normalize_rows(video);
  Evaluation e{.t2v_ties = t2v_ties, .v2t_ties = v2t_ties};
  std::vector<double> t2v(static_cast<size_t>(T)), v2t(static_cast<size_t>(V));
  std::vector<float> scores;
  for (int64_t t0 = 0; t0 < T; t0 += chunk) {  // caption rows: (rows, V)
    const int64_t rows = std::min(chunk, T - t0);
    scores.resize(size_t(rows * V));
    similarity_block(a, t0, rows, b, 0, V, scores.data());
    for (int64_t r = 0; r < rows; ++r) {
      const float* row = scores.data() + r * V;
      t2v[size_t(t0 + r)] = rank_of(row[video_of_text[size_t(t0 + r)]], row, V, 1, t2v_ties);
    }
  }
  for (int64_t v0 = 0; v0 < V; v0 += chunk) {  // video rows: (rows, T), the same values transposed
    const int64_t rows = std::min(chunk, V - v0);
    scores.resize(size_t(rows * T));
    similarity_block(b, v0, rows, a, 0, T, scores.data());
    for (int64_t r = 0; r < rows; ++r) {
      const float* row = scores.data() + r * T;
      double best = INFINITY;
      for (int64_t t : captions_of[size_t(v0 + r)])
        best = std::min(best, rank_of(row[t], row, T, 1, v2t_ties));
      v2t[size_t(v0 + r)] = best;
    }
  }
  e.t2v = metrics_from_ranks(t2v, V);
  e.v2t = metrics_from_ranks(v2t, T);
  return e;
}

Evaluation evaluate(const HostTensor& text, const HostTensor& video, Ties t2v_ties, Ties v2t_ties,
                    int64_t chunk) {
  FROST_CHECK(
      text.shape().rank() == 2 && video.shape().rank() == 2, InvalidArgument,
      "retrieval evaluation: text " << text.shape() << " and video " << video.shape() << " must be (N, P)");
  const int64_t T = text.shape()[0], V = video.shape()[0];
  check_shape(size_t(T) * size_t(V), T, V);
  std::vector<int64_t> video_of_text(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) video_of_text[size_t(t)] = t / (T / V);  // the reference's layout
  return evaluate(text, video, video_of_text, t2v_ties, v2t_ties, chunk);
}

std::string format_metrics(const Metrics& m) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(1) << "R@1 " << m.R1 << "  R@5 " << m.R5 << "  R@10 " << m.R10
     << "  R@50 " << m.R50 << "  MedR " << std::setprecision(m.MedR == std::floor(m.MedR) ? 0 : 1) << m.MedR
     << "  MeanR " << std::setprecision(1) << m.MeanR << "  (" << m.queries << " queries over "
     << m.candidates << " candidates; chance R@1 " << std::setprecision(2) << 100.0 / double(m.candidates)
     << ")";
  return os.str();
}

}  // namespace frost::retrieval
