// Exact cosine top-k over stored, normalised embeddings: every row scored (retrieval/similarity.h's dot, so
// a score is the same bits as in evaluate()), the best k kept per thread, merged. Ties go to the lower row,
// so results do not depend on the thread count.
//
//   std::vector<Hit> hits = top_k(index_rows, query_row, 10);   // best first
#pragma once

#include <cstdint>
#include <vector>

#include "retrieval/similarity.h"

namespace frost::retrieval {

struct Hit {
  int64_t row = 0;
  float score = 0;  // cosine similarity
};

// The min(k, rows.rows) best rows of `rows` for `query` (one normalised row of the same width), highest
// score first, ties by lower row. Throws InvalidArgument for k < 1 or a width mismatch.
std::vector<Hit> top_k(const NormalizedRows& rows, const float* query, int64_t query_dim, int64_t k);

}  // namespace frost::retrieval
