"""The uniform-noise forward process and its ELBO (ctrlgen/uniform.py)."""

import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ctrlgen.schedules import LogLinearSchedule
from ctrlgen.uniform import UniformProcess, uniform_nelbo_terms


def _brute_force(p: torch.Tensor, x0: int, z: int, alpha: float) -> float:
    """sum_{j != i} r^_j - r_j - r_j log(r^_j / r_j), entry by entry in float64 (UDLM eq. 10's bracket)."""
    n = len(p)
    xbar = [n * alpha * (y == x0) + (1 - alpha) for y in range(n)]
    xbar_theta = [n * alpha * float(p[y]) + (1 - alpha) for y in range(n)]
    total = 0.0
    for j in range(n):
        if j == z:
            continue
        r, r_hat = xbar[j] / xbar[z], xbar_theta[j] / xbar_theta[z]
        total += r_hat - r - r * math.log(r_hat / r)
    return total


@settings(max_examples=200, deadline=None)
@given(
    st.integers(2, 9),
    st.floats(0.01, 0.99),
    st.integers(0, 2**31 - 1),
    st.floats(0.1, 8.0),
)
def test_closed_form_terms_match_the_sum_over_the_vocabulary(n, alpha, seed, spread):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(1, 3, n, generator=g, dtype=torch.float64) * spread
    x0 = torch.randint(n, (1, 3), generator=g)
    z = torch.randint(n, (1, 3), generator=g)
    z[0, 0] = x0[0, 0]  # one position the noise left alone
    log_probs = logits.log_softmax(-1)
    ours = uniform_nelbo_terms(log_probs, x0, z, torch.tensor([alpha], dtype=torch.float64), n)
    for pos in range(3):
        expected = _brute_force(log_probs[0, pos].exp(), int(x0[0, pos]), int(z[0, pos]), alpha)
        assert math.isclose(float(ours[0, pos]), expected, rel_tol=1e-6, abs_tol=1e-9)
        assert float(ours[0, pos]) >= -1e-9  # a sum of Bregman divergences


def test_the_bound_is_zero_for_a_model_that_knows_the_clean_token():
    n = 7
    x0 = torch.tensor([[1, 4, 6]])
    z = torch.tensor([[1, 0, 2]])
    exact = torch.full((1, 3, n), -1e4, dtype=torch.float64).scatter_(-1, x0[..., None], 0.0).log_softmax(-1)
    terms = uniform_nelbo_terms(exact, x0, z, torch.tensor([0.3], dtype=torch.float64), n)
    assert terms.abs().max() < 1e-8
    vague = torch.zeros(1, 3, n, dtype=torch.float64).log_softmax(-1)
    assert (uniform_nelbo_terms(vague, x0, z, torch.tensor([0.3], dtype=torch.float64), n) > 1e-3).all()


def test_corruption_draws_from_the_support_and_follows_the_schedule():
    process = UniformProcess(LogLinearSchedule(), vocab_size=50, excluded=(3,))
    x0 = torch.full((400, 64), 7)
    t = torch.full((400,), 0.5)
    z = process.corrupt(x0, t, torch.Generator().manual_seed(0))
    assert not (z == 3).any()
    changed = (z != x0).float().mean().item()
    # a token moves with probability 1 - alpha = 0.5, and a move lands back on 7 with probability 1 / 49
    assert abs(changed - 0.5 * (1 - 1 / 49)) < 0.01
    prompt = torch.zeros_like(x0, dtype=torch.bool)
    assert torch.equal(process.corrupt(x0, t, None, noisable=prompt), x0)


def test_the_loss_trains_a_small_model_towards_the_data():
    """A table of logits per position, trained on one fixed canvas: the NELBO falls well below its start."""
    torch.manual_seed(0)
    n, length = 12, 6
    process = UniformProcess(LogLinearSchedule(), vocab_size=n)
    target = torch.randint(n, (1, length))

    class Table(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.logits = torch.nn.Parameter(torch.zeros(length, n))

        def forward(self, z):
            return self.logits.expand(z.shape[0], -1, -1)

    model = Table()
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    g = torch.Generator().manual_seed(1)
    first = process.loss(model, target.expand(64, -1), g).loss.item()
    for _ in range(200):
        opt.zero_grad()
        out = process.loss(model, target.expand(64, -1), g)
        out.loss.backward()
        opt.step()
    assert out.loss.item() < 0.1 * first
    assert torch.equal(model.logits.argmax(-1), target[0])
