// Kernel benchmarks: each op on each kernel path side by side — the reference kernel (the oracle), our
// own cpu kernels ("own": the cpu backend with oneDNN switched off) and oneDNN ("onednn": the cpu
// backend as shipped). DESIGN style: the naive reference stands beside the optimized ones.
//
//   build/bench/bench_kernels --benchmark_filter=Matmul --benchmark_repetitions=3
//
// Matmul reports GFLOP/s from the op's cost row; compare it with ../shared/tools/fma_peak.c run in the
// same session. Shapes are the dual encoder's: M = 785 video tokens (1 + 4 frames x 196 patches) or 32
// text tokens; (K, N) = (768, 768) attention projections, (768, 2304) fused qkv, (768, 3072) and
// (3072, 768) the MLP.
#include <benchmark/benchmark.h>

#include <functional>
#include <memory>

#include "engine/compiled_graph.h"
#include "engine/random.h"
#include "model/nn.h"
#include "ops/api.h"

namespace {

using namespace frost;

CompileOptions path_options(const std::string& path) {
  CompileOptions options;
  options.backend = path == "reference" ? "reference" : "cpu";
  if (path == "own") options.disabled_kernels = {"onednn."};
  return options;
}

using Inputs = std::vector<std::pair<std::string, Shape>>;

// Compiles g and times run() on fixed uniform inputs; reports FLOP/s from the ops' cost rows.
std::unique_ptr<CompiledGraph> time_runs(benchmark::State& state, Graph& g, const CompileOptions& options,
                                         const Inputs& inputs) {
  auto cg = compile(g, options);
  for (size_t i = 0; i < inputs.size(); ++i) {
    HostTensor t(DType::F32, inputs[i].second);
    fill_uniform(t, Philox(i + 1), -1.0, 1.0);
    cg->set_input(inputs[i].first, t);
  }
  for (auto _ : state) cg->run();
  state.counters["FLOP/s"] =
      benchmark::Counter(cg->total_cost().flops, benchmark::Counter::kIsIterationInvariantRate);
  return cg;
}

void run_graph(benchmark::State& state, Graph& g, const std::string& path, const Inputs& inputs) {
  state.SetLabel(time_runs(state, g, path_options(path), inputs)->kernel_names().front());
}

// g compiled fused or not on the shipped cpu path; labelled with every kernel it runs.
void run_fused_or_not(benchmark::State& state, Graph& g, bool fused, const Inputs& inputs) {
  CompileOptions options = path_options("onednn");
  options.fuse = fused;
  std::string label;
  for (const std::string& k : time_runs(state, g, options, inputs)->kernel_names())
    label += (label.empty() ? "" : " + ") + k;
  state.SetLabel(label);
}

void BM_Matmul(benchmark::State& state, const std::string& path) {
  const int64_t M = state.range(0), K = state.range(1), N = state.range(2);
  Graph g;
  g.output("c", matmul(g.input("a", DType::F32, {M, K}), g.input("b", DType::F32, {K, N})));
  run_graph(state, g, path, {{"a", {M, K}}, {"b", {K, N}}});
}

// Attention scores as the model computes them: (B*H, L, D) x (B*H, L, D)^T.
void BM_MatmulScores(benchmark::State& state, const std::string& path) {
  const int64_t BH = state.range(0), L = state.range(1), D = 64;
  Graph g;
  g.output("s",
           matmul(g.input("q", DType::F32, {BH, L, D}), g.input("k", DType::F32, {BH, L, D}), false, true));
  run_graph(state, g, path, {{"q", {BH, L, D}}, {"k", {BH, L, D}}});
}

void BM_Softmax(benchmark::State& state, const std::string& path) {
  const int64_t rows = state.range(0), cols = state.range(1);
  Graph g;
  g.output("y", softmax(g.input("x", DType::F32, {rows, cols})));
  run_graph(state, g, path, {{"x", {rows, cols}}});
}

void BM_LayerNorm(benchmark::State& state, const std::string& path) {
  const int64_t rows = state.range(0), C = 768;
  Graph g;
  g.output("y", layer_norm(g.input("x", DType::F32, {rows, C}), g.input("w", DType::F32, {C}),
                           g.input("b", DType::F32, {C}), 1e-6)
                    .y);
  run_graph(state, g, path, {{"x", {rows, C}}, {"w", {C}}, {"b", {C}}});
}

void BM_Gelu(benchmark::State& state, const std::string& path) {
  const int64_t n = state.range(0);
  Graph g;
  g.output("y", gelu(g.input("x", DType::F32, {n})));
  run_graph(state, g, path, {{"x", {n}}});
}

// A bias add, a bias gradient and an attention head split at the video model's size (785 tokens, 768).
void BM_AddBias(benchmark::State& state, const std::string& path) {
  Graph g;
  g.output("y", g.input("x", DType::F32, {785, 768}) + g.input("b", DType::F32, {768}));
  run_graph(state, g, path, {{"x", {785, 768}}, {"b", {768}}});
}
void BM_SumRows(benchmark::State& state, const std::string& path) {
  Graph g;
  g.output("y", sum(g.input("x", DType::F32, {785, 768}), {0}));
  run_graph(state, g, path, {{"x", {785, 768}}});
}
void BM_PermuteHeads(benchmark::State& state, const std::string& path) {
  Graph g;
  g.output("y", permute(g.input("x", DType::F32, {1, 785, 12, 64}), {0, 2, 1, 3}));
  run_graph(state, g, path, {{"x", {1, 785, 12, 64}}});
}

// One AdamW update of the MLP's first weight (3072 x 768, as the base video model has 12 of): the
// parameter, its two moments and the gradient are read, three of them written.
void BM_AdamW(benchmark::State& state, const std::string& path) {
  Graph g;
  const Shape shape{3072, 768};
  auto st = [&](const char* name) { return g.state(name, DType::F32, shape); };
  adamw_update(st("p"), g.input("grad", DType::F32, shape), st("m"), st("v"),
               g.input("coefficients", DType::F32, {kAdamWCoefficients}));
  auto cg = compile(g, path_options(path));
  HostTensor grad(DType::F32, shape), c(DType::F32, {kAdamWCoefficients});
  fill_uniform(grad, Philox(1), -1.0, 1.0);
  const float k[] = {0.9f, 0.1f, 0.999f, 0.001f, 1e-6f, 1.0f, 0.0447f, 3e-5f, 0.0f, 0.0f};
  std::copy(k, k + kAdamWCoefficients, c.data<float>());
  cg->set_input("grad", grad);
  cg->set_input("coefficients", c);
  for (auto _ : state) cg->run();
  state.SetBytesProcessed(int64_t(state.iterations()) * shape.numel() * 4 * 7);
  state.SetLabel(cg->kernel_names().front());
}

// One clip's attention as the video model computes it, fused (the attention op: tiled, online softmax) or
// not (matmul, scale, softmax, matmul, and the CLS row concatenated in front of every group): args are
// (tuples = heads x groups, queries, keys per group, CLS prefix 0/1, fused 0/1). Space groups: 12 x 4
// tuples of 196 queries over 1 + 196 keys; time groups: 12 x 196 tuples of 4 over 1 + 4; the CLS row:
// 12 tuples of 1 query over 785 keys.
void BM_Attention(benchmark::State& state) {
  const int64_t T = state.range(0), Lq = state.range(1), Lk = state.range(2), D = 64;
  const bool prefix = state.range(3) != 0, fused = state.range(4) != 0;
  Graph g;
  Tensor q = g.input("q", DType::F32, {T, Lq, D}), k = g.input("k", DType::F32, {T, Lk, D});
  Tensor v = g.input("v", DType::F32, {T, Lk, D});
  Inputs inputs = {{"q", {T, Lq, D}}, {"k", {T, Lk, D}}, {"v", {T, Lk, D}}};
  if (prefix) {
    Tensor ck = g.input("ck", DType::F32, {1, 1, D}), cv = g.input("cv", DType::F32, {1, 1, D});
    k = concat({expand(ck, {T, 1, D}), k}, 1);
    v = concat({expand(cv, {T, 1, D}), v}, 1);
    inputs.push_back({"ck", {1, 1, D}});
    inputs.push_back({"cv", {1, 1, D}});
  }
  g.output("o", nn::attention(q, k, v));
  run_fused_or_not(state, g, fused, inputs);
}

// The text encoder's attention in training (batch 16 captions x 12 heads, 32 tokens, D 64): fused without
// dropout (arg 0), with the probabilities' dropout fused into the op (1), unfused with dropout (2: softmax,
// dropout, matmul — what the model ran before the op took dropout in) and unfused without (3).
void BM_AttentionDropout(benchmark::State& state) {
  const int64_t T = 16 * 12, L = 32, D = 64;
  Graph g;
  Tensor q = g.input("q", DType::F32, {T, L, D}), k = g.input("k", DType::F32, {T, L, D});
  Tensor v = g.input("v", DType::F32, {T, L, D});
  const Tensor offset = fill(g, {}, DType::I64, 7.0);
  std::function<Tensor(Tensor)> drop;
  if (state.range(0) == 1 || state.range(0) == 2) drop = [&](Tensor p) { return dropout(p, 0.1, 5, offset); };
  g.output("o", nn::attention(q, k, v, {}, drop));
  run_fused_or_not(state, g, state.range(0) < 2, {{"q", {T, L, D}}, {"k", {T, L, D}}, {"v", {T, L, D}}});
}

// One clip's residual add + layer norm (785 tokens x 768): add_layer_norm (fused 1) vs the add and the
// layer_norm op (fused 0).
void BM_AddLayerNorm(benchmark::State& state) {
  const int64_t rows = 785, C = 768;
  Graph g;
  Tensor s = g.input("x", DType::F32, {rows, C}) + g.input("f", DType::F32, {rows, C});
  LayerNormResult r = layer_norm(s, g.input("w", DType::F32, {C}), g.input("b", DType::F32, {C}), 1e-6);
  g.output("s", s);  // the residual stream goes on (pre-LN)
  // Graph outputs pin value ids, which the pass does not move: y is read through a view (no kernel).
  g.output("y", reshape(r.y, {rows * C}));
  run_fused_or_not(state, g, state.range(0) != 0,
                   {{"x", {rows, C}}, {"f", {rows, C}}, {"w", {C}}, {"b", {C}}});
}

// One clip's MLP up-projection (785 x 768 -> 3072) with its bias and gelu: one linear with oneDNN post-ops
// (fused 1) vs matmul, bias add and gelu (fused 0).
void BM_LinearGelu(benchmark::State& state) {
  const int64_t M = 785, K = 768, N = 3072;
  Graph g;
  Tensor x = g.input("x", DType::F32, {M, K}), w = g.input("w", DType::F32, {N, K});
  g.output("y", gelu(matmul(x, w, false, true) + g.input("b", DType::F32, {N})));
  run_fused_or_not(state, g, state.range(0) != 0, {{"x", {M, K}}, {"w", {N, K}}, {"b", {N}}});
}

void model_shapes(benchmark::internal::Benchmark* b) {
  for (int64_t M : {785, 32})
    for (auto [K, N] : {std::pair<int64_t, int64_t>{768, 768}, {768, 2304}, {768, 3072}, {3072, 768}})
      b->Args({M, K, N});
}

#define FROST_BENCH_PATHS(fn, ...)                     \
  BENCHMARK_CAPTURE(fn, onednn, std::string("onednn")) \
      ->__VA_ARGS__->Unit(benchmark::kMillisecond)     \
      ->UseRealTime();                                 \
  BENCHMARK_CAPTURE(fn, own, std::string("own"))->__VA_ARGS__->Unit(benchmark::kMillisecond)->UseRealTime()

FROST_BENCH_PATHS(BM_Matmul, Apply(model_shapes));
BENCHMARK_CAPTURE(BM_Matmul, reference, std::string("reference"))
    ->Args({32, 768, 768})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
FROST_BENCH_PATHS(BM_MatmulScores, Args({12, 197}));
FROST_BENCH_PATHS(BM_Softmax, Args({12 * 197, 197}));
BENCHMARK_CAPTURE(BM_Softmax, reference, std::string("reference"))
    ->Args({12 * 197, 197})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_Attention)
    ->ArgsProduct({{48}, {196}, {196}, {1}, {1, 0}})
    ->ArgsProduct({{2352}, {4}, {4}, {1}, {1, 0}})
    ->ArgsProduct({{12}, {1}, {785}, {0}, {1, 0}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
FROST_BENCH_PATHS(BM_LayerNorm, Args({785}));
BENCHMARK(BM_AttentionDropout)
    ->DenseRange(0, 3)
    ->ArgName("variant")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_AddLayerNorm)->Arg(1)->Arg(0)->ArgName("fused")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_LinearGelu)->Arg(1)->Arg(0)->ArgName("fused")->Unit(benchmark::kMillisecond)->UseRealTime();
FROST_BENCH_PATHS(BM_Gelu, Args({785 * 3072}));
BENCHMARK_CAPTURE(BM_AddBias, own, std::string("own"))->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_AddBias, reference, std::string("reference"))
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_AdamW, own, std::string("own"))->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_AdamW, reference, std::string("reference"))
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_SumRows, own, std::string("own"))->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_SumRows, reference, std::string("reference"))
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_PermuteHeads, own, std::string("own"))->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_PermuteHeads, reference, std::string("reference"))
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
