"""The suite has teeth: deliberately broken variants must be caught, each by the right property.

Mutants: a spec with a sign error (and one that ascends), an engine whose noise term is off by
a factor of B, and a Monte Carlo that uses the noise variance as its standard deviation. The
engine and Monte-Carlo mutants are injected with monkeypatch, so only these tests see them.
"""

import numpy as np
import pytest

import nqm.numerics as nn
from nqm.numerics import _montecarlo, _risk
from nqm.proofs import check_conformance, declare_reduction
from nqm.theory import BETA, LR, NU, OptimizerSpec


def _qhm_sign_error(grad, theta, buf, lr, beta, nu):
    g = grad(theta)
    buf = beta * buf + (1 - beta) * g
    return theta - lr * ((1 - nu) * g - nu * buf), buf  # should be + nu * buf


def _momentum_ascent(grad, theta, m, lr, beta):
    m = beta * m + grad(theta)
    return theta + lr * m, m  # should be - lr * m


QHM_SIGN_ERROR = OptimizerSpec.from_update(
    "qhm_sign_error", _qhm_sign_error, state=("theta", "buf"), hyperparameters=(LR, BETA, NU)
)
MOMENTUM_ASCENT = OptimizerSpec.from_update(
    "momentum_ascent", _momentum_ascent, state=("theta", "m"), hyperparameters=(LR, BETA)
)


def test_sign_error_breaks_the_declared_reduction() -> None:
    # copied from QHM, so it claims QHM's reduction: beta = 0 is SGD for every nu
    declare_reduction("qhm_sign_error", "sgd", beta=0.0)
    report = check_conformance(
        QHM_SIGN_ERROR, properties=["reductions", "engine_matches_recursion"], max_examples=10, shrink_seconds=5.0
    )
    assert report.failed == ("reductions",), str(report)
    assert "qhm_sign_error(beta=0) = sgd" in report["reductions"].message
    assert report["reductions"].counterexample is not None
    assert "{" not in str(report)  # readable verdicts: no dict dumps


def test_ascent_has_no_stable_learning_rate() -> None:
    report = check_conformance(MOMENTUM_ASCENT, properties=["stable_for_small_lr"], max_examples=5, shrink_seconds=5.0)
    assert report.failed == ("stable_for_small_lr",), str(report)
    assert "{" not in str(report)


def test_engine_off_by_a_factor_of_B(monkeypatch: pytest.MonkeyPatch) -> None:
    exact = _risk.build_model

    def noise_over_B_squared(problem, opt, batch_size, **kwargs):
        model = exact(problem, opt, batch_size, **kwargs)
        model.noise = model.noise / float(batch_size)  # c / B**2 instead of c / B
        return model

    monkeypatch.setattr(_risk, "build_model", noise_over_B_squared)
    report = check_conformance(
        "momentum", properties=["engine_matches_recursion", "engine_matches_monte_carlo"], max_examples=10,
        shrink_seconds=5.0,
    )
    assert report.failed == ("engine_matches_recursion", "engine_matches_monte_carlo"), str(report)
    assert report["engine_matches_recursion"].counterexample["batch_size"] > 1
    assert "{" not in str(report)


def test_monte_carlo_with_the_wrong_noise_scale(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_montecarlo, "_noise_std", lambda c, batch_size: c / batch_size)  # variance as std
    report = check_conformance("sgd", properties=["engine_matches_monte_carlo"], max_examples=10, shrink_seconds=5.0)
    assert report.failed == ("engine_matches_monte_carlo",), str(report)
    assert "Monte-Carlo mean" in report["engine_matches_monte_carlo"].message
    assert "{" not in str(report)


def test_mutants_are_test_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """After the monkeypatched tests the real engine and Monte Carlo agree again."""
    problem = nn.Problem([1.0, 0.1], weights=[2, 3])
    opt = nn.SGD(lr=0.5)
    mc = nn.monte_carlo(problem, opt, batch_size=4, steps=20, runs=2000, seed=0)
    exact = nn.expected_risk(problem, opt, batch_size=4, steps=np.arange(21))
    assert np.all(np.abs(mc.mean - exact) < 10 * mc.stderr)
