"""Small helpers around transformers."""

from __future__ import annotations

from contextlib import contextmanager

from transformers.utils import logging as hf_logging


@contextmanager
def quiet_progress():
    """Hide transformers' per-tensor loading bar (noise for models of a few MB), restoring it after."""
    was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_on:
            hf_logging.enable_progress_bar()
