#!/usr/bin/env bash
# Makes the Python environment of bench/compare_pytorch.py (PyTorch, transformers, ONNX Runtime, ...: the
# contenders frost is measured against) at $1 (default build/bench-venv), if it is not there or its
# requirements changed, and prints its python's path. Needs python3-venv (installed here if missing) and
# the package registry; torch's wheel is large (about 3 GB with its CUDA libraries, which the CPU runs
# ignore).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
venv="${1:-$here/build/bench-venv}"
req="$here/bench/requirements.txt"
stamp="$venv/.requirements"
if [ -x "$venv/bin/python" ] && cmp -s "$req" "$stamp"; then
  echo "$venv/bin/python"
  exit 0
fi
if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
  "$here/scripts/install_deps.sh" bench >&2
fi
python3 -m venv "$venv" >&2
"$venv/bin/pip" install --quiet --upgrade pip >&2
"$venv/bin/pip" install --quiet -r "$req" >&2
cp "$req" "$stamp"
echo "$venv/bin/python"
