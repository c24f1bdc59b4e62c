// The OpenMP team a compiled graph runs on.
//
// Kernels are prepared for a thread count at compile time — oneDNN's primitives and the own kernels'
// workspaces and partitions — and assume every parallel region of run() gets exactly that many threads.
// OpenMP may hand out fewer: with dynamic adjustment on (OMP_DYNAMIC), under OMP_THREAD_LIMIT, with
// nested regions inactive (OMP_MAX_ACTIVE_LEVELS=0, or run() called inside a parallel region); oneDNN then
// computes wrong results without a sign. So compile() prepares for the team OpenMP can actually give
// (`available_threads`), and compile and run() hold a `ThreadScope`: dynamic adjustment off and the team
// size pinned on the calling thread, restored afterwards (the embedding program's settings are its own).
//
//   const int n = available_threads();    // at compile
//   { ThreadScope scope(n); ... }          // around prepare and around every run
#pragma once

namespace frost {

// The threads a parallel region started on this thread would get: omp_get_max_threads() bounded by the
// thread limit, and 1 where no further region can be active (nesting exhausted).
int available_threads();

class ThreadScope {
 public:
  explicit ThreadScope(int threads);
  ~ThreadScope();
  ThreadScope(const ThreadScope&) = delete;
  ThreadScope& operator=(const ThreadScope&) = delete;

 private:
  int saved_threads_;
  int saved_dynamic_;
};

}  // namespace frost
