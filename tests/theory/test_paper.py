"""The paper's statements (nqm.theory._paper): each derived from the specs and compared symbolically.

Besides the catalogue's own symbolic checks, the pins below settle the two known errors of
public restatements with independent evidence (exact discriminants, the numeric engine),
and numeric spot checks tie eq. 10 and the information bound to nqm.numerics.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import nqm.numerics as nn
import nqm.theory._paper as paper
from nqm.theory import BUILTINS, STATEMENTS, Statement, check_all, derive, momentum, positive_on, roundtrip, statement, to_latex
from nqm.theory._paper import Check, N, preconditioning_statement
from nqm.theory.symbols import alpha, beta, gamma, h, r1, r2, t, x, z
from nqm.theory._paper import d as dimension
from nqm.theory.symbols import alpha, beta, gamma, h, r1, r2, t, x, z

REQUIRED = [
    "eq4_sgd_risk",
    "theorem1_characteristic_polynomial",
    "theorem1_mean_path",
    "theorem1_stationary_risk",
    "theorem1_bound",
    "eq7_overdamped_rate",
    "eq7_small_step_limit",
    "damping_boundary",
    "critical_damping_double_root",
    "critical_damping_mean_path",
    "momentum_small_step_steady_state",
    "momentum_effective_lr",
    "preconditioning_equivalence_sgd",
    "preconditioning_equivalence_momentum",
    "eq9_preconditioned_sgd_risk",
    "eq10_preconditioned_steady_state",
    "eq10_ill_conditioned",
    "theorem2_mean_path",
    "theorem2_stationary_risk",
    "theorem2_bound",
    "theorem2_red_factor",
    "theorem2_red_factor_below_one",
    "appendix_b_transition",
    "appendix_b_noise",
    "appendix_b_initial_state",
    "appendix_b_characteristic_polynomial",
    "appendix_b_eigenvalues",
    "appendix_d_transition",
    "appendix_d_noise",
    "appendix_d_initial_state",
    "appendix_d_risk",
    "information_bound",
    "information_bound_per_direction",
]


def test_the_catalogue_covers_every_item_of_the_issue() -> None:
    names = {st.name for st in STATEMENTS}
    assert set(REQUIRED) <= names
    assert len(names) == len(STATEMENTS)


def test_each_statement_is_one_constant_and_every_constant_is_listed() -> None:
    """The constant a proof holds (e.g. ``SGD_STABILITY``) is the statement of that name, and
    every statement constant of the module is in STATEMENTS (so the LaTeX document prints it)."""
    constants = {name: value for name, value in vars(paper).items() if isinstance(value, Statement)}
    assert {name: st.name for name, st in constants.items()} == {st.name.upper(): st.name for st in STATEMENTS}
    assert all(constants[st.name.upper()] is st for st in STATEMENTS)


@pytest.mark.parametrize("st", STATEMENTS, ids=[st.name for st in STATEMENTS])
def test_statement_is_derived_from_the_specs_and_settled(st) -> None:
    result = st.check()
    assert isinstance(result, Check) and result.name == st.name
    assert result.equal is st.correct, f"{st.name}: derived {result.derived} vs claimed {result.claimed}"
    assert result.ok
    assert st.reference and st.title and st.labels


@pytest.mark.parametrize("st", STATEMENTS, ids=[st.name for st in STATEMENTS])
def test_each_claim_renders_and_parses_back(st) -> None:
    assert st.latex
    for formula in st.formulas():
        assert roundtrip(formula.tex, formula.source), formula.tex


def test_check_all_reports_every_statement_ok() -> None:
    results = check_all()
    assert [r.name for r in results] == [st.name for st in STATEMENTS] and all(r.ok for r in results)


# --------------------------------------------------------------------------- pins
def test_damping_boundary_pin_is_one_minus_sqrt_alpha_h_squared() -> None:
    """(1 - sqrt(alpha h))^2, not (1 - alpha h)^2: the derivation settles it."""
    assert statement("damping_boundary").check().equal
    assert not statement("damping_boundary_without_root").check().equal
    # independent: at alpha h = 1/4 the characteristic polynomial has a double root exactly at
    # beta = (1 - 1/2)^2 = 1/4 and distinct roots at (1 - 1/4)^2 = 9/16
    poly = sp.Poly(derive(momentum).characteristic_polynomial.subs({alpha: sp.Rational(1, 4), h: 1}), z)
    assert sp.discriminant(poly.subs(beta, sp.Rational(1, 4)), z) == 0
    assert sp.discriminant(poly.subs(beta, sp.Rational(9, 16)), z) != 0


def test_theorem2_keeps_gamma_in_the_red_factor() -> None:
    """The red factor has (1 +- (1 - alpha h) gamma); the restatement without gamma is refuted."""
    assert statement("theorem2_red_factor").check().equal
    assert not statement("theorem2_red_factor_without_gamma").check().equal
    # independent: the numeric engine's stationary risks of EMA and SGD at one point
    lr, g, hv = 0.3, 0.6, 0.8
    prob = nn.Problem([hv], c=[1.0])
    ratio = nn.stationary_risk(prob, nn.EMA(lr=lr, gamma=g), batch_size=4) / nn.stationary_risk(prob, nn.SGD(lr=lr), batch_size=4)
    r = 1 - lr * hv
    with_gamma = (1 - g) * (1 + r * g) / ((1 + g) * (1 - r * g))
    without_gamma = (1 - g) * (1 + r) / ((1 + g) * (1 - r))
    assert ratio == pytest.approx(with_gamma, rel=1e-12) and ratio != pytest.approx(without_gamma, rel=1e-3)


def test_theorem1_bracket_agrees_with_the_engine_mean_path() -> None:
    """The typed bracket with numpy's roots reproduces the engine's start term (independent path)."""
    lr, b, hv, steps = 0.05, 0.5, 1.0, np.array([0, 1, 5, 40])
    roots = np.roots([1, -(1 - lr * hv + b), b])
    bracket = sp.lambdify([r1, r2, beta, t], statement("theorem1_mean_path").claimed)
    start, _ = nn.risk_components(nn.Problem([hv], c=[1.0]), nn.Momentum(lr=lr, beta=b), batch_size=1, steps=steps)
    values = np.array([bracket(roots[0], roots[1], b, int(s)) for s in steps]).real
    np.testing.assert_allclose(hv / 2 * values**2, start, rtol=1e-10)


def test_eq10_steady_state_increases_with_p_in_the_engine() -> None:
    """C = H, h < 1: the engine's stationary risk grows with the preconditioning power."""
    prob = nn.Problem([1e-2, 1e-3], c=None)
    risks = [float(nn.stationary_risk(prob, nn.SGD(lr=0.5, precond_power=p), batch_size=8)) for p in (0, 0.25, 0.5, 0.75)]
    assert all(a < b for a, b in zip(risks, risks[1:]))


def test_information_bound_matches_the_engine() -> None:
    """d/(2N) with C = H: the engine's information constant is d/2 and the bound tB >= d/(2 eps)."""
    d = 1000
    prob = nn.Problem.paper(binned=False, d=d)
    assert prob.information_constant == pytest.approx(d / 2, rel=1e-12)
    bound = statement("information_bound").claimed
    value = float(bound.subs({dimension: d, N: 1}))
    assert prob.information_bound(target=0.01, batch_size=4) == pytest.approx(value / (0.01 * 4), rel=1e-12)


@pytest.mark.parametrize("spec", BUILTINS, ids=[s.name for s in BUILTINS])
def test_preconditioning_equivalence_holds_for_every_builtin(spec) -> None:
    """Beyond the paper's methods: nesterov and qhm also run on the transformed NQM."""
    assert preconditioning_statement(spec).check().ok


def test_positivity_certificate() -> None:
    assert positive_on(1 - x, {x: (0, 1)}) and not positive_on(1 - x, {x: (0, 2)})
    assert positive_on(-sp.log(x), {x: (0, 1)}) and not positive_on(sp.log(x), {x: (0, 1)})
    red_gap = 1 - (1 - gamma) * (1 + (1 - x) * gamma) / ((1 + gamma) * (1 - (1 - x) * gamma))
    assert positive_on(red_gap, {x: (0, 2), gamma: (0, 1)})


def test_statements_are_reusable_records() -> None:
    st = statement("theorem1_mean_path")
    assert st.specs == ("momentum",) and any("Vieta" in a for a in st.assumptions)
    assert "r_{1}^{t + 1}" in st.latex and to_latex(st.claimed) in st.latex
    with pytest.raises(KeyError, match="known"):
        statement("no such statement")
