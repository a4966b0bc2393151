"""Optimal schedules of several hyperparameters (``vary=``): certificates, exact gradients, bad input.

References are independent of the optimiser: constant settings through the constant-rate engine
(``nn.expected_risk``, ``nn.steps_to_target``), and every schedule's risk through
``nn.scheduled_risk`` with ``schedules.piecewise`` schedules of every varying hyperparameter.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nqm.numerics as nn
from nqm.numerics import schedules
from nqm.numerics._schedule_coords import Transformed
from nqm.numerics._schedule_maps import ScheduleFamily
from nqm.theory import BETA, GAMMA, LR, OptimizerSpec

# the result's risk and a reference are the same exact risk by two exact paths (~1e-13 apart)
REL = 1e-10
# the grid of constant values the certificate covers for a [0, 1) hyperparameter (module _schedule_setup)
GRID_01 = np.array([0.0, 0.5, 0.9, 0.99, 0.999])


def _small(bins: int) -> nn.Problem:
    return nn.Problem.paper(d=300, bins=bins)


def _reference(prob, opt, B, res) -> np.ndarray:
    """Risk at every boundary of the result by the engine's scheduled_risk on piecewise schedules."""
    edges = res.boundaries[1:-1].tolist()
    sched = {name: schedules.piecewise(v.tolist(), edges) for name, v in res.values.items()}
    return nn.scheduled_risk(prob, opt, steps=res.boundaries, batch_size=B, schedule=sched)


def _constant_min(prob, make, name, own, B, T, cap) -> float:
    """Least risk at T over constant settings: a dense lr grid under the cap at each grid value of ``name``."""
    lrs = np.logspace(-6, math.log10(cap), 80)
    return min(float(nn.expected_risk(prob, make(lr=lrs, **{name: u}), batch_size=B, steps=[T])[:, 0].min())
               for u in np.append(GRID_01, own))


@pytest.mark.slow
@settings(max_examples=6, deadline=None)
@given(bins=st.integers(2, 4), T=st.integers(30, 600), logB=st.floats(0, 8), pieces=st.integers(2, 3),
       which=st.sampled_from([("momentum", "beta"), ("ema", "gamma")]))
def test_joint_schedule_is_never_worse_than_the_best_constant_setting(bins, T, logB, pieces, which) -> None:
    _joint_schedule_is_certified(bins, T, logB, pieces, which)


@pytest.mark.parametrize("which", [("momentum", "beta"), ("ema", "gamma")])
def test_joint_schedule_is_certified_on_a_small_problem(which) -> None:
    _joint_schedule_is_certified(2, 80, 3.0, 2, which)


def _joint_schedule_is_certified(bins, T, logB, pieces, which) -> None:
    spec, name = which
    make = nn.Momentum if spec == "momentum" else nn.EMA
    prob, B = _small(bins), 2.0**logB
    opt = make(lr=0.05, **{name: 0.9})
    res = nn.optimize_schedule(prob, opt, batch_size=B, steps=T, pieces=pieces, vary=("lr", name))
    cap = nn.default_max_lr(prob, opt)
    assert set(res.values) == {"lr", name} and res.lengths.sum() == T
    assert np.all(res.values["lr"] <= cap) and np.all((0 <= res.values[name]) & (res.values[name] < 1))
    assert np.array_equal(res.lrs, res.values["lr"])
    assert res.risk == pytest.approx(_reference(prob, opt, B, res), rel=REL)
    assert res.final_risk <= _constant_min(prob, make, name, 0.9, B, T, cap) * (1 + REL)


def test_varying_beta_alone_keeps_the_learning_rate() -> None:
    prob, B, T = _small(3), 16.0, 200
    opt = nn.Momentum(lr=0.05, beta=0.5)
    res = nn.optimize_schedule(prob, opt, batch_size=B, steps=T, pieces=2, vary="beta")
    assert set(res.values) == {"beta"} and np.all(res.lrs == 0.05)
    assert res.risk == pytest.approx(_reference(prob, opt, B, res), rel=REL)
    constant = [float(nn.expected_risk(prob, nn.Momentum(lr=0.05, beta=b), batch_size=B, steps=[T])[0])
                for b in np.append(GRID_01, 0.5)]
    assert res.final_risk <= min(constant) * (1 + REL)


def test_passed_schedule_is_a_certificate() -> None:
    prob, B, T = _small(3), 4.0, 300
    opt = nn.Momentum(lr=0.05, beta=0.9)
    given_values = {"lr": np.array([0.5, 0.05]), "beta": np.array([0.3, 0.95])}
    res = nn.optimize_schedule(prob, opt, batch_size=B, steps=T, pieces=2, vary=("lr", "beta"),
                               schedules=[given_values])
    lengths = res.lengths.tolist()
    sched = {k: schedules.piecewise(v.tolist(), [lengths[0]]) for k, v in given_values.items()}
    ref = nn.scheduled_risk(prob, opt, steps=[T], batch_size=B, schedule=sched)[0]
    assert res.final_risk <= ref * (1 + REL)


@pytest.mark.parametrize("spec, vary", [("momentum", ("lr", "beta")), ("qhm", ("beta", "nu")),
                                        ("nesterov", ("lr", "beta"))])
def test_gradient_in_the_coordinates_matches_central_differences(spec, vary) -> None:
    prob = _small(3)
    opt = nn.as_optimizer(spec, {"lr": 0.3, "beta": 0.8, **({"nu": 0.7} if spec == "qhm" else {})})
    family = ScheduleFamily(prob, opt, vary, 8.0)
    coords = Transformed(family, vary, 1.5, 3)
    lengths = np.array([40, 25, 60])
    per_piece = {"lr": [0.3, 0.1, 0.5], "beta": [0.8, 0.95, 0.5], "nu": [0.7, 0.2, 0.9]}
    x = coords.point({k: per_piece[k] for k in vary})
    risk, grad = coords.risk_and_gradient(x, lengths, "auto")
    eps = 1e-6
    for k in range(x.size):
        up, dn = x.copy(), x.copy()
        up[k] += eps
        dn[k] -= eps
        fd = (coords.final_risk(up[None], lengths, "auto")[0]
              - coords.final_risk(dn[None], lengths, "auto")[0]) / (2 * eps)
        # rounding of the two risks (~1e-15 R each) over 2 eps, plus O(eps^2) truncation
        assert abs(grad[k] - fd) <= 1e-8 * risk + 1e-6 * abs(fd)


def _mom_ema(grad, theta, m, avg, lr, beta, gamma):
    m = beta * m + grad(theta)
    theta = theta - lr * m
    return theta, m, gamma * avg + (1 - gamma) * theta


@pytest.mark.slow
def test_user_spec_with_three_states_varies_its_own_hyperparameters() -> None:
    """Momentum evaluated at an EMA of its iterates (a user spec, three states: the doubling maps)."""
    spec = OptimizerSpec.from_update("test_vary_momentum_ema", _mom_ema, state=("theta", "m", "avg"),
                                     hyperparameters=(LR, BETA, GAMMA), init=(1, 0, 1), out=(0, 0, 1))
    opt = nn.Optimizer(spec, lr=0.05, beta=0.5, gamma=0.9)
    prob, B, T = _small(2), 8.0, 60
    res = nn.optimize_schedule(prob, opt, batch_size=B, steps=T, pieces=2, vary=("lr", "gamma"))
    assert res.risk == pytest.approx(_reference(prob, opt, B, res), rel=REL)
    constant = [float(nn.expected_risk(prob, nn.Optimizer(spec, lr=lr, beta=0.5, gamma=g), batch_size=B,
                                       steps=[T])[0])
                for g in np.append(GRID_01, 0.9) for lr in np.logspace(-3, math.log10(res.max_lr), 25)]
    assert res.final_risk <= min(constant) * (1 + REL)


def test_coordinates_stay_inside_the_ranges() -> None:
    prob = _small(2)
    family = ScheduleFamily(prob, nn.QHM(lr=0.1, beta=0.9, nu=0.7), ("lr", "beta", "nu"), 4.0)
    coords = Transformed(family, ("lr", "beta", "nu"), 1.0, 2)
    for x in (coords.lower, coords.upper):
        v = coords.values(x)
        assert np.all((v["lr"] > 0) & (v["lr"] <= 1.0))
        assert np.all((v["beta"] >= 0) & (v["beta"] < 1)) and np.all((v["nu"] >= 0) & (v["nu"] <= 1))
    assert coords.values(coords.upper)["beta"][0] == 0.0  # the lower end of [0, 1) is reached exactly


@pytest.mark.slow
def test_step_search_over_lr_and_beta_follows_the_rule() -> None:
    prob, B = _small(2), 8.0
    opt = nn.Momentum(lr=0.05, beta=0.9)
    target = 0.2 * prob.initial_risk
    res = nn.optimal_schedule(prob, opt, batch_size=B, target=target, pieces=2, vary=("lr", "beta"))
    T = int(res.steps)
    assert nn.reaches(_reference(prob, opt, B, res)[-1], target) and res.lengths.sum() == T
    assert not nn.reaches(res.searched[T - 1], target)
    assert all(t >= T for t, r in res.searched.items() if nn.reaches(r, target))
    # never later than a constant setting of the certificate's grid, nor than the Bayes bound allows
    grid = np.append(nn.PAPER_SGD_LRS[nn.PAPER_SGD_LRS <= res.max_lr], res.max_lr)
    constant = min(float(np.min(nn.steps_to_target(prob, nn.Momentum(lr=grid, beta=b), batch_size=B, target=target)))
                   for b in np.append(GRID_01, 0.9))
    assert T <= constant
    assert T >= nn.bayes_bound_steps(prob, batch_size=B, target=target)


def test_lr_only_vary_is_the_paper_schedule() -> None:
    prob, B = _small(3), 4.0
    a = nn.optimize_schedule(prob, "sgd", batch_size=B, steps=100, pieces=3)
    b = nn.optimize_schedule(prob, "sgd", batch_size=B, steps=100, pieces=3, vary="lr")
    assert np.array_equal(a.lrs, b.lrs) and a.final_risk == b.final_risk and b.values == {}


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"vary": ("lr", "gamma")}, "vary must name"),
        ({"vary": ("lr", "lr")}, "vary must name"),
        ({"vary": ()}, "vary must name"),
        ({"vary": ("precond_power",)}, "vary must name"),
        ({"vary": ("lr", "beta"), "schedules": [{"lr": [0.1, 0.1]}]}, "schedules must map"),
        ({"vary": ("lr", "beta"), "schedules": [{"lr": [0.1, 0.1], "beta": [0.5, 1.5]}]}, r"schedules\['beta'\]"),
        ({"vary": ("lr", "beta"), "schedules": [{"lr": [0.1], "beta": [0.5]}]}, "one value per piece"),
    ],
)
def test_bad_vary_input_raises_value_error_naming_the_parameter(kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        nn.optimize_schedule(_small(2), nn.Momentum(lr=0.1, beta=0.5), batch_size=4.0, steps=20, pieces=2, **kwargs)


@pytest.mark.slow
@pytest.mark.parametrize("make, name", [(nn.Momentum, "beta"), (nn.EMA, "gamma")])
def test_paper_problem_joint_schedule_beats_lr_only_and_constants(make, name) -> None:
    prob, B, T = nn.Problem.paper(), 256.0, 5000
    opt = make(lr=0.1, **{name: 0.9})
    lr_only = nn.optimize_schedule(prob, opt, batch_size=B, steps=T, pieces=5)
    joint = nn.optimize_schedule(prob, opt, batch_size=B, steps=T, pieces=5, vary=("lr", name),
                                 schedules=[{"lr": lr_only.lrs, name: np.full(5, 0.9)}])
    assert joint.risk == pytest.approx(_reference(prob, opt, B, joint), rel=REL)
    assert joint.final_risk <= _constant_min(prob, make, name, 0.9, B, T, joint.max_lr) * (1 + REL)
    # the lr-only optimum, passed in, is a certificate of the joint one
    assert joint.final_risk <= lr_only.final_risk * (1 + REL)
