// Retrieval metrics exactly as the reference reports them (../shared/spec/frozen-in-time.md §3.8; the
// reference's model/metric.py t2v_metrics, v2t_metrics, cols2metrics), from a similarity matrix or, in
// chunks, from embeddings.
//
//   Legend: T captions (text queries), V videos, C = T / V captions per video; caption i belongs to video
//   i / C (the reference's layout: a video's captions are consecutive rows).
//
//   std::vector<double> r = t2v_ranks(sims, T, V, Ties::Optimistic);   // 0-based rank of each caption's
//   video Metrics m = metrics_from_ranks(r, V);                              // R@1/5/10/50, MedR, MeanR, ...
//   Evaluation e = evaluate(text_emb, video_emb);                      // both directions, 10k x 10k in
//   chunks
//
// Ranks: t2v ranks the caption's own video among all V videos; v2t ranks, for each video, every one of its
// captions among all T captions and keeps the best. Ties between the ground truth and other candidates:
//   Optimistic   every tie counted in the query's favour (the reference's t2v: rank = #scores above)
//   Averaged     the mean of the tied positions (the reference's v2t: #above + (#equal - 1) / 2)
//   Pessimistic  every tie counted against it (#above + #equal - 1): not in the reference; what frost's
//                tests use, since under optimistic ties a collapsed model (all scores equal) scores R@1 =
//                100%.
// Scores are compared as the F32 values the matrix holds (the reference compares its float32 distances).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "engine/storage.h"

namespace frost::retrieval {

enum class Ties { Optimistic, Averaged, Pessimistic };
const char* ties_name(Ties t);  // "optimistic", "averaged", "pessimistic"

struct Metrics {
  double R1 = 0, R5 = 0, R10 = 0, R50 = 0;  // percent of queries whose 0-based rank is < K
  double MedR = 0;                          // median rank + 1 (numpy's median: the middle two averaged)
  double MeanR = 0;                         // mean rank + 1
  double geometric_mean = 0;                // of R1, R5, R10 (scipy.stats.mstats.gmean; 0 if any is 0)
  int64_t queries = 0;
  int64_t candidates = 0;  // what each query ranks among (chance R@1 = 100 / candidates)
};

// sims: F32 (T, V) row-major, T a multiple of V. Throws InvalidArgument naming the shapes otherwise.
std::vector<double> t2v_ranks(std::span<const float> sims, int64_t texts, int64_t videos, Ties ties);
std::vector<double> v2t_ranks(std::span<const float> sims, int64_t texts, int64_t videos, Ties ties);
Metrics metrics_from_ranks(std::span<const double> ranks, int64_t candidates);

struct Evaluation {
  Metrics t2v, v2t;
  Ties t2v_ties, v2t_ties;
};
// From embeddings F32 text (T, P) and video (V, P): rows scaled by 1 / max(||row||, 1e-8) as the reference's
// sim_matrix, each similarity the fixed-order float dot of retrieval/similarity.h — the same value whichever
// chunk computes it — and ranked in chunks of `chunk` rows, so memory stays at chunk x max(T, V) scores.
// Defaults: the reference's tie rules.
Evaluation evaluate(const HostTensor& text, const HostTensor& video, Ties t2v_ties = Ties::Optimistic,
                    Ties v2t_ties = Ties::Averaged, int64_t chunk = 256);
// The same for any grouping (a dataset's videos with different numbers of captions): caption t belongs to
// video video_of_text[t]; every video needs at least one caption. With the consecutive layout it equals the
// overload above.
Evaluation evaluate(const HostTensor& text, const HostTensor& video, std::span<const int64_t> video_of_text,
                    Ties t2v_ties = Ties::Optimistic, Ties v2t_ties = Ties::Averaged, int64_t chunk = 256);

// "R@1 12.3  R@5 34.5  R@10 45.6  R@50 78.9  MedR 12  MeanR 34.5  (n queries over m candidates)"
std::string format_metrics(const Metrics& m);

}  // namespace frost::retrieval
