"""The dual encoder in PyTorch, for bench/compare_pytorch.py: what a user of the reference runs.

- text: Hugging Face `transformers` DistilBertModel (the reference's text encoder, [CLS] of the last layer)
  + txt_proj = ReLU, Linear (spec §2, §3.1), with the library's default attention implementation;
- video: the SpaceTimeTransformer written the way the reference's model/video_transformer.py computes it
  (m-bain/frozen-in-time e1f13e1, ../shared/spec/frozen-in-time.md §1): einops regrouping, `attn()` as two
  einsums around a softmax, the CLS query attending globally and its key/value repeated into every group,
  `q *= scale` in place; + vid_proj = Linear;
- `onnx_safe=True`: the same module with `q = q * scale` — torch.onnx.export rejects the reference's
  in-place write — which compare_pytorch.py checks equals the reference form before exporting it;
- the similarity and the NormSoftmax loss (§3.2-3.3).

Configs mirror model/config.cpp (FitConfig::base(), FitConfig::tiny()).
"""
from functools import partial

import torch
import torch.nn as nn
import transformers
from einops import rearrange, repeat

CONFIGS = {
    "base": dict(text=dict(vocab_size=30522, dim=768, n_layers=6, n_heads=12, hidden_dim=3072,
                           max_position_embeddings=512),
                 video=dict(image_size=224, patch_size=16, dim=768, depth=12, heads=12, mlp_dim=3072,
                            num_frames=4),
                 projection=256),
    "tiny": dict(text=dict(vocab_size=512, dim=64, n_layers=2, n_heads=2, hidden_dim=128,
                           max_position_embeddings=64),
                 video=dict(image_size=32, patch_size=8, dim=64, depth=2, heads=2, mlp_dim=128, num_frames=4),
                 projection=32),
}
TEMPERATURE = 0.05


def attn(q, k, v):  # (G, i, d), (G, j, d), (G, j, d) → (G, i, d)
    return torch.einsum("bij,bjd->bid", torch.einsum("bid,bjd->bij", q, k).softmax(dim=-1), v)


class VarAttention(nn.Module):
    """Attention of the CLS token over every token and of each patch over [CLS, its group] (spec §1.5)."""

    def __init__(self, dim, heads, onnx_safe):
        super().__init__()
        self.heads, self.scale, self.onnx_safe = heads, (dim // heads) ** -0.5, onnx_safe
        self.qkv = nn.Linear(dim, 3 * dim, bias=True)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, group_from, group_to, **dims):
        q, k, v = (rearrange(t, "b n (h d) -> (b h) n d", h=self.heads) for t in self.qkv(x).chunk(3, dim=-1))
        if self.onnx_safe:
            q = q * self.scale
        else:
            q *= self.scale  # as the reference: in place
        cls_out = attn(q[:, :1], k, v)
        q_, k_, v_ = (rearrange(t[:, 1:], f"{group_from} -> {group_to}", **dims) for t in (q, k, v))
        r = q_.shape[0] // q.shape[0]
        k_ = torch.cat((repeat(k[:, :1], "b () d -> (b r) () d", r=r), k_), dim=1)
        v_ = torch.cat((repeat(v[:, :1], "b () d -> (b r) () d", r=r), v_), dim=1)
        out = rearrange(attn(q_, k_, v_), f"{group_to} -> {group_from}", **dims)
        out = torch.cat((cls_out, out), dim=1)
        return self.proj(rearrange(out, "(b h) n d -> b n (h d)", h=self.heads))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class SpaceTimeBlock(nn.Module):
    def __init__(self, dim, heads, mlp_dim, onnx_safe):
        super().__init__()
        norm = partial(nn.LayerNorm, eps=1e-6)
        self.norm1, self.attn = norm(dim), VarAttention(dim, heads, onnx_safe)
        self.timeattn = VarAttention(dim, heads, onnx_safe)
        self.norm2, self.mlp, self.norm3 = norm(dim), Mlp(dim, mlp_dim), norm(dim)

    def forward(self, x, frames, patches):
        t = self.timeattn(self.norm3(x), "b (f n) d", "(b n) f d", n=patches)
        s = self.attn(self.norm1(x + t), "b (f n) d", "(b f) n d", f=frames)
        x = x + s  # the space residual adds to x, not x + t (spec §1.4)
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, patch, dim):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, kernel_size=patch, stride=patch)

    def forward(self, video):  # (B, F, 3, S, S) → (B·F, N, dim), as the reference's VideoPatchEmbed
        _, _, c, h, w = video.shape
        return self.proj(video.reshape(-1, c, h, w)).flatten(2).transpose(2, 1)


class SpaceTimeTransformer(nn.Module):
    def __init__(self, image_size, patch_size, dim, depth, heads, mlp_dim, num_frames, onnx_safe=False):
        super().__init__()
        self.num_frames, self.patches = num_frames, (image_size // patch_size) ** 2
        self.patch_embed = PatchEmbed(patch_size, dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, self.patches + 1, dim))
        self.temporal_embed = nn.Parameter(torch.zeros(1, num_frames, dim))
        self.blocks = nn.ModuleList([SpaceTimeBlock(dim, heads, mlp_dim, onnx_safe) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, video):  # (B, F, 3, S, S) → (B, dim)
        b, frames = video.shape[:2]
        x = self.patch_embed(video)
        x = x.reshape(b, -1, x.shape[-1])  # (B, F·N, dim), frame-major
        x = torch.cat((self.cls_token.expand(b, -1, -1), x), dim=1)
        tiled = self.pos_embed[:, 1:].repeat(1, self.num_frames, 1) + \
            self.temporal_embed.repeat_interleave(self.patches, 1)
        pos = torch.cat((self.pos_embed[:, :1], tiled), dim=1)
        x = x + pos[:, :x.shape[1]]
        for block in self.blocks:
            x = block(x, frames, self.patches)
        return self.norm(x)[:, 0]


class TextEncoder(nn.Module):
    """DistilBERT's [CLS] of the last layer, then txt_proj (ReLU, Linear): (embedding, features)."""

    def __init__(self, text_model, txt_proj):
        super().__init__()
        self.text_model, self.txt_proj = text_model, txt_proj

    def forward(self, input_ids, attention_mask):
        features = self.text_model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state[:, 0]
        return self.txt_proj(features), features


class VideoEncoder(nn.Module):
    def __init__(self, video_model, vid_proj):
        super().__init__()
        self.video_model, self.vid_proj = video_model, vid_proj

    def forward(self, video):
        features = self.video_model(video)
        return self.vid_proj(features), features


class FrozenInTime(nn.Module):
    """The reference's module tree (state_dict names as its checkpoints without `module.`)."""

    def __init__(self, config, dropout=0.0, onnx_safe=False):
        super().__init__()
        c = CONFIGS[config]
        text = transformers.DistilBertModel(transformers.DistilBertConfig(
            **c["text"], dropout=dropout, attention_dropout=dropout))
        self.text_model = text
        self.video_model = SpaceTimeTransformer(**c["video"], onnx_safe=onnx_safe)
        self.txt_proj = nn.Sequential(nn.ReLU(), nn.Linear(c["text"]["dim"], c["projection"]))
        self.vid_proj = nn.Sequential(nn.Linear(c["video"]["dim"], c["projection"]))

    def forward(self, input_ids, attention_mask, video):
        text = self.txt_proj(self.text_model(input_ids=input_ids, attention_mask=attention_mask)
                             .last_hidden_state[:, 0])
        return text, self.vid_proj(self.video_model(video))


def text_encoder(config):
    """The text tower alone (a text job builds no video weights), in FrozenInTime's names."""
    c = CONFIGS[config]
    text = transformers.DistilBertModel(transformers.DistilBertConfig(**c["text"], dropout=0.0,
                                                                      attention_dropout=0.0))
    return TextEncoder(text, nn.Sequential(nn.ReLU(), nn.Linear(c["text"]["dim"], c["projection"])))


def video_encoder(config, onnx_safe=False):
    """The video tower alone, in FrozenInTime's names."""
    c = CONFIGS[config]
    return VideoEncoder(SpaceTimeTransformer(**c["video"], onnx_safe=onnx_safe),
                        nn.Sequential(nn.Linear(c["video"]["dim"], c["projection"])))


def sim_matrix(a, b, eps=1e-8):
    a_n = a / torch.clamp(a.norm(dim=1, keepdim=True), min=eps)
    b_n = b / torch.clamp(b.norm(dim=1, keepdim=True), min=eps)
    return a_n @ b_n.t()


def norm_softmax_loss(sim, temperature=TEMPERATURE):
    i = torch.log_softmax(sim / temperature, dim=1).diag()
    j = torch.log_softmax(sim.t() / temperature, dim=1).diag()
    return -i.mean() - j.mean()


def randomise(model, seed):
    """Non-trivial weights: LayerNorm weights 1 ± 0.2, biases ± 0.1, matrices ~ N(0, 1/fan_in), embedding
    tables and tokens ~ N(0, 0.5): the time attention is not the zero-initialised no-op."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1 and "norm" in name.lower() and name.endswith("weight"):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=gen))
            elif p.dim() == 1:
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
            elif "embed" in name or "cls_token" in name:
                p.copy_(0.5 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(torch.randn(p.shape, generator=gen) / p[0].numel() ** 0.5)
