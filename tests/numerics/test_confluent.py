"""Certified bounds where eigenvalues repeat (nqm.numerics._confluent), and the searches they speed up.

The spec is the four-state EMA of an EMA of heavy-ball iterates (tests/_user_specs.py). At nu = gamma
its transition has a Jordan block at gamma in every direction; at nu a hair from gamma the two
eigenvalues are distinct but their eigenvectors nearly parallel; at a small lr h the heavy-ball root
near beta joins them when beta = gamma. References: the literal step-by-step recursion and the
doubling oracle of tests/numerics/_edge_oracle.py (150 and 50 digits; no engine code).
"""

import sys
from pathlib import Path

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nqm.numerics as nn
from nqm.numerics import _steps, build_model
from nqm.numerics._confluent import ConfluentBound, confluent_units

sys.path.insert(0, str(Path(__file__).parent))
import _edge_oracle as oracle  # noqa: E402
from _user_specs import EMA2_HB  # noqa: E402
from test_spectral import SMALL, _oracle_first_hit  # noqa: E402

Ema2HB = nn.from_spec(EMA2_HB)
LAST = 400


def _bound(h: float, hyper: dict, noise: bool) -> ConfluentBound:
    """The confluent bound of a one-direction problem (v = w = 1, c = 1, B = 8), built for it whether or
    not the spectral expansion (nqm.numerics._spectral) covers it too: of the mean-path part alone, or
    (``noise``) of the whole risk."""
    model = build_model(nn.Problem([h], c=[1.0], init_var=1.0), Ema2HB(**hyper), 8.0).flatten()
    inv = model.inv
    units = confluent_units(inv["D"], inv["init"], inv["b"], inv["out"], np.ones(model.weight.shape, dtype=bool))
    # a bound that covered nothing would pass the checks below trivially
    assert units["ok"].all() and (units["noise_ok"].all() or not noise)
    return ConfluentBound(units, model.weight * model.start, model.weight * model.noise * noise)


def _exact(h: float, hyper: dict, steps, noise: bool) -> list:
    r"""The mean-path part :math:`\tfrac12h\,m(t)^2` of the risk, or (``noise``) the whole risk, from the
    50-digit oracle."""
    return [mp.mpf(h) / 2 * (m * m + n / 8 * noise) for m, n in oracle.moments(EMA2_HB, h, 1.0, 8.0, hyper, steps)]


@pytest.mark.slow
@settings(deadline=None, max_examples=20)
@given(
    lr=st.floats(1e-3, 1.5),
    beta=st.sampled_from([0.0, 0.5, 0.9]),
    gamma=st.sampled_from([0.5, 0.9, 0.99]),
    split=st.sampled_from([0.0, 1e-9, 1e-6, 1e-4]),  # nu = gamma (1 - split): a Jordan block, or nearly one
    h=st.sampled_from([1.0, 0.1, 1e-3]),
    noise=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_confluent_bounds_never_exceed_the_exact_risk(lr, beta, gamma, split, h, noise, seed) -> None:
    hyper = {"lr": lr, "beta": beta, "gamma": gamma, "nu": gamma * (1.0 - split)}
    if lr * h >= 2.0 * (1.0 + beta):  # heavy ball diverges there
        return
    bound = _bound(h, hyper, noise)
    with mp.workdps(60):
        exact = np.array([float(mp.mpf(h) / 2 * (m * m + n / 8 * noise))
                          for m, n in oracle.literal_moments(EMA2_HB, h, 1.0, 8.0, hyper, LAST)])
    rng = np.random.default_rng(seed)
    one = np.array([0])
    for _ in range(20):
        a = int(rng.integers(0, LAST))
        b = int(rng.integers(a, LAST + 1))
        assert bound.interval(one, np.array([float(a)]), np.array([float(b)]))[0] <= exact[a : b + 1].min()
    far = [10**3, 10**4, 10**5, 10**7]
    for t, value in zip(far, _exact(h, hyper, far, noise)):
        assert bound.point(one, np.array([float(t)]))[0] <= value


@pytest.mark.parametrize("split", [0.0, 1e-6])
@pytest.mark.parametrize("noise", [False, True])
def test_confluent_bounds_are_tight_where_eigenvalues_repeat(split, noise) -> None:
    # lr h small: the heavy-ball root near beta = gamma joins the double root gamma (three close roots)
    hyper = {"lr": 0.01, "beta": 0.9, "gamma": 0.9, "nu": 0.9 * (1.0 - split)}
    steps = [10, 100, 1000, 10**5]
    for h in (1.0, 1e-2):
        bound = _bound(h, hyper, noise)
        got = bound.point(np.zeros(len(steps), dtype=int), np.array(steps, dtype=float))
        want = np.array([float(v) for v in _exact(h, hyper, steps, noise)])
        assert np.all(got <= want)
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_a_defective_spec_is_searched_in_time_logarithmic_in_its_answer(monkeypatch) -> None:
    # before the confluent bounds, every step before the hit (16,508 here) was scanned
    scanned = []
    scan = _steps._scan_sums

    def counting(model, rows, start, length):
        scanned.append(rows.size * length)
        return scan(model, rows, start, length)

    monkeypatch.setattr(_steps, "_scan_sums", counting)
    prob = nn.Problem([1.0, 0.1, 0.01, 1e-3], c=[1.0, 1.0, 1.0, 1.0], init_var=1.0)
    steps = nn.steps_to_target(prob, Ema2HB(lr=0.01, beta=0.9, gamma=0.99, nu=0.99), batch_size=65536.0, target=2e-5)
    assert steps > 16 * 1024
    assert sum(scanned) <= 4 * 1024


@pytest.mark.parametrize("lr, beta, gamma, split, B, fraction, last", [
    (0.02, 0.5, 0.99, 1e-7, 256.0, 0.02, 1500),  # nu a hair from gamma: nearly parallel eigenvectors
    (0.05, 0.9, 0.95, 1e-5, 64.0, 0.05, 200),
    (0.01, 0.95, 0.95, 0.0, 1024.0, 0.01, 400),  # beta = gamma: the heavy-ball root near beta joins the Jordan block
])
def test_first_hit_of_a_nearly_defective_spec_matches_the_independent_recursion(lr, beta, gamma, split, B, fraction,
                                                                                 last) -> None:
    hyper = {"lr": lr, "beta": beta, "gamma": gamma, "nu": gamma * (1.0 - split)}
    target = fraction * SMALL.initial_risk
    want = _oracle_first_hit(SMALL, hyper, B, target, last, EMA2_HB)
    assert want is not None
    assert nn.steps_to_target(SMALL, Ema2HB(**hyper), batch_size=B, target=target) == want


def test_a_bin_on_the_stability_edge_leaves_the_noise_bounds_of_the_others() -> None:
    # lr h = 2 (1 + beta) puts the h = 1 bin's heavy-ball root on -1: I - A x A is singular there, which
    # must not fail the batched Lyapunov solve of the other bins
    model = build_model(nn.Problem([1.0, 0.1], c=[1.0, 1.0], init_var=1.0),
                        Ema2HB(lr=3.0, beta=0.5, gamma=0.9, nu=0.9), 8.0).flatten()
    inv = model.inv
    units = confluent_units(inv["D"], inv["init"], inv["b"], inv["out"], np.ones(model.weight.shape, dtype=bool))
    assert units["noise_ok"].tolist() == [[False, True]]


@pytest.mark.parametrize("gap, coupling, split", [(1e-3, 1e-2, 3e-6), (1e-5, 1e-4, 3e-8)])
def test_an_eigenvalue_just_beside_a_jordan_block_joins_its_cluster(gap, coupling, split) -> None:
    # A = V J V^-1 with a Jordan block at 1 - gap and a simple eigenvalue split from it: its Lagrange
    # projector, computed from the Jordan block's eigenvalues (each off by about sqrt(eps)), leaked
    # part of the block's dynamics (bounds up to 1e-7 above the exact mean path) while it counted as isolated
    rng = np.random.default_rng(0)
    J = np.diag([1.0 - gap, 1.0 - gap, 1.0 - gap + split]) + np.diag([coupling, 0.0], 1)
    V = rng.normal(size=(3, 3))
    A = V @ J @ np.linalg.inv(V)
    init, b, out = rng.normal(size=3), 0.1 * rng.normal(size=3), rng.normal(size=3)
    units = confluent_units((A - np.eye(3))[None, None], init[None, None], b[None, None], out[None, None],
                            np.ones((1, 1), dtype=bool))
    assert units["ok"].all()
    bound = ConfluentBound(units, np.ones((1, 1)), np.zeros((1, 1)))
    steps = np.unique(np.geomspace(1, 20 / gap, 40).astype(int))
    with mp.workdps(40):
        Am, xm, om = mp.matrix(A.tolist()), mp.matrix(init.tolist()), mp.matrix([out.tolist()])
        exact = [float((om * Am ** int(t) * xm)[0]) ** 2 for t in steps]
    got = bound.point(np.zeros(steps.size, dtype=int), steps.astype(float))
    assert np.all(got <= exact)
