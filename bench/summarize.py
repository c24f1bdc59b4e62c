#!/usr/bin/env python3
"""Median and minimum per benchmark from a Google Benchmark JSON file (its aggregates lack the minimum).

    build/bench/bench_kernels --benchmark_repetitions=5 --benchmark_out=out.json --benchmark_out_format=json
    python3 bench/summarize.py out.json
"""
import collections
import json
import statistics
import sys


def main(path: str) -> None:
    data = json.load(open(path))
    times = collections.defaultdict(list)
    rates = collections.defaultdict(list)
    labels = {}
    for b in data["benchmarks"]:
        if b.get("run_type") != "iteration":
            continue
        name = b["run_name"]
        times[name].append(b["real_time"])
        labels[name] = b.get("label", "")
        if "FLOP/s" in b:
            rates[name].append(b["FLOP/s"])
    ctx = data["context"]
    print(f"# {ctx.get('num_cpus')} CPUs at {ctx.get('mhz_per_cpu')} MHz, {ctx.get('date')}")
    print("| benchmark | median ms | min ms | best GFLOP/s | kernel |")
    print("| --- | --- | --- | --- | --- |")
    for name, t in times.items():
        best = max(rates.get(name, [0])) / 1e9
        print(f"| {name.replace('/real_time', '')} | {statistics.median(t):.3f} | {min(t):.3f} | {best:.1f} | {labels[name]} |")


if __name__ == "__main__":
    main(sys.argv[1])
