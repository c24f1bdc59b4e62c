#!/usr/bin/env python3
"""Whole-process peak memory of one embedding job: the `frost` command beside the same job in PyTorch.

    make bench-rss                                  # base config (about a minute)
    python3 bench/process_rss.py --frost build/frost --config tiny     # a smoke run

A job is what a user runs once: open the checkpoint, build the tower the job needs, embed one caption (text)
or one clip of 4 frames (video), write the result, exit. Its figure is the peak resident set of the whole
process — libraries, weights, activations, everything — as the kernel reports it to the parent (ru_maxrss,
GNU time's %M, what `/usr/bin/time -v` prints as "Maximum resident set size"). Each job runs --repeats times,
alternating the contenders; the table gives the median and minimum, and frost / PyTorch.

  frost     `frost encode text --weights W CAPTION --out X.npy` and `frost encode video --weights W
            CLIP.safetensors --out X.npy` (the clip as a tensor file, so that neither side decodes video)
  PyTorch   this script with --torch-job: import torch and bench/torch_models.py, build the tower, load its
            tensors from the same safetensors file (safe_open, only the tower's: what compare_pytorch.py's
            workers do), tokenize with transformers' BertTokenizerFast on the same vocabulary, run under
            torch.inference_mode(), save the embedding with numpy

The weights are compare_pytorch.py's (the same seed and file names); both sides use --threads threads.
Writes DIR/rss.json and DIR/rss.md (default DIR: build/bench-rss).
"""
import argparse
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
HERE = ROOT / "bench"
VOCAB = ROOT / "loader" / "data" / "bert-base-uncased-vocab.txt"  # frost's default
CAPTION = "a dog runs along the beach at sunset"
FRAMES = 4


def torch_job(args):
    """The PyTorch side of one job (run in its own process by main())."""
    import numpy as np
    import torch
    from safetensors import safe_open
    sys.path.insert(0, str(HERE))
    import torch_models as tm
    torch.set_num_threads(args.threads)
    prefixes = ("text_model.", "txt_proj.") if args.torch_job == "text" else ("video_model.", "vid_proj.")
    model = (tm.text_encoder(args.config) if args.torch_job == "text" else tm.video_encoder(args.config)).eval()
    state = {}
    with safe_open(args.weights, framework="pt") as f:
        for k in f.keys():
            if k.startswith(prefixes):
                state[k] = f.get_tensor(k)
    model.load_state_dict(state, strict=True)
    del state
    with torch.inference_mode():
        if args.torch_job == "text":
            from transformers import BertTokenizerFast
            tok = BertTokenizerFast(vocab_file=args.vocab, do_lower_case=True)
            t = tok([CAPTION], return_tensors="pt")
            embedding = model(t["input_ids"], t["attention_mask"])[0]
        else:
            with safe_open(args.clip, framework="pt") as f:
                embedding = model(f.get_tensor("clips"))[0]
    np.save(args.out, embedding.numpy())


def peak_rss_kib(cmd, env):
    """Runs cmd to completion under GNU time; its peak resident set in KiB. Not this process's own wait4:
    a child forked (or vforked) from this Python process counts this process's resident set, torch and all,
    in its maximum until it execs; GNU time's child is forked from a 2 MiB process."""
    with tempfile.NamedTemporaryFile("r") as f:
        p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", f.name, *cmd], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({p.returncode}):\n{p.stderr[-2000:]}")
        return int(f.read().split()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frost", default=str(ROOT / "build" / "frost"), help="the frost command")
    ap.add_argument("--config", default="base", choices=["base", "tiny"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out-dir", default=str(ROOT / "build" / "bench-rss"))
    ap.add_argument("--torch-job", choices=["text", "video"], help=argparse.SUPPRESS)
    ap.add_argument("--weights", help=argparse.SUPPRESS)
    ap.add_argument("--clip", help=argparse.SUPPRESS)
    ap.add_argument("--vocab", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.torch_job:
        return torch_job(args)

    sys.path.insert(0, str(HERE))
    import compare_pytorch as cp
    out_dir = pathlib.Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    weights = out_dir / f"weights_{args.config}.safetensors"
    cp.prepare_weights(args.config, weights)
    clip = out_dir / f"clip_{args.config}.safetensors"
    import torch_models as tm
    if not clip.exists():
        import numpy as np
        from safetensors.numpy import save_file
        S = tm.CONFIGS[args.config]["video"]["image_size"]
        save_file({"clips": np.random.default_rng(7).standard_normal((1, FRAMES, 3, S, S), dtype=np.float32)},
                  str(clip))
    # The vocabulary: BERT uncased (frost's default); its first rows for the tiny config's 512-row table.
    vocab = out_dir / f"vocab_{args.config}.txt"
    rows = tm.CONFIGS[args.config]["text"]["vocab_size"]
    vocab.write_text("".join(VOCAB.read_text().splitlines(keepends=True)[:rows]))
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "out.npy"
        jobs = {
            "text": {
                "frost": [args.frost, "encode", "text", "--weights", str(weights), "--config", args.config,
                          "--threads", str(args.threads), "--vocab", str(vocab), CAPTION, "--out", str(out)],
                "pytorch": [sys.executable, __file__, "--torch-job", "text", "--config", args.config,
                            "--threads", str(args.threads), "--weights", str(weights), "--vocab", str(vocab),
                            "--out", str(out)],
            },
            "video": {
                "frost": [args.frost, "encode", "video", "--weights", str(weights), "--config", args.config,
                          "--threads", str(args.threads), str(clip), "--out", str(out)],
                "pytorch": [sys.executable, __file__, "--torch-job", "video", "--config", args.config,
                            "--threads", str(args.threads), "--weights", str(weights), "--clip", str(clip),
                            "--out", str(out)],
            },
        }
        for job, sides in jobs.items():
            runs = {side: [] for side in sides}
            for _ in range(args.repeats):  # alternating, so drift on a shared machine hits both alike
                for side, cmd in sides.items():
                    out.unlink(missing_ok=True)
                    runs[side].append(peak_rss_kib(cmd, env))
                    if not out.exists():
                        raise RuntimeError(f"{side} {job}: wrote no output")
            results[job] = {side: {"runs_kib": r, "median_kib": statistics.median(r), "min_kib": min(r)}
                            for side, r in runs.items()}
            results[job]["ratio"] = results[job]["frost"]["median_kib"] / results[job]["pytorch"]["median_kib"]
    import torch
    report = {"config": args.config, "threads": args.threads, "repeats": args.repeats,
              "machine": platform.processor() or platform.machine(), "torch": torch.__version__,
              "frost": args.frost, "results": results}
    (out_dir / "rss.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [f"Peak resident set of one job, whole process ({args.config} config, {args.threads} threads, "
             f"median and min of {args.repeats}; torch {torch.__version__})", "",
             "| job | frost median (min) | PyTorch median (min) | frost / PyTorch |", "|---|---|---|---|"]
    for job, r in results.items():
        f, p = r["frost"], r["pytorch"]
        lines.append(f"| {job} | {f['median_kib'] / 1024:.0f} MiB ({f['min_kib'] / 1024:.0f}) | "
                     f"{p['median_kib'] / 1024:.0f} MiB ({p['min_kib'] / 1024:.0f}) | {r['ratio']:.2f} |")
    text = "\n".join(lines) + "\n"
    (out_dir / "rss.md").write_text(text)
    print(text)


if __name__ == "__main__":
    sys.exit(main())
