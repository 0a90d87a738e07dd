import pytest
import torch

from ctrlgen.masking import MaskingProcess, subs_log_probs
from ctrlgen.schedules import LogLinearSchedule

MASK = 1


def test_corrupt_masks_the_expected_fraction():
    process = MaskingProcess(LogLinearSchedule(), MASK)
    x0 = torch.full((64, 256), 5)
    t = torch.full((64,), 0.3)
    x_t = process.corrupt(x0, t, torch.Generator().manual_seed(0))
    frac = (x_t == MASK).float().mean().item()
    assert frac == pytest.approx(0.3, abs=0.01)
    assert ((x_t == MASK) | (x_t == x0)).all()


def test_sample_times_cover_the_interval_evenly():
    process = MaskingProcess(LogLinearSchedule(), MASK)
    t = process.sample_times(8, torch.Generator().manual_seed(3)).sort().values
    gaps = t.diff()
    assert (t >= process.t_min).all() and (t <= 1).all()
    assert torch.allclose(gaps, torch.full_like(gaps, gaps.mean().item()), atol=1e-3)


def test_subs_never_predicts_mask_and_copies_fixed_tokens():
    logits = torch.randn(2, 5, 7)
    x_t = torch.tensor([[MASK, 3, MASK, 4, 0], [2, MASK, MASK, MASK, MASK]])
    lp = subs_log_probs(logits, x_t, MASK)
    assert torch.isneginf(lp[..., MASK]).all()
    fixed = x_t != MASK
    assert torch.equal(lp[fixed].argmax(-1), x_t[fixed])
    assert torch.allclose(lp[fixed].exp().sum(-1), torch.ones(int(fixed.sum())))
    assert torch.allclose(lp[~fixed].exp().sum(-1), torch.ones(int((~fixed).sum())))


def test_loss_is_finite_and_differentiable():
    process = MaskingProcess(LogLinearSchedule(), MASK)
    emb = torch.nn.Embedding(7, 7)
    out = process.loss(emb, torch.randint(2, 7, (4, 10)), torch.Generator().manual_seed(0))
    out.loss.backward()
    assert torch.isfinite(out.loss) and emb.weight.grad is not None


def test_only_the_response_is_noised_and_scored():
    """Prompted training (LLaDA's SFT): positions outside ``noisable`` are never masked, and the NELBO is
    per response token, so a longer prompt does not dilute the loss."""
    process = MaskingProcess(LogLinearSchedule(), MASK)
    x0 = torch.randint(2, 7, (16, 12))
    noisable = torch.zeros_like(x0, dtype=torch.bool)
    noisable[:, 5:] = True
    x_t = process.corrupt(x0, torch.full((16,), 0.9), torch.Generator().manual_seed(1), noisable)
    assert torch.equal(x_t[:, :5], x0[:, :5]) and (x_t[:, 5:] == MASK).any()

    torch.manual_seed(0)
    emb = torch.nn.Embedding(7, 7)
    short = process.loss(emb, x0, torch.Generator().manual_seed(2), noisable=noisable)
    assert short.n_tokens == 16 * 7
    # the same responses after a prompt twice as long score the same (same noise on the response part)
    longer = torch.cat([x0[:, :5], x0], dim=1)
    noisable_long = torch.cat([torch.zeros_like(noisable[:, :5]), noisable], dim=1)
    g = torch.Generator().manual_seed(2)
    again = process.loss(emb, longer, g, noisable=noisable_long)
    assert again.n_tokens == short.n_tokens and torch.isfinite(again.loss)
