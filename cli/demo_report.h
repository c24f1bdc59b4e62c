// What `frost demo` writes for a person to look at: a contact sheet (PNG), a learning-curve plot (SVG) and
// one self-contained HTML page holding both, the metrics and every query's ranked clips (frames embedded as
// data: URIs, so the page can be mailed or opened offline).
//
// Legend: k sampled frames of a clip, H×W its frame size (the synthetic set's 64×64).
#pragma once

#include <string>
#include <vector>

#include "engine/storage.h"
#include "retrieval/metrics.h"

namespace frost::cli {

// One clip in a query's ranking.
struct RankedClip {
  std::string path;
  float score = 0;       // cosine similarity
  bool is_true = false;  // the clip the query was written for
  HostTensor frames;     // u8 (k, H, W, 3): its sampled frames as decoded, before preprocessing
};

// A text query and its top clips, best first.
struct QueryResult {
  std::string query;
  std::vector<RankedClip> clips;
  int64_t true_rank = 0;  // 1-based rank of the clip the query describes among all candidates; 0: none
};

// A grid of query blocks (two a row): each block is the query's text, then a row per rank — rank, cosine,
// the clip's frames at 2× — the true clip framed in green, the others in grey. u8 (H, W, 3). Throws
// InvalidArgument when a clip has no frames or frames of another size than the first.
HostTensor contact_sheet(const std::vector<QueryResult>& results);

// One training run's log (metrics.jsonl lines: {"step", "loss", ...} and {"step", "val": {"t2v": {"R1"}}}).
struct LearningCurve {
  std::vector<std::pair<int64_t, double>> loss;        // (step, loss)
  std::vector<std::pair<int64_t, double>> val_t2v_R1;  // (step, held-out text→video R@1 %)
};
// Reads the log; a line that is not JSON or lacks the fields is BadFile naming the line.
LearningCurve read_learning_curve(const std::string& metrics_jsonl);

// An SVG plot: the training loss (left axis) and held-out text→video R@1 (right axis, 0–100 %) per step,
// with `chance_R1` (%) as a dashed line. `title` is drawn above it.
std::string learning_curve_svg(const LearningCurve& curve, double chance_R1, const std::string& title);

// The page: title, the held-out metrics beside chance, the curve, every query's ranked clips, and
// `next_steps` (commands to try, shown as code). Text is HTML-escaped.
struct DemoPage {
  std::string title;
  std::string summary;  // one paragraph: what was trained on what
  retrieval::Evaluation metrics;
  std::string ties;  // how ties were counted
  std::string curve_svg;
  std::vector<QueryResult> results;
  std::vector<std::string> next_steps;
};
std::string demo_html(const DemoPage& page);

// Base64 (RFC 4648, with padding) of bytes, for data: URIs.
std::string base64(const std::string& bytes);

}  // namespace frost::cli
