"""PyTorch's side of the GPU check's first timing (scripts/gpu_check.sh): the base SpaceTimeTransformer
(tests/parity/make_fixtures.py's transcription of the reference, at the released model's size: 224 px,
patch 16, dim 768, depth 12, 12 heads, 4 frames) plus the 768 -> 256 projection, F32 with TF32 off (frost's
cuda backend computes in F32), eager, inference under torch.no_grad(). Random weights; fixed random input.
Times with CUDA events after warm-ups; median and minimum of the repeats, in milliseconds, as JSON.

    python3 scripts/gpu_torch_timing.py --out torch_timing.json
"""
import argparse
import json
import pathlib
import statistics
import sys

import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests" / "parity"))
from make_fixtures import SpaceTimeTransformer  # noqa: E402


def time_ms(fn, warmup=5, repeats=30):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times), min(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(0)
    model = SpaceTimeTransformer(image_size=224, patch_size=16, channels=3, dim=768, depth=12, heads=12,
                                 mlp_dim=3072, num_frames=4)
    head = torch.nn.Linear(768, 256)
    model, head = model.cuda().eval(), head.cuda().eval()
    results = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "dtype": "f32, tf32 off",
               "runs": []}
    with torch.no_grad():
        for batch in (1, 8):
            x = torch.empty(batch, 4, 3, 224, 224, device="cuda").uniform_(-2, 2)
            median, minimum = time_ms(lambda: head(model(x)))
            results["runs"].append({"batch": batch, "frames": 4, "median_ms": median, "min_ms": minimum})
            print(f"pytorch eager  video encoder batch {batch}: median {median:.3f} ms, min {minimum:.3f} ms",
                  flush=True)
    pathlib.Path(args.out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
