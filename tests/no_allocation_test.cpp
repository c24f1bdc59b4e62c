// run() allocates nothing (DESIGN pipeline): every operator new and every call of the malloc family
// (malloc, calloc, realloc, aligned_alloc, posix_memalign, memalign) in the process is counted, and a
// compiled inference graph and a compiled training graph (forward + backward + SGD) must run without one,
// on every kernel path. The one exception is inside oneDNN 2.6's primitive execution, which builds a small
// argument map on the heap per call (docs/decisions.md): those allocations are counted apart and reported.
// Under AddressSanitizer, which owns malloc, only operator new is counted.
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <new>
#include <string>

#include "engine/autodiff.h"
#include "engine/compiled_graph.h"
#include "model/config.h"
#include "model/nn.h"
#include "ops/api.h"
#include "ops/cpu/onednn.h"
#include "test_util.h"
#include "train/adamw.h"
#include "train/trainer.h"

namespace {
std::atomic<long> g_news{0};         // outside oneDNN's execute
std::atomic<long> g_onednn_news{0};  // inside it
}  // namespace

namespace {
void count_allocation() {
  (frost::ops::onednn_executing() ? g_onednn_news : g_news).fetch_add(1, std::memory_order_relaxed);
}
}  // namespace

#if !defined(__SANITIZE_ADDRESS__)
// The malloc family, counted and forwarded to glibc's own allocator (the same heap, so free() of anything
// is right). C code (libgomp, oneDNN's C parts, FFmpeg) allocates here, never through operator new.
extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);
void __libc_free(void*);

void* malloc(size_t n) {
  count_allocation();
  return __libc_malloc(n);
}
void* calloc(size_t n, size_t size) {
  count_allocation();
  return __libc_calloc(n, size);
}
void* realloc(void* p, size_t n) {
  count_allocation();
  return __libc_realloc(p, n);
}
void* memalign(size_t alignment, size_t n) {
  count_allocation();
  return __libc_memalign(alignment, n);
}
void* aligned_alloc(size_t alignment, size_t n) {
  count_allocation();
  return __libc_memalign(alignment, n);
}
int posix_memalign(void** out, size_t alignment, size_t n) {
  count_allocation();
  void* p = __libc_memalign(alignment, n);
  if (p == nullptr && n != 0) return ENOMEM;
  *out = p;
  return 0;
}
void free(void* p) {
  __libc_free(p);
}
}
#endif

// These replacements are a matched pair (malloc / free); GCC cannot see that through inlining and warns.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t n) {
  count_allocation();
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  return operator new(n);
}
// The nothrow forms too (std::stable_sort's temporary buffer uses them): every new comes from malloc, so
// the deletes below may free it.
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  count_allocation();
  return std::malloc(n ? n : 1);
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept {
  return operator new(n, t);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}

namespace frost {
namespace {

long allocations_during(const std::function<void()>& f) {
  long before = g_news.load();
  f();
  return g_news.load() - before;
}

TEST(NoAllocation, TheCounterSeesAllocations) {
  static std::string* volatile sink;  // escapes, so the allocation cannot be elided
  EXPECT_GE(allocations_during([] { sink = new std::string(100, 'x'); }), 1);
  delete sink;
}

#if !defined(__SANITIZE_ADDRESS__)
TEST(NoAllocation, TheCounterSeesTheMallocFamily) {
  static void* volatile sink;  // escapes, so the calls cannot be elided
  EXPECT_GE(allocations_during([] { sink = std::malloc(100); }), 1);
  EXPECT_GE(allocations_during([] { sink = std::realloc(sink, 1000); }), 1);
  std::free(sink);
  EXPECT_GE(allocations_during([] { sink = std::calloc(10, 10); }), 1);
  std::free(sink);
  EXPECT_GE(allocations_during([] { sink = std::aligned_alloc(64, 128); }), 1);
  std::free(sink);
  void* p = nullptr;
  EXPECT_GE(allocations_during([&] { EXPECT_EQ(posix_memalign(&p, 64, 128), 0); }), 1);
  std::free(p);
}
#endif

TEST(NoAllocation, RunAllocatesNothingForInferenceAndTraining) {
  for (int mode : {0, 1, 2}) {  // inference; training with SGD; training with AdamW (train/adamw.h)
    Graph g;
    Tensor x = g.input("x", DType::F32, {4, 5, 8});
    nn::SelfAttentionWeights w;
    std::vector<Tensor> params;
    auto p = [&](const char* name, Shape s) {
      params.push_back(nn::parameter(g, name, s, Philox(params.size() + 1), 0.3));
      return params.back();
    };
    w = {p("q.w", {8, 8}), p("q.b", {8}),    p("k.w", {8, 8}),
         p("k.b", {8}),    p("v.w", {8, 8}), p("v.b", {8}),
         p("o.w", {8, 8}), p("o.b", {8}),    2};
    Tensor loss = mean(log_softmax(nn::self_attention(w, x)));
    g.output("loss", loss);
    train::AdamWGraph adam;
    if (mode == 1) nn::sgd(params, gradients(loss, params), 0.1);
    if (mode == 2) adam = train::add_adamw(g, params, gradients(loss, params));
    for (const test::KernelPath& path : test::kernel_paths()) {
      auto cg = compile(g, path.options);
      HostTensor data(DType::F32, {4, 5, 8});
      fill_uniform(data, Philox(9), -1, 1);
      cg->set_input("x", data);
      if (mode == 2) adam.set_step(*cg, {}, 1, 1e-3);  // host-side, before the runs measured
      cg->run();  // warm-up: the OpenMP pool starts on the first parallel region
      const long onednn_before = g_onednn_news.load();
      EXPECT_EQ(allocations_during([&] {
                  cg->run();
                  cg->run();
                }),
                0)
          << (mode == 0   ? "inference"
              : mode == 1 ? "SGD training"
                          : "AdamW training")
          << " graph on " << path.label;
      std::printf("%s graph on %s: %ld allocations inside oneDNN's execute over 2 runs\n",
                  mode == 0   ? "inference"
                  : mode == 1 ? "SGD training"
                              : "AdamW training",
                  path.label.c_str(), g_onednn_news.load() - onednn_before);
      std::vector<double> seconds(cg->num_steps(), 0.0);  // a profiled run allocates nothing either
      EXPECT_EQ(allocations_during([&] { cg->run_profiled(seconds); }), 0) << "profiled, on " << path.label;
      // A run after a host write to state rebuilds what kernels derived from it (packed weights): in place.
      cg->set_state("q.w", cg->state_copy("q.w"));
      EXPECT_EQ(allocations_during([&] { cg->run(); }), 0) << "after set_state, on " << path.label;
    }
  }
}

// The trainer's graphs (train/trainer.h): the dual encoder's whole step with dropout and clipping, and the
// micro-step and update graphs of accumulation.
TEST(NoAllocation, TrainerGraphsRunWithoutAllocating) {
  const model::FitConfig c = model::FitConfig::tiny();
  for (auto [K, clip] : {std::pair<int64_t, double>{1, 0.0}, {1, 1.0}, {2, 1.0}}) {  // each gradient layout
    train::TrainOptions o{.batch = 2, .text_length = 6, .accumulation = K};
    o.clip_norm = clip;
    o.dropout = 0.1;
    o.attention_dropout = 0.1;
    train::Trainer t(c, o);
    std::vector<train::MicroBatch> micro;
    for (int64_t k = 0; k < K; ++k) {
      train::MicroBatch b{.input_ids = HostTensor(DType::I64, {2, 6}),
                          .attention_mask = HostTensor(DType::F32, {2, 6}),
                          .video = HostTensor(DType::F32, {2, c.video.num_frames, 3, c.video.image_size,
                                                           c.video.image_size})};
      for (int64_t i = 0; i < 12; ++i) {
        b.input_ids.data<int64_t>()[i] = 1 + i;
        b.attention_mask.data<float>()[i] = 1.0f;
      }
      fill_uniform(b.video, Philox(uint64_t(k)), -1, 1);
      micro.push_back(std::move(b));
    }
    t.step(micro);  // binds every input; warms the OpenMP pool
    const long onednn_before = g_onednn_news.load();
    EXPECT_EQ(allocations_during([&] { t.step_graph().run(); }), 0) << "step graph, accumulation " << K;
    if (t.update_graph() != nullptr) {
      EXPECT_EQ(allocations_during([&] { t.update_graph()->run(); }), 0) << "update graph";
    }
    std::printf("trainer graphs, accumulation %lld, clip %g: %ld allocations inside oneDNN's execute\n",
                (long long)K, clip, g_onednn_news.load() - onednn_before);
  }
}

}  // namespace
}  // namespace frost
