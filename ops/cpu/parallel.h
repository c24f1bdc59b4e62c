// Parallel loops for the cpu kernels that never open a one-thread OpenMP region.
//
// libgomp keeps the last team of two or more threads for reuse, but allocates (and frees) a team for every
// region of one thread — an `if (false)` clause, `num_threads(1)`, a one-thread pool, or a region nested
// inside another. run() must not allocate (tests/no_allocation_test.cpp counts malloc), so small or
// single-threaded work runs inline instead. The split of a loop is OpenMP's static schedule either way,
// and each iteration's arithmetic does not depend on the thread: results are the same bits.
//
//   parallel_for(rows, rows * cols > 65536, [&](int64_t r) { ... });
//   parallel_region(true, [&](int thread, int threads) { ... #pragma omp for ... });  // orphaned `for`s ok
#pragma once

#include <omp.h>

#include <cstdint>

namespace frost::ops {

// Whether a region here would have more than one thread, and the work is worth one.
inline bool use_threads(bool worth) {
  return worth && omp_get_max_threads() > 1 && !omp_in_parallel();
}

template <class F>
void parallel_for(int64_t n, bool worth, F&& body) {
  if (use_threads(worth)) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) body(i);
  } else {
    for (int64_t i = 0; i < n; ++i) body(i);
  }
}

// body(thread, threads) on every thread of a region, or once as (0, 1) inline. `#pragma omp for` inside
// body binds to the region when there is one and runs the whole loop on the one thread when there is not.
template <class F>
void parallel_region(bool worth, F&& body) {
  if (use_threads(worth)) {
#pragma omp parallel
    body(omp_get_thread_num(), omp_get_num_threads());
  } else {
    body(0, 1);
  }
}

}  // namespace frost::ops
