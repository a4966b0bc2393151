"""nn.scheduled_risk under schedules of every hyperparameter and of the batch size.

Reference: the 30-digit mpmath recursion (and binary powering of constant pieces) on the spec's
sympy matrices in tests/numerics/_schedule_reference.py, which shares no code with nqm.numerics.
Tolerance: 1e-10 relative at every step, the engine's exactness promise. Rounding in the engine
grows like t eps of the largest risk met (test_schedule.py, ROUNDING_GROWTH: at most 16 t eps);
over these <= 48 steps of stable transitions that is below 2e-13, so 1e-10 leaves no room for a
wrong formula (a wrong noise factor or a value of the wrong step moves the risk by O(1)).
"""

import math
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nqm.numerics as nn
from nqm.numerics.schedules import MAX_SCHEDULE_STEPS, piecewise
from nqm.theory import get_spec

sys.path.insert(0, str(Path(__file__).parent))
from _schedule_reference import per_bin_risks, per_step_risk, piecewise_risk_mp  # noqa: E402
from _user_specs import EMA_HB  # noqa: E402  (a user spec with three states: the doubling maps)

SMALL = nn.Problem([1.0, 0.05, 1e-3], c=[0.7, 0.05, 2e-3], init_var=[1.0, 2.0, 0.5], weights=[1.0, 3.0, 10.0])
RTOL = 1e-10


#: spec -> the range values are drawn from, per hyperparameter (lr <= 1 keeps every constant setting
#: stable on h <= 1; products of stable transitions may still grow for a while)
SPECS = {
    "sgd": (get_spec("sgd"), {"lr": (1e-3, 1.0)}),
    "momentum": (get_spec("momentum"), {"lr": (1e-3, 1.0), "beta": (0.0, 0.95)}),
    "ema": (get_spec("ema"), {"lr": (1e-3, 1.0), "gamma": (0.0, 0.99)}),
    "nesterov": (get_spec("nesterov"), {"lr": (1e-3, 1.0), "beta": (0.0, 0.9)}),
    "qhm": (get_spec("qhm"), {"lr": (1e-3, 1.0), "beta": (0.0, 0.95), "nu": (0.0, 1.0)}),
    "ema_hb": (EMA_HB, {"lr": (1e-3, 1.0), "beta": (0.0, 0.9), "gamma": (0.0, 0.99)}),
}
BATCH_SIZES = (1.0, 2.5, 16.0, 1024.0)


@st.composite
def schedule_of(draw, T: int, values: st.SearchStrategy):
    """One schedule form over T steps (constant, per-step array, callable, piecewise) and its per-step values."""
    kind = draw(st.sampled_from(["constant", "array", "callable", "piecewise"]))
    if kind == "constant":
        v = draw(values)
        return v, np.full(T, v)
    if kind in ("array", "callable"):
        per = np.array(draw(st.lists(values, min_size=T, max_size=T)))
        return (per if kind == "array" else (lambda t: per[t])), per
    cuts = sorted(draw(st.sets(st.integers(1, T - 1), max_size=4))) if T > 1 else []
    levels = draw(st.lists(values, min_size=len(cuts) + 1, max_size=len(cuts) + 1))
    return piecewise(levels, cuts), np.repeat(levels, np.diff([0, *cuts, T]))


def _draw_run(data, name: str, T: int):
    spec, bounds = SPECS[name]
    schedule, per_step = {}, {}
    for q, (lo, hi) in bounds.items():
        schedule[q], per_step[q] = data.draw(schedule_of(T, st.floats(lo, hi)), label=q)
    schedule["batch_size"], per_step["batch_size"] = data.draw(schedule_of(T, st.sampled_from(BATCH_SIZES)), label="B")
    return spec, schedule, per_step


@pytest.mark.parametrize("name", sorted(SPECS))
@settings(max_examples=5, deadline=None)
@given(data=st.data())
def test_every_hyperparameter_and_the_batch_size_scheduled(name, data) -> None:
    T = data.draw(st.integers(1, 48), label="T")
    spec, schedule, per_step = _draw_run(data, name, T)
    got = nn.scheduled_risk(SMALL, nn.Optimizer(spec, **{q: v[0] for q, v in per_step.items() if q != "batch_size"}),
                            steps=T, schedule=schedule)
    want = per_step_risk(spec, SMALL, per_step)
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=0)


@pytest.mark.parametrize("name", ["momentum", "ema_hb"])
@settings(max_examples=4, deadline=None)
@given(data=st.data())
def test_evaluation_times_inside_long_pieces(name, data) -> None:
    """Piecewise schedules with long pieces and a preconditioner, evaluated at drawn times only
    (the segment maps and their powers inside pieces), against binary powering in 30 digits."""
    spec, bounds = SPECS[name]
    K = data.draw(st.integers(1, 4))
    pieces = [({q: data.draw(st.floats(lo, hi)) for q, (lo, hi) in bounds.items()}
               | {"batch_size": data.draw(st.sampled_from(BATCH_SIZES))}, data.draw(st.integers(1, 5000)))
              for _ in range(K)]
    ends = np.cumsum([L for _, L in pieces])
    schedule = {q: piecewise([v[q] for v, _ in pieces], ends[:-1].tolist()) for q in pieces[0][0]}
    opt = nn.Optimizer(spec, precond_power=0.5, **{q: v for q, v in pieces[0][0].items() if q != "batch_size"})
    got = nn.scheduled_risk(SMALL, opt, steps=np.r_[0, ends], schedule=schedule)
    want = [float(r) for r in piecewise_risk_mp(spec, SMALL, pieces, precond_power=0.5)]
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=0)


def test_a_billion_steps_piecewise() -> None:
    """T = 1e9 in three pieces of lr, beta and B: O(pieces) work, exact at every boundary."""
    pieces = [({"lr": 0.9, "beta": 0.9, "batch_size": 4.0}, 1000),
              ({"lr": 0.05, "beta": 0.5, "batch_size": 64.0}, 10**6 - 1000),
              ({"lr": 1e-4, "beta": 0.0, "batch_size": 4096.0}, 10**9 - 10**6)]
    ends = np.cumsum([L for _, L in pieces])
    schedule = {q: piecewise([v[q] for v, _ in pieces], ends[:-1].tolist()) for q in pieces[0][0]}
    got = nn.scheduled_risk(SMALL, "momentum", steps=np.r_[0, ends], schedule=schedule)
    want = [float(r) for r in piecewise_risk_mp(get_spec("momentum"), SMALL, pieces)]
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=0)


# ---------------------------------------------------------------- edges
@pytest.mark.parametrize("name", ["sgd", "momentum"])
def test_pieces_on_the_stability_edge(name) -> None:
    """lr exactly on the edge of h = 1 (2 for SGD, 2 (1 + beta) for momentum) for some pieces:
    finite, exact, including evaluations inside the edge pieces."""
    beta = 0.5
    edge = 2.0 if name == "sgd" else 2.0 * (1 + beta)
    lrs = np.repeat([0.3, edge, 0.1, edge, 0.02], [5, 7, 6, 3, 9])
    schedule = {"lr": piecewise([0.3, edge, 0.1, edge, 0.02], [5, 12, 18, 21])}
    opt = nn.SGD(lr=0.1) if name == "sgd" else nn.Momentum(lr=0.1, beta=beta)
    got = nn.scheduled_risk(SMALL, opt, steps=30, schedule=schedule, batch_size=8)
    want = per_step_risk(get_spec(name), SMALL, {"lr": lrs, "beta": beta, "batch_size": 8.0})
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=0)


def test_divergent_pieces_give_inf_never_nan() -> None:
    """A divergent piece long enough to overflow: inf from there on (the start and noise parts are
    inf - inf-free), never NaN, never negative; before it, the exact finite risk."""
    schedule = {"lr": piecewise([0.5, 30.0, 0.5], [10, 100_000]), "beta": piecewise([0.9, 0.0], [10])}
    steps = np.array([0, 5, 10, 11, 50, 20_000, 100_000, 100_005, 200_000])
    got = nn.scheduled_risk(SMALL, "momentum", steps=steps, schedule=schedule, batch_size=4)
    assert not np.any(np.isnan(got)) and np.all(got >= 0)
    assert np.all(np.isinf(got[steps >= 20_000]))
    want = per_step_risk(get_spec("momentum"), SMALL, {"lr": np.repeat([0.5, 30.0], [10, 40]),
                                                       "beta": np.repeat([0.9, 0.0], [10, 40]), "batch_size": 4.0})
    np.testing.assert_allclose(got[steps <= 50], want[steps[steps <= 50]], rtol=RTOL, atol=0)
    per_step = nn.scheduled_risk(SMALL, "sgd", steps=3000, schedule={"lr": np.r_[np.full(2000, 5.0), np.full(1000, 0.1)]},
                                 batch_size=1)
    assert not np.any(np.isnan(per_step)) and np.all(per_step >= 0) and np.isinf(per_step[-1])


def test_tiny_learning_rates_and_noise_free_directions() -> None:
    """alpha h down to 1e-15 (increments that 1 - alpha h would lose) and a bin with c = 0."""
    prob = nn.Problem([1.0, 1e-3, 1e-6], c=[0.0, 1e-3, 1e-6], init_var=[1.0, 1.0, 1.0], weights=[1.0, 2.0, 3.0])
    lrs = np.repeat([1e-9, 1e-7, 0.5, 1e-9], [7, 5, 6, 9])
    gammas = np.repeat([0.999999, 0.5, 0.0], [10, 10, 7])
    got = nn.scheduled_risk(prob, "ema", steps=27, schedule={"lr": lrs, "gamma": gammas, "batch_size": 3.0})
    want = per_step_risk(get_spec("ema"), prob, {"lr": lrs, "gamma": gammas, "batch_size": 3.0})
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=0)
    pieces = [({"lr": 1e-12, "gamma": 0.9, "batch_size": 2.0}, 10**6), ({"lr": 1e-15, "gamma": 0.0, "batch_size": 2.0}, 10**8)]
    schedule = {"lr": piecewise([1e-12, 1e-15], [10**6]), "gamma": piecewise([0.9, 0.0], [10**6])}
    got = nn.scheduled_risk(prob, "ema", steps=[0, 10**6, 10**6 + 10**8], schedule=schedule, batch_size=2)
    want = [float(r) for r in piecewise_risk_mp(get_spec("ema"), prob, pieces)]
    np.testing.assert_allclose(got, [float(w) for w in want], rtol=RTOL, atol=0)
    # the risk moves by ~1e-6 of itself here; its change is exact to the rounding of the risk itself
    # (a few eps of it), which a form computing 1 - alpha h would miss by the whole change
    change = [float(want[0] - w) for w in want[1:]]
    np.testing.assert_allclose(got[0] - got[1:], change, rtol=0, atol=8 * 2.0**-52 * got[0])


# ---------------------------------------------------------------- the earlier (lr-only) forms
def test_learning_rates_alone_equal_the_earlier_functions() -> None:
    rng = np.random.default_rng(4)
    lrs = rng.uniform(0.01, 1.0, 200)
    opt = nn.Momentum(lr=1.0, beta=0.7)
    new = nn.scheduled_risk(SMALL, opt, steps=200, schedule={"lr": lrs}, batch_size=5)
    old = nn.scheduled_risk(SMALL, opt, batch_size=5, lrs=lrs)
    np.testing.assert_allclose(new, old, rtol=1e-14, atol=0)
    levels, lengths = [0.9, 0.3, 0.01], [10, 300, 5000]
    steps = np.array([0, 3, 10, 11, 309, 310, 2000, 5310])
    new = nn.scheduled_risk(SMALL, opt, steps=steps, schedule={"lr": piecewise(levels, [10, 310])}, batch_size=5)
    old = nn.piecewise_risk(SMALL, opt, batch_size=5, lrs=levels, lengths=lengths, steps=steps)
    np.testing.assert_allclose(new, old, rtol=1e-14, atol=0)


def test_constant_schedules_are_the_engine_risk() -> None:
    prob = nn.Problem.paper(d=500, bins=8)
    opt = nn.QHM(lr=0.4, beta=0.9, nu=0.7)
    steps = np.array([0, 1, 17, 999, 10**6])
    want = nn.expected_risk(prob, opt, batch_size=32, steps=steps)
    got = nn.scheduled_risk(prob, opt, steps=steps, schedule={"beta": 0.9, "batch_size": 32})
    np.testing.assert_allclose(got, want, rtol=RTOL)
    got = nn.scheduled_risk(prob, nn.QHM, steps=steps, schedule={"lr": 0.4, "beta": 0.9}, batch_size=32)  # nu: default 0.7
    np.testing.assert_allclose(got, want, rtol=RTOL)


def test_a_horizon_beyond_the_last_evaluation() -> None:
    """The schedules span ``horizon`` steps; a curve to T < horizon is the start of the longer curve."""
    lrs = np.linspace(0.9, 0.01, 20)
    full = nn.scheduled_risk(SMALL, "sgd", steps=20, schedule={"lr": lrs}, batch_size=4)
    part = nn.scheduled_risk(SMALL, "sgd", steps=10, horizon=20, schedule={"lr": lrs}, batch_size=4)
    np.testing.assert_array_equal(part, full[:11])


def test_preset_names_scale_by_the_instance_value() -> None:
    got = nn.scheduled_risk(SMALL, nn.Momentum(lr=0.3, beta=0.6), steps=20, schedule={"beta": "constant"}, batch_size=4)
    np.testing.assert_allclose(got, nn.expected_risk(SMALL, nn.Momentum(lr=0.3, beta=0.6), batch_size=4, steps=20),
                               rtol=RTOL)


# ---------------------------------------------------------------- variance and steps to a target
def test_risk_variance_under_a_schedule() -> None:
    """2 sum_i rho_i(t)^2 / w_i from the reference's per-bin risks."""
    lrs = np.repeat([0.8, 0.2], [6, 9])
    Bs = np.repeat([2.0, 32.0, 8.0], [4, 4, 7])
    got = nn.risk_variance(SMALL, nn.SGD(lr=0.1), steps=15, schedule={"lr": lrs, "batch_size": Bs})
    bins = per_bin_risks(get_spec("sgd"), SMALL, {"lr": lrs, "batch_size": Bs})
    want = [float(sum(2 * rho[t] ** 2 / w for rho, w in zip(bins, SMALL.weights))) for t in range(16)]
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=0)
    same = nn.risk_variance(SMALL, nn.SGD(lr=0.1), steps=[0, 7, 40], batch_size=4)
    np.testing.assert_allclose(nn.risk_variance(SMALL, nn.SGD(lr=0.1), steps=[0, 7, 40], batch_size=4, schedule={}),
                               same, rtol=1e-13)


def test_steps_and_examples_to_a_target_on_a_curve_that_is_not_monotone() -> None:
    """lr above the edge for a few steps in the middle: the curve falls, rises, falls again; the first
    hit is the first step at or below the target, before the bump."""
    lrs = np.r_[np.full(12, 0.9), np.full(6, 2.3), np.full(30, 0.9)]
    Bs = np.repeat([4.0, 8.0, 16.0], 16)
    want = per_step_risk(get_spec("sgd"), SMALL, {"lr": lrs, "batch_size": Bs})
    assert np.any(np.diff(want) > 0)
    for t_hit in (5, 12, 30):
        below = want[t_hit]
        target = math.sqrt(below * want[t_hit - 1]) if want[t_hit - 1] > below else below  # between two values
        first = int(np.flatnonzero(want <= target)[0])
        got = nn.scheduled_steps_to_target(SMALL, "sgd", target=target, schedule={"lr": lrs, "batch_size": Bs}, horizon=48)
        assert got.steps == first
        assert got.examples == Bs[:first].sum()
    never = nn.scheduled_steps_to_target(SMALL, "sgd", target=want.min() / 2, schedule={"lr": lrs, "batch_size": Bs},
                                         horizon=48)
    assert never.steps == math.inf and never.examples == math.inf


def test_steps_to_target_beyond_the_first_prefix() -> None:
    """An answer past the first evaluated prefix (1024 steps) and a target equal to a value of the
    curve (the tie rule: reached)."""
    schedule = {"lr": piecewise([0.5, 0.05], [100]), "batch_size": piecewise([1.0, 4.0], [3000])}
    curve = nn.scheduled_risk(SMALL, "sgd", steps=5000, schedule=schedule)
    target = float(curve[3700])
    first = int(np.flatnonzero(nn.reaches(curve, target))[0])
    got = nn.scheduled_steps_to_target(SMALL, "sgd", target=target, schedule=schedule, horizon=5000)
    assert got.steps == first and first > 1024
    assert got.examples == 3000 * 1.0 + (first - 3000) * 4.0


# ---------------------------------------------------------------- bad input
MOM = nn.Momentum(lr=0.1, beta=0.5)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"schedule": {"rho": 0.1}}, r"schedule\['rho'\]: momentum has no hyperparameter.*lr, beta or 'batch_size'"),
        ({"schedule": {"precond_power": 0.5}}, r"schedule\['precond_power'\]: the preconditioning power cannot vary"),
        ({"schedule": {"beta": [0.5, 1.2, 0.5]}}, r"schedule\['beta'\] must be a finite number in \[0, 1\); got 1\.2"),
        ({"schedule": {"batch_size": [4, 0.5, 4]}, "batch_size": None},
         r"schedule\['batch_size'\] must be a finite number in \[1, inf\); got 0\.5"),
        ({"schedule": {"batch_size": 8}}, r"batch_size: give a constant batch_size= or a schedule\['batch_size'\], not both"),
        ({"schedule": {"lr": [0.1, 0.2]}}, r"schedule\['lr'\]: a per-step schedule of 2 values cannot span 3 steps"),
        ({"batch_size": None}, r"batch_size: give a constant batch_size= \(a number >= 1\) or a schedule\['batch_size'\]"),
        ({"schedule": [0.1]}, r"schedule must be a mapping of lr, beta or 'batch_size' to schedules"),
        ({"steps": None}, r"steps: give a horizon T"),
        ({"steps": [0, 5], "horizon": 3}, r"steps must be integers in \[0, 3\] \(the horizon\); got 5"),
        ({"steps": 0}, r"horizon must be an integer >= 1"),
        ({"lrs": [0.1], "schedule": {"beta": 0.5}}, r"lrs: give the learning rates as lrs="),
    ],
)
def test_bad_input_names_the_parameter(kwargs, match) -> None:
    call = {"steps": 3, "batch_size": 4, **kwargs}
    with pytest.raises(ValueError, match=match):
        nn.scheduled_risk(SMALL, MOM, **call)


def test_sizes_are_checked_before_any_work() -> None:
    calls = []

    def spy(t):
        calls.append(t)
        return 0.1

    with pytest.raises(ValueError, match=r"schedule\['lr'\] is not piecewise constant.*at most 10,000,000 steps"):
        nn.scheduled_risk(SMALL, "sgd", steps=[MAX_SCHEDULE_STEPS + 1], schedule={"lr": spy}, batch_size=4)
    assert not calls
    with pytest.raises(ValueError, match=r"steps: a single number T means every step 0..T, at most 10,000,000"):
        nn.scheduled_risk(SMALL, "sgd", steps=10**8, schedule={"lr": 0.1}, batch_size=4)
    with pytest.raises(ValueError, match=r"steps: at most 10,000,001 evaluation times"):
        nn.scheduled_risk(SMALL, "sgd", steps=np.zeros(10**7 + 2), schedule={"lr": spy}, batch_size=4)
    assert not calls
    with pytest.raises(ValueError, match=r"horizon must be an integer in \[1, 10,000,000\]"):
        nn.scheduled_steps_to_target(SMALL, "sgd", target=0.1, schedule={"lr": 0.1}, batch_size=4, horizon=10**8)


def test_a_hyperparameter_without_value_or_schedule_is_named() -> None:
    with pytest.raises(ValueError, match=r"beta: momentum needs a value of beta; give the optimizer one .* or a "
                                         r"schedule\['beta'\]"):
        nn.scheduled_risk(SMALL, "momentum", steps=3, schedule={"lr": 0.1}, batch_size=4)
    with pytest.raises(ValueError, match=r"optimizer: beta must be a single number for a scheduled run"):
        nn.scheduled_risk(SMALL, nn.Momentum(lr=0.1, beta=[0.1, 0.2]), steps=3, batch_size=4)
