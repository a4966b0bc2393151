"""The tie rule (nqm.numerics._tie): a target equal to a value the curve attains is reached at
the first step attaining it, in steps_to_target, tune, sweeps and the schedule step search.

Each "attained value" here is computed along a different path than the search uses (the
initial risk as a plain sum over directions; the Chebyshev closed form against the doubling
engine), so the two differ by rounding; without the rule the search answered a later step
or inf.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nqm.numerics as nn

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
POWERS = [0.0, 0.25, 0.5, 0.75, 1.0]


@st.composite
def problems(draw) -> nn.Problem:
    d = draw(st.integers(1, 60))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    h = np.exp(rng.uniform(-10.0, 3.0, d))
    return nn.Problem(h, c=h * rng.uniform(0.1, 3.0, d), init_var=rng.uniform(0.1, 3.0, d),
                      weights=rng.integers(1, 50, d).astype(float))


def _optimizer(name: str, prob: nn.Problem, p: float) -> nn.Optimizer:
    lr = 0.5 / float(np.max(prob.h ** (1.0 - p)))
    return {"sgd": nn.SGD(lr=lr, precond_power=p), "momentum": nn.Momentum(lr=lr, beta=0.9, precond_power=p),
            "ema": nn.EMA(lr=lr, gamma=0.5, precond_power=p), "nesterov": nn.Nesterov(lr=lr, beta=0.5, precond_power=p)}[name]


@SETTINGS
@given(prob=problems(), p=st.sampled_from(POWERS), name=st.sampled_from(["sgd", "momentum", "ema", "nesterov"]),
       B=st.floats(1.0, 1e6))
def test_initial_risk_as_target_is_reached_at_step_zero(prob, p, name, B) -> None:
    opt = _optimizer(name, prob, p)
    assert nn.steps_to_target(prob, opt, batch_size=B, target=prob.initial_risk) == 0


@pytest.mark.parametrize("p", POWERS)
def test_paper_problem_initial_risk_ties_everywhere(p: float) -> None:
    prob = nn.Problem.paper()
    target = prob.initial_risk
    assert nn.steps_to_target(prob, nn.SGD(lr=0.5, precond_power=p), batch_size=64, target=target) == 0
    assert nn.tune(prob, nn.SGD, batch_size=64, target=target, precond_power=p).steps == 0
    table = nn.sweep(prob, nn.SGD, batch_sizes=[4, 64], target=target, precond_power=p, executor="serial", cache=False)
    assert [row.steps for row in table.rows] == [0, 0]


@SETTINGS
@given(beta=st.floats(0.3, 0.99), lr_h=st.floats(0.05, 3.0), pick=st.integers(0, 300), log_noise=st.floats(-8.0, 0.0),
       p=st.sampled_from(POWERS))
def test_attained_value_as_target_is_reached_there_at_the_latest(beta, lr_h, pick, log_noise, p) -> None:
    # underdamped (non-monotone) curves: the target is the Chebyshev value at step `pick`;
    # the doubling engine must reach it at `pick` or earlier, and exactly where its own scan
    # (with the same rule) first does
    prob = nn.Problem([1.0, 0.25], c=[10.0**log_noise] * 2, init_var=[1.0, 2.0], weights=[3.0, 1.0])
    lr = min(lr_h, 1.9 * (1.0 + beta)) / float(np.max(prob.h ** (1.0 - p)))
    opt = nn.Momentum(lr=lr, beta=beta, precond_power=p)
    curve = nn.expected_risk(prob, opt, batch_size=1.0, steps=np.arange(pick + 1), method="doubling")
    target = float(np.ravel(nn.expected_risk(prob, opt, batch_size=1.0, steps=[pick], method="chebyshev"))[0])
    found = nn.steps_to_target(prob, opt, batch_size=1.0, target=target, method="doubling")
    assert found == int(np.argmax(nn.reaches(curve, target)))
    assert found <= pick


def test_schedule_search_and_bayes_bound_follow_the_rule() -> None:
    # a target a rounding below the start (half the tolerance) is already met at step 0
    prob = nn.Problem([1.0, 0.01], c=[1.0, 0.01], init_var=[1.0, 1.0])
    below = 1.0 / (1.0 + 0.5 * nn.TIE_RTOL)
    assert prob.bayes_bound_steps(prob.bayes_risk_bound(0.0) * below, 8.0) == 0
    assert nn.optimal_schedule(prob, "sgd", batch_size=8.0, target=prob.initial_risk * below, pieces=2).steps == 0


def test_the_rule_is_a_relative_tolerance_of_2_to_the_minus_40() -> None:
    assert nn.TIE_RTOL == 2.0**-40
    assert nn.reaches(1.0 + 2.0**-41, 1.0) and not nn.reaches(1.0 + 2.0**-39, 1.0)
    prob = nn.Problem([1.0], c=[0.0], init_var=[1.0])
    start = prob.initial_risk
    assert nn.steps_to_target(prob, nn.SGD(lr=0.5), batch_size=1.0, target=start / (1.0 + 2.0**-41)) == 0
    assert nn.steps_to_target(prob, nn.SGD(lr=0.5), batch_size=1.0, target=start / (1.0 + 2.0**-39)) == 1
    assert math.isinf(nn.steps_to_target(nn.Problem([1.0], c=[1.0], init_var=[1.0]), nn.SGD(lr=0.5), batch_size=1.0,
                                         target=1e-9))
