#!/usr/bin/env python3
"""frost beside PyTorch eager, torch.compile and ONNX Runtime: the same model, weights, inputs and threads,
timed side by side in one run.

    make bench                  # quick: PyTorch eager and frost on the main workloads (about 4 minutes)
    make bench-full             # + torch.compile, ONNX Runtime, the video encoder at batch 8 (about 22 min)
    python3 bench/compare_pytorch.py --mode quick --config tiny     # a smoke run in seconds

Each contender is its own process (bench_frost_worker for frost, this script with --worker for the
others), started one at a time: it reads its baseline resident set, loads the weights, builds or compiles,
runs its warm-ups and writes its outputs. Before anything is timed, every contender's outputs are compared
with PyTorch eager's (embeddings and features; for the training step the losses of three steps and
parameters after them); a contender that disagrees is not timed and the run fails. Then rounds: in each
round every contender, in an order rotated round by round, runs as many repetitions as fill about half a
second. Each table gives the median and the minimum of all timed runs, frost's speed-up over each
contender (their median / frost's median), the model's GFLOP/s (GEMM and attention products, counted
analytically: `flops` below) and its share of the AVX2 FMA peak bench_fma_peak measures in the same run (on
an AVX-512 machine the real peak is higher and the share overstated), and
peak memory: each process's high-water resident set above its baseline (VmHWM after the high-water mark is
reset at the baseline: weights, optimiser state, arenas, caches, everything), beside frost's planned bytes.

Workloads (base config; `--config tiny` runs the same ones on the tiny config, for a smoke test):
  text/b1, text/b64      DistilBERT + txt_proj, 32 tokens per caption (no padding)
  video/b1/f4, video/b1/f1, video/b8/f4 (full)   SpaceTimeTransformer + vid_proj
  train/b2               forward, NormSoftmax loss, backward and AdamW of the dual encoder, 2 pairs of
                         16-token captions and 4-frame clips, dropout off on both sides (deterministic)

Writes DIR/results.json and DIR/results.md (default DIR: build/bench-compare); workers' stderr in DIR/logs.
Needs bench/requirements.txt (scripts/bench_env.sh makes the venv the make targets use).
"""
import argparse
import contextlib
import datetime
import json
import logging
import os
import pathlib
import platform
import signal
import statistics
import subprocess
import sys
import time
import warnings

ROOT = pathlib.Path(__file__).resolve().parents[1]
HERE = ROOT / "bench"
WEIGHT_SEED = 20261130
TRAIN_LR = 3e-5  # the reference's (spec §3.4)
TRAIN_WARMUP = 3  # steps before timing: their losses are compared
# Parameters compared after the warm-up steps, at both ends of both towers. (Not a space attention's qkv
# bias: the key bias shifts every score of a row alike, so its true gradient is 0 and its computed one is
# rounding noise, which AdamW's g / (sqrt(v) + 1e-6) turns into updates of either sign.)
CHECK_PARAMS = ["txt_proj.1.weight", "vid_proj.0.weight", "video_model.blocks.0.attn.qkv.weight",
                "video_model.patch_embed.proj.weight", "text_model.transformer.layer.0.ffn.lin2.bias"]
# Outputs agree when max |x - eager| / max |eager| is at most this: float32 through 6-12 layers computed
# in another order (oneDNN, MKL, ONNX Runtime kernels) differs by 1e-6-1e-5; a wrong operation, by far more.
TOLERANCE = 1e-4
# AdamW's updates after the warm-up steps (relative L2 difference, see compare()); an update computed
# wrongly differs by as much as itself (1).
UPDATE_TOLERANCE = 1e-2


# ---- workloads -------------------------------------------------------------------------------------------

def workloads(mode):
    w = [dict(name="text/b1", kind="text", batch=1, length=32),
         dict(name="text/b64", kind="text", batch=64, length=32),
         dict(name="video/b1/f4", kind="video", batch=1, frames=4),
         dict(name="video/b1/f1", kind="video", batch=1, frames=1),
         dict(name="train/b2", kind="train", batch=2, length=16, frames=4)]
    if mode == "full":
        w.insert(4, dict(name="video/b8/f4", kind="video", batch=8, frames=4))
    return w


def contenders(mode, kind):
    c = ["eager", "frost"]
    if mode == "full":
        c.insert(1, "compile")
        if kind != "train":
            c.insert(2, "ort")
    return c


def flops(config, w):
    """Multiply-adds × 2 of every matrix product of the model (projections, attention's QKᵀ and PV, MLPs,
    the patch embedding, the heads); LayerNorm, softmax, GELU and the optimiser are not counted. Training
    counts 3× the forward (each product's input and weight gradients) less the patch embedding's input
    gradient (the video needs none)."""
    import torch_models
    c = torch_models.CONFIGS[config]
    P = c["projection"]

    def text(B, S):
        t = c["text"]
        D, M = t["dim"], t["hidden_dim"]
        per_layer = 2 * B * S * D * D * 4 + 2 * 2 * B * S * S * D + 2 * 2 * B * S * D * M
        return t["n_layers"] * per_layer + 2 * B * D * P

    def video(B, F):
        v = c["video"]
        D, M, p = v["dim"], v["mlp_dim"], v["patch_size"]
        N = (v["image_size"] // p) ** 2
        L = 1 + F * N
        patch = 2 * B * F * N * 3 * p * p * D
        attention = 2 * B * L * D * 3 * D + 2 * B * L * D * D + 4 * B * L * D  # qkv, proj, the CLS row
        time_groups = 4 * B * N * F * (F + 1) * D  # each patch over [CLS, its F frames]
        space_groups = 4 * B * F * N * (N + 1) * D  # over [CLS, its frame's N patches]
        mlp = 2 * 2 * B * L * D * M
        blocks = v["depth"] * (2 * attention + time_groups + space_groups + mlp)
        return patch + blocks + 2 * B * D * P, patch

    if w["kind"] == "text":
        return text(w["batch"], w["length"])
    if w["kind"] == "video":
        return video(w["batch"], w["frames"])[0]
    v, patch = video(w["batch"], w["frames"])
    return 3 * (text(w["batch"], w["length"]) + v) - patch


# ---- process memory ----------------------------------------------------------------------------------------

def status_bytes(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def reset_peak():
    """VmHWM back to the current resident set (Linux ≥ 4.0), so the peak read later is the peak after the
    baseline."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


# ---- the PyTorch and ONNX Runtime worker -------------------------------------------------------------------

def load_subset(model, weights, prefixes):
    """Loads only the tensors under `prefixes` (a text job reads no video weights), strictly: every
    parameter of `model` from the file, nothing left over."""
    from safetensors import safe_open
    state = {}
    with safe_open(weights, framework="pt") as f:
        for k in f.keys():
            if k.startswith(prefixes):
                state[k] = f.get_tensor(k)
    model.load_state_dict(state, strict=True)


def worker(args):
    import numpy as np
    import torch
    from safetensors.numpy import load_file, save_file
    sys.path.insert(0, str(HERE))
    import torch_models as tm
    import transformers.models.distilbert.modeling_distilbert  # noqa: F401 (imported lazily otherwise)
    if args.worker == "ort":
        import onnxruntime as ort
    w = json.loads(args.workload)
    torch.set_num_threads(args.threads)
    baseline = status_bytes("VmRSS")  # libraries imported, nothing of the model yet
    reset_peak()
    t0 = time.perf_counter()
    inputs = load_file(args.inputs)
    tin = {k: torch.from_numpy(v) for k, v in inputs.items()}
    info = {"threads": torch.get_num_threads()}
    if w["kind"] == "train":
        model = tm.FrozenInTime(args.config).train()
        load_subset(model, args.weights, ("text_model.", "video_model.", "txt_proj.", "vid_proj."))
        opt = torch.optim.AdamW(model.parameters(), lr=TRAIN_LR, eps=1e-6, weight_decay=0.0)

        def forward_loss(ids, mask, video):
            text, vid = model(ids, mask, video)
            return tm.norm_softmax_loss(tm.sim_matrix(text, vid))
        if args.worker == "compile":
            forward_loss = torch.compile(forward_loss)
        losses = []

        def run():
            opt.zero_grad(set_to_none=True)
            loss = forward_loss(tin["input_ids"], tin["attention_mask"], tin["video"])
            loss.backward()
            opt.step()
            losses.append(loss.item())

        def outputs():
            params = dict(model.named_parameters())
            out = {"loss": np.array(losses, dtype=np.float32)}
            out.update({n: params[n].detach().numpy().copy() for n in CHECK_PARAMS})  # KeyError if renamed
            return out
        info["optimizer"] = "torch.optim.AdamW (defaults: foreach off on CPU), eps 1e-6, no weight decay"
        if args.worker == "compile":
            info["compiled"] = "forward + loss (backward through AOTAutograd); the optimizer step eager"
    else:
        text = w["kind"] == "text"
        names = ("input_ids", "attention_mask") if text else ("video",)
        outs = ("text_embedding", "text_features") if text else ("video_embedding", "video_features")
        if args.worker == "ort":
            so = ort.SessionOptions()
            so.intra_op_num_threads = args.threads
            so.inter_op_num_threads = 1
            so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            sess = ort.InferenceSession(args.onnx, so, providers=["CPUExecutionProvider"])
            feeds = {n: inputs[n] for n in names}
            result = {}

            def run():
                result["out"] = sess.run(list(outs), feeds)

            def outputs():
                return dict(zip(outs, result["out"]))
            info.update(ort=ort.__version__, onnx_file=os.path.basename(args.onnx))
        else:
            enc = (tm.text_encoder(args.config) if text else tm.video_encoder(args.config)).eval()
            load_subset(enc, args.weights, ("text_model.", "txt_proj.") if text else ("video_model.", "vid_proj."))
            if text:
                info["attn_implementation"] = enc.text_model.config._attn_implementation
            if args.worker == "compile":
                import torch._inductor.config as inductor
                inductor.freezing = True  # weights as constants, pre-packed: PyTorch's CPU inference advice
                enc = torch.compile(enc)
                info["compiled"] = "torch.compile, inductor, freezing on"
            feed = [tin[n] for n in names]
            result = {}

            def run():
                with torch.inference_mode() if args.worker == "eager" else torch.no_grad():
                    result["out"] = enc(*feed)

            def outputs():
                return {n: t.detach().numpy().copy() for n, t in zip(outs, result["out"])}
    setup_s = time.perf_counter() - t0
    warm = []
    for _ in range(args.warmup):
        t = time.perf_counter()
        run()
        warm.append(time.perf_counter() - t)
    save_file({k: np.ascontiguousarray(v) for k, v in outputs().items()}, args.out)
    print(json.dumps({"event": "ready", "setup_s": setup_s, "warmup_s": warm, **info}), flush=True)
    for line in sys.stdin:
        line = line.strip()
        if line.startswith("run "):
            times = []
            for _ in range(int(line[4:])):
                t = time.perf_counter()
                run()
                times.append(time.perf_counter() - t)
            print(json.dumps({"event": "times", "seconds": times}), flush=True)
        elif line == "quit":
            print(json.dumps({"event": "done", "baseline_rss": baseline, "peak_rss": status_bytes("VmHWM"),
                              "rss_anon": status_bytes("RssAnon"), "rss_file": status_bytes("RssFile")}),
                  flush=True)
            return 0
        else:
            print(f"unknown command {line!r}", file=sys.stderr)
            return 2
    return 0


# ---- the harness -------------------------------------------------------------------------------------------

class Contender:
    """One worker process; its messages are JSON lines on stdout."""

    def __init__(self, name, cmd, env, log):
        self.name = name
        self.log = open(log, "w")
        # Its own process group: closing it also ends what it started (inductor's compile workers).
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
                                     env=env, text=True, bufsize=1, start_new_session=True)
        self.times = []

    def receive(self, event):
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            raise RuntimeError(f"{self.name}: the worker exited ({self.proc.returncode}) before '{event}'; "
                               f"see {self.log.name}")
        try:
            msg = json.loads(line)
        except json.JSONDecodeError:
            raise RuntimeError(f"{self.name}: expected '{event}', got {line.strip()!r}; see {self.log.name}")
        if msg.get("event") != event:
            raise RuntimeError(f"{self.name}: expected '{event}', got {line.strip()}; see {self.log.name}")
        return msg

    def send(self, command):
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def close(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # the worker and anything it started
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.log.close()


def machine_info(threads):
    model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")),
                 platform.processor())
    import numpy
    import torch
    info = {"cpu": model, "logical_cpus": os.cpu_count(), "threads": threads, "python": platform.python_version(),
            "torch": torch.__version__, "numpy": numpy.__version__,
            "torch_blas": "MKL" if torch.backends.mkl.is_available() else "other",
            "torch_mkldnn": torch.backends.mkldnn.is_available(), "kernel": platform.release(),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    try:
        import onnxruntime
        info["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        pass
    try:
        import transformers
        info["transformers"] = transformers.__version__
    except ImportError:
        pass
    return info


def fma_peak(bin_dir, threads):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    out = subprocess.run([str(bin_dir / "bench_fma_peak")], env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def prepare_weights(config, path):
    """The same random weights for every contender, in the reference's checkpoint names (no `module.`)."""
    if path.exists():
        return
    import torch
    from safetensors.torch import save_file
    sys.path.insert(0, str(HERE))
    import torch_models as tm
    model = tm.FrozenInTime(config)
    tm.randomise(model, WEIGHT_SEED)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(path), metadata={"seed": str(WEIGHT_SEED), "torch": torch.__version__})


def prepare_inputs(config, w, path):
    import numpy as np
    from safetensors.numpy import save_file
    sys.path.insert(0, str(HERE))
    import torch_models as tm
    c = tm.CONFIGS[config]
    rng = np.random.default_rng(7)
    t = {}
    if w["kind"] in ("text", "train"):
        B, L = w["batch"], w["length"]
        ids = rng.integers(1000 % c["text"]["vocab_size"], c["text"]["vocab_size"], (B, L), dtype=np.int64)
        ids[:, 0], ids[:, -1] = 101 % c["text"]["vocab_size"], 102 % c["text"]["vocab_size"]  # [CLS] … [SEP]
        t["input_ids"], t["attention_mask"] = ids, np.ones((B, L), dtype=np.int64)
    if w["kind"] in ("video", "train"):
        S = c["video"]["image_size"]
        t["video"] = rng.standard_normal((w["batch"], w["frames"], 3, S, S), dtype=np.float32)
    save_file(t, str(path), metadata={"check_params": ",".join(CHECK_PARAMS)} if w["kind"] == "train" else None)


def export_onnx(config, w, weights, inputs, path):
    """The encoder as ONNX at this workload's shapes. The video encoder is exported in its onnx_safe form
    after checking that it equals the reference form on the workload's input."""
    if path.exists():
        return {}
    import torch
    from safetensors.numpy import load_file
    sys.path.insert(0, str(HERE))
    import torch_models as tm
    x = {k: torch.from_numpy(v) for k, v in load_file(str(inputs)).items()}
    note = {}
    if w["kind"] == "text":
        m = tm.text_encoder(config).eval()
        load_subset(m, str(weights), ("text_model.", "txt_proj."))
        args, names, outs = (x["input_ids"], x["attention_mask"]), ["input_ids", "attention_mask"], \
            ["text_embedding", "text_features"]
    else:
        ref = tm.video_encoder(config).eval()
        m = tm.video_encoder(config, onnx_safe=True).eval()
        load_subset(ref, str(weights), ("video_model.", "vid_proj."))
        load_subset(m, str(weights), ("video_model.", "vid_proj."))
        with torch.no_grad():
            a, b = ref(x["video"]), m(x["video"])
        diff = max((p - q).abs().max().item() for p, q in zip(a, b))
        if diff != 0.0:
            raise RuntimeError(f"the onnx_safe video encoder differs from the reference form by {diff}")
        note["onnx_safe_equals_reference"] = "bitwise"
        args, names, outs = (x["video"],), ["video"], ["video_embedding", "video_features"]
    t = time.perf_counter()
    with torch.no_grad(), open(os.devnull, "w") as quiet, \
            contextlib.redirect_stdout(quiet), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger("torch.onnx").setLevel(logging.ERROR)
        torch.onnx.export(m, args, str(path), input_names=names, output_names=outs, dynamo=True,
                          external_data=False, verbose=False)
    note["export_s"] = time.perf_counter() - t
    return note


def compare(ref, got, weights):
    """max |got - ref| / max |ref| per output. A trained parameter is compared by its change from the
    initial weights over the warm-up steps (the updates; not by its value, which they barely move), as
    ||got - ref|| / ||ref|| over the tensor: AdamW's step lr · m / (sqrt(v) + 1e-6) is as large for a
    gradient of 1e-7 as for one of 1, so a few elements with near-zero gradients differ by rounding alone."""
    from safetensors import safe_open
    from safetensors.numpy import load_file
    import numpy as np
    a, b = load_file(ref), load_file(got)
    err = {}
    with safe_open(weights, framework="np") as initial:
        for k in a:
            if k not in b or a[k].shape != b[k].shape:
                err[k] = float("inf")
                continue
            x, y = a[k].astype(np.float64), b[k].astype(np.float64)
            if k in initial.keys():
                x, y = x - initial.get_tensor(k), y - initial.get_tensor(k)
                err[k] = float(np.linalg.norm(x - y) / (np.linalg.norm(x) or 1.0))
            else:
                err[k] = float(np.abs(x - y).max()) / (float(np.abs(x).max()) or 1.0)
    return err


def median_min(ts):
    return statistics.median(ts), min(ts)


def run_workload(args, w, weights, bin_dir, out_dir, torch_threads):
    name = w["name"].replace("/", "_")
    inputs = out_dir / f"inputs_{args.config}_{name}.safetensors"
    prepare_inputs(args.config, w, inputs)
    names = [c for c in contenders(args.mode, w["kind"]) if c in args.contenders]
    notes = {}
    onnx = out_dir / f"{args.config}_{name}.onnx"
    if "ort" in names:
        notes.update(export_onnx(args.config, w, weights, inputs, onnx))
    warmup = TRAIN_WARMUP if w["kind"] == "train" else 2
    live, ready = {}, {}
    try:
        for c in names:  # one at a time: a process setting up never competes with another
            out = out_dir / f"out_{args.config}_{name}_{c}.safetensors"
            if c == "frost":
                cmd = [str(bin_dir / "bench_frost_worker"), "--workload", w["kind"], "--config", args.config,
                       "--weights", str(weights), "--inputs", str(inputs), "--out", str(out),
                       "--warmup", str(warmup), "--lr", str(TRAIN_LR)]
                threads = args.threads
            else:
                cmd = [sys.executable, str(HERE / "compare_pytorch.py"), "--worker", c, "--workload",
                       json.dumps(w), "--config", args.config, "--weights", str(weights), "--inputs",
                       str(inputs), "--out", str(out), "--onnx", str(onnx), "--warmup", str(warmup)]
                threads = args.threads if c == "ort" else torch_threads
                cmd += ["--threads", str(threads)]
            env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
            live[c] = Contender(c, cmd, env, out_dir / "logs" / f"{name}_{c}.log")
            ready[c] = live[c].receive("ready")
            ready[c]["out"] = str(out)
            print(f"  {w['name']:12s} {c:8s} ready: setup {ready[c]['setup_s']:.1f} s, warm-up "
                  + ", ".join(f"{x:.3f}" for x in ready[c]["warmup_s"]) + " s", flush=True)
        agree = {}
        for c in names:
            if c != "eager":
                agree[c] = compare(ready["eager"]["out"], ready[c]["out"], str(weights))
        bad = {c: e for c, e in agree.items()
               if any(v > (UPDATE_TOLERANCE if k in CHECK_PARAMS else TOLERANCE) for k, v in e.items())}
        if bad:
            raise RuntimeError(f"{w['name']}: outputs differ from PyTorch eager beyond {TOLERANCE} "
                               f"({UPDATE_TOLERANCE} for parameter updates): {bad}")
        # Repetitions per round: about half a second of each contender's time.
        reps = {c: max(1, round(0.5 / max(min(ready[c]["warmup_s"]), 1e-4))) for c in names}
        for r in range(args.rounds):
            order = names[r % len(names):] + names[:r % len(names)]
            for c in order:
                live[c].send(f"run {reps[c]}")
                live[c].times += live[c].receive("times")["seconds"]
        result = {"workload": w, "flops": flops(args.config, w), "contenders": {}, "agreement": agree,
                  "notes": notes}
        if "frost" in live:  # where frost's time goes, by op and kernel, after the timed rounds
            live["frost"].send(f"profile {max(1, min(reps['frost'], 5))}")
            result["frost_profile"] = live["frost"].receive("profile")
        for c in names:
            live[c].send("quit")
            done = live[c].receive("done")
            med, mn = median_min(live[c].times)
            info = {k: v for k, v in ready[c].items() if k not in ("event", "out")}
            result["contenders"][c] = {"median_s": med, "min_s": mn, "runs": len(live[c].times),
                                       "times_s": live[c].times, "baseline_rss": done["baseline_rss"],
                                       "peak_rss": done["peak_rss"], "rss_anon_at_end": done["rss_anon"],
                                       "rss_file_at_end": done["rss_file"],
                                       "peak_above_baseline": done["peak_rss"] - done["baseline_rss"], **info}
        return result
    finally:
        for c in live.values():
            c.close()


def mib(b):
    return b / 2**20


def table(result, peak):
    w, cs = result["workload"], result["contenders"]
    f = cs["frost"]
    lines = [f"### {w['name']}: " + describe(w), "",
             "| contender | median | min | frost speed-up (median) | GFLOP/s (median) | % of FMA peak "
             "| peak memory above baseline | frost / it |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, c in cs.items():
        gf = result["flops"] / c["median_s"] * 1e-9
        speed = "—" if name == "frost" else f"{c['median_s'] / f['median_s']:.2f}×"
        memr = "—" if name == "frost" else f"{f['peak_above_baseline'] / c['peak_above_baseline']:.2f}"
        lines.append(f"| {LABELS[name]} | {fmt_s(c['median_s'])} | {fmt_s(c['min_s'])} | {speed} | {gf:.1f} | "
                     f"{100 * gf / peak:.0f}% | {mib(c['peak_above_baseline']):,.0f} MiB | {memr} |")
    # Parameters (and a trainer's moments) live in a state store, not in the graph's own arenas.
    parts = dict(f["planned_bytes"])
    if "state_bytes" in f:
        parts.pop("weights", None), parts.pop("optimizer", None)
        parts.update(f["state_bytes"])
    planned = sum(parts.values())
    lines += ["", f"frost's plan: {mib(planned):,.0f} MiB (" + ", ".join(
        f"{k} {mib(v):,.1f}" for k, v in parts.items() if v)
        + f"); {result['flops'] / 1e9:,.1f} GFLOP per run; runs per contender: "
        + ", ".join(f"{LABELS[n]} {c['runs']}" for n, c in cs.items())
        + "; agreement with eager (max relative difference): "
        + ", ".join(f"{LABELS[n]} {max(e.values()):.1e}" for n, e in result["agreement"].items())
        + ("; torch.compile's first call (compiling) " + fmt_s(cs["compile"]["warmup_s"][0]) if "compile" in cs
           else "")
        + ("; ONNX export " + fmt_s(result["notes"]["export_s"]) if "export_s" in result["notes"] else ""), ""]
    if "frost_profile" in result:
        lines += profile_table(result["frost_profile"], peak)
    return lines


def profile_table(profile, peak, rows=10):
    """frost's time by op and kernel (CompiledGraph::run_profiled), the largest first."""
    ops = sorted(profile["ops"], key=lambda o: -o["seconds"])
    total = sum(o["seconds"] for o in ops)
    lines = [f"frost's profile ({profile['runs']} run(s) with every step timed; {fmt_s(total)} per run):", "",
             "| op | kernel | steps | time per run | share | GFLOP | GFLOP/s | % of FMA peak |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    shown, rest = ops[:rows], ops[rows:]
    if rest:
        shown = shown + [{"op": f"{len(rest)} others", "kernel": "", "steps": sum(o["steps"] for o in rest),
                          "seconds": sum(o["seconds"] for o in rest), "flops": sum(o["flops"] for o in rest)}]
    for o in shown:
        gf = o["flops"] / o["seconds"] * 1e-9 if o["seconds"] > 0 else 0.0
        lines.append(f"| {o['op']} | {o['kernel']} | {o['steps']} | {fmt_s(o['seconds'])} | "
                     f"{100 * o['seconds'] / total:.1f}% | {o['flops'] / 1e9:.2f} | {gf:.1f} | {100 * gf / peak:.0f}% |")
    return lines + [""]


LABELS = {"eager": "PyTorch eager", "compile": "torch.compile", "ort": "ONNX Runtime", "frost": "frost"}


def describe(w):
    if w["kind"] == "text":
        return f"text encoder, {w['batch']} caption(s) of {w['length']} tokens"
    if w["kind"] == "video":
        return f"video encoder, {w['batch']} clip(s) of {w['frames']} frame(s)"
    return (f"training step (forward, loss, backward, AdamW), {w['batch']} pairs, {w['length']} tokens, "
            f"{w['frames']} frames")


def fmt_s(s):
    return f"{s * 1e3:.1f} ms" if s < 1 else f"{s:.3f} s"


def markdown(report):
    info, peak = report["machine"], report["fma_peak_best_gflops"]
    before, after = (p["best_gflops"] for p in report["fma_peak"])
    md = [f"Machine: {info['cpu']}, {info['logical_cpus']} logical CPUs, {info['threads']} threads; AVX2 FMA peak "
          f"{peak:.1f} GFLOP/s (bench_fma_peak before and after: {before:.1f}, {after:.1f}); torch "
          f"{info['torch']} ({info['torch_blas']}, {report['torch_threads']} threads"
          + (", the fastest eager 1-clip video encoder of " + ", ".join(
              f"{t} threads {fmt_s(v)}" for t, v in report["torch_thread_probe"].items())
              if report.get("torch_thread_probe") else "") + ")"
          + (f", ONNX Runtime {info['onnxruntime']}" if "onnxruntime" in info else "")
          + f"; {info['date']}; mode {report['mode']}, config {report['config']}, {report.get('rounds', '?')} "
          f"rounds; {report['wall_s'] / 60:.1f} min in all.", ""]
    for r in report["results"]:
        md += table(r, peak)
    return md


def probe_torch_threads(args, weights, bin_dir, out_dir):
    """PyTorch eager on the 1-clip video encoder at each thread count up to the cores: its best is used."""
    w = dict(name="video/b1/f4", kind="video", batch=1, frames=4)
    inputs = out_dir / f"inputs_{args.config}_probe.safetensors"
    prepare_inputs(args.config, w, inputs)
    probe = {}
    for t in range(1, args.threads + 1):
        cmd = [sys.executable, str(HERE / "compare_pytorch.py"), "--worker", "eager", "--workload", json.dumps(w),
               "--config", args.config, "--weights", str(weights), "--inputs", str(inputs), "--out",
               str(out_dir / "out_probe.safetensors"), "--warmup", "1", "--threads", str(t)]
        c = Contender(f"eager/{t}", cmd, dict(os.environ, OMP_NUM_THREADS=str(t)), out_dir / "logs" / f"probe_{t}.log")
        try:
            c.receive("ready")
            c.send("run 3")
            probe[t] = statistics.median(c.receive("times")["seconds"])
            c.send("quit")
            c.receive("done")
        finally:
            c.close()
    return min(probe, key=probe.get), probe


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mode", choices=["quick", "full"], default="quick")
    ap.add_argument("--config", choices=["base", "tiny"], default="base")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--rounds", type=int, default=0, help="timed rounds (default: 5 quick, 7 full)")
    ap.add_argument("--only", default="", help="comma-separated workload names (default: all of the mode)")
    ap.add_argument("--contenders", default="eager,compile,ort,frost")
    ap.add_argument("--bin", default=str(ROOT / "build" / "bench"), help="folder of bench_frost_worker")
    ap.add_argument("--out-dir", default=str(ROOT / "build" / "bench-compare"))
    ap.add_argument("--report", help="print the tables of an earlier run's results.json and exit")
    # worker mode (internal)
    ap.add_argument("--worker", choices=["eager", "compile", "ort"])
    ap.add_argument("--workload")
    ap.add_argument("--weights")
    ap.add_argument("--inputs")
    ap.add_argument("--out")
    ap.add_argument("--onnx")
    ap.add_argument("--warmup", type=int, default=2)
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    if args.report:
        print("\n".join(markdown(json.loads(pathlib.Path(args.report).read_text()))))
        return 0
    args.contenders = args.contenders.split(",")
    args.rounds = args.rounds or (5 if args.mode == "quick" else 7)
    bin_dir, out_dir = pathlib.Path(args.bin), pathlib.Path(args.out_dir)
    for b in ("bench_frost_worker", "bench_fma_peak"):
        if not (bin_dir / b).exists():
            sys.exit(f"{bin_dir / b} is missing: build first (make build)")
    (out_dir / "logs").mkdir(parents=True, exist_ok=True)
    start = time.time()
    info = machine_info(args.threads)
    peak_before = fma_peak(bin_dir, args.threads)
    if "best_gflops" not in peak_before:
        sys.exit("bench_fma_peak: this CPU has no AVX2 + FMA, the peak the tables are measured against")
    print(f"{info['cpu']}, {args.threads} threads: AVX2 FMA peak {peak_before['best_gflops']:.1f} GFLOP/s",
          flush=True)
    weights = out_dir / f"weights_{args.config}.safetensors"
    prepare_weights(args.config, weights)
    torch_threads, probe = args.threads, None
    if args.mode == "full":
        torch_threads, probe = probe_torch_threads(args, weights, bin_dir, out_dir)
        print(f"PyTorch eager, 1-clip video encoder, by threads: {probe} → {torch_threads}", flush=True)
    results, failures = [], []
    only = [o for o in args.only.split(",") if o]
    for w in workloads(args.mode):
        if only and w["name"] not in only:
            continue
        try:
            results.append(run_workload(args, w, weights, bin_dir, out_dir, torch_threads))
        except RuntimeError as e:
            failures.append(str(e))
            print(f"FAILED {e}", flush=True)
    peak_after = fma_peak(bin_dir, args.threads)
    peak = max(peak_before["best_gflops"], peak_after["best_gflops"])
    report = {"machine": info, "mode": args.mode, "config": args.config, "fma_peak": [peak_before, peak_after],
              "fma_peak_best_gflops": peak, "torch_threads": torch_threads, "torch_thread_probe": probe,
              "command": " ".join(sys.argv), "wall_s": time.time() - start, "results": results,
              "failures": failures}
    report["rounds"] = args.rounds
    (out_dir / "results.json").write_text(json.dumps(report, indent=1))
    md = markdown(report)
    (out_dir / "results.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    if failures:
        print("\n".join(["FAILED:"] + failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
