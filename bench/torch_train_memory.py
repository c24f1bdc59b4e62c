#!/usr/bin/env python3
"""PyTorch's memory for one training step of the dual encoder (forward + NormSoftmax loss + backward, no
optimiser), to set beside `frost plan --part dual --train` at the same config and batch.

PyTorch on CPU has no allocator statistics, so this reports the process's peak resident set (ru_maxrss):
after building the model and inputs (weights, inputs) and after the step (+ activations kept for backward,
gradients, temporaries). The difference is PyTorch's step cost; frost's counterpart is its planned
activations + IO (the gradients are IO outputs in `frost plan --train`) + workspace.

    python3 bench/torch_train_memory.py --batch 2 --text-len 32
    build/frost plan --config base --part dual --train --batch 2 --text-len 32

Needs tests/parity/requirements.txt (torch, transformers).
"""
import argparse
import pathlib
import resource
import sys

import torch
import transformers

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests/parity"))
import make_fixtures as ref  # noqa: E402


def peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--text-len", type=int, default=32)
    ap.add_argument("--frames", type=int, default=4)
    args = ap.parse_args()
    torch.set_num_threads(2)
    ref.VIDEO.update(image_size=224, patch_size=16, channels=3, dim=768, depth=12, heads=12, mlp_dim=3072, num_frames=4)
    ref.PROJ = 256
    model = ref.FrozenInTime(transformers.DistilBertModel(transformers.DistilBertConfig(
        dropout=0.0, attention_dropout=0.0, attn_implementation="eager")), 768)
    model.train()
    gen = torch.Generator().manual_seed(3)
    ids = torch.randint(1000, 20000, (args.batch, args.text_len), generator=gen)
    mask = torch.ones(args.batch, args.text_len, dtype=torch.int64)
    video = torch.randn(args.batch, args.frames, 3, 224, 224, generator=gen)
    before = peak_mib()
    _, te, _, ve = model(ids, mask, video)
    loss = ref.norm_softmax_loss(ref.sim_matrix(te, ve))
    loss.backward()
    after = peak_mib()
    params = sum(p.numel() for p in model.parameters()) * 4 / 2**20
    print(f"torch {torch.__version__}: base dual, batch {args.batch}, {args.text_len} tokens, {args.frames} frames")
    print(f"  parameters {params:.1f} MiB; peak RSS {before:.1f} MiB before the step, {after:.1f} MiB after")
    print(f"  the step's peak: +{after - before:.1f} MiB (activations kept for backward, gradients, temporaries)")


if __name__ == "__main__":
    main()
