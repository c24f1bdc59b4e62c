#include "op_cases.h"

#include <limits>

#include "ops/api.h"
#include "test_util.h"

namespace frost::test {
namespace {

using In = const std::vector<Tensor>&;

// FNV-1a: a seed per case name that is the same with every standard library (std::hash is not).
uint64_t stable_hash(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char ch : s) h = (h ^ ch) * 1099511628211ull;
  return h;
}
using Out = std::vector<Tensor>;

OpCase unary(std::string name, OpKind kind, Shape shape, Tensor (*f)(Tensor), double lo = -2, double hi = 2) {
  return {std::move(name), kind, {{shape, lo, hi}}, [f](Graph&, DType, In in) -> Out { return {f(in[0])}; }};
}
OpCase binary(std::string name, OpKind kind, Shape a, Shape b, Tensor (*f)(Tensor, Tensor), double lo_b = -2,
              double hi_b = 2) {
  return {std::move(name), kind, {{a}, {b, lo_b, hi_b}}, [f](Graph&, DType, In in) -> Out {
            return {f(in[0], in[1])};
          }};
}
OpCase mm(std::string name, Shape a, Shape b, bool ta, bool tb) {
  return {std::move(name), OpKind::MatMul, {{a}, {b}}, [ta, tb](Graph&, DType, In in) -> Out {
            return {matmul(in[0], in[1], ta, tb)};
          }};
}
OpCase reduce(std::string name, OpKind kind, Shape shape, std::vector<int64_t> axes, bool keepdim) {
  return {std::move(name), kind, {{shape}}, [kind, axes, keepdim](Graph&, DType, In in) -> Out {
            return {kind == OpKind::Sum ? sum(in[0], axes, keepdim) : mean(in[0], axes, keepdim)};
          }};
}

std::vector<OpCase> make_cases() {
  std::vector<OpCase> c;
  // Sources and state.
  c.push_back({"fill/matrix",
               OpKind::Fill,
               {},
               [](Graph& g, DType dt, In) -> Out {
                 return {fill(g, {2, 3}, dt, -1.25)};
               },
               0,
               0,
               false});
  c.push_back({"fill/empty",
               OpKind::Fill,
               {},
               [](Graph& g, DType dt, In) -> Out {
                 return {fill(g, {0, 4}, dt, 7.0)};
               },
               0,
               0,
               false});
  c.push_back({"assign/state",
               OpKind::Assign,
               {{{3, 5}}},
               [](Graph& g, DType dt, In in) -> Out {
                 assign(g.state("s", dt, {3, 5}), in[0]);
                 return {};
               },
               0,
               0,
               false,
               {"s"}});

  // Elementwise, with broadcasting and odd sizes.
  c.push_back(binary("add/same", OpKind::Add, {7, 13}, {7, 13}, add));
  c.push_back(binary("add/row_col", OpKind::Add, {4, 1}, {1, 5}, add));
  c.push_back(binary("add/trailing", OpKind::Add, {2, 3, 4}, {4}, add));
  c.push_back(binary("add/scalar", OpKind::Add, {}, {3, 2}, add));
  c.push_back(binary("sub/same", OpKind::Sub, {5, 3}, {5, 3}, sub));
  c.push_back(binary("sub/broadcast", OpKind::Sub, {2, 1, 5}, {3, 1}, sub));
  c.push_back(binary("mul/same", OpKind::Mul, {3, 4}, {3, 4}, mul));
  c.push_back(binary("mul/broadcast", OpKind::Mul, {5, 1}, {1, 6}, mul));
  c.push_back(binary("div/same", OpKind::Div, {3, 4}, {3, 4}, div, 0.5, 2.0));
  c.push_back(binary("div/broadcast", OpKind::Div, {2, 3}, {3}, div, 0.5, 2.0));
  c.push_back({"scale/matrix", OpKind::Scale, {{{4, 5}}}, [](Graph&, DType, In in) -> Out {
                 return {scale(in[0], -0.37)};
               }});
  c.push_back(unary("exp/matrix", OpKind::Exp, {3, 7}, exp, -3, 3));
  c.push_back(unary("log/matrix", OpKind::Log, {3, 7}, log, 0.1, 4));
  c.push_back(unary("relu/matrix", OpKind::Relu, {5, 9}, relu));
  c.push_back(unary("relu/rank3", OpKind::Relu, {2, 3, 5}, relu));
  c.push_back(binary("relu_grad/matrix", OpKind::ReluGrad, {4, 6}, {4, 6}, relu_grad));

  // Matmul: transposes, batches, broadcast batches, odd sizes.
  c.push_back(mm("matmul/plain", {3, 4}, {4, 5}, false, false));
  c.push_back(mm("matmul/trans_a", {4, 3}, {4, 5}, true, false));
  c.push_back(mm("matmul/trans_b", {3, 4}, {5, 4}, false, true));
  c.push_back(mm("matmul/trans_both", {4, 3}, {5, 4}, true, true));
  c.push_back(mm("matmul/batched", {2, 3, 4}, {2, 4, 5}, false, false));
  c.push_back(mm("matmul/broadcast_batch", {2, 1, 3, 4}, {3, 4, 2}, false, false));
  c.push_back(mm("matmul/shared_weight", {2, 3, 4}, {4, 5}, false, false));
  c.push_back(mm("matmul/vectors", {1, 7}, {7, 1}, false, false));
  // Larger than the cpu kernel's tiles (8 rows, 128 inner, 512 columns) with ragged edges everywhere.
  for (OpCase big : {mm("matmul/odd_sizes", {17, 33}, {33, 9}, false, false),
                     mm("matmul/past_tiles", {2, 11, 133}, {133, 515}, false, false),
                     mm("matmul/past_tiles_trans_a", {133, 11}, {133, 37}, true, false),
                     mm("matmul/past_tiles_trans_b", {2, 11, 133}, {2, 37, 133}, false, true)}) {
    big.gradcheck = false;  // large for finite differences; the smaller rows cover the rule
    big.atol = 1e-4;        // sums of 133 products of values up to 2 in f32
    c.push_back(big);
  }

  // Softmax family, including extreme logits (stability) and one-element rows.
  c.push_back(unary("softmax/rows", OpKind::Softmax, {4, 7}, softmax));
  c.push_back(unary("softmax/single", OpKind::Softmax, {2, 3, 1}, softmax));
  OpCase wide = unary("softmax/large_logits", OpKind::Softmax, {3, 5}, softmax, -60, 60);
  wide.gradcheck = false;  // saturated: finite differences of a saturated softmax say little
  c.push_back(wide);
  c.push_back(unary("log_softmax/rows", OpKind::LogSoftmax, {4, 7}, log_softmax));
  OpCase wide_log = unary("log_softmax/large_logits", OpKind::LogSoftmax, {3, 5}, log_softmax, -60, 60);
  wide_log.atol = 1e-4;  // |outputs| up to ~120: the f32 result carries ~1e-5 relative rounding
  c.push_back(wide_log);

  // Reductions.
  c.push_back(reduce("sum/middle", OpKind::Sum, {3, 4, 5}, {1}, false));
  c.push_back(reduce("sum/outer_keepdim", OpKind::Sum, {3, 4, 5}, {0, 2}, true));
  c.push_back(reduce("sum/all", OpKind::Sum, {3, 4, 5}, {}, false));
  c.push_back(reduce("sum/unit_dim", OpKind::Sum, {1, 6}, {0}, false));
  c.push_back(reduce("mean/last", OpKind::Mean, {3, 4, 5}, {-1}, false));
  c.push_back(reduce("mean/all_keepdim", OpKind::Mean, {2, 3}, {}, true));

  // Layout.
  c.push_back({"reshape/matrix", OpKind::Reshape, {{{2, 6}}}, [](Graph&, DType, In in) -> Out {
                 return {reshape(in[0], {3, 4})};
               }});
  c.push_back({"reshape/infer", OpKind::Reshape, {{{2, 3, 4}}}, [](Graph&, DType, In in) -> Out {
                 return {reshape(in[0], {-1, 4})};
               }});
  c.push_back({"permute/rank3", OpKind::Permute, {{{2, 3, 4}}}, [](Graph&, DType, In in) -> Out {
                 return {permute(in[0], {2, 0, 1})};
               }});
  c.push_back({"permute/transpose", OpKind::Permute, {{{3, 5}}}, [](Graph&, DType, In in) -> Out {
                 return {transpose(in[0], 0, 1)};
               }});
  c.push_back({"contiguous/matrix", OpKind::Contiguous, {{{3, 4}}}, [](Graph&, DType, In in) -> Out {
                 return {contiguous(in[0])};
               }});
  c.push_back({"expand/column", OpKind::Expand, {{{3, 1}}}, [](Graph&, DType, In in) -> Out {
                 return {expand(in[0], {2, 3, 4})};
               }});
  c.push_back({"expand/vector", OpKind::Expand, {{{4}}}, [](Graph&, DType, In in) -> Out {
                 return {expand(in[0], {3, 4})};
               }});
  return c;
}

}  // namespace

const std::vector<OpCase>& op_cases() {
  static const std::vector<OpCase> cases = make_cases();
  return cases;
}

CaseGraph build_case(const OpCase& c, DType dt, bool inject_nan_inf) {
  CaseGraph cg;
  std::vector<Tensor> in;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    const InputSpec& spec = c.inputs[i];
    std::string name = "in" + std::to_string(i);
    in.push_back(cg.graph.input(name, dt, spec.shape));
    // Values are drawn in f64 and rounded to f32 first, so the f32 and f64 graphs see identical numbers.
    HostTensor data = uniform(DType::F32, spec.shape, stable_hash(c.name) + 17 * i, spec.lo, spec.hi);
    if (inject_nan_inf && i == 0) {
      const double specials[] = {std::numeric_limits<double>::quiet_NaN(),
                                 std::numeric_limits<double>::infinity(),
                                 -std::numeric_limits<double>::infinity()};
      for (int64_t k = 0; k < data.numel() && k < 3; ++k)
        data.data<float>()[k * 2 % data.numel()] = float(specials[k]);
    }
    cg.inputs.emplace(name, data.to(dt));
  }
  std::vector<Tensor> outs = c.build(cg.graph, dt, in);
  for (size_t i = 0; i < outs.size(); ++i) cg.graph.output("out" + std::to_string(i), outs[i]);
  return cg;
}

}  // namespace frost::test
