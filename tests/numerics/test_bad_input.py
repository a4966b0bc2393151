"""Bad input: every public nqm.numerics function raises ValueError naming the parameter and its range.

Covers non-positive and NaN learning rates, batch sizes below 1, beta / gamma outside
[0, 1), p outside [0, 1], h <= 0, mismatched array shapes, and the arguments of tuning,
sweeps and the critical-batch-size tools. :func:`test_every_public_entry_point_refuses_bad_values`
walks every public name of ``nqm.numerics`` (a test keeps the walk complete) with numeric strings,
booleans, ``None``, complex and out-of-range values, unknown optimizer names and integer steps that
float64 would round. Divergent settings are not errors: they give ``inf`` risk and steps, never NaN.
"""

import inspect
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nqm.numerics as nn
from nqm.numerics.validation import validate_steps

PROB = nn.Problem([1.0, 0.1], c=[1.0, 0.5])
SGD = nn.SGD(lr=0.1)


def raises(match: str, call) -> None:
    with pytest.raises(ValueError, match=match):
        call()


# ------------------------------------------------------------------ hyperparameters
@pytest.mark.parametrize("lr", [0.0, -0.1, np.nan, np.inf, [0.1, -1.0], "fast"])
@pytest.mark.parametrize("cls", [nn.SGD, nn.Momentum, nn.EMA, nn.Nesterov, nn.QHM])
def test_learning_rate(cls, lr) -> None:
    extra = {"SGD": {}, "Momentum": {"beta": 0.9}, "EMA": {"gamma": 0.9}, "Nesterov": {"beta": 0.9}, "QHM": {"beta": 0.9, "nu": 0.7}}
    raises(r"lr must be .*\(0, inf\)", lambda: cls(lr=lr, **extra[cls.__name__]))


@pytest.mark.parametrize("value", [1.0, -0.01, 1.5, np.nan])
@pytest.mark.parametrize("cls, name", [(nn.Momentum, "beta"), (nn.Nesterov, "beta"), (nn.EMA, "gamma")])
def test_decay_outside_unit_interval(cls, name, value) -> None:
    raises(rf"{name} must be .*\[0, 1\)", lambda: cls(lr=0.1, **{name: value}))


def test_qhm_nu_and_beta() -> None:
    raises(r"nu must be .*\[0, 1\]", lambda: nn.QHM(lr=0.1, beta=0.9, nu=1.5))
    raises(r"beta must be .*\[0, 1\)", lambda: nn.QHM(lr=0.1, beta=1.0, nu=0.5))


@pytest.mark.parametrize("p", [-0.1, 1.01, np.nan])
def test_preconditioner_power(p) -> None:
    raises(r"precond_power must be .*\[0, 1\]", lambda: nn.SGD(lr=0.1, precond_power=p))
    raises(r"precond_power must be .*\[0, 1\]", lambda: nn.Momentum(lr=0.1, beta=0.5, precond_power=p))
    raises(r"precond_power must be .*\[0, 1\]", lambda: PROB.preconditioned(p))
    raises(r"precond_power must be .*\[0, 1\]", lambda: nn.tune(PROB, nn.SGD, batch_size=4, target=0.1, precond_power=p))


def test_generic_optimizer_constructors() -> None:
    raises("missing beta", lambda: nn.Optimizer("momentum", lr=0.1))
    raises("unknown gamma", lambda: nn.optimizer("momentum", lr=0.1, beta=0.5, gamma=0.1))
    raises(r"lr must be .*\(0, inf\)", lambda: nn.optimizer("sgd", lr=-1))
    raises("mismatched shape", lambda: nn.Momentum(lr=[0.1, 0.2], beta=[0.1, 0.2, 0.3]))
    raises(r"lr must be .*\(0, inf\)", lambda: nn.SGD(lr=0.1).replace(lr=0.0))


# ------------------------------------------------------------------ problems
@pytest.mark.parametrize("h", [[1.0, 0.0], [1.0, -2.0], [np.nan], [np.inf], [[1.0, 2.0]], []])
def test_curvatures(h) -> None:
    raises(r"h must", lambda: nn.Problem(h))


@pytest.mark.parametrize("field", ["c", "init_var", "weights"])
def test_problem_fields(field) -> None:
    raises(rf"{field} has 3 entries but h has 2", lambda: nn.Problem([1.0, 2.0], **{field: [1.0, 1.0, 1.0]}))
    raises(rf"{field} must be finite and in \[0, inf\)", lambda: nn.Problem([1.0, 2.0], **{field: [1.0, -1.0]}))
    raises(rf"{field} must be finite", lambda: nn.Problem([1.0, 2.0], **{field: [1.0, np.nan]}))


def test_problem_constructors() -> None:
    raises(r"d must be an integer >= 1", lambda: nn.Problem.paper(d=0))
    raises(r"d must be an integer >= 1", lambda: nn.Problem.paper(d=2.5))
    raises(r"bins must be an integer >= 1", lambda: nn.Problem.paper(bins=0))
    raises(r"d must be an integer >= 1", lambda: nn.Problem.power_law(0))
    raises(r"a must be a finite number", lambda: nn.Problem.power_law(10, a=np.nan))
    raises(r"h_scale must be a finite number in \(0, inf\)", lambda: nn.Problem.power_law(10, h_scale=0.0))
    raises(r"c_scale must be a finite number in \(0, inf\)", lambda: nn.Problem.power_law(10, c_scale=-1.0))
    raises(r"bins must be an integer >= 1", lambda: nn.Problem.power_law(10, bins=0))


def test_information_bound() -> None:
    raises(r"target must be a finite number in \(0, inf\)", lambda: PROB.information_bound(0.0, 4))
    raises(r"batch_size must be a finite number in \[1, inf\)", lambda: PROB.information_bound(0.01, 0.5))
    raises(r"batch_size must be a finite number in \[1, inf\)", lambda: PROB.information_bound(0.01, [4, np.nan]))


# ------------------------------------------------------------------ risk and steps
ENGINE = [
    ("expected_risk", lambda **k: nn.expected_risk(PROB, SGD, steps=[0, 5], **k)),
    ("risk_components", lambda **k: nn.risk_components(PROB, SGD, steps=[0, 5], **k)),
    ("risk_variance", lambda **k: nn.risk_variance(PROB, SGD, steps=[0, 5], **k)),
    ("stationary_risk", lambda **k: nn.stationary_risk(PROB, SGD, **k)),
    ("steps_to_target", lambda **k: nn.steps_to_target(PROB, SGD, target=0.1, **k)),
    ("multiplicative_expected_risk", lambda **k: nn.multiplicative_expected_risk(PROB, SGD, steps=[0, 5], **k)),
    ("expected_gradient_noise_scale", lambda **k: nn.expected_gradient_noise_scale(PROB, SGD, steps=[0, 5], **k)),
    ("tune", lambda **k: nn.tune(PROB, nn.SGD, target=0.1, **k)),
]


@pytest.mark.parametrize("B", [0.0, 0.99, -4, np.nan, np.inf, [4.0, 0.5]])
@pytest.mark.parametrize("name, call", ENGINE, ids=[e[0] for e in ENGINE])
def test_batch_size(name, call, B) -> None:
    raises(r"batch_size must be a finite number in \[1, inf\)", lambda: call(batch_size=B))


def test_batch_size_shape_must_broadcast_against_the_grid() -> None:
    grid = nn.SGD(lr=[0.1, 0.2])
    raises(r"batch_size of shape \(3,\) does not broadcast", lambda: nn.expected_risk(PROB, grid, batch_size=[1, 2, 4], steps=1))
    raises(r"batch_size must be a single number", lambda: nn.tune(PROB, nn.SGD, batch_size=[4, 8], target=0.1))


@pytest.mark.parametrize("steps", [-1, 1.5, np.nan, [0, -3], 2.0**63])
@pytest.mark.parametrize("fn", [nn.expected_risk, nn.risk_components, nn.risk_variance, nn.expected_gradient_noise_scale])
def test_steps(fn, steps) -> None:
    raises(r"steps must be integers in \[0, 2\*\*62\]", lambda: fn(PROB, SGD, batch_size=4, steps=steps))


@pytest.mark.parametrize("target", [0.0, -1.0, np.nan, np.inf, "low", [0.1, 0.2]])
def test_target(target) -> None:
    raises(r"target must be a .*number in \(0, inf\)", lambda: nn.steps_to_target(PROB, SGD, batch_size=4, target=target))
    raises(r"target must be a .*number in \(0, inf\)", lambda: nn.tune(PROB, nn.SGD, batch_size=4, target=target))
    raises(r"target must be a .*number in \(0, inf\)", lambda: nn.sweep(PROB, nn.SGD, batch_sizes=[4], target=target))


@pytest.mark.parametrize("max_lr", [0.0, np.inf, "big", [1.0, 2.0]])
def test_schedule_max_lr(max_lr) -> None:
    raises(r"max_lr must be a .*number in \(0, inf\)",
           lambda: nn.optimize_schedule(PROB, SGD, batch_size=4, steps=100, max_lr=max_lr))


def test_method() -> None:
    raises("method must be 'auto', 'chebyshev' or 'doubling'", lambda: nn.expected_risk(PROB, SGD, batch_size=4, steps=1, method="fast"))


def test_divergent_settings_are_inf_not_errors() -> None:
    bad = nn.SGD(lr=[0.5, 3.0])
    risk = nn.expected_risk(PROB, bad, batch_size=4, steps=[10**6])
    assert math.isfinite(risk[0, 0]) and risk[1, 0] == np.inf
    assert nn.stationary_risk(PROB, bad, batch_size=4)[1] == np.inf
    assert nn.steps_to_target(PROB, bad, batch_size=4, target=0.2)[1] == np.inf


# ------------------------------------------------------------------ tuning and sweeps
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"grid": {"lr": [0.1, -1.0]}}, r"lr must be .*\(0, inf\)"),
        ({"grid": {"lr": [[0.1, 0.2]]}}, r"grid\['lr'\] must be a non-empty 1-D array"),
        ({"grid": {"lr": []}}, r"grid\['lr'\] must be a non-empty 1-D array"),
        ({"grid": {"beta": [0.5, 1.0]}}, r"beta must be .*\[0, 1\)"),
        ({"grid": {"rho": [0.5]}}, r"unknown rho"),
        ({"grid": {"precond_power": [0.5]}}, r"pass precond_power= separately"),
        ({"beta": [0.5, 0.9]}, r"fixed hyperparameter beta must be a scalar"),
        ({"beta": 1.2}, r"beta must be .*\[0, 1\)"),
        ({"grid": {"beta": [0.5]}, "beta": 0.5}, r"both on the grid and fixed"),
    ],
)
def test_tune_arguments(kwargs, match) -> None:
    raises(match, lambda: nn.tune(PROB, nn.Momentum, batch_size=4, target=0.1, **kwargs))
    raises(match, lambda: nn.sweep(PROB, nn.Momentum, batch_sizes=[4, 16], target=0.1, **kwargs))


def test_tune_optimizer_argument() -> None:
    raises(r"optimizer must name a registered spec", lambda: nn.tune(PROB, "adamw", batch_size=4, target=0.1))
    with pytest.raises(ValueError, match=r"optimizer must be an optimizer \(nn.Momentum\(lr=0.1, beta=0.9\)\), an optimizer class"):
        nn.tune(PROB, 3, batch_size=4, target=0.1)
    factory = nn.from_spec(_spec_with_foo())
    raises(r"hyperparameter foo of .* needs a grid", lambda: nn.tune(PROB, factory, batch_size=4, target=0.1))


def _spec_with_foo():
    import sympy as sp

    from nqm.theory import LR, Hyperparameter, OptimizerSpec

    foo = Hyperparameter("foo", sp.Symbol("phi", nonnegative=True), 0.0, 1.0, True, True)

    def update(grad, theta, lr, foo):
        return (theta - lr * (1 - foo / 2) * grad(theta),)

    return OptimizerSpec.from_update("bad_input_foo", update, state=("theta",), hyperparameters=(LR, foo))


def test_sweep_batch_sizes() -> None:
    raises(r"batch_sizes must be a non-empty 1-D array", lambda: nn.sweep(PROB, nn.SGD, batch_sizes=[], target=0.1))
    raises(r"batch_sizes must be a non-empty 1-D array", lambda: nn.sweep(PROB, nn.SGD, batch_sizes=[[4, 8]], target=0.1))
    raises(r"batch_sizes must be distinct", lambda: nn.sweep(PROB, nn.SGD, batch_sizes=[4, 4], target=0.1))
    raises(r"batch_sizes must be a finite number in \[1, inf\)", lambda: nn.sweep(PROB, nn.SGD, batch_sizes=[4, 0.5], target=0.1))
    raises(r"batch_sizes must be a finite number in \[1, inf\)", lambda: nn.optimal_learning_rates(PROB, nn.SGD, batch_sizes=[0.0], target=0.1))


def test_effective_lr_needs_a_valid_optimizer() -> None:
    raises(r"lr must be .*\(0, inf\)", lambda: nn.effective_lr(nn.SGD(lr=0.1).replace(lr=-1.0)))


# ------------------------------------------------------------------ critical batch size, noise scale
def test_critical_batch_size_arguments() -> None:
    raises(r"batch_sizes and steps must be 1-D arrays of the same length", lambda: nn.mccandlish_fit([1, 2, 4], [3, 2]))
    raises(r"batch_sizes must be a finite number in \[1, inf\)", lambda: nn.critical_batch_sizes([0.5, 2], [3, 2]))
    raises(r"steps must be numbers in \[0, inf\]", lambda: nn.perfect_scaling_breakdown([1, 2], [3, -2]))
    raises(r"steps must be numbers in \[0, inf\]", lambda: nn.mccandlish_fit([1, 2], ["a", 2]))
    raises(r"batch_sizes must be distinct", lambda: nn.critical_batch_sizes([2, 2], [3, 2]))
    raises(r"needs at least 2 rows with finite steps", lambda: nn.mccandlish_fit([1, 2], [3, np.inf]))
    raises(r"factor must be a finite number in \(1, inf\)", lambda: nn.perfect_scaling_breakdown([1, 2], [3, 2], factor=np.nan))


def test_gradient_noise_scale_arguments() -> None:
    raises(r"theta must have 2 entries \(one per bin\)", lambda: nn.gradient_noise_scale(PROB, [1.0]))
    raises(r"theta must have 2 entries", lambda: nn.gradient_noise_scale(PROB, 1.0))
    raises(r"theta must be finite", lambda: nn.gradient_noise_scale(PROB, [1.0, np.inf]))
    raises(r"theta must be an array of numbers", lambda: nn.gradient_noise_scale(PROB, ["a", "b"]))


# ------------------------------------------------------------------ other engines' entry points
def test_monte_carlo_and_schedules() -> None:
    raises(r"batch_size must be a finite number in \[1, inf\)", lambda: nn.monte_carlo(PROB, SGD, batch_size=0, steps=3, runs=2))
    raises(r"runs must be an integer >= 2", lambda: nn.monte_carlo(PROB, SGD, batch_size=4, steps=3, runs=0))
    raises(r"batch_size must be a finite number in \[1, inf\)", lambda: nn.scheduled_risk(PROB, "sgd", batch_size=0, lrs=[0.1]))
    raises(r"lrs must be finite learning rates in \(0, inf\)", lambda: nn.scheduled_risk(PROB, "sgd", batch_size=4, lrs=[np.nan]))
    raises(r"lengths must have one entry per piece", lambda: nn.piecewise_risk(PROB, "sgd", batch_size=4, lrs=[0.1, 0.2], lengths=[1]))
    raises(r"pieces must be an integer >= 1", lambda: nn.split_steps(10, 0))


def test_a_callable_schedule_that_raises_or_gives_the_wrong_shape_is_a_value_error() -> None:
    """A user's callable that raises, or returns neither T values nor one number per step, is a ValueError naming
    the schedule's key (before: the callable's own ZeroDivisionError, or a TypeError from float() of an array)."""
    run = lambda fn: nn.scheduled_risk(PROB, SGD, batch_size=4, steps=5, schedule={"lr": fn})  # noqa: E731
    raises(r"schedule\['lr'\]: the callable .* raised ZeroDivisionError", lambda: run(lambda t: 1 / 0))
    raises(r"schedule\['lr'\]: the callable must return 5 values", lambda: run(lambda t: np.ones(3)))
    raises(r"schedule\['lr'\]: the callable must return 5 values", lambda: run(lambda t: "a"))


def test_decay_versus_growth_factor_names_its_range_for_every_bad_value() -> None:
    """factor is in (1, inf): a bool or 0.5 said "(0, inf)" before (two checks, the first with the wrong range)."""
    for bad in (True, 0.5, 1.0, np.nan):
        raises(r"factor must be (a finite number|a number) in \(1, inf\)",
               lambda: nn.decay_versus_growth(PROB, "sgd", batch_size=4, factor=bad))


# ------------------------------------------------------------------ every public entry point, every kind of bad value
#: bad values by kind of parameter; numeric strings and booleans are refused, never converted
BAD = {
    "positive": ["0.1", True, None, 1 + 0j, -1.0, np.nan],
    "unit": ["0.5", True, None, -0.5, 1.5, np.nan],  # precond_power, in [0, 1]
    "batch_size": ["64", True, None, 0.5, np.nan, np.inf],
    "steps": ["10", True, None, -1, 1.5, np.nan, 2**53 + 1, 2**62 + 1, 2**100],
    "count": ["10", True, None, 2.5, 0, -3],
    "optional positive": ["0.1", True, 1 + 0j, -1.0, np.nan],  # None is the default
    "optional count": ["10", True, 2.5, 0, -3],
    "optimizer": ["nope", "SGD", "", 3, None, 0.1],  # unknown names, and no optimizer at all
    "array": ["abc", ["1", "2"], True, None],
    "optional array": ["abc", ["1", "2"], True],  # None is the default
    "executor": ["thread", True, -1, 10**6, 1.5, object()],  # None is the default
}
MOM = nn.Momentum(lr=0.1, beta=0.5)
SMALL = {"batch_sizes": [4, 16], "target": 0.2, "grid": {"lr": [0.1, 0.5]}, "executor": "serial", "cache": False}
#: what sizing a sweep takes (nn.sweep_jobs: the plan, no executor or cache)
PLAN = {k: v for k, v in SMALL.items() if k not in ("executor", "cache")}

#: (public name, parameter, kind, call with the bad value)
WALK = [
    ("schedules.segments", "steps", "steps", lambda v: nn.schedules.segments({"lr": 0.1}, v)),
    ("schedules.per_step", "values", "array", lambda v: nn.schedules.per_step(v)),
    ("schedules.piecewise", "values", "array", lambda v: nn.schedules.piecewise(v, [])),
    ("resolve_executor", "executor", "executor", lambda v: nn.resolve_executor(v)),
    ("Problem", "h", "array", lambda v: nn.Problem(v)),
    ("Problem", "c", "optional array", lambda v: nn.Problem([1.0], c=v)),
    ("Problem", "init_var", "array", lambda v: nn.Problem([1.0], init_var=v)),
    ("Problem", "weights", "array", lambda v: nn.Problem([1.0], weights=v)),
    ("Problem.paper", "d", "count", lambda v: nn.Problem.paper(d=v)),
    ("Problem.paper", "bins", "count", lambda v: nn.Problem.paper(bins=v)),
    ("Problem.power_law", "d", "count", lambda v: nn.Problem.power_law(v)),
    ("Problem.power_law", "bins", "optional count", lambda v: nn.Problem.power_law(10, bins=v)),
    ("Problem.power_law", "h_scale", "positive", lambda v: nn.Problem.power_law(10, h_scale=v)),
    ("Problem.information_bound", "target", "positive", lambda v: PROB.information_bound(v, 4)),
    ("Problem.information_bound", "batch_size", "batch_size", lambda v: PROB.information_bound(0.1, v)),
    ("Problem.bayes_bound_steps", "batch_size", "batch_size", lambda v: PROB.bayes_bound_steps(0.1, v)),
    ("Problem.preconditioned", "precond_power", "unit", lambda v: PROB.preconditioned(v)),
    ("Problem.expected_risk_equivalent", "precond_power", "unit", lambda v: PROB.expected_risk_equivalent(v, noise_linear=True)),
    ("SGD", "lr", "positive", lambda v: nn.SGD(lr=v)),
    ("SGD", "precond_power", "unit", lambda v: nn.SGD(lr=0.1, precond_power=v)),
    ("Momentum", "beta", "unit", lambda v: nn.Momentum(lr=0.1, beta=v)),
    ("EMA", "gamma", "unit", lambda v: nn.EMA(lr=0.1, gamma=v)),
    ("Nesterov", "lr", "positive", lambda v: nn.Nesterov(lr=v, beta=0.5)),
    ("QHM", "nu", "unit", lambda v: nn.QHM(lr=0.1, beta=0.5, nu=v if v != 1.5 else 2.0)),
    ("optimizer", "lr", "positive", lambda v: nn.optimizer("sgd", lr=v)),
    ("expected_risk", "batch_size", "batch_size", lambda v: nn.expected_risk(PROB, SGD, batch_size=v, steps=3)),
    ("expected_risk", "steps", "steps", lambda v: nn.expected_risk(PROB, SGD, batch_size=4, steps=v)),
    ("risk_components", "steps", "steps", lambda v: nn.risk_components(PROB, MOM, batch_size=4, steps=v)),
    ("risk_variance", "steps", "steps", lambda v: nn.risk_variance(PROB, SGD, batch_size=4, steps=v)),
    ("stationary_risk", "batch_size", "batch_size", lambda v: nn.stationary_risk(PROB, SGD, batch_size=v)),
    ("steps_to_target", "target", "positive", lambda v: nn.steps_to_target(PROB, SGD, batch_size=4, target=v)),
    ("steps_to_target", "batch_size", "batch_size", lambda v: nn.steps_to_target(PROB, SGD, batch_size=v, target=0.1)),
    ("multiplicative_expected_risk", "steps", "steps", lambda v: nn.multiplicative_expected_risk(PROB, SGD, batch_size=4, steps=v)),
    ("expected_gradient_noise_scale", "steps", "steps",
     lambda v: nn.expected_gradient_noise_scale(PROB, SGD, batch_size=4, steps=v)),
    ("gradient_noise_scale", "theta", "array", lambda v: nn.gradient_noise_scale(PROB, v)),
    ("tune", "target", "positive", lambda v: nn.tune(PROB, "sgd", batch_size=4, target=v)),
    ("tune", "batch_size", "batch_size", lambda v: nn.tune(PROB, "sgd", batch_size=v, target=0.1)),
    ("tune", "precond_power", "unit", lambda v: nn.tune(PROB, "sgd", batch_size=4, target=0.1, precond_power=v)),
    ("tune", "lr", "positive", lambda v: nn.tune(PROB, "sgd", batch_size=4, target=0.1, grid={"lr": [0.1, v]})),
    ("sweep", "target", "positive", lambda v: nn.sweep(PROB, "sgd", **{**SMALL, "target": v})),
    ("sweep", "batch_sizes", "batch_size", lambda v: nn.sweep(PROB, "sgd", **{**SMALL, "batch_sizes": [4, v]})),
    ("sweep", "beta", "unit", lambda v: nn.sweep(PROB, "momentum", **SMALL, beta=v)),
    ("sweeps", "precond_power", "unit", lambda v: nn.sweeps(PROB, [{"optimizer": "sgd", "precond_power": v}], **SMALL)),
    ("sweep_jobs", "precond_power", "unit", lambda v: nn.sweep_jobs(PROB, [{"optimizer": "sgd", "precond_power": v}], **PLAN)),
    ("map_tasks", "executor", "executor", lambda v: nn.map_tasks(abs, [1.0], executor=v)),
    ("optimal_learning_rates", "target", "positive", lambda v: nn.optimal_learning_rates(PROB, "sgd", **{**SMALL, "target": v})),
    ("effective_lr", "lr", "positive", lambda v: nn.effective_lr(nn.SGD(lr=0.1).replace(lr=v))),
    ("critical_batch_sizes", "batch_sizes", "batch_size", lambda v: nn.critical_batch_sizes([4, v], [30, 20])),
    ("critical_batch_sizes", "steps", "array", lambda v: nn.critical_batch_sizes([4, 16], v)),
    ("mccandlish_fit", "steps", "array", lambda v: nn.mccandlish_fit([4, 16], v)),
    ("steps_examples", "tolerance", "positive", lambda v: nn.steps_examples(PROB, "sgd", **PLAN, tolerance=v)),
    ("pareto_front", "steps", "array", lambda v: nn.pareto_front(v, [4, 16])),
    ("decay_versus_growth", "factor", "positive", lambda v: nn.decay_versus_growth(PROB, "sgd", batch_size=4, factor=v)),
    ("decay_versus_growth", "batch_size", "batch_size", lambda v: nn.decay_versus_growth(PROB, "sgd", batch_size=v)),
    ("preset_gaps", "batch_sizes", "batch_size", lambda v: nn.preset_gaps(PROB, "sgd", batch_sizes=[4, v])),
    ("preset_gaps", "pieces", "count", lambda v: nn.preset_gaps(PROB, "sgd", batch_sizes=[4], pieces=v)),
    ("BatchRamp", "doublings", "count", lambda v: nn.BatchRamp(doublings=v)),
    ("BatchRamp", "fraction", "unit", lambda v: nn.BatchRamp(fraction=v)),
    ("mccandlish_residuals", "examples", "array",
     lambda v: nn.mccandlish_residuals([4, 16], v, nn.McCandlishFit(1.0, 1.0, 1.0, 0.0))),
    ("perfect_scaling_breakdown", "steps", "array", lambda v: nn.perfect_scaling_breakdown([4, 16], v)),
    ("monte_carlo", "batch_size", "batch_size", lambda v: nn.monte_carlo(PROB, SGD, batch_size=v, steps=3, runs=2)),
    ("monte_carlo", "steps", "steps", lambda v: nn.monte_carlo(PROB, SGD, batch_size=4, steps=v, runs=2)),
    ("monte_carlo", "runs", "count", lambda v: nn.monte_carlo(PROB, SGD, batch_size=4, steps=3, runs=v)),
    ("monte_carlo", "targets", "array", lambda v: nn.monte_carlo(PROB, SGD, batch_size=4, steps=3, runs=2, targets=v)),
    ("scheduled_risk", "lrs", "optional array", lambda v: nn.scheduled_risk(PROB, "sgd", batch_size=4, lrs=v)),
    ("scheduled_risk", "batch_size", "batch_size", lambda v: nn.scheduled_risk(PROB, SGD, batch_size=v, steps=3)),
    ("scheduled_risk", "schedule['beta']", "unit", lambda v: nn.scheduled_risk(PROB, MOM, batch_size=4, steps=3, schedule={"beta": v})),
    ("scheduled_risk", "schedule['batch_size']", "batch_size",
     lambda v: nn.scheduled_risk(PROB, SGD, steps=3, schedule={"batch_size": [4, v, 4]})),
    ("scheduled_steps_to_target", "target", "positive",
     lambda v: nn.scheduled_steps_to_target(PROB, SGD, batch_size=4, target=v, horizon=10)),
    ("scheduled_steps_to_target", "horizon", "steps",
     lambda v: nn.scheduled_steps_to_target(PROB, SGD, batch_size=4, target=0.1, horizon=v)),
    ("piecewise_risk", "lengths", "steps", lambda v: nn.piecewise_risk(PROB, "sgd", batch_size=4, lrs=[0.1], lengths=[v])),
    ("piecewise_risk_gradient", "batch_size", "batch_size",
     lambda v: nn.piecewise_risk_gradient(PROB, "sgd", batch_size=v, lrs=[0.1], lengths=[3])),
    ("split_steps", "pieces", "count", lambda v: nn.split_steps(10, v)),
    ("split_steps", "steps", "steps", lambda v: nn.split_steps(v, 2)),
    ("optimize_schedule", "pieces", "count", lambda v: nn.optimize_schedule(PROB, "sgd", batch_size=4, steps=10, pieces=v)),
    ("optimize_schedule", "max_lr", "optional positive", lambda v: nn.optimize_schedule(PROB, "sgd", batch_size=4, steps=10, max_lr=v)),
    ("optimal_schedule", "target", "positive", lambda v: nn.optimal_schedule(PROB, "sgd", batch_size=4, target=v)),
    ("schedule_sweep", "batch_sizes", "batch_size", lambda v: nn.schedule_sweep(PROB, batch_sizes=[4, v], executor="serial")),
    ("schedule_sweep", "target", "positive", lambda v: nn.schedule_sweep(PROB, target=v, executor="serial")),
    ("schedule_sweep", "pieces", "count", lambda v: nn.schedule_sweep(PROB, pieces=v, executor="serial")),
    ("schedule_sweep", "constant_lrs", "positive", lambda v: nn.schedule_sweep(PROB, constant_lrs=[0.1, v], executor="serial")),
    ("tune_preset", "steps", "count", lambda v: nn.tune_preset(PROB, "sgd", "step", batch_size=4, steps=v)),
    ("tune_preset", "target", "positive", lambda v: nn.tune_preset(PROB, "sgd", "step", batch_size=4, target=v)),
    ("tune_preset", "batch_size", "batch_size", lambda v: nn.tune_preset(PROB, "sgd", "step", batch_size=v, steps=9)),
    ("PresetFamily", "grids", "array", lambda v: nn.PresetFamily("f", nn.schedules.constant, {"a": v}, {"a": 0.0})),
    ("bayes_bound_steps", "target", "positive", lambda v: nn.bayes_bound_steps(PROB, batch_size=4, target=v)),
    ("build_model", "batch_size", "batch_size", lambda v: nn.build_model(PROB, SGD, v)),
]

#: every entry point taking an optimizer, under its own parameter's name (``opt`` or ``optimizer``; ``spec`` and
#: ``name`` for the constructors; sweeps and sweep_jobs take it as each configuration's "optimizer" key)
OPTIMIZER_WALK = [
    ("Optimizer", "spec", "optimizer", lambda v: nn.Optimizer(v, lr=0.1)),
    ("optimizer", "name", "optimizer", lambda v: nn.optimizer(v, lr=0.1)),
    ("as_optimizer", "optimizer", "optimizer", lambda v: nn.as_optimizer(v, {"lr": 0.1})),
    ("as_optimizer_spec", "optimizer", "optimizer", lambda v: nn.as_optimizer_spec(v)),
    ("build_model", "opt", "optimizer", lambda v: nn.build_model(PROB, v, 4)),
    ("expected_risk", "opt", "optimizer", lambda v: nn.expected_risk(PROB, v, batch_size=4, steps=3, lr=0.1)),
    ("risk_components", "opt", "optimizer", lambda v: nn.risk_components(PROB, v, batch_size=4, steps=3, lr=0.1)),
    ("risk_variance", "opt", "optimizer", lambda v: nn.risk_variance(PROB, v, batch_size=4, steps=3, lr=0.1)),
    ("stationary_risk", "opt", "optimizer", lambda v: nn.stationary_risk(PROB, v, batch_size=4, lr=0.1)),
    ("steps_to_target", "opt", "optimizer", lambda v: nn.steps_to_target(PROB, v, batch_size=4, target=0.1, lr=0.1)),
    ("multiplicative_expected_risk", "opt", "optimizer",
     lambda v: nn.multiplicative_expected_risk(PROB, v, batch_size=4, steps=3, lr=0.1)),
    ("expected_gradient_noise_scale", "opt", "optimizer",
     lambda v: nn.expected_gradient_noise_scale(PROB, v, batch_size=4, steps=3, lr=0.1)),
    ("monte_carlo", "opt", "optimizer", lambda v: nn.monte_carlo(PROB, v, batch_size=4, steps=3, runs=2, lr=0.1)),
    ("effective_lr", "opt", "optimizer", lambda v: nn.effective_lr(v, lr=0.1)),
    ("default_max_lr", "opt", "optimizer", lambda v: nn.default_max_lr(PROB, v)),
    ("authors_max_lr", "opt", "optimizer", lambda v: nn.authors_max_lr(PROB, v)),
    ("optimize_schedule", "opt", "optimizer", lambda v: nn.optimize_schedule(PROB, v, batch_size=4, steps=10)),
    ("optimal_schedule", "opt", "optimizer", lambda v: nn.optimal_schedule(PROB, v, batch_size=4, target=0.1)),
    ("piecewise_risk", "opt", "optimizer", lambda v: nn.piecewise_risk(PROB, v, batch_size=4, lrs=[0.1], lengths=[3])),
    ("piecewise_risk_gradient", "opt", "optimizer",
     lambda v: nn.piecewise_risk_gradient(PROB, v, batch_size=4, lrs=[0.1], lengths=[3])),
    ("schedule_sweep", "opt", "optimizer", lambda v: nn.schedule_sweep(PROB, v, batch_sizes=[4], executor="serial")),
    ("tune_preset", "opt", "optimizer", lambda v: nn.tune_preset(PROB, v, "step", batch_size=4, steps=9)),
    ("tune", "optimizer", "optimizer", lambda v: nn.tune(PROB, v, batch_size=4, target=0.1)),
    ("sweep", "optimizer", "optimizer", lambda v: nn.sweep(PROB, v, **SMALL)),
    ("sweeps", "optimizer", "optimizer", lambda v: nn.sweeps(PROB, [{"optimizer": v}], **SMALL)),
    ("sweep_jobs", "optimizer", "optimizer", lambda v: nn.sweep_jobs(PROB, [{"optimizer": v}], **PLAN)),
    ("optimal_learning_rates", "optimizer", "optimizer", lambda v: nn.optimal_learning_rates(PROB, v, **SMALL)),
    ("default_grid", "optimizer", "optimizer", lambda v: nn.default_grid(v)),
    ("decay_versus_growth", "optimizer", "optimizer", lambda v: nn.decay_versus_growth(PROB, v, batch_size=4)),
    ("preset_gaps", "optimizer", "optimizer", lambda v: nn.preset_gaps(PROB, v, batch_sizes=[4])),
    ("steps_examples", "optimizer", "optimizer", lambda v: nn.steps_examples(PROB, v, **PLAN)),
    ("scheduled_risk", "optimizer", "optimizer", lambda v: nn.scheduled_risk(PROB, v, batch_size=4, lrs=[0.1])),
    ("scheduled_risk", "optimizer", "optimizer", lambda v: nn.scheduled_risk(PROB, v, batch_size=4, steps=3, schedule={"lr": 0.1})),
    ("scheduled_steps_to_target", "optimizer", "optimizer",
     lambda v: nn.scheduled_steps_to_target(PROB, v, batch_size=4, target=0.1, horizon=10)),
]
WALK += OPTIMIZER_WALK

#: public names that take no numeric input of their own: result containers (built by the engine),
#: ``ResultCache`` (a directory), ``local_pool`` (a worker count handed to concurrent.futures),
#: ``from_spec`` (a spec object: :func:`test_from_spec_needs_a_spec`), and the constants
NOT_WALKED = {
    "CriticalBatchSizes", "GradientNoiseScale", "LearningRateTable", "McCandlishFit", "MonteCarloResult",
    "ScheduleResult", "ScheduleSweep", "ScheduledSteps", "PresetResult", "PRESET_FAMILIES", "StepsExamples",
    "DecayVersusGrowth", "PresetGaps", "Sweep", "SweepList", "SweepRow", "TuneResult", "ResultCache", "local_pool", "from_spec",
    "OptimizerRef",
    "MAX_STEPS", "MAX_MULTIPLICATIVE_STEPS",
    # constants, a warning category, the pool class behind local_pool, the cache's type registry,
    # and the tie rule's elementwise comparison (a hot-path helper on arrays the engine produced)
    "TIE_RTOL", "PAPER_SGD_LRS", "CacheWarning", "LocalPool", "register_result_type", "reaches",
    "clear_tune_cache",  # takes no argument
    "LocalThreads", "MAX_WORKERS",
    # the paper's batch sizes, the model build_model returns, and the public submodules (checks, I/O)
    "PAPER_BATCH_SIZES", "RiskModel", "io", "validation",
    # the fan-out's types (an executor argument, a progress wrapper, a sweep's job size), the cache's
    # key of any configuration, and open_executor, which takes resolve_executor's checked result
    "ExecutorArg", "Progress", "SweepJob", "config_key", "open_executor",
}


def test_the_walk_covers_every_public_name() -> None:
    walked = {name.split(".")[0] for name, *_ in WALK}
    assert set(nn.__all__) == walked | NOT_WALKED
    assert not walked & NOT_WALKED


def test_the_optimizer_walk_covers_every_entry_point_taking_an_optimizer() -> None:
    """Each public callable with an ``opt`` or ``optimizer`` parameter is walked under that parameter's name."""
    walked = {(name, param) for name, param, kind, _ in WALK if kind == "optimizer"}
    for name in sorted(set(nn.__all__) - NOT_WALKED):
        obj = getattr(nn, name)
        params = inspect.signature(obj).parameters if callable(obj) and not isinstance(obj, type(nn)) else {}
        for param in ("opt", "optimizer"):
            if param in params:
                assert (name, param) in walked, (name, param)


@pytest.mark.parametrize(
    "name, param, kind, call",
    WALK,
    ids=[f"{w[0]}-{w[1]}" for w in WALK],
)
def test_every_public_entry_point_refuses_bad_values(name, param, kind, call) -> None:
    for value in BAD[kind]:
        with pytest.raises(ValueError) as info:
            call(value)
        message = str(info.value)
        assert param in message, (value, message)
        assert "\n" not in message
        if kind == "optimizer":  # the entry point's own parameter, first (not "optimizer" where it is opt=)
            assert message.startswith(f"{param} must "), (value, message)
            if isinstance(value, str) and name != "build_model":  # which takes instances only
                assert "sgd, momentum, ema, nesterov, qhm" in message  # the known names are listed


def test_numeric_strings_are_refused_not_converted() -> None:
    """The values that used to be converted silently (float("0.1")) now name the parameter and its range."""
    raises(r"lr must be a number in \(0, inf\); got '0\.1'", lambda: nn.SGD(lr="0.1"))
    raises(r"batch_size must be a number in \[1, inf\); got '64'", lambda: nn.expected_risk(PROB, SGD, batch_size="64", steps=1))
    raises(r"steps must be integers in \[0, 2\*\*62\]; got '10'", lambda: nn.expected_risk(PROB, SGD, batch_size=4, steps="10"))
    raises(r"h must be a number or a 1-D array of numbers in \(0, inf\); got 'abc'", lambda: nn.Problem("abc"))
    raises(r"weights must be .*\[0, inf\); got 'a'", lambda: nn.Problem([1.0], weights="a"))
    raises(r"bins must be an integer >= 1; got 2\.5", lambda: nn.Problem.paper(bins=2.5))


def test_steps_beyond_float_precision_are_refused_not_rounded() -> None:
    """2**53 + 1 becomes 2**53 in float64; the engine must not answer for another step."""
    raises(r"steps must be integers in \[0, 2\*\*62\] that float64 holds exactly.*got 9007199254740993, "
           r"which would be evaluated at step 9007199254740992",
           lambda: nn.expected_risk(PROB, SGD, batch_size=4, steps=[10, 2**53 + 1]))
    raises(r"steps must be .*float64 holds exactly", lambda: nn.expected_risk(PROB, SGD, batch_size=4, steps=np.int64(2**60 + 1)))
    # exactly representable integers beyond 2**53 (and every integer up to it) are evaluated, at that step
    assert np.all(np.isfinite(nn.expected_risk(PROB, SGD, batch_size=4, steps=[2**53, 2**53 + 2, 2**62])))


def test_unknown_optimizer_lists_the_registered_names() -> None:
    with pytest.raises(ValueError, match=r"name must name a registered spec \(sgd, momentum, ema, nesterov, qhm(, [^)]*)?\); got 'nope'"):
        nn.optimizer("nope")
    with pytest.raises(KeyError) as info:  # still a KeyError for code written against the registry lookup
        nn.Optimizer("nope", lr=0.1)
    assert str(info.value).startswith("spec must name")  # the message, not KeyError's quoted repr


def test_from_spec_needs_a_spec() -> None:
    with pytest.raises(TypeError, match="spec must be an nqm.theory.OptimizerSpec; got str"):
        nn.from_spec("sgd")


def test_monte_carlo_work_is_bounded_before_it_starts() -> None:
    from nqm.numerics.validation import MAX_MONTE_CARLO_WORK

    runs = MAX_MONTE_CARLO_WORK // (PROB.dimension * 4) + 1  # just past the limit (2 coordinates x 4 recorded steps)
    raises(r"runs x coordinates x \(steps \+ 1\) must be at most 1e\+12", lambda: nn.monte_carlo(PROB, SGD, batch_size=4, steps=3, runs=int(runs)))
    raises(r"must be at most 1e\+12", lambda: nn.monte_carlo(PROB, SGD, batch_size=4, steps=3, runs=10**20))


# ------------------------------------------------------------------ the whole integer range of steps
@given(st.integers(min_value=-(2**64), max_value=2**64) | st.integers(min_value=2**52, max_value=2**63))
def test_steps_are_evaluated_at_the_step_asked_for_or_refused(n: int) -> None:
    """Over all integers (Python ints and int64 arrays): the engine's step is exactly n, or ValueError."""
    for value in (n, [n], np.array([n], dtype=np.int64) if -(2**63) <= n < 2**63 else [n, 1]):
        try:
            t = validate_steps(value)
        except ValueError as exc:
            assert "steps must be integers in [0, 2**62]" in str(exc)
            assert not (0 <= n <= 2**53) or n > nn.MAX_STEPS
        else:
            assert 0 <= n <= nn.MAX_STEPS and int(t.ravel()[0]) == n


@given(st.text(max_size=20) | st.booleans() | st.complex_numbers(allow_nan=False) | st.none())
def test_anything_but_a_real_number_is_refused(value: object) -> None:
    with pytest.raises(ValueError, match="lr must be a number in"):
        nn.SGD(lr=value)


@pytest.mark.parametrize("lrs", [None, [0.1, 0.1]])
def test_scheduled_risk_checks_method_on_every_path(lrs) -> None:
    """A per-step run never reaches the segment maps, where ``method`` used to be checked: it ran with any value."""
    kw = {"lrs": lrs} if lrs is not None else {"schedule": {"lr": 0.1}}
    raises(r"method must be 'auto', 'chebyshev' or 'doubling'; got 'foo'",
           lambda: nn.scheduled_risk(PROB, "sgd", steps=2, batch_size=1, method="foo", **kw))
