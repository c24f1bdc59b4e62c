// The FP32 FMA peak of this machine, measured: every OpenMP thread runs independent chains of 8-wide
// fused multiply-adds (AVX2 + FMA3) long enough to hide the FMA latency on both pipes of a core, and the
// best of several trials is reported. bench/compare_pytorch.py runs it in the same session as the
// workloads, because machines of the same kind differ (one measured 180 GFLOP/s on 2 threads, another 233),
// and reports each contender's GFLOP/s as a share of it.
//
//   OMP_NUM_THREADS=2 build/bench/bench_fma_peak [--seconds 0.5] [--trials 5]
//   → {"threads":2,"gflops":[...per trial...],"best_gflops":180.4,"isa":"avx2+fma"}
//
// Without AVX2 + FMA on the running CPU it prints {"isa":"none"} and exits 0: there is no peak to share.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

// 14 chains: a Zen or Skylake core has 2 FMA pipes of latency 4-5, so at least 10 chains in flight keep
// both busy; 14 accumulators and the two constants fill the 16 ymm registers without spilling.
constexpr int kChains = 14;
constexpr double kFlopsPerIteration = kChains * 8 * 2.0;  // 8 lanes, a multiply and an add each

__attribute__((target("avx2,fma"))) float fma_chains(long iterations, float seed) {
  __m256 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm256_set1_ps(seed + 0.001f * float(c));
  // acc ← acc · 0.999 + 1e-3 converges to 1: no overflow, no subnormals, nothing the compiler can fold.
  const __m256 scale = _mm256_set1_ps(0.999f), shift = _mm256_set1_ps(1e-3f);
  for (long i = 0; i < iterations; ++i)
#pragma GCC unroll 14
    for (int c = 0; c < kChains; ++c) acc[c] = _mm256_fmadd_ps(acc[c], scale, shift);
  __m256 s = acc[0];
  for (int c = 1; c < kChains; ++c) s = _mm256_add_ps(s, acc[c]);
  float lanes[8];
  _mm256_storeu_ps(lanes, s);
  float total = 0;
  for (float x : lanes) total += x;
  return total;
}

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// GFLOP/s of all threads running `iterations` each, timed from the first start to the last finish.
double trial(long iterations, volatile float* sink) {
  const double t0 = now();
  float sum = 0;
#pragma omp parallel reduction(+ : sum)
  sum += fma_chains(iterations, 1.0f + float(omp_get_thread_num()));
  const double dt = now() - t0;
  *sink = *sink + sum;
  return double(omp_get_max_threads()) * double(iterations) * kFlopsPerIteration / dt * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 0.5;
  int trials = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--seconds") == 0)
      seconds = std::atof(argv[i + 1]);
    else if (std::strcmp(argv[i], "--trials") == 0)
      trials = std::atoi(argv[i + 1]);
  }
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
    std::printf("{\"isa\":\"none\"}\n");
    return 0;
  }
  volatile float sink = 0;
  // Calibrate the iteration count to about `seconds` per trial (the first call also wakes the threads).
  long iterations = 1 << 20;
  for (;;) {
    const double t0 = now();
    trial(iterations, &sink);
    const double dt = now() - t0;
    if (dt > 0.05 || iterations > (1L << 40)) {
      iterations = long(double(iterations) * seconds / std::max(dt, 1e-6));
      break;
    }
    iterations *= 4;
  }
  std::vector<double> g;
  for (int t = 0; t < std::max(trials, 1); ++t) g.push_back(trial(iterations, &sink));
  std::printf("{\"threads\":%d,\"isa\":\"avx2+fma\",\"seconds_per_trial\":%.3f,\"gflops\":[",
              omp_get_max_threads(), seconds);
  for (size_t i = 0; i < g.size(); ++i) std::printf("%s%.2f", i ? "," : "", g[i]);
  std::printf("],\"best_gflops\":%.2f}\n", *std::max_element(g.begin(), g.end()));
  return 0;
}
