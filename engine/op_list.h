// The IR's vocabulary: every op kind, in one X-macro list (DESIGN principle 6). It lives in engine/ so that
// passes and autodiff can name kinds without including ops/; each kind's behaviour (inference, in-place
// rule, backward, cost) is one row in ops/defs/, and its kernels are registered per (op, backend, dtype).
//
// Adding an op: one line here, one row in ops/defs/, its reference kernel in ops/cpu/, its builder in
// ops/api.h, and its test cases in tests/op_cases.cpp — the registry audit test fails until all exist.
#pragma once

#include <cstdint>

// X(Kind, "name")
#define FROST_OP_LIST(X)                                                                                     \
  /* sources and state */                                                                                    \
  X(Fill, "fill")     /* () -> constant of attrs.shape, attrs.dtype, value attrs.scalar */                   \
  X(Assign, "assign") /* (state, value) -> (): writes value into persistent state */                         \
  X(AdamW, "adamw")   /* (param, grad, m, v, coeffs[7]) -> (): one AdamW step of three states */             \
  /* elementwise, with broadcasting */                                                                       \
  X(Add, "add")                                                                                              \
  X(Sub, "sub")                                                                                              \
  X(Mul, "mul")                                                                                              \
  X(Div, "div")                                                                                              \
  X(Where, "where") /* (cond u8, a, b) -> a where cond != 0 else b */                                        \
  X(Scale, "scale") /* x * attrs.scalar */                                                                   \
  X(Neg, "neg")                                                                                              \
  X(Exp, "exp")                                                                                              \
  X(Log, "log")                                                                                              \
  X(Sqrt, "sqrt")                                                                                            \
  X(Rsqrt, "rsqrt")                                                                                          \
  X(Tanh, "tanh")                                                                                            \
  X(Relu, "relu")                                                                                            \
  X(ReluGrad, "relu_grad")                  /* (dy, x) -> dy where x > 0, else 0 */                          \
  X(Gelu, "gelu")                           /* x * Phi(x), the erf form */                                   \
  X(GeluTanh, "gelu_tanh")                  /* the tanh approximation */                                     \
  X(GeluBackward, "gelu_backward")          /* (dy, x) -> dx */                                              \
  X(GeluTanhBackward, "gelu_tanh_backward") /* (dy, x) -> dx */                                              \
  X(Cast, "cast")                           /* to attrs.dtype (f32, f16, bf16, f64) */                       \
  X(Dropout, "dropout")                     /* (x, offset i64[]) -> x * mask / (1 - p); p = attrs.scalar */  \
  /* linear algebra */                                                                                       \
  X(MatMul, "matmul") /* batched, broadcasting batch dims, attrs.trans_a / trans_b */                        \
  X(Linear, "linear") /* (x (..., K), w (K, N) | (N, K) trans_b, bias (N)) -> act(x w + bias) */             \
  /* normalisation over the last dimension */                                                                \
  X(Softmax, "softmax")                                                                                      \
  X(LogSoftmax, "log_softmax")                                                                               \
  X(SoftmaxBackward, "softmax_backward")        /* (dy, y) -> y * (dy - sum(dy * y)) */                      \
  X(LogSoftmaxBackward, "log_softmax_backward") /* (dy, y) -> dy - exp(y) * sum(dy) */                       \
  X(LayerNorm, "layer_norm")                    /* (x, w, b) -> (y, mean, rstd); eps = attrs.scalar */       \
  X(LayerNormBackward, "layer_norm_backward")   /* (dy, x, w, mean, rstd) -> (dx, dw, db) */                 \
  X(AddLayerNorm, "add_layer_norm") /* (a, b, w, bias) -> (a + b, y, mean, rstd); eps = attrs.scalar */      \
  X(Attention, "attention")         /* (q, k, v[, prefix k, prefix v][, mask bias]) -> (out, logsumexp) */   \
  X(AttentionBackward, "attention_backward") /* (dout, q, k, v[, pk, pv][, mask], out, lse) -> grads */      \
  X(L2Normalize, "l2_normalize")             /* x / max(||x||, eps) over the last dim; eps = attrs.scalar */ \
  X(L2NormalizeBackward, "l2_normalize_backward") /* (dy, x) -> dx */                                        \
  X(SoftmaxCrossEntropy, "softmax_cross_entropy") /* (logits (N, K), target i64 (N)) -> (N) */               \
  X(SoftmaxCrossEntropyBackward, "softmax_cross_entropy_backward") /* (dl, logits, target) */                \
  /* reductions over attrs.axes, attrs.keepdim */                                                            \
  X(Sum, "sum")                                                                                              \
  X(Mean, "mean")                                                                                            \
  X(Max, "max")                                                                                              \
  X(MaxBackward, "max_backward") /* (dy, x, y) -> dx, shared evenly among ties */                            \
  /* layout */                                                                                               \
  X(Reshape, "reshape") /* a view: aliases its input */                                                      \
  X(Permute, "permute") /* attrs.axes is the permutation; materialises a contiguous result */                \
  X(Contiguous, "contiguous")                                                                                \
  X(Expand, "expand")                /* broadcast to attrs.shape */                                          \
  X(Slice, "slice")                  /* attrs.axis, start, stop, step */                                     \
  X(SliceBackward, "slice_backward") /* dy -> zeros of attrs.shape with dy at the slice */                   \
  X(Concat, "concat")                /* variadic, along attrs.axis */                                        \
  X(Repeat, "repeat")                /* tile: attrs.shape holds the repeats per dim (torch.Tensor.repeat) */ \
  X(RepeatInterleave, "repeat_interleave") /* attrs.count copies of each element on attrs.axis */            \
  X(Diagonal, "diagonal")                  /* (..., N, M) -> (..., min(N, M)) */                             \
  X(DiagEmbed, "diag_embed")            /* (..., K) -> zeros of attrs.shape (..., N, M) with the diagonal */ \
  X(GatherRows, "gather_rows")          /* (table (V, ...), indices i32/i64) -> indices.shape + (...) */     \
  X(ScatterAddRows, "scatter_add_rows") /* (dy, indices) -> (V, ...) = attrs.shape, summed */

namespace frost {

enum class OpKind : uint16_t {
#define FROST_OP_ENUM(kind, name) kind,
  FROST_OP_LIST(FROST_OP_ENUM)
#undef FROST_OP_ENUM
};

inline constexpr int kNumOpKinds = 0
#define FROST_OP_COUNT(kind, name) +1
    FROST_OP_LIST(FROST_OP_COUNT)
#undef FROST_OP_COUNT
    ;

const char* op_name(OpKind kind);

}  // namespace frost
