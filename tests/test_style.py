"""Style guidance on a tiny model and a tiny classifier (trained in seconds by fixtures)."""

import math

import pytest
import torch
from ctrlgen.constraints import InvalidStyleError, Length, Regex, Style
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ctrlgen import InvalidArgumentError
from tests.conftest import TINY, tiny_corpus


@pytest.fixture(scope="session")
def price_classifier(tiny_run, tmp_path_factory):
    """Tells 'cheap' sentences (label 1) from 'expensive' ones (label 0), on the tiny model's tokenizer."""
    from ctrlgen.guidance.classifier import StyleClassifier

    from ctrlgen.classifier_training import ClassifierTrainConfig, train_classifier

    folder = tmp_path_factory.mktemp("price")
    docs = tiny_corpus(n=2000, seed=3)
    (folder / "price.1").write_text("\n".join(d for d in docs if "cheap" in d) + "\n")
    (folder / "price.0").write_text("\n".join(d for d in docs if "expensive" in d) + "\n")
    out = train_classifier(
        ClassifierTrainConfig(
            data=[str(folder)],
            out=str(tmp_path_factory.mktemp("clf")),
            tokenizer=str(tiny_run),
            name="price",
            labels=["expensive", "cheap"],
            d_model=32,
            n_layers=1,
            n_heads=2,
            d_ff=64,
            canvas_length=24,
            batch_size=32,
            max_steps=150,
            progress=False,
            accelerator="cpu",
        )
    )
    return StyleClassifier.load(out)


def _p_cheap(clf, texts):
    return clf.predict_proba(texts)[:, 1].mean().item()


def test_classifier_learned_its_labels(price_classifier):
    texts = ["the mill is a cheap french place .", "the mill is a expensive french place ."]
    probs = price_classifier.predict_proba(texts)
    assert probs[0, 1] > 0.8 and probs[1, 1] < 0.2
    # training also fitted the word judge on the same split, and it was saved and loaded with the classifier
    assert price_classifier.word_judge is not None and price_classifier.word_judge.labels == ["expensive", "cheap"]
    judged = price_classifier.judge_log_proba(texts).exp()
    assert torch.allclose(judged.sum(-1), torch.ones(2)) and judged[0, 1] > 0.9 and judged[1, 1] < 0.1


@pytest.mark.parametrize("top_k", [0, 8])
def test_guidance_moves_probability_in_the_requested_direction(tiny_lm, price_classifier, top_k):
    kw = dict(n=48, length=24, seed=0, sampler="confidence", batch_size=48)

    def p_cheap(target: str, scale: float) -> float:
        texts = tiny_lm.generate(constraints=[Style(price_classifier, target, scale, top_k)], **kw)
        return _p_cheap(price_classifier, texts)

    base, up, down = p_cheap("cheap", 0.0), p_cheap("cheap", 6.0), p_cheap("expensive", 6.0)
    assert up > base + 0.05 and down < base - 0.05, (down, base, up)


def test_scale_zero_reproduces_unguided_sampling(tiny_lm, price_classifier):
    kw = dict(n=6, length=20, seed=5)
    assert tiny_lm.generate(constraints=[Style(price_classifier, "cheap", scale=0.0)], **kw) == tiny_lm.generate(**kw)


def test_style_window_bounds_when_guidance_acts(tiny_lm, price_classifier):
    """A window that holds no step leaves sampling unguided; one that holds the steps guides, and generate
    reports the classifier's trace over the steps it acted on."""
    kw = dict(n=6, length=20, seed=5, sampler="confidence", steps=10)
    plain = tiny_lm.generate(**kw)
    never = Style(price_classifier, "expensive", scale=8.0, start=1.0, stop=1.0)  # step / steps < 1 always
    assert tiny_lm.generate(constraints=[never], **kw) == plain
    assert tiny_lm.last_report.style_trace == []
    early = Style(price_classifier, "expensive", scale=8.0, start=0.0, stop=0.5)
    assert tiny_lm.generate(constraints=[early], **kw) != plain
    trace = tiny_lm.last_report.style_trace
    assert len(trace) == 6 and all(t.shape == (6,) for t in trace)  # steps 0..5 of 10: 0 <= step/10 <= 0.5
    with pytest.raises(InvalidStyleError):
        Style(price_classifier, "cheap", start=0.6, stop=0.2)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.sampled_from([r"[a-z ]+", r"(the|a) [a-z]+ [a-z ]*\.", r"[a-z]+( [a-z]+)*"]),
    st.integers(6, 16),
    st.floats(0.5, 8.0),
    st.integers(0, 99),
)
def test_hard_constraints_hold_under_guidance(tiny_lm, price_classifier, pattern, length, scale, seed):
    import re

    constraints = [Style(price_classifier, "cheap", scale=scale), Regex(pattern) & Length(min=3, max=length)]
    for text in tiny_lm.generate(n=3, length=24, constraints=constraints, seed=seed, steps=6):
        assert re.fullmatch(pattern, text), text


def test_rewrite_keeps_length_and_moves_style(tiny_lm, price_classifier):
    source = "the mill is a expensive french place ."
    n_tokens = len(tiny_lm.tokenizer(source, add_special_tokens=False)["input_ids"])
    style = Style(price_classifier, "cheap", scale=6.0, top_k=8)
    out = tiny_lm.rewrite(source, constraints=[style], strength=0.4, n=8, seed=0)
    assert len(out) == 8
    for text in out:
        assert len(tiny_lm.tokenizer(text, add_special_tokens=False)["input_ids"]) <= n_tokens + 2
    assert _p_cheap(price_classifier, out) > _p_cheap(price_classifier, [source]) + 0.3


def test_rewrite_random_selection_keeps_most_tokens(tiny_lm):
    source = "blue spice serves indian food in the riverside ."
    ids = tiny_lm.tokenizer(source, add_special_tokens=False)["input_ids"]
    out = tiny_lm.rewrite(source, strength=0.25, n=4, seed=1)
    for text in out:
        new = tiny_lm.tokenizer(text, add_special_tokens=False)["input_ids"]
        assert sum(a == b for a, b in zip(ids, new)) >= math.floor(0.6 * len(ids))


@pytest.mark.parametrize("strength", [0.0, -0.1, 1.5, float("nan")])
def test_bad_strength(tiny_lm, strength):
    with pytest.raises(InvalidArgumentError, match="strength"):
        tiny_lm.rewrite("the mill is cheap .", strength=strength)


@pytest.mark.parametrize("scale", [float("nan"), float("inf"), -1.0])
def test_bad_scale(scale):
    with pytest.raises(InvalidStyleError, match="scale"):
        Style("sentiment", "positive", scale=scale)


def test_unknown_style_name_and_label(tiny_lm, price_classifier):
    with pytest.raises(InvalidStyleError, match="unknown style classifier"):
        tiny_lm.generate(constraints=[Style("formality", "formal")])
    with pytest.raises(InvalidStyleError, match="no label"):
        tiny_lm.generate(constraints=[Style(price_classifier, "romantic")])


def test_classifier_for_another_tokenizer(tiny_lm):
    # the shipped sentiment classifier is built on the default model's tokenizer, not the tiny one
    with pytest.raises(InvalidStyleError, match="another tokenizer"):
        tiny_lm.generate(constraints=[Style("sentiment", "positive")])


def test_default_sentiment_classifier_ships_and_guides():
    import ctrlgen
    from ctrlgen.styles import load_classifier

    clf = load_classifier("sentiment")
    assert clf.labels == ["negative", "positive"]
    probs = clf.predict_proba(["the food was delicious and the staff were lovely .", "terrible , rude and dirty ."])
    assert probs[0, 1] > 0.5 > probs[1, 1]
    lm = ctrlgen.load()
    style = Style("sentiment", "positive", 4.0, 16)
    out = lm.rewrite("the food was cold and the waiter ignored us .", constraints=[style], strength=0.5, n=4, seed=0)
    assert len(out) == 4 and all(isinstance(t, str) and t for t in out)
    assert torch.isfinite(clf.predict_proba(out)).all()
    # The word judge only moves on words that carry sentiment: a text that merely lost its negative words
    # stays much nearer even odds for it than a text that says something positive.
    assert clf.word_judge is not None
    texts = ["the food was delicious and the staff were lovely .", "the food was ."]
    judge = clf.word_judge.log_proba(texts).exp()
    assert judge[0, 1] > 0.9 and abs(judge[1, 1] - 0.5) < abs(judge[0, 1] - 0.5)
    assert clf.judge_log_proba([]).shape == (0, 2)


def test_default_model_is_sentiment_conditional():
    """The shipped denoiser was fine-tuned with sentiment labels and label dropout: classifier-free guidance
    towards a label moves the shipped classifier's verdict on what it writes."""
    import ctrlgen
    from ctrlgen.styles import load_classifier

    lm, clf = ctrlgen.load(), load_classifier("sentiment")
    assert lm.model.config.label_names == ["negative", "positive"]
    sources = ["the pizza was cold and the staff ignored us .", "the room was dirty and the staff were rude ."]

    saliency_only = Style("sentiment", "positive", scale=0.0)  # the same words re-noised, no classifier push

    def p_positive(label):
        out = [
            text
            for source in sources
            for text in lm.rewrite(
                source,
                constraints=[saliency_only],
                strength=0.5,
                n=16,
                seed=0,
                label=label,
                cfg_weight=3.0,
                best_of=1,  # each draw as it comes: best-of would rank towards the style whatever the label
            )
        ]
        # judged as finished text: the classifier together with its word judge
        return clf.judge_log_proba(out).exp()[:, 1].mean().item()

    assert p_positive("positive") > p_positive("negative") + 0.08  # measured (6,000-step model): 0.71 against 0.55


@pytest.fixture(scope="session")
def conditional_run(tmp_path_factory):
    """A tiny class-conditional denoiser (label = cheap / expensive) trained with label dropout."""
    import csv

    from ctrlgen import TrainConfig, train

    folder = tmp_path_factory.mktemp("cfg")
    docs = [d for d in tiny_corpus(n=1500, seed=4) if "cheap" in d or "expensive" in d]
    with (folder / "docs.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "price"])
        for d in docs:
            writer.writerow([d, "cheap" if "cheap" in d else "expensive"])
    cfg = {**TINY, "val_every": 100}
    return train(
        TrainConfig(
            data=[str(folder / "docs.csv")],
            out=str(folder / "run"),
            max_steps=300,
            accelerator="cpu",
            label_column="price",
            cfg_dropout=0.2,
            **cfg,
        )
    )


def test_classifier_free_guidance(conditional_run):
    import ctrlgen

    lm = ctrlgen.load(conditional_run)
    assert lm.model.config.label_names == ["cheap", "expensive"]

    def share_cheap(label, weight):
        texts = lm.generate(n=32, length=20, seed=0, label=label, cfg_weight=weight, batch_size=32)
        hits = [("cheap" in t) - ("expensive" in t) for t in texts]
        return sum(hits) / len(hits)

    assert share_cheap("cheap", 3.0) > share_cheap("expensive", 3.0) + 0.5
    with pytest.raises(InvalidArgumentError, match="unknown label"):
        lm.generate(label="free")
    with pytest.raises(InvalidArgumentError, match="finite"):
        lm.generate(label="cheap", cfg_weight=float("nan"))


def test_cfg_needs_a_conditional_model(tiny_lm):
    with pytest.raises(InvalidArgumentError, match="without labels"):
        tiny_lm.generate(label="cheap")
    with pytest.raises(InvalidArgumentError, match="needs a label"):
        tiny_lm.generate(cfg_weight=2.0)


def test_classifier_embeddings_from_the_denoiser(tiny_run, tmp_path):
    from ctrlgen import DataError
    from ctrlgen.classifier_training import ClassifierTrainConfig, train_classifier

    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "x.0").write_text("the mill is expensive .\n" * 20)
    (folder / "x.1").write_text("the mill is cheap .\n" * 20)
    common = dict(
        data=[str(folder)],
        tokenizer=str(tiny_run),
        n_heads=2,
        d_ff=64,
        max_steps=3,
        progress=False,
        accelerator="cpu",
        init_embeddings_from=str(tiny_run),
    )
    out = train_classifier(ClassifierTrainConfig(out=str(tmp_path / "ok"), d_model=TINY["d_model"], **common))
    assert (out / "model.safetensors").exists()
    with pytest.raises(DataError, match="do not fit"):
        train_classifier(ClassifierTrainConfig(out=str(tmp_path / "bad"), d_model=TINY["d_model"] * 2, **common))


def test_rewrite_best_of_keeps_the_classifiers_favourite(tiny_lm, price_classifier):
    source = "the mill is a expensive french place ."
    style = Style(price_classifier, "cheap", scale=2.0)
    # n=1, best_of=6 denoises the same six canvases with the same draws as n=6: it must keep their best
    candidates = tiny_lm.rewrite(source, constraints=[style], strength=0.4, n=6, seed=3, best_of=1)
    (best,) = tiny_lm.rewrite(source, constraints=[style], strength=0.4, n=1, best_of=6, seed=3)
    assert len(set(candidates)) > 1
    scores = price_classifier.judge_log_proba(candidates)[:, 1]
    assert best == candidates[int(scores.argmax())]
    assert len(tiny_lm.last_report.style_trace[0]) == 1


def test_rewrite_bad_best_of_and_cfg_arguments(tiny_lm, price_classifier):
    style = Style(price_classifier, "cheap")
    with pytest.raises(InvalidArgumentError, match="best_of"):
        tiny_lm.rewrite("the mill is cheap .", constraints=[style], best_of=0)
    with pytest.raises(InvalidArgumentError, match="Style"):
        tiny_lm.rewrite("the mill is cheap .", best_of=3)
    with pytest.raises(InvalidArgumentError, match="needs a label"):
        tiny_lm.rewrite("the mill is cheap .", cfg_weight=2.0)
    with pytest.raises(InvalidArgumentError, match="without labels"):
        tiny_lm.rewrite("the mill is cheap .", label="cheap")
    for temperature in (-1.0, float("nan"), float("inf")):
        with pytest.raises(InvalidArgumentError, match="saliency_temperature"):
            tiny_lm.rewrite("the mill is cheap .", constraints=[style], saliency_temperature=temperature)


def test_rewrite_with_classifier_free_guidance(conditional_run):
    import ctrlgen

    lm = ctrlgen.load(conditional_run)
    source = "the mill is a moderate french place ."

    def share_cheap(label):
        texts = lm.rewrite(source, strength=0.5, n=24, seed=0, label=label, cfg_weight=3.0)
        return sum(("cheap" in t) - ("expensive" in t) for t in texts) / len(texts)

    assert share_cheap("cheap") > share_cheap("expensive") + 0.5


def test_fine_tune_from_a_model_with_partly_labelled_data(tiny_run, tmp_path):
    """``init_from`` copies the base weights and starts a new label embedding at zero: before any update the
    conditional model computes exactly what the base model does, with or without a label."""
    import json

    import ctrlgen
    from ctrlgen import ModelNotFoundError, TrainConfig, train

    data = tmp_path / "docs.jsonl"
    with data.open("w") as f:
        for d in tiny_corpus(n=300, seed=5):
            label = "cheap" if "cheap" in d else "expensive" if "expensive" in d else None
            f.write(json.dumps({"text": d, "price": label} if label else {"text": d}) + "\n")
    common = {**TINY, "lr": 0.0, "weight_decay": 0.0, "dropout": 0.0}
    out = train(
        TrainConfig(
            data=[str(data)],
            out=str(tmp_path / "ft"),
            init_from=str(tiny_run),
            label_column="price",
            max_steps=2,
            accelerator="cpu",
            **common,
        )
    )
    base, tuned = ctrlgen.load(tiny_run), ctrlgen.load(out)
    assert tuned.model.config.label_names == ["cheap", "expensive"]
    assert tuned.tokenizer.get_vocab() == base.tokenizer.get_vocab()
    ids = base.tokenizer("the mill is", add_special_tokens=False)["input_ids"]
    canvas = torch.full((2, 12), base.mask_token_id)
    canvas[:, : len(ids)] = torch.tensor(ids)
    with torch.no_grad():
        expected = base.model(canvas)
        for labels in (None, torch.tensor([0, 1])):
            assert torch.allclose(tuned.model(canvas, labels), expected, atol=1e-5)
    with pytest.raises(ModelNotFoundError, match="init_from"):
        train(TrainConfig(data=[str(data)], out=str(tmp_path / "x"), init_from=str(tmp_path / "none"), **common))


def test_labelled_data_needs_some_labels(tmp_path):
    from ctrlgen import DataError
    from ctrlgen.data import TextSource, read_labelled_texts

    path = tmp_path / "docs.jsonl"
    path.write_text('{"text": "a", "y": "1"}\n{"text": "b"}\n{"text": "c", "y": ""}\n')
    assert read_labelled_texts([TextSource(str(path))], "y") == (["a", "b", "c"], ["1", "", ""])
    path.write_text('{"text": "a", "y": ""}\n{"text": "b", "y": null}\n')
    with pytest.raises(DataError, match="has a 'y' label"):
        read_labelled_texts([TextSource(str(path))], "y")
    csv_path = tmp_path / "docs.csv"
    csv_path.write_text("text,y\na,neg\nb,\n")
    assert read_labelled_texts([TextSource(str(csv_path))], "y") == (["a", "b"], ["neg", ""])
    path.write_text("")
    with pytest.raises(DataError, match="no records"):
        read_labelled_texts([TextSource(str(path))], "y")
    path.write_text('{"text": "a"}\n')
    with pytest.raises(DataError, match="no label field"):
        read_labelled_texts([TextSource(str(path))], "y")
    (tmp_path / "x.txt").write_text("a\n")
    with pytest.raises(DataError, match="CSV or JSONL"):
        read_labelled_texts([TextSource(str(tmp_path / "x.txt"))], "y")


def test_rewrite_defaults_are_the_measured_recipe():
    """Without arguments a user gets the best measured settings (README, "Style benchmark"): the same draws as
    spelling the recipe out; and label=None, best_of=1 turn the extras off."""
    import ctrlgen

    lm = ctrlgen.load()
    source = "the food was cold and the waiter ignored us ."
    default = lm.rewrite(source, constraints=[Style("sentiment", "positive")], n=2, seed=0)
    recipe = lm.rewrite(
        source,
        constraints=[Style("sentiment", "positive", scale=4.0, top_k=16)],
        strength=0.25,
        label="positive",
        cfg_weight=3.0,
        best_of=16,
        n=2,
        seed=0,
    )
    assert default == recipe
    plain = lm.rewrite(source, constraints=[Style("sentiment", "positive")], n=2, seed=0, label=None, best_of=1)
    assert plain != default


def test_a_classifier_reads_the_labels_of_a_jsonl_corpus(tmp_path):
    from ctrlgen import DataError
    from ctrlgen.classifier_training import read_labelled

    path = tmp_path / "corpus.jsonl"
    path.write_text('{"text": "good", "s": "pos"}\n{"text": "plain"}\n{"text": "bad", "s": "neg"}\n')
    assert read_labelled(str(path), "s") == [("good", "pos"), ("bad", "neg")]  # the unlabelled record is left out
    with pytest.raises(DataError, match="needs --label-column"):
        read_labelled(str(path))
    path.write_text('{"text": "good", "s": "pos"}\n{"text": "plain"}\n')
    with pytest.raises(DataError, match="at least two labels"):
        read_labelled(str(path), "s")
