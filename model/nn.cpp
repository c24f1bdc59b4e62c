#include "model/nn.h"

#include <cmath>
#include <memory>

#include "engine/error.h"
#include "ops/api.h"

namespace frost::nn {

Tensor parameter(Graph& g, std::string name, Shape shape, const Philox& rng, double bound, DType dtype) {
  auto init = std::make_shared<HostTensor>(dtype, shape);
  fill_uniform(*init, rng, -bound, bound);
  return g.state(std::move(name), dtype, shape, std::move(init));
}

Tensor linear(Tensor x, Tensor w, Tensor b) {
  Tensor y = matmul(x, w);
  return b.valid() ? y + b : y;
}

Tensor attention(Tensor q, Tensor k, Tensor v, Tensor mask_bias,
                 const std::function<Tensor(Tensor)>& probs_dropout) {
  const double scale_factor = 1.0 / std::sqrt(double(q.shape()[-1]));
  Tensor scores = scale(matmul(q, k, false, true), scale_factor);  // (..., Lq, Lk)
  if (mask_bias.valid()) scores = scores + mask_bias;
  Tensor probs = softmax(scores);
  if (probs_dropout) probs = probs_dropout(probs);
  return matmul(probs, v);  // (..., Lq, D)
}

Tensor layer_norm(Tensor x, Tensor w, Tensor b, double eps) {
  const int64_t last = int64_t(x.shape().rank()) - 1;
  Tensor mu = mean(x, {last}, /*keepdim=*/true);
  Tensor d = x - mu;
  Tensor var = mean(d * d, {last}, /*keepdim=*/true);
  Tensor rstd = rsqrt(var + fill(*x.graph, {}, x.dtype(), eps));
  return d * rstd * w + b;
}

// Legend: B batch, L tokens, C channels, H heads, D = C / H head dim.
Tensor self_attention(const SelfAttentionWeights& w, Tensor x) {
  const Shape s = x.shape();
  FROST_CHECK(s.rank() == 3 && w.heads > 0 && s[2] % w.heads == 0, InvalidArgument,
              "self-attention: x must be (B, L, C) with C divisible by " << w.heads << " heads, got " << s);
  const int64_t B = s[0], L = s[1], C = s[2], H = w.heads, D = C / H;
  auto split_heads = [&](Tensor t) {                         // (B, L, C)
    return permute(reshape(t, {B, L, H, D}), {0, 2, 1, 3});  // (B, H, L, D)
  };
  Tensor q = split_heads(linear(x, w.q_w, w.q_b));
  Tensor k = split_heads(linear(x, w.k_w, w.k_b));
  Tensor v = split_heads(linear(x, w.v_w, w.v_b));
  Tensor o = permute(attention(q, k, v), {0, 2, 1, 3});      // (B, L, H, D)
  return linear(reshape(o, {B, L, C}), w.proj_w, w.proj_b);  // (B, L, C)
}

Tensor cross_entropy_one_hot(Tensor logits, Tensor one_hot) {
  Tensor nll = neg(sum(log_softmax(logits) * one_hot, {-1}));  // (B)
  return mean(nll);                                            // ()
}

void sgd(std::span<const Tensor> params, std::span<const Tensor> grads, double lr) {
  FROST_CHECK(params.size() == grads.size(), InvalidArgument,
              "sgd: " << params.size() << " parameters but " << grads.size() << " gradients");
  for (size_t i = 0; i < params.size(); ++i) {
    FROST_CHECK(grads[i].valid(), InvalidArgument,
                "sgd: parameter '" << params[i].graph->value(params[i].id).name
                                   << "' has no gradient (it does not reach the loss)");
    assign(params[i], params[i] - scale(grads[i], lr));
  }
}

}  // namespace frost::nn
