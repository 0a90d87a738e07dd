"""The word-presence naive Bayes judge that helps rank finished rewrites."""

import pytest
import torch
from ctrlgen.guidance import WordJudge
from ctrlgen.guidance.classifier import ClassifierMismatchError, StyleClassifier
from ctrlgen.guidance.lexical import words
from hypothesis import given, settings
from hypothesis import strategies as st

TEXTS = [
    "the food was great .",
    "great staff , lovely place !",
    "lovely view and great wine .",
    "the food was awful .",
    "awful staff , rude waiter .",
    "rude and awful service .",
]
LABELS = ["pos", "pos", "pos", "neg", "neg", "neg"]


@pytest.fixture()
def judge():
    return WordJudge.fit(TEXTS, LABELS, ["neg", "pos"], min_count=1)


def test_words_carry_their_label(judge):
    p = judge.log_proba(["great", "awful", "lovely and great", "zebra"]).exp()
    assert p[0, 1] > 0.6 and p[1, 0] > 0.6
    assert p[2, 1] > p[0, 1]  # two positive words are more evidence than one
    assert torch.allclose(p[3], torch.tensor([0.5, 0.5]))  # unseen words leave the (even) prior


def test_rare_words_are_dropped():
    judge = WordJudge.fit(TEXTS, LABELS, ["neg", "pos"], min_count=2)
    assert "great" in judge.word_counts and "view" not in judge.word_counts
    assert judge.word_counts["great"] == [0, 3]


def test_save_and_load(judge, tmp_path):
    assert WordJudge.load(tmp_path) is None
    judge.save(tmp_path)
    again = WordJudge.load(tmp_path)
    texts = ["great food", "rude staff !", ""]
    assert torch.allclose(again.log_proba(texts), judge.log_proba(texts))
    assert again.labels == judge.labels


def test_contractions_count_however_they_are_spelled(judge):
    assert words("didn't like it's") == words("did n't like it 's") == {"did", "n't", "like", "it", "'s"}


def test_likelihood_plus_prior_is_the_posterior(judge):
    texts = ["great food", "rude staff !", ""]
    assert torch.allclose((judge.log_likelihood(texts) + judge._prior).log_softmax(-1), judge.log_proba(texts))
    assert judge.log_proba([]).shape == (0, 2)


def test_bad_input():
    with pytest.raises(ValueError, match="'pos' is not one of"):
        WordJudge.fit(TEXTS, LABELS, ["neg", "other"])
    with pytest.raises(ValueError, match="one document count per label"):
        WordJudge.fit(TEXTS[3:], LABELS[3:], ["neg"])
    with pytest.raises(ValueError, match="training sentences for every label"):
        WordJudge.fit(TEXTS[3:], LABELS[3:], ["neg", "pos"])
    with pytest.raises(ValueError, match="one count per label"):
        WordJudge(["a", "b"], [1, 1], {"x": [1]})


def test_labels_must_match_the_classifier(tiny_run):
    from ctrlgen.guidance.classifier import StyleClassifierConfig, StyleClassifierModel
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast.from_pretrained(tiny_run)
    model = StyleClassifierModel(
        StyleClassifierConfig(vocab_size=len(tok), d_model=16, n_layers=1, n_heads=2, d_ff=16, labels=["a", "b"])
    )
    with pytest.raises(ClassifierMismatchError, match="word judge labels"):
        StyleClassifier(model, tok, WordJudge.fit(TEXTS, LABELS, ["neg", "pos"]))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(sorted({w for t in TEXTS for w in words(t)} | {"zebra"})), max_size=12))
def test_scores_are_normalised_and_ignore_order_and_repeats(ws):
    judge = WordJudge.fit(TEXTS, LABELS, ["neg", "pos"], min_count=1)
    text = " ".join(ws)
    shuffled = " ".join(sorted(ws, reverse=True) + ws)  # same set of words, other order, repeated
    logp = judge.log_proba([text, shuffled])
    assert torch.allclose(logp.exp().sum(-1), torch.ones(2), atol=1e-5)
    assert torch.allclose(logp[0], logp[1], atol=1e-6)
