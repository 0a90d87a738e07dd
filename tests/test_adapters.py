"""Every adapter family, offline: tiny randomly initialised checkpoints built from their transformers configs
with locally trained tokenizers (WordPiece, Unigram, byte-level BPE), saved, loaded back with
``ctrlgen.load(dir)``, prompted, constrained. An untrained model is the worst case for the engine: the model
never helps the constraints, so everything that comes out valid is the engine's doing."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ctrlgen
from ctrlgen import JsonSchema, Length, Regex, Slot, Template, UnsatisfiableConstraintError
from ctrlgen.denoisers import DreamDenoiser, LLaDADenoiser, MaskedLMDenoiser, NativeDenoiser
from ctrlgen.errors import PromptTooLongError, UnsupportedModelError

FAMILIES = ["bert", "roberta", "modernbert", "bert-unigram", "llada", "dream"]

SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 12},
        "area": {"enum": ["riverside", "city centre"]},
        "stars": {"type": "integer", "minimum": 1, "maximum": 5},
    },
    "required": ["name", "area", "stars"],
    "additionalProperties": False,
}
PROMPT = "Extract the restaurant: Aromi is a cheap coffee shop by the river."


@pytest.fixture(scope="session")
def zoo(tmp_path_factory):
    from ctrlgen import tiny_models

    return tiny_models.build_zoo(tmp_path_factory.mktemp("zoo"))


@pytest.fixture(scope="session")
def models(zoo):
    return {name: ctrlgen.load(path, trust_remote_code=True) for name, path in zoo.items()}


def test_registry_picks_the_adapter_of_each_family(models):
    expected = {
        "bert": MaskedLMDenoiser,
        "roberta": MaskedLMDenoiser,
        "modernbert": MaskedLMDenoiser,
        "bert-unigram": MaskedLMDenoiser,
        "llada": LLaDADenoiser,
        "dream": DreamDenoiser,
    }
    for name, cls in expected.items():
        assert type(models[name].denoiser) is cls, name
    assert isinstance(ctrlgen.load().denoiser, NativeDenoiser)


@pytest.mark.parametrize("family", ["llada", "dream"])
def test_remote_code_needs_consent(zoo, family):
    with pytest.raises(UnsupportedModelError, match="trust_remote_code"):
        ctrlgen.load(zoo[family])


@pytest.mark.parametrize("family", FAMILIES)
def test_prompted_json_is_valid_and_prompt_is_kept(models, family):
    lm = models[family]
    seen: list[torch.Tensor] = []
    forward = lm.denoiser.forward

    def recording(input_ids, attention_mask=None, labels=None):
        seen.append(input_ids.clone())
        return forward(input_ids, attention_mask, labels)

    lm.denoiser.forward = recording
    try:
        texts = lm.generate(prompt=PROMPT, constraints=[JsonSchema(SCHEMA)], n=2, seed=0, steps=16)
    finally:
        del lm.denoiser.forward
    assert len(texts) == 2
    for text in texts:
        jsonschema.validate(json.loads(text), SCHEMA)
    # the prompt, framed as the model reads it, stands unchanged before the canvas at every step
    prefix = lm.denoiser.prefix_ids(lm.tokenizer(PROMPT, add_special_tokens=False)["input_ids"])
    assert seen and all(ids[:, : len(prefix)].tolist() == [prefix] * ids.shape[0] for ids in seen)
    echoed = lm.generate(prompt=PROMPT, constraints=[JsonSchema(SCHEMA)], n=2, seed=0, steps=16, echo=True)
    assert echoed == [PROMPT + t for t in texts]


@pytest.mark.parametrize("family", FAMILIES)
def test_regex_words_and_template(models, family):
    lm = models[family]
    pattern = r"[a-z]+ [0-9]{3}-[0-9]{4}"
    for text in lm.generate(prompt="Call:", constraints=[Regex(pattern)], n=3, seed=1, steps=12):
        assert re.fullmatch(pattern, text), text
    for text in lm.generate(prompt="Describe it.", constraints=[Length(words=5)], n=3, seed=2, steps=12):
        assert len(text.split()) == 5, text
    template = Template("Name: {3}, rated {r}.", slots={"r": Slot(1, regex="[1-5]")})
    for text in lm.fill(template, n=2, prompt="Fill in:", seed=3):
        assert re.fullmatch(r"Name: .*, rated [1-5]\.", text, flags=re.S), text


@pytest.mark.parametrize("family", FAMILIES)
def test_batch_of_different_prompts(models, family):
    lm = models[family]
    prompts = ["short", "a much longer prompt about a restaurant near the river with cheap food"]
    texts = lm.generate(prompt=prompts, constraints=[Regex(r"(yes|no)")], n=2, seed=0)
    assert len(texts) == 4 and all(t in ("yes", "no") for t in texts)


@pytest.mark.parametrize("family", ["bert", "roberta", "llada"])
def test_padded_rows_score_as_if_alone(models, family):
    """Right padding with an attention mask: a row's log-probabilities in a batch of prompts of different
    lengths equal those computed for it alone."""
    lm = models[family]
    short = lm._prefixes("hi")[0]
    long = lm._prefixes("a longer prompt than the first one by far")[0]
    canvas = torch.full((2, 6), lm.mask_token_id)
    canvas[:, 2] = lm.tokenizer("x", add_special_tokens=False)["input_ids"][0]
    both = lm._canvas_denoiser([short, long], None, 1.0)(canvas)
    alone = lm._canvas_denoiser([short], None, 1.0)(canvas[:1])
    finite = torch.isfinite(alone[0])
    assert torch.equal(finite, torch.isfinite(both[0]))
    assert torch.allclose(both[0][finite], alone[0][finite], atol=1e-4)


def test_chat_messages_use_the_chat_template(models):
    lm = models["llada"]
    messages = [{"role": "user", "content": "Is the river near? Answer yes or no."}]
    texts = lm.generate(prompt=messages, constraints=[Regex(r"(yes|no)")], n=2, seed=0, echo=True)
    rendered = lm.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert all(t.startswith(rendered) and t[len(rendered) :] in ("yes", "no") for t in texts)


def test_prompt_too_long_names_both_lengths(models):
    lm = models["bert"]
    prompt = " ".join(["word"] * (lm.denoiser.max_length + 5))
    with pytest.raises(PromptTooLongError, match=str(lm.denoiser.max_length)):
        lm.generate(prompt=prompt, n=1)


@pytest.mark.parametrize("family", ["bert", "bert-unigram", "dream"])
def test_fine_tune_two_steps_with_init_from(zoo, family, tmp_path):
    data = tmp_path / "pairs.jsonl"
    rows = [
        {"input": f"restaurant {i} by the river", "output": json.dumps({"name": f"R{i}", "area": "riverside"})}
        for i in range(16)
    ]
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = ctrlgen.train(
        ctrlgen.TrainConfig(
            data=[str(data)],
            out=str(tmp_path / "run"),
            init_from=str(zoo[family]),
            trust_remote_code=True,
            prompt_column="input",
            data_column="output",
            max_steps=2,
            batch_size=4,
            canvas_length=48,
            val_every=100,
            accelerator="cpu",
            progress=False,
        )
    )
    summary = json.loads((out / "training.json").read_text())["latest"]
    assert summary["global_step"] == 2
    tuned = ctrlgen.load(out, trust_remote_code=True)
    assert type(tuned.denoiser) is type(ctrlgen.load(zoo[family], trust_remote_code=True).denoiser)
    texts = tuned.generate(prompt="restaurant 3 by the river", constraints=[JsonSchema(SCHEMA)], n=1, seed=0)
    jsonschema.validate(json.loads(texts[0]), SCHEMA)


_ATOMS = st.sampled_from(["[a-z]{1,4}", "[0-9]{2}", "(yes|no)", "[A-Z][a-z]+", "\\.", ", ", " ", '\\{"a": [0-9]\\}'])


@settings(max_examples=24, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    family=st.sampled_from(FAMILIES),
    atoms=st.lists(_ATOMS, min_size=1, max_size=4),
    sampler=st.sampled_from(["ancestral", "confidence", "remdm"]),
    seed=st.integers(0, 2**16),
)
def test_any_family_any_regex_output_matches(models, family, atoms, sampler, seed):
    """Property: on every tokenizer family, whatever the regex and sampler, an output either fully matches or
    the request is refused with a typed error before sampling (a vocabulary that cannot spell it)."""
    lm = models[family]
    pattern = "".join(atoms)
    try:
        texts = lm.generate(prompt="Answer:", constraints=[Regex(pattern)], n=2, seed=seed, sampler=sampler, steps=8)
    except UnsatisfiableConstraintError:
        return
    for text in texts:
        assert re.fullmatch(pattern, text), (family, pattern, text)


_OTHER_FAMILIES = {
    "distilbert": ("wordpiece", dict(dim=32, n_layers=1, n_heads=2, hidden_dim=64)),
    "electra": ("wordpiece", dict(embedding_size=32)),
    "albert": ("unigram", dict(embedding_size=16)),
    "xlm-roberta": ("unigram", {}),
    "deberta-v2": ("unigram", {}),
    "deberta": ("bpe", {}),
}


@pytest.fixture(scope="session")
def zoo_tokenizers():
    from ctrlgen import tiny_models

    texts = tiny_models.corpus_texts(600)
    return {
        "wordpiece": tiny_models.train_wordpiece_tokenizer(texts, 700),
        "unigram": tiny_models.train_unigram_tokenizer(texts, 700),
        "bpe": tiny_models.train_bytelevel_bpe_tokenizer(texts, 700),
    }


@pytest.mark.parametrize("model_type", sorted(_OTHER_FAMILIES))
def test_other_masked_lm_families_plug_in(zoo_tokenizers, model_type, tmp_path):
    """Masked LMs the zoo does not build, from their transformers configs: the registry takes any
    AutoModelForMaskedLM, and constraints stay exact on its tokenizer."""
    from transformers import AutoConfig, AutoModelForMaskedLM

    kind, extra = _OTHER_FAMILIES[model_type]
    tok = zoo_tokenizers[kind]
    small = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64)
    small |= dict(max_position_embeddings=260, vocab_size=len(tok), pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    model = AutoModelForMaskedLM.from_config(AutoConfig.for_model(model_type, **(small | extra)))
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    lm = ctrlgen.load(tmp_path)
    assert isinstance(lm.denoiser, MaskedLMDenoiser)
    for text in lm.generate(prompt=PROMPT, constraints=[JsonSchema(SCHEMA)], n=2, seed=0, steps=12):
        jsonschema.validate(json.loads(text), SCHEMA)
    for text in lm.fill("The {3} is near {2}.", n=2, seed=0):
        assert re.fullmatch(r"The .+ is near .+\.", text, flags=re.S), text


@pytest.mark.parametrize("family", ["roberta", "dream", "bert-unigram"])
def test_shorthand_classes_mean_what_python_means(models, family):
    """outlines-core's Rust tables are newer than Python's: ``\\d``/``\\w`` are spelled out from Python's own
    ``re``, so an untrained model that loves exotic digits still emits only what ``re.fullmatch`` accepts."""
    lm = models[family]
    for pattern in (r"\d{5}", r"\w+ \d{2}", r"[\d_]{3}\S"):
        for text in lm.generate(constraints=[Regex(pattern)], n=8, seed=0, steps=8):
            assert re.fullmatch(pattern, text), (pattern, text)
    schema = {"type": "object", "properties": {"zip": {"type": "string", "pattern": "^\\d{5}$"}}, "required": ["zip"]}
    for text in lm.generate(constraints=[JsonSchema(schema)], n=8, seed=0, steps=8):
        assert re.fullmatch(r"[0-9]{5}", json.loads(text)["zip"])  # ECMA-262: \d is [0-9]
    assert lm.last_report.resampled == 0


def test_dream_gets_a_mask_its_attention_takes(models):
    """Dream hands attention_mask to scaled-dot-product attention: a (B, 1, T, T) boolean mask."""
    lm = models["dream"]
    seen = []
    forward = lm.denoiser.model.forward

    def recording(*args, **kwargs):
        seen.append(kwargs.get("attention_mask"))
        return forward(*args, **kwargs)

    lm.denoiser.model.forward = recording
    try:
        lm.generate(prompt=["a", "a longer prompt"], n=1, length=4, seed=0)
    finally:
        del lm.denoiser.model.forward
    masks = [m for m in seen if m is not None]
    assert masks and all(m.dtype == torch.bool and m.dim() == 4 and m.shape[1] == 1 for m in masks)


def test_rewrite_never_ends_early_on_a_distinct_pad(models):
    """A masked LM's pad differs from its end token: both are banned inside a rewrite."""
    lm = models["bert"]
    forward = lm.denoiser.forward
    pad = lm.denoiser.pad_token_id

    def pad_loving(input_ids, attention_mask=None, labels=None):
        logits = forward(input_ids, attention_mask, labels)
        logits[..., pad] += 8.0
        return logits

    lm.denoiser.forward = pad_loving
    try:
        texts = lm.rewrite("the cat sat on the mat and looked at the dog", strength=0.5, n=4, seed=0)
    finally:
        del lm.denoiser.forward
    assert all(len(t.split()) >= 6 for t in texts), texts


def test_free_text_never_opens_with_a_continuation(models):
    """A WordPiece ``##`` token first would decode to a literal ``##``: free text keeps it out of position 0."""
    lm = models["bert"]
    texts = lm.generate(n=24, length=6, seed=0) + lm.generate(n=8, constraints=[Length(5)], seed=1)
    assert not any(t.startswith("##") for t in texts), texts
    assert all(not t.startswith("##") for t in lm.fill("{2} is near {2}.", n=8, seed=0))


@pytest.mark.parametrize("family", FAMILIES)
def test_prompt_guidance_on_every_family_keeps_outputs_exact(models, family):
    """Guidance towards the prompt reads the canvas once with and once without the prompt, through each
    family's own framing; the guided distribution moves, and constrained outputs stay valid."""
    lm = models[family]
    canvas = torch.full((1, 6), lm.mask_token_id)
    plain = lm._canvas_denoiser(lm._prefixes(PROMPT), None, 1.0)(canvas)
    guided = lm._canvas_denoiser(lm._prefixes(PROMPT), None, 1.0, 3.0)(canvas)
    assert not torch.allclose(plain, guided)
    for text in lm.generate(prompt=PROMPT, constraints=[JsonSchema(SCHEMA)], n=2, seed=0, steps=12, prompt_weight=3.0):
        jsonschema.validate(json.loads(text), SCHEMA)
