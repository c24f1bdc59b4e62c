#!/usr/bin/env python3
"""Tests scripts/convert_checkpoint.py on synthetic checkpoints built like the reference's: torch.save of a
dict with `state_dict` (DataParallel's `module.` names: the tiny parity weights), `optimizer` (AdamW state),
`epoch`, `arch`, `monitor_best` and a pickled `config` object whose class (`parse_config.ConfigParser`)
does not exist when the file is loaded. Then a hostile checkpoint whose pickle calls os.system: converting
it must not run the command. Finally `frost encode` reads the converted weights.

Run by ctest (`convert_checkpoint`) when torch is importable; exit code 77 (skipped) otherwise.

    python3 tests/parity/test_convert_checkpoint.py [path/to/frost]
"""
import os
import pathlib
import subprocess
import sys
import tempfile
import types

try:
    import torch
    from safetensors.torch import load_file
except ImportError as e:  # ctest reports this test as skipped, not passed
    print(f"skipped: {e}")
    sys.exit(77)

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import convert_checkpoint  # noqa: E402

FIXTURE = ROOT / "tests/parity/fixtures/tiny_dual_weights.safetensors"


def make_reference_like_checkpoint(path):
    state = load_file(str(FIXTURE))  # names carry `module.` already
    assert all(k.startswith("module.") for k in state)
    params = [torch.nn.Parameter(v.clone()) for v in list(state.values())[:4]]
    opt = torch.optim.AdamW(params, lr=3e-5)
    sum((p * p).sum() for p in params).backward()
    opt.step()
    # The reference pickles its ConfigParser; define it in a module that will be gone at load time.
    mod = types.ModuleType("parse_config")

    class ConfigParser:
        def __init__(self):
            self.config = {"arch": {"type": "FrozenInTime"}, "optimizer": {"type": "AdamW", "args": {"lr": 3e-5}}}
            self.resume = None

    ConfigParser.__module__ = "parse_config"
    ConfigParser.__qualname__ = "ConfigParser"
    mod.ConfigParser = ConfigParser
    sys.modules["parse_config"] = mod
    torch.save({"arch": "DataParallel", "epoch": 7, "state_dict": state, "optimizer": opt.state_dict(),
                "monitor_best": 0.25, "config": ConfigParser()}, path)
    del sys.modules["parse_config"]
    return state


class Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def main():
    frost = sys.argv[1] if len(sys.argv) > 1 else None
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        src, dst = tmp / "model_best.pth.tar", tmp / "fit.safetensors"
        state = make_reference_like_checkpoint(src)
        # The class really is gone: a plain (unrestricted) load would fail to find it.
        try:
            torch.load(src, map_location="cpu", weights_only=False)
            raise AssertionError("parse_config.ConfigParser should not be importable")
        except (ModuleNotFoundError, AttributeError):
            pass
        tensors, dropped, stubbed = convert_checkpoint.convert(str(src), str(dst))
        out = load_file(str(dst))
        assert set(out) == {k[len("module."):] for k in state}, "names: module. stripped, nothing else"
        for k, v in state.items():
            assert torch.equal(out[k[len("module."):]], v), k
        assert dropped == ["arch", "config", "epoch", "monitor_best", "optimizer"], dropped
        assert "parse_config.ConfigParser" in stubbed, stubbed
        print(f"converted: {len(out)} tensors; dropped {dropped}; stubbed {stubbed}")

        # Hostile: os.system in the pickle (as the config object) must not run.
        marker = tmp / "pwned"
        torch.save({"state_dict": {"module.w": torch.ones(2)}, "config": Evil(marker)}, tmp / "evil.pth")
        _, _, stubbed = convert_checkpoint.convert(str(tmp / "evil.pth"), str(tmp / "evil.safetensors"))
        assert not marker.exists(), "the converter ran code from the checkpoint"
        assert any(s.endswith(".system") for s in stubbed), stubbed
        print(f"hostile checkpoint: nothing run; stubbed {stubbed}")

        if frost:
            r = subprocess.run([frost, "encode", "video", "--config", "tiny", "--weights", str(dst),
                                str(ROOT / "tests/fixtures/preprocess/frames_small_0.png"), "--out",
                                str(tmp / "emb.safetensors")], capture_output=True, text=True)
            assert r.returncode == 0, r.stderr
            print(r.stdout.strip())
    print("ok")


if __name__ == "__main__":
    main()
