#!/usr/bin/env python3
"""Writes tests/parity/fixtures/retrieval_metrics.safetensors: similarity matrices with many ties and the
retrieval metrics the reference computes on them, for tests/retrieval_test.cpp.

The reference's metric code is transcribed below from Frozen in Time's model/metric.py (m-bain/frozen-in-time,
itself from albanie/collaborative-experts): t2v_metrics (ties broken optimistically, the shipped setting, or
averaged), v2t_metrics (ties averaged, the shipped setting, or optimistic) and cols2metrics (R@1/5/10/50 in
percent, MedR = median + 1, MeanR = mean + 1, the geometric mean of R@1, R@5, R@10 by
scipy.stats.mstats.gmean). The debugging branches (`if False:`) and query masks (unused by Frozen in Time's
evaluation) are left out. Pessimistic ranks (every tie counted against the query: what frost's tests use so
that a collapsed model cannot score) are computed here independently of the reference code.

Written per case k: case<k>.sims F32 (texts, videos); per direction and tie rule the 0-based ranks (F64)
case<k>.<t2v|v2t>.<optimistic|averaged|pessimistic>, and in the metadata the metric values.

    pip install -r tests/parity/requirements.txt
    python3 tests/parity/make_metric_fixtures.py
"""
import hashlib
import json
import pathlib

import numpy as np
import scipy
import scipy.stats
from safetensors.numpy import save_file

HERE = pathlib.Path(__file__).resolve().parent
SCRIPT_SHA256 = hashlib.sha256(pathlib.Path(__file__).read_bytes()).hexdigest()


# --- transcribed from the reference's model/metric.py -------------------------------------------------------
def t2v_metrics(sims, break_ties="optimistically"):
    assert sims.ndim == 2, "expected a matrix"
    num_queries, num_vids = sims.shape
    dists = -sims
    sorted_dists = np.sort(dists, axis=1)
    # The indices are computed such that they slice out the ground truth distances from the psuedo-rectangular
    # dist matrix
    queries_per_video = num_queries // num_vids
    gt_idx = [[np.ravel_multi_index([ii, jj], (num_queries, num_vids))
               for ii in range(jj * queries_per_video, (jj + 1) * queries_per_video)]
              for jj in range(num_vids)]
    gt_idx = np.array(gt_idx)
    gt_dists = dists.reshape(-1)[gt_idx.reshape(-1)]
    gt_dists = gt_dists[:, np.newaxis]
    rows, cols = np.where((sorted_dists - gt_dists) == 0)  # find column position of GT
    if rows.size > num_queries:
        assert np.unique(rows).size == num_queries, "issue in metric evaluation"
        if break_ties == "optimistically":
            _, idx = np.unique(rows, return_index=True)
            cols = cols[idx]
        elif break_ties == "averaging":
            # fast implementation, based on this code: https://stackoverflow.com/a/49239335
            locs = np.argwhere((sorted_dists - gt_dists) == 0)
            # Find the split indices
            steps = np.diff(locs[:, 0])
            splits = np.nonzero(steps)[0] + 1
            splits = np.insert(splits, 0, 0)
            # Compute the result columns
            summed_cols = np.add.reduceat(locs[:, 1], splits)
            counts = np.diff(np.append(splits, locs.shape[0]))
            avg_cols = summed_cols / counts
            cols = avg_cols
    assert cols.size == num_queries
    return cols2metrics(cols, num_queries), cols


def v2t_metrics(sims, break_ties="averaging"):
    # switch axes of text and video
    sims = sims.T
    assert sims.ndim == 2, "expected a matrix"
    num_queries, num_caps = sims.shape
    dists = -sims
    caps_per_video = num_caps // num_queries
    query_ranks = []
    for ii in range(num_queries):
        row_dists = dists[ii, :]
        sorted_dists = np.sort(row_dists)
        min_rank = np.inf
        for jj in range(ii * caps_per_video, (ii + 1) * caps_per_video):
            ranks = np.where((sorted_dists - row_dists[jj]) == 0)[0]
            if break_ties == "optimistically":
                rank = ranks[0]
            elif break_ties == "averaging":
                rank = ranks.mean()
            if rank < min_rank:
                min_rank = rank
        query_ranks.append(min_rank)
    query_ranks = np.array(query_ranks)
    return cols2metrics(query_ranks, num_queries), query_ranks


def cols2metrics(cols, num_queries):
    metrics = {}
    metrics["R1"] = 100 * float(np.sum(cols == 0)) / num_queries
    metrics["R5"] = 100 * float(np.sum(cols < 5)) / num_queries
    metrics["R10"] = 100 * float(np.sum(cols < 10)) / num_queries
    metrics["R50"] = 100 * float(np.sum(cols < 50)) / num_queries
    metrics["MedR"] = np.median(cols) + 1
    metrics["MeanR"] = np.mean(cols) + 1
    stats = [metrics[x] for x in ("R1", "R5", "R10")]
    metrics["geometric_mean_R1-R5-R10"] = scipy.stats.mstats.gmean(stats)
    return metrics
# --- end of the transcription --------------------------------------------------------------------------------


def pessimistic(sims, direction):
    """0-based ranks with every tie counted against the query: #scores above + #equal scores - 1 (the ground
    truth itself among the equal ones); v2t takes a video's best caption."""
    texts, videos = sims.shape
    per_video = texts // videos
    if direction == "t2v":
        out = []
        for i in range(texts):
            gt = sims[i, i // per_video]
            out.append(np.sum(sims[i] > gt) + np.sum(sims[i] == gt) - 1)
        return np.array(out, dtype=np.float64)
    out = []
    for v in range(videos):
        col = sims[:, v]
        out.append(min(np.sum(col > col[j]) + np.sum(col == col[j]) - 1
                       for j in range(v * per_video, (v + 1) * per_video)))
    return np.array(out, dtype=np.float64)


def cases():
    rng = np.random.default_rng(2021)
    yield "continuous", rng.standard_normal((60, 60)).astype(np.float32)
    yield "integer_ties", rng.integers(0, 4, (40, 40)).astype(np.float32)
    yield "two_captions_per_video", rng.integers(0, 3, (60, 30)).astype(np.float32)
    yield "collapsed", np.full((20, 20), 0.5, dtype=np.float32)
    rounded = np.round(rng.uniform(-1, 1, (120, 120)), 1).astype(np.float32)
    rounded[np.arange(120), np.arange(120)] += 0.2  # a model that has learnt something
    yield "rounded_cosines", np.clip(rounded, -1, 1).astype(np.float32)
    yield "five_captions_per_video", np.round(rng.standard_normal((75, 15)), 1).astype(np.float32)


def main():
    tensors, meta = {}, {"numpy": np.__version__, "scipy": scipy.__version__, "script_sha256": SCRIPT_SHA256,
                         "cases": []}
    for k, (name, sims) in enumerate(cases()):
        entry = {"name": name}
        tensors[f"case{k}.sims"] = sims
        for direction, fn, rules in (("t2v", t2v_metrics, {"optimistic": "optimistically", "averaged": "averaging"}),
                                     ("v2t", v2t_metrics, {"optimistic": "optimistically", "averaged": "averaging"})):
            for rule, arg in rules.items():
                metrics, ranks = fn(sims.copy(), break_ties=arg)
                tensors[f"case{k}.{direction}.{rule}"] = np.asarray(ranks, dtype=np.float64)
                entry[f"{direction}.{rule}"] = {key: float(value) for key, value in metrics.items()}
            ranks = pessimistic(sims, direction)
            tensors[f"case{k}.{direction}.pessimistic"] = ranks
            entry[f"{direction}.pessimistic"] = {key: float(v) for key, v in cols2metrics(ranks, ranks.size).items()}
        meta["cases"].append(entry)
    save_file(tensors, str(HERE / "fixtures" / "retrieval_metrics.safetensors"), metadata={"fixture": json.dumps(meta)})
    print(f"{len(meta['cases'])} cases:", ", ".join(
        f"{c['name']} t2v R1 {c['t2v.optimistic']['R1']:.1f}/{c['t2v.pessimistic']['R1']:.1f}" for c in meta["cases"]))


if __name__ == "__main__":
    main()
