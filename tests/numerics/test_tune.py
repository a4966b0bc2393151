"""Tuning finds the exact fewest steps over a grid; the certified bounds behind its pruning hold.

Reference throughout: a brute-force scan of the exact expected risk over every step
(``expected_risk`` on ``arange(T)``), which shares nothing with the branch-and-bound, its
modal bounds or its warm starts.
"""

import math
import sys
from pathlib import Path

import mpmath as mp
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import nqm.numerics as nn
from nqm.numerics import _steps
from nqm.numerics import build_model
from nqm.theory import ema, momentum, sgd
from nqm.theory.symbols import alpha, beta, gamma

sys.path.insert(0, str(Path(__file__).parent))
from test_exactness import mp_risk  # noqa: E402  (the 50-digit reference of the engine tests)
from _bounds import assert_bounds_hold


def scan_first_hits(prob, opt, B, target, horizon):
    """First step with risk <= target of every grid point by scanning t = 0..horizon (inf if none)."""
    risk = nn.expected_risk(prob, opt, batch_size=B, steps=np.arange(horizon + 1))
    below = risk <= target
    first = np.argmax(below, axis=-1).astype(float)
    return np.where(below.any(axis=-1), first, np.inf)


def scan_tune(prob, cls, grid, B, target, horizon, **fixed):
    """(fewest steps, index of the first grid point attaining them) by scanning every point."""
    names = list(grid)
    mesh = np.meshgrid(*grid.values(), indexing="ij")
    opt = cls(**{k: m for k, m in zip(names, mesh)}, **fixed)
    hits = scan_first_hits(prob, opt, B, target, horizon)
    best = hits.min()
    if not math.isfinite(best):
        return math.inf, None
    return best, tuple(int(i) for i in np.unravel_index(np.argmax(hits.ravel() == best), hits.shape))


SMALL = nn.Problem([1.0, 0.2, 0.03], c=[1.0, 0.5, 0.05], init_var=[1.0, 2.0, 4.0], weights=[1, 3, 10])


@pytest.mark.parametrize(
    "cls, grid, B",
    [
        (nn.SGD, {"lr": np.geomspace(0.05, 2.5, 25)}, 64),  # includes divergent lr > 2
        (nn.Momentum, {"lr": np.geomspace(0.01, 3.0, 12), "beta": np.array([0.0, 0.5, 0.8, 0.9, 0.95, 0.99])}, 256),
        (nn.EMA, {"lr": np.geomspace(0.05, 1.9, 10), "gamma": np.array([0.0, 0.5, 0.9, 0.99])}, 16),
        (nn.Nesterov, {"lr": np.geomspace(0.05, 2.0, 10), "beta": np.array([0.0, 0.7, 0.9])}, 1024),
    ],
)
def test_tune_matches_a_scan_of_every_grid_point(cls, grid, B) -> None:
    target = 0.05 * SMALL.initial_risk
    want_steps, want_index = scan_tune(SMALL, cls, grid, B, target, 4000)
    got = nn.tune(SMALL, cls, batch_size=B, target=target, grid=grid)
    assert got.steps == want_steps and got.index == want_index
    assert got.hyperparameters == {k: float(v[i]) for (k, v), i in zip(grid.items(), want_index)}
    assert nn.steps_to_target(SMALL, got.optimizer, batch_size=B, target=target) == want_steps


def test_an_underdamped_optimum_whose_curve_oscillates() -> None:
    # one direction, strongly underdamped: the curve dips below the target, rises, settles
    prob = nn.Problem([1.0], c=[1.0], init_var=[1.0])
    grid = {"lr": np.array([0.6, 0.8, 1.0, 1.2]), "beta": np.array([0.85, 0.9, 0.95])}
    want = scan_tune(prob, nn.Momentum, grid, 1e6, 0.3, 3000)
    got = nn.tune(prob, nn.Momentum, batch_size=1e6, target=0.3, grid=grid, grid_steps=True)
    assert (got.steps, got.index) == want
    mesh = np.meshgrid(*grid.values(), indexing="ij")
    np.testing.assert_array_equal(got.grid_steps, scan_first_hits(prob, nn.Momentum(lr=mesh[0], beta=mesh[1]), 1e6, 0.3, 3000))


def test_ties_go_to_the_first_grid_point() -> None:
    grid = {"lr": np.array([0.3, 0.5, 0.5, 0.3, 0.5])}  # duplicated values tie exactly
    got = nn.tune(SMALL, nn.SGD, batch_size=64, target=0.2, grid=grid)
    want = scan_tune(SMALL, nn.SGD, grid, 64, 0.2, 4000)
    assert (got.steps, got.index) == want


def test_all_divergent_grid_gives_inf() -> None:
    got = nn.tune(SMALL, nn.SGD, batch_size=4, target=0.01, grid={"lr": np.array([2.5, 3.0, 10.0])})
    assert got.steps == math.inf and got.optimizer is None and got.index is None


def test_unreachable_target_gives_inf() -> None:
    # stationary risk of every lr exceeds the target at B = 1
    got = nn.tune(SMALL, nn.SGD, batch_size=1, target=1e-6, grid={"lr": np.geomspace(0.1, 1.9, 8)})
    assert got.steps == math.inf


def test_default_grids_are_the_papers() -> None:
    sgd_grid, mom_grid = nn.default_grid("sgd"), nn.default_grid("momentum")
    np.testing.assert_array_equal(sgd_grid["lr"], np.logspace(-5, 0.5, 100))
    np.testing.assert_array_equal(mom_grid["lr"], np.logspace(-8, 1, 100))
    np.testing.assert_array_equal(mom_grid["beta"], 1 - np.logspace(-5, 0, 20))
    np.testing.assert_array_equal(nn.default_grid("ema")["gamma"], 1 - np.logspace(-5, 0, 20))
    got = nn.tune(nn.Problem.paper(), nn.SGD, batch_size=1024, target=0.01)
    assert got.grid["lr"] is sgd_grid["lr"] or np.array_equal(got.grid["lr"], sgd_grid["lr"])


def test_fixed_hyperparameters_and_names() -> None:
    a = nn.tune(SMALL, nn.Momentum, batch_size=64, target=0.2, grid={"lr": np.geomspace(0.05, 1, 6)}, beta=0.9)
    b = nn.tune(SMALL, "momentum", batch_size=64, target=0.2, grid={"lr": np.geomspace(0.05, 1, 6), "beta": [0.9]})
    assert a.steps == b.steps and a.hyperparameters == b.hyperparameters
    assert a.hyperparameters["beta"] == 0.9


def test_refine_extends_past_an_edge_optimum_and_never_gets_worse() -> None:
    grid = {"lr": np.array([0.01, 0.02, 0.04])}  # too small: the optimum lies above the grid
    got = nn.tune(SMALL, nn.SGD, batch_size=256, target=0.05, grid=grid, refine=True)
    assert got.at_edge == ("lr",) and got.refined
    assert got.steps < got.grid_optimum
    lr = got.hyperparameters["lr"]
    assert lr > 0.04
    # the refined point's steps are exact
    want = scan_first_hits(SMALL, nn.SGD(lr=lr), 256, 0.05, 20000)
    assert got.steps == want
    # refining an interior optimum never does worse than the grid
    inner = nn.tune(SMALL, nn.SGD, batch_size=256, target=0.05, grid={"lr": np.geomspace(0.05, 1.5, 9)}, refine=True)
    assert inner.steps <= inner.grid_optimum


@settings(deadline=None, max_examples=25)
@given(
    h=st.lists(st.floats(1e-2, 1.5), min_size=1, max_size=4),
    lr_lo=st.floats(0.02, 0.5),
    betas=st.lists(st.floats(0.0, 0.97), min_size=1, max_size=3),
    B=st.sampled_from([4.0, 64.0, 4096.0]),
    frac=st.floats(0.02, 0.5),
)
def test_tune_against_scan_random(h, lr_lo, betas, B, frac) -> None:
    prob = nn.Problem(h, c=np.sqrt(h), init_var=1.0)
    grid = {"lr": np.geomspace(lr_lo, 4.0 * lr_lo, 5), "beta": np.array(betas)}
    target = frac * prob.initial_risk
    want = scan_tune(prob, nn.Momentum, grid, B, target, 3000)
    assume(math.isfinite(want[0]))  # the scan must see the optimum
    got = nn.tune(prob, nn.Momentum, batch_size=B, target=target, grid=grid)
    assert (got.steps, got.index) == want


# ------------------------------------------------------------------ the certificates themselves
@settings(deadline=None, max_examples=40)
@given(
    kind=st.sampled_from(["sgd", "momentum", "ema", "nesterov", "qhm"]),
    lr=st.floats(1e-3, 1.3),
    decay=st.one_of(st.floats(0.0, 0.999), st.just(0.0)),
    p=st.sampled_from([0.0, 0.5]),
    B=st.floats(1.0, 1e4),
    seed=st.integers(0, 2**16),
)
def test_modal_bounds_never_exceed_the_exact_risk(kind, lr, decay, p, B, seed) -> None:
    rng = np.random.default_rng(seed)
    prob = nn.Problem(10 ** rng.uniform(-2.5, 0.0, 4), c=10 ** rng.uniform(-2, 1, 4), init_var=10 ** rng.uniform(-1, 1, 4), weights=rng.integers(1, 5, 4))
    hyper = {"lr": lr} | ({"beta": decay} if kind in ("momentum", "nesterov", "qhm") else {"gamma": decay} if kind == "ema" else {})
    if kind == "qhm":
        hyper["nu"] = 0.7
    opt = nn.optimizer(kind, precond_power=p, **hyper)
    model = build_model(prob, opt, B).flatten()
    assert model.stable.all()  # lr h <= 1.3 is stable for every spec here
    cert = _steps._Certificates(model)
    T = 600
    risk = nn.expected_risk(prob, opt, batch_size=B, steps=np.arange(T + 1))
    assert_bounds_hold(cert, np.ravel(risk), rng)


# ------------------------------------------------------------------ accuracy fixed while building tune
x = 1e-11
REGRESSIONS = [
    # beta = 0 gives a zero eigenvalue and one at 1 - alpha h: its power needs log1p
    ("momentum beta=0, alpha h = 1e-11", momentum, nn.Momentum(lr=x, beta=0.0), {alpha: x, beta: 0.0}),
    ("EMA gamma=0, alpha h = 1e-11", ema, nn.EMA(lr=x, gamma=0.0), {alpha: x, gamma: 0.0}),
    # an eigenvalue near -1: c_t - 1 must not be formed by cancellation
    ("SGD alpha h = 2 - 1e-11", sgd, nn.SGD(lr=2 - x), {alpha: 2 - x}),
]


@pytest.mark.parametrize("label, spec, opt, values", REGRESSIONS, ids=[r[0] for r in REGRESSIONS])
def test_chebyshev_engine_against_50_digits_at_large_t(label, spec, opt, values) -> None:
    mp.mp.dps = 50
    steps = [0, 1, 7, 1000, 10**6, 10**9, 10**11]
    prob = nn.Problem([1.0], c=[1.0], init_var=1.0)
    got = nn.expected_risk(prob, opt, batch_size=4.0, steps=steps, method="chebyshev")
    want = np.array([float(mp_risk(spec, values, 1.0, 1.0, 4.0, 1.0, t)) for t in steps])
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=0)


@pytest.mark.slow  # several seconds: kept out of the quick run's 3-minute budget
def test_per_point_steps_of_the_papers_momentum_grid_are_fast_and_exact_on_a_sample() -> None:
    # the whole 2000-point grid (this used to take minutes); a sample is checked by scanning
    prob = nn.Problem.paper()
    lr, be = np.logspace(-8, 1, 100), 1 - np.logspace(-5, 0, 20)
    steps = nn.steps_to_target(prob, nn.Momentum(lr=lr[:, None], beta=be[None, :]), batch_size=65536, target=0.01)
    rng = np.random.default_rng(0)
    for i, j in zip(rng.integers(40, 100, 6), rng.integers(0, 20, 6)):
        want = scan_first_hits(prob, nn.Momentum(lr=lr[i], beta=be[j]), 65536, 0.01, 3000)
        if math.isfinite(want):
            assert steps[i, j] == want
