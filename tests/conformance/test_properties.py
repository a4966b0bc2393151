"""Building blocks of the suite: the Bayes information bound, Monte-Carlo tolerances, reductions,
the report and its validation."""

import math

import numpy as np
import pytest

import nqm.numerics as nn
from nqm.proofs import (
    PROPERTIES,
    Reduction,
    bayes_risk_bound,
    check_conformance,
    declare_reduction,
    declared_reductions,
    monte_carlo_tolerances,
)
from nqm.theory import get_spec, momentum


def test_a_finite_start_beats_the_flat_prior_bound_but_not_the_bayes_bound() -> None:
    # one direction, h = c = v = B = 1; SGD with lr = 1/2 is the posterior mean after one example
    problem = nn.Problem([1.0], c=[1.0], init_var=[1.0])
    risk = float(nn.expected_risk(problem, nn.SGD(lr=0.5), batch_size=1, steps=[1])[0])
    assert risk == pytest.approx(0.25, rel=1e-15)  # (1/2)(1/4 + 1/4) by hand
    assert nn.steps_to_target(problem, nn.SGD(lr=0.5), batch_size=1, target=0.25) == 1
    assert float(problem.information_bound(0.25, 1)) == pytest.approx(2.0)  # Section 3.6's bound: 2 steps
    assert float(bayes_risk_bound(problem, 1)) == pytest.approx(0.25)  # 1/2 * v c / (c + v N h^2)
    assert nn.bayes_bound_steps(problem, batch_size=1, target=0.25) == 1


def test_bayes_bound_limits() -> None:
    problem = nn.Problem([2.0, 0.5], c=[1.0, 3.0], init_var=[1e12, 1e12], weights=[3, 1])
    N = np.array([0.0, 10.0, 1e4])
    bound = bayes_risk_bound(problem, N)
    assert bound[0] == pytest.approx(problem.initial_risk)
    # flat-prior limit: (1/2) tr(H^-1 C) / N = (3 * 1/2 + 3/0.5) / 2 / N
    np.testing.assert_allclose(bound[1:], (3 * 0.5 + 6.0) / 2 / N[1:], rtol=1e-6)
    noiseless = nn.Problem([1.0], c=[0.0])
    assert bayes_risk_bound(noiseless, [0.0, 1.0]).tolist() == [0.5, 0.0]


def test_bayes_bound_agrees_with_the_schedule_module() -> None:
    """bayes_bound_steps (an exact integer search over t) inverts the closed-form bayes_risk_bound."""
    problem = nn.Problem.paper(d=500, bins=20)
    for steps in (1, 17, 4000):
        target = float(bayes_risk_bound(problem, steps * 8.0))
        assert nn.bayes_bound_steps(problem, batch_size=8.0, target=target * (1 + 1e-12)) == steps


def test_monte_carlo_tolerances_keep_their_false_failure_rate() -> None:
    """Exact chi-square sums (no simulator involved): exceedances stay below the stated rate."""
    rng = np.random.default_rng(0)
    a = np.array([3.0, 1.0, 0.5, 0.5, 0.1])  # per-coordinate risks; one run = sum a_j Z_j^2
    runs, trials, rate = 4, 200_000, 0.05
    means = (rng.standard_normal((trials, runs, a.size)) ** 2 * a).sum(axis=2).mean(axis=1)
    variance = 2.0 * np.sum(a**2)
    below, above = monte_carlo_tolerances(np.array(variance), np.array(a.max()), runs, 1, rate)
    dev = means - a.sum()
    observed = np.mean((dev > above) | (dev < -below))
    assert observed <= rate
    assert observed > 0  # the tolerances are not vacuous at this rate


def test_declared_reductions() -> None:
    assert Reduction("momentum", "sgd", {"beta": 0.0}) in declared_reductions("momentum")
    assert {str(r) for r in declared_reductions("qhm")} == {"qhm(beta=0) = sgd", "qhm(nu=0) = sgd"}
    first = declare_reduction("my_method_test", "sgd", k=0)
    declare_reduction("my_method_test", "sgd", k=0)
    assert declared_reductions("my_method_test") == (first,)
    with pytest.raises(ValueError, match="fixed must name"):
        declare_reduction("my_method_test", "sgd")


def test_report_of_a_user_spec_and_its_validation() -> None:
    spec = momentum.fix(beta=0.5)  # an unregistered spec: checked as an object, never registered
    report = check_conformance(spec, max_examples=3, properties=["engine_matches_recursion", "scale_symmetry"])
    assert report.ok and report.spec == "momentum_fixed"
    assert [r.status for r in report.results] == ["passed", "passed"]
    assert "engine_matches_recursion" in str(report) and str(report).endswith("OK")
    with pytest.raises(KeyError):
        nn.optimizer("momentum_fixed", lr=0.1)  # still not registered
    with pytest.raises(ValueError, match="unknown properties"):
        check_conformance("sgd", properties=["nope"])
    with pytest.raises(ValueError, match="max_examples must be an integer >= 1"):
        check_conformance("sgd", max_examples=0)
    with pytest.raises(ValueError, match="already preconditioned"):
        check_conformance(momentum.precondition())
    assert set(PROPERTIES) >= {"engine_matches_recursion", "engine_matches_monte_carlo", "information_bound"}
    assert math.isfinite(report["scale_symmetry"].seconds)


def test_monte_carlo_tolerances_survive_risks_whose_squares_underflow() -> None:
    """A noise-free direction decaying to 1e-164 by step 33: its risk variance (~1e-328) underflows
    to 0, yet the Monte-Carlo mean still scatters by ~1e-165 around it; the tolerance must too."""
    from nqm.proofs.conformance._properties import _check_monte_carlo
    from nqm.proofs.conformance import Setup

    problem = nn.Problem([1e-4], c=[0.0], init_var=[1.0], weights=[0.1])
    opt = nn.SGD(lr=9960.28673046106)
    assert float(nn.risk_variance(problem, opt, batch_size=1.0, steps=[33])[0]) == 0.0  # the underflow
    _check_monte_carlo(get_spec("sgd"), (Setup(problem, opt, 1.0, np.array([33.0])), 256, 0))
