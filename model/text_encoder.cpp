#include "model/text_encoder.h"

#include <cfloat>
#include <cmath>
#include <functional>

#include "engine/error.h"
#include "model/layers.h"
#include "model/nn.h"
#include "ops/api.h"

// Dimension legend: B captions, L tokens, C = dim, H heads, D = C / H, F = ffn_dim.

namespace frost::model {
namespace {

// (B, L, C) → (B, H, L, D)
Tensor split_heads(Tensor t, int64_t H) {
  const Shape s = t.shape();
  return permute(reshape(t, {s[0], s[1], H, s[2] / H}), {0, 2, 1, 3});
}

// (B, H, L, D) → (B, L, C)
Tensor merge_heads(Tensor t) {
  const Shape s = t.shape();
  return reshape(permute(t, {0, 2, 1, 3}), {s[0], s[2], s[1] * s[3]});
}

// The dropout sites of one encoder, each with its own Philox key (splitmix64 of seed and site number).
class DropoutSites {
 public:
  explicit DropoutSites(const TextDropout& d) : d_(d) {
    FROST_CHECK(
        d.hidden >= 0 && d.hidden < 1 && d.attention >= 0 && d.attention < 1, InvalidArgument,
        "text encoder: dropout probabilities must be in [0, 1), got " << d.hidden << " and " << d.attention);
    FROST_CHECK(
        !d.active() || (d.offset.valid() && d.offset.dtype() == DType::I64 && d.offset.shape().numel() == 1),
        InvalidArgument, "text encoder: dropout needs an I64 scalar offset value");
  }
  Tensor hidden(Tensor x) { return apply(x, d_.hidden); }
  std::function<Tensor(Tensor)> attention() {
    if (d_.attention <= 0) return {};
    return [this](Tensor probs) { return apply(probs, d_.attention); };
  }

 private:
  Tensor apply(Tensor x, double p) {
    const uint64_t site = next_++;
    if (p <= 0) return x;
    uint64_t z = d_.seed + 0x9E3779B97F4A7C15ull * (site + 1);  // splitmix64's finaliser
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return dropout(x, p, z ^ (z >> 31), d_.offset);
  }
  const TextDropout& d_;
  uint64_t next_ = 0;
};

// Self-attention over (B, L, C) with the key-padding bias; q/k/v/out linear layers named as given.
Tensor self_attention(Params& p, const TextConfig& c, Tensor x, Tensor mask_bias, const std::string& q,
                      const std::string& k, const std::string& v, const std::string& out,
                      DropoutSites& drop) {
  const int64_t C = c.dim, H = c.heads;
  Tensor qh = split_heads(linear(p, q, x, C, C), H);
  Tensor kh = split_heads(linear(p, k, x, C, C), H);
  Tensor vh = split_heads(linear(p, v, x, C, C), H);
  return linear(p, out, merge_heads(nn::attention(qh, kh, vh, mask_bias, drop.attention())), C, C);
}

}  // namespace

TextInputs text_inputs(Graph& g, const TextConfig& c, int64_t batch, int64_t length) {
  TextInputs in;
  in.input_ids = g.input("input_ids", DType::I64, {batch, length});
  in.attention_mask = g.input("attention_mask", DType::F32, {batch, length});
  if (c.arch == TextArch::Bert) in.token_type_ids = g.input("token_type_ids", DType::I64, {batch, length});
  return in;
}

TextOutputs text_encoder(Params& p, const TextConfig& c, const TextInputs& in, const std::string& prefix,
                         const TextDropout& dropout) {
  DropoutSites drop(dropout);
  Graph& g = p.graph();
  const Shape ids = in.input_ids.shape();
  FROST_CHECK(ids.rank() == 2 && in.attention_mask.shape() == ids, InvalidArgument,
              "text encoder: input_ids " << ids << " and attention_mask " << in.attention_mask.shape()
                                         << " must both be (B, L)");
  const int64_t B = ids[0], L = ids[1], C = c.dim, F = c.ffn_dim;
  FROST_CHECK(L <= c.max_positions, InvalidArgument,
              "text encoder: " << L << " tokens exceed the model's " << c.max_positions << " positions");
  auto scope = g.scope("text");
  // Key-padding bias (B, 1, 1, L): 0 for tokens, the lowest f32 for padding — HF's masked_fill / additive
  // finfo.min, which softmax turns into exact zeros.
  Tensor mask_bias =
      reshape(scale(in.attention_mask - fill(g, {}, DType::F32, 1.0), double(FLT_MAX)), {B, 1, 1, L});

  const bool bert = c.arch == TextArch::Bert;
  const std::string emb = prefix + "embeddings.";
  Tensor x =
      gather_rows(p.get(emb + "word_embeddings.weight", {c.vocab_size, C}), in.input_ids);  // (B, L, C)
  x = x + slice(p.get(emb + "position_embeddings.weight", {c.max_positions, C}), 0, 0, L);  // (L, C)
  if (bert) {
    FROST_CHECK(in.token_type_ids.valid(), InvalidArgument, "text encoder: BERT needs token_type_ids");
    x = x +
        gather_rows(p.get(emb + "token_type_embeddings.weight", {c.type_vocab_size, C}), in.token_type_ids);
  }
  x = drop.hidden(layer_norm(p, emb + "LayerNorm", x, c.eps));

  for (int64_t i = 0; i < c.layers; ++i) {
    auto layer_scope = g.scope("layer" + std::to_string(i));
    if (!bert) {  // DistilBERT's TransformerBlock, post-LN
      const std::string l = prefix + "transformer.layer." + std::to_string(i) + ".";
      const std::string a = l + "attention.";
      // No dropout after out_lin: DistilBERT's MultiHeadSelfAttention has none there.
      Tensor sa =
          self_attention(p, c, x, mask_bias, a + "q_lin", a + "k_lin", a + "v_lin", a + "out_lin", drop);
      x = layer_norm(p, l + "sa_layer_norm", sa + x, c.eps);
      Tensor ffn = drop.hidden(linear(p, l + "ffn.lin2", gelu(linear(p, l + "ffn.lin1", x, C, F)), F, C));
      x = layer_norm(p, l + "output_layer_norm", ffn + x, c.eps);
    } else {  // BertLayer, post-LN
      const std::string l = prefix + "encoder.layer." + std::to_string(i) + ".";
      const std::string a = l + "attention.";
      Tensor sa = drop.hidden(self_attention(p, c, x, mask_bias, a + "self.query", a + "self.key",
                                             a + "self.value", a + "output.dense", drop));
      x = layer_norm(p, a + "output.LayerNorm", sa + x, c.eps);
      Tensor ffn = drop.hidden(
          linear(p, l + "output.dense", gelu(linear(p, l + "intermediate.dense", x, C, F)), F, C));
      x = layer_norm(p, l + "output.LayerNorm", ffn + x, c.eps);
    }
  }
  TextOutputs out;
  out.last_hidden_state = x;
  out.cls = reshape(slice(x, 1, 0, 1), {B, C});
  if (bert && c.use_pooler) out.pooler = tanh(linear(p, prefix + "pooler.dense", out.cls, C, C));
  out.embedding = out.pooler.valid() ? out.pooler : out.cls;
  return out;
}

}  // namespace frost::model
