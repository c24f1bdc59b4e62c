#!/usr/bin/env python3
"""Writes the PyTorch parity fixtures of the Frozen in Time dual encoder (tiny config) for
tests/parity_test.cpp. The C++ tests read only the committed fixtures; CI needs no PyTorch.

The reference model, built here in PyTorch:
- text: Hugging Face `transformers` DistilBertModel (the reference's text encoder; [CLS] of the last
  layer) and BertModel (last_hidden_state and pooler_output), eager attention, dropout off;
- video: a transcription of the reference's SpaceTimeTransformer written from
  ../shared/spec/frozen-in-time.md §1 (einops-free), itself checked against timm's VisionTransformer on
  1-frame input with zero time attention (asserted below before anything is written);
- heads, cosine similarity and the NormSoftmax loss as §3.

Weights are random and non-trivial (LayerNorm weights around 1, not 1; biases non-zero; the time attention
not zero). Each model has a weights file in its checkpoint's naming (tiny_dual_weights: a converted Frozen in
Time checkpoint with `module.`; tiny_bert_weights: an HF BERT with `bert.` and an MLM head) and an io file
with the inputs, every output and, for the dual encoder, the gradient of the loss with respect to every
parameter ("grad.<name>", frost's names).
Metadata: package versions, the config, and the SHA-256 of this script (a C++ test fails when the script
changed but the fixtures were not regenerated).

    pip install -r tests/parity/requirements.txt
    python3 tests/parity/make_fixtures.py
"""
import hashlib
import json
import pathlib
from functools import partial

import numpy as np
import timm
import torch
import torch.nn as nn
import transformers
from safetensors.torch import save_file

HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE / "fixtures"
SCRIPT_SHA256 = hashlib.sha256(pathlib.Path(__file__).read_bytes()).hexdigest()

# The tiny config (model/config.cpp FitConfig::tiny()).
TEXT = dict(vocab_size=512, dim=64, layers=2, heads=2, ffn_dim=128, max_positions=64)
VIDEO = dict(image_size=32, patch_size=8, channels=3, dim=64, depth=2, heads=2, mlp_dim=128, num_frames=4)
PROJ = 32
TEMPERATURE = 0.05
SIM_EPS = 1e-8


# ---- the video encoder, from the spec ----------------------------------------------------------------------

def attn(q, k, v):
    return torch.einsum("bij,bjd->bid", torch.einsum("bid,bjd->bij", q, k).softmax(dim=-1), v)


class VarAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, F, N, time):
        B, L, C = x.shape
        H, D = self.heads, C // self.heads
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        q, k, v = [t.reshape(B, L, H, D).permute(0, 2, 1, 3).reshape(B * H, L, D) for t in (q, k, v)]
        q = q * self.scale
        cls_out = attn(q[:, :1], k, v)  # the CLS query attends to every token
        q_, k_, v_ = q[:, 1:], k[:, 1:], v[:, 1:]
        if time:  # 'b (f n) d -> (b n) f d'
            q_, k_, v_ = [t.reshape(B * H, F, N, D).transpose(1, 2).reshape(B * H * N, F, D) for t in (q_, k_, v_)]
            r = N
        else:  # 'b (f n) d -> (b f) n d'
            q_, k_, v_ = [t.reshape(B * H * F, N, D) for t in (q_, k_, v_)]
            r = F
        # CLS key/value prepended to every group: repeat 'b () d -> (b r) () d'
        k_ = torch.cat((k[:, :1].repeat_interleave(r, dim=0), k_), dim=1)
        v_ = torch.cat((v[:, :1].repeat_interleave(r, dim=0), v_), dim=1)
        out = attn(q_, k_, v_)
        if time:
            out = out.reshape(B * H, N, F, D).transpose(1, 2).reshape(B * H, F * N, D)
        else:
            out = out.reshape(B * H, F * N, D)
        out = torch.cat((cls_out, out), dim=1)
        return self.proj(out.reshape(B, H, L, D).permute(0, 2, 1, 3).reshape(B, L, C))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class SpaceTimeBlock(nn.Module):
    def __init__(self, dim, heads, mlp_dim, norm):
        super().__init__()
        self.norm1, self.attn = norm(dim), VarAttention(dim, heads)
        self.timeattn, self.norm3 = VarAttention(dim, heads), norm(dim)
        self.norm2, self.mlp = norm(dim), Mlp(dim, mlp_dim)

    def forward(self, x, F, N):
        t = self.timeattn(self.norm3(x), F, N, time=True)
        s = self.attn(self.norm1(x + t), F, N, time=False)
        x = x + s  # the residual adds to x, not to x + t
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, patch, channels, dim):
        super().__init__()
        self.proj = nn.Conv2d(channels, dim, kernel_size=patch, stride=patch)


class SpaceTimeTransformer(nn.Module):
    def __init__(self, image_size, patch_size, channels, dim, depth, heads, mlp_dim, num_frames):
        super().__init__()
        norm = partial(nn.LayerNorm, eps=1e-6)
        self.num_frames = num_frames
        self.patches = (image_size // patch_size) ** 2
        self.patch_embed = PatchEmbed(patch_size, channels, dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, self.patches + 1, dim))
        self.temporal_embed = nn.Parameter(torch.zeros(1, num_frames, dim))
        self.blocks = nn.ModuleList([SpaceTimeBlock(dim, heads, mlp_dim, norm) for _ in range(depth)])
        self.norm = norm(dim)

    def forward(self, x):
        B, F, C, H, W = x.shape
        assert F <= self.num_frames
        N = self.patches
        x = self.patch_embed.proj(x.reshape(B * F, C, H, W)).flatten(2).transpose(1, 2)  # (B·F, N, D)
        x = x.reshape(B, F * N, -1)
        x = torch.cat((self.cls_token.expand(B, -1, -1), x), dim=1)
        cls_embed = self.pos_embed[:, :1]
        tile_pos = self.pos_embed[:, 1:].repeat(1, self.num_frames, 1)
        tile_temporal = self.temporal_embed.repeat_interleave(N, 1)
        total = torch.cat((cls_embed, tile_pos + tile_temporal), dim=1)
        x = x + total[:, : 1 + F * N]
        for block in self.blocks:
            x = block(x, F, N)
        return self.norm(x)[:, 0]


class FrozenInTime(nn.Module):
    def __init__(self, text_model, text_dim):
        super().__init__()
        self.text_model = text_model
        self.video_model = SpaceTimeTransformer(**VIDEO)
        self.txt_proj = nn.Sequential(nn.ReLU(), nn.Linear(text_dim, PROJ))
        self.vid_proj = nn.Sequential(nn.Linear(VIDEO["dim"], PROJ))

    def text_features(self, ids, mask):
        return self.text_model(input_ids=ids, attention_mask=mask).last_hidden_state[:, 0, :]

    def forward(self, ids, mask, video):
        tf = self.text_features(ids, mask)
        vf = self.video_model(video)
        return tf, self.txt_proj(tf), vf, self.vid_proj(vf)


def sim_matrix(a, b, eps=SIM_EPS):
    a_n = a / torch.max(a.norm(dim=1)[:, None], eps * torch.ones_like(a.norm(dim=1)[:, None]))
    b_n = b / torch.max(b.norm(dim=1)[:, None], eps * torch.ones_like(b.norm(dim=1)[:, None]))
    return a_n @ b_n.t()


def norm_softmax_loss(x, temperature=TEMPERATURE):
    i_logsm = torch.log_softmax(x / temperature, dim=1)
    j_logsm = torch.log_softmax(x.t() / temperature, dim=1)
    idiag, jdiag = torch.diag(i_logsm), torch.diag(j_logsm)
    return -idiag.sum() / len(idiag) - jdiag.sum() / len(jdiag)


def randomise(module, gen):
    """Non-trivial weights: LayerNorm weights 1 ± 0.2, biases ± 0.1, matrices ~ N(0, 1/fan_in), tables ~ N(0, 0.5)."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.dim() == 1 and ("norm" in name.lower()) and name.endswith("weight"):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=gen))
            elif p.dim() == 1:
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
            elif "embed" in name or "cls_token" in name:
                p.copy_(0.5 * torch.randn(p.shape, generator=gen))
            else:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=gen) / fan_in ** 0.5)


def check_against_timm(gen):
    """Our SpaceTimeTransformer on one frame, with zero time attention, equals timm's ViT."""
    ours = SpaceTimeTransformer(**VIDEO).eval()
    randomise(ours, gen)
    with torch.no_grad():
        ours.temporal_embed.zero_()  # as initialised from a ViT: no temporal term
        for b in ours.blocks:  # the reference's 'zeros' time init
            b.timeattn.qkv.weight.zero_()
            b.timeattn.qkv.bias.zero_()
            b.timeattn.proj.weight.fill_(1)
            b.timeattn.proj.bias.zero_()
    vit = timm.models.vision_transformer.VisionTransformer(
        img_size=VIDEO["image_size"], patch_size=VIDEO["patch_size"], embed_dim=VIDEO["dim"], depth=VIDEO["depth"],
        num_heads=VIDEO["heads"], mlp_ratio=VIDEO["mlp_dim"] / VIDEO["dim"], qkv_bias=True,
        norm_layer=partial(nn.LayerNorm, eps=1e-6), num_classes=0).eval()
    missing, unexpected = vit.load_state_dict(ours.state_dict(), strict=False)
    assert not missing, missing
    assert all(k.startswith("blocks.") and (".timeattn." in k or ".norm3." in k) or k == "temporal_embed"
               for k in unexpected), unexpected
    x = torch.randn(2, 1, 3, VIDEO["image_size"], VIDEO["image_size"], generator=gen)
    with torch.no_grad():
        a = ours(x)
        b = vit.forward_features(x[:, 0])[:, 0]
    err = (a - b).abs().max().item()
    assert err < 1e-5, f"SpaceTimeTransformer differs from timm's ViT by {err}"
    return err


def tensors_of(model, prefix=""):
    return {prefix + k: v.detach().clone().contiguous() for k, v in model.state_dict().items()
            if not k.endswith("position_ids")}


def tiny_vocab():
    """A 512-token uncased WordPiece vocabulary for the tiny config (the `frost encode text` tests): BERT's
    special tokens, letters, digits, punctuation, their ## continuations, and common caption words."""
    words = ("the a an of and in on to with is are man woman person people dog cat car video clip shows "
             "playing running walking talking cooking music game street water beach city night day room "
             "kitchen food ball field road house tree sky sun snow rain red blue green white black small big "
             "young old two three one group child children girl boy men women is at by for from up down out "
             "into over under near while his her their its this that some about how what who where when").split()
    base = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = [chr(c) for c in range(ord("a"), ord("z") + 1)] + [str(d) for d in range(10)] + list(".,!?'-:;()\"&")
    vocab = base + chars + ["##" + c for c in chars if c.isalnum()]
    for w in words:
        if w not in vocab:
            vocab.append(w)
    while len(vocab) < TEXT["vocab_size"]:
        vocab.append(f"[unused{len(vocab)}]")
    return vocab[: TEXT["vocab_size"]]


def main():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1234)
    timm_err = check_against_timm(gen)
    OUT.mkdir(exist_ok=True)
    (OUT / "tiny_vocab.txt").write_text("\n".join(tiny_vocab()) + "\n")
    meta = {"torch": torch.__version__, "transformers": transformers.__version__, "timm": timm.__version__,
            "numpy": np.__version__, "script_sha256": SCRIPT_SHA256, "timm_check_max_abs": f"{timm_err:.3g}"}

    # ---- the dual encoder with DistilBERT: forward, loss, gradients --------------------------------------------
    dcfg = transformers.DistilBertConfig(
        vocab_size=TEXT["vocab_size"], dim=TEXT["dim"], n_layers=TEXT["layers"], n_heads=TEXT["heads"],
        hidden_dim=TEXT["ffn_dim"], max_position_embeddings=TEXT["max_positions"], dropout=0.0,
        attention_dropout=0.0, attn_implementation="eager")
    model = FrozenInTime(transformers.DistilBertModel(dcfg), TEXT["dim"]).eval()
    randomise(model, gen)
    B, L = 3, 9
    lengths = [7, 4, 9]
    ids = torch.zeros(B, L, dtype=torch.int64)
    mask = torch.zeros(B, L, dtype=torch.int64)
    for i, n in enumerate(lengths):
        ids[i, :n] = torch.randint(1, TEXT["vocab_size"], (n,), generator=gen)
        mask[i, :n] = 1
    S = VIDEO["image_size"]
    video = torch.randn(B, VIDEO["num_frames"], 3, S, S, generator=gen)
    tf, te, vf, ve = model(ids, mask, video)
    sim = sim_matrix(te, ve)
    loss = norm_softmax_loss(sim)
    model.zero_grad()
    loss.backward()
    # The weights as a converted Frozen in Time checkpoint (DataParallel's `module.` prefix kept).
    save_file(tensors_of(model, "module."), str(OUT / "tiny_dual_weights.safetensors"),
              metadata={"fixture": json.dumps(meta)})
    out = {}
    for k, p in model.named_parameters():
        out["grad." + k] = p.grad.detach().clone().contiguous()
    out.update({"input_ids": ids, "attention_mask": mask.float(), "video": video,
                "text_features": tf.detach(), "text_embedding": te.detach(), "video_features": vf.detach(),
                "video_embedding": ve.detach(), "similarity": sim.detach(), "loss": loss.detach().reshape(())})
    # Fewer frames: 1 (an image, time attention still runs) and 2, forward only.
    with torch.no_grad():
        for f in (1, 2):
            clip = torch.randn(B, f, 3, S, S, generator=gen)
            feat = model.video_model(clip)
            out[f"f{f}.video"] = clip
            out[f"f{f}.video_features"] = feat
            out[f"f{f}.video_embedding"] = model.vid_proj(feat)
    meta["lengths"] = lengths
    save_file({k: v.contiguous() for k, v in out.items()}, str(OUT / "tiny_dual_io.safetensors"),
              metadata={"fixture": json.dumps(meta)})

    # ---- BERT text encoder: last_hidden_state and pooler_output ------------------------------------------------
    bcfg = transformers.BertConfig(
        vocab_size=TEXT["vocab_size"], hidden_size=TEXT["dim"], num_hidden_layers=TEXT["layers"],
        num_attention_heads=TEXT["heads"], intermediate_size=TEXT["ffn_dim"],
        max_position_embeddings=TEXT["max_positions"], type_vocab_size=2, hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0, attn_implementation="eager")
    bert = transformers.BertModel(bcfg).eval()
    randomise(bert, gen)
    types = torch.zeros(B, L, dtype=torch.int64)
    types[:, 3:] = 1
    with torch.no_grad():
        r = bert(input_ids=ids, attention_mask=mask, token_type_ids=types)
    # As an HF checkpoint of a pre-training model: `bert.` prefixes and an MLM head frost must ignore.
    weights = tensors_of(bert, "bert.")
    weights["cls.predictions.bias"] = torch.randn(TEXT["vocab_size"], generator=gen)
    weights["cls.predictions.transform.dense.weight"] = torch.randn(TEXT["dim"], TEXT["dim"], generator=gen)
    save_file(weights, str(OUT / "tiny_bert_weights.safetensors"), metadata={"fixture": json.dumps(meta)})
    bout = {}
    bout.update({"input_ids": ids, "attention_mask": mask.float(), "token_type_ids": types,
                 "last_hidden_state": r.last_hidden_state, "pooler_output": r.pooler_output})
    save_file({k: v.contiguous() for k, v in bout.items()}, str(OUT / "tiny_bert_io.safetensors"),
              metadata={"fixture": json.dumps(meta)})
    (OUT / "tiny_bert_config.json").write_text(bcfg.to_json_string())
    print(f"timm check {timm_err:.3g}; loss {loss.item():.6f}; wrote {OUT}")


if __name__ == "__main__":
    main()
