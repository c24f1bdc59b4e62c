#!/usr/bin/env python3
"""Full-size parity: the base Frozen in Time dual encoder (DistilBERT-base + SpaceTimeTransformer ViT-B/16,
4 frames, 224 px, 256-d) built in PyTorch (tests/parity/make_fixtures.py's reference classes) and in frost
with the same random weights, on the same captions and clips; prints the max abs and max relative error of
the text and video embeddings (256-d) and features (768-d).

    python3 scripts/parity_base.py [--frost build/frost] [--batch 2] [--frames 4] [--threads N]

PyTorch and transformers come from tests/parity/requirements.txt. The captions are tokenized by both sides
from the same vocabulary (loader/data/bert-base-uncased-vocab.txt, which is distilbert-base-uncased's): by
frost's tokenizer in frost, by the `tokenizers` library's BertWordPieceTokenizer in PyTorch.
"""
import argparse
import pathlib
import subprocess
import sys
import tempfile
import time

import tokenizers
import torch
import transformers
from safetensors.torch import load_file, save_file

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests/parity"))
import make_fixtures as ref  # noqa: E402  (the reference classes, written from the spec)

CAPTIONS = ["a man is playing a guitar on stage", "two dogs run through a snowy field",
            "a woman slices vegetables in a small kitchen", "fireworks light up the night sky over the river"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--frost", default=str(ROOT / "build/frost"))
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--frames", type=int, default=4)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    # The base config: the reference's defaults (spec §1.1, §2, §3.1).
    ref.VIDEO.update(image_size=224, patch_size=16, channels=3, dim=768, depth=12, heads=12, mlp_dim=3072,
                     num_frames=4)
    ref.PROJ = 256
    text_cfg = transformers.DistilBertConfig(dropout=0.0, attention_dropout=0.0, attn_implementation="eager")
    gen = torch.Generator().manual_seed(7)
    model = ref.FrozenInTime(transformers.DistilBertModel(text_cfg), 768).eval()
    ref.randomise(model, gen)
    vocab = ROOT / "loader/data/bert-base-uncased-vocab.txt"
    # The `tokenizers` library's BERT WordPiece (what AutoTokenizer gives for distilbert-base-uncased).
    tok = tokenizers.BertWordPieceTokenizer(str(vocab), lowercase=True)
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    captions = CAPTIONS[: args.batch]
    enc = tok.encode_batch(captions)
    batch = {"input_ids": torch.tensor([e.ids for e in enc]),
             "attention_mask": torch.tensor([e.attention_mask for e in enc])}
    assert batch["input_ids"][0, 0].item() == 101, batch["input_ids"]  # [CLS]
    clips = torch.randn(args.batch, args.frames, 3, 224, 224, generator=gen)
    t0 = time.time()
    with torch.no_grad():
        tf = model.text_features(batch["input_ids"], batch["attention_mask"])
        te = model.txt_proj(tf)
        vf = model.video_model(clips)
        ve = model.vid_proj(vf)
    t_torch = time.time() - t0

    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        weights = tmp / "fit_base.safetensors"
        save_file(ref.tensors_of(model, "module."), str(weights))
        save_file({"clips": clips.contiguous()}, str(tmp / "clips.safetensors"))
        common = ["--config", "base", "--weights", str(weights), "--batch", str(args.batch)]
        t0 = time.time()
        subprocess.run([args.frost, "encode", "text", *common, *captions, "--out", str(tmp / "text.safetensors")],
                       check=True, stdout=subprocess.DEVNULL)
        subprocess.run([args.frost, "encode", "video", *common, str(tmp / "clips.safetensors"), "--out",
                        str(tmp / "video.safetensors")], check=True, stdout=subprocess.DEVNULL)
        t_frost = time.time() - t0
        ft, fv = load_file(str(tmp / "text.safetensors")), load_file(str(tmp / "video.safetensors"))

    print(f"base config, batch {args.batch}, {args.frames} frames, {batch['input_ids'].shape[1]} tokens; "
          f"torch {torch.__version__}, transformers {transformers.__version__}")
    for name, got, want in (("text embedding (256)", ft["embeddings"], te), ("text features (768)", ft["features"], tf),
                            ("video embedding (256)", fv["embeddings"], ve), ("video features (768)", fv["features"], vf)):
        err = (got - want).abs()
        print(f"  {name:22s} max abs {err.max().item():.3g}   max abs / max |value| "
              f"{(err.max() / want.abs().max()).item():.3g}   max relative {(err / want.abs().clamp_min(1e-3)).max().item():.3g}")
    print(f"  wall: PyTorch forward {t_torch:.1f} s; frost (two processes: load, compile, run) {t_frost:.1f} s "
          "(not a benchmark: see bench/)")


if __name__ == "__main__":
    main()
