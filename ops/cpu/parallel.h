// Parallel loops for the cpu kernels that never open a one-thread OpenMP region.
//
// libgomp keeps the last team of two or more threads for reuse, but allocates (and frees) a team for every
// region of one thread — an `if (false)` clause, `num_threads(1)`, a one-thread pool, or a region nested
// inside another. run() must not allocate (tests/no_allocation_test.cpp counts malloc), so small or
// single-threaded work runs inline instead. The split of a loop is OpenMP's static schedule either way,
// and each iteration's arithmetic does not depend on the thread: results are the same bits.
//
//   parallel_for(rows, rows * cols > 65536, [&](int64_t r) { ... });
//   parallel_region(true, [&](int thread, int threads) {
//     for (const Range r = static_range(n, thread, threads); ...) ...;  barrier(threads);  ...
//   });
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

// The [begin, end) share of n iterations of `thread` among `threads`, contiguous and in order (OpenMP's
// static schedule without a chunk size).
struct Range {
  int64_t begin, end;
};
inline Range static_range(int64_t n, int thread, int threads) {
  const int64_t q = n / threads, r = n % threads, t = thread;
  const int64_t begin = t * q + (t < r ? t : r);
  return {begin, begin + q + (t < r ? 1 : 0)};
}

// body(thread, threads) on every thread of a region of at most `max_threads` (0: the pool's size), or once
// as (0, 1) inline. Bodies split their loops with static_range and separate phases with barrier(threads):
// never an orphaned `#pragma omp for`, which inline would bind to a caller's enclosing region (run() called
// inside a parallel region) and compute only that thread's share.
template <class F>
void parallel_region(bool worth, F&& body, int max_threads = 0) {
  if (use_threads(worth) && max_threads != 1) {
    const int team = max_threads > 0 ? max_threads : omp_get_max_threads();
#pragma omp parallel num_threads(team)
    body(omp_get_thread_num(), omp_get_num_threads());
  } else {
    body(0, 1);
  }
}

// Waits for the region's other threads (only inside a region of more than one).
inline void barrier(int threads) {
  if (threads > 1) {
#pragma omp barrier
  }
}

}  // namespace frost::ops
