#include "op_cases.h"

#include <cmath>
#include <limits>
#include <memory>

#include "engine/random.h"
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
OpCase lin(std::string name, Shape x, Shape w, bool tb, Activation act) {
  const int64_t n = tb ? w[0] : w[1];
  OpCase c{std::move(name), OpKind::Linear, {{x}, {w}, {{n}}}, [tb, act](Graph&, DType, In in) -> Out {
             return {fused_linear(in[0], in[1], in[2], tb, act)};
           }};
  c.gradcheck = act == Activation::None;  // a gelu epilogue has no backward (autodiff refuses it)
  return c;
}
OpCase reduce(std::string name, OpKind kind, Shape shape, std::vector<int64_t> axes, bool keepdim) {
  return {std::move(name), kind, {{shape}}, [kind, axes, keepdim](Graph&, DType, In in) -> Out {
            return {kind == OpKind::Sum ? sum(in[0], axes, keepdim) : mean(in[0], axes, keepdim)};
          }};
}

InputSpec index(Shape shape, int64_t hi, DType dt = DType::I64) {
  return {shape, 0.0, double(hi), dt};
}
InputSpec mask(Shape shape) {
  return {shape, 0.0, 2.0, DType::U8};
}

// The ops of the full op set (issue 3).
void add_full_op_set_cases(std::vector<OpCase>& c) {
  // Elementwise.
  c.push_back(
      {"where/broadcast", OpKind::Where, {mask({3, 1}), {{3, 4}}, {{4}}}, [](Graph&, DType, In in) -> Out {
         return {where(in[0], in[1], in[2])};
       }});
  c.push_back({"where/masked_fill", OpKind::Where, {{{2, 5}}, mask({2, 5})}, [](Graph&, DType, In in) -> Out {
                 return {masked_fill(in[0], in[1], -1e4)};
               }});
  c.push_back(unary("neg/matrix", OpKind::Neg, {3, 4}, neg));
  // Rank 0 (a loss is a scalar): oneDNN's eltwise once refused it.
  c.push_back(unary("neg/scalar", OpKind::Neg, {}, neg));
  c.push_back(unary("gelu/scalar", OpKind::Gelu, {}, gelu, -4, 4));
  c.push_back(unary("sqrt/matrix", OpKind::Sqrt, {3, 5}, sqrt, 0.2, 3));
  c.push_back(unary("rsqrt/matrix", OpKind::Rsqrt, {3, 5}, rsqrt, 0.2, 3));
  c.push_back(unary("tanh/matrix", OpKind::Tanh, {4, 5}, tanh, -3, 3));
  c.push_back(unary("gelu/matrix", OpKind::Gelu, {4, 6}, gelu, -4, 4));
  c.push_back(unary("gelu_tanh/matrix", OpKind::GeluTanh, {4, 6}, gelu_tanh, -4, 4));
  c.push_back(binary("gelu_backward/matrix", OpKind::GeluBackward, {4, 6}, {4, 6}, gelu_backward, -4, 4));
  c.push_back(binary("gelu_tanh_backward/matrix", OpKind::GeluTanhBackward, {4, 6}, {4, 6},
                     gelu_tanh_backward, -4, 4));
  c.push_back({"cast/same", OpKind::Cast, {{{3, 4}}}, [](Graph&, DType dt, In in) -> Out {
                 return {cast(in[0], dt)};
               }});
  for (DType to : {DType::F16, DType::BF16, DType::F64, DType::F32}) {
    OpCase k{std::string("cast/to_") + dtype_name(to),
             OpKind::Cast,
             {{{5, 7}, -70000, 70000}},
             [to](Graph&, DType, In in) -> Out { return {cast(in[0], to)}; }};
    k.atol = k.rtol = 0;  // both graphs round the same f32-representable values once
    k.gradcheck = false;  // finite differences through a rounding cast measure the rounding
    c.push_back(k);
  }
  c.push_back({"dropout/train",
               OpKind::Dropout,
               {{{4, 50}}, index({}, 4, DType::I64)},
               [](Graph&, DType, In in) -> Out { return {dropout(in[0], 0.3, 11, in[1])}; }});
  c.push_back({"dropout/threaded",  // past the cpu kernel's threading threshold, a ragged last chunk
               OpKind::Dropout,
               {{{3, 30001}}, index({}, 4, DType::I64)},
               [](Graph&, DType, In in) -> Out { return {dropout(in[0], 0.1, 12, in[1])}; }});
  c.back().gradcheck = false;
  c.push_back({"dropout/all",
               OpKind::Dropout,
               {{{3, 5}}, index({1}, 9, DType::I64)},
               [](Graph&, DType, In in) -> Out { return {dropout(in[0], 1.0, 2, in[1])}; }});

  // Patch embedding (conv2d, stride = kernel), lowered to layout ops and a matmul.
  c.push_back({"conv2d_patch/two_by_two",
               OpKind::MatMul,
               {{{2, 3, 8, 8}}, {{5, 3, 4, 4}}, {{5}}},
               [](Graph&, DType, In in) -> Out { return {conv2d_patch(in[0], in[1], in[2])}; }});

  // Normalisations and the loss.
  OpCase ln{
      "layer_norm/outputs", OpKind::LayerNorm, {{{3, 7}}, {{7}}, {{7}}}, [](Graph&, DType, In in) -> Out {
        LayerNormResult r = layer_norm(in[0], in[1], in[2], 1e-5);
        return {r.y, r.mean, r.rstd};
      }};
  ln.gradcheck = false;  // mean and rstd are saved statistics: gradients flow through y only
  c.push_back(ln);
  c.push_back(
      {"layer_norm/y", OpKind::LayerNorm, {{{2, 3, 6}}, {{6}}, {{6}}}, [](Graph&, DType, In in) -> Out {
         return {layer_norm(in[0], in[1], in[2], 1e-6).y};
       }});
  // Inputs of +-0.01 with eps 1e-3: the variance (~3e-5) is far below eps, so eps decides the result (and
  // oneDNN's backward, which rebuilds the variance from rstd and eps, is held to it).
  c.push_back({"layer_norm/eps_matters",
               OpKind::LayerNorm,
               {{{4, 9}, -0.01, 0.01}, {{9}}, {{9}}},
               [](Graph&, DType, In in) -> Out { return {layer_norm(in[0], in[1], in[2], 1e-3).y}; }});
  c.push_back({"layer_norm_backward/eps_matters",
               OpKind::LayerNormBackward,
               {{{4, 9}}, {{4, 9}, -0.01, 0.01}, {{9}}, {{9}}},
               [](Graph&, DType, In in) -> Out {
                 const LayerNormResult r = layer_norm(in[1], in[2], in[3], 1e-3);
                 return layer_norm_backward(in[0], in[1], in[2], r.mean, r.rstd, 1e-3);
               }});
  c.back().gradcheck = false;  // the statistics come from a forward in the same graph
  // The model's row lengths (a ViT-B patch row of 197 tokens' scores, the CLS row's 785 columns) and enough
  // rows for the threaded paths; compared with the oracle only.
  for (const auto& [name, shape] :
       {std::pair{"layer_norm/row_197", Shape{3, 197}}, std::pair{"layer_norm/row_785", Shape{2, 785}},
        std::pair{"layer_norm/threaded", Shape{512, 197}}}) {
    const int64_t C = shape[-1];
    c.push_back({name, OpKind::LayerNorm, {{shape}, {{C}}, {{C}}}, [](Graph&, DType, In in) -> Out {
                   return {layer_norm(in[0], in[1], in[2], 1e-6).y};
                 }});
    c.back().gradcheck = false;
  }
  c.push_back({"layer_norm_backward/rows",
               OpKind::LayerNormBackward,
               {{{3, 7}}, {{3, 7}}, {{7}}, {{3}}, {{3}, 0.5, 2.0}},
               [](Graph&, DType, In in) -> Out {
                 return layer_norm_backward(in[0], in[1], in[2], in[3], in[4], 1e-5);
               }});
  OpCase add_ln{"add_layer_norm/outputs",
                OpKind::AddLayerNorm,
                {{{3, 7}}, {{3, 7}}, {{7}}, {{7}}},
                [](Graph&, DType, In in) -> Out {
                  AddLayerNormResult r = add_layer_norm(in[0], in[1], in[2], in[3], 1e-5);
                  return {r.sum, r.y, r.mean, r.rstd};
                }};
  add_ln.gradcheck = false;  // mean and rstd are saved statistics
  c.push_back(add_ln);
  // y and the kept sum both used (the pre-LN residual stream): the backward adds both gradients. 37 columns:
  // two of the own kernel's 16 lanes and a tail.
  c.push_back({"add_layer_norm/y_and_sum",
               OpKind::AddLayerNorm,
               {{{2, 2, 37}}, {{2, 2, 37}}, {{37}}, {{37}}},
               [](Graph&, DType, In in) -> Out {
                 AddLayerNormResult r = add_layer_norm(in[0], in[1], in[2], in[3], 1e-6);
                 return {r.y, scale(r.sum, 0.5)};
               }});
  c.push_back(
      {"add_layer_norm/y",
       OpKind::AddLayerNorm,
       {{{4, 5}}, {{4, 5}}, {{5}}, {{5}}},
       [](Graph&, DType, In in) -> Out { return {add_layer_norm(in[0], in[1], in[2], in[3], 1e-12).y}; }});
  c.push_back({"l2_normalize/rows", OpKind::L2Normalize, {{{4, 6}}}, [](Graph&, DType, In in) -> Out {
                 return {l2_normalize(in[0], 1e-12)};
               }});
  c.push_back(
      {"l2_normalize/clamped", OpKind::L2Normalize, {{{3, 6}, -0.1, 0.1}}, [](Graph&, DType, In in) -> Out {
         return {l2_normalize(in[0], 1.0)};
       }});  // every norm < eps
  c.push_back({"l2_normalize_backward/rows",
               OpKind::L2NormalizeBackward,
               {{{4, 6}}, {{4, 6}}},
               [](Graph&, DType, In in) -> Out { return {l2_normalize_backward(in[0], in[1], 1e-12)}; }});
  c.push_back({"softmax_cross_entropy/i64",
               OpKind::SoftmaxCrossEntropy,
               {{{5, 4}, -3, 3}, index({5}, 4)},
               [](Graph&, DType, In in) -> Out { return {softmax_cross_entropy(in[0], in[1])}; }});
  c.push_back({"softmax_cross_entropy/i32",
               OpKind::SoftmaxCrossEntropy,
               {{{3, 6}, -3, 3}, index({3}, 6, DType::I32)},
               [](Graph&, DType, In in) -> Out { return {softmax_cross_entropy(in[0], in[1])}; }});
  c.push_back(
      {"softmax_cross_entropy_backward/rows",
       OpKind::SoftmaxCrossEntropyBackward,
       {{{5}}, {{5, 4}, -3, 3}, index({5}, 4)},
       [](Graph&, DType, In in) -> Out { return {softmax_cross_entropy_backward(in[0], in[1], in[2])}; }});

  c.push_back({"softmax_backward/rows",
               OpKind::SoftmaxBackward,
               {{{4, 7}}, {{4, 7}}},
               [](Graph&, DType, In in) -> Out { return {softmax_backward(in[0], softmax(in[1]))}; }});
  c.push_back(
      {"log_softmax_backward/rows",
       OpKind::LogSoftmaxBackward,
       {{{4, 7}}, {{4, 7}}},
       [](Graph&, DType, In in) -> Out { return {log_softmax_backward(in[0], log_softmax(in[1]))}; }});

  // Max and its backward.
  c.push_back({"max/middle", OpKind::Max, {{{3, 4, 5}}}, [](Graph&, DType, In in) -> Out {
                 return {max(in[0], {1})};
               }});
  c.push_back({"max/all_keepdim", OpKind::Max, {{{3, 4}}}, [](Graph&, DType, In in) -> Out {
                 return {max(in[0], {}, true)};
               }});
  c.push_back(
      {"max_backward/middle", OpKind::MaxBackward, {{{3, 5}}, {{3, 4, 5}}}, [](Graph&, DType, In in) -> Out {
         return {max_backward(in[0], in[1], max(in[1], {1}), {1}, false)};
       }});

  // Layout.
  c.push_back({"slice/step", OpKind::Slice, {{{5, 7}}}, [](Graph&, DType, In in) -> Out {
                 return {slice(in[0], 1, 1, 6, 2)};
               }});
  c.push_back({"slice/clamped", OpKind::Slice, {{{5, 3}}}, [](Graph&, DType, In in) -> Out {
                 return {slice(in[0], 0, -3, 100)};
               }});
  c.push_back({"slice/empty", OpKind::Slice, {{{4, 3}}}, [](Graph&, DType, In in) -> Out {
                 return {slice(in[0], 0, 3, 2)};
               }});
  // Runs of 8+ elements: the cpu backend's own slice (the attention's CLS / patch split); the large one
  // crosses the OpenMP threshold.
  c.push_back({"slice/runs", OpKind::Slice, {{{2, 5, 4, 16}}}, [](Graph&, DType, In in) -> Out {
                 return {slice(in[0], 1, 1, 5)};
               }});
  c.push_back({"slice/runs_large", OpKind::Slice, {{{8, 300, 40}}}, [](Graph&, DType, In in) -> Out {
                 return {slice(in[0], 1, 1, 300)};
               }});
  c.back().gradcheck = false;  // 96,000 inputs: slice/runs checks the same gradient rule
  c.push_back({"slice_backward/step", OpKind::SliceBackward, {{{5, 3}}}, [](Graph&, DType, In in) -> Out {
                 return {slice_backward(in[0], {5, 7}, 1, 1, 2)};
               }});
  // Step 1 with runs of 8+ elements: the cpu backend's own slice_backward (zeros, the run, zeros per outer
  // index): a head and a tail, a head only, the outermost axis, and one large enough for the OpenMP pool.
  c.push_back(
      {"slice_backward/runs", OpKind::SliceBackward, {{{2, 3, 4, 16}}}, [](Graph&, DType, In in) -> Out {
         return {slice_backward(in[0], {2, 5, 4, 16}, 1, 1, 1)};
       }});
  c.push_back(
      {"slice_backward/head_only", OpKind::SliceBackward, {{{3, 2, 16}}}, [](Graph&, DType, In in) -> Out {
         return {slice_backward(in[0], {3, 6, 16}, 1, 4, 1)};
       }});
  c.push_back({"slice_backward/axis0", OpKind::SliceBackward, {{{2, 24}}}, [](Graph&, DType, In in) -> Out {
                 return {slice_backward(in[0], {5, 24}, 0, 3, 1)};
               }});
  c.push_back(
      {"slice_backward/runs_large", OpKind::SliceBackward, {{{8, 299, 40}}}, [](Graph&, DType, In in) -> Out {
         return {slice_backward(in[0], {8, 300, 40}, 1, 1, 1)};
       }});
  c.back().gradcheck = false;  // 95,680 inputs: slice_backward/runs checks the same gradient rule
  c.push_back(
      {"concat/middle", OpKind::Concat, {{{2, 3}}, {{2, 1}}, {{2, 4}}}, [](Graph&, DType, In in) -> Out {
         return {concat({in[0], in[1], in[2]}, 1)};
       }});
  c.push_back({"concat/leading", OpKind::Concat, {{{1, 2, 3}}, {{3, 2, 3}}}, [](Graph&, DType, In in) -> Out {
                 return {concat({in[0], in[1]}, 0)};
               }});
  c.push_back({"concat/groups",
               OpKind::Concat,
               {{{2, 3, 5, 1, 16}}, {{2, 3, 5, 4, 16}}},
               [](Graph&, DType, In in) -> Out {
                 return {concat({in[0], in[1]}, 3)};
               }});
  c.push_back({"repeat/tile_new_dim", OpKind::Repeat, {{{2, 3}}}, [](Graph&, DType, In in) -> Out {
                 return {repeat(in[0], {2, 1, 3})};
               }});
  c.push_back({"repeat/frames", OpKind::Repeat, {{{1, 4, 3}}}, [](Graph&, DType, In in) -> Out {
                 return {repeat(in[0], {1, 3, 1})};
               }});
  c.push_back(
      {"repeat_interleave/middle", OpKind::RepeatInterleave, {{{2, 3, 2}}}, [](Graph&, DType, In in) -> Out {
         return {repeat_interleave(in[0], 3, 1)};
       }});
  // Runs of 8+ elements: the cpu backend's own repeat and repeat_interleave (the video model's positional
  // and temporal tables); the large ones cross the OpenMP threshold.
  c.push_back({"repeat/runs", OpKind::Repeat, {{{1, 5, 16}}}, [](Graph&, DType, In in) -> Out {
                 return {repeat(in[0], {1, 3, 1})};
               }});
  c.push_back({"repeat/runs_new_dim", OpKind::Repeat, {{{4, 12}}}, [](Graph&, DType, In in) -> Out {
                 return {repeat(in[0], {2, 3, 1})};
               }});
  c.push_back({"repeat/runs_large", OpKind::Repeat, {{{1, 196, 96}}}, [](Graph&, DType, In in) -> Out {
                 return {repeat(in[0], {1, 4, 1})};  // 75,264 outputs: over the pool's 65,536
               }});
  c.back().gradcheck = false;  // 18,816 inputs: repeat/runs checks the same gradient rule
  c.push_back(
      {"repeat_interleave/runs", OpKind::RepeatInterleave, {{{2, 4, 16}}}, [](Graph&, DType, In in) -> Out {
         return {repeat_interleave(in[0], 5, 1)};
       }});
  c.push_back({"repeat_interleave/runs_large",
               OpKind::RepeatInterleave,
               {{{1, 4, 96}}},
               [](Graph&, DType, In in) -> Out { return {repeat_interleave(in[0], 196, 1)}; }});
  c.back().gradcheck = false;  // repeat_interleave/runs checks the same gradient rule
  c.push_back({"diagonal/square", OpKind::Diagonal, {{{2, 4, 4}}}, [](Graph&, DType, In in) -> Out {
                 return {diagonal(in[0])};
               }});
  c.push_back({"diagonal/rectangular", OpKind::Diagonal, {{{3, 5}}}, [](Graph&, DType, In in) -> Out {
                 return {diagonal(in[0])};
               }});
  c.push_back({"diag_embed/square", OpKind::DiagEmbed, {{{2, 4}}}, [](Graph&, DType, In in) -> Out {
                 return {diag_embed(in[0], {2, 4, 4})};
               }});
  c.push_back({"diag_embed/rectangular", OpKind::DiagEmbed, {{{3}}}, [](Graph&, DType, In in) -> Out {
                 return {diag_embed(in[0], {3, 5})};
               }});
  c.push_back(
      {"gather_rows/i64", OpKind::GatherRows, {{{6, 4}}, index({2, 3}, 6)}, [](Graph&, DType, In in) -> Out {
         return {gather_rows(in[0], in[1])};
       }});
  c.push_back({"gather_rows/i32_rank3_table",
               OpKind::GatherRows,
               {{{5, 2, 3}}, index({4}, 5, DType::I32)},
               [](Graph&, DType, In in) -> Out { return {gather_rows(in[0], in[1])}; }});
  c.push_back({"scatter_add_rows/repeats",
               OpKind::ScatterAddRows,
               {{{2, 3, 4}}, index({2, 3}, 3)},
               [](Graph&, DType, In in) -> Out {
                 return {scatter_add_rows(in[0], in[1], {6, 4})};
               }});
}

// The fused attention op (made by the fusion pass; built directly here): plain, with a prefix key/value
// broadcast over groups (the video model's CLS), with a mask bias, the time groups' 5-column rows, a long
// CLS row, and shapes past the tiled kernels' block sizes.
void add_attention_cases(std::vector<OpCase>& c) {
  // with_lse: the logsumexp output is compared too (no gradient flows through it: not gradient-checked).
  // masked: 0 none, 1 a bias (-30 where a random u8 mask is set), 2 a masked fill of -30 where the u8 mask
  // is nonzero, 3 a fill of -1e9 where it is zero (finite fills: the gradient must still skip them).
  // dropout: the probabilities' dropout at rate 0.3 (offset 5 from a fill; the gradient check holds the mask
  // fixed, so the function is smooth in q, k, v).
  auto case_of = [](std::string name, Shape q, Shape k, Shape v, std::optional<Shape> prefix, int masked,
                    bool backward, bool with_lse = false, bool dropout = false) {
    const int64_t D = q[-1];
    std::vector<InputSpec> in = {{q}, {k}, {v}};
    Shape pk, pv;
    if (prefix) {
      pk = *prefix;
      pv = *prefix;
      pv[-1] = v[-1];
      in.push_back({pk});
      in.push_back({pv});
    }
    Shape mask_shape = q;
    mask_shape[-1] = (prefix ? (*prefix)[-2] : 0) + k[-2];
    for (int d = 1; d < mask_shape.rank() - 1; ++d) mask_shape[d] = 1;  // (B, 1, ..., 1, P + Lk)
    if (masked) in.push_back(mask(mask_shape));
    if (backward)
      in.push_back({[&] {
        Shape o = q;
        o[-1] = v[-1];
        return o;
      }()});
    const OpKind kind = backward ? OpKind::AttentionBackward : OpKind::Attention;
    return OpCase{
        std::move(name), kind, in,
        [D, prefix, masked, backward, mask_shape, with_lse, dropout](Graph& g, DType dt, In in) -> Out {
          size_t next = 3;
          Tensor pk, pv, bias;
          if (prefix) {
            pk = in[next++];
            pv = in[next++];
          }
          if (masked == 1) bias = masked_fill(fill(g, mask_shape, dt, 0.0), in[next++], -30.0);
          if (masked >= 2) bias = in[next++];  // the u8 mask itself
          const double s = 1.0 / std::sqrt(double(D));
          const Tensor offset = dropout ? fill(g, {}, DType::I64, 5.0) : Tensor{};
          AttentionResult r =
              fused_attention(in[0], in[1], in[2], s, pk, pv, bias, masked == 3 ? -1e9 : -30.0, masked == 3,
                              dropout ? 0.3 : 0.0, 77, offset);
          if (!backward) return with_lse ? Out{r.out, r.lse} : Out{r.out};
          std::vector<Tensor> fwd = {in[0], in[1], in[2]};
          if (prefix) fwd.insert(fwd.end(), {pk, pv});
          if (masked) fwd.push_back(bias);
          if (dropout) fwd.push_back(offset);
          const Attrs& a = g.node(g.value(r.out.id).producer).attrs;
          return fused_attention_backward(in[next], fwd, r.out, r.lse, a);
        }};
  };
  c.push_back(case_of("attention/plain", {2, 3, 4}, {2, 5, 4}, {2, 5, 3}, std::nullopt, false, false));
  // Probability dropout: gradient-checked small (the row-dot path), and on the wide path past a key block
  // with a prefix and a fill, forward and backward against the oracle.
  c.push_back(case_of("attention/dropout", {2, 2, 3, 4}, {2, 2, 5, 4}, {2, 2, 5, 6}, Shape{2, 1, 1, 4}, 1,
                      false, false, true));
  c.push_back(case_of("attention_backward/dropout", {2, 2, 3, 4}, {2, 2, 5, 4}, {2, 2, 5, 6},
                      Shape{2, 1, 1, 4}, 1, true, false, true));
  for (bool backward : {false, true}) {
    c.push_back(case_of(backward ? "attention_backward/dropout_wide" : "attention/dropout_wide",
                        {2, 2, 20, 16}, {2, 2, 150, 16}, {2, 2, 150, 24}, Shape{2, 1, 1, 16}, 2, backward,
                        false, true));
    c.back().gradcheck = false;
  }
  c.push_back(case_of("attention/prefix_mask", {2, 2, 3, 4}, {2, 2, 5, 4}, {2, 2, 5, 6}, Shape{2, 1, 1, 4},
                      true, false));
  c.push_back(
      case_of("attention/cls_row", {2, 2, 1, 8}, {2, 2, 41, 8}, {2, 2, 41, 8}, std::nullopt, false, false));
  c.push_back(case_of("attention/time_groups", {2, 2, 3, 4, 4}, {2, 2, 3, 4, 4}, {2, 2, 3, 4, 4},
                      Shape{2, 2, 1, 1, 4}, false, false));
  c.push_back(
      case_of("attention_backward/plain", {2, 3, 4}, {2, 5, 4}, {2, 5, 3}, std::nullopt, false, true));
  c.push_back(case_of("attention_backward/prefix_mask", {2, 2, 3, 4}, {2, 2, 5, 4}, {2, 2, 5, 6},
                      Shape{2, 1, 1, 4}, true, true));
  c.push_back(case_of("attention_backward/time_groups", {2, 2, 3, 4, 4}, {2, 2, 3, 4, 4}, {2, 2, 3, 4, 4},
                      Shape{2, 2, 1, 1, 4}, false, true));
  c.push_back(case_of("attention/masked_fill", {2, 2, 3, 4}, {2, 2, 5, 4}, {2, 2, 5, 6}, Shape{2, 1, 1, 4}, 2,
                      false));
  c.push_back(
      case_of("attention/masked_fill_where_zero", {2, 3, 4}, {2, 5, 4}, {2, 5, 3}, std::nullopt, 3, false));
  c.push_back(case_of("attention_backward/masked_fill", {2, 2, 3, 4}, {2, 2, 5, 4}, {2, 2, 5, 6},
                      Shape{2, 1, 1, 4}, 2, true));
  c.push_back(case_of("attention_backward/masked_fill_where_zero", {2, 3, 4}, {2, 5, 4}, {2, 5, 3},
                      std::nullopt, 3, true));
  c.push_back(case_of("attention/logsumexp", {2, 2, 3, 4}, {2, 2, 5, 4}, {2, 2, 5, 6}, Shape{2, 1, 1, 4},
                      true, false, true));
  c.back().gradcheck = false;
  // The CLS row's shape (one query, keys past a key block): the own kernel's row-dot path; checked against
  // the oracle only (attention/cls_row above gradient-checks the rule on 41 keys), with a prefix and a fill.
  for (bool backward : {false, true}) {
    c.push_back(case_of(backward ? "attention_backward/cls_row_long" : "attention/cls_row_long", {2, 2, 1, 8},
                        {2, 2, 200, 8}, {2, 2, 200, 8}, Shape{2, 2, 1, 8}, 2, backward));
    c.back().gradcheck = false;
  }
  // A value width of 24: the wide path's column tails (16 lanes + 8), forward and backward.
  for (bool backward : {false, true}) {
    c.push_back(case_of(backward ? "attention_backward/dv24" : "attention/dv24", {2, 2, 5, 16},
                        {2, 2, 33, 16}, {2, 2, 33, 24}, Shape{2, 2, 1, 16}, 2, backward));
    c.back().gradcheck = !backward;
  }
  // The whole first key block (128 columns) filled with -inf, finite keys after it: the online softmax's
  // running max starts at -inf and must rescale without NaN when the finite block arrives.
  for (bool backward : {false, true}) {
    const Shape q{2, 3, 16}, k{2, 200, 16}, v{2, 200, 24};
    std::vector<InputSpec> in = {{q}, {k}, {v}};
    if (backward) in.push_back({Shape{2, 3, 24}});
    c.push_back({backward ? "attention_backward/first_key_block_masked" : "attention/first_key_block_masked",
                 backward ? OpKind::AttentionBackward : OpKind::Attention, in,
                 [backward](Graph& g, DType dt, In in) -> Out {
                   // Keep the first 128 columns out (mask 0, where_zero), the other 72 in.
                   const Tensor keep =
                       concat({fill(g, {2, 1, 128}, DType::U8, 0.0), fill(g, {2, 1, 72}, DType::U8, 1.0)}, 2);
                   AttentionResult r =
                       fused_attention(in[0], in[1], in[2], 0.25, {}, {}, keep, -INFINITY, true);
                   if (!backward) return {r.out, r.lse};
                   const Attrs& a = g.node(g.value(r.out.id).producer).attrs;
                   return fused_attention_backward(in[3], {in[0], in[1], in[2], keep}, r.out, r.lse, a);
                 }});
    c.back().gradcheck = false;
  }
  // Past the block sizes (query and key blocks, rows not a multiple of them); checked against the oracle
  // only (a gradient check of ~20k inputs by central differences would take minutes).
  for (bool backward : {false, true}) {
    c.push_back(case_of(backward ? "attention_backward/large" : "attention/large", {2, 3, 2, 67, 16},
                        {2, 3, 2, 130, 16}, {2, 3, 2, 130, 16}, Shape{2, 3, 1, 1, 16}, true, backward,
                        /*with_lse=*/true));
    c.back().gradcheck = false;
  }
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

  // The AdamW update of three states (param, m, v) from a gradient and the step's coefficients: the
  // transformers form at a small size, and torch's (lerp, decay before) at a size the cpu kernel splits
  // over threads in chunks with a ragged tail.
  auto adamw_case = [&](const char* name, Shape shape, std::vector<double> coefficients) {
    c.push_back({name,
                 OpKind::AdamW,
                 {{shape}},
                 [shape, coefficients](Graph& g, DType dt, In in) -> Out {
                   auto state = [&](const char* n, uint64_t seed, double lo, double hi) {
                     auto init = std::make_shared<HostTensor>(dt, shape);
                     fill_uniform(*init, Philox(seed), lo, hi);
                     return g.state(n, dt, shape, init);
                   };
                   std::vector<Tensor> k;
                   for (double x : coefficients) k.push_back(fill(g, {1}, dt, x));
                   adamw_update(state("p", 11, -1, 1), in[0], state("m", 12, -0.5, 0.5),
                                state("v", 13, 0.01, 1), concat(k, 0));
                   return {};
                 },
                 1e-6,  // f32 against the f64 oracle: a few ulps of each state
                 1e-5,
                 false,
                 {"p", "m", "v"}});
  };
  adamw_case("adamw/step", {3, 5}, {0.9, 0.1, 0.999, 0.001, 1e-6, 0.99, 0.3, 0.05, 0.001, 0.0});
  adamw_case("adamw/torch_lerp_threads", {3, 30001},
             {0.9, 0.1, 0.999, 0.001, 1e-8, 0.9999, 0.0447, 0.01, 0.0, 1.0});

  // Elementwise, with broadcasting and odd sizes.
  c.push_back(binary("add/same", OpKind::Add, {7, 13}, {7, 13}, add));
  c.push_back(binary("add/row_col", OpKind::Add, {4, 1}, {1, 5}, add));
  c.push_back(binary("add/trailing", OpKind::Add, {2, 3, 4}, {4}, add));
  c.push_back(binary("add/scalar", OpKind::Add, {}, {3, 2}, add));
  // Past the cpu kernels' threading threshold (65536 elements), with a bias-shaped and a scalar operand.
  for (OpCase big : {binary("add/bias_large", OpKind::Add, {2, 300, 130}, {130}, add),
                     binary("mul/scalar_large", OpKind::Mul, {}, {70001}, mul)}) {
    big.gradcheck = false;  // large for finite differences; the small rows cover the rule
    c.push_back(big);
  }
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

  // Linear (matmul + bias [+ gelu], what fuse_linear makes): weight layouts, ranks, epilogues, and past the
  // own kernel's tiles.
  c.push_back(lin("linear/plain", {3, 4}, {4, 5}, false, Activation::None));
  c.push_back(lin("linear/trans_b_rank3", {2, 3, 4}, {5, 4}, true, Activation::None));
  c.push_back(lin("linear/gelu", {2, 3, 4}, {5, 4}, true, Activation::Gelu));
  c.push_back(lin("linear/gelu_tanh", {3, 4}, {4, 5}, false, Activation::GeluTanh));
  OpCase big_linear = lin("linear/past_tiles_gelu", {2, 11, 133}, {515, 133}, true, Activation::Gelu);
  big_linear.atol = 1e-4;  // sums of 133 products in f32, as matmul/past_tiles
  c.push_back(big_linear);

  // Softmax family, including extreme logits (stability) and one-element rows.
  c.push_back(unary("softmax/rows", OpKind::Softmax, {4, 7}, softmax));
  c.push_back(unary("softmax/single", OpKind::Softmax, {2, 3, 1}, softmax));
  for (const auto& [name, shape] :
       {std::pair{"softmax/row_197", Shape{3, 197}}, std::pair{"softmax/row_785", Shape{2, 785}},
        std::pair{"softmax/threaded", Shape{512, 197}}, std::pair{"log_softmax/row_785", Shape{2, 785}}}) {
    c.push_back(unary(name, std::string(name).rfind("log_", 0) == 0 ? OpKind::LogSoftmax : OpKind::Softmax,
                      shape, std::string(name).rfind("log_", 0) == 0 ? log_softmax : softmax));
    c.back().gradcheck = false;
  }
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
  c.push_back(reduce("sum/leading", OpKind::Sum, {3, 4, 5}, {0, 1}, false));  // a bias gradient's shape
  for (OpCase big : {reduce("sum/leading_large", OpKind::Sum, {300, 257}, {0}, false),
                     reduce("mean/trailing_large", OpKind::Mean, {257, 300}, {1}, true)}) {
    big.gradcheck = false;
    big.atol = 1e-4;  // sums of 300 values up to 2
    c.push_back(big);
  }
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
  c.push_back({"permute/heads", OpKind::Permute, {{{2, 5, 3, 8}}}, [](Graph&, DType, In in) -> Out {
                 return {permute(in[0], {0, 2, 1, 3})};
               }});
  OpCase heads_large{
      "permute/heads_large", OpKind::Permute, {{{2, 197, 12, 16}}}, [](Graph&, DType, In in) -> Out {
        return {permute(in[0], {0, 2, 1, 3})};
      }};
  heads_large.gradcheck = false;
  c.push_back(heads_large);
  c.push_back({"permute/transpose", OpKind::Permute, {{{3, 5}}}, [](Graph&, DType, In in) -> Out {
                 return {transpose(in[0], 0, 1)};
               }});
  // The last dim moved next to last, both sides 8+: the cpu backend's tiled transpose (the patch
  // embedding's (B·F, C, N) -> (B·F, N, C)); with permuted batch dims; large enough for the OpenMP pool.
  c.push_back({"permute/transpose_runs", OpKind::Permute, {{{2, 40, 20}}}, [](Graph&, DType, In in) -> Out {
                 return {permute(in[0], {0, 2, 1})};
               }});
  c.push_back(
      {"permute/transpose_batch", OpKind::Permute, {{{3, 10, 4, 12}}}, [](Graph&, DType, In in) -> Out {
         return {permute(in[0], {2, 0, 3, 1})};
       }});
  c.push_back({"permute/transpose_large", OpKind::Permute, {{{4, 96, 196}}}, [](Graph&, DType, In in) -> Out {
                 return {permute(in[0], {0, 2, 1})};
               }});
  c.back().gradcheck = false;  // 75,264 inputs: permute/transpose_runs checks the same gradient rule
  c.push_back({"contiguous/matrix", OpKind::Contiguous, {{{3, 4}}}, [](Graph&, DType, In in) -> Out {
                 return {contiguous(in[0])};
               }});
  c.push_back({"expand/column", OpKind::Expand, {{{3, 1}}}, [](Graph&, DType, In in) -> Out {
                 return {expand(in[0], {2, 3, 4})};
               }});
  c.push_back({"expand/vector", OpKind::Expand, {{{4}}}, [](Graph&, DType, In in) -> Out {
                 return {expand(in[0], {3, 4})};
               }});
  // Runs of 8+ elements: the cpu backend's own expand (the CLS key/value in front of every group).
  c.push_back({"expand/cls_groups", OpKind::Expand, {{{2, 3, 1, 1, 16}}}, [](Graph&, DType, In in) -> Out {
                 return {expand(in[0], {2, 3, 5, 1, 16})};
               }});
  c.push_back({"expand/rows_large", OpKind::Expand, {{{1, 1, 64}}}, [](Graph&, DType, In in) -> Out {
                 return {expand(in[0], {8, 200, 64})};
               }});
  c.back().gradcheck = false;  // a 102,400-element output per probe: expand/cls_groups checks the rule
  add_full_op_set_cases(c);
  add_attention_cases(c);
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
  bool injected = false;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    const InputSpec& spec = c.inputs[i];
    std::string name = "in" + std::to_string(i);
    const uint64_t seed = stable_hash(c.name) + 17 * i;
    if (spec.fixed) {
      in.push_back(cg.graph.input(name, *spec.fixed, spec.shape));
      HostTensor data = uniform(DType::F64, spec.shape, seed, spec.lo, spec.hi);
      for (int64_t k = 0; k < data.numel(); ++k) data.data<double>()[k] = std::floor(data.data<double>()[k]);
      cg.inputs.emplace(name, data.to(*spec.fixed));
      continue;
    }
    in.push_back(cg.graph.input(name, dt, spec.shape));
    // Values are drawn in f64 and rounded to f32 first, so the f32 and f64 graphs see identical numbers.
    HostTensor data = uniform(DType::F32, spec.shape, seed, spec.lo, spec.hi);
    if (inject_nan_inf && !injected) {  // the first floating input gets NaN, +Inf and -Inf
      injected = true;
      const float specials[] = {std::numeric_limits<float>::quiet_NaN(),
                                std::numeric_limits<float>::infinity(),
                                -std::numeric_limits<float>::infinity()};
      for (int64_t k = 0; k < data.numel() && k < 3; ++k)
        data.data<float>()[k * 2 % data.numel()] = specials[k];
    }
    cg.inputs.emplace(name, data.to(dt));
  }
  std::vector<Tensor> outs = c.build(cg.graph, dt, in);
  for (size_t i = 0; i < outs.size(); ++i) cg.graph.output("out" + std::to_string(i), outs[i]);
  return cg;
}

}  // namespace frost::test
