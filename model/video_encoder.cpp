#include "model/video_encoder.h"

#include <cmath>

#include "engine/error.h"
#include "model/layers.h"
#include "model/nn.h"
#include "ops/api.h"

// Dimension legend: B clips, F frames in this clip (≤ num_frames), N patches per frame, L = 1 + F·N tokens,
// C = dim, H heads, D = C / H, M = mlp_dim, P patch side.

namespace frost::model {
namespace {

// VarAttention: q, k, v from one qkv linear (rows [q; k; v], each head-major, as timm), q scaled by
// D^-1/2. The CLS query (token 0) attends to all L tokens; each patch query attends to [CLS, its group],
// where groups are the F tokens at one patch position (time) or the N tokens of one frame (space).
Tensor var_attention(Params& p, const std::string& name, Tensor x, int64_t F, int64_t N, int64_t H,
                     bool time) {
  const Shape s = x.shape();  // (B, L, C)
  const int64_t B = s[0], L = s[1], C = s[2], D = C / H;
  Tensor qkv = linear(p, name + ".qkv", x, C, 3 * C);             // (B, L, 3C)
  qkv = permute(reshape(qkv, {B, L, 3, H, D}), {2, 0, 3, 1, 4});  // (3, B, H, L, D)
  auto part = [&](int64_t i) { return reshape(slice(qkv, 0, i, i + 1), {B, H, L, D}); };
  Tensor q = part(0), k = part(1), v = part(2);
  // The CLS query over every token.
  Tensor cls_out = nn::attention(slice(q, 2, 0, 1), k, v);  // (B, H, 1, D)
  // Patch queries in groups: time (B, H, N, F, D), space (B, H, F, N, D).
  auto grouped = [&](Tensor t) {
    Tensor r = reshape(slice(t, 2, 1, L), {B, H, F, N, D});
    return time ? permute(r, {0, 1, 3, 2, 4}) : r;
  };
  const int64_t G = time ? N : F;  // groups
  auto with_cls = [&](Tensor t) {  // [CLS, group]: (B, H, G, 1 + S, D)
    Tensor cls = expand(reshape(slice(t, 2, 0, 1), {B, H, 1, 1, D}), {B, H, G, 1, D});
    return concat({cls, grouped(t)}, 3);
  };
  Tensor out = nn::attention(grouped(q), with_cls(k), with_cls(v));  // (B, H, G, S, D)
  if (time) out = permute(out, {0, 1, 3, 2, 4});                     // back to (B, H, F, N, D)
  out = concat({cls_out, reshape(out, {B, H, F * N, D})}, 2);        // (B, H, L, D)
  out = reshape(permute(out, {0, 2, 1, 3}), {B, L, C});              // heads merged
  return linear(p, name + ".proj", out, C, C);
}

}  // namespace

Tensor video_encoder(Params& p, const VideoConfig& c, Tensor clips, const std::string& prefix) {
  Graph& g = p.graph();
  const Shape s = clips.shape();
  FROST_CHECK(s.rank() == 5 && s[2] == c.channels && s[3] == c.image_size && s[4] == c.image_size,
              InvalidArgument,
              "video encoder: clips must be (B, F, " << c.channels << ", " << c.image_size << ", "
                                                     << c.image_size << "), got " << s);
  const int64_t B = s[0], F = s[1], C = c.dim, H = c.heads, N = c.patches_per_frame();
  const int64_t P = c.patch_size;
  FROST_CHECK(F >= 1 && F <= c.num_frames, InvalidArgument,
              "video encoder: a clip of " << F << " frames; the model takes 1 to " << c.num_frames);
  auto scope = g.scope("video");
  // Patch embedding: frames as a batch, (B·F, C, H, W) → (B·F, C, 14, 14) → tokens (B, F·N, C), frame-major.
  Tensor x = conv2d_patch(reshape(clips, {B * F, c.channels, c.image_size, c.image_size}),
                          p.get(prefix + "patch_embed.proj.weight", {C, c.channels, P, P}),
                          p.get(prefix + "patch_embed.proj.bias", {C}));
  x = reshape(permute(reshape(x, {B * F, C, N}), {0, 2, 1}), {B, F * N, C});
  // CLS token, once per clip; positions: CLS gets pos_embed[0] only; patch (f, n) gets
  // pos_embed[1 + n] + temporal_embed[f] (the tables cut to this clip's F frames).
  Tensor cls = p.get(prefix + "cls_token", {1, 1, C});
  Tensor pos = p.get(prefix + "pos_embed", {1, 1 + N, C});
  Tensor temporal = slice(p.get(prefix + "temporal_embed", {1, c.num_frames, C}), 1, 0, F);  // (1, F, C)
  Tensor patch_pos =
      repeat(slice(pos, 1, 1, 1 + N), {1, F, 1}) + repeat_interleave(temporal, N, 1);  // (1, F·N, C)
  x = concat({expand(cls + slice(pos, 1, 0, 1), {B, 1, C}), x + patch_pos}, 1);        // (B, L, C)

  for (int64_t i = 0; i < c.depth; ++i) {
    auto block_scope = g.scope("block" + std::to_string(i));
    const std::string b = prefix + "blocks." + std::to_string(i) + ".";
    Tensor t = var_attention(p, b + "timeattn", layer_norm(p, b + "norm3", x, c.eps), F, N, H, /*time=*/true);
    Tensor sp =
        var_attention(p, b + "attn", layer_norm(p, b + "norm1", x + t, c.eps), F, N, H, /*time=*/false);
    x = x + sp;  // the residual adds to x, not to x + t (spec §1.4)
    Tensor h = layer_norm(p, b + "norm2", x, c.eps);
    x = x + linear(p, b + "mlp.fc2", gelu(linear(p, b + "mlp.fc1", h, C, c.mlp_dim)), c.mlp_dim, C);
  }
  x = layer_norm(p, prefix + "norm", x, c.eps);
  return reshape(slice(x, 1, 0, 1), {B, C});
}

}  // namespace frost::model
