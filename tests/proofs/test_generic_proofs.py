"""Generic proofs on user specs, their teeth, and the 50-digit evaluator they rest on.

References: the exact engine (:mod:`nqm.numerics`, Chebyshev/doubling forms), a naive
step-by-step sum written here, numpy's eigenvalues, and Vieta's relations typed by hand.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nqm.numerics as nn
from nqm.proofs import generic_proofs, run_all
from nqm.proofs.claims._prover import PointSampler, eliminate_roots, spec_numerics, vanishing_limit
from nqm.theory import BETA, GAMMA, LR, OptimizerSpec, derive, momentum
from nqm.theory.symbols import alpha, beta, h, r1, r2, t

SETTINGS = settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))


def _momentum_ema(grad, theta, m, avg, lr, beta, gamma):
    m = beta * m + grad(theta)
    theta = theta - lr * m
    return theta, m, gamma * avg + (1 - gamma) * theta


def _optimistic(grad, theta, g_prev, lr):
    g = grad(theta)
    return theta - lr * (2 * g - g_prev), g


#: a three-state user spec (EMA over heavy-ball iterates), never registered
MOMENTUM_EMA = OptimizerSpec.from_update(
    "test_momentum_ema", _momentum_ema, state=("theta", "m", "avg"), hyperparameters=(LR, BETA, GAMMA),
    init=(1, 0, 1), out=(0, 0, 1), description="EMA of heavy-ball iterates",
)
#: a two-state user spec, never registered
OPTIMISTIC = OptimizerSpec.from_update(
    "test_optimistic", _optimistic, state=("theta", "g_prev"), hyperparameters=(LR,), description="optimistic GD",
)


@pytest.mark.parametrize("spec", [MOMENTUM_EMA, OPTIMISTIC], ids=lambda s: s.name)
def test_generic_proofs_pass_on_unregistered_user_specs(spec: OptimizerSpec) -> None:
    results = run_all([spec])
    generic = [r for r in results if r.optimizers == (spec.name,)]
    assert [r.name for r in generic] == [f"stationary_risk[{spec.name}]", f"stability_region[{spec.name}]",
                                         f"bound_vs_exact[{spec.name}]"]
    assert all(r.ok for r in generic), [r.details for r in generic if not r.ok]
    assert all(not r.optimizers for r in results if r not in generic)  # only registry-free paper proofs besides


def test_stability_proof_catches_wrong_conditions() -> None:
    spec = momentum.fix(beta=sp.Rational(1, 2))  # a fresh spec object: its derivation is not shared
    d = derive(spec)
    d.__dict__["stability_conditions"] = [sp.StrictLessThan(alpha * h, 2)]  # the true limit is 2(1 + beta) = 3
    d.__dict__["stability_region"] = sp.StrictLessThan(alpha, 2 / h)
    result = generic_proofs(spec)[1].run()
    assert not result.ok
    assert result.data["disagreements"] > 0


def test_stationary_and_bound_proofs_catch_a_wrong_covariance() -> None:
    spec = momentum.fix(beta=sp.Rational(1, 3))
    d = derive(spec)
    S = d.stationary_covariance
    d.__dict__["stationary_covariance"] = sp.ImmutableMatrix(S / 2)
    d.__dict__["stationary_risk"] = d.stationary_risk / 2
    stationary, _, bound = generic_proofs(spec)
    for result in (stationary.run(), bound.run()):
        assert not result.ok
        assert any(line.startswith("[FAIL]") for line in result.details)


# ---------------------------------------------------------------------- the 50-digit evaluator
@SETTINGS
@given(st.sampled_from(["sgd", "momentum", "ema", "nesterov", "qhm"]), st.integers(0, 2**31 - 1),
       st.lists(st.integers(0, 300), min_size=1, max_size=4))
def test_spec_numerics_risk_matches_the_engine(name: str, seed: int, steps: list[int]) -> None:
    from nqm.theory import get_spec
    from nqm.theory.symbols import B, c, v0

    spec = get_spec(name)
    point = PointSampler(spec, seed).point(stable=True)
    num = spec_numerics(spec)
    prob = nn.Problem([float(point[h])], [float(point[c])], [float(point[v0])])
    opt = nn.optimizer(name, **{hp.name: float(point[hp.symbol]) for hp in spec.hyperparameters})
    engine = nn.expected_risk(prob, opt, batch_size=float(point[B]), steps=np.array(steps, dtype=float))
    mine = np.array([float(num.expected_risk(point, s)) for s in steps])
    scale = prob.initial_risk + float(nn.stationary_risk(prob, opt, batch_size=float(point[B])))
    assert np.allclose(mine, np.ravel(engine), rtol=1e-9, atol=1e-12 * scale)


@SETTINGS
@given(st.integers(0, 2**31 - 1), st.integers(0, 70))
def test_doubling_noise_sum_matches_the_naive_sum(seed: int, steps: int) -> None:
    num = spec_numerics(momentum)
    point = PointSampler(momentum, seed).point(stable=None)
    with mp.workdps(50):
        A, b, _, out = num.matrices(point)
        naive, power = mp.mpf(0), mp.eye(2)
        for _ in range(steps):
            naive += (out * power * b)[0] ** 2
            power = A * power
        fast = num.partial_noise_sum(point, steps)
        assert abs(fast - naive) <= mp.mpf(10) ** -40 * max(mp.mpf(1), abs(naive))


def test_sampled_points_are_stable_and_inside_the_declared_ranges() -> None:
    for spec_name in ("momentum", "qhm"):
        from nqm.theory import get_spec

        spec = get_spec(spec_name)
        sampler = PointSampler(spec, 3)
        f = sp.lambdify([h, *spec.symbols], spec.A, "numpy")
        for _ in range(30):
            pt = sampler.point(stable=True)
            for hp in spec.hyperparameters:
                value = float(pt[hp.symbol])
                assert (value >= hp.lower) if hp.lower_closed else (value > hp.lower)
                assert (value <= hp.upper) if hp.upper_closed else (value < hp.upper)
            A = np.array(f(float(pt[h]), *(float(pt[s]) for s in spec.symbols)), dtype=float)
            assert np.max(np.abs(np.linalg.eigvals(A))) < 1


# ---------------------------------------------------------------------- symbolic helpers
def test_eliminate_roots_uses_vieta() -> None:
    # momentum: r1 + r2 = 1 - alpha h + beta, r1 r2 = beta
    expected = (1 - alpha * h + beta) ** 2 - 2 * beta
    assert sp.expand(eliminate_roots(r1**2 + r2**2, momentum) - expected) == 0
    assert sp.cancel(eliminate_roots(1 / (r1 - r2) ** 2, momentum) * ((1 - alpha * h + beta) ** 2 - 4 * beta)) == 1
    with pytest.raises(ValueError, match="symmetric"):
        eliminate_roots(r1 - 2 * r2, momentum)


def test_vanishing_limit_only_drops_eigenvalue_powers() -> None:
    assert vanishing_limit(3 + r1 ** (2 * t + 1) * r2**t, t, momentum, named=True) == 3
    with pytest.raises(ValueError, match="eigenvalue"):
        vanishing_limit(1 + 2**t, t, momentum, named=True)
    with pytest.raises(ValueError, match="a > 0"):
        vanishing_limit(1 + r1 ** (-t), t, momentum, named=True)
    assert math.isclose(float(vanishing_limit(sp.Integer(5), t, momentum, named=True)), 5.0)
