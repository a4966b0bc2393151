"""The schedule family: exact piece maps and gradients when any hyperparameter and the batch size vary.

References: the mpmath per-step recursion on the spec's sympy matrices
(tests/numerics/_schedule_reference.py, independent of the engine), and its central differences in
30 digits for the gradients.
"""

import sys
from pathlib import Path

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nqm.numerics as nn
from nqm.numerics._schedule_maps import LrFamily, ScheduleFamily, final_risk, risk_and_gradient
from nqm.theory import get_spec

sys.path.insert(0, str(Path(__file__).parent))
from _schedule_reference import DIGITS, per_step_risk, per_step_risk_mp  # noqa: E402
from test_scheduled_risk import EMA_HB  # noqa: E402

SMALL = nn.Problem([1.0, 0.05, 1e-3], c=[0.7, 0.05, 2e-3], init_var=[1.0, 2.0, 0.5], weights=[1.0, 3.0, 10.0])

#: (optimizer, values drawn per piece: name -> (low, high))
CASES = {
    "momentum": (nn.Momentum(lr=0.1, beta=0.5), {"lr": (1e-3, 1.5), "beta": (0.0, 0.95)}),
    "ema": (nn.EMA(lr=0.1, gamma=0.5), {"lr": (1e-3, 1.5), "gamma": (0.0, 0.99)}),
    "qhm": (nn.QHM(lr=0.1, beta=0.5, nu=0.7), {"lr": (1e-3, 1.5), "beta": (0.0, 0.95), "nu": (0.0, 1.0)}),
    "ema_hb": (nn.Optimizer(EMA_HB, lr=0.1, beta=0.5, gamma=0.5),
               {"lr": (1e-3, 1.0), "beta": (0.0, 0.9), "gamma": (0.0, 0.99)}),
}
SPECS = {"ema_hb": EMA_HB}

#: the piece maps compose O(K) closed-form powers whose rounding grows like the step count (see
#: ROUNDING_GROWTH in test_schedule.py: 16 t eps of the largest risk met); over these <= 60 steps
#: that is below 2.2e-13, and 1e-12 of the running maximum leaves room for the per-piece forms
TOLERANCE = 1e-12


def _per_step(values: dict, lengths: np.ndarray) -> dict:
    return {name: np.repeat(v, lengths) for name, v in values.items()}


@pytest.mark.parametrize("name", sorted(CASES))
@settings(max_examples=4, deadline=None)
@given(data=st.data())
def test_final_risk_with_every_hyperparameter_and_the_batch_size_varying(name, data) -> None:
    opt, bounds = CASES[name]
    K = data.draw(st.integers(1, 4))
    values = {q: np.array(data.draw(st.lists(st.floats(lo, hi), min_size=K, max_size=K))) for q, (lo, hi) in bounds.items()}
    values["batch_size"] = np.array(data.draw(st.lists(st.sampled_from([1.0, 3.0, 64.0]), min_size=K, max_size=K)))
    lengths = np.array(data.draw(st.lists(st.integers(1, 15), min_size=K, max_size=K)))
    family = ScheduleFamily(SMALL, opt, (*bounds, "batch_size"))
    got = final_risk(family, values, lengths)
    want = per_step_risk(SPECS.get(name) or get_spec(name), SMALL, _per_step(values, lengths))
    assert abs(got - want[-1]) <= TOLERANCE * np.max(want)


def _reference_gradient(spec, values: dict, lengths: np.ndarray, name: str) -> np.ndarray:
    """d R / d values[name][k] by 30-digit central differences of the reference (step 2**-30:
    truncation ~ 1e-18, rounding ~ 1e-21 of the risk)."""
    step = 2.0**-30
    grad = []
    with mp.workdps(DIGITS):
        for k in range(lengths.size):
            ends = []
            for sign in (1, -1):
                moved = {q: [mp.mpf(float(x)) for x in v] for q, v in values.items()}
                moved[name][k] += sign * step
                ends.append(per_step_risk_mp(spec, SMALL, {q: np.repeat(np.array(v, dtype=object), lengths) for q, v in moved.items()})[-1])
            grad.append(float((ends[0] - ends[1]) / (2 * step)))
    return np.array(grad)


@pytest.mark.parametrize("name", ["momentum", "ema", "ema_hb"])
def test_gradient_in_every_varying_hyperparameter(name) -> None:
    opt, bounds = CASES[name]
    rng = np.random.default_rng(3)
    K = 3
    values = {q: rng.uniform(lo, hi, K) for q, (lo, hi) in bounds.items()}
    values["batch_size"] = np.array([2.0, 8.0, 32.0])
    lengths = np.array([6, 4, 9])
    family = ScheduleFamily(SMALL, opt, (*bounds, "batch_size"))
    risk, grad = risk_and_gradient(family, values, lengths)
    assert set(grad) == set(bounds)
    for q in bounds:
        want = _reference_gradient(SPECS.get(name) or get_spec(name), values, lengths, q)
        # the complex-step derivative is exact to rounding; the maps and the reverse pass add
        # rounding of order t eps (measured: 1.3e-14 at most over these cases)
        assert np.all(np.abs(grad[q] - want) <= 1e-12 * np.max(np.abs(want))), q


def test_lr_only_family_is_the_general_family() -> None:
    opt = nn.Momentum(lr=0.3, beta=0.8)
    lrs, lengths = np.array([0.9, 0.2, 0.01]), np.array([10, 30, 200])
    old = LrFamily(SMALL, opt, 16.0)
    new = ScheduleFamily(SMALL, opt, ("lr",), 16.0)
    r_log, g_log = risk_and_gradient(old, lrs, lengths)
    r, g = risk_and_gradient(new, {"lr": lrs}, lengths)
    assert r == r_log
    np.testing.assert_allclose(g["lr"] * lrs, g_log, rtol=1e-15)
    assert final_risk(new, {"lr": lrs}, lengths) == final_risk(old, lrs, lengths)


def test_constant_batch_schedule_equals_the_constant_batch_size() -> None:
    opt = nn.EMA(lr=0.3, gamma=0.9)
    lengths = np.array([5, 20])
    values = {"lr": np.array([0.5, 0.1]), "batch_size": np.array([8.0, 8.0])}
    varying = ScheduleFamily(SMALL, opt, ("lr", "batch_size"))
    fixed = ScheduleFamily(SMALL, opt, ("lr",), 8.0)
    np.testing.assert_allclose(final_risk(varying, values, lengths), final_risk(fixed, values["lr"], lengths), rtol=1e-14)


@pytest.mark.parametrize(
    "varying, batch_size, match",
    [
        (("precond_power",), 1.0, "precond_power"),
        (("rho",), 1.0, "schedule\\['rho'\\].*lr, beta"),
        (("lr", "batch_size"), 4.0, "batch_size.*not both"),
        (("lr",), None, "batch_size.*needed"),
    ],
)
def test_bad_family(varying, batch_size, match) -> None:
    with pytest.raises(ValueError, match=match):
        ScheduleFamily(SMALL, nn.Momentum(lr=0.1, beta=0.5), varying, batch_size)
