#!/usr/bin/env python3
"""Writes tests/parity/fixtures/tiny_train_{plain,accum2,clip,frozen_text}.safetensors: 20 training steps of
the tiny dual encoder in PyTorch, from the weights of tiny_dual_weights.safetensors, for
tests/train_step_test.cpp.

Each step: a fixed batch (4 captions, 4 clips of 4 frames; step s uses batch s % 5), forward of both
encoders, the NormSoftmax loss (temperature 0.05), backward, and transformers 4.x AdamW (the reference's,
transcribed in make_adamw_fixtures.py) at lr 1e-3 — larger than the reference's 3e-5 so 20 steps move the
weights visibly — betas (0.9, 0.999), eps 1e-6, no weight decay; dropout off. The variants:
  plain        one batch per step
  accum2       gradient accumulation over 2 micro-batches (batches 2s and 2s + 1, mod 5): loss.backward()
               on each — the step's loss and gradient are the sums, each micro-batch with its own in-batch
               negatives
  clip         torch.nn.utils.clip_grad_norm_(max_norm 20) before each step (some steps clip, some not)
  frozen_text  the text encoder frozen (requires_grad False, not given to the optimiser); txt_proj trains
Written per variant: the batches, the 20 step losses, the 20 global gradient norms (before clipping, as
clip_grad_norm_ computes them) and every parameter after the last step (`module.`-prefixed).

    pip install -r tests/parity/requirements.txt
    python3 tests/parity/make_train_fixtures.py
"""
import hashlib
import json
import pathlib

import numpy as np
import torch
import transformers
from safetensors.torch import load_file, save_file

import make_adamw_fixtures as adamw_ref
import make_fixtures as ref

HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE / "fixtures"
SCRIPT_SHA256 = hashlib.sha256(pathlib.Path(__file__).read_bytes()).hexdigest()
STEPS, BATCHES, B, L = 20, 5, 4, 8
LR = 1e-3


# accum2 at half the lr: at 1e-3 its 40 batches fit the loss to 0.04, where gradients shrink to rounding
# noise that Adam normalises into full steps — a fixture that measures noise, not the step.
VARIANTS = {"plain": dict(accum=1, clip=None, frozen=None), "accum2": dict(accum=2, clip=None, frozen=None, lr=5e-4),
            "clip": dict(accum=1, clip=20.0, frozen=None), "frozen_text": dict(accum=1, clip=None, frozen="text_model.")}


def make_batches():
    gen = torch.Generator().manual_seed(99)
    T = ref.TEXT
    S = ref.VIDEO["image_size"]
    batches = []
    for _ in range(BATCHES):
        lengths = torch.randint(3, L + 1, (B,), generator=gen)
        ids = torch.zeros(B, L, dtype=torch.int64)
        mask = torch.zeros(B, L, dtype=torch.int64)
        for i, n in enumerate(lengths.tolist()):
            ids[i, :n] = torch.randint(1, T["vocab_size"], (n,), generator=gen)
            mask[i, :n] = 1
        batches.append((ids, mask, torch.randn(B, ref.VIDEO["num_frames"], 3, S, S, generator=gen)))
    return batches


def run(variant, batches):
    torch.manual_seed(0)
    T = ref.TEXT
    dcfg = transformers.DistilBertConfig(
        vocab_size=T["vocab_size"], dim=T["dim"], n_layers=T["layers"], n_heads=T["heads"],
        hidden_dim=T["ffn_dim"], max_position_embeddings=T["max_positions"], dropout=0.0,
        attention_dropout=0.0, attn_implementation="eager")
    model = ref.FrozenInTime(transformers.DistilBertModel(dcfg), T["dim"]).train()
    weights = load_file(str(OUT / "tiny_dual_weights.safetensors"))
    missing, unexpected = model.load_state_dict({k[len("module."):]: v for k, v in weights.items()}, strict=False)
    assert not unexpected and all(k.endswith("position_ids") for k in missing), (missing, unexpected)
    v = VARIANTS[variant]
    if v["frozen"]:
        for name, p in model.named_parameters():
            if name.startswith(v["frozen"]):
                p.requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = adamw_ref.TransformersAdamW(params, lr=v.get("lr", LR), betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0)
    losses, norms = [], []
    for s in range(STEPS):
        opt.zero_grad()
        total = 0.0
        for k in range(v["accum"]):
            ids, mask, video = batches[(s * v["accum"] + k) % BATCHES]
            _, te, _, ve = model(ids, mask, video)
            loss = ref.norm_softmax_loss(ref.sim_matrix(te, ve))
            loss.backward()
            total += loss.item()
        norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(p.grad) for p in params]))
        if v["clip"] is not None:
            returned = torch.nn.utils.clip_grad_norm_(params, v["clip"])
            assert torch.equal(returned, norm), (returned, norm)
        opt.step()
        losses.append(total)
        norms.append(norm.item())
    return model, losses, norms


def main():
    batches = make_batches()
    for variant, v in VARIANTS.items():
        model, losses, norms = run(variant, batches)
        out = {f"module.{k}": t for k, t in ref.tensors_of(model).items()}
        for b, (ids, mask, video) in enumerate(batches):
            out[f"batch{b}.input_ids"] = ids
            out[f"batch{b}.attention_mask"] = mask.float()
            out[f"batch{b}.video"] = video
        out["losses"] = torch.tensor(losses, dtype=torch.float64)
        out["grad_norms"] = torch.tensor(norms, dtype=torch.float64)
        meta = {"torch": torch.__version__, "transformers": transformers.__version__, "numpy": np.__version__,
                "script_sha256": SCRIPT_SHA256, "steps": STEPS, "batches": BATCHES, "lr": v.get("lr", LR),
                "accumulation": v["accum"], "clip_norm": v["clip"] or 0.0, "frozen": v["frozen"] or ""}
        save_file({k: t.contiguous() for k, t in out.items()}, str(OUT / f"tiny_train_{variant}.safetensors"),
                  metadata={"fixture": json.dumps(meta)})
        clipped = sum(n > (v["clip"] or float("inf")) for n in norms)
        print(f"{variant}: loss {losses[0]:.5f} -> {losses[-1]:.5f}, norms {min(norms):.3g}..{max(norms):.3g}"
              f", {clipped} steps clipped")


if __name__ == "__main__":
    main()
