// The op functions model code calls on Tensor handles (engine/graph.h). Each adds one node (or a few, for
// helpers marked so) and infers its output type at once; shape errors name the op, node and shapes.
// Semantics follow PyTorch: broadcasting, matmul over the last two dims with broadcast batch dims,
// negative axes, softmax over the last dim.
//
//   Tensor h = relu(matmul(x, w1) + b1);             // (B, H)
//   Tensor p = softmax(scale(matmul(q, k, false, true), 0.125));   // q @ k^T / 8
//   Tensor l = mean(sum(h * h, {-1}), {0});          // a scalar
#pragma once

#include <vector>

#include "engine/graph.h"

namespace frost {

// Sources and state.
Tensor fill(Graph& g, Shape shape, DType dtype, double value);  // a constant, rewritten every run
Tensor zeros_like(Tensor x);
Tensor ones_like(Tensor x);
void assign(Tensor state, Tensor value);  // writes `value` into persistent `state` when the step runs

// Elementwise, broadcasting.
Tensor add(Tensor a, Tensor b);
Tensor sub(Tensor a, Tensor b);
Tensor mul(Tensor a, Tensor b);
Tensor div(Tensor a, Tensor b);
Tensor scale(Tensor x, double factor);
Tensor neg(Tensor x);  // helper: scale(x, -1)
Tensor exp(Tensor x);
Tensor log(Tensor x);
Tensor relu(Tensor x);
Tensor relu_grad(Tensor dy, Tensor x);  // dy where x > 0, else 0 (relu's backward)

inline Tensor operator+(Tensor a, Tensor b) {
  return add(a, b);
}
inline Tensor operator-(Tensor a, Tensor b) {
  return sub(a, b);
}
inline Tensor operator*(Tensor a, Tensor b) {
  return mul(a, b);
}
inline Tensor operator/(Tensor a, Tensor b) {
  return div(a, b);
}
inline Tensor operator*(Tensor a, double s) {
  return scale(a, s);
}
inline Tensor operator*(double s, Tensor a) {
  return scale(a, s);
}
inline Tensor operator-(Tensor a) {
  return neg(a);
}

// a: (..., M, K) or (..., K, M) with trans_a; b: (..., K, N) or (..., N, K) with trans_b; batch dims
// broadcast. Both operands need rank >= 2. Result (..., M, N).
Tensor matmul(Tensor a, Tensor b, bool trans_a = false, bool trans_b = false);

// Over the last dimension.
Tensor softmax(Tensor x);
Tensor log_softmax(Tensor x);

// Reductions over `axes` (negative allowed; empty = all axes).
Tensor sum(Tensor x, std::vector<int64_t> axes = {}, bool keepdim = false);
Tensor mean(Tensor x, std::vector<int64_t> axes = {}, bool keepdim = false);
// Helper: sums a broadcast result back down to `shape` (the backward of broadcasting).
Tensor sum_to(Tensor x, const Shape& shape);

// Layout. `reshape` is a view; one dimension may be -1.
Tensor reshape(Tensor x, std::vector<int64_t> shape);
Tensor permute(Tensor x, std::vector<int64_t> perm);
Tensor transpose(Tensor x, int64_t dim0, int64_t dim1);  // helper: permute swapping two dims
Tensor contiguous(Tensor x);
Tensor expand(Tensor x, Shape shape);  // broadcast to `shape`

namespace ops {
// Registers every op row and kernel (idempotent, thread-safe). The op functions above call it, so model
// code never needs to; code that reaches the registries directly (tests, tools) may call it first.
void register_all();
}  // namespace ops

}  // namespace frost
