#!/usr/bin/env python3
"""Converts a released Frozen in Time checkpoint (`*.pth.tar`, a torch.save'd dict with `state_dict`,
`optimizer`, `epoch`, `arch`, `monitor_best` and a pickled `config`) into a safetensors file of its model
weights for frost: `module.` prefixes stripped, optimizer and config state dropped.

It needs neither the reference repository on the path nor trust in the file: the pickle is read by a
restricted unpickler that builds only tensors, storages and plain containers, and replaces every other
class it names (the reference's `parse_config.ConfigParser`, or anything a hostile file smuggles in, such
as `os.system`) by an inert stub that is never called with effect. Nothing from the file is executed.

    python3 scripts/convert_checkpoint.py cc-webvid2m-4f_stformer_b_16_224.pth.tar fit_base.safetensors

Needs `torch` and `safetensors` (pip install torch safetensors).
"""
import argparse
import hashlib
import json
import pathlib
import pickle
import sys
import types

import torch
from safetensors.torch import save_file

# What a checkpoint's pickle may build for real: tensor and parameter rebuilders, containers, dtypes.
ALLOWED = {
    ("collections", "OrderedDict"),
    ("collections", "defaultdict"),
    ("torch._utils", "_rebuild_tensor"),
    ("torch._utils", "_rebuild_tensor_v2"),
    ("torch._utils", "_rebuild_tensor_v3"),
    ("torch._utils", "_rebuild_parameter"),
    ("torch._utils", "_rebuild_parameter_with_state"),
    ("torch", "Size"),
    ("torch", "device"),
    ("torch", "float32"), ("torch", "float16"), ("torch", "bfloat16"), ("torch", "float64"),
    ("torch", "int64"), ("torch", "int32"), ("torch", "uint8"), ("torch", "bool"),
    ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "slice"), ("builtins", "complex"),
}

STUBBED = []


class Stub:
    """Stands for a class the checkpoint names but we will not import: accepts and discards everything."""

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        pass

    def __call__(self, *args, **kwargs):
        return Stub()

    # pickle's BUILD may set attributes directly; SETITEM(S)/APPEND(S) on a stub must not fail either.
    def __setitem__(self, key, value):
        pass

    def append(self, value):
        pass

    def extend(self, values):
        pass


class RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in ALLOWED or (module == "torch" and name.endswith("Storage")):
            return super().find_class(module, name)
        STUBBED.append(f"{module}.{name}")
        return type(name, (Stub,), {"__module__": "frost_stub." + module})


# torch.load takes a pickle *module*; this one only differs in its Unpickler.
restricted_pickle = types.ModuleType("frost_restricted_pickle")
restricted_pickle.Unpickler = RestrictedUnpickler
restricted_pickle.load = lambda f, **kw: RestrictedUnpickler(f, **kw).load()
restricted_pickle.__name__ = "frost_restricted_pickle"


def load_checkpoint(path):
    return torch.load(path, map_location="cpu", pickle_module=restricted_pickle, weights_only=False)


def convert(src, dst):
    STUBBED.clear()
    ckpt = load_checkpoint(src)
    if isinstance(ckpt, dict) and "state_dict" in ckpt:
        state = ckpt["state_dict"]
        extra = {k: ckpt[k] for k in ("epoch", "arch", "monitor_best") if k in ckpt and isinstance(ckpt[k], (int, float, str))}
        dropped = sorted(k for k in ckpt if k != "state_dict")
    elif isinstance(ckpt, dict):  # a bare state dict
        state, extra, dropped = ckpt, {}, []
    else:
        raise SystemExit(f"{src}: not a checkpoint dict (got {type(ckpt).__name__})")
    tensors = {}
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise SystemExit(f"{src}: state_dict entry {key!r} is a {type(value).__name__}, not a tensor")
        name = key[len("module."):] if key.startswith("module.") else key
        if name in tensors:
            raise SystemExit(f"{src}: {name!r} appears with and without the module. prefix")
        tensors[name] = value.detach().to("cpu").contiguous().clone()
    if not tensors:
        raise SystemExit(f"{src}: the state_dict holds no tensors")
    sha = hashlib.sha256(pathlib.Path(src).read_bytes()).hexdigest()
    meta = {"source": pathlib.Path(src).name, "source_sha256": sha, "dropped": json.dumps(dropped),
            "stubbed_classes": json.dumps(sorted(set(STUBBED)))}
    meta.update({k: str(v) for k, v in extra.items()})
    save_file(tensors, dst, metadata=meta)
    return tensors, dropped, sorted(set(STUBBED))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoint", help="the released .pth.tar (or any torch.save'd state dict)")
    ap.add_argument("output", help="the .safetensors file to write")
    args = ap.parse_args()
    tensors, dropped, stubbed = convert(args.checkpoint, args.output)
    n = sum(t.numel() for t in tensors.values())
    print(f"wrote {args.output}: {len(tensors)} tensors, {n:,} values")
    if dropped:
        print(f"  dropped: {', '.join(dropped)}")
    if stubbed:
        print(f"  classes not imported (stubbed, never run): {', '.join(stubbed)}")


if __name__ == "__main__":
    sys.exit(main())
