"""The model shipped inside the package: it loads with no argument, is small, and answers its two documented
prompt forms (README, "Use it"); the sentiment classifier shipped beside it reads the same tokenizer."""

import json
from pathlib import Path

import jsonschema
import pytest

import ctrlgen
from ctrlgen import JsonSchema, Length, Style
from ctrlgen.e2e import describe_prompt, extract_prompt
from ctrlgen.pipeline import DEFAULT_MODEL_DIR

SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "examples" / "e2e_record.schema.json").read_text())

# Written for these tests, not taken from the data: names from the E2E vocabulary in new combinations.
DESCRIPTIONS = [
    ("Blue Spice", "Blue Spice is a cheap pub near the river. It serves Indian food and children are welcome."),
    ("The Mill", "In the city centre you will find The Mill, an Italian coffee shop rated 5 out of 5."),
    ("Zizzi", "Zizzi is a French restaurant with high prices near Burger King. It is not family-friendly."),
    ("Aromi", "Aromi is a family-friendly coffee shop by the river."),
]


@pytest.fixture(scope="module")
def lm():
    return ctrlgen.load()


def test_default_model_is_shipped_small_and_loads(lm):
    assert (DEFAULT_MODEL_DIR / "model.safetensors").stat().st_size < 50 * 2**20
    texts = lm.generate(n=4, seed=0, steps=24, top_p=0.9)
    assert len(texts) == 4
    assert sum(len(t.split()) for t in texts) >= 8  # it writes words, not only end tokens
    assert texts == lm.generate(n=4, seed=0, steps=24, top_p=0.9)


@pytest.mark.parametrize("settings", [{}, {"prompt_weight": 1.0, "temperature": 0.1}])
def test_extraction_prompt_returns_valid_records_that_read_the_description(lm, settings):
    prompts = [extract_prompt(text) for _, text in DESCRIPTIONS]
    outputs = lm.generate(prompt=prompts, constraints=[JsonSchema(SCHEMA)], seed=0, **settings)
    records = [json.loads(out) for out in outputs]
    for record in records:
        jsonschema.validate(record, SCHEMA)
    # A 5.8M-parameter model reads its prompt loosely (README, "Against an autoregressive model"): it often
    # puts a name it knows better in place of the one written; but it reads it, and the area it states.
    assert sum(record.get("name") == name for (name, _), record in zip(DESCRIPTIONS, records)) >= 1, records
    stated = [(0, "riverside"), (1, "city centre"), (3, "riverside")]
    assert sum(records[i].get("area") == area for i, area in stated) >= 2, records


def test_extraction_follows_a_schema_over_some_fields_in_its_own_order(lm):
    schema = {
        "type": "object",
        "properties": {"area": SCHEMA["properties"]["area"], "name": SCHEMA["properties"]["name"]},
        "required": ["area", "name"],
        "additionalProperties": False,
    }
    prompts = [extract_prompt(text) for _, text in DESCRIPTIONS]
    outputs = lm.generate(prompt=prompts, constraints=[JsonSchema(schema)], seed=0)
    records = [json.loads(out) for out in outputs]
    assert all(list(record) == ["area", "name"] for record in records), outputs
    assert records[1]["area"] == "city centre" or records[0]["area"] == "riverside", records


def test_describe_prompt_writes_exactly_n_words_about_the_record(lm):
    record = {"name": "The Punter", "eatType": "pub", "food": "Japanese", "area": "riverside"}
    texts = lm.generate(prompt=describe_prompt(record), constraints=[Length(words=12)], n=3, seed=0)
    assert all(len(text.split()) == 12 for text in texts), texts
    assert sum("Punter" in text for text in texts) >= 2, texts


def test_shipped_classifier_reads_the_shipped_model_tokenizer(lm):
    out = lm.rewrite("the food was cold .", constraints=[Style("sentiment", "positive")], n=1, seed=0)
    assert len(out) == 1 and out[0]
