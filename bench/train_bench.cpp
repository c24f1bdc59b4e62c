// The training step through train::Trainer (weights, AdamW, the compiled step graph) at the sizes the
// synthetic-video learning test and `frost demo` use: the tiny config, batch B, 1 or 4 frames.
//
//   build/bench/bench_train --benchmark_filter=TinyStep
#include <benchmark/benchmark.h>

#include "engine/random.h"
#include "model/config.h"
#include "train/trainer.h"

namespace {

using namespace frost;

void TinyStep(benchmark::State& state) {
  const int64_t B = state.range(0), F = state.range(1), L = 12;
  const model::FitConfig c = model::FitConfig::tiny();
  train::Trainer t(c, {.batch = B, .text_length = L, .frames = F, .adamw = {.lr = 1e-3}});
  const int64_t S = c.video.image_size;
  train::MicroBatch b;
  b.input_ids = HostTensor(DType::I64, {B, L});
  b.attention_mask = HostTensor(DType::F32, {B, L});
  for (int64_t i = 0; i < B * L; ++i) {
    b.input_ids.data<int64_t>()[i] = 5 + (i * 7919) % 500;
    b.attention_mask.data<float>()[i] = 1.0f;
  }
  b.video = HostTensor(DType::F32, {B, F, 3, S, S});
  fill_uniform(b.video, Philox(3), -2, 2);
  t.step({&b, 1});
  for (auto _ : state) t.step({&b, 1});
  state.counters["pairs/s"] = benchmark::Counter(double(B) * state.iterations(), benchmark::Counter::kIsRate);
}
BENCHMARK(TinyStep)
    ->Args({32, 1})
    ->Args({32, 4})
    ->Args({64, 4})
    ->ArgNames({"batch", "frames"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
