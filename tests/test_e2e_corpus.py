"""The default model's corpus: the two prompt forms, the held-out E2E split, prompts and labels in one run."""

from __future__ import annotations

import json

import pytest
from conftest import SHARED_DATA, TINY

from ctrlgen.data import TextSource, read_prompted_labelled
from ctrlgen.e2e import DESCRIBE_PROMPT, EXTRACT_PROMPT, describe_prompt, e2e_split, extract_prompt, mr_to_record

needs_data = pytest.mark.skipif(not (SHARED_DATA / "e2e").is_dir(), reason="../shared/data/e2e is not present")


def test_prompt_forms_and_records():
    record = mr_to_record("name[Aromi], eatType[coffee shop], area[riverside]")
    assert record == {"name": "Aromi", "eatType": "coffee shop", "area": "riverside"}
    written = '{"name": "Aromi", "eatType": "coffee shop", "area": "riverside"}'
    assert describe_prompt(record) == DESCRIBE_PROMPT + written
    assert extract_prompt("Aromi is  a coffee shop.\n") == EXTRACT_PROMPT + "Aromi is a coffee shop."


@needs_data
def test_the_held_out_split_is_fixed_and_disjoint_by_meaning_representation():
    train, held = e2e_split(SHARED_DATA)
    again_train, again_held = e2e_split(SHARED_DATA)
    assert [r.ref for r in held] == [r.ref for r in again_held] and len(train) == len(again_train)
    train_groups, held_groups = {r.group for r in train}, {r.group for r in held}
    assert not train_groups & held_groups
    assert 0.08 < len(held_groups) / len(train_groups | held_groups) < 0.12
    assert any(r.cleaned for r in held) and any(not r.cleaned for r in held)


@needs_data
def test_the_corpus_never_holds_a_held_out_reference_and_has_both_directions():
    from ctrlgen.corpus import build_default_corpus

    records = build_default_corpus(SHARED_DATA)
    _, held = e2e_split(SHARED_DATA)
    held_refs = {r.ref for r in held} - {r.ref for r in e2e_split(SHARED_DATA)[0]}
    seen = {r["text"] for r in records} | {r.get("prompt", "") for r in records}
    assert not any(ref in s for ref in held_refs for s in seen if ref in s)
    describe = [r for r in records if r.get("prompt", "").startswith(DESCRIBE_PROMPT)]
    extract = [r for r in records if r.get("prompt", "").startswith(EXTRACT_PROMPT)]
    assert len(describe) > 1000 and len(extract) > 1000
    orders = set()
    for r in extract:
        obj = json.loads(r["text"])
        assert isinstance(obj, dict) and obj
        orders.add(tuple(obj))
    assert len(orders) > 50  # the fields come in many orders
    assert {r.get("sentiment") for r in records} >= {"negative", "positive"}


def test_prompts_and_labels_train_together(tmp_path):
    from ctrlgen import TrainConfig, load, train

    rows = [{"prompt": "say: hi", "text": "hi there ."}, {"text": "good food .", "sentiment": "positive"}] * 40
    rows += [{"text": "cold food .", "sentiment": "negative"}] * 40
    data = tmp_path / "mixed.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    prompts, texts, labels = read_prompted_labelled([TextSource(str(data))], "prompt", "sentiment")
    assert (prompts[0], labels[0], prompts[1], labels[1]) == ("say: hi", "", "", "positive")
    out = train(
        TrainConfig(
            data=[str(data)],
            out=str(tmp_path / "run"),
            prompt_column="prompt",
            label_column="sentiment",
            bucket=True,
            max_padding=16,
            max_steps=5,
            accelerator="cpu",
            **TINY,
        )
    )
    lm = load(out)
    assert lm.denoiser.label_names == ("negative", "positive")
    assert len(lm.generate(prompt="say: hi", label="positive", n=1, length=8, seed=0)) == 1
