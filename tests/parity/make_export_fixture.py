#!/usr/bin/env python3
"""Writes tests/parity/fixtures/reference_state_dict.safetensors: the names, shapes and dtypes of the
reference model's state_dict — Frozen in Time as DataParallel saves it (`module.` prefix) — for the tiny
and base configs, built with the pinned transformers (requirements.txt). Train's export_inference must write
exactly these, so `model.load_state_dict(torch_checkpoint, strict=True)` accepts frost's export; the test
(tests/trainer_test.cpp) compares them without torch. The file holds no tensors: the lists are metadata
("fixture": {"tiny": [[name, shape, dtype], ...], "base": [...]}).

Built on the meta device: no weights are made, so the base model costs nothing.

    pip install -r tests/parity/requirements.txt
    python3 tests/parity/make_export_fixture.py
"""
import hashlib
import json
import pathlib

import torch
import transformers
from safetensors.torch import save_file

import make_fixtures as ref

HERE = pathlib.Path(__file__).resolve().parent
SCRIPT_SHA256 = hashlib.sha256(pathlib.Path(__file__).read_bytes()).hexdigest()

BASE_TEXT = dict(vocab_size=30522, dim=768, layers=6, heads=12, ffn_dim=3072, max_positions=512)
BASE_VIDEO = dict(image_size=224, patch_size=16, channels=3, dim=768, depth=12, heads=12, mlp_dim=3072,
                  num_frames=4)


def state_dict_list(text, video, proj):
    ref.VIDEO, ref.PROJ = video, proj  # FrozenInTime reads the module's config
    with torch.device("meta"):
        dcfg = transformers.DistilBertConfig(
            vocab_size=text["vocab_size"], dim=text["dim"], n_layers=text["layers"], n_heads=text["heads"],
            hidden_dim=text["ffn_dim"], max_position_embeddings=text["max_positions"])
        model = torch.nn.DataParallel(ref.FrozenInTime(transformers.DistilBertModel(dcfg), text["dim"]))
    return [[k, list(v.shape), str(v.dtype).replace("torch.", "")] for k, v in sorted(model.state_dict().items())]


def main():
    lists = {"tiny": state_dict_list(ref.TEXT, dict(ref.VIDEO), ref.PROJ),
             "base": state_dict_list(BASE_TEXT, BASE_VIDEO, 256)}
    meta = {"torch": torch.__version__, "transformers": transformers.__version__, "script_sha256": SCRIPT_SHA256,
            **lists}
    save_file({}, str(HERE / "fixtures" / "reference_state_dict.safetensors"), metadata={"fixture": json.dumps(meta)})
    print({k: len(v) for k, v in lists.items()}, [e for e in lists["tiny"] if "position" in e[0]])


if __name__ == "__main__":
    main()
