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
void assign(Tensor state, Tensor value);  // writes `value` into persistent `state` when the step runs
// One AdamW step, in place, in PyTorch's operation order:
//   m <- m * b1 + (1 - b1) * g           (transformers: mul_ then add_), or m + (1 - b1) * (g - m) when
//                                        `lerp` is 1 (torch.optim.AdamW's lerp_, for 1 - b1 < 0.5)
//   v <- v * b2 + ((1 - b2) * g) * g     (mul_ then addcmul_)
//   p <- p * pre_decay;   p <- p + (-step) * (m / (sqrt(v) / sqrt_bc2 + eps));   p <- p + (-post_decay) * p
// `coeffs` holds [b1, 1 - b1, b2, 1 - b2, eps, pre_decay, sqrt_bc2, step, post_decay, lerp]
// (kAdamWCoefficients values of the parameter's dtype; the differences computed in double, as PyTorch's
// Python floats are), set per step by the trainer: train/adamw.h computes them for transformers.AdamW and
// torch.optim.AdamW. param, m and v are persistent state of one shape; grad has it too.
inline constexpr int64_t kAdamWCoefficients = 10;
void adamw_update(Tensor param, Tensor grad, Tensor m, Tensor v, Tensor coeffs);

// Elementwise, broadcasting.
Tensor add(Tensor a, Tensor b);
Tensor sub(Tensor a, Tensor b);
Tensor mul(Tensor a, Tensor b);
Tensor div(Tensor a, Tensor b);
Tensor where(Tensor cond, Tensor a, Tensor b);            // cond: u8 (non-zero = take a); all three broadcast
Tensor masked_fill(Tensor x, Tensor mask, double value);  // helper: where(mask, value, x)
Tensor scale(Tensor x, double factor);
Tensor neg(Tensor x);
Tensor exp(Tensor x);
Tensor log(Tensor x);
Tensor sqrt(Tensor x);
Tensor rsqrt(Tensor x);
Tensor tanh(Tensor x);
Tensor relu(Tensor x);
Tensor relu_grad(Tensor dy, Tensor x);  // dy where x > 0, else 0 (relu's backward)
Tensor gelu(Tensor x);                  // x * Phi(x) with the exact erf (PyTorch's default, BERT's)
Tensor gelu_tanh(Tensor x);             // the tanh approximation (PyTorch approximate='tanh')
Tensor gelu_backward(Tensor dy, Tensor x);
Tensor gelu_tanh_backward(Tensor dy, Tensor x);
Tensor cast(Tensor x, DType dtype);  // between f32, f16, bf16 and f64 (round to nearest even)
// Inverted dropout with a counter-based mask: element i is kept when Philox(seed, offset).uniform(i) >= p,
// and scaled by 1 / (1 - p). `offset` is an i64 scalar value (an input the caller advances per step), so
// the mask changes across steps yet is reproducible. With training == false it returns x (no node).
Tensor dropout(Tensor x, double p, uint64_t seed, Tensor offset, bool training = true);

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
// The fused linear op: act(x op(w) + bias). x (..., K); w (K, N), or (N, K) with trans_b (PyTorch's
// nn.Linear layout); bias (N). Model code writes matmul + bias + activation (model/layers.cpp);
// engine/passes/fuse_linear.cpp produces this op from it.
Tensor fused_linear(Tensor x, Tensor w, Tensor bias, bool trans_b = false,
                    Activation activation = Activation::None);

// Over the last dimension.
Tensor softmax(Tensor x);
Tensor log_softmax(Tensor x);
Tensor softmax_backward(Tensor dy, Tensor y);      // y = softmax(x): dx = y * (dy - sum(dy * y))
Tensor log_softmax_backward(Tensor dy, Tensor y);  // y = log_softmax(x): dx = dy - exp(y) * sum(dy)
struct LayerNormResult {
  Tensor y, mean, rstd;  // y like x; mean and rstd have x's shape without the last dim
};
// One op with three outputs (mean and rstd are saved for the backward). Model code uses nn::layer_norm,
// which emits the primitive decomposition the fusion pass matches (DESIGN, canonical sequences).
LayerNormResult layer_norm(Tensor x, Tensor weight, Tensor bias, double eps);
// The fused residual add + LayerNorm: y = layer_norm(a + b), with the sum kept (for the residual stream
// after it and for the backward). a and b of one shape. Made by engine/passes/fuse_layer_norm.cpp.
struct AddLayerNormResult {
  Tensor sum, y, mean, rstd;  // the op's outputs, in order
};
AddLayerNormResult add_layer_norm(Tensor a, Tensor b, Tensor weight, Tensor bias, double eps);
// -> dx, dw, db. `eps` is the forward's (kernels that keep the variance rather than rstd need it).
std::vector<Tensor> layer_norm_backward(Tensor dy, Tensor x, Tensor weight, Tensor mean, Tensor rstd,
                                        double eps);
// The fused attention op: out = softmax(scale * q [prefix_k; k]^T + mask_bias) [prefix_v; v] and the
// scores' logsumexp per query row. q (batch..., Lq, D), k (batch..., Lk, D), v (batch..., Lk, Dv); the
// optional prefix keys/values (..., P, D|Dv) broadcast over batch dims where theirs are 1; the optional
// mask bias broadcasts to the scores (batch..., Lq, P + Lk). Model code writes nn::attention (primitives);
// engine/passes/fuse_attention.cpp produces this op from it.
struct AttentionResult {
  Tensor out, lse;
};
// A u8 mask instead fills: scores become `fill` where it is nonzero (masked_fill), or where it is zero
// with fill_where_zero. With dropout > 0 the probabilities are dropped as dropout(p, seed, offset) would
// drop them (the same mask) before the product with the values.
AttentionResult fused_attention(Tensor q, Tensor k, Tensor v, double scale, Tensor prefix_k = {},
                                Tensor prefix_v = {}, Tensor mask = {}, double fill = 0.0,
                                bool fill_where_zero = false, double dropout = 0.0, uint64_t seed = 0,
                                Tensor offset = {});
// `inputs` and `attrs` are the forward node's; -> dq, dk, dv[, dprefix_k, dprefix_v].
std::vector<Tensor> fused_attention_backward(Tensor dout, const std::vector<Tensor>& inputs, Tensor out,
                                             Tensor lse, const Attrs& attrs);
// x / max(||x||_2, eps) over the last dimension (torch.nn.functional.normalize).
Tensor l2_normalize(Tensor x, double eps = 1e-12);
Tensor l2_normalize_backward(Tensor dy, Tensor x, double eps);
// Per row: logsumexp(logits[n]) - logits[n, target[n]]. logits (N, K), target (N) i32/i64 -> (N).
Tensor softmax_cross_entropy(Tensor logits, Tensor target);
Tensor softmax_cross_entropy_backward(Tensor dloss, Tensor logits, Tensor target);

// Reductions over `axes` (negative allowed; empty = all axes).
Tensor sum(Tensor x, std::vector<int64_t> axes = {}, bool keepdim = false);
Tensor mean(Tensor x, std::vector<int64_t> axes = {}, bool keepdim = false);
Tensor max(Tensor x, std::vector<int64_t> axes = {}, bool keepdim = false);  // NaN wins, as torch.amax
Tensor max_backward(Tensor dy, Tensor x, Tensor y, std::vector<int64_t> axes, bool keepdim);
// Helper: sums a broadcast result back down to `shape` (the backward of broadcasting).
Tensor sum_to(Tensor x, const Shape& shape);

// Layout. `reshape` is a view; one dimension may be -1.
Tensor reshape(Tensor x, std::vector<int64_t> shape);
Tensor permute(Tensor x, std::vector<int64_t> perm);
Tensor transpose(Tensor x, int64_t dim0, int64_t dim1);  // helper: permute swapping two dims
Tensor contiguous(Tensor x);
Tensor expand(Tensor x, Shape shape);  // broadcast to `shape`
// x[..., start:stop:step, ...] on `axis`, with Python's clamping of start and stop; step >= 1.
Tensor slice(Tensor x, int64_t axis, int64_t start, int64_t stop, int64_t step = 1);
Tensor slice_backward(Tensor dy, const Shape& input_shape, int64_t axis, int64_t start, int64_t step);
Tensor concat(const std::vector<Tensor>& xs, int64_t axis);
Tensor repeat(Tensor x, std::vector<int64_t> repeats);            // torch.Tensor.repeat (tiling)
Tensor repeat_interleave(Tensor x, int64_t count, int64_t axis);  // torch.repeat_interleave
Tensor diagonal(Tensor x);                                        // of the last two dims
Tensor diag_embed(Tensor diag, const Shape& shape);               // zeros of `shape`, diagonal set
// Embedding lookup: rows of table (V, ...) at integer indices (any shape) -> indices.shape + (...).
// An index outside [0, V) is an error at run time naming the op and the index.
Tensor gather_rows(Tensor table, Tensor indices);
Tensor scatter_add_rows(Tensor src, Tensor indices, const Shape& table_shape);  // gather's backward

// Patch embedding: conv2d with stride = kernel size, lowered to reshape + permute + matmul.
// x (B, C, H, W), weight (D, C, P, P), bias (D) -> (B, D, H / P, W / P), as torch.nn.Conv2d.
Tensor conv2d_patch(Tensor x, Tensor weight, Tensor bias);

namespace ops {
// Registers every op row and kernel (idempotent, thread-safe). The op functions above call it, so model
// code never needs to; code that reaches the registries directly (tests, tools) may call it first.
void register_all();
}  // namespace ops

}  // namespace frost
