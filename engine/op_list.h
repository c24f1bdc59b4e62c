// The IR's vocabulary: every op kind, in one X-macro list (DESIGN principle 6). It lives in engine/ so that
// passes and autodiff can name kinds without including ops/; each kind's behaviour (inference, in-place
// rule, backward, cost) is one row in ops/defs/, and its kernels are registered per (op, backend, dtype).
//
// Adding an op: one line here, one row in ops/defs/, its reference kernel in ops/cpu/, its builder in
// ops/api.h, and its test cases in tests/op_cases.cpp — the registry audit test fails until all exist.
#pragma once

#include <cstdint>

// X(Kind, "name")
#define FROST_OP_LIST(X)                                                                      \
  /* sources and state */                                                                     \
  X(Fill, "fill")     /* () -> constant of attrs.shape, attrs.dtype, value attrs.scalar */    \
  X(Assign, "assign") /* (state, value) -> (): writes value into persistent state */          \
  /* elementwise, with broadcasting */                                                        \
  X(Add, "add")                                                                               \
  X(Sub, "sub")                                                                               \
  X(Mul, "mul")                                                                               \
  X(Div, "div")                                                                               \
  X(Scale, "scale") /* x * attrs.scalar */                                                    \
  X(Exp, "exp")                                                                               \
  X(Log, "log")                                                                               \
  X(Relu, "relu")                                                                             \
  X(ReluGrad, "relu_grad") /* (dy, x) -> dy where x > 0 else 0 */                             \
  /* linear algebra */                                                                        \
  X(MatMul, "matmul") /* batched, broadcasting batch dims, attrs.trans_a / trans_b */         \
  /* normalisation over the last dimension */                                                 \
  X(Softmax, "softmax")                                                                       \
  X(LogSoftmax, "log_softmax")                                                                \
  /* reductions over attrs.axes, attrs.keepdim */                                             \
  X(Sum, "sum")                                                                               \
  X(Mean, "mean")                                                                             \
  /* layout */                                                                                \
  X(Reshape, "reshape") /* a view: aliases its input */                                       \
  X(Permute, "permute") /* attrs.axes is the permutation; materialises a contiguous result */ \
  X(Contiguous, "contiguous")                                                                 \
  X(Expand, "expand") /* broadcast to attrs.shape */

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
