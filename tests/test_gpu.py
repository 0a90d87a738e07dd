"""The same code on CUDA: training steps through Lightning and generation. Skipped without a GPU."""

import pytest
import torch

import ctrlgen
from ctrlgen import TrainConfig, train
from tests.conftest import TINY

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA; the CPU path is tested everywhere"),
]


def test_train_on_gpu_with_bf16(corpus_file, tmp_path):
    cfg = {**TINY, "val_every": 20}
    out = train(
        TrainConfig(
            data=[str(corpus_file)],
            out=str(tmp_path / "g"),
            max_steps=40,
            accelerator="gpu",
            devices=1,
            precision="bf16-mixed",
            **cfg,
        )
    )
    lm = ctrlgen.load(out, device="cuda")
    assert lm.device.type == "cuda"
    texts = lm.generate(n=8, length=24, seed=0)
    assert len(texts) == 8 and texts == lm.generate(n=8, length=24, seed=0)


@pytest.mark.parametrize("sampler", ["ancestral", "confidence", "semi-ar", "remdm"])
def test_generate_on_gpu_matches_requested_shape(tiny_run, sampler):
    lm = ctrlgen.load(tiny_run, device="cuda")
    canvas = torch.full((4, 24), lm.mask_token_id)
    tokens = lm.sample_tokens(canvas, sampler=sampler, seed=0)
    assert tokens.shape == (4, 24) and not (tokens == lm.mask_token_id).any()


def test_constrained_generation_on_gpu():
    import json
    import re

    import jsonschema
    from ctrlgen.constraints import JsonSchema, Length, Regex

    lm = ctrlgen.load(device="cuda")
    schema = {
        "type": "object",
        "properties": {
            "stars": {"type": "integer", "minimum": 1, "maximum": 5},
            "food": {"enum": ["Chinese", "French"]},
        },
        "required": ["stars", "food"],
    }
    for text in lm.generate(n=8, constraints=[JsonSchema(schema)], seed=0, steps=16):
        jsonschema.validate(json.loads(text), schema)
    for text in lm.generate(n=8, constraints=[Regex(r"[a-z ]+") & Length(min=4, max=8)], seed=0, sampler="confidence"):
        assert re.fullmatch(r"[a-z ]+", text)
    assert all(re.fullmatch(r"The .+ is .+\.", t) for t in lm.fill("The {3} is {2}.", n=4, seed=0))


@pytest.mark.parametrize("family", ["bert", "roberta", "modernbert", "bert-unigram", "llada", "dream"])
def test_every_adapter_on_gpu(tmp_path, family):
    """Each adapter family on CUDA: two fine-tuning steps through Lightning, then prompted constrained
    generation (JSON schema and regex) whose outputs validate."""
    import json
    import re

    import jsonschema

    from ctrlgen import JsonSchema, Regex, tiny_models

    path = tiny_models.build_zoo(tmp_path / "zoo", families=[family])[family]
    data = tmp_path / "pairs.jsonl"
    rows = [{"input": f"restaurant {i}", "output": json.dumps({"name": f"R{i}"})} for i in range(16)]
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = train(
        TrainConfig(
            data=[str(data)],
            out=str(tmp_path / "run"),
            init_from=str(path),
            trust_remote_code=True,
            prompt_column="input",
            data_column="output",
            max_steps=2,
            batch_size=4,
            canvas_length=48,
            accelerator="gpu",
            devices=1,
            progress=False,
        )
    )
    lm = ctrlgen.load(out, device="cuda", trust_remote_code=True)
    assert lm.device.type == "cuda"
    schema = {"type": "object", "properties": {"name": {"type": "string", "maxLength": 8}}, "required": ["name"]}
    for text in lm.generate(prompt=["restaurant 3", "a longer prompt"], constraints=[JsonSchema(schema)], n=2, seed=0):
        jsonschema.validate(json.loads(text), schema)
    for text in lm.generate(prompt="Call", constraints=[Regex(r"[a-z]+ [0-9]{3}")], n=4, seed=0, sampler="remdm"):
        assert re.fullmatch(r"[a-z]+ [0-9]{3}", text)


def test_the_autoregressive_baseline_trains_and_decodes_json_on_gpu(corpus_file, tmp_path):
    import json

    import jsonschema
    from ctrlgen.constraints import JsonSchema

    out = train(
        TrainConfig(
            data=[str(corpus_file)],
            out=str(tmp_path / "ar"),
            objective="autoregressive",
            max_steps=40,
            accelerator="gpu",
            devices=1,
            precision="bf16-mixed",
            **{**TINY, "val_every": 20},
        )
    )
    ar = ctrlgen.load(out, device="cuda")
    assert ar.device.type == "cuda"
    schema = {"type": "object", "properties": {"food": {"enum": ["chinese", "french"]}}, "required": ["food"]}
    for text in ar.generate(n=4, constraints=[JsonSchema(schema)], seed=0, temperature=0):
        jsonschema.validate(json.loads(text), schema)
