"""The Bayes (posterior-variance) bound on :class:`nqm.numerics.Problem` (Section 3.6).

Independent references: the posterior variance by sequential Bayesian updating in exact
rational arithmetic (one example at a time, :math:`V \\leftarrow Vc/(c + Vh^2)`), and the
exact engine running the schedule that attains the bound (SGD with the Kalman gain
:math:`\\alpha_t = hV_t/(h^2V_t + c/B)` on one direction).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nqm.numerics as nn

values = st.fractions(min_value=Fraction(1, 20), max_value=Fraction(20), max_denominator=50)


def _posterior_risk(h: list[Fraction], c: list[Fraction], v: list[Fraction], w: list[Fraction], examples: int) -> Fraction:
    total = Fraction(0)
    for hi, ci, vi, wi in zip(h, c, v, w):
        var = vi
        for _ in range(examples):
            var = var * ci / (ci + var * hi * hi)
        total += wi * hi * var / 2
    return total


@settings(deadline=None, max_examples=25)
@given(st.lists(st.tuples(values, values, values, values), min_size=1, max_size=3), st.integers(0, 30))
def test_bayes_risk_bound_is_the_sequential_posterior_variance(bins, examples: int) -> None:
    h, c, v, w = (list(col) for col in zip(*bins))
    prob = nn.Problem([float(x) for x in h], [float(x) for x in c], [float(x) for x in v], [float(x) for x in w])
    reference = float(_posterior_risk(h, c, v, w, examples))
    assert float(prob.bayes_risk_bound(examples)) == pytest.approx(reference, rel=1e-12)
    # never above the flat-prior (information) bound tr(H^-1 C) / (2N)
    if examples:
        assert float(prob.bayes_risk_bound(examples)) <= prob.information_constant / examples * (1 + 1e-12)


@settings(deadline=None, max_examples=25)
@given(st.lists(st.tuples(values, values, values, values), min_size=1, max_size=3), st.sampled_from([1, 2, 5]),
       st.floats(0.05, 0.9))
def test_bayes_bound_steps_is_the_least_sufficient_step_count(bins, batch_size: int, fraction: float) -> None:
    h, c, v, w = (list(col) for col in zip(*bins))
    prob = nn.Problem([float(x) for x in h], [float(x) for x in c], [float(x) for x in v], [float(x) for x in w])
    target = fraction * prob.initial_risk
    steps = prob.bayes_bound_steps(target, batch_size)
    assert steps >= 1 and float(steps).is_integer()
    t = int(steps)
    if t <= 60:
        exact_target = Fraction(target)
        assert _posterior_risk(h, c, v, w, t * batch_size) <= exact_target * (1 + Fraction(1, 10**12))
        assert _posterior_risk(h, c, v, w, (t - 1) * batch_size) > exact_target * (1 - Fraction(1, 10**12))


@pytest.mark.parametrize("batch_size", [1, 4])
def test_the_kalman_gain_schedule_attains_the_bound(batch_size: int) -> None:
    h, c, v = 0.7, 1.3, 2.0
    prob = nn.Problem([h], [c], [v])
    T = 40
    lrs, var = [], v
    for _ in range(T):
        lrs.append(h * var / (h * h * var + c / batch_size))
        var = var * (c / batch_size) / (c / batch_size + var * h * h)
    risk = nn.scheduled_risk(prob, "sgd", batch_size=batch_size, lrs=np.array(lrs))
    bound = prob.bayes_risk_bound(np.arange(T + 1) * batch_size)
    np.testing.assert_allclose(risk, bound, rtol=1e-12)
    target = float(risk[17]) * (1 + 1e-9)
    assert prob.bayes_bound_steps(target, batch_size) == 17


def test_edge_cases_and_bad_input() -> None:
    prob = nn.Problem([1.0, 0.5], [1.0, 0.0], [1.0, 2.0])
    # the noiseless direction is known after one example; none before
    assert float(prob.bayes_risk_bound(0)) == pytest.approx(prob.initial_risk)
    assert float(prob.bayes_risk_bound(1)) == pytest.approx(0.5 * 1.0 * 1.0 / (1.0 + 1.0))
    assert prob.bayes_risk_bound([0, 1, 2]).shape == (3,)
    assert prob.bayes_bound_steps(10.0, 4) == 0.0  # the start meets the target
    assert float(nn.Problem([1.0], [1.0], [1.0]).bayes_risk_bound(math.inf)) == 0.0  # infinitely many examples
    with pytest.raises(ValueError, match=r"examples must be in \[0, inf\]"):
        prob.bayes_risk_bound(-1)
    with pytest.raises(ValueError, match=r"target must be a finite number in \(0, inf\)"):
        prob.bayes_bound_steps(0.0, 4)
    with pytest.raises(ValueError, match=r"batch_size must be a finite number in \[1, inf\)"):
        prob.bayes_bound_steps(0.1, 0.5)
    with pytest.raises(ValueError, match=r"batch_size must be a single number"):
        prob.bayes_bound_steps(0.1, [1, 2])
