"""generate(trace=True): the canvas at every reverse step, and the order positions were filled in."""

from __future__ import annotations

import torch

from ctrlgen import JsonSchema
from ctrlgen.trajectory import Trajectory


def test_a_trace_ends_at_the_text_and_fills_every_masked_position(tiny_lm):
    texts = tiny_lm.generate(n=3, length=12, steps=6, seed=0, trace=True)
    trajectories = tiny_lm.last_report.trajectories
    assert len(trajectories) == 3
    mask = tiny_lm.mask_token_id
    for text, traj in zip(texts, trajectories):
        assert traj.steps <= 6 and bool((traj.canvases[0] == mask).all())
        assert not (traj.canvases[-1] == mask).any()
        assert tiny_lm.decode(traj.canvases[-1][None])[0] == text
        steps = traj.fill_steps()
        assert all(1 <= s <= traj.steps for s in steps)
        # a masking sampler without remasking never takes a token back: once filled, a position stays
        for j, s in enumerate(steps):
            assert bool((traj.canvases[s:, j] == traj.canvases[-1, j]).all())
            assert bool((traj.canvases[:s, j] == mask).all())


def test_template_literals_are_filled_at_step_zero_and_slots_later(tiny_lm):
    tiny_lm.fill("the mill is {2} .", n=2, seed=0, trace=True)
    for traj in tiny_lm.last_report.trajectories:
        steps = traj.fill_steps()
        assert 0 in steps and max(steps) >= 1
        order = traj.order()
        assert all(steps[a] <= steps[b] for a, b in zip(order, order[1:]))


def test_a_constrained_trace_and_a_plot(tiny_lm):
    import matplotlib

    matplotlib.use("Agg")
    from ctrlgen.trajectory import plot_trajectory

    schema = {"type": "object", "properties": {"a": {"enum": ["x", "y"]}}, "required": ["a"]}
    tiny_lm.generate(n=2, constraints=[JsonSchema(schema)], seed=1, trace=True)
    traj = tiny_lm.last_report.trajectories[0]
    ax = plot_trajectory(traj, tiny_lm.tokenizer, title="json")
    assert len(ax.get_xticklabels()) == traj.canvases.shape[1]


def test_fill_steps_by_hand():
    m = 9
    canvases = torch.tensor([[5, m, m], [5, 7, m], [5, 7, 3], [5, 7, 4]])
    traj = Trajectory(canvases, m)
    assert traj.fill_steps() == [0, 1, 3]  # position 2 held 3 after step 2, its final 4 only after step 3
    assert traj.order() == [0, 1, 2]
