"""Tuned schedule presets (``nn.tune_preset``): certificates at a total, the step search's rule, bad input.

References are independent of the tuner: constant rates through the constant-rate engine
(``nn.expected_risk``, ``steps_to_target``'s exact grid minimum), and every schedule's risk through
the per-step recursion ``nn.scheduled_risk`` on its per-step learning rates.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nqm.numerics as nn
from nqm.numerics import schedules
from nqm.numerics._model import build_model
from nqm.numerics._steps import grid_minimum

# the tuner's answer is the best *evaluated* schedule; both sides of each comparison below are
# exact risks of the same schedules computed by two exact paths, which agree to ~1e-13 relative
REL = 1e-10


def _small(bins: int) -> nn.Problem:
    return nn.Problem.paper(d=200, bins=bins)


def _per_step(res) -> np.ndarray:
    return np.repeat(res.lrs, res.lengths)


def _preset_risk(prob, B, sched, T, peaks) -> np.ndarray:
    """Final risks of ``peaks * sched`` (a unit Schedule) by the per-step recursion."""
    unit = sched.values(T)
    return nn.scheduled_risk(prob, "sgd", batch_size=B, lrs=np.outer(peaks, unit))[:, -1]


@settings(max_examples=2, deadline=None)
@given(bins=st.integers(2, 5), T=st.integers(20, 200), logB=st.floats(0, 8))
def test_tuned_step_decay_is_never_worse_than_the_best_constant_nor_the_default(bins, T, logB) -> None:
    prob, B = _small(bins), 2.0**logB
    res = nn.tune_preset(prob, "sgd", "step", batch_size=B, steps=T)
    cap = nn.default_max_lr(prob, "sgd")
    assert res.lengths.sum() == T and res.steps == T and np.all(res.lrs <= cap)
    # the reported risk is the exact risk of the returned schedule (per-step recursion)
    exact = nn.scheduled_risk(prob, "sgd", batch_size=B, lrs=_per_step(res))[-1]
    assert res.final_risk == pytest.approx(exact, rel=REL)
    # never worse than any constant rate under the cap (the constant is a member: factor 1)
    grid = np.append(np.logspace(-5, math.log10(cap), 60), nn.PAPER_SGD_LRS[nn.PAPER_SGD_LRS <= cap])
    constant = nn.expected_risk(prob, nn.SGD(lr=grid), batch_size=B, steps=[T])[:, 0]
    assert res.final_risk <= constant.min() * (1 + REL)
    assert res.constant_risk <= constant.min() * (1 + REL)
    # never worse than the default preset (factor 0.1 at 0.5 and 0.75) scaled by the best constant rate
    default = _preset_risk(prob, B, schedules.step_decay(1.0), T, np.array([res.constant_lr]))
    assert res.final_risk <= default.min() * (1 + REL)


PRESETS = {  # name -> (the preset at peak 1 with its default shape, whether a constant schedule is a member)
    "wsd": (lambda: schedules.wsd(1.0), True),
    "wsd_sqrt": (lambda: schedules.wsd(1.0, shape="1-sqrt"), True),
    "cosine": (lambda: schedules.cosine(1.0), False),
    "linear": (lambda: schedules.linear_decay(1.0), False),
}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n == "wsd_sqrt" else n for n in PRESETS])
def test_tuned_presets_are_certified(name) -> None:
    prob, B, T = _small(2), 16.0, 60
    opt = nn.Momentum(lr=0.05, beta=0.5)
    res = nn.tune_preset(prob, opt, name, batch_size=B, steps=T)
    exact = nn.scheduled_risk(prob, opt, steps=[T], batch_size=B, schedule={"lr": _per_step(res)})[0]
    assert res.final_risk == pytest.approx(exact, rel=REL)
    make, has_constant = PRESETS[name]
    unit = make().values(T)
    for peak in (res.constant_lr, 0.05):  # the default shape at the best constant rate and at the instance's lr
        ref = nn.scheduled_risk(prob, opt, steps=[T], batch_size=B, schedule={"lr": peak * unit})[0]
        assert res.final_risk <= ref * (1 + REL)
    constant = nn.expected_risk(prob, nn.Momentum(lr=np.logspace(-4, math.log10(res.max_lr), 60), beta=0.5),
                                batch_size=B, steps=[T])[:, 0].min()
    assert res.constant_risk <= constant * (1 + REL)
    if has_constant:
        assert res.final_risk <= res.constant_risk * (1 + REL)


def test_warmup_option_is_passed_to_the_preset() -> None:
    prob, B, T = _small(3), 16.0, 100
    res = nn.tune_preset(prob, "sgd", "cosine", batch_size=B, steps=T, options={"warmup": 0.1})
    unit = schedules.cosine(1.0, warmup=0.1).values(T)
    assert np.allclose(_per_step(res), res.parameters["peak"] * unit, rtol=1e-15, atol=0)


def test_tuned_custom_family_is_certified_against_its_grid() -> None:
    # a linear decay to a tuned final fraction: the grid holds 1 (the constant member)
    fam = nn.PresetFamily(
        "linear-to", lambda T, final: schedules.per_step(np.linspace(1.0, final, T)),
        {"final": (0.01, 0.1, 1.0)}, {"final": 0.1}, {"final": 1.0},
    )
    prob, B, T = _small(4), 8.0, 150
    res = nn.tune_preset(prob, nn.SGD(lr=0.3), fam, batch_size=B, steps=T)
    assert res.preset == "linear-to" and 0.01 <= res.parameters["final"] <= 1.0
    exact = nn.scheduled_risk(prob, "sgd", batch_size=B, lrs=_per_step(res))[-1]
    assert res.final_risk == pytest.approx(exact, rel=REL)
    # the default shape at the instance's lr is one of the certificates
    default = _preset_risk(prob, B, fam.shape(T, final=0.1), T, np.array([0.3]))
    assert res.final_risk <= default.min() * (1 + REL)
    peak = res.parameters["peak"]
    assert np.allclose(res.lrs.max(), peak)


@pytest.mark.parametrize("B", [4.0, pytest.param(64.0, marks=pytest.mark.slow)])
def test_fewest_steps_of_the_tuned_preset_follow_the_rule(B) -> None:
    prob, target = _small(5), 0.05
    res = nn.tune_preset(prob, "sgd", "step", batch_size=B, target=target)
    T = int(res.steps)
    exact = nn.scheduled_risk(prob, "sgd", batch_size=B, lrs=_per_step(res))[-1]
    assert res.lengths.sum() == T and nn.reaches(exact, target)
    # one total below was tested and failed; every tested total that succeeded is at least T
    assert not nn.reaches(res.searched[T - 1], target)
    assert all(t >= T for t, r in res.searched.items() if nn.reaches(r, target))
    # never later than the best constant rate on the paper grid (a member), never before the Bayes bound
    grid = np.append(nn.PAPER_SGD_LRS[nn.PAPER_SGD_LRS <= res.max_lr], res.max_lr)
    assert T <= grid_minimum(build_model(prob, nn.SGD(lr=grid), B).flatten(), target)[0]
    assert T >= nn.bayes_bound_steps(prob, batch_size=B, target=target)


def test_target_above_the_initial_risk_needs_no_steps() -> None:
    prob = _small(3)
    res = nn.tune_preset(prob, "sgd", "step", batch_size=4.0, target=2 * prob.initial_risk)
    assert res.steps == 0 and res.final_risk == pytest.approx(prob.initial_risk, rel=1e-15)


def test_result_tables() -> None:
    res = nn.tune_preset(_small(2), "sgd", "step", batch_size=4.0, steps=20)
    doc = res.to_dict()
    assert doc["preset"] == "step" and doc["peak"] == res.parameters["peak"] and "factor" in doc
    assert [row["length"] for row in doc["pieces"]] == res.lengths.tolist()
    assert "<table" in res._repr_html_()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"preset": "nope", "steps": 10}, "preset must be"),
        ({"steps": 10, "target": 0.1}, "exactly one of steps"),
        ({}, "exactly one of steps"),
        ({"steps": 0}, "steps"),
        ({"steps": 1.5}, "steps"),
        ({"target": -1.0}, "target"),
        ({"steps": 10, "options": {"factor": 0.5}}, "options must not set"),
        ({"steps": 10, "options": {"boundaries": (0.5, 1.5)}}, "boundaries"),
        ({"preset": "cosine", "steps": 10, "options": {"warmup": 2.0}}, "warmup"),
        ({"steps": 10, "batch_size": 0.5}, "batch_size"),
        ({"steps": 10, "max_lr": -1.0}, "max_lr"),
    ],
)
def test_bad_input_raises_value_error_naming_the_parameter(kwargs, match) -> None:
    args = {"preset": "step", "batch_size": 4.0, **kwargs}
    with pytest.raises(ValueError, match=match):
        nn.tune_preset(_small(3), "sgd", **args)
