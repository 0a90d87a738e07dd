"""Cutting the padding a finished row no longer needs: fewer positions through the network, the same kind of text."""

from __future__ import annotations

import torch

from ctrlgen.sampling import AncestralSampler, ConfidenceSampler, RemaskingSampler


class _Widths:
    """A denoise function that records the canvas width of every call."""

    def __init__(self, fn) -> None:
        self.fn, self.widths = fn, []

    def __call__(self, canvas, *args):
        self.widths.append(canvas.shape[1])
        return self.fn(canvas, *args)


def test_canvas_is_cut_after_the_first_committed_end_and_padded_back(tiny_lm):
    end, mask = tiny_lm.denoiser.end_token_id, tiny_lm.mask_token_id
    for sampler in (AncestralSampler(steps=12), ConfidenceSampler(steps=12)):
        fn = _Widths(tiny_lm.denoise)
        canvas = torch.full((4, 40), mask)
        out = sampler.run(fn, canvas, mask, (), torch.Generator().manual_seed(0), end_token_id=end)
        assert out.shape == (4, 40) and not (out == mask).any()
        assert min(fn.widths) < 40  # short texts in a long canvas: the padding was cut
        assert fn.widths == sorted(fn.widths, reverse=True)
        for row in out.tolist():  # after the first end token, only end tokens
            first = row.index(end)
            assert all(t == end for t in row[first:])


def test_no_cut_with_guides_or_remasking(tiny_lm):
    from ctrlgen.trajectory import TraceRecorder

    end, mask = tiny_lm.denoiser.end_token_id, tiny_lm.mask_token_id
    for sampler, guides in ((AncestralSampler(steps=12), [TraceRecorder()]), (RemaskingSampler(steps=12), [])):
        fn = _Widths(tiny_lm.denoise)
        sampler.run(fn, torch.full((2, 40), mask), mask, guides, torch.Generator().manual_seed(0), end_token_id=end)
        assert set(fn.widths) == {40}


def test_generate_is_still_deterministic_and_ends_texts(tiny_lm):
    a = tiny_lm.generate(n=6, length=48, steps=16, seed=3)
    assert a == tiny_lm.generate(n=6, length=48, steps=16, seed=3)
    assert all(isinstance(t, str) and len(t) < 200 for t in a)
