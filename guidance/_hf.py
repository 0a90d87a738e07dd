"""Small helpers around transformers."""

from __future__ import annotations

from contextlib import contextmanager

from transformers.utils import logging as hf_logging


@contextmanager
def quiet_progress():
    """Hide transformers' per-tensor loading bar (noise for models of a few MB) and its loading report (the
    loaders check that report themselves and raise a typed error naming the keys), restoring both after."""
    was_on = hf_logging.is_progress_bar_enabled()
    verbosity = hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if was_on:
            hf_logging.enable_progress_bar()
