#!/usr/bin/env python3
"""frost against frost: one workload in two bench_frost_worker processes, one with some kernels switched off
(FROST_DISABLE_KERNELS, by name prefix), timed in interleaved rounds — what a kernel or a pass is worth,
measured side by side, as the machine's drift between two harness runs is larger than most single levers.

    python3 bench/ab_frost.py --workload train --disable cpu.slice_backward --rounds 6
    python3 bench/ab_frost.py --workload video --disable cpu.transpose,cpu.repeat --rounds 15

Weights and inputs are those of an earlier bench/compare_pytorch.py run (its --out-dir, default
build/bench-compare): weights_<config>.safetensors and inputs_<config>_<workload>.safetensors. Standard
library only.
"""
import argparse
import json
import os
import pathlib
import statistics
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workload", choices=["text", "video", "train"], required=True)
    ap.add_argument("--inputs", help="inputs file (default: the harness's for text/b1, video/b1/f4, train/b2)")
    ap.add_argument("--disable", required=True, help="kernel-name prefixes switched off in variant A")
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--config", default="base")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--run-dir", default=str(ROOT / "build" / "bench-compare"))
    ap.add_argument("--bin", default=str(ROOT / "build" / "bench"))
    args = ap.parse_args()
    run_dir = pathlib.Path(args.run_dir)
    default = {"text": "text_b1", "video": "video_b1_f4", "train": "train_b2"}[args.workload]
    inputs = args.inputs or str(run_dir / f"inputs_{args.config}_{default}.safetensors")
    cmd = [str(pathlib.Path(args.bin) / "bench_frost_worker"), "--workload", args.workload, "--config", args.config,
           "--weights", str(run_dir / f"weights_{args.config}.safetensors"), "--inputs", inputs,
           "--warmup", "2"]
    variants = {f"without {args.disable}": args.disable, "as shipped": ""}
    workers = {}
    for i, (name, disabled) in enumerate(variants.items()):  # started one after the other
        env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), FROST_DISABLE_KERNELS=disabled)
        p = subprocess.Popen(cmd + ["--out", str(run_dir / f"ab_{i}.safetensors")], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, env=env)
        ready = json.loads(p.stdout.readline())
        if ready.get("event") != "ready":
            raise SystemExit(f"{name}: the worker failed to start")
        workers[name] = (p, [])
    names = list(workers)
    for r in range(args.rounds):  # the order alternates round by round
        for name in names if r % 2 == 0 else names[::-1]:
            p, times = workers[name]
            p.stdin.write("run 1\n")
            p.stdin.flush()
            times += json.loads(p.stdout.readline())["seconds"]
    medians = {}
    for name, (p, times) in workers.items():
        p.stdin.write("quit\n")
        p.stdin.flush()
        p.stdout.readline()
        p.wait()
        medians[name] = statistics.median(times)
        print(f"{name:40s} median {medians[name]:.4f} s  min {min(times):.4f} s  ({len(times)} runs)")
    a, b = medians[names[0]], medians[names[1]]
    print(f"as shipped / without: {b / a:.3f} (medians; below 1: the switched-off kernels help)")


if __name__ == "__main__":
    main()
