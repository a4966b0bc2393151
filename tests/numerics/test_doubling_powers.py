"""Exact doubling at every power of two in one pass (``doubling_powers_of_two``), which the
first-hit search uses for its doubling stretch (t = 2^K).

Two checks: the values are those of ``doubling_moments`` at the same t (the same operations,
read off one squaring chain; equal bit for bit on finite values), and the risk of a user
spec's model at t = 2^K agrees with the independent 50-digit oracle
(tests/numerics/_edge_oracle.py) to the engine's 1e-10 relative, with the floor of
tests/numerics/test_doubling_edges.py on the start part where the mean path nears a zero.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nqm.numerics as nn
from nqm.numerics._doubling import doubling_moments, doubling_powers_of_two
from nqm.numerics._model import build_model

import _edge_oracle as oracle
from test_doubling_edges import MOMENTUM_EMA

RTOL = 1e-10
FLOOR = 1e-14


def _transitions(rng: np.random.Generator, n: int, count: int, scale: float) -> np.ndarray:
    """Random contractive-ish D = A - I of size n, with one element whose eigenvalue is near -1
    (the double-double branch) and one exactly at the identity (D = 0)."""
    D = -scale * (0.5 * rng.random((count, n, n)) + np.eye(n) * rng.random((count, 1, 1)))
    D[0] = np.diag(np.r_[-2.0 + 1e-9, -0.5 * np.ones(n - 1)])
    D[1] = 0.0
    return D


@pytest.mark.parametrize("n", [2, 3, 4])
@pytest.mark.parametrize("scale", [1e-9, 1e-3, 0.5])
@pytest.mark.parametrize(("bottom", "top"), [(0, 0), (0, 5), (0, 7), (3, 12), (8, 15), (16, 23), (56, 62)])
def test_equals_doubling_at_each_power_of_two(n: int, scale: float, bottom: int, top: int) -> None:
    rng = np.random.default_rng(n * 1000 + bottom)
    D = _transitions(rng, n, 12, scale)
    b, init, out = (rng.standard_normal((12, n)) for _ in range(3))
    with np.errstate(all="ignore"):
        mean, noise = doubling_powers_of_two(D, b, init, out, top, bottom)
        t = np.ldexp(1.0, np.arange(bottom, top + 1))[:, None]
        mean_ref, noise_ref = doubling_moments(D, b, init, out, t)
    assert mean.shape == noise.shape == (top - bottom + 1, 12)
    finite = np.isfinite(mean_ref) & np.isfinite(noise_ref)
    assert finite[:, :2].all()  # the element near -1 and the identity are stable
    np.testing.assert_array_equal(mean[finite], mean_ref[finite])
    np.testing.assert_array_equal(noise[finite], noise_ref[finite])


@settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(
    log_lr_h=st.floats(-8.0, 0.0),
    beta=st.floats(0.0, 0.99),
    log_slow=st.floats(-6.0, 0.0),
    log_c=st.floats(-4.0, 1.0),
    bottom=st.integers(0, 24),
)
def test_three_state_risk_at_powers_of_two_matches_the_oracle(log_lr_h, beta, log_slow, log_c, bottom) -> None:
    lr_h, gamma, c = 10.0**log_lr_h, 1.0 - 10.0**log_slow, 10.0**log_c
    top = bottom + 7
    hyper = {"lr": lr_h, "beta": beta, "gamma": gamma}
    prob = nn.Problem([1.0], c=[c], init_var=[1.0])
    model = build_model(prob, nn.from_spec(MOMENTUM_EMA)(**hyper), 4.0, method="doubling").flatten()
    start, noise = model.parts_at_powers_of_two(bottom, top)
    steps = [2**K for K in range(bottom, top + 1)]
    truth = oracle.risk(MOMENTUM_EMA, [1.0], [c], [1.0], [1.0], 4.0, hyper, steps)
    for k, (true_start, true_noise) in enumerate(truth):
        got_start, got_noise = float(start[k].sum()), float(noise[k].sum())
        assert abs(mp.mpf(got_noise) - true_noise) <= RTOL * true_noise, (steps[k], got_noise, true_noise)
        floor = FLOOR / 2 * oracle.mean_scale(MOMENTUM_EMA, 1.0, c, 4.0, hyper, steps[k]) ** 2
        total = true_start + true_noise
        assert abs(mp.mpf(got_start + got_noise) - total) <= RTOL * total + floor, (steps[k], got_start, true_start)
