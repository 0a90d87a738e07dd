"""Writes notebooks/json_extraction.ipynb and notebooks/slot_filling.ipynb (unexecuted; CI executes them).

Kept as a script so the notebooks' code is reviewed as code; run ``python scripts/make_notebooks.py`` after
editing it, then execute a notebook with ``pytest --nbmake notebooks/NAME.ipynb --overwrite`` to store outputs.
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
META = {
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python", "pygments_lexer": "ipython3"},
}


def _cell(kind: str, text: str, index: int) -> dict:
    cell = {
        "cell_type": kind,
        "id": f"cell-{index}",
        "metadata": {},
        "source": text.strip("\n").splitlines(keepends=True),
    }
    if kind == "code":
        cell |= {"execution_count": None, "outputs": []}
    return cell


def notebook(cells: list[tuple[str, str]]) -> dict:
    return {
        "cells": [_cell(k, t, i) for i, (k, t) in enumerate(cells)],
        "metadata": META,
        "nbformat": 4,
        "nbformat_minor": 5,
    }


JSON_EXTRACTION = [
    (
        "markdown",
        """
# JSON extraction with a diffusion model

The shipped model reads a restaurant description and writes its record as JSON, under a JSON Schema that
holds at **every reverse step**: the schema is compiled to a token automaton, and each step only commits tokens
from which a valid document can still be completed, whatever order the positions are filled in. Every output
validates; nothing is retried.

The prompt form is the model's documented instruction: `Extract the restaurant record as JSON: <description>`.
""",
    ),
    (
        "code",
        """
import json

import jsonschema
import matplotlib.pyplot as plt
import pandas as pd

import ctrlgen
from ctrlgen import JsonSchema
from ctrlgen.e2e import extract_prompt
from ctrlgen.trajectory import plot_trajectory

lm = ctrlgen.load()

Restaurant = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 40},
        "eatType": {"enum": ["coffee shop", "pub", "restaurant"]},
        "food": {"type": "string", "maxLength": 20},
        "area": {"enum": ["city centre", "riverside"]},
        "familyFriendly": {"enum": ["yes", "no"]},
    },
    "required": ["name", "eatType"],
    "additionalProperties": False,
}
""",
    ),
    ("markdown", "## Records from descriptions\nDescriptions written for this notebook (not from the training data)."),
    (
        "code",
        """
descriptions = [
    "Aromi is a family-friendly coffee shop by the river.",
    "The Golden Palace is a pub in the city centre that serves Italian food. It is not good for children.",
    "Near the riverside you will find Blue Spice, a restaurant offering Indian food for the whole family.",
]
outputs = lm.generate(prompt=[extract_prompt(d) for d in descriptions], constraints=[JsonSchema(Restaurant)], seed=0)
rows = []
for description, text in zip(descriptions, outputs):
    record = json.loads(text)
    jsonschema.validate(record, Restaurant)  # never raises: the constraint is exact
    rows.append({"description": description, **record})
pd.DataFrame(rows)
""",
    ),
    (
        "markdown",
        """
## Any property order
The schema decides the order of the fields in the document; the model was trained on records in many orders.
""",
    ),
    (
        "code",
        """
reordered = {**Restaurant, "properties": dict(reversed(list(Restaurant["properties"].items())))}
text = lm.generate(prompt=extract_prompt(descriptions[0]), constraints=[JsonSchema(reordered)], seed=1)[0]
jsonschema.validate(json.loads(text), reordered)
print(text)
""",
    ),
    (
        "markdown",
        """
## The denoising trajectory
`trace=True` records the canvas at every reverse step. Each column is a position of the response, each row a
step: dark while masked, coloured by the step that filled it. The JSON structure the automaton forces
(braces, keys, quotes) tends to settle first, values after.
""",
    ),
    (
        "code",
        """
text = lm.generate(
    prompt=extract_prompt(descriptions[1]), constraints=[JsonSchema(Restaurant)], seed=2, steps=24, trace=True
)[0]
trajectory = lm.last_report.trajectories[0]
print(text)
ax = plot_trajectory(trajectory, lm.tokenizer, title="extraction, 24 reverse steps")
plt.show()
""",
    ),
    (
        "code",
        """
# the first positions filled, with the step that filled them
order = trajectory.order()
steps = trajectory.fill_steps()
print([(lm.tokenizer.decode([trajectory.final[j]]), steps[j]) for j in order[:12]])
""",
    ),
]

SLOT_FILLING = [
    (
        "markdown",
        """
# Fixed-length slot filling and exact word counts

Two hard constraints that a left-to-right decoder cannot plan for, but a diffusion model fills in any order:

* a **template** whose slots hold an exact number of tokens (`{4}` = four tokens), literal text kept byte for byte;
* a **description of exactly N words**, from the prompt `Describe this restaurant: <JSON object>`.

Both hold at every reverse step, so every output complies.
""",
    ),
    (
        "code",
        """
import matplotlib.pyplot as plt

import ctrlgen
from ctrlgen import Length, Slot, Template
from ctrlgen.e2e import describe_prompt
from ctrlgen.trajectory import plot_trajectory

lm = ctrlgen.load()
""",
    ),
    ("markdown", "## Templates with fixed-length slots"),
    (
        "code",
        """
template = "{3} is a {2} near {3}. It serves {2} food."
texts = lm.fill(template, n=4, seed=0, trace=True)
for t in texts:
    print(t)
""",
    ),
    (
        "code",
        """
trajectory = lm.last_report.trajectories[0]
steps = trajectory.fill_steps()
print("literal positions (filled at step 0):", sum(s == 0 for s in steps), "of", len(steps))
plot_trajectory(trajectory, lm.tokenizer, title="template fill: literals fixed, slots denoised")
plt.show()
""",
    ),
    (
        "markdown",
        "A slot can also carry a pattern: here a price written as a number of pounds, in exactly 3 tokens.",
    ),
    (
        "code",
        """
priced = Template("{name} has meals for {price}.", slots={"name": Slot(3), "price": Slot(3, regex=r"£[0-9]+")})
for t in lm.generate(constraints=[priced], n=3, seed=1):
    print(t)
""",
    ),
    ("markdown", "## Descriptions of exactly N words"),
    (
        "code",
        """
record = {"name": "Aromi", "eatType": "coffee shop", "area": "riverside", "familyFriendly": "yes"}
for n_words in (8, 12, 20):
    text = lm.generate(prompt=describe_prompt(record), constraints=[Length(words=n_words)], seed=0)[0]
    assert len(text.split()) == n_words
    print(n_words, "|", text)
""",
    ),
    (
        "code",
        """
text = lm.generate(prompt=describe_prompt(record), constraints=[Length(words=12)], seed=3, steps=24, trace=True)[0]
print(text)
plot_trajectory(lm.last_report.trajectories[0], lm.tokenizer, title="a 12-word description, 24 reverse steps")
plt.show()
""",
    ),
]


def main() -> None:
    for name, cells in (("json_extraction", JSON_EXTRACTION), ("slot_filling", SLOT_FILLING)):
        path = ROOT / "notebooks" / f"{name}.ipynb"
        path.write_text(json.dumps(notebook(cells), indent=1, ensure_ascii=False) + "\n")
        print(path)


if __name__ == "__main__":
    main()
