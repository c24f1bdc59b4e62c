// compile() and run(): persistent state across runs, inputs and outputs by name, views sharing bytes,
// guard bytes, errors for unbound or mistyped inputs, the printed plan.
#include <gtest/gtest.h>
#include <omp.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "engine/compiled_graph.h"
#include "engine/error.h"
#include "engine/random.h"
#include "engine/state_store.h"
#include "ops/api.h"
#include "test_util.h"

namespace frost {
namespace {

TEST(Compile, StatePersistsAndAssignUpdatesItInPlace) {
  Graph g;
  auto init = std::make_shared<HostTensor>(HostTensor::from_f32({1, 2}, {2}));
  Tensor w = g.state("w", DType::F32, {2}, init);
  Tensor x = g.input("x", DType::F32, {2});
  g.output("y", w * x);    // reads the old w
  assign(w, w * 2.0 + x);  // then updates it
  auto cg = compile(g, {});
  cg->set_input("x", HostTensor::from_f32({10, 20}, {2}));
  for (int run = 0; run < 3; ++run) cg->run();
  // w: [1,2] -> [12,24] -> [34,68] -> [78,156]; y of the third run read [34,68].
  EXPECT_FLOAT_EQ(cg->state("w").as<float>()[0], 78);
  EXPECT_FLOAT_EQ(cg->state("w").as<float>()[1], 156);
  EXPECT_FLOAT_EQ(cg->output("y").as<float>()[0], 340);
  HostTensor reset = HostTensor::from_f32({0, 1}, {2});
  cg->set_state("w", reset);
  EXPECT_TRUE(test::bit_identical(cg->state_copy("w"), reset));
}

TEST(Compile, InputsMustBeBoundWithTheirType) {
  Graph g;
  Tensor x = g.input("x", DType::F32, {2, 3});
  g.output("y", relu(x));
  auto cg = compile(g, {});
  EXPECT_THROW(cg->run(), Error);  // x never set
  try {
    cg->set_input("x", HostTensor(DType::F32, {3, 2}));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("input 'x' is f32[2, 3]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(cg->set_input("nope", HostTensor(DType::F32, {2, 3})), Error);
  EXPECT_THROW(cg->output("nope"), Error);
  std::vector<float> raw(6, -1.0f);
  cg->set_input("x", raw.data(), raw.size() * sizeof(float));
  cg->run();
  EXPECT_EQ(cg->output("y").as<float>()[5], 0.0f);
}

TEST(Compile, UnknownBackendIsUnsupported) {
  Graph g;
  g.output("y", relu(g.input("x", DType::F32, {1})));
  CompileOptions options;
  options.backend = "tpu";
  try {
    compile(g, options);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::Unsupported);
    EXPECT_NE(std::string(e.what()).find("reference, cpu"), std::string::npos) << e.what();
  }
}

TEST(Compile, ViewsShareTheirBaseBytesAndRunNoKernel) {
  Graph g;
  Tensor x = g.input("x", DType::F32, {2, 3});
  Tensor e = exp(x);
  Tensor r = reshape(e, {3, 2});
  g.output("r", relu(r));
  auto cg = compile(g, {});
  EXPECT_EQ(cg->num_steps(), 2u);  // exp, relu: the reshape is free
  const ValueSlot& base = cg->plan().slots[e.id];
  const ValueSlot& view = cg->plan().slots[r.id];
  EXPECT_EQ(view.alias_of, e.id);
  EXPECT_EQ(view.offset, base.offset);
  EXPECT_EQ(view.arena, base.arena);
}

TEST(Compile, DeadNodesAreNotScheduled) {
  Graph g;
  Tensor x = g.input("x", DType::F32, {4});
  exp(log(x));
  g.output("y", relu(x));
  EXPECT_EQ(compile(g, {})->num_steps(), 1u);
}

TEST(Compile, GuardBytesCatchOutOfBoundsWrites) {
  Graph g;
  Tensor x = g.input("x", DType::F32, {3});
  g.output("y", relu(x));
  CompileOptions options;
  options.plan.guard_bytes = 16;
  auto cg = compile(g, options);
  cg->set_input("x", HostTensor::from_f32({1, 2, 3}, {3}));
  cg->run();
  EXPECT_NO_THROW(cg->check_guards());
  // Simulate a kernel writing one element past the end of y.
  float* y = cg->output("y").as<float>();
  y[3] = 42.0f;
  try {
    cg->check_guards();
    FAIL() << "guard corruption went unnoticed";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("past its end"), std::string::npos) << e.what();
  }
}

TEST(Compile, ReportShowsStepsKernelsAndArenas) {
  Graph g;
  Tensor x = g.input("x", DType::F32, {2, 3});
  Tensor w = g.state("w", DType::F32, {3, 4});
  {
    auto s = g.scope("layer0");
    g.output("y", relu(matmul(x, w)));
  }
  CompileOptions options;
  options.backend = "reference";
  auto cg = compile(g, options);
  std::string report = cg->report();
  for (const char* part :
       {"layer0/matmul", "reference.matmul", "f32[2, 4]", "arena weights: ", "arena io: ", "MFLOP"})
    EXPECT_NE(report.find(part), std::string::npos) << part << " missing from:\n" << report;
  EXPECT_DOUBLE_EQ(cg->total_cost().flops, 2.0 * 2 * 3 * 4 + 8);   // matmul + relu
  EXPECT_EQ(cg->plan().arena_bytes[size_t(Arena::Weights)], 64u);  // 48 bytes, aligned to 64
}

// run_profiled: the same results as run(), a time for every step, the steps' costs beside them.
TEST(Compile, ProfiledRunTimesEveryStepAndComputesWhatRunDoes) {
  Graph g;
  Tensor x = g.input("x", DType::F32, {64, 32});
  Tensor w = g.state("w", DType::F32, {32, 48});
  g.output("y", relu(matmul(x, w)));
  for (const test::KernelPath& path : test::kernel_paths()) {
    auto cg = compile(g, path.options);
    HostTensor xs(DType::F32, {64, 32}), ws(DType::F32, {32, 48});
    fill_uniform(xs, Philox(1), -1, 1);
    fill_uniform(ws, Philox(2), -1, 1);
    cg->set_input("x", xs);
    cg->set_state("w", ws);
    cg->run();
    const HostTensor plain = cg->output_copy("y");
    std::vector<double> seconds(cg->num_steps(), 0.0);
    cg->run_profiled(seconds);
    cg->run_profiled(seconds);  // adds up
    const HostTensor profiled = cg->output_copy("y");
    EXPECT_EQ(std::memcmp(profiled.raw(), plain.raw(), plain.bytes()), 0) << path.label;
    double total = 0;
    for (double t : seconds) {
      EXPECT_GE(t, 0.0) << path.label;
      total += t;
    }
    EXPECT_GT(total, 0.0) << path.label;
    const auto costs = cg->step_costs();
    ASSERT_EQ(costs.size(), cg->num_steps()) << path.label;
    double flops = 0;
    for (const auto& [kind, c] : costs) flops += c.flops;
    EXPECT_DOUBLE_EQ(flops, cg->total_cost().flops) << path.label;
    EXPECT_GE(flops, 2.0 * 64 * 32 * 48) << path.label;  // the matmul at least
    std::vector<double> short_by_one(cg->num_steps() - 1);
    try {
      cg->run_profiled(short_by_one);
      ADD_FAILURE() << "a span one short was accepted on " << path.label;
    } catch (const Error& e) {
      EXPECT_EQ(e.category(), ErrorCategory::InvalidArgument) << e.what();
    }
  }
}

// Borrowed memory: a buffer over another owner's bytes is no copy, keeps its owner alive, and copies of
// it own theirs; a tensor must be aligned to its elements.
TEST(Storage, BorrowedBuffersShareTheirOwnersBytesAndCopiesOwnTheirs) {
  auto owner = std::make_shared<std::vector<float>>(std::vector<float>{1, 2, 3, 4});
  std::weak_ptr<std::vector<float>> alive = owner;
  HostTensor t = HostTensor::borrow(DType::F32, {2, 2}, owner, owner->data());
  owner.reset();
  ASSERT_FALSE(alive.expired()) << "the tensor does not keep its owner alive";
  EXPECT_TRUE(t.borrowed());
  EXPECT_EQ(t.data<float>(), alive.lock()->data());
  HostTensor copy = t;
  EXPECT_FALSE(copy.borrowed());
  EXPECT_NE(copy.data<float>(), t.data<float>());
  EXPECT_TRUE(test::bit_identical(copy, t));
  HostTensor moved = std::move(t);
  EXPECT_TRUE(moved.borrowed());
  t = HostTensor();
  EXPECT_FALSE(alive.expired());
  moved = HostTensor();
  EXPECT_TRUE(alive.expired()) << "the last tensor over the bytes is gone, so is their owner";
  auto bytes = std::make_shared<std::vector<char>>(16);
  EXPECT_THROW(HostTensor::borrow(DType::F32, {2}, bytes, bytes->data() + 2), Error);  // misaligned
}

// A state adopted by a store before any graph binds it is computed on where it lies: every graph
// compiled over the store reads the tensor's own bytes (no copy), and a write through one graph is seen by
// the next. Adopting a name twice, or one a graph has bound already, is refused.
TEST(StateStore, AdoptedStatesAreComputedOnWhereTheyLie) {
  auto store = std::make_shared<StateStore>("cpu");
  HostTensor w = HostTensor::from_f32({1, 2, 3}, {3});
  const void* bytes = w.raw();
  store->adopt("w", StateKind::Parameter, std::move(w));
  auto build = [&](double scale) {
    Graph g;
    Tensor sw = g.state("w", DType::F32, {3});
    Tensor x = g.input("x", DType::F32, {3});
    g.output("y", sw * x);
    assign(sw, sw * scale);
    return compile(g, {.states = store});
  };
  auto a = build(2.0), b = build(1.0);
  EXPECT_EQ(a->state("w").data, bytes) << "the adopted tensor was copied";
  EXPECT_EQ(b->state("w").data, bytes);
  a->set_input("x", HostTensor::from_f32({1, 1, 1}, {3}));
  b->set_input("x", HostTensor::from_f32({1, 10, 100}, {3}));
  a->run();  // y = w; w *= 2
  b->run();  // reads the doubled w
  EXPECT_FLOAT_EQ(a->output("y").as<float>()[2], 3);
  EXPECT_FLOAT_EQ(b->output("y").as<float>()[0], 2);
  EXPECT_FLOAT_EQ(b->output("y").as<float>()[2], 600);
  EXPECT_EQ(store->bytes(StateKind::Parameter), 3 * sizeof(float));
  EXPECT_THROW(store->adopt("w", StateKind::Parameter, HostTensor(DType::F32, {3})), Error);
  // A mistyped graph is refused when compiled, as for any shared state.
  Graph g;
  g.output("y", g.state("w", DType::F32, {4}) * 1.0);
  EXPECT_THROW(compile(g, {.states = store}), Error);
}

// The host backends map large buffers lazily: zero, and resident only once written (an arena costs memory
// when used, not when planned). Measured on this process's resident set (/proc/self/statm).
TEST(HostBackend, LargeBuffersAreZeroAndResidentOnlyOnceWritten) {
  auto resident = [] {
    std::ifstream f("/proc/self/statm");
    size_t pages = 0, rss = 0;
    f >> pages >> rss;
    return rss * size_t(sysconf(_SC_PAGESIZE));
  };
  Backend& cpu = get_backend("cpu");
  constexpr size_t kBytes = size_t(256) << 20;
  const size_t before = resident();
  auto* p = static_cast<unsigned char*>(cpu.alloc(kBytes));
  const size_t allocated = resident();
  size_t nonzero = 0;
  for (size_t i = 0; i < kBytes; i += 4096) nonzero += p[i] != 0;  // reading zero pages maps no memory
  p[kBytes - 1] = 1;
  const size_t read = resident();
  std::memset(p, 7, kBytes);
  const size_t written = resident();
  cpu.free(p);
  EXPECT_EQ(nonzero, 0u);
  EXPECT_LT(allocated - std::min(allocated, before), kBytes / 16) << "allocating made the buffer resident";
  EXPECT_LT(read - std::min(read, before), kBytes / 16) << "reading made the buffer resident";
  EXPECT_GT(written - std::min(written, before), kBytes / 2) << "writing it did not (is the test measuring?)";
  // Small buffers come from the heap, zero-filled as well.
  auto* q = static_cast<unsigned char*>(cpu.alloc(1000));
  EXPECT_EQ(q[999], 0);
  cpu.free(q);
}

// A linear over a weight that is persistent state may keep that weight packed in its GEMM's layout
// (onednn.linear_packed, where oneDNN prefers a layout of its own; skipped, and said so, where it does
// not): the packed copy must follow every way the state can change — set_state, writes through a state()
// view held across runs, a shared store's set and zero, and a run of another graph that writes the shared
// state. Checked against the reference backend each time. A graph
// that writes state itself never packs (its weights change under it within a run).
TEST(Compile, PackedWeightsFollowEveryChangeOfTheirState) {
  const int64_t M = 48, K = 96, N = 80;
  uint64_t seed = 7;
  auto random = [&](Shape s) { return test::uniform(DType::F32, s, ++seed); };
  auto build = [&](Graph& g) {
    Tensor x = g.input("x", DType::F32, {M, K});
    Tensor w = g.state("w", DType::F32, {N, K}), b = g.state("b", DType::F32, {N});
    g.output("y", fused_linear(x, w, b, /*trans_b=*/true, Activation::Gelu));
    return w;
  };
  const HostTensor x = random({M, K}), b = random({N});
  auto expected = [&](const HostTensor& w) {  // the reference backend on the same values
    Graph g;
    build(g);
    auto cg = compile(g, {.backend = "reference"});
    cg->set_input("x", x);
    cg->set_state("w", w);
    cg->set_state("b", b);
    cg->run();
    return cg->output_copy("y");
  };
  auto store = std::make_shared<StateStore>("cpu");
  Graph g;
  build(g);
  auto cg = compile(g, {.states = store});
  std::string kernels;
  for (const std::string& k : cg->kernel_names()) kernels += k + " ";
  if (kernels.find("onednn.linear_packed") == std::string::npos)
    GTEST_SKIP() << "no packed weights on this build or CPU (oneDNN keeps the plain layout): " << kernels;
  cg->set_input("x", x);
  HostTensor w = random({N, K});
  store->set("w", w);
  store->set("b", b);
  cg->run();
  EXPECT_TRUE(test::close(cg->output_copy("y"), expected(w), 1e-5, 1e-5)) << kernels;

  w = random({N, K});  // set_state
  cg->set_state("w", w);
  cg->run();
  EXPECT_TRUE(test::close(cg->output_copy("y"), expected(w), 1e-5, 1e-5)) << "after set_state; " << kernels;

  // A write through a state() view held across runs (as a numerical gradient check does).
  TensorView view = cg->state("w");
  cg->run();
  w.data<float>()[5] = 3.0f;
  view.as<float>()[5] = 3.0f;
  cg->run();
  EXPECT_TRUE(test::close(cg->output_copy("y"), expected(w), 1e-5, 1e-5))
      << "after a view write; " << kernels;
  w.data<float>()[6] = -3.0f;
  view.as<float>()[6] = -3.0f;
  cg->run();
  EXPECT_TRUE(test::close(cg->output_copy("y"), expected(w), 1e-5, 1e-5)) << "after a second view write";

  store->zero("w");  // the store's zero
  w = HostTensor(DType::F32, {N, K});
  cg->run();
  EXPECT_TRUE(test::close(cg->output_copy("y"), expected(w), 1e-5, 1e-5)) << "after store zero; " << kernels;

  w = random({N, K});  // the shared store's set
  store->set("w", w);
  cg->run();
  EXPECT_TRUE(test::close(cg->output_copy("y"), expected(w), 1e-5, 1e-5)) << "after store set; " << kernels;

  // Another graph over the store writes w in its run (w <- 2 w); it must not pack, and ours must repack.
  Graph writer;
  Tensor ww = writer.state("w", DType::F32, {N, K});
  Tensor xw = writer.input("x", DType::F32, {M, K});
  writer.output("y", fused_linear(xw, ww, writer.state("b", DType::F32, {N}), true));
  assign(ww, ww * 2.0);
  auto wcg = compile(writer, {.states = store});
  for (const std::string& k : wcg->kernel_names())
    EXPECT_EQ(k.find("linear_packed"), std::string::npos) << "a graph that writes state packed a weight";
  wcg->set_input("x", x);
  wcg->run();
  for (int64_t i = 0; i < w.numel(); ++i) w.data<float>()[i] *= 2.0f;
  cg->run();
  EXPECT_TRUE(test::close(cg->output_copy("y"), expected(w), 1e-5, 1e-5))
      << "after another graph wrote the state; " << kernels;

  // A second graph over the same weight (sharing its packed copy, where there is one) agrees too.
  Graph g2;
  Tensor x2 = g2.input("x", DType::F32, {M, K});
  g2.output("y", fused_linear(x2, g2.state("w", DType::F32, {N, K}), g2.state("b", DType::F32, {N}), true,
                              Activation::Gelu));
  auto cg2 = compile(g2, {.states = store});
  cg2->set_input("x", x);
  cg2->run();
  EXPECT_TRUE(test::close(cg2->output_copy("y"), expected(w), 1e-5, 1e-5)) << kernels;
}

TEST(Compile, OutputsCanBeInputsOrState) {
  Graph g;
  Tensor x = g.input("x", DType::F32, {2});
  Tensor w = g.state("w", DType::F32, {2}, std::make_shared<HostTensor>(HostTensor::from_f32({5, 6}, {2})));
  g.output("x_again", x);
  g.output("w_now", w);
  auto cg = compile(g, {});
  cg->set_input("x", HostTensor::from_f32({1, 2}, {2}));
  cg->run();
  EXPECT_EQ(cg->output("x_again").as<float>()[1], 2.0f);
  EXPECT_EQ(cg->output("w_now").as<float>()[0], 5.0f);
}

// OpenMP may give a parallel region fewer threads than asked (OMP_DYNAMIC, OMP_THREAD_LIMIT, inactive nested
// levels); kernels prepared for more (oneDNN's partitions) then leave work undone. compile() prepares for
// the team OpenMP can give, run() pins it (dynamic adjustment off), and a run where the team cannot be had
// is an error — never a wrong result. engine/threads.h.
namespace threads_test {

std::unique_ptr<CompiledGraph> mlp(Graph& g) {
  Tensor x = g.input("x", DType::F32, {64, 256});
  Tensor w1 = g.input("w1", DType::F32, {256, 512}), w2 = g.input("w2", DType::F32, {512, 128});
  g.output("y", softmax(matmul(relu(matmul(x, w1)), w2)));
  auto cg = compile(g, {});
  cg->set_input("x", test::uniform(DType::F32, {64, 256}, 1));
  cg->set_input("w1", test::uniform(DType::F32, {256, 512}, 2, -0.1, 0.1));
  cg->set_input("w2", test::uniform(DType::F32, {512, 128}, 3, -0.1, 0.1));
  return cg;
}

HostTensor run_with(int threads) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  Graph g;
  auto cg = mlp(g);
  omp_set_num_threads(saved);
  EXPECT_EQ(cg->threads(), threads);
  cg->run();
  return cg->output_copy("y");
}

}  // namespace threads_test

TEST(Compile, RunsOnTheTeamItWasPreparedForWhateverOpenMpIsToldLater) {
  const HostTensor two = threads_test::run_with(2);
  // Dynamic adjustment on at run time: still the two threads compiled for, so bit for bit the same.
  omp_set_num_threads(2);
  Graph g;
  auto cg = threads_test::mlp(g);
  omp_set_dynamic(1);
  omp_set_num_threads(1);
  cg->run();
  EXPECT_EQ(omp_get_dynamic(), 1);  // the caller's settings are restored
  EXPECT_EQ(omp_get_max_threads(), 1);
  omp_set_dynamic(0);
  omp_set_num_threads(2);
  EXPECT_TRUE(test::bit_identical(cg->output_copy("y"), two));

  // No active parallel level left (OMP_MAX_ACTIVE_LEVELS=0): a graph compiled there uses one thread and
  // agrees with a one-thread compile; a two-thread graph refuses to run rather than compute on one.
  const HostTensor one = threads_test::run_with(1);
  const int levels = omp_get_max_active_levels();
  omp_set_max_active_levels(0);
  {
    Graph g1;
    auto cg1 = threads_test::mlp(g1);
    EXPECT_EQ(cg1->threads(), 1);
    cg1->run();
    EXPECT_TRUE(test::bit_identical(cg1->output_copy("y"), one));
  }
  try {
    cg->run();
    ADD_FAILURE() << "ran a two-thread graph where OpenMP gives one thread";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::Unsupported);
    EXPECT_NE(std::string(e.what()).find("compiled for 2 threads"), std::string::npos) << e.what();
  }
  omp_set_max_active_levels(levels);
  cg->run();
  EXPECT_TRUE(test::bit_identical(cg->output_copy("y"), two));
}

// One compiled graph per thread, run inside the caller's parallel region: a one-thread graph runs its
// kernels inline (no orphaned worksharing binding to the caller's team) and gives the serial result; a
// multi-threaded graph refuses to run there.
TEST(Compile, OneThreadGraphsRunInsideTheCallersParallelRegion) {
  auto build = [](Graph& g, const CompileOptions& options) {
    Tensor x = g.input("x", DType::F32, {3, 1, 40, 32});
    Tensor wt = g.input("wt", DType::F32, {48, 32});  // used transposed: the own kernel's trans_b path
    Tensor h = relu(matmul(x, wt, false, true));      // (3, 1, 40, 48)
    AttentionResult a = fused_attention(h, h, h, 0.125);
    g.output("y", a.out);
    auto cg = compile(g, options);
    cg->set_input("x", test::uniform(DType::F32, {3, 1, 40, 32}, 4));
    cg->set_input("wt", test::uniform(DType::F32, {48, 32}, 5, -0.2, 0.2));
    return cg;
  };
  for (const test::KernelPath& path : test::kernel_paths()) {
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    Graph g0;
    auto serial = build(g0, path.options);
    serial->run();
    const HostTensor want = serial->output_copy("y");
    std::vector<HostTensor> got(2);
    std::vector<std::string> errors(2);
#pragma omp parallel num_threads(2)
    {
      const int t = omp_get_thread_num();
      try {
        Graph g;
        auto cg = build(g, path.options);  // compiled inside: one thread
        cg->run();
        got[size_t(t)] = cg->output_copy("y");
      } catch (const std::exception& e) {
        errors[size_t(t)] = e.what();
      }
    }
    omp_set_num_threads(2);
    Graph g2;
    auto two = build(g2, path.options);
    omp_set_num_threads(saved);
    std::string refused;
#pragma omp parallel num_threads(2)
    {
#pragma omp single
      try {
        two->run();
      } catch (const Error& e) {
        refused = e.what();
      }
    }
    for (int t = 0; t < 2; ++t) {
      EXPECT_TRUE(errors[size_t(t)].empty()) << path.label << ": " << errors[size_t(t)];
      if (errors[size_t(t)].empty()) {
        EXPECT_TRUE(test::bit_identical(got[size_t(t)], want)) << path.label << ", thread " << t;
      }
    }
    EXPECT_NE(refused.find("compiled for 2 threads"), std::string::npos) << path.label << ": " << refused;
  }
}

}  // namespace
}  // namespace frost
