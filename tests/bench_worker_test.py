#!/usr/bin/env python3
"""bench_frost_worker (frost's side of bench/compare_pytorch.py) driven as the harness drives it, on the
tiny parity fixtures (tests/parity/fixtures, written by PyTorch): its outputs equal PyTorch's, its protocol
answers as documented, bad commands and options fail loudly. Python's standard library only: CI installs
no PyTorch.

    python3 tests/bench_worker_test.py build/bench/bench_frost_worker tests/parity/fixtures
"""
import json
import math
import os
import struct
import subprocess
import sys
import tempfile

FORMATS = {"F32": ("f", 4), "I64": ("q", 8), "F64": ("d", 8)}


def read_safetensors(path):
    """name → (shape, values as a flat list) for the F32/I64/F64 tensors of a safetensors file."""
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, e in header.items():
        if name == "__metadata__" or e["dtype"] not in FORMATS:
            continue
        code, size = FORMATS[e["dtype"]]
        a, b = e["data_offsets"]
        raw = data[8 + n + a:8 + n + b]
        out[name] = (e["shape"], list(struct.unpack(f"<{len(raw) // size}{code}", raw)))
    return out


failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def max_rel_diff(got, want):
    scale = max(abs(x) for x in want) or 1.0
    return max(abs(a - b) for a, b in zip(got, want)) / scale


def drive(worker, workload, weights, inputs, out, warmup):
    p = subprocess.Popen([worker, "--workload", workload, "--config", "tiny", "--weights", weights, "--inputs",
                          inputs, "--out", out, "--warmup", str(warmup)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=dict(os.environ, OMP_NUM_THREADS="2"))
    ready = json.loads(p.stdout.readline())
    p.stdin.write("run 3\n")
    p.stdin.flush()
    times = json.loads(p.stdout.readline())
    p.stdin.write("profile 2\n")
    p.stdin.flush()
    profile = json.loads(p.stdout.readline())
    p.stdin.write("quit\n")
    p.stdin.flush()
    done = json.loads(p.stdout.readline())
    p.wait(timeout=60)
    err = p.stderr.read()
    p.stdout.close(), p.stderr.close(), p.stdin.close()
    check(p.returncode == 0, f"{workload}: exit code {p.returncode}: {err}")
    check(ready.get("event") == "ready" and len(ready["warmup_s"]) == warmup, f"{workload}: ready {ready}")
    check(ready.get("threads") == 2, f"{workload}: the graph runs on OMP_NUM_THREADS=2 threads: {ready}")
    check(ready.get("graph_flops", 0) > 0 and ready.get("planned_bytes", {}).get("activations", 0) > 0,
          f"{workload}: plan and cost reported: {ready}")
    check(times.get("event") == "times" and len(times["seconds"]) == 3 and all(t > 0 for t in times["seconds"]),
          f"{workload}: 'run 3' gives three positive times: {times}")
    ops = profile.get("ops", [])
    check(profile.get("event") == "profile" and profile.get("runs") == 2 and ops
          and sum(o["seconds"] for o in ops) > 0 and all(o["seconds"] >= 0 and o["steps"] > 0 for o in ops),
          f"{workload}: 'profile 2' times every op: {profile}")
    flops = sum(o["flops"] for o in ops)
    check(abs(flops - ready.get("graph_flops", -1)) <= 1e-6 * flops,
          f"{workload}: the profile's flops {flops} are the graph's {ready.get('graph_flops')}")
    check(done.get("event") == "done" and done["peak_rss"] >= done["baseline_rss"] > 0
          and done["rss_anon"] > 0, f"{workload}: memory reported: {done}")
    return ready


def main():
    worker, fixtures = sys.argv[1], sys.argv[2]
    weights = os.path.join(fixtures, "tiny_dual_weights.safetensors")
    io_path = os.path.join(fixtures, "tiny_dual_io.safetensors")
    io = read_safetensors(io_path)
    with tempfile.TemporaryDirectory() as tmp:
        # Inference: the fixture's captions (padded: lengths 7, 4, 9) and 4-frame clips; PyTorch's outputs.
        for workload, names in (("text", ("text_embedding", "text_features")),
                                ("video", ("video_embedding", "video_features"))):
            out = os.path.join(tmp, workload + ".safetensors")
            drive(worker, workload, weights, io_path, out, 1)
            got = read_safetensors(out)
            for n in names:
                check(got[n][0] == io[n][0], f"{n}: shape {got[n][0]} != {io[n][0]}")
                d = max_rel_diff(got[n][1], io[n][1])
                check(d <= 1e-5, f"{n}: max relative difference from PyTorch {d:.2e} > 1e-5")
        # Training: the first step's loss is the forward's (before any update): PyTorch's loss.
        out = os.path.join(tmp, "train.safetensors")
        drive(worker, "train", weights, io_path, out, 2)
        loss = read_safetensors(out)["loss"][1]
        want = io["loss"][1][0]
        check(len(loss) == 2 and all(math.isfinite(x) for x in loss), f"two finite losses: {loss}")
        check(abs(loss[0] - want) <= 1e-5 * abs(want), f"step 1 loss {loss[0]} != PyTorch's {want}")
        check(loss[1] != loss[0], f"step 2's loss shows step 1's update: {loss}")

        # Misuse fails loudly: an unknown command (exit 2), a bad option and a missing file (exit 1, an
        # error event, a message naming the problem).
        p = subprocess.run([worker, "--workload", "text", "--config", "tiny", "--weights", weights, "--inputs",
                            io_path, "--out", os.path.join(tmp, "x.safetensors"), "--warmup", "1"],
                           input="dance\n", capture_output=True, text=True, timeout=60)
        check(p.returncode == 2 and "unknown command 'dance'" in p.stderr, f"unknown command: {p.returncode} {p.stderr}")
        for argv, says in ((["--workload", "audio"], "--workload must be text, video or train"),
                           (["--workload", "text", "--weights", os.path.join(tmp, "none"), "--inputs", io_path,
                             "--out", os.path.join(tmp, "y")], "none"),
                           (["--workload", "train", "--weights", weights, "--inputs", io_path, "--out",
                             os.path.join(tmp, "z"), "--warmup", "1"], "--warmup must be at least 1 (2 for train")):
            p = subprocess.run([worker] + argv, input="", capture_output=True, text=True, timeout=60)
            check(p.returncode == 1 and says in p.stderr and '"event":"error"' in p.stdout,
                  f"{argv}: exit {p.returncode}, stderr {p.stderr!r}")
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
