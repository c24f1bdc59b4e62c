#!/usr/bin/env bash
# Installs the Debian 12 packages frost needs to build and test, if any are missing. Idempotent and quiet
# when everything is there. Runs apt-get as root, or through sudo.
set -euo pipefail

packages=(
  g++ cmake ninja-build ccache make      # toolchain (C++20, CMake >= 3.25, Ninja, compiler cache)
  libgtest-dev libgmock-dev              # GoogleTest: the test suites
  libbenchmark-dev                       # Google Benchmark: bench/
  libcli11-dev                           # CLI11: the `frost` command's argument parsing
  libdnnl-dev ocl-icd-opencl-dev         # oneDNN 2.6 (its CMake config needs the OpenCL headers)
  nlohmann-json3-dev                     # JSON: safetensors headers, `frost info --json`
  libutf8proc-dev libssl-dev             # Unicode for the tokenizer; SHA-256 of the default vocabulary
  libstb-dev                             # stb_image / stb_image_write headers (compiled in loader/stb_impl.cpp)
  libjpeg62-turbo-dev                    # libjpeg-turbo: JPEG decoding
  libcsv-dev                             # libcsv: RFC 4180 CSV (dataset files)
  libminizip-dev zlib1g-dev              # minizip (zlib's contrib): PyTorch zip checkpoints
  pkg-config libavformat-dev libavcodec-dev libswscale-dev libavutil-dev  # FFmpeg's libraries: video files
  ffmpeg                                 # the ffmpeg command: the video tests encode their test videos
  qemu-user                              # tests: the op table on an emulated CPU without AVX (baseline kernels)
  chromium                               # tests: `frost demo`'s HTML page rendered in a headless browser
  python3-venv python3-pip python3-numpy  # tests: the Python module installed with pip into a fresh venv
  strace                                 # tests: an installed frost opens nothing of the source or build tree
)

# `install_deps.sh fuzz` adds what `make fuzz` needs: clang with its libFuzzer runtime.
if [ "${1:-}" = "fuzz" ]; then
  packages=(clang libclang-rt-14-dev)
fi
# `install_deps.sh bench`: what scripts/bench_env.sh needs to make the benchmark's Python environment.
if [ "${1:-}" = "bench" ]; then
  packages=(python3 python3-venv python3-pip time)  # GNU time: bench/process_rss.py's peak resident set
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "frost: installing missing packages: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null; then
  sudo=(sudo)
else
  echo "frost: need root (or sudo) to install: ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
