// Retrieval benchmarks (issue 15's speed bar: a query on a 100,000-item index within 50 ms on 2 cores,
// query encoding included; 1,000,000 items reported):
//   BM_TopK/N            exact cosine top-10 over N random unit rows of 256 (the base model's width)
//   BM_EncodeQuery       one caption through the base text tower at the 16-token bucket (random weights:
//                        speed does not depend on their values)
//
//   build/bench/bench_retrieval --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include "engine/random.h"
#include "model/encoder.h"
#include "retrieval/search.h"

namespace {

using namespace frost;

retrieval::NormalizedRows random_rows(int64_t n, int64_t dim, uint64_t seed) {
  std::vector<float> v(size_t(n * dim));
  const Philox rng(seed);
  rng.uniforms(0, int64_t(v.size()), v.data());
  for (float& x : v) x -= 0.5f;
  return retrieval::normalize_rows(v, n, dim);
}

void BM_TopK(benchmark::State& state) {
  const int64_t n = state.range(0), dim = 256;
  const retrieval::NormalizedRows rows = random_rows(n, dim, 1), query = random_rows(1, dim, 2);
  for (auto _ : state) benchmark::DoNotOptimize(retrieval::top_k(rows, query.row(0), dim, 10));
  state.SetItemsProcessed(int64_t(state.iterations()) * n);
}
BENCHMARK(BM_TopK)->Arg(100000)->Arg(1000000)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_EncodeQuery(benchmark::State& state) {
  const model::FitConfig c = model::FitConfig::base();
  model::WeightSet w;
  for (const model::ParamSpec& p : model::fit_param_specs(c)) {
    if (p.name.rfind("video_model.", 0) == 0) continue;  // the text tower and projections only
    HostTensor t(DType::F32, p.shape);
    fill_uniform(t, Philox(7), -0.02, 0.02);
    w.tensors.emplace(p.name, std::move(t));
  }
  for (const model::ParamSpec& p : model::fit_param_specs(c))
    if (p.name.rfind("video_model.", 0) == 0) w.tensors.emplace(p.name, HostTensor(DType::F32, p.shape));
  model::DualEncoder enc(c, std::move(w), loader::default_uncased_tokenizer(),
                         {.batch_size = 1, .text_length_buckets = {16, 32, 64, 128}});
  enc.encode_text({"a warm-up caption"});
  for (auto _ : state) benchmark::DoNotOptimize(enc.encode_text({"a man is cooking pasta in a small kitchen"}));
}
BENCHMARK(BM_EncodeQuery)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
