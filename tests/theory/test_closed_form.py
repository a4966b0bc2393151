"""Closed forms of the risk at step t (nqm.theory._closed_form), against independent references.

References: the numeric engine (nqm.numerics, its own Chebyshev/doubling code in numpy),
exact sympy matrix powers and direct sums, the Lyapunov route to the stationary risk
(sympy's linear solve), and numeric roots from numpy.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import nqm.numerics as nn
from nqm.theory import (
    BETA,
    BUILTINS,
    GAMMA,
    LR,
    ClosedForm,
    OptimizerSpec,
    SpecError,
    closed_form,
    derive,
    ema,
    hyperparameters_from_roots,
    momentum,
    nesterov,
    qhm,
    root_values,
    same_closed_form,
    sgd,
    vieta_relations,
)
from nqm.theory.symbols import B, alpha, beta, c, gamma, h, k, nu, r1, r2, t, v0

mpmath.mp.dps = 40
PROBLEM = dict(h=0.7, c=0.4, B=8.0, v0=1.3)
STEPS = [0, 1, 2, 7, 50]
CASES = [
    ("sgd", sgd, nn.SGD(lr=0.3), {alpha: 0.3}),
    ("momentum overdamped", momentum, nn.Momentum(lr=0.05, beta=0.5), {alpha: 0.05, beta: 0.5}),
    ("momentum underdamped", momentum, nn.Momentum(lr=0.05, beta=0.9), {alpha: 0.05, beta: 0.9}),
    ("ema", ema, nn.EMA(lr=0.3, gamma=0.8), {alpha: 0.3, gamma: 0.8}),
    ("nesterov", nesterov, nn.Nesterov(lr=0.2, beta=0.9), {alpha: 0.2, beta: 0.9}),
    ("qhm", qhm, nn.QHM(lr=0.2, beta=0.9, nu=0.7), {alpha: 0.2, beta: 0.9, nu: 0.7}),
]


def evaluate(expr: sp.Expr, values: dict, steps: list[int], roots: dict | None = None) -> np.ndarray:
    """``expr`` at the problem point, ``values`` and each ``t`` in ``steps``, in 40-digit mpmath."""
    point = {h: PROBLEM["h"], c: PROBLEM["c"], B: PROBLEM["B"], v0: PROBLEM["v0"], **values, **(roots or {})}
    symbols = sorted(point, key=sp.default_sort_key)
    f = sp.lambdify([*symbols, t], expr, "mpmath")
    out = []
    for step in steps:
        value = mpmath.mpc(f(*[mpmath.mpmathify(point[s]) for s in symbols], step))
        # exact inputs leave a 40-digit imaginary residue; numpy's float64 roots a 1e-16 one
        assert abs(value.imag) <= (1e-25 if roots is None else 1e-12) * max(1, abs(value.real))
        out.append(float(value.real))
    return np.array(out)


def engine(opt: nn.Optimizer) -> np.ndarray:
    prob = nn.Problem([PROBLEM["h"]], c=[PROBLEM["c"]], init_var=PROBLEM["v0"])
    return nn.expected_risk(prob, opt, batch_size=PROBLEM["B"], steps=STEPS)


@pytest.mark.parametrize("label, spec, opt, values", CASES, ids=[case[0] for case in CASES])
def test_generic_closed_form_matches_the_numeric_engine(label, spec, opt, values) -> None:
    risk = closed_form(spec, named=False).expected_risk
    np.testing.assert_allclose(evaluate(risk, values, STEPS), engine(opt), rtol=1e-9)


@pytest.mark.parametrize("label, spec, opt, values", CASES[1:], ids=[case[0] for case in CASES[1:]])
def test_named_root_closed_form_matches_the_engine_with_numpy_roots(label, spec, opt, values) -> None:
    """Named roots bound to numpy's roots of det(zI - A) (in any order: the forms are symmetric)."""
    point = {h: PROBLEM["h"], **values}
    coeffs = [complex(sp.N(a.xreplace(point))) for a in sp.Poly(sp.expand(derive(spec).characteristic_polynomial), sp.Symbol("z")).all_coeffs()]
    roots = dict(zip((r1, r2), [complex(r) for r in np.roots(coeffs)]))
    risk = closed_form(spec).expected_risk
    np.testing.assert_allclose(evaluate(risk, values, STEPS, roots), engine(opt), rtol=1e-9)


@pytest.mark.parametrize("spec", BUILTINS, ids=[s.name for s in BUILTINS])
def test_parseval_sum_of_squares_equals_the_lyapunov_stationary_risk(spec) -> None:
    """Appendix C's route (root-free sum of the squared impulse response) vs the Lyapunov solve."""
    assert sp.cancel(closed_form(spec).stationary_risk - derive(spec).stationary_risk) == 0


def test_named_mean_path_and_noise_sum_reproduce_matrix_powers_modulo_vieta() -> None:
    """Momentum in r1, r2 with alpha, beta eliminated: m_t = out A^t init and
    s_t = sum_{k<t} (out A^k b)^2 for t = 0..5, by exact matrix powers."""
    sub = hyperparameters_from_roots(momentum)
    cf = closed_form(momentum)
    A = sp.Matrix(momentum.A).subs(sub)
    b, init, out = sp.Matrix(momentum.b).subs(sub), sp.Matrix(momentum.init), sp.Matrix(momentum.out)
    power, partial = sp.eye(2), sp.S.Zero
    mean, noise = cf.mean_path.subs(sub), cf.partial_noise_sum.subs(sub)
    for step in range(6):
        assert sp.cancel(mean.subs(t, step) - (out * power * init)[0]) == 0
        assert sp.cancel(noise.subs(t, step) - partial) == 0
        partial = sp.cancel(partial + (out * power * b)[0] ** 2)
        power = (A * power).applyfunc(sp.cancel)


def test_hyperparameters_from_roots_inverts_theorem_1_quadratic() -> None:
    # r1 + r2 = 1 - alpha h + beta and r1 r2 = beta (Theorem 1), solved by hand
    sub = hyperparameters_from_roots(momentum)
    assert sp.cancel(sub[alpha] - (1 - r1) * (1 - r2) / h) == 0 and sp.cancel(sub[beta] - r1 * r2) == 0
    ema_sub = hyperparameters_from_roots(ema, {r1: 1 - alpha * h, r2: gamma})
    assert sp.cancel(ema_sub[alpha] - (1 - r1) / h) == 0 and ema_sub[gamma] == r2
    with pytest.raises(SpecError, match="labels"):
        hyperparameters_from_roots(ema)


@pytest.mark.parametrize("spec", [momentum, ema, nesterov, qhm], ids=lambda s: s.name)
def test_vieta_relations_hold_for_the_roots_in_radicals(spec) -> None:
    values = dict(zip((r1, r2), root_values(spec)))
    for relation in vieta_relations(spec):
        assert same_closed_form(relation.lhs.xreplace(values), relation.rhs)


@pytest.mark.parametrize("spec", [momentum, ema], ids=lambda s: s.name)
def test_named_form_in_radicals_is_the_generic_form(spec) -> None:
    named, generic = closed_form(spec), closed_form(spec, named=False)
    assert same_closed_form(named.in_radicals(named.mean_path), generic.mean_path)
    assert same_closed_form(named.in_radicals(named.impulse_response), generic.impulse_response)


def test_slow_root_comes_first() -> None:
    """r1 is the branch through 1 at alpha = 0: 1 - alpha h for EMA (Theorem 2's labelling)."""
    assert root_values(ema)[0] == 1 - alpha * h
    at_zero = [r.subs({alpha: 0, beta: sp.Rational(1, 2), h: 1}) for r in root_values(momentum)]
    assert at_zero == [1, sp.Rational(1, 2)]


def test_critical_damping_double_root_exactly() -> None:
    """beta = (1 - sqrt(alpha h))^2, checked at alpha h = 1/4: the Z-transform finds the double pole."""
    spec = momentum.fix(beta=(1 - sp.sqrt(alpha * h)) ** 2)
    cf = closed_form(spec, named=False)
    A = sp.Matrix(spec.A).subs({alpha: sp.Rational(1, 4), h: 1})
    b = sp.Matrix(spec.b).subs({alpha: sp.Rational(1, 4), h: 1})
    power, partial = sp.eye(2), sp.S.Zero
    mean, noise = (e.subs({alpha: sp.Rational(1, 4), h: 1}) for e in (cf.mean_path, cf.partial_noise_sum))
    for step in range(9):
        assert sp.simplify(mean.subs(t, step) - power[0, 0]) == 0
        assert sp.simplify(noise.subs(t, step) - partial) == 0
        partial += (power * b)[0] ** 2
        power = A * power


def test_ema_repeated_root_exactly() -> None:
    """gamma = 1 - alpha h: Theorem 2's closed form is 0/0; the Z-transform finds the double pole."""
    spec = ema.fix(gamma=1 - alpha * h)
    cf = closed_form(spec, named=False)
    point = {alpha: sp.Rational(1, 5), h: 1}
    A, init = sp.Matrix(spec.A).subs(point), sp.Matrix(spec.init)
    mean = cf.mean_path.subs(point)
    power = sp.eye(2)
    for step in range(9):
        assert sp.simplify(mean.subs(t, step) - (sp.Matrix(spec.out) * power * init)[0]) == 0
        power = A * power


def test_derivation_delegates_to_the_closed_form_module() -> None:
    d = derive(momentum)
    assert d.closed_form is closed_form(momentum) and d.closed_form.named
    assert d.closed_form_generic is closed_form(momentum, named=False)
    assert d.mean_path == d.closed_form.mean_path and d.expected_risk == d.closed_form.expected_risk
    assert sp.cancel(d.noise_sum * h * c / (2 * B) - d.stationary_risk) == 0
    assert not derive(sgd).closed_form.named
    with pytest.raises(SpecError, match="one state"):
        ClosedForm(sgd, named=True)


def test_three_state_user_spec_in_named_roots() -> None:
    """Momentum averaged by an EMA (3 states): named roots r_1, r_2, r_3, Vieta's three relations."""

    def update(grad, theta, m, avg, lr, beta, gamma):
        m = beta * m + grad(theta)
        theta = theta - lr * m
        return theta, m, gamma * avg + (1 - gamma) * theta

    spec = OptimizerSpec.from_update(
        "closed_form_test_momentum_ema", update, state=("theta", "m", "avg"),
        hyperparameters=(LR, BETA, GAMMA), init=(1, 0, 1), out=(0, 0, 1),
    )
    cf = closed_form(spec)
    assert len(cf.vieta) == 3 and cf.roots[2] == sp.Symbol("r_3")
    assert sp.cancel(cf.stationary_risk - derive(spec).stationary_risk) == 0
    # m_0 = out init = 1, and the mean path solves the characteristic recurrence
    assert same_closed_form(cf.mean_path.subs(t, 0), 1)


def test_same_closed_form_compares_sequences() -> None:
    w = sp.Symbol("w")
    assert same_closed_form(w ** (t + 1), w * w**t)
    assert same_closed_form((r1 * r2) ** t, r1**t * r2**t)
    assert same_closed_form((-w) ** (2 * t + 1), -(w**2) ** t * w)
    assert not same_closed_form(r1**t, r2**t)
    assert not same_closed_form(r1**k, r1**t)


@settings(deadline=None, max_examples=20, derandomize=True)
@given(
    lr=st.floats(0.01, 1.5),
    momentum_value=st.floats(0.0, 0.99),
    step=st.integers(0, 80),
)
def test_momentum_closed_form_matches_engine_everywhere_stable(lr: float, momentum_value: float, step: int) -> None:
    risk = closed_form(momentum, named=False).expected_risk
    got = evaluate(risk, {alpha: lr, beta: momentum_value}, [step])
    prob = nn.Problem([PROBLEM["h"]], c=[PROBLEM["c"]], init_var=PROBLEM["v0"])
    want = nn.expected_risk(prob, nn.Momentum(lr=lr, beta=momentum_value), batch_size=PROBLEM["B"], steps=[step])
    np.testing.assert_allclose(got, want, rtol=1e-8)
