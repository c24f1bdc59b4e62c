// Model-building helpers. They emit only primitives (DESIGN principle 3): the compiler's fusion passes,
// not these helpers, turn the canonical sequences into fused ops.
//
//   Tensor w = nn::parameter(g, "fc1.weight", {C, H}, rng, 0.1);   // state initialised ~ U(-0.1, 0.1)
//   Tensor y = nn::linear(x, w, b);                                 // x @ w + b
//   Tensor o = nn::attention(q, k, v);                               // softmax(q k^T / sqrt(D)) v
//   nn::sgd(params, grads, 0.1);                                     // p <- p - lr * g, in the graph
#pragma once

#include <functional>
#include <span>
#include <string>
#include <vector>

#include "engine/graph.h"
#include "engine/random.h"

namespace frost::nn {

// A persistent parameter initialised from U(-bound, bound) with the given generator (seeded, portable).
Tensor parameter(Graph& g, std::string name, Shape shape, const Philox& rng, double bound,
                 DType dtype = DType::F32);

// x: (..., K), w: (K, N), b: (N) or none -> (..., N).
Tensor linear(Tensor x, Tensor w, Tensor b = {});

// The canonical attention sequence the fusion pass matches:
//   matmul(q, k^T) -> scale(1/sqrt(D)) -> [add(mask_bias)] -> softmax -> matmul(., v)
// q: (..., Lq, D), k and v: (..., Lk, D), mask_bias broadcast to (..., Lq, Lk) -> (..., Lq, D).
// With `probs_dropout` (a function applied to the probabilities, training only) the sequence has a dropout
// between softmax and the second matmul; the fusion pass folds it into the attention op.
Tensor attention(Tensor q, Tensor k, Tensor v, Tensor mask_bias = {},
                 const std::function<Tensor(Tensor)>& probs_dropout = {});

// The canonical LayerNorm sequence over the last dim (biased variance, as PyTorch):
//   mean -> sub -> mul(d, d) -> mean -> add(eps) -> rsqrt -> mul -> mul(w) -> add(b)
Tensor layer_norm(Tensor x, Tensor w, Tensor b, double eps);

// Multi-head self-attention on x: (B, L, C): q, k, v projections (C, C) + (C), heads, output projection.
struct SelfAttentionWeights {
  Tensor q_w, q_b, k_w, k_b, v_w, v_b, proj_w, proj_b;
  int heads = 1;
};
Tensor self_attention(const SelfAttentionWeights& w, Tensor x);

// Mean negative log-likelihood of `logits` (B, K) against one-hot targets (B, K).
Tensor cross_entropy_one_hot(Tensor logits, Tensor one_hot);

// Appends p <- p - lr * g for every (parameter, gradient) pair: the update runs inside the graph.
void sgd(std::span<const Tensor> params, std::span<const Tensor> grads, double lr);

}  // namespace frost::nn
