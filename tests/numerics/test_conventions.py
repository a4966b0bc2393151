"""One convention for the common arguments (issue 11, part 3).

Every public numeric entry point takes the optimizer as an instance, a class, a registered name,
an ``nqm.theory.OptimizerSpec`` or ``nn.from_spec`` of one; all forms give the same result.
The user spec here is heavy-ball momentum (and SGD) written again as update code: its forms are
compiled from the spec, the built-ins' come from the generated module, so agreement is to the
engine's exactness (1e-10 relative, README), not bitwise.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp

import nqm.numerics as nn
from nqm.theory import BETA, LR, Hyperparameter, OptimizerSpec, register, unregister

PROB = nn.Problem.paper(d=200, bins=4)
HYPER = {"lr": 0.3, "beta": 0.6}
SGD_HYPER = {"lr": 0.4}
B = 8.0
TARGET = 0.5 * PROB.initial_risk
#: the engine is exact to ~1e-11 relative on both paths (README, tests/numerics/test_exactness.py)
RTOL = 1e-10


def _momentum(grad, theta, m, lr, beta):
    m = beta * m + grad(theta)
    return theta - lr * m, m


def _sgd(grad, theta, lr):
    return (theta - lr * grad(theta),)


USER_MOMENTUM = OptimizerSpec.from_update("conv_user_momentum", _momentum, state=("theta", "m"), hyperparameters=(LR, BETA))
USER_SGD = OptimizerSpec.from_update("conv_user_sgd", _sgd, state=("theta",), hyperparameters=(LR,))


@pytest.fixture(scope="module", autouse=True)
def _user_specs():
    """The user specs registered, so that their names are optimizer arguments too (the "user name" form)."""
    for spec in (USER_MOMENTUM, USER_SGD):
        register(spec)
    yield
    for spec in (USER_MOMENTUM, USER_SGD):
        unregister(spec.name)


def _forms(builtin_cls, name, user_spec, hyper):
    """(label, optimizer argument, keyword hyperparameters) of every accepted form."""
    return [
        ("class", lambda: builtin_cls, hyper),
        ("instance", lambda: builtin_cls(**hyper), {}),
        ("name", lambda: name, hyper),
        ("user spec", lambda: user_spec, hyper),
        ("user name", lambda: user_spec.name, hyper),
        ("user factory", lambda: nn.from_spec(user_spec), hyper),
        ("user instance", lambda: nn.from_spec(user_spec)(**hyper), {}),
    ]


MOMENTUM_FORMS = _forms(nn.Momentum, "momentum", USER_MOMENTUM, HYPER)
SGD_FORMS = _forms(nn.SGD, "sgd", USER_SGD, SGD_HYPER)

#: every public entry point that takes an optimizer, as f(optimizer, hyperparameters) -> value
ENTRY_POINTS = {
    "expected_risk": lambda o, k: nn.expected_risk(PROB, o, batch_size=B, steps=[0, 7, 50], **k),
    "risk_components": lambda o, k: np.stack(nn.risk_components(PROB, o, batch_size=B, steps=[3, 40], **k)),
    "risk_variance": lambda o, k: nn.risk_variance(PROB, o, batch_size=B, steps=[5, 30], **k),
    "stationary_risk": lambda o, k: nn.stationary_risk(PROB, o, batch_size=B, **k),
    "steps_to_target": lambda o, k: nn.steps_to_target(PROB, o, batch_size=B, target=TARGET, **k),
    "multiplicative_expected_risk": lambda o, k: nn.multiplicative_expected_risk(PROB, o, batch_size=B, steps=[0, 9], **k),
    "expected_gradient_noise_scale": lambda o, k: nn.expected_gradient_noise_scale(PROB, o, batch_size=B, steps=[4], **k).B_noise,
    "effective_lr": lambda o, k: nn.effective_lr(o, **k),
    "monte_carlo": lambda o, k: nn.monte_carlo(PROB, o, batch_size=B, steps=[0, 10], runs=20, seed=3, executor="serial", **k).mean,
    "tune": lambda o, k: nn.tune(PROB, o, batch_size=B, target=TARGET, **k).steps,
    "sweep": lambda o, k: nn.sweep(PROB, o, batch_sizes=[4, 16], target=TARGET, executor="serial", **k).steps,
    "sweeps": lambda o, k: nn.sweeps(PROB, [o], batch_sizes=[4, 16], target=TARGET, executor="serial", **k)[0].steps,
}

#: schedules take a spec whose only hyperparameter is lr (an instance's lr is replaced)
SCHEDULE_ENTRY_POINTS = {
    "scheduled_risk": lambda o: nn.scheduled_risk(PROB, o, batch_size=B, lrs=[0.5, 0.3, 0.1], steps=[1, 3]),
    "piecewise_risk": lambda o: nn.piecewise_risk(PROB, o, batch_size=B, lrs=[0.5, 0.1], lengths=[5, 7]),
    "piecewise_risk_gradient": lambda o: np.concatenate(
        [np.atleast_1d(v) for v in nn.piecewise_risk_gradient(PROB, o, batch_size=B, lrs=[0.5, 0.1], lengths=[5, 7])]),
    "default_max_lr": lambda o: nn.default_max_lr(PROB, o),
    "optimal_schedule": lambda o: nn.optimal_schedule(PROB, o, batch_size=B, target=TARGET, pieces=2).steps,
    "schedule_sweep": lambda o: nn.schedule_sweep(PROB, o, batch_sizes=[B], target=TARGET, pieces=2,
                                                  constant_lrs=[0.1, 0.5], executor="serial").steps,
}


def _agree(got, want, what: str) -> None:
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    assert got.shape == want.shape, what
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=0.0, err_msg=what)


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_every_entry_point_takes_every_optimizer_form(entry: str) -> None:
    call = ENTRY_POINTS[entry]
    want = call(nn.Momentum(**HYPER), {})
    for label, make, hyper in MOMENTUM_FORMS:
        _agree(call(make(), hyper), want, f"{entry} with the optimizer as {label}")


#: the optimising schedule entry points take about 0.4 s a call: one form of each kind
_SLOW = {"optimal_schedule", "schedule_sweep"}


@pytest.mark.parametrize("entry", sorted(SCHEDULE_ENTRY_POINTS))
def test_every_schedule_entry_point_takes_every_optimizer_form(entry: str) -> None:
    call = SCHEDULE_ENTRY_POINTS[entry]
    want = call(nn.SGD(**SGD_HYPER))
    for label, make, _ in SGD_FORMS:
        if entry in _SLOW and label in ("user name", "user instance"):
            continue
        _agree(call(make()), want, f"{entry} with the optimizer as {label}")


def test_a_schedule_of_a_spec_with_more_hyperparameters_names_what_is_missing() -> None:
    with pytest.raises(ValueError, match="missing beta"):
        nn.scheduled_risk(PROB, nn.Momentum, batch_size=B, lrs=[0.1, 0.1])


def test_an_instance_in_tune_fixes_its_values_and_a_1d_array_is_a_grid_axis() -> None:
    lrs = np.array([0.05, 0.2, 0.6])
    grid = nn.tune(PROB, nn.Momentum(lr=lrs, beta=0.6), batch_size=B, target=TARGET)
    same = nn.tune(PROB, nn.Momentum, batch_size=B, target=TARGET, grid={"lr": lrs}, beta=0.6)
    assert (grid.steps, grid.hyperparameters) == (same.steps, same.hyperparameters)
    each = [nn.steps_to_target(PROB, nn.Momentum(lr=a, beta=0.6), batch_size=B, target=TARGET) for a in lrs]
    assert grid.steps == min(each)
    # keywords win over the instance's values, and its precond_power is kept
    tuned = nn.tune(PROB, nn.Momentum(lr=0.3, beta=0.6, precond_power=0.5), batch_size=B, target=TARGET, beta=0.2)
    assert tuned.hyperparameters == {"lr": 0.3, "beta": 0.2} and tuned.precond_power == 0.5


def test_sweeps_take_optimizers_directly() -> None:
    kw = dict(batch_sizes=[4, 16], target=TARGET, executor="serial")
    both = nn.sweeps(PROB, [nn.SGD, "momentum"], **kw)
    assert [s.optimizer for s in both] == ["sgd", "momentum"]
    for got, opt in zip(both, (nn.SGD, nn.Momentum)):
        np.testing.assert_array_equal(got.steps, nn.sweep(PROB, opt, **kw).steps)


def test_an_unaccepted_optimizer_argument_names_the_accepted_forms() -> None:
    for bad in (3, None, nn.Optimizer, object()):
        with pytest.raises(ValueError, match=r"^opt must be an optimizer .* or a registered name; got"):
            nn.expected_risk(PROB, bad, batch_size=B, steps=[1], lr=0.1)
        with pytest.raises(TypeError):  # also a TypeError, as before
            nn.tune(PROB, bad, batch_size=B, target=TARGET)
    with pytest.raises(ValueError, match="missing beta"):
        nn.expected_risk(PROB, nn.Momentum, batch_size=B, steps=[1], lr=0.1)
    with pytest.raises(ValueError, match="unknown gamma"):
        nn.steps_to_target(PROB, "momentum", batch_size=B, target=TARGET, lr=0.1, beta=0.5, gamma=0.1)


# ---------------------------------------------------------------------- defaults belong to a spec
def _nu_update(grad, theta, lr, nu):
    return (theta - lr * (1 - nu) * grad(theta),)


def test_a_user_hyperparameter_named_nu_is_never_fixed_at_qhms_default() -> None:
    nu = Hyperparameter("nu", sp.Symbol("nu"), 0.0, 1.0, True, False, "a user's own nu")
    spec = OptimizerSpec.from_update("conv_damped_sgd", _nu_update, state=("theta",), hyperparameters=(LR, nu))
    with pytest.raises(ValueError, match=r"hyperparameter nu of conv_damped_sgd needs a grid"):
        nn.tune(PROB, spec, batch_size=B, target=TARGET)
    with pytest.raises(ValueError, match=r"hyperparameter nu of conv_damped_sgd needs a grid"):
        nn.sweep(PROB, spec, batch_sizes=[4, 16], target=TARGET, executor="serial")
    given = nn.tune(PROB, spec, batch_size=B, target=TARGET, nu=0.25)
    assert given.hyperparameters["nu"] == 0.25


def test_qhm_keeps_its_default_nu_from_its_spec() -> None:
    from nqm.theory import get_spec

    assert get_spec("qhm").hyperparameter("nu").default == 0.7
    assert nn.tune(PROB, nn.QHM, batch_size=B, target=TARGET).hyperparameters["nu"] == 0.7


def test_a_default_outside_the_range_is_refused() -> None:
    from nqm.theory import SpecError

    with pytest.raises(SpecError, match=r"the default of k must be a number in \[0, 1\); got 1.5"):
        Hyperparameter("k", sp.Symbol("k"), 0.0, 1.0, True, False, "", default=1.5)


# ---------------------------------------------------------------------- steps: one meaning
def test_steps_a_horizon_or_evaluation_times_mean_the_same_everywhere() -> None:
    opt, T = nn.Momentum(**HYPER), 12
    times = np.arange(T + 1)
    for f in (nn.expected_risk, nn.risk_variance, nn.multiplicative_expected_risk):
        np.testing.assert_array_equal(f(PROB, opt, batch_size=B, steps=T), f(PROB, opt, batch_size=B, steps=times))
        assert f(PROB, opt, batch_size=B, steps=[T]).shape == (1,)
    np.testing.assert_array_equal(
        nn.scheduled_risk(PROB, nn.SGD(lr=0.3), batch_size=B, lrs=np.full(T, 0.3), steps=T),
        nn.scheduled_risk(PROB, nn.SGD(lr=0.3), batch_size=B, lrs=np.full(T, 0.3)),
    )
    kw = dict(batch_size=B, runs=10, seed=5, executor="serial")
    curve = nn.monte_carlo(PROB, opt, steps=T, **kw)
    picked = nn.monte_carlo(PROB, opt, steps=[T, 0, 7], **kw)
    np.testing.assert_array_equal(curve.steps, times)
    np.testing.assert_array_equal(picked.steps, [T, 0, 7])
    np.testing.assert_array_equal(picked.mean, curve.mean[[T, 0, 7]])  # the same runs, reported at those steps
    np.testing.assert_array_equal(picked.stderr, curve.stderr[[T, 0, 7]])


def test_a_horizon_too_long_for_a_curve_is_refused_before_work() -> None:
    with pytest.raises(ValueError, match=r"steps: a single number T means every step 0..T, at most 10,000,000; "
                                         r"got 1,000,000,000 \(pass evaluation times as an array, e.g. \[1000000000\]\)"):
        nn.expected_risk(PROB, nn.SGD(lr=0.1), batch_size=B, steps=10**9)
    assert np.isfinite(nn.expected_risk(PROB, nn.SGD(lr=0.1), batch_size=B, steps=[10**9])).all()
    grid = nn.SGD(lr=np.logspace(-3, 0, 100))  # 100 curves of 10^7 + 1 points: 8 GB, refused before any evaluation
    with pytest.raises(ValueError, match=r"steps: 10,000,001 evaluation times x 100 grid points would return more than 1e\+08"):
        nn.expected_risk(PROB, grid, batch_size=B, steps=10**7)


# ---------------------------------------------------------------------- messages and critical batch sizes
def test_error_messages_show_plain_numbers() -> None:
    with pytest.raises(ValueError, match=r"runs must be an integer >= 2; got 1$"):
        nn.monte_carlo(PROB, nn.SGD(lr=0.1), batch_size=B, steps=3, runs=np.int64(1))
    with pytest.raises(ValueError, match=r"got \[-1.0\]$"):
        nn.monte_carlo(PROB, nn.SGD(lr=0.1), batch_size=B, steps=3, runs=2, targets=[np.float64(-1.0)])


def test_critical_batch_sizes_say_why_a_value_is_not_finite() -> None:
    too_few = nn.critical_batch_sizes([4.0], [10.0])
    assert too_few.mccandlish is None and math.isnan(too_few.perfect_scaling_2x)
    assert "need at least 2 batch sizes with finite steps; got 1" in too_few.reason
    # steps exactly 40 / B: perfect scaling throughout, the curve never flattens
    never = nn.critical_batch_sizes([4.0, 8.0, 16.0], [10.0, 5.0, 2.5])
    assert never.mccandlish.S_min == 0.0 and math.isinf(never.mccandlish.B_crit)
    assert "fitted S_min is 0" in never.reason and "up to B = 16" in never.reason
    assert "2x perfect scaling" in never.reason
    assert "2 batch sizes determine S_min and E_min exactly" in nn.critical_batch_sizes([4.0, 8.0], [10.0, 6.0]).reason
    flat = nn.critical_batch_sizes([1.0, 4.0, 16.0, 64.0], [1000.0, 260.0, 100.0, 90.0])
    assert math.isfinite(flat.mccandlish.B_crit) and math.isfinite(flat.perfect_scaling_2x) and flat.reason == ""


# ---------------------------------------------------------------------- figures
FIG_PROB = nn.Problem.power_law(100, bins=4)
FIG_BS = (1.0, 256.0)


def _steps_by_series(result) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for r in result.data:
        if "series" in r and "steps" in r:
            out.setdefault(r["series"].split(" ", 1)[1], []).append(r["steps"])
    return out


def test_figures_take_every_optimizer_form_and_label_it_by_its_spec() -> None:
    from nqm.proofs import figure_13, figure_critical_vs_power, figure_steps_surface

    kw = dict(problem=FIG_PROB, batch_sizes=FIG_BS, targets=(0.05,))
    want = figure_13(optimizers=[nn.SGD], **kw)
    user = figure_13(optimizers=[USER_SGD], **kw)
    assert _steps_by_series(user) == _steps_by_series(want)
    assert user.figure.axes[0].get_title().endswith(USER_SGD.name)  # a user spec's label is its name
    assert want.figure.axes[0].get_title().endswith("SGD")  # the built-in's display name
    from nqm.proofs.figures._core import figure_optimizers, optimizer_key

    forms = ["momentum", nn.from_spec(USER_MOMENTUM), USER_MOMENTUM.name, USER_MOMENTUM]
    assert [optimizer_key(o) for o in figure_optimizers("optimizers", forms)] == ["momentum"] + [USER_MOMENTUM.name] * 3
    surface = dict(problem=FIG_PROB, batch_sizes=(64.0,), lrs=np.logspace(-3, 0.3, 6), seconds=[0.0, 0.5, 0.9])
    got = figure_steps_surface(optimizer=USER_MOMENTUM, **surface)
    ref = figure_steps_surface(optimizer=nn.Momentum(lr=0.1, beta=0.5), **surface)
    assert [r["steps"] for r in got.data] == [r["steps"] for r in ref.data]
    crit = figure_critical_vs_power(problem=FIG_PROB, powers=(0.0, 0.5), optimizers=[nn.SGD, USER_SGD], batch_sizes=FIG_BS)
    rows = {(r["optimizer"], r["precond_power"]): r["B_crit_perfect_scaling_2x"] for r in crit.data}
    assert {k[0] for k in rows} == {"sgd", USER_SGD.name}
    for p in (0.0, 0.5):
        assert rows["sgd", p] == rows[USER_SGD.name, p] or math.isnan(rows["sgd", p]) and math.isnan(rows[USER_SGD.name, p])
    legend = [t.get_text() for t in crit.figure.axes[0].get_legend().get_texts()]
    assert any(t.startswith("SGD:") for t in legend) and any(t.startswith(f"{USER_SGD.name}:") for t in legend)


def test_a_user_spec_reusing_the_public_nu_gets_no_default() -> None:
    from nqm.theory import NU, get_spec

    assert NU.default is None and get_spec("qhm").hyperparameter("nu").default == 0.7
    spec = OptimizerSpec.from_update("conv_nu_reuse", _nu_update, state=("theta",), hyperparameters=(LR, NU))
    with pytest.raises(ValueError, match=r"hyperparameter nu of conv_nu_reuse needs a grid"):
        nn.tune(PROB, nn.from_spec(spec), batch_size=B, target=TARGET)


def test_an_instance_with_paired_arrays_is_not_read_as_a_product_grid() -> None:
    paired = nn.Momentum(lr=[0.1, 0.2], beta=[0.5, 0.9])  # two points, not four
    with pytest.raises(ValueError, match=r"an instance may hold one 1-D array \(a grid axis\) and scalars; got arrays for lr, beta"):
        nn.tune(PROB, paired, batch_size=B, target=TARGET)
    with pytest.raises(ValueError, match="got arrays for precond_power"):
        nn.sweep(PROB, nn.SGD(lr=0.1, precond_power=[0.0, 0.5]), batch_sizes=[4, 16], target=TARGET)


def test_default_grid_takes_every_optimizer_form() -> None:
    want = nn.default_grid("momentum")
    for _, make, _ in MOMENTUM_FORMS:
        got = nn.default_grid(make())
        assert list(got) == list(want) and all(np.array_equal(got[k], want[k]) for k in want)
