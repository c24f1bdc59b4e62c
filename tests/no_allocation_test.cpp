// run() allocates nothing (DESIGN pipeline): every operator new in the process is counted, and a compiled
// inference graph and a compiled training graph (forward + backward + SGD) must run without one, on every
// kernel path. The one exception is inside oneDNN 2.6's primitive execution, which builds a small argument
// map on the heap per call (docs/decisions.md): those allocations are counted apart and reported.
// (The full malloc interception arrives with the memory-planning issue.)
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <new>
#include <string>

#include "engine/autodiff.h"
#include "engine/compiled_graph.h"
#include "model/nn.h"
#include "ops/api.h"
#include "ops/cpu/onednn.h"
#include "test_util.h"

namespace {
std::atomic<long> g_news{0};         // outside oneDNN's execute
std::atomic<long> g_onednn_news{0};  // inside it
}  // namespace

// These replacements are a matched pair (malloc / free); GCC cannot see that through inlining and warns.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t n) {
  (frost::ops::onednn_executing() ? g_onednn_news : g_news).fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  return operator new(n);
}
// The nothrow forms too (std::stable_sort's temporary buffer uses them): every new comes from malloc, so
// the deletes below may free it.
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  (frost::ops::onednn_executing() ? g_onednn_news : g_news).fetch_add(1, std::memory_order_relaxed);
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

TEST(NoAllocation, RunAllocatesNothingForInferenceAndTraining) {
  for (bool train : {false, true}) {
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
    if (train) nn::sgd(params, gradients(loss, params), 0.1);
    for (const test::KernelPath& path : test::kernel_paths()) {
      auto cg = compile(g, path.options);
      HostTensor data(DType::F32, {4, 5, 8});
      fill_uniform(data, Philox(9), -1, 1);
      cg->set_input("x", data);
      cg->run();  // warm-up: the OpenMP pool starts on the first parallel region
      const long onednn_before = g_onednn_news.load();
      EXPECT_EQ(allocations_during([&] {
                  cg->run();
                  cg->run();
                }),
                0)
          << (train ? "training" : "inference") << " graph on " << path.label;
      std::printf("%s graph on %s: %ld allocations inside oneDNN's execute over 2 runs\n",
                  train ? "training" : "inference", path.label.c_str(), g_onednn_news.load() - onednn_before);
    }
  }
}

}  // namespace
}  // namespace frost
