#!/usr/bin/env python3
"""Writes tests/parity/fixtures/adamw.safetensors: AdamW steps as the reference takes them, for
tests/adamw_test.cpp.

- `transformers.AdamW` as shipped in the 4.x releases the reference trained with (transformers
  4.x src/transformers/optimization.py, class AdamW, `step`): eps added to sqrt(v) *before* the bias
  correction is folded into the step size, and the decoupled weight decay applied *after* the Adam update,
  to the updated parameter. Current transformers no longer ships it, so it is transcribed below.
- `torch.optim.AdamW` (the installed torch): decay first (p *= 1 - lr wd), eps added after dividing sqrt(v)
  by sqrt(1 - beta2^t).
- The learning-rate schedules of `transformers.get_{constant,linear,cosine}_schedule_with_warmup`,
  transcribed (the lambdas of transformers/optimization.py), as factors of the base lr per step.

    pip install -r tests/parity/requirements.txt
    python3 tests/parity/make_adamw_fixtures.py
"""
import hashlib
import json
import math
import pathlib

import numpy as np
import safetensors
import torch
from safetensors.torch import save_file

HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE / "fixtures"
SCRIPT_SHA256 = hashlib.sha256(pathlib.Path(__file__).read_bytes()).hexdigest()
STEPS = 6
SHAPE = (7, 13)


class TransformersAdamW(torch.optim.Optimizer):
    """transformers 4.x AdamW (correct_bias=True), transcribed: the reference's optimiser."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                grad = p.grad
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                beta1, beta2 = group["betas"]
                state["step"] += 1
                exp_avg.mul_(beta1).add_(grad, alpha=(1.0 - beta1))
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1.0 - beta2)
                denom = exp_avg_sq.sqrt().add_(group["eps"])
                step_size = group["lr"]
                bias_correction1 = 1.0 - beta1 ** state["step"]
                bias_correction2 = 1.0 - beta2 ** state["step"]
                step_size = step_size * math.sqrt(bias_correction2) / bias_correction1
                p.addcdiv_(exp_avg, denom, value=-step_size)
                if group["weight_decay"] > 0.0:
                    p.add_(p, alpha=(-group["lr"] * group["weight_decay"]))


def schedule(kind, step, warmup, total, cycles=0.5):
    """The lr factor at `step` (0-based, as LambdaLR counts) of transformers' schedules."""
    if kind == "constant":
        return 1.0 if step >= warmup else float(step) / float(max(1.0, warmup))
    if step < warmup:
        return float(step) / float(max(1, warmup))
    if kind == "linear":
        return max(0.0, float(total - step) / float(max(1, total - warmup)))
    progress = float(step - warmup) / float(max(1, total - warmup))
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * float(cycles) * 2.0 * progress)))


def run(variant, weight_decay, lr, gen):
    p0 = torch.randn(SHAPE, generator=gen) * 0.5
    grads = [torch.randn(SHAPE, generator=gen) * (0.1 if s % 2 else 2.0) for s in range(STEPS)]
    p = torch.nn.Parameter(p0.clone())
    opt_cls = TransformersAdamW if variant == "transformers" else torch.optim.AdamW
    opt = opt_cls([p], lr=lr, betas=(0.9, 0.999), eps=1e-6, weight_decay=weight_decay)
    out = {"p0": p0, "grads": torch.stack(grads)}
    params = []
    for s in range(STEPS):
        p.grad = grads[s].clone()
        opt.step()
        params.append(p.detach().clone())
    out["params"] = torch.stack(params)
    st = opt.state[p]
    out["m"] = st["exp_avg"].clone()
    out["v"] = st["exp_avg_sq"].clone()
    return out


def main():
    gen = torch.Generator().manual_seed(20211014)
    tensors = {}
    cases = []
    for variant in ("transformers", "torch"):
        for wd in (0.0, 0.01):
            for lr in (3e-5, 1e-2):
                name = f"{variant}.wd{wd}.lr{lr}"
                for k, t in run(variant, wd, lr, gen).items():
                    tensors[f"{name}.{k}"] = t.contiguous()
                cases.append({"name": name, "variant": variant, "weight_decay": wd, "lr": lr})
    sched = {}
    for kind in ("constant", "linear", "cosine"):
        factors = [schedule(kind, s, 4, 20) for s in range(24)]
        tensors[f"schedule.{kind}"] = torch.tensor(factors, dtype=torch.float64)
        sched[kind] = {"warmup": 4, "total": 20, "steps": 24}
    meta = {"torch": torch.__version__, "numpy": np.__version__, "safetensors": safetensors.__version__,
            "script_sha256": SCRIPT_SHA256, "steps": STEPS, "betas": [0.9, 0.999], "eps": 1e-6,
            "cases": cases, "schedules": sched}
    save_file(tensors, str(OUT / "adamw.safetensors"), metadata={"fixture": json.dumps(meta)})
    print(f"wrote {len(cases)} AdamW cases and {len(sched)} schedules with torch {torch.__version__}")


if __name__ == "__main__":
    main()
