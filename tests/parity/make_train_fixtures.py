#!/usr/bin/env python3
"""Writes tests/parity/fixtures/tiny_train_plain.safetensors: 20 training steps of the tiny dual encoder in
PyTorch, from the weights of tiny_dual_weights.safetensors, for tests/train_step_test.cpp.

Each step: a fixed batch (4 captions, 4 clips of 4 frames; step s uses batch s % 5), forward of both
encoders, the NormSoftmax loss (temperature 0.05), backward, and transformers 4.x AdamW (the reference's,
transcribed in make_adamw_fixtures.py) at lr 1e-3 — larger than the reference's 3e-5 so 20 steps move the
weights visibly — betas (0.9, 0.999), eps 1e-6, no weight decay; dropout off. Written: the batches, the 20
losses and every parameter after the last step (`module.`-prefixed, as tiny_dual_weights).
The variants the issue adds (gradient accumulation, clipping, frozen text) come with the trainer.

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


def main():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(99)
    T = ref.TEXT
    dcfg = transformers.DistilBertConfig(
        vocab_size=T["vocab_size"], dim=T["dim"], n_layers=T["layers"], n_heads=T["heads"],
        hidden_dim=T["ffn_dim"], max_position_embeddings=T["max_positions"], dropout=0.0,
        attention_dropout=0.0, attn_implementation="eager")
    model = ref.FrozenInTime(transformers.DistilBertModel(dcfg), T["dim"]).train()
    weights = load_file(str(OUT / "tiny_dual_weights.safetensors"))
    missing, unexpected = model.load_state_dict({k[len("module."):]: v for k, v in weights.items()}, strict=False)
    assert not unexpected and all(k.endswith("position_ids") for k in missing), (missing, unexpected)
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
    opt = adamw_ref.TransformersAdamW(model.parameters(), lr=LR, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0)
    losses = []
    for s in range(STEPS):
        ids, mask, video = batches[s % BATCHES]
        _, te, _, ve = model(ids, mask, video)
        loss = ref.norm_softmax_loss(ref.sim_matrix(te, ve))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    out = {f"module.{k}": v for k, v in ref.tensors_of(model).items()}
    for b, (ids, mask, video) in enumerate(batches):
        out[f"batch{b}.input_ids"] = ids
        out[f"batch{b}.attention_mask"] = mask.float()
        out[f"batch{b}.video"] = video
    out["losses"] = torch.tensor(losses, dtype=torch.float64)
    meta = {"torch": torch.__version__, "transformers": transformers.__version__, "numpy": np.__version__,
            "script_sha256": SCRIPT_SHA256, "steps": STEPS, "batches": BATCHES, "lr": LR}
    save_file({k: v.contiguous() for k, v in out.items()}, str(OUT / "tiny_train_plain.safetensors"),
              metadata={"fixture": json.dumps(meta)})
    print(f"wrote {STEPS} steps: loss {losses[0]:.5f} -> {losses[-1]:.5f}")


if __name__ == "__main__":
    main()
