r"""The closed-form engine against the independent 50-digit oracle (``_edges_oracle``), region by region.

Each property draws points from a whole region of issue 10's first class and requires the expected
risk and its noise part to 1e-10 relative, never NaN, never negative:

* near the stability edge, alpha*h = edge * (1 - delta) with delta down to 1e-16 (an eigenvalue
  near -1), for every built-in 1- or 2-state spec and beta up to 1 - 1e-9;
* on the edge: the largest learning rate whose exact alpha*h does not pass it (|lambda| within an
  ulp of 1, or exactly 1);
* beta = 0 (gamma = 0) with alpha*h within 1e-8 of 1 (a zero eigenvalue next to one near 0);
* tiny alpha*h, noise part alone (zero start variance): t far below the slowest time scale;
* any scale: (h, c, alpha) -> (s h, s c, alpha / s), |log10 s| <= 300, and subnormal h.

Steps t in {0, 1, 2, 10, 1e3, 1e6, 1e9}. The oracle shares no code with the engine.

One documented absolute floor applies: the mean path :math:`m(t) = c_tu_0 + s_tu_1` is a sum of two
terms, so it carries an absolute error of a few ulps of :math:`|c_tu_0| + |s_tu_1|` (at most ~1e2 in
these regions) even where it cancels to nearly 0 (e.g. :math:`m(1) = 1 - \alpha h` at
:math:`\alpha h = 1 \pm 10^{-17}`); the start part :math:`\tfrac12hv\,m(t)^2` is then off by more
than RTOL relative by at most :data:`_edges_oracle.START_FLOOR` (5e-16) times the initial risk
:math:`\tfrac12hv` (the worst case is :math:`|m|` near :math:`10^{10}` times its error, not
:math:`m = 0`), which matters only where the risk is below ~5e-6 times the initial risk while the
start part dominates the noise part (a scale h = c of 1e6 or more).
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import nqm.numerics as nn

import _edges_oracle as oracle

STEPS = [0, 1, 2, 10, 10**3, 10**6, 10**9]
RTOL = 1e-10
SPECS = ["sgd", "momentum", "ema", "nesterov", "qhm"]


def _hyper(name: str, lr: float, beta: float, nu: float) -> dict[str, float]:
    second = {"sgd": {}, "ema": {"gamma": beta}, "qhm": {"beta": beta, "nu": nu}}.get(name, {"beta": beta})
    return {"lr": lr, **second}


def _check(name: str, hyper: dict, hv: float, cv: float, v: float) -> None:
    """Risk and noise part within RTOL of the oracle at every step; finite and non-negative."""
    prob = nn.Problem([hv], c=[cv], init_var=v)
    start, noise = nn.risk_components(prob, nn.optimizer(name, **hyper), batch_size=1.0, steps=STEPS)
    start, noise = np.ravel(start), np.ravel(noise)
    assert np.all(np.isfinite(start)) and np.all(np.isfinite(noise)), (start, noise)
    assert np.all(start >= 0) and np.all(noise >= 0), (start, noise)
    with mp.workdps(oracle.DIGITS):
        floor = oracle.START_FLOOR * mp.mpf(hv) / 2 * mp.mpf(v)
        for t, s, n, (ws, wn) in zip(STEPS, start, noise, oracle.parts(name, hyper, hv, cv, 1.0, v, STEPS)):
            assert abs(mp.mpf(s + n) - (ws + wn)) <= RTOL * (ws + wn) + floor, (t, s + n, ws + wn)
            assert abs(mp.mpf(n) - wn) <= RTOL * wn, (t, n, wn)


specs = st.sampled_from(SPECS)
betas = st.one_of(st.just(0.0), st.floats(0.0, 0.999), st.floats(0.999, 1 - 1e-9))
nus = st.floats(0.0, 1.0)
curvatures = st.one_of(st.just(1.0), st.floats(0.1, 10.0))


@settings(deadline=None, max_examples=60)
@given(name=specs, beta=betas, nu=nus, hv=curvatures, log_delta=st.floats(-16.0, -1.0))
def test_near_the_stability_edge(name: str, beta: float, nu: float, hv: float, log_delta: float) -> None:
    with mp.workdps(oracle.DIGITS):
        lr = float(oracle.edge(name, beta, nu) * (1 - mp.mpf(10) ** log_delta) / mp.mpf(hv))
    _check(name, _hyper(name, lr, beta, nu), hv, 1.0, 1.0)


@settings(deadline=None, max_examples=40)
@given(name=specs, beta=betas, nu=nus, hv=curvatures, log_delta=st.floats(-15.0, -1.0))
def test_stationary_risk_near_the_stability_edge(name: str, beta: float, nu: float, hv: float, log_delta: float) -> None:
    """The t -> infinity noise part (oracle at t = 2^300, past every time scale here) to 1e-10."""
    with mp.workdps(oracle.DIGITS):
        lr = float(oracle.edge(name, beta, nu) * (1 - mp.mpf(10) ** log_delta) / mp.mpf(hv))
    hyper = _hyper(name, lr, beta, nu)
    got = nn.stationary_risk(nn.Problem([hv], c=[1.0], init_var=1.0), nn.optimizer(name, **hyper), batch_size=1.0)
    with mp.workdps(oracle.DIGITS):
        want = oracle.parts(name, hyper, hv, 1.0, 1.0, 0.0, [2**300])[0][1]
        assert abs(mp.mpf(float(got)) - want) <= RTOL * want, (got, want)


def _largest_stable_lr(name: str, beta: float, nu: float, hv: float) -> float:
    """The largest double lr with lr * hv <= edge exactly (the edge itself where it is representable);
    700 digits resolve an edge 2 (1 + beta) / (1 + 2 beta) within 1e-300 of a double."""
    with mp.workdps(700):
        edge = oracle.edge(name, beta, nu)
        lr = float(edge / mp.mpf(hv))
        while mp.mpf(lr) * mp.mpf(hv) > edge:
            lr = math.nextafter(lr, 0.0)
    return lr


@settings(deadline=None, max_examples=40)
@given(name=specs, beta=betas, nu=nus, hv=curvatures)
def test_on_the_stability_edge(name: str, beta: float, nu: float, hv: float) -> None:
    hyper = _hyper(name, _largest_stable_lr(name, beta, nu, hv), beta, nu)
    _check(name, hyper, hv, 1.0, 1.0)
    prob, opt = nn.Problem([hv], c=[1.0], init_var=1.0), nn.optimizer(name, **hyper)
    assert not np.isnan(nn.stationary_risk(prob, opt, batch_size=1.0))
    variance = nn.risk_variance(prob, opt, batch_size=1.0, steps=STEPS)
    assert np.all(np.isfinite(variance)) and np.all(variance >= 0)


def test_sgd_on_the_edge_grows_linearly() -> None:
    """alpha h = 2: lambda = -1, E l(t) = h/2 (v + alpha^2 (c/B) t) exactly; stationary risk inf."""
    prob = nn.Problem([1.0], c=[1.0], init_var=1.0)
    risk = nn.expected_risk(prob, nn.SGD(lr=2.0), batch_size=1.0, steps=STEPS)
    np.testing.assert_allclose(risk, 0.5 * (1.0 + 4.0 * np.array(STEPS, dtype=float)), rtol=1e-15)
    assert nn.stationary_risk(prob, nn.SGD(lr=2.0), batch_size=1.0) == math.inf


def test_momentum_with_beta_zero_is_sgd_at_the_edge() -> None:
    """Momentum with beta = 0 is SGD, to 1e-10 relative, up to alpha h = 2 (1 - 1e-11) and on it."""
    prob = nn.Problem([1.0, 0.5], c=[1.0, 0.5], init_var=1.0)
    for lr in (2.0 * (1 - 1e-11), math.nextafter(2.0, 0.0), 2.0):
        a = nn.expected_risk(prob, nn.Momentum(lr=lr, beta=0.0), batch_size=1.0, steps=STEPS)
        b = nn.expected_risk(prob, nn.SGD(lr=lr), batch_size=1.0, steps=STEPS)
        np.testing.assert_allclose(a, b, rtol=RTOL)


@settings(deadline=None, max_examples=40)
@given(name=st.sampled_from(["momentum", "ema", "nesterov", "qhm"]), k=st.integers(-10**8, 10**8), nu=nus)
def test_beta_zero_and_unit_step(name: str, k: int, nu: float) -> None:
    """beta (gamma) = 0 with alpha h = 1 + k eps: a zero eigenvalue; t = 0 is the initial risk."""
    lr = 1.0 + k * 2.0**-52
    hyper = _hyper(name, lr, 0.0, nu)
    _check(name, hyper, 1.0, 1.0, 1.0)
    prob = nn.Problem([1.0], c=[1.0], init_var=1.0)
    assert nn.steps_to_target(prob, nn.optimizer(name, **hyper), batch_size=1.0, target=0.5 * (1 + 1e-9)) == 0


@settings(deadline=None, max_examples=60)
@given(name=specs, beta=betas, nu=nus, log_x=st.floats(-16.0, -1.0))
def test_noise_part_at_tiny_learning_rates(name: str, beta: float, nu: float, log_x: float) -> None:
    """Zero start variance: the risk is the noise part alone, sum_{k<t} g(k)^2, from t = 1 on."""
    _check(name, _hyper(name, 10.0**log_x, beta, nu), 1.0, 1.0, 0.0)


@settings(deadline=None, max_examples=40)
@given(name=specs, beta=st.one_of(st.just(0.0), st.floats(0.0, 0.999)), nu=nus, k=st.integers(-300, 300), frac=st.floats(1e-3, 1.0))
@example(name="momentum", beta=0.0, nu=0.0, k=7, frac=1.0)  # the decoupled mode 1 - alpha h near -1
@example(name="ema", beta=0.5, nu=0.0, k=100, frac=1.0)  # m(1) = 0.25 - 0.25 + 3.6e-17: the floor
@example(name="ema", beta=0.5, nu=0.0, k=100, frac=1 - 1e-8)  # m(1) = 1e-8: the floor's worst case
def test_scale_symmetry(name: str, beta: float, nu: float, k: int, frac: float) -> None:
    """(h, c, alpha) = (s, s, x / s) for s = 10^k and any stable x = frac * edge: exact at every scale.

    beta <= 0.999: an underdamped pair rotating by theta ~ 1 per step while decaying slowly
    (beta -> 1) has a phase error t * theta * eps whatever the scale (benchmarks/scan_edges.py,
    region 'underdamped phase'); this test is about the scale. At EMA's edge with gamma = 1/2 the
    mean path m(1) = 1 - (1 - gamma) alpha h is a cancellation of two modes, -1/4 + 1/4 + 3.6e-17,
    below one ulp of its terms: its start part (5e99 * 1.3e-33 = 6.4e66 against a noise part of
    0.5 at s = 1e100) is held to the documented floor (oracle.START_FLOOR), not to RTOL; at
    alpha h = 2 (1 - 1e-8), m(1) = 1e-8 carries the same absolute error, 2.3e-8 of the risk: beyond
    RTOL, within the floor (d^2 / RTOL), not within d^2 (1e-25, the floor as first derived)."""
    s = 10.0**k
    with mp.workdps(oracle.DIGITS):
        lr = float(mp.mpf(frac) * oracle.edge(name, beta, nu) / mp.mpf(s))
    _check(name, _hyper(name, lr, beta, nu), s, s, 1.0)


@pytest.mark.parametrize("name", ["momentum", "nesterov", "qhm"])
@pytest.mark.parametrize("k", [7, 13, 100, 253])
@pytest.mark.parametrize("frac", [1.0, 1 - 1e-12])
def test_decoupled_mode_at_the_stability_edge(name: str, k: int, frac: float) -> None:
    """beta = 0: the output reads a state whose mode 1 - alpha h is decoupled (nqm.numerics._single_mode);
    at (h, c, alpha) = (s, s, frac * edge / s) its |lambda| - 1 is the last bit of the exact product
    alpha h, and the rounded entry D = -fl(alpha h) lost t * 2**-52 of the risk (1.2e-7 at t = 1e9)."""
    s = 10.0**k
    with mp.workdps(oracle.DIGITS):
        lr = float(mp.mpf(frac) * oracle.edge(name, 0.0) / mp.mpf(s))
    _check(name, _hyper(name, lr, 0.0, 0.7), s, s, 1.0)


def test_subnormal_curvature() -> None:
    for name in SPECS:
        _check(name, _hyper(name, 1e300, 0.9, 0.7), 1e-310, 1e-300, 1.0)


def test_slow_mode_beside_a_near_edge_mode_at_huge_t() -> None:
    """QHM at 1 % below its edge with beta one ulp below 1 (a slow mode at rate 1.1e-13): the Gram
    sums were taken for every element with E < 1/16 and lost 5e-5 relative by t = 5e14 (found by the
    conformance suite's stationary-limit property); E < 2**-14 keeps them to where they are needed."""
    hyper = {"lr": 1979.9999999998884, "beta": 0.9999999999999999, "nu": 0.999}
    steps = [10**13, 10**14, 540431955284460, 10**16]
    prob = nn.Problem([1.0], c=[1.0], init_var=1.0)
    got = nn.expected_risk(prob, nn.optimizer("qhm", **hyper), batch_size=1.0, steps=steps)
    with mp.workdps(oracle.DIGITS):
        want = oracle.risk("qhm", hyper, 1.0, 1.0, 1.0, 1.0, steps)
    for g, w in zip(got, want, strict=True):
        assert abs(g - float(w)) <= 1e-10 * float(w), (g, w)
