"""The embedding process (Gaussian noise on learned token embeddings, Diffusion-LM): schedules, corruption,
training through the same Lightning module with resume, and typed refusals."""

import json
import math
import re

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ctrlgen import InvalidArgumentError, Length, Regex, TrainConfig, train
from ctrlgen.gaussian import GAUSSIAN_SCHEDULES, EmbeddingProcess, SqrtSchedule, timestep_features
from tests.conftest import TINY, tiny_corpus
from tests.test_style import price_classifier  # noqa: F401  (a fixture: a tiny cheap/expensive classifier)

EMB = {**TINY, "process": "embedding"}


@pytest.mark.parametrize("name", sorted(GAUSSIAN_SCHEDULES))
@settings(max_examples=50, deadline=None)
@given(t=st.floats(0.01, 0.98))
def test_schedules_fall_from_signal_to_noise_with_their_derivative(name, t):
    schedule = GAUSSIAN_SCHEDULES[name]()
    tt = torch.tensor([t], dtype=torch.float64)
    h = 1e-6
    numeric = (schedule.abar(tt + h) - schedule.abar(tt - h)) / (2 * h)
    assert schedule.dabar(tt).item() == pytest.approx(numeric.item(), rel=1e-3, abs=1e-6)
    assert schedule.abar(tt + 0.01).item() < schedule.abar(tt).item()
    assert schedule.dsnr(tt).item() < 0
    assert schedule.abar(torch.tensor([0.0])).item() > 0.98 and schedule.abar(torch.tensor([1.0])).item() < 1e-3


@pytest.mark.parametrize("name", sorted(GAUSSIAN_SCHEDULES))
def test_the_bounds_time_change_integrates_the_diffusion_weight(name):
    # The bound draws u = log(1 + SNR) uniformly and weighs by (1 + SNR)/2 (u_max - u_min): for any error curve
    # e(t) that must integrate -1/2 SNR'(t) e(t) over [t_min, 1], as a fine grid in t does.
    schedule, t_min = GAUSSIAN_SCHEDULES[name](), 1e-3
    grid = torch.linspace(t_min, 1.0, 400_001, dtype=torch.float64)

    def error(t):
        return 3.0 * t + 0.5 * torch.sin(7 * t) ** 2  # any smooth error curve

    direct = torch.trapezoid(-0.5 * schedule.dsnr(grid) * error(grid), grid)
    u_hi = float(schedule.log1p_snr(torch.tensor([t_min], dtype=torch.float64)))
    u_lo = float(schedule.log1p_snr(torch.tensor([1.0], dtype=torch.float64)))
    u = torch.linspace(u_lo, u_hi, 200_001, dtype=torch.float64)
    t = schedule.time_at(u, t_min, 1.0).double()
    assert torch.allclose(schedule.log1p_snr(t), u, rtol=1e-4, atol=1e-4)  # time_at inverts log1p_snr
    by_u = (u_hi - u_lo) * (0.5 * torch.exp(u) * error(t)).mean()
    assert by_u.item() == pytest.approx(direct.item(), rel=2e-3)


def test_corruption_keeps_fixed_positions_and_has_the_schedules_variance():
    process = EmbeddingProcess(SqrtSchedule())
    x0 = torch.ones(4, 2000, 8)
    noisable = torch.ones(4, 2000, dtype=torch.bool)
    noisable[:, :5] = False  # a prompt
    t = torch.tensor([0.1, 0.3, 0.6, 0.9])
    z = process.corrupt(x0, t, torch.Generator().manual_seed(0), noisable)
    assert torch.equal(z[:, :5], x0[:, :5])
    abar = SqrtSchedule().abar(t)
    free = z[:, 5:]
    assert torch.allclose(free.mean((1, 2)), abar.sqrt(), atol=0.02)
    assert torch.allclose(free.var((1, 2)), 1 - abar, atol=0.02)


def test_timestep_features_tell_times_apart():
    f = timestep_features(torch.tensor([0.0, 0.001, 0.5, 1.0]), 33)
    assert f.shape == (4, 33) and torch.isfinite(f).all()
    assert torch.cdist(f, f).fill_diagonal_(math.inf).min() > 0.1


@pytest.fixture(scope="module")
def emb_run(corpus_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("emb") / "run"
    return train(TrainConfig(data=[str(corpus_file)], out=str(out), max_steps=300, accelerator="cpu", **EMB))


def test_embedding_model_trains_and_its_predictions_round_to_the_tokens(emb_run):
    import ctrlgen
    from ctrlgen.processes import process_for

    info = json.loads((emb_run / "training.json").read_text())["latest"]
    assert info["global_step"] == 300 and math.isfinite(info["val_loss"])
    lm = ctrlgen.load(emb_run)
    net = lm.denoiser.model
    assert net.config.process == "embedding" and net.config.schedule == "sqrt" and net.embed is None
    process = process_for(lm.denoiser)
    ids = lm.tokenizer(tiny_corpus(8, seed=5), return_tensors="pt", padding=True)["input_ids"]
    net.eval()
    with torch.no_grad():
        x0 = net.latent_embedding(ids)
        # nearly clean latents round back to their tokens; pure noise does not
        right = {}
        for t in (0.001, 0.999):
            times = torch.full((ids.shape[0],), t)
            z = process.corrupt(x0, times, torch.Generator().manual_seed(0))
            right[t] = (net.round_logits(net.predict_latent(z, times)).argmax(-1) == ids).float().mean()
    right_low, right_high = right[0.001], right[0.999]
    assert right_low > 0.8 and right_low > right_high, (right_low, right_high)


@pytest.fixture(scope="module")
def emb_lm(emb_run):
    import ctrlgen

    return ctrlgen.load(emb_run)


def test_an_embedding_model_generates_text_reproducibly(emb_lm):
    texts = emb_lm.generate(n=3, length=16, seed=0, steps=12)
    assert len(texts) == 3 and sum(len(t.split()) for t in texts) >= 3
    assert texts == emb_lm.generate(n=3, length=16, seed=0, steps=12)
    assert texts != emb_lm.generate(n=3, length=16, seed=1, steps=12)


_WORDS = st.sampled_from(["the", "a", "[a-z]+", "[a-z]{2,5}", "(pub|restaurant|cafe)", "[0-9]", "(cheap)?"])


@st.composite
def _word_patterns(draw):
    words = draw(st.lists(_WORDS, min_size=1, max_size=4))
    tail = draw(st.sampled_from(["", r"\.", "( near the [a-z]+)?"]))
    return " ".join(words) + tail


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pattern=_word_patterns(), words=st.integers(1, 8), seed=st.integers(0, 1000))
def test_every_output_of_an_embedding_model_matches_its_regex_and_length(emb_lm, pattern, words, seed):
    for text in emb_lm.generate(n=2, length=20, constraints=[Regex(pattern)], seed=seed, steps=8):
        assert re.fullmatch(pattern, text), (pattern, text)
    for text in emb_lm.generate(n=2, constraints=[Length(words=words)], seed=seed, steps=8):
        assert len(text.split()) == words, (words, text)


def test_templates_keep_their_literals_on_an_embedding_model(emb_lm):
    for text in emb_lm.fill("the {3} is near the {2} .", n=2, seed=0, steps=6):
        assert text.startswith("the ") and " is near the " in text and text.endswith(" ."), text


def test_a_sampler_of_another_process_is_refused_by_name(emb_lm):
    from ctrlgen import AncestralSampler, UnknownSamplerError

    with pytest.raises(UnknownSamplerError, match="embedding process"):
        emb_lm.generate(n=1, length=8, sampler="ancestral")
    with pytest.raises(UnknownSamplerError, match="embedding process"):
        emb_lm.generate(n=1, length=8, sampler=AncestralSampler())


def test_embedding_training_resumes_from_its_checkpoint(corpus_file, tmp_path):
    cfg = dict(data=[str(corpus_file)], out=str(tmp_path / "r"), accelerator="cpu", **{**EMB, "val_every": 100})
    train(TrainConfig(max_steps=6, **cfg))
    train(TrainConfig(max_steps=9, resume=True, **cfg))
    history = json.loads((tmp_path / "r" / "training.json").read_text())["runs"]
    assert [r["global_step"] for r in history] == [6, 9]
    ckpt = torch.load(tmp_path / "r" / "checkpoints" / "last.ckpt", weights_only=False)
    assert any(k.startswith("model.model.latent_embed") for k in ckpt["state_dict"])


@pytest.mark.parametrize(
    "overrides, match",
    [
        ({"schedule": "loglinear"}, "embedding process"),
        ({"init_from": "somewhere"}, "from scratch"),
        ({"objective": "autoregressive"}, "from scratch"),
    ],
)
def test_embedding_process_options_are_checked_by_name(tmp_path, overrides, match):
    with pytest.raises(InvalidArgumentError, match=match):
        TrainConfig(data=["x.txt"], out=str(tmp_path), process="embedding", **overrides)


def test_a_masking_schedule_name_that_does_not_exist_is_refused(tmp_path):
    with pytest.raises(InvalidArgumentError, match="unknown noise schedule"):
        TrainConfig(data=["x.txt"], out=str(tmp_path), schedule="sqrt")


def test_style_gradients_on_the_latents_move_the_classifier_both_ways(emb_lm, price_classifier):  # noqa: F811
    from ctrlgen import Style

    kw = dict(n=24, length=16, seed=0, steps=10)
    plain = emb_lm.generate(**kw)
    # scale 0 computes nothing: exactly the unguided samples
    assert emb_lm.generate(constraints=[Style(price_classifier, "cheap", scale=0.0)], **kw) == plain

    def p_cheap(texts):
        return price_classifier.predict_proba(texts)[:, 1].mean().item()

    cheap = emb_lm.generate(constraints=[Style(price_classifier, "cheap", scale=4.0)], **kw)
    dear = emb_lm.generate(constraints=[Style(price_classifier, "expensive", scale=4.0)], **kw)
    assert p_cheap(cheap) > p_cheap(plain) > p_cheap(dear), (p_cheap(cheap), p_cheap(plain), p_cheap(dear))


def test_style_on_latents_keeps_hard_constraints_exact(emb_lm, price_classifier):  # noqa: F811
    from ctrlgen import Style

    pattern = r"the [a-z]+ is (cheap|expensive)( [a-z]+)*"
    style = Style(price_classifier, "cheap", scale=4.0)
    for text in emb_lm.generate(n=4, length=16, constraints=[Regex(pattern), style], seed=1, steps=8):
        assert re.fullmatch(pattern, text), text


def test_a_rewrite_started_near_its_source_keeps_more_of_it(emb_lm):
    src = tiny_corpus(1, seed=11)[0]
    ids = emb_lm.tokenizer(src, add_special_tokens=False)["input_ids"]

    def kept(start_time):
        outs = emb_lm.rewrite(src, strength=0.5, n=12, seed=0, start_time=start_time, steps=10)
        same = [emb_lm.tokenizer(o, add_special_tokens=False)["input_ids"] == ids for o in outs]
        return sum(same)

    near, far = kept(0.01), kept(1.0)
    assert near >= far + 3, (near, far)


def test_the_sdedit_start_noises_the_start_tokens_by_the_schedule():
    from ctrlgen.gaussian import SqrtSchedule
    from ctrlgen.sampling.latent import LatentSampler

    emb = torch.randn(10, 4, generator=torch.Generator().manual_seed(0))
    x = torch.tensor([[9, 9, 3]])  # 9 plays the mask token; position 2 is committed
    start = torch.tensor([[2, -1, 5]])
    sampler = LatentSampler(steps=4, embeddings=emb, gaussian=SqrtSchedule(), start_time=0.25, start_tokens=start)
    free = x == 9
    canvas = sampler.network_input(x, free, 0, torch.Generator().manual_seed(1))
    noise = torch.randn((1, 3, 4), generator=torch.Generator().manual_seed(1), dtype=torch.float64).float()
    a = float(SqrtSchedule().abar(torch.tensor(0.25, dtype=torch.float64)))
    assert torch.allclose(canvas.latents[0, 0], a**0.5 * emb[2] + (1 - a) ** 0.5 * noise[0, 0], atol=1e-5)
    assert torch.allclose(canvas.latents[0, 1], noise[0, 1])  # no start token: the prior
    assert torch.equal(canvas.latents[0, 2], emb[3])  # committed: its clean embedding
    assert float(canvas.t[0]) == 0.25


@pytest.mark.parametrize("bad", [0.0, 1.5, float("nan"), True, "0.5"])
def test_a_start_time_outside_zero_one_is_refused_by_name(emb_lm, bad):
    with pytest.raises(InvalidArgumentError, match="start_time"):
        emb_lm.rewrite("the pub is cheap", start_time=bad)


def test_start_time_is_refused_for_a_masking_model(tiny_lm):
    with pytest.raises(InvalidArgumentError, match="start_time applies to models of the embedding process"):
        tiny_lm.rewrite("the pub is cheap", start_time=0.5)


def test_the_latent_sampler_may_commit_nothing_early_and_commits_everything_by_the_end(emb_lm):
    from ctrlgen.sampling.latent import LatentSampler

    canvas = torch.full((2, 40), emb_lm.mask_token_id)
    counts = []

    class Counting(LatentSampler):
        def step(self, state, guides=()):
            out = super().step(state, guides)
            counts.append(int(out.committed.sum()))
            return out

    tokens = emb_lm.sample_tokens(canvas, Counting(), steps=64, seed=0)
    assert counts[0] == 0 and 0 in counts[:8]  # abar barely rises over the first steps
    assert not (tokens == emb_lm.mask_token_id).any() and sum(counts) == 80


def test_a_run_on_the_shipped_tokenizer_takes_the_shipped_classifier(corpus_file, tmp_path, emb_lm):
    import ctrlgen
    from ctrlgen import CtrlgenError, ModelNotFoundError, Style
    from ctrlgen.pipeline import DEFAULT_MODEL_DIR

    style = Style("sentiment", "positive", scale=2.0)
    with pytest.raises(CtrlgenError, match="tokenizer"):  # its own tokenizer: the shipped classifier cannot read it
        emb_lm.generate(n=1, length=8, constraints=[style], steps=4)
    cfg = {**EMB, "data": [str(corpus_file)], "max_steps": 20, "val_every": 10, "accelerator": "cpu"}
    run = train(TrainConfig(out=str(tmp_path / "run"), tokenizer="default", **cfg))
    assert (run / "tokenizer.json").read_bytes() == (DEFAULT_MODEL_DIR / "tokenizer.json").read_bytes()
    lm = ctrlgen.load(run)
    assert lm.denoiser.model.config.vocab_size == len(lm.tokenizer) > EMB["vocab_size"]  # the tokenizer's, not 400
    texts = lm.generate(n=2, length=8, constraints=[style, Length(words=3)], steps=6, seed=0)
    assert all(len(t.split()) == 3 for t in texts)
    with pytest.raises(ModelNotFoundError, match="no tokenizer.json"):
        train(TrainConfig(out=str(tmp_path / "x"), tokenizer=str(tmp_path / "nowhere"), **cfg))
    with pytest.raises(InvalidArgumentError, match="tokenizer and init_from"):
        TrainConfig(out=str(tmp_path / "y"), tokenizer="default", init_from=str(run), data=[str(corpus_file)])


def test_the_cli_rewrites_with_an_embedding_model(emb_run, capsys):
    from ctrlgen.cli import main

    src = tiny_corpus(1, seed=11)[0]
    argv = ["rewrite", src, "--model", str(emb_run), "-n", "2", "--seed", "0", "--strength", "0.3"]
    assert main([*argv, "--start-time", "0.4"]) in (0, None)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all(line.strip() for line in lines)
    assert main([*argv, "--start-time", "2"]) == 2
    assert "start_time must be in (0, 1]" in capsys.readouterr().err
