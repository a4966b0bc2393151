"""A user's three-state spec: exact risk, certified spectral bounds and exact first hits.

The spec is an EMA of heavy-ball iterates written with ``from_update`` (states theta, m and
the average; eqs. 5 and 11 composed), the issue's example of a user variant. References:
the 50-digit doubling oracle (tests/numerics/_edge_oracle.py) for the risk at any step, its
literal step-by-step recursion for first hits, and a brute-force scan of the exact risk for
the bounds and the grid search (neither shares code with the spectral bounds of
nqm.numerics._spectral or the branch-and-bound).
"""

import math
import sys
from collections.abc import Iterator
from pathlib import Path

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nqm.numerics as nn
from nqm.numerics import _steps
from nqm.numerics import build_model
from nqm.numerics._tie import TIE_RTOL

sys.path.insert(0, str(Path(__file__).parent))
import _edge_oracle as oracle  # noqa: E402
from _bounds import assert_bounds_hold  # noqa: E402
from test_tune import scan_tune  # noqa: E402
from _user_specs import EMA2_HB, EMA_HB  # noqa: E402


SPEC, SPEC4 = EMA_HB, EMA2_HB
EmaHB = nn.from_spec(SPEC)
Ema2HB = nn.from_spec(SPEC4)

# (label, lr, beta, gamma) on h = 1; the heavy-ball roots solve l^2 - (1 + beta - lr) l + beta = 0
CASES = [
    ("underdamped", 0.5, 0.9, 0.9),
    ("triple root 1/2 (critical damping, gamma on it)", 0.25, 0.25, 0.5),
    ("heavy ball 1e-9 inside its edge lr = 2(1 + beta)", 2 * 1.5 * (1 - 1e-9), 0.5, 0.3),
    ("tiny lr h", 1e-12, 0.9, 0.99),
    ("gamma one ulp-scale below 1", 0.1, 0.5, 1 - 1e-7),
    ("beta = gamma = 0 (SGD)", 0.3, 0.0, 0.0),
]
STEPS = [0, 1, 7, 1000, 10**6, 10**9]


@pytest.mark.parametrize("label, lr, beta, gamma", CASES, ids=[c[0] for c in CASES])
def test_three_state_risk_against_the_50_digit_oracle(label, lr, beta, gamma) -> None:
    hyper = {"lr": lr, "beta": beta, "gamma": gamma}
    prob = nn.Problem([1.0], c=[1.0], init_var=1.0)
    got = nn.expected_risk(prob, EmaHB(**hyper), batch_size=4.0, steps=STEPS)
    want = np.array([float(s + n) for s, n in oracle.risk(SPEC, [1.0], [1.0], [1.0], [1.0], 4.0, hyper, STEPS)])
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=0)


def _oracle_first_hit(prob, hyper, B, target, last, spec=SPEC):
    """First t <= last whose 50-digit risk (literal recursion) is <= target (1 + TIE_RTOL); None if none."""
    curves = []
    for h, c, v, w in zip(prob.h, prob.c, prob.init_var, prob.weights):
        parts = oracle.literal_moments(spec, float(h), float(c), B, hyper, last)
        with mp.workdps(60):
            curves.append([mp.mpf(w) * mp.mpf(h) / 2 * (mp.mpf(v) * m * m + mp.mpf(c) / B * n) for m, n in parts])
    with mp.workdps(60):
        threshold = mp.mpf(target) * (1 + mp.mpf(TIE_RTOL))
        for t in range(last + 1):
            if mp.fsum(curve[t] for curve in curves) <= threshold:
                return t
    return None


SMALL = nn.Problem([1.0, 0.2, 0.03], c=[1.0, 0.5, 0.05], init_var=[1.0, 2.0, 4.0], weights=[1, 3, 10])


@pytest.mark.parametrize(
    "lr, beta, gamma, B, fraction",
    [
        (0.9, 0.9, 0.5, 64.0, 0.05),  # underdamped: the curve oscillates on its way down
        (0.5, 0.5, 0.8, 8.0, 0.12),
        (1.0, 0.0, 0.95, 1024.0, 0.02),
        (0.25, 0.25, 0.5, 32.0, 0.1),  # triple root in the h = 1 direction (its bin has a confluent bound)
    ],
)
def test_first_hit_of_a_three_state_spec_matches_the_independent_recursion(lr, beta, gamma, B, fraction) -> None:
    hyper = {"lr": lr, "beta": beta, "gamma": gamma}
    target = fraction * SMALL.initial_risk
    want = _oracle_first_hit(SMALL, hyper, B, target, 600)
    assert want is not None  # the case is chosen so the hit lies within the literal recursion
    assert nn.steps_to_target(SMALL, EmaHB(**hyper), batch_size=B, target=target) == want


@pytest.mark.parametrize("lr, beta, gamma, nu, B, fraction", [(0.9, 0.9, 0.5, 0.5, 64.0, 0.05), (0.5, 0.3, 0.8, 0.9, 8.0, 0.12)])
def test_first_hit_of_a_four_state_spec_matches_the_independent_recursion(lr, beta, gamma, nu, B, fraction) -> None:
    hyper = {"lr": lr, "beta": beta, "gamma": gamma, "nu": nu}
    target = fraction * SMALL.initial_risk
    want = _oracle_first_hit(SMALL, hyper, B, target, 600, SPEC4)
    assert want is not None
    assert nn.steps_to_target(SMALL, Ema2HB(**hyper), batch_size=B, target=target) == want


@settings(deadline=None, max_examples=25)
@given(
    lr=st.floats(1e-3, 1.3),
    beta=st.one_of(st.floats(0.0, 0.99), st.just(0.0)),
    gamma=st.one_of(st.floats(0.0, 0.99), st.just(0.0)),
    B=st.floats(1.0, 1e4),
    seed=st.integers(0, 2**16),
)
def test_spectral_bounds_never_exceed_the_exact_risk(lr, beta, gamma, B, seed) -> None:
    rng = np.random.default_rng(seed)
    prob = nn.Problem(10 ** rng.uniform(-2.5, 0.0, 4), c=10 ** rng.uniform(-2, 1, 4),
                      init_var=10 ** rng.uniform(-1, 1, 4), weights=rng.integers(1, 5, 4))
    opt = EmaHB(lr=lr, beta=beta, gamma=gamma)
    model = build_model(prob, opt, B).flatten()
    if not model.stable.all():  # heavy ball diverges beyond lr h = 2 (1 + beta)
        return
    cert = _steps._Certificates(model)
    assert cert.spectral is not None
    risk = nn.expected_risk(prob, opt, batch_size=B, steps=np.arange(601))
    assert_bounds_hold(cert, np.ravel(risk), rng)


def test_spectral_bounds_cover_well_conditioned_bins_and_a_triple_root_has_a_confluent_one() -> None:
    # a bound that covered nothing would pass the test above while pruning nothing
    prob = nn.Problem([1.0, 0.1], c=[1.0, 1.0], init_var=1.0)
    cert = _steps._Certificates(build_model(prob, EmaHB(lr=0.25, beta=0.25, gamma=0.5), 8.0).flatten())
    # h = 1 has the triple root 1/2 (nqm.numerics._confluent), h = 0.1 three simple roots
    assert cert.spectral is not None and cert.spectral.ok.tolist() == [[False, True]]
    assert cert.confluent is not None and cert.confluent.full.tolist() == [[True, False]]
    assert cert.modal.tolist() == [[True, True]] and not cert.fallback.any()


def test_grid_search_of_a_three_state_spec_matches_a_scan() -> None:
    grid = {"lr": np.geomspace(0.05, 1.5, 6), "beta": np.array([0.0, 0.5, 0.9]), "gamma": np.array([0.0, 0.5, 0.9])}
    target = 0.05 * SMALL.initial_risk
    want = scan_tune(SMALL, EmaHB, grid, 64.0, target, 200)  # the optimum is 12 steps
    assert math.isfinite(want[0])
    got = nn.tune(SMALL, EmaHB, batch_size=64.0, target=target, grid=grid)
    assert (got.steps, got.index) == want


@pytest.fixture(params=["confluent", "scan"])
def defective_bounds(request, monkeypatch) -> Iterator[str]:
    """How rows with no spectral bound are searched: with their confluent bounds (nqm.numerics._confluent),
    or, as for specs those do not cover, with none (noise parts, and scans of the last intervals)."""
    nn.clear_tune_cache()  # models (and their bounds) that tune keeps between calls
    if request.param == "scan":
        monkeypatch.setattr(_steps, "_confluent_units", lambda *args: None)
        scans = []
        scan = _steps._scan_sums
        monkeypatch.setattr(_steps, "_scan_sums", lambda *args: scans.append(1) or scan(*args))
    yield request.param
    nn.clear_tune_cache()
    if request.param == "scan":
        assert scans  # the search did take that path


@pytest.mark.parametrize("lr, beta, gamma, B, fraction, last",
                         [(0.9, 0.9, 0.5, 64.0, 0.05, 600), (0.3, 0.5, 0.9, 8.0, 0.12, 600), (0.02, 0.0, 0.99, 256.0, 0.02, 2700)])
def test_first_hit_of_a_defective_four_state_spec_matches_the_independent_recursion(lr, beta, gamma, B, fraction,
                                                                                      last, defective_bounds) -> None:
    # nu = gamma: both averages have the eigenvalue gamma, a Jordan block in every bin, so no bin has a
    # spectral bound (the eigenvector matrix is singular)
    hyper = {"lr": lr, "beta": beta, "gamma": gamma, "nu": gamma}
    target = fraction * SMALL.initial_risk
    want = _oracle_first_hit(SMALL, hyper, B, target, last, SPEC4)
    assert want is not None
    assert nn.steps_to_target(SMALL, Ema2HB(**hyper), batch_size=B, target=target) == want


def test_tuning_a_defective_four_state_spec_matches_a_brute_force_scan(defective_bounds) -> None:
    # the grid search (a minimum over rows, with incumbents) of rows with no spectral bound: its optimum
    # and every grid point's steps against the exact risk at every step (doubling, no scan)
    hyper = {"beta": 0.5, "gamma": 0.95, "nu": 0.95}
    lrs = np.array([0.004, 0.006, 0.01])
    target, B, last = 0.05 * SMALL.initial_risk, 64.0, 6000
    risk = nn.expected_risk(SMALL, Ema2HB(lr=lrs, **hyper), batch_size=B, steps=np.arange(last + 1))
    hits = nn.reaches(risk, target)
    assert hits.any(axis=1).all()
    brute = np.argmax(hits, axis=1)
    assert brute.min() > 1024  # several scan intervals before every hit
    grid = {"lr": lrs, **{k: [v] for k, v in hyper.items()}}
    result = nn.tune(SMALL, Ema2HB, batch_size=B, target=target, grid=grid, grid_steps=True)
    np.testing.assert_array_equal(result.grid_steps.ravel(), brute)
    assert result.steps == brute.min()


def test_floors_of_rows_without_a_spectral_bound_bound_the_exact_risk(defective_bounds) -> None:
    # the floors a batch-size sweep carries over (certified lower bounds on each row's risk over [0, result]),
    # from confluent bounds or from scanned risks: never above the exact risk at any step
    lrs = np.array([0.004, 0.006, 0.01])
    opt = Ema2HB(lr=lrs, beta=0.5, gamma=0.95, nu=0.95)
    B, target = 64.0, 0.05 * SMALL.initial_risk
    model = build_model(SMALL, opt, B, merge_bins=True).flatten()
    floor = np.zeros(lrs.size)
    steps, row = _steps.grid_minimum(model, target, floor=floor)
    assert row is not None and steps > 1024
    risk = nn.expected_risk(SMALL, opt, batch_size=B, steps=np.arange(int(steps) + 1))
    assert np.isfinite(floor).all()
    assert np.all(floor <= risk.min(axis=-1) * (1 + 1e-12))
