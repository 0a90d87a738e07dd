import math

import torch
from hypothesis import given
from hypothesis import strategies as st

from ctrlgen.schedules import SCHEDULES, CosineSchedule, LogLinearSchedule, schedule_from_name

times = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
open_times = st.floats(min_value=1e-4, max_value=1.0, allow_nan=False)
schedules = st.sampled_from([LogLinearSchedule(), CosineSchedule()])


def test_endpoints():
    for schedule in (LogLinearSchedule(), CosineSchedule()):
        assert float(schedule.alpha(torch.tensor(0.0))) == 1.0
        assert float(schedule.alpha(torch.tensor(1.0))) == 0.0


@given(schedules, times, times)
def test_alpha_decreasing_in_unit_interval(schedule, a, b):
    lo, hi = sorted((a, b))
    alpha_lo, alpha_hi = (float(schedule.alpha(torch.tensor(x, dtype=torch.float64))) for x in (lo, hi))
    assert 0.0 <= alpha_hi <= alpha_lo <= 1.0


@given(schedules, open_times)
def test_weight_positive_and_finite(schedule, t):
    w = float(schedule.weight(torch.tensor(t, dtype=torch.float64)))
    assert w > 0 and math.isfinite(w)


@given(open_times)
def test_loglinear_weight_is_one_over_t(t):
    assert math.isclose(float(LogLinearSchedule().weight(torch.tensor(t, dtype=torch.float64))), 1.0 / t, rel_tol=1e-9)


def test_registry_names_round_trip():
    for name in SCHEDULES:
        assert schedule_from_name(name).name == name
