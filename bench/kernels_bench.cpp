// Kernel benchmarks: each op's kernel on the "reference" and "cpu" backends side by side (DESIGN style:
// the naive reference stands beside the optimized one). Run: build/bench/bench_kernels
// Reports time per run and, for matmul, FLOP/s from the op's cost row.
#include <benchmark/benchmark.h>

#include "engine/compiled_graph.h"
#include "engine/random.h"
#include "ops/api.h"

namespace {

using namespace frost;

void run_graph(benchmark::State& state, Graph& g, const std::string& backend,
               const std::vector<std::pair<std::string, Shape>>& inputs) {
  CompileOptions options;
  options.backend = backend;
  auto cg = compile(g, options);
  for (size_t i = 0; i < inputs.size(); ++i) {
    HostTensor t(DType::F32, inputs[i].second);
    fill_uniform(t, Philox(i + 1), -1.0, 1.0);
    cg->set_input(inputs[i].first, t);
  }
  for (auto _ : state) cg->run();
  state.counters["FLOP/s"] =
      benchmark::Counter(cg->total_cost().flops, benchmark::Counter::kIsIterationInvariantRate);
}

// Matmul at model shapes: M tokens x K -> N (M = 785 video tokens or 32 text tokens).
void BM_Matmul(benchmark::State& state, const std::string& backend) {
  const int64_t M = state.range(0), K = state.range(1), N = state.range(2);
  Graph g;
  g.output("c", matmul(g.input("a", DType::F32, {M, K}), g.input("b", DType::F32, {K, N})));
  run_graph(state, g, backend, {{"a", {M, K}}, {"b", {K, N}}});
}

void BM_Softmax(benchmark::State& state, const std::string& backend) {
  const int64_t rows = state.range(0), cols = state.range(1);
  Graph g;
  g.output("y", softmax(g.input("x", DType::F32, {rows, cols})));
  run_graph(state, g, backend, {{"x", {rows, cols}}});
}

BENCHMARK_CAPTURE(BM_Matmul, reference, std::string("reference"))
    ->Args({32, 768, 768})
    ->Args({197, 768, 768})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_Matmul, cpu, std::string("cpu"))
    ->Args({32, 768, 768})
    ->Args({197, 768, 768})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_Softmax, reference, std::string("reference"))
    ->Args({12 * 197, 197})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_Softmax, cpu, std::string("cpu"))
    ->Args({12 * 197, 197})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
