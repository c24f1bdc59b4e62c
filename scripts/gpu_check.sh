#!/usr/bin/env bash
# The GPU check (issue 22): one prepared script for a lent GPU host, within ~5 minutes of device time.
#
#   scripts/gpu_check.sh prepare   here (no GPU needed): builds the reduced CUDA build (build-gpu: engine,
#                                  ops, model, loader without FFmpeg and oneDNN; sm_90) and packs the test and
#                                  bench binaries with the shared libraries the GPU host lacks into .gpu/
#   scripts/gpu_check.sh cli       on the GPU host: `frost encode` with --backend cuda against cpu
#   scripts/gpu_check.sh sanitize  on the GPU host, after run: compute-sanitizer memcheck and racecheck over
#                                  the CUDA kernels' tests
#   scripts/gpu_check.sh run       on the GPU host (device tool: carry .gpu): runs the cuda backend's tests,
#                                  the op table on CUDA against the CPU reference kernels node by node, the
#                                  model's parity fixtures on CUDA in F32, and a first timing of the base
#                                  video encoder beside PyTorch eager on the same GPU; log + JSON under $OUT
#
# The GPU host has CUDA 13 and PyTorch (whose wheels bring cuBLAS) but none of the Debian -dev packages:
# binaries are built here and carried; cuBLAS is found there.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

prepare() {
  set -e
  cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DFROST_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DFROST_ONEDNN=OFF -DFROST_FFMPEG=OFF >/dev/null
  cmake --build build-gpu --target cuda_test op_test parity_test bench_model frost -j "$(nproc)"
  rm -rf .gpu && mkdir -p .gpu/bin .gpu/lib
  cp build-gpu/tests/cuda_test build-gpu/tests/op_test build-gpu/tests/parity_test build-gpu/bench/bench_model \
    build-gpu/frost .gpu/bin/
  # Two preprocessed tiny clips for the `cli` check (this build reads no video files: no FFmpeg).
  build/frost clip tests/fixtures/images/quadrants.png tests/fixtures/images/photo.jpg --frames 4 --size 32 \
    --out .gpu/clips.safetensors >/dev/null
  strip .gpu/bin/*
  # Every shared library the binaries need except the C and C++ runtimes (the host's are newer) and cuBLAS
  # (found on the host: too large to carry).
  for lib in $(ldd .gpu/bin/* | awk '/=> \//{print $3}' | sort -u); do
    case "$(basename "$lib")" in
      libc.so*|libm.so*|libdl.so*|libpthread.so*|librt.so*|ld-linux*|libstdc++*|libgcc_s*|libcublas*) ;;
      *) cp -L "$lib" .gpu/lib/ ;;
    esac
  done
  echo "$ROOT" >.gpu/built_in
  grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >>.git/info/exclude
  du -sh .gpu
}

# On the GPU host: LIBS for frost's binaries (the carried libraries and cuBLAS — the toolkit's, or the one
# PyTorch's wheels bring), and the path the test binaries were built in pointing at this checkout (they name
# their fixture folders by it).
host_setup() {
  local blas built_in
  blas=$(dirname "$( (ls /usr/local/cuda/lib64/libcublas.so.13 /usr/local/cuda/targets/x86_64-linux/lib/libcublas.so.13 2>/dev/null;
                      python3 -c 'import nvidia, pathlib; [print(p) for p in pathlib.Path(list(nvidia.__path__)[0]).rglob("libcublas.so.13")]' 2>/dev/null) | head -1)")
  echo "cuBLAS from: $blas"
  # Only for frost's binaries: Python and PyTorch keep the host's libraries.
  LIBS="$ROOT/.gpu/lib:$blas:${LD_LIBRARY_PATH:-}"
  built_in=$(cat .gpu/built_in)
  if [ "$built_in" != "$ROOT" ] && [ ! -e "$built_in" ]; then mkdir -p "$(dirname "$built_in")" && ln -s "$ROOT" "$built_in"; fi
}

run() {
  OUT=${OUT:-/tmp/gpu_check}
  mkdir -p "$OUT"
  exec > >(tee "$OUT/gpu_check.log") 2>&1
  local start=$SECONDS
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv
  host_setup
  local status=0
  for t in cuda_test op_test parity_test; do
    echo "== $t"
    LD_LIBRARY_PATH=$LIBS timeout 150 .gpu/bin/$t --gtest_output=json:"$OUT/$t.json" >"$OUT/$t.txt" 2>&1
    local rc=$?
    grep -E "^\[  (PASSED|FAILED|SKIPPED) |tests from .* ran" "$OUT/$t.txt" | head -30
    grep -E "Failure|error" -A6 "$OUT/$t.txt" | head -60
    [ $rc -eq 0 ] || status=1
    echo "   exit code $rc ($((SECONDS - start)) s so far)"
  done
  echo "== timing: frost (cuda backend) and PyTorch eager, base video encoder, 4 frames, F32"
  LD_LIBRARY_PATH=$LIBS FROST_BENCH_BACKEND=cuda timeout 120 .gpu/bin/bench_model --benchmark_filter='VideoEncoder/fused:1' \
    --benchmark_repetitions=5 --benchmark_report_aggregates_only=true --benchmark_out="$OUT/frost_bench.json" \
    --benchmark_out_format=json 2>&1 | grep -E "VideoEncoder|Error|error"
  PYTHONUNBUFFERED=1 timeout 150 python3 scripts/gpu_torch_timing.py --out "$OUT/torch_timing.json"
  python3 - "$OUT" "$status" <<'PY'
import json, pathlib, sys
out, status = pathlib.Path(sys.argv[1]), int(sys.argv[2])
summary = {"tests_passed": status == 0, "suites": {}}
for t in ("cuda_test", "op_test", "parity_test"):
    f = out / f"{t}.json"
    if f.exists():
        j = json.loads(f.read_text())
        skipped = sum(1 for s in j["testsuites"] for c in s["testsuite"] if c.get("result") == "SKIPPED")
        summary["suites"][t] = {"tests": j["tests"], "failures": j["failures"], "skipped": skipped}
try:
    frost = {b["name"]: b for b in json.loads((out / "frost_bench.json").read_text())["benchmarks"]}
    torch = json.loads((out / "torch_timing.json").read_text())
    rows = []
    for r in torch["runs"]:
        f = frost.get(f"VideoEncoder/fused:1/batch:{r['batch']}/real_time_median")
        fmin = frost.get(f"VideoEncoder/fused:1/batch:{r['batch']}/real_time_min")
        row = {"batch": r["batch"], "pytorch_median_ms": r["median_ms"], "pytorch_min_ms": r["min_ms"]}
        if f:
            row["frost_median_ms"] = f["real_time"]
            row["frost_min_ms"] = fmin["real_time"] if fmin else None
            row["frost_speedup_vs_pytorch"] = r["median_ms"] / f["real_time"]
        rows.append(row)
    summary["timing"] = {"device": torch["device"], "torch": torch["torch"], "video_encoder_base_4_frames": rows}
except Exception as e:  # the tests' verdict stands without the timing
    summary["timing_error"] = repr(e)
(out / "gpu_check.json").write_text(json.dumps(summary, indent=1))
print(json.dumps(summary, indent=1))
PY
  echo "gpu check: $([ $status -eq 0 ] && echo PASSED || echo FAILED) in $((SECONDS - start)) s"
  return $status
}

# compute-sanitizer (memcheck: out-of-bounds and misaligned device accesses, leaks; racecheck: shared-memory
# races) over the CUDA kernels' tests: the cuda backend's tests, the op table and the parity fixtures on the
# cuda kernel paths. A second, optional call after `run`.
sanitize() {
  OUT=${OUT:-/tmp/gpu_check}
  mkdir -p "$OUT"
  exec > >(tee "$OUT/gpu_sanitize.log") 2>&1
  local start=$SECONDS status=0
  host_setup
  local cs
  cs=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer)
  set -f  # the filters below are gtest patterns, not file globs
  for spec in "memcheck cuda_test *" "memcheck op_test AllOps/OpConsistency.*:OpConsistency*" \
              "memcheck parity_test *cuda*" \
              "racecheck op_test AllOps/OpConsistency.MatchesReference/attention*"; do
    set -- $spec
    echo "== $1: $2 $3"
    LD_LIBRARY_PATH=$LIBS timeout 200 "$cs" --tool "$1" --error-exitcode 9 --print-limit 20 \
      .gpu/bin/$2 --gtest_filter="$3" >"$OUT/sanitize_$1_$2.txt" 2>&1
    local rc=$?
    grep -E "ERROR SUMMARY|RACECHECK SUMMARY|LEAK SUMMARY|^\[  (PASSED|FAILED) |Invalid|Race" "$OUT/sanitize_$1_$2.txt" | head -20
    [ $rc -eq 0 ] || status=1
    echo "   exit code $rc ($((SECONDS - start)) s so far)"
  done
  echo "gpu sanitize: $([ $status -eq 0 ] && echo PASSED || echo FAILED) in $((SECONDS - start)) s"
  return $status
}

# The `frost` command on the GPU: encode captions and clips with --backend cuda and --backend cpu, and
# compare the embeddings (max abs difference, F32 tolerance 1e-5 as the parity fixtures).
cli() {
  OUT=${OUT:-/tmp/gpu_check}
  mkdir -p "$OUT"
  exec > >(tee "$OUT/gpu_cli.log") 2>&1
  local fx=tests/parity/fixtures status=0
  host_setup
  printf 'a small red square moving left\na large blue circle moving up\nsomething else entirely\n' >"$OUT/captions.txt"
  for b in cpu cuda; do
    LD_LIBRARY_PATH=$LIBS .gpu/bin/frost encode text --captions "$OUT/captions.txt" --config tiny \
      --weights $fx/tiny_dual_weights.safetensors --vocab $fx/tiny_vocab.txt --backend $b --out "$OUT/text_$b.safetensors" || status=1
    LD_LIBRARY_PATH=$LIBS .gpu/bin/frost encode video .gpu/clips.safetensors --config tiny \
      --weights $fx/tiny_dual_weights.safetensors --backend $b --out "$OUT/video_$b.safetensors" || status=1
  done
  python3 - "$OUT" <<'PY' || status=1
import sys, numpy as np
from safetensors.numpy import load_file
out = sys.argv[1]
for kind in ("text", "video"):
    a, b = load_file(f"{out}/{kind}_cpu.safetensors")["embeddings"], load_file(f"{out}/{kind}_cuda.safetensors")["embeddings"]
    err = float(np.abs(a - b).max())
    print(f"frost encode {kind}: cuda vs cpu, {a.shape[0]} rows, max abs difference {err:.3g}")
    assert err <= 1e-5, kind
PY
  echo "gpu cli: $([ $status -eq 0 ] && echo PASSED || echo FAILED)"
  return $status
}

case "${1:-}" in
  prepare) prepare ;;
  run) run ;;
  sanitize) sanitize ;;
  cli) cli ;;
  *) echo "usage: scripts/gpu_check.sh prepare|run|sanitize|cli" >&2; exit 2 ;;
esac
