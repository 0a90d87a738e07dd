"""DiffusionGemma through ctrlgen: a tiny randomly initialised DiffusionGemmaForBlockDiffusion with a tokenizer
trained here, saved and loaded with ``ctrlgen.load``; prompted generation under every kind of hard constraint."""

import json
import re

import jsonschema
import pytest
import torch

pytest.importorskip("transformers.models.diffusion_gemma")


@pytest.fixture(scope="module")
def gemma_dir(tmp_path_factory):
    from ctrlgen.tiny_models.diffusion_gemma import build_diffusion_gemma

    return build_diffusion_gemma(tmp_path_factory.mktemp("dgemma"), vocab_size=1500, canvas_length=16)


@pytest.fixture(scope="module")
def gemma(gemma_dir):
    import ctrlgen

    return ctrlgen.load(gemma_dir)


SCHEMA = {
    "type": "object",
    "properties": {"name": {"enum": ["Aromi", "Zizzi"]}, "rating": {"type": "integer", "minimum": 1, "maximum": 5}},
    "required": ["name", "rating"],
    "additionalProperties": False,
}


def test_loads_as_a_uniform_noise_denoiser(gemma):
    from ctrlgen.denoisers.diffusion_gemma import DiffusionGemmaDenoiser

    den = gemma.denoiser
    assert isinstance(den, DiffusionGemmaDenoiser) and den.process_name == "uniform"
    assert den.end_token_id == den.tokenizer.convert_tokens_to_ids("<turn|>")
    assert den.mask_token_id == den.model.config.image_token_id  # the placeholder, never text
    assert den.max_canvas == 16


@pytest.mark.parametrize("sampler", ["entropy-bound", "ancestral"])
def test_prompted_constrained_generation_validates(gemma, sampler):
    from ctrlgen import JsonSchema, Length, Regex

    chat = [{"role": "user", "content": "Give a restaurant as JSON."}]
    for doc in gemma.generate(n=3, prompt=chat, constraints=[JsonSchema(SCHEMA)], sampler=sampler, seed=0, steps=10):
        jsonschema.validate(json.loads(doc), SCHEMA)
    for text in gemma.generate(n=3, prompt="Name it:", constraints=[Regex(r"[A-Z][a-z]+ [0-9]{2}")], sampler=sampler):
        assert re.fullmatch(r"[A-Z][a-z]+ [0-9]{2}", text)
    for text in gemma.generate(n=3, prompt=["a", "a longer prompt"], constraints=[Length(words=3)], sampler=sampler):
        assert len(text.split()) == 3
    for text in gemma.fill("The {2} is near {3}.", n=2, prompt="Fill in:", seed=1, sampler=sampler):
        assert text.startswith("The ") and " is near " in text and text.endswith(".")


def test_the_prompt_is_encoded_once_and_self_conditioning_carries_the_constrained_distribution(gemma, monkeypatch):
    from ctrlgen import Regex

    den = gemma.denoiser
    encodes, seen = [], []
    real_encode, real_logits = den.encode, den.canvas_logits
    monkeypatch.setattr(den, "encode", lambda *a: encodes.append(1) or real_encode(*a))
    monkeypatch.setattr(den, "canvas_logits", lambda c, k, x, sc=None: seen.append(sc) or real_logits(c, k, x, sc))
    gemma.generate(n=2, prompt="Say:", constraints=[Regex("[ab]{4}")], seed=0, steps=6, sampler="ancestral")
    assert len(encodes) == 1 and len(seen) == 6
    assert seen[0] is None
    ends = {den.end_token_id, den.pad_token_id}
    for sc in seen[1:]:
        assert sc is not None and sc.shape[0] == 2
        allowed = torch.isfinite(sc)  # the constrained distribution: only a/b spellings and the end survive
        for tok in torch.nonzero(allowed.any(0).any(0)).squeeze(-1).tolist():
            assert tok in ends or set(den.tokenizer.decode([tok])) <= {"a", "b"}, tok


def test_canvas_logits_agree_with_the_one_call_forward(gemma):
    den = gemma.denoiser
    prompt = torch.tensor([den.prefix_ids(den.tokenizer.encode("near the river", add_special_tokens=False))])
    canvas = torch.randint(0, len(den.tokenizer), (1, 16), generator=torch.Generator().manual_seed(0))
    keep = torch.ones_like(prompt, dtype=torch.bool)
    with torch.no_grad():
        ours = den.canvas_logits(den.encode(prompt, keep), keep, canvas)
        theirs = den.model(input_ids=prompt, decoder_input_ids=canvas).logits
    assert torch.allclose(ours, theirs, atol=1e-5)


def test_what_does_not_apply_is_refused_by_name(gemma):
    from ctrlgen.errors import InvalidArgumentError, UnknownSamplerError

    long = "the food was cold and the service was slow but the view over the river was lovely in the evening"
    with pytest.raises(InvalidArgumentError, match="canvas of 16"):
        gemma.rewrite(long)  # a rewrite keeps the source's layout on one canvas
    assert len(gemma.generate(n=1, length=40, seed=0, steps=4)) == 1  # unconstrained, over three canvases
    with pytest.raises(UnknownSamplerError, match="entropy-bound"):
        gemma.generate(n=1, sampler="confidence")
    with pytest.raises(InvalidArgumentError, match="label"):
        gemma.generate(n=1, label="positive")
    from ctrlgen import InvalidStyleError, Style

    with pytest.raises(InvalidStyleError, match="another tokenizer"):
        gemma.generate(n=1, constraints=[Style("sentiment", "positive")])


def test_low_level_sampling_and_no_state_left_between_runs(gemma):
    """``sample_tokens`` without a denoiser of one's own works on a uniform-noise model, and the cached
    denoiser callable keeps no self-conditioning state from one run to the next."""
    canvas = torch.full((2, 8), gemma.mask_token_id)
    out = gemma.sample_tokens(canvas, steps=4, seed=0)
    assert out.shape == (2, 8) and not (out == gemma.mask_token_id).any()
    assert gemma.conditional_denoiser(None).self_conditioning is None
    gemma.generate(n=1, seed=0, steps=3)
    assert gemma.conditional_denoiser(None).self_conditioning is None


@pytest.mark.parametrize("private", [True, False])
def test_self_conditioning_hands_over_the_tempered_guided_rows(private):
    """The hand-over is the distribution the step drew from: guided rows at the free positions, divided by the
    step's temperature, the point mass elsewhere; written in place only into an output no later step reads."""
    from types import SimpleNamespace

    from ctrlgen.guidance.categorical import MaskedRows

    from ctrlgen.denoisers.diffusion_gemma import SelfConditioning

    g = torch.Generator().manual_seed(0)
    dense = torch.randn(2, 5, 7, generator=g).log_softmax(-1)
    masked = torch.rand(2, 5, generator=g) < 0.6
    masked[0, 0] = True
    dense[~masked] = float("-inf")
    dense[~masked, 2] = 0.0  # SUBS: a point mass at accepted positions
    original = dense.clone()
    rows = MaskedRows.gather(dense, masked)
    rows.values[:, 3] = float("-inf")  # what a constraint guide does to the free rows
    target = SimpleNamespace(self_conditioning=None)
    state = SimpleNamespace(masked_rows=rows, private_output=private, log_probs=rows.dense(), step=1)
    guide = SelfConditioning(target, lambda s: 0.5)
    assert guide.process_logits(state) is rows
    sc = target.self_conditioning
    expected = original.clone()
    expected[masked] = rows.values / 0.5
    assert torch.equal(sc, expected)
    assert (sc is dense) == private  # in place only when the output is this step's alone
    if not private:
        assert torch.equal(dense, original)


def test_diffusion_gemma_samples_with_its_published_sampler_by_default(gemma):
    from ctrlgen.sampling import EntropyBoundSampler

    sampler = gemma._sampler(None, None, None, None)
    assert isinstance(sampler, EntropyBoundSampler) and sampler.total_steps(16) == 48


def test_a_sentencepiece_tokenizer_with_byte_pieces_like_the_released_one(tmp_path):
    """The released tokenizer is SentencePiece BPE: spaces as "▁", characters it has no piece for written as
    byte pieces. Constraints that need those bytes (a newline, "é" and "[" here, absent from the training text
    but for the byte pieces) hold across canvases, prompted through the chat template."""
    import re

    import ctrlgen
    from ctrlgen import JsonSchema, Regex
    from ctrlgen.tiny_models.diffusion_gemma import build_diffusion_gemma, gemma_style_tokenizer

    texts = ["the mill is a cafe near the river , rated 3 of 5 ."] * 50 + ["aromi serves cheap food"] * 50
    tok = gemma_style_tokenizer(400, texts, sentencepiece=True)
    assert tok.convert_tokens_to_ids("<0x0A>") not in tok.all_special_ids
    assert tok.tokenize("é\n")[-1] == "<0x0A>"
    assert tok.decode(tok.encode("a é\n[b]", add_special_tokens=False)) == "a é\n[b]"
    lm = ctrlgen.load(build_diffusion_gemma(tmp_path / "sp", canvas_length=8, tokenizer=tok))
    schema = {"type": "array", "items": {"enum": ["café", "pub"]}, "minItems": 3, "maxItems": 3}
    prompt = [{"role": "user", "content": "Three places."}]
    for doc in lm.generate(n=3, prompt=prompt, constraints=[JsonSchema(schema)], seed=0, steps=4):
        jsonschema.validate(json.loads(doc), schema)
    pattern = r"[a-zé]{2,4}\n[a-z]{2,4}( [a-z]{2,4}){3}"
    for text in lm.generate(n=3, prompt="Two lines:", constraints=[Regex(pattern)], seed=1, steps=4):
        assert re.fullmatch(pattern, text), text


def test_prompt_guidance_with_an_encoded_prompt(gemma):
    """DiffusionGemma encodes its prompt once into a KV cache; guidance keeps a second cache for the canvas
    without a prompt, and constrained outputs stay exact."""
    from ctrlgen import Regex

    texts = gemma.generate(prompt="Say a number:", constraints=[Regex(r"[0-9]{3}")], n=2, seed=0, prompt_weight=2.5)
    assert all(re.fullmatch(r"[0-9]{3}", t) for t in texts), texts
