"""The committed numeric forms are exactly what the theory generates today, and generated forms
keep unit-interval hyperparameters accurate near 0 and near 1."""

import math
from pathlib import Path

import mpmath as mp
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import nqm.numerics
import nqm.numerics as nn
from nqm.numerics._forms import forms_for
from nqm.theory import BUILTINS, LR, Hyperparameter, OptimizerSpec
from nqm.theory.codegen import generated_module_source
from nqm.theory.symbols import h

from _user_specs import EMA_HB  # a user spec with three states: its transition is compiled from the forms cache


def test_generated_module_is_fresh() -> None:
    committed = (Path(nqm.numerics.__file__).parent / "_generated.py").read_text()
    assert committed == generated_module_source(BUILTINS), (
        "numerics/_generated.py is stale; run `python -m nqm.theory._regenerate`"
    )


# ---------------------------------------------------------------------- unit-interval hyperparameters
WD = Hyperparameter("wd", sp.Symbol("omega", real=True), 0.0, 1.0, True, False, "weight decay")


def _decay(grad, theta, lr, wd):
    return ((1 - wd) * theta - lr * grad(theta),)


@pytest.fixture
def decay() -> nn.OptimizerRef:
    spec = OptimizerSpec.from_update("codegen_decay", _decay, state=("theta",), hyperparameters=(LR, WD))
    return nn.from_spec(spec)


@pytest.mark.parametrize("wd", [0.0, 1e-12, 1e-6, 0.3, 0.7, 1 - 1e-9])
@pytest.mark.parametrize("h", [1.0, 1e-7, 1e-12])
def test_a_unit_interval_hyperparameter_is_exact_near_0_and_near_1(decay, wd: float, h: float) -> None:
    """Weight decay w next to a tiny alpha h: the forms must keep alpha h + w accurate whether w is
    0, tiny, or close to 1 (plain writing below 1/2, complement above). Exact reference: the one
    direction's stationary risk (1/2) h (c/B) alpha^2 / (1 - (1 - w - alpha h)^2), 50 digits."""
    lr = 0.1
    got = nn.stationary_risk(nn.Problem([h], c=[h]), decay(lr=lr, wd=wd), batch_size=1.0)
    with mp.workdps(50):
        x = mp.mpf(wd) + mp.mpf(lr) * mp.mpf(h)
        exact = mp.mpf(h) / 2 * mp.mpf(h) * mp.mpf(lr) ** 2 / (x * (2 - x))
    assert abs(got - float(exact)) <= 1e-13 * float(exact)


def test_weight_decay_zero_is_sgd_to_the_last_bits(decay) -> None:
    prob = nn.Problem([1.0, 1e-4, 1e-9])
    steps = np.array([0, 1, 100, 10**6, 10**9])
    plain = nn.expected_risk(prob, nn.SGD(lr=0.1), batch_size=4.0, steps=steps)
    np.testing.assert_allclose(nn.expected_risk(prob, decay(lr=0.1, wd=0.0), batch_size=4.0, steps=steps), plain, rtol=1e-14)
    assert nn.effective_lr(decay(lr=0.1, wd=0.0)) == pytest.approx(0.1, rel=1e-13)


def test_weight_decay_has_no_effective_learning_rate(decay) -> None:
    """Its slow mode tends to 1 - w, not 1, as h -> 0: no rate per unit curvature to read off."""
    rates = nn.effective_lr(decay(lr=np.array([0.1, 0.1, 0.3]), wd=np.array([0.0, 0.01, 0.5])))
    assert rates[0] == pytest.approx(0.1, rel=1e-13) and np.isnan(rates[1:]).all()


# ---------------------------------------------------------------------- the generated transition function
def _numerators(data, hp: Hyperparameter | None, size: int) -> list[int]:
    """``size`` numerators of dyadic draws: of h = i/8 (``hp`` None, 1 <= i <= 64), else of j/64 in the
    range of ``hp`` (|j| <= 128 where it is unbounded)."""
    if hp is None:
        return data.draw(st.lists(st.integers(1, 64), min_size=size, max_size=size), label="h * 8")
    lo = math.ceil(hp.lower * 64) + (0 if hp.lower_closed else 1) if math.isfinite(hp.lower) else -128
    hi = math.floor(hp.upper * 64) - (0 if hp.upper_closed else 1) if math.isfinite(hp.upper) else 128
    return data.draw(st.lists(st.integers(lo, hi), min_size=size, max_size=size), label=f"{hp.name} * 64")


@pytest.mark.parametrize("spec", [*BUILTINS, EMA_HB], ids=lambda spec: spec.name)
@settings(max_examples=5, deadline=None)
@given(data=st.data())
def test_the_transition_function_is_the_specs_transition_matrix(spec: OptimizerSpec, data) -> None:
    """The generated transition function the per-step recursion calls (n, D = A - I row-major, b, init,
    out) against the spec's sympy matrices evaluated exactly at 8 drawn points (one array call).

    The points are dyadic with few bits (h = i/8, hyperparameters j/64, 1 - beta exact), and every
    entry is a polynomial of degree <= 4 with small integer coefficients, so each floating-point
    operation of the generated code is exact (every intermediate fits in far fewer than 53 bits):
    the values must be equal, and the exact values are checked to be representable."""
    size = 8
    hs = [sp.Rational(i, 8) for i in _numerators(data, None, size)]
    hypers = {hp: [sp.Rational(j, 64) for j in _numerators(data, hp, size)] for hp in spec.hyperparameters}
    forms = forms_for(spec)
    assert forms.params == tuple(hp.name for hp in spec.hyperparameters)
    got = forms.transition_function(
        np.array(hs, dtype=float), np.full(size, 0.5), 4.0, *(np.array(v, dtype=float) for v in hypers.values())
    )
    n = spec.A.shape[0]
    assert set(got) == {"n", "D", "b", "init", "out"} and got["n"] == n == forms.states
    for point in range(size):
        values = {h: hs[point]} | {hp.symbol: v[point] for hp, v in hypers.items()}
        exact = {"D": spec.A - sp.eye(n), "b": spec.b, "init": spec.init, "out": spec.out}
        for key, matrix in exact.items():
            want = [sp.Rational(e.xreplace(values)) for e in matrix]  # row-major
            assert all(sp.Rational(float(w)) == w for w in want), "a value outside the exact premise"
            entries = [np.broadcast_to(np.asarray(e, dtype=float), (size,))[point] for e in got[key]]
            assert entries == [float(w) for w in want], (key, values)
