"""Resolving ``Style`` constraints into guides: shipped classifiers by name, label and tokenizer checks."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from .constraints.style import InvalidStyleError, Style
from .guidance.classifier import ClassifierMismatchError, StyleClassifier
from .guidance.style import StyleGuide

__all__ = ["SHIPPED_CLASSIFIERS", "load_classifier", "style_guide"]

_DIR = Path(__file__).parent / "default_classifiers"
#: Classifiers that ship inside the package, by the name ``Style("...")`` uses.
SHIPPED_CLASSIFIERS = {"sentiment": _DIR / "sentiment"}


@lru_cache(maxsize=8)
def _load_shipped(name: str) -> StyleClassifier:
    return StyleClassifier.load(SHIPPED_CLASSIFIERS[name])


def load_classifier(name_or_classifier) -> StyleClassifier:
    """A shipped classifier by name, a directory holding one, or a ``StyleClassifier`` as it is."""
    if isinstance(name_or_classifier, StyleClassifier):
        return name_or_classifier
    if isinstance(name_or_classifier, str) and name_or_classifier in SHIPPED_CLASSIFIERS:
        return _load_shipped(name_or_classifier)
    if isinstance(name_or_classifier, (str, Path)) and Path(name_or_classifier).is_dir():
        return StyleClassifier.load(name_or_classifier)
    raise InvalidStyleError(
        f"unknown style classifier {name_or_classifier!r}: give one of {sorted(SHIPPED_CLASSIFIERS)}, a directory "
        "written by `ctrlgen train-classifier`, or a StyleClassifier"
    )


#: What a ``Style`` that leaves its settings open gets: measured for rewriting (README, "Style rewriting");
#: generation keeps plain first-order guidance at scale 1.
REWRITE_STYLE_DEFAULTS = {"scale": 4.0, "top_k": 16}
GENERATE_STYLE_DEFAULTS = {"scale": 1.0, "top_k": 0}


def style_guide(style: Style, tokenizer, defaults: dict | None = None) -> StyleGuide:
    """The guide for ``style`` on a model with ``tokenizer`` (settings the style leaves open from ``defaults``,
    those of generation unless given); typed errors for every way it can be wrong."""
    style = style.with_defaults(**(defaults or GENERATE_STYLE_DEFAULTS))
    classifier = load_classifier(style.classifier)
    try:
        classifier.check_tokenizer(tokenizer)
    except ClassifierMismatchError as e:
        raise InvalidStyleError(str(e)) from None
    try:
        target = classifier.label_index(style.target)
    except ValueError as e:
        raise InvalidStyleError(str(e)) from None
    return StyleGuide(classifier, target, style.scale, style.top_k, style.start, style.stop)
