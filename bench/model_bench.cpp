// Model benchmarks: the base dual encoder, fused (the compiler's fusion passes, as shipped) beside unfused
// (CompileOptions::fuse = false, the model's primitive sequences), in one run. On the cpu backend, or the
// one FROST_BENCH_BACKEND names ("cuda": scripts/gpu_check.sh). Weights are random (the timings do not
// depend on them); inputs are fixed.
//
//   VideoEncoder/{fused,unfused}/batch: the base SpaceTimeTransformer + projection, 1 or 8 clips of 4
//                                 frames, inference
//   TrainStep/{fused,unfused}:    forward + NormSoftmax loss + backward of the base dual encoder, 2 pairs
//                                 (captions of 16 tokens, 4-frame clips); the optimiser update arrives with
//                                 the training issue
//
//   OMP_NUM_THREADS=2 build/bench/bench_model --benchmark_repetitions=3
//   FROST_BENCH_BACKEND=cuda build/bench/bench_model --benchmark_filter=VideoEncoder
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <string>

#include "engine/autodiff.h"
#include "engine/compiled_graph.h"
#include "engine/random.h"
#include "model/dual_encoder.h"

namespace {

using namespace frost;
using namespace frost::model;

// Every parameter ~ U(-0.02, 0.02), LayerNorm weights 1.
void random_weights(CompiledGraph& cg, const Params& params) {
  uint64_t stream = 0;
  for (const ParamSpec& s : params.specs()) {
    HostTensor t(DType::F32, s.shape);
    fill_uniform(t, Philox(11, stream++), -0.02, 0.02);
    if (s.name.find("norm") != std::string::npos && s.name.find(".weight") != std::string::npos)
      for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = 1.0f;
    cg.set_state(s.name, t);
  }
}

std::string backend() {
  const char* b = std::getenv("FROST_BENCH_BACKEND");
  return b != nullptr && b[0] != '\0' ? b : "cpu";
}

HostTensor uniform(Shape shape, uint64_t seed, double lo, double hi) {
  HostTensor t(DType::F32, shape);
  fill_uniform(t, Philox(seed), lo, hi);
  return t;
}

void VideoEncoder(benchmark::State& state) {
  const bool fused = state.range(0) == 1;
  const int64_t batch = state.range(1);
  const FitConfig c = FitConfig::base();
  FitGraph fg = build_fit_graph(c, {.part = Part::Video, .batch = batch, .fuse = fused});
  CompileOptions o{.backend = backend()};
  o.fuse = fused;
  auto cg = compile(*fg.graph, o);
  random_weights(*cg, *fg.params);
  cg->set_input("video", uniform({batch, 4, 3, 224, 224}, 5, -2, 2));
  cg->run();  // warm-up: first touch of the arenas, oneDNN's JIT, the CUDA graph's recording
  for (auto _ : state) cg->run();  // run() returns when the device is done (it synchronizes)
  state.SetLabel(std::string(fused ? "fused" : "unfused") + " on " + backend());
}
BENCHMARK(VideoEncoder)
    ->ArgsProduct({{1, 0}, {1, 8}})
    ->ArgNames({"fused", "batch"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void TrainStep(benchmark::State& state) {
  const bool fused = state.range(0) == 1;
  const FitConfig c = FitConfig::base();
  const int64_t B = 2, L = 16;
  FitGraph fg = build_fit_graph(c, {.part = Part::Dual, .batch = B, .text_length = L, .fuse = fused});
  const std::vector<Tensor> params = fg.params->tensors();
  const std::vector<Tensor> grads = gradients(fg.loss, params);
  for (size_t i = 0; i < params.size(); ++i) fg.graph->output("grad." + fg.params->specs()[i].name, grads[i]);
  CompileOptions o{.backend = backend()};
  o.fuse = fused;
  auto cg = compile(*fg.graph, o);
  random_weights(*cg, *fg.params);
  HostTensor ids(DType::I64, {B, L}), mask(DType::F32, {B, L});
  for (int64_t i = 0; i < B * L; ++i) {
    ids.data<int64_t>()[i] = 1000 + (i * 7919) % 20000;
    mask.data<float>()[i] = 1.0f;
  }
  cg->set_input("input_ids", ids);
  cg->set_input("attention_mask", mask);
  cg->set_input("video", uniform({B, 4, 3, 224, 224}, 6, -2, 2));
  cg->run();
  for (auto _ : state) cg->run();
  state.SetLabel(fused ? "fused" : "unfused");
}
BENCHMARK(TrainStep)
    ->Arg(1)
    ->Arg(0)
    ->ArgName("fused")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(2);

}  // namespace

BENCHMARK_MAIN();
