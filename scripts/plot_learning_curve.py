"""Plots a `frost train` metrics log (metrics.jsonl: one line per step with `loss`, and a line with `val`
after each validation): the training loss (a 50-step running mean over the raw steps) and the held-out
text→video / video→text R@1 beside chance. For docs; frost itself never needs Python.

    pip install matplotlib
    python3 scripts/plot_learning_curve.py run/metrics.jsonl docs/learning/synthetic_tiny.png
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    src, out = sys.argv[1], sys.argv[2]
    steps, losses, val = [], [], []
    for line in open(src):
        j = json.loads(line)
        if "val" in j:
            val.append((j["step"], j["val"]["t2v"]["R1"], j["val"]["v2t"]["R1"], j["val"]["t2v"]["candidates"]))
        elif "loss" in j:
            steps.append(j["step"])
            losses.append(j["loss"])
    window = 50
    smooth = [sum(losses[max(0, i - window + 1): i + 1]) / (i + 1 - max(0, i - window + 1)) for i in range(len(losses))]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.plot(steps, losses, color="0.8", linewidth=0.5, label="loss (each step)")
    ax.plot(steps, smooth, color="C0", label=f"loss ({window}-step mean)")
    ax.set_xlabel("step")
    ax.set_ylabel("NormSoftmax loss")
    right = ax.twinx()
    if val:
        s, t2v, v2t, cands = zip(*val)
        right.plot(s, t2v, "o-", color="C1", label="held-out t2v R@1")
        right.plot(s, v2t, "s--", color="C2", label="held-out v2t R@1")
        right.axhline(100.0 / cands[-1], color="C3", linestyle=":", label=f"chance R@1 ({100.0 / cands[-1]:.2f}%)")
    right.set_ylabel("R@1 (%)")
    right.set_ylim(0, 100)
    lines = ax.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    labels = ax.get_legend_handles_labels()[1] + right.get_legend_handles_labels()[1]
    ax.legend(lines, labels, loc="center right", fontsize=8)
    ax.set_title("frost train: tiny dual encoder from scratch on the synthetic set")
    fig.tight_layout()
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    main()
