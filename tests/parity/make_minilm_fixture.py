#!/usr/bin/env python3
"""Writes tests/parity/fixtures/minilm_expected.safetensors: what `transformers`' BertModel computes with
the pretrained all-MiniLM-L6-v2 weights (fetched by scripts/fetch_minilm.py) on 56 real sentences — the
token ids of its tokenizer, the last hidden states of the real tokens (ragged: rows of every sentence one
after another, `lengths` gives the counts) and pooler_output. tests/minilm_test.cpp must match them to 1e-4
with frost's BERT, frost's tokenizer and the same weights. The weights are not committed.

    python3 scripts/fetch_minilm.py build/minilm
    pip install -r tests/parity/requirements.txt
    python3 tests/parity/make_minilm_fixture.py build/minilm
"""
import hashlib
import json
import pathlib
import sys

import torch
import transformers
from safetensors.torch import save_file

HERE = pathlib.Path(__file__).resolve().parent
SENTENCES = [
    "A man is playing a guitar on stage.",
    "Two dogs are running through a snowy field.",
    "A woman slices vegetables in a small kitchen.",
    "Children are playing football in the park after school.",
    "The sun sets over the ocean while waves crash on the rocks.",
    "A chef explains how to make fresh pasta from scratch.",
    "Traffic moves slowly through the city at rush hour.",
    "A cat sleeps on a windowsill in the afternoon light.",
    "People are dancing at a wedding reception.",
    "An aerial view of a forest in autumn.",
    "A news anchor reports on the weather forecast.",
    "Someone is assembling a wooden bookshelf.",
    "A skateboarder performs a trick at the skate park.",
    "The crowd cheers as the runner crosses the finish line.",
    "A little girl blows out the candles on her birthday cake.",
    "Heavy rain falls on a busy street in Tokyo.",
    "A scientist looks through a microscope in a laboratory.",
    "Two men are arguing about politics on a talk show.",
    "A timelapse of clouds moving over the mountains.",
    "A baby laughs while playing with a toy.",
    "Fireworks light up the night sky over the river.",
    "A mechanic repairs the engine of an old car.",
    "Students listen to a lecture in a large hall.",
    "A horse gallops across the beach at sunrise.",
    "The band plays a slow song as couples dance.",
    "A person types quickly on a laptop keyboard.",
    "Waves roll onto a sandy beach under a clear sky.",
    "An old woman feeds pigeons in the square.",
    "A drone flies over a crowded stadium.",
    "The teacher writes an equation on the blackboard.",
    "A firefighter sprays water on a burning building.",
    "A group of friends hike up a steep trail.",
    "Someone pours coffee into a white mug.",
    "A boy rides his bicycle down a quiet street.",
    "The pilot prepares the plane for take-off.",
    "A painter adds colour to a large canvas.",
    "Snow covers the roofs of the village.",
    "A woman practices yoga on a mat in the living room.",
    "Lions rest in the shade of a tree on the savanna.",
    "A robot arm picks up boxes in a warehouse.",
    "The goalkeeper dives and saves the penalty!",
    "Is this the best pizza in New York?",
    "A cooking tutorial: how to bake sourdough bread (part 2).",
    "Vintage footage of a 1960s parade.",
    "A man in a red jacket walks his dog along the canal.",
    "Close-up of hands knitting a blue scarf.",
    "The astronaut floats inside the space station.",
    "A crowd gathers to watch a street magician.",
    "Rain drips from the leaves after the storm.",
    "A kid's science experiment goes wrong — foam everywhere!",
    "Café owners prepare croissants before opening.",
    "A penguin waddles across the ice.",
    "The orchestra tunes their instruments before the concert.",
    "A father teaches his son how to fish.",
    "Bright neon signs reflect in puddles at night.",
    "A time-lapse of a flower blooming.",
]


def main():
    model_dir = sys.argv[1] if len(sys.argv) > 1 else "build/minilm"
    tok = transformers.AutoTokenizer.from_pretrained(model_dir)
    model = transformers.BertModel.from_pretrained(model_dir, attn_implementation="eager").eval()
    batch = tok(SENTENCES, padding=True, return_tensors="pt")
    with torch.no_grad():
        out = model(**batch)
    lengths = batch["attention_mask"].sum(1)
    rows = torch.cat([out.last_hidden_state[i, : int(n)] for i, n in enumerate(lengths)])
    meta = {"torch": torch.__version__, "transformers": transformers.__version__,
            "wheel_sha256": (pathlib.Path(model_dir) / "wheel.sha256").read_text().strip(),
            "script_sha256": hashlib.sha256(pathlib.Path(__file__).read_bytes()).hexdigest(),
            "sentences": SENTENCES}
    save_file({"input_ids": batch["input_ids"].contiguous(), "lengths": lengths.contiguous(),
               "last_hidden_state_tokens": rows.contiguous(), "pooler_output": out.pooler_output.contiguous()},
              str(HERE / "fixtures" / "minilm_expected.safetensors"), metadata={"fixture": json.dumps(meta)})
    print(f"{len(SENTENCES)} sentences, {int(lengths.sum())} tokens, longest {int(lengths.max())}")


if __name__ == "__main__":
    main()
