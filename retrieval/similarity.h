// Cosine similarity for retrieval: rows normalised once, then dot products in one fixed order (eight lanes,
// then a fixed pairwise sum) so a score has the same bits whichever block, chunk or thread computes it —
// ranks and ties must not depend on how a matrix was cut.
//
//   NormalizedRows a = normalize_rows(text_embeddings);        // (T, P) F32 → rows / max(||row||, 1e-8)
//   similarity_block(a, 0, 64, b, 0, b.rows, scores);          // scores (64, b.rows) = a[0:64] b^T
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/storage.h"

namespace frost::retrieval {

struct NormalizedRows {
  std::vector<float> data;  // (rows, dim) row-major
  int64_t rows = 0, dim = 0;
  const float* row(int64_t r) const { return data.data() + r * dim; }
};

// Each row of an F32 (N, P) tensor scaled by 1 / max(||row||, eps) (the reference's sim_matrix; the norm in
// double). Throws InvalidArgument for another dtype or rank, or a non-finite value (naming the row).
NormalizedRows normalize_rows(const HostTensor& embeddings, double eps = 1e-8);
// The same for rows already in memory: `rows` x `dim` floats.
NormalizedRows normalize_rows(std::span<const float> values, int64_t rows, int64_t dim, double eps = 1e-8);

// The dot product both functions below use: the fixed-order one.
float dot(const float* a, const float* b, int64_t n);

// out[r * b_rows + c] = dot(a.row(a0 + r), b.row(b0 + c)) for r < a_rows, c < b_rows; threaded over rows.
void similarity_block(const NormalizedRows& a, int64_t a0, int64_t a_rows, const NormalizedRows& b,
                      int64_t b0, int64_t b_rows, float* out);

// One clip against a few captions, as `frost score` reports them: the cosine of each caption with the clip
// (the fixed-order dot of the normalised rows) and the softmax over the captions of cosine / temperature
// (the reference's NormSoftmax logits, ../shared/spec/frozen-in-time.md §3.3), in double.
struct CaptionScores {
  std::vector<float> cosine;
  std::vector<double> probability;  // sums to 1
};
// text F32 (N, P) captions, video F32 (1, P) or (P): unnormalised embeddings. Throws InvalidArgument for
// other shapes, a temperature <= 0, or a non-finite embedding.
CaptionScores score_captions(const HostTensor& text, const HostTensor& video, double temperature);

}  // namespace frost::retrieval
