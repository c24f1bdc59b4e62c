#include "retrieval/search.h"

#include <omp.h>
#include <algorithm>
#include <cmath>

#include "engine/error.h"
#include "ops/cpu/parallel.h"

namespace frost::retrieval {

namespace {

// a ranks before b: higher score, then lower row; a NaN score (a query that is not finite) ranks last, so
// the order stays strict-weak whatever the scores.
bool better(const Hit& a, const Hit& b) {
  const bool an = std::isnan(a.score), bn = std::isnan(b.score);
  if (an != bn) return bn;
  return !an && a.score != b.score ? a.score > b.score : a.row < b.row;
}

// Keeps the k best of rows [begin, end) in `heap` (a min-heap by `better`: its front is the worst kept).
void scan(const NormalizedRows& rows, const float* query, int64_t begin, int64_t end, int64_t k,
          std::vector<Hit>& heap) {
  for (int64_t r = begin; r < end; ++r) {
    const Hit h{r, dot(query, rows.row(r), rows.dim)};
    if (int64_t(heap.size()) < k) {
      heap.push_back(h);
      std::push_heap(heap.begin(), heap.end(), better);
    } else if (better(h, heap.front())) {
      std::pop_heap(heap.begin(), heap.end(), better);
      heap.back() = h;
      std::push_heap(heap.begin(), heap.end(), better);
    }
  }
}

}  // namespace

std::vector<Hit> top_k(const NormalizedRows& rows, const float* query, int64_t query_dim, int64_t k) {
  FROST_CHECK(k >= 1, InvalidArgument, "top_k: k must be at least 1, got " << k);
  FROST_CHECK(query_dim == rows.dim, InvalidArgument,
              "top_k: the query has " << query_dim << " values, the index rows " << rows.dim);
  const int64_t n = rows.rows;
  k = std::min(k, n);
  if (k == 0) return {};
  const int threads = ops::use_threads(n * rows.dim > (1 << 18)) ? omp_get_max_threads() : 1;
  std::vector<std::vector<Hit>> heaps(static_cast<size_t>(threads));
  ops::parallel_region(
      threads > 1,
      [&](int thread, int team) {
        const ops::Range r = ops::static_range(n, thread, team);
        heaps[size_t(thread)].reserve(size_t(k));
        scan(rows, query, r.begin, r.end, k, heaps[size_t(thread)]);
      },
      threads);
  std::vector<Hit> all;
  for (const auto& h : heaps) all.insert(all.end(), h.begin(), h.end());
  std::sort(all.begin(), all.end(), better);
  all.resize(size_t(std::min<int64_t>(k, int64_t(all.size()))));
  return all;
}

}  // namespace frost::retrieval
