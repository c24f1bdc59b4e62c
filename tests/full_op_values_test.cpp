// Known values and behaviours of the full op set's reference kernels (the oracle of every other test):
// numbers from PyTorch's documented definitions worked out by hand, tie rules, dropout's statistics and
// determinism, and run-time errors for bad indices.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "engine/error.h"
#include "ops/api.h"
#include "test_util.h"

namespace frost::test {
namespace {

HostTensor f32(std::vector<float> v, Shape s) {
  return HostTensor::from_f32(v, s);
}

void expect_values(const HostTensor& t, const std::vector<double>& want, double tol = 1e-6) {
  ASSERT_EQ(t.numel(), int64_t(want.size()));
  for (size_t i = 0; i < want.size(); ++i) {
    if (std::isinf(want[i]))
      EXPECT_EQ(t.at(int64_t(i)), want[i]) << "element " << i;
    else
      EXPECT_NEAR(t.at(int64_t(i)), want[i], tol) << "element " << i;
  }
}

TEST(FullOpValues, GeluBothForms) {
  Graph g;
  Tensor x = g.input("x", DType::F64, {3});
  g.output("erf", gelu(x));
  g.output("tanh", gelu_tanh(x));
  auto out = run_once(g, "reference", {{"x", f32({-1, 0, 1}, {3}).to(DType::F64)}});
  // torch.nn.functional.gelu(torch.tensor([-1., 0., 1.], dtype=torch.float64)) and approximate='tanh'
  expect_values(out.at("erf"), {-0.15865525393145707, 0.0, 0.8413447460685429}, 1e-15);
  expect_values(out.at("tanh"), {-0.15880800939172324, 0.0, 0.8411919906082768}, 1e-15);
}

TEST(FullOpValues, LayerNormRow) {
  Graph g;
  Tensor x = g.input("x", DType::F64, {1, 4});
  Tensor w = g.input("w", DType::F64, {4}), b = g.input("b", DType::F64, {4});
  LayerNormResult r = layer_norm(x, w, b, 0.0 + 1e-300);
  g.output("y", r.y);
  g.output("mean", r.mean);
  g.output("rstd", r.rstd);
  auto out = run_once(g, "reference",
                      {{"x", f32({1, 2, 3, 4}, {1, 4}).to(DType::F64)},
                       {"w", f32({1, 1, 2, 2}, {4}).to(DType::F64)},
                       {"b", f32({0, 0, 0, 1}, {4}).to(DType::F64)}});
  const double s = 1.0 / std::sqrt(1.25);  // variance of 1..4 is 1.25 (biased)
  expect_values(out.at("mean"), {2.5});
  expect_values(out.at("rstd"), {s});
  expect_values(out.at("y"), {-1.5 * s, -0.5 * s, 2 * 0.5 * s, 2 * 1.5 * s + 1});
}

TEST(FullOpValues, L2NormalizeAndCrossEntropy) {
  Graph g;
  Tensor x = g.input("x", DType::F32, {2, 2});
  Tensor t = g.input("t", DType::I64, {2});
  g.output("n", l2_normalize(x, 1e-12));
  g.output("ce", softmax_cross_entropy(x, t));
  HostTensor targets(DType::I64, {2});
  targets.data<int64_t>()[0] = 1;
  targets.data<int64_t>()[1] = 0;
  auto out = run_once(g, "reference", {{"x", f32({3, 4, 0, 0}, {2, 2})}, {"t", targets}});
  expect_values(out.at("n"), {0.6, 0.8, 0, 0});  // the zero row stays zero: divided by eps, not by 0
  expect_values(out.at("ce"), {std::log(std::exp(3.0) + std::exp(4.0)) - 4.0, std::log(2.0)});
}

TEST(FullOpValues, MaxBackwardSharesTheGradientAmongTies) {
  Graph g;
  Tensor x = g.input("x", DType::F32, {1, 4});
  Tensor dy = g.input("dy", DType::F32, {1});
  g.output("dx", max_backward(dy, x, max(x, {1}), {1}, false));
  auto out = run_once(g, "reference", {{"x", f32({2, 5, 5, 1}, {1, 4})}, {"dy", f32({3}, {1})}});
  expect_values(out.at("dx"), {0, 1.5, 1.5, 0});  // torch.amax's rule
}

TEST(FullOpValues, LayoutFollowsPyTorch) {
  Graph g;
  Tensor x = g.input("x", DType::F32, {2, 2});
  g.output("repeat", repeat(x, {1, 2}));               // [[a b a b], [c d c d]]
  g.output("interleave", repeat_interleave(x, 2, 1));  // [[a a b b], [c c d d]]
  g.output("slice", slice(x, 1, -1, 10));              // [[b], [d]]
  g.output("concat", concat({x, x}, 0));
  g.output("diag", diagonal(x));
  auto out = run_once(g, "reference", {{"x", f32({1, 2, 3, 4}, {2, 2})}});
  expect_values(out.at("repeat"), {1, 2, 1, 2, 3, 4, 3, 4});
  expect_values(out.at("interleave"), {1, 1, 2, 2, 3, 3, 4, 4});
  expect_values(out.at("slice"), {2, 4});
  expect_values(out.at("concat"), {1, 2, 3, 4, 1, 2, 3, 4});
  expect_values(out.at("diag"), {1, 4});
}

TEST(FullOpValues, CastRoundsToNearestEven) {
  Graph g;
  Tensor x = g.input("x", DType::F32, {3});
  g.output("h", cast(x, DType::F16));
  g.output("b", cast(x, DType::BF16));
  auto out = run_once(g, "reference", {{"x", f32({1.0f + 1.0f / 2048, 65520.0f, -0.1f}, {3})}});
  expect_values(out.at("h"), {1.0, INFINITY, -0.0999755859375}, 0);
  expect_values(out.at("b"), {1.0, 65536.0, -0.10009765625}, 0);
}

TEST(FullOpValues, DropoutIsSeededScaledAndIdentityAtEval) {
  auto run = [](int64_t offset, double p) {
    Graph g;
    Tensor x = g.input("x", DType::F32, {100000});
    Tensor off = g.input("off", DType::I64, {});
    g.output("y", dropout(x, p, 42, off));
    HostTensor o(DType::I64, {});
    o.data<int64_t>()[0] = offset;
    HostTensor ones(DType::F32, {100000});
    for (int i = 0; i < 100000; ++i) ones.data<float>()[i] = 1.0f;
    return run_once(g, "reference", {{"x", ones}, {"off", o}}).at("y");
  };
  HostTensor a = run(0, 0.25), b = run(0, 0.25), c = run(1, 0.25);
  EXPECT_TRUE(bit_identical(a, b));  // same seed and offset: same mask
  int kept = 0, same = 0;
  for (int i = 0; i < 100000; ++i) {
    const float v = a.data<float>()[i];
    ASSERT_TRUE(v == 0.0f || std::fabs(v - 1.0f / 0.75f) < 1e-6f) << v;
    kept += v != 0.0f;
    same += (v != 0.0f) == (c.data<float>()[i] != 0.0f);
  }
  EXPECT_NEAR(kept / 100000.0, 0.75, 0.01);
  EXPECT_LT(same, 100000 * 0.7);  // another offset draws another mask (agreement ~ 0.75^2 + 0.25^2)

  Graph g;
  Tensor x = g.input("x", DType::F32, {4});
  Tensor off = g.input("off", DType::I64, {});
  EXPECT_EQ(dropout(x, 0.5, 1, off, /*training=*/false).id, x.id);  // eval: no node at all
  EXPECT_THROW(dropout(x, 1.5, 1, off), Error);
}

TEST(FullOpValues, OutOfRangeIndicesAreErrorsNamingTheIndex) {
  Graph g;
  Tensor table = g.input("table", DType::F32, {3, 2});
  Tensor idx = g.input("idx", DType::I64, {2});
  g.output("rows", gather_rows(table, idx));
  HostTensor bad(DType::I64, {2});
  bad.data<int64_t>()[1] = 3;
  try {
    run_once(g, "reference", {{"table", HostTensor(DType::F32, {3, 2})}, {"idx", bad}});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("gather_rows (node 0): index 3 at position 1"), std::string::npos)
        << e.what();
  }
}

TEST(FullOpValues, ConvPatchMatchesADirectConvolution) {
  // x (1, 2, 4, 4), weight (3, 2, 2, 2): out[d, y, x] = b[d] + sum_{c,i,j} w[d,c,i,j] * x[c, 2y+i, 2x+j].
  HostTensor x = uniform(DType::F64, {1, 2, 4, 4}, 5), w = uniform(DType::F64, {3, 2, 2, 2}, 6),
             b = uniform(DType::F64, {3}, 7);
  Graph g;
  g.output("y", conv2d_patch(g.input("x", DType::F64, {1, 2, 4, 4}), g.input("w", DType::F64, {3, 2, 2, 2}),
                             g.input("b", DType::F64, {3})));
  HostTensor y = run_once(g, "reference", {{"x", x}, {"w", w}, {"b", b}}).at("y");
  ASSERT_EQ(y.shape(), (Shape{1, 3, 2, 2}));
  for (int d = 0; d < 3; ++d)
    for (int oy = 0; oy < 2; ++oy)
      for (int ox = 0; ox < 2; ++ox) {
        double acc = b.at(d);
        for (int c = 0; c < 2; ++c)
          for (int i = 0; i < 2; ++i)
            for (int j = 0; j < 2; ++j)
              acc += w.at(((d * 2 + c) * 2 + i) * 2 + j) * x.at((c * 4 + 2 * oy + i) * 4 + 2 * ox + j);
        EXPECT_NEAR(y.at((d * 2 + oy) * 2 + ox), acc, 1e-12);
      }
}

}  // namespace
}  // namespace frost::test

namespace frost::test {
namespace {

// The own layout kernels move bytes, so one kernel serves every dtype: each element width (1, 2, 4, 8 bytes)
// against the reference kernels, bit for bit (the op table runs them on F32 only).
TEST(CpuKernelChoice, OwnLayoutKernelsEqualTheReferenceAtEveryElementWidth) {
  for (DType dt : {DType::U8, DType::F16, DType::F32, DType::I64}) {
    for (int which = 0; which < 4; ++which) {
      Graph g;
      const Shape shape = which == 0 ? Shape{2, 9, 10} : which == 3 ? Shape{2, 3, 16} : Shape{2, 5, 16};
      Tensor x = g.input("x", dt, shape);
      g.output("y", which == 0   ? permute(x, {0, 2, 1})
                    : which == 1 ? repeat(x, {1, 3, 1})
                    : which == 2 ? repeat_interleave(x, 3, 1)
                                 : slice_backward(x, {2, 6, 16}, 1, 2, 1));
      HostTensor data(dt, shape);
      auto* bytes = static_cast<unsigned char*>(data.raw());
      for (size_t i = 0; i < data.bytes(); ++i) bytes[i] = static_cast<unsigned char>((i * 37 + 11) % 251);
      auto own = compile(g, {.backend = "cpu"});
      auto reference = compile(g, {.backend = "reference"});
      EXPECT_EQ(own->kernel_names().back().rfind("cpu.", 0), 0u) << own->kernel_names().back();
      for (auto* cg : {own.get(), reference.get()}) {
        cg->set_input("x", data);
        cg->run();
      }
      const HostTensor a = own->output_copy("y"), b = reference->output_copy("y");
      ASSERT_EQ(a.bytes(), b.bytes());
      EXPECT_EQ(std::memcmp(a.raw(), b.raw(), a.bytes()), 0)
          << own->kernel_names().back() << " on " << dt << " differs from the reference";
    }
  }
}

// A slice gradient that would start past the end of its axis is refused when built (an empty one may
// start at the end, as x[n:] does); the own kernel never sees one.
TEST(CpuKernelChoice, ASliceGradientStartingPastTheEndIsRefused) {
  Graph g;
  Tensor dy = g.input("dy", DType::F32, {2, 0, 8});
  EXPECT_THROW(slice_backward(dy, {2, 5, 8}, 1, 9, 1), Error);
  g.output("y", slice_backward(dy, {2, 5, 8}, 1, 5, 1));
  auto cg = compile(g, {.backend = "cpu"});
  cg->set_input("dy", HostTensor(DType::F32, {2, 0, 8}));
  cg->run();
  const HostTensor y = cg->output_copy("y");
  for (int64_t i = 0; i < y.numel(); ++i) EXPECT_EQ(y.data<float>()[i], 0.0f);
}

// Which kernel the cpu backend picks for the shapes its own kernels claim (and for one they decline), so a
// `supports` rule that silently stops matching is caught.
TEST(CpuKernelChoice, OwnKernelsTakeTheirShapesAndDeclineOthers) {
  auto kernel_for = [](auto build) {
    Graph g;
    g.output("y", build(g));
    CompileOptions options;
    options.disabled_kernels = {"onednn."};
    return compile(g, options)->kernel_names().back();
  };
  EXPECT_EQ(kernel_for([](Graph& g) {
              return g.input("x", DType::F32, {4, 6, 8}) + g.input("b", DType::F32, {8});
            }),
            "cpu.add");
  EXPECT_EQ(kernel_for([](Graph& g) {
              return g.input("x", DType::F32, {4, 1}) + g.input("b", DType::F32, {1, 5});
            }),
            "reference.add");
  EXPECT_EQ(kernel_for([](Graph& g) { return sum(g.input("x", DType::F32, {4, 6, 8}), {0, 1}); }), "cpu.sum");
  EXPECT_EQ(kernel_for([](Graph& g) { return mean(g.input("x", DType::F32, {4, 6, 8}), {2}); }), "cpu.mean");
  EXPECT_EQ(kernel_for([](Graph& g) {
              return sum(g.input("x", DType::F32, {4, 6, 8}), {1});
            }),
            "reference.sum");
  EXPECT_EQ(kernel_for([](Graph& g) {
              return permute(g.input("x", DType::F32, {2, 5, 3, 8}), {0, 2, 1, 3});
            }),
            "cpu.permute");
  EXPECT_EQ(kernel_for([](Graph& g) {
              return transpose(g.input("x", DType::F32, {8, 8}), 0, 1);
            }),
            "cpu.transpose");
  EXPECT_EQ(kernel_for([](Graph& g) {
              return transpose(g.input("x", DType::F32, {4, 8}), 0, 1);  // a side under 8: not worth tiling
            }),
            "reference.permute");
  EXPECT_EQ(kernel_for([](Graph& g) {
              return repeat(g.input("x", DType::F32, {1, 5, 16}), {1, 3, 1});
            }),
            "cpu.repeat");
  EXPECT_EQ(kernel_for([](Graph& g) {
              return repeat(g.input("x", DType::F32, {5, 4}), {1, 3});
            }),
            "reference.repeat");
  EXPECT_EQ(kernel_for([](Graph& g) {
              return repeat_interleave(g.input("x", DType::F32, {4, 16}), 3, 0);
            }),
            "cpu.repeat_interleave");
  EXPECT_EQ(kernel_for([](Graph& g) {
              return slice_backward(g.input("dy", DType::F32, {2, 3, 8}), {2, 5, 8}, 1, 1, 1);
            }),
            "cpu.slice_backward");
  EXPECT_EQ(kernel_for([](Graph& g) {
              return slice_backward(g.input("dy", DType::F32, {2, 3, 8}), {2, 7, 8}, 1, 1, 2);  // step 2
            }),
            "reference.slice_backward");
  EXPECT_EQ(kernel_for([](Graph& g) {
              return matmul(g.input("a", DType::F32, {3, 4}), g.input("b", DType::F32, {4, 5}));
            }),
            "cpu.matmul_blocked");
}

}  // namespace
}  // namespace frost::test
