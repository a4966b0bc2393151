"""Tests of the Schur–Cohn / Jury stability conditions (nqm.theory._stability).

Random real polynomials are built from roots chosen inside or outside the unit circle
(exact rational real roots, and complex pairs p +- iq on rational points of circles), so the
truth is known by construction and cross-checked with numpy.roots.
"""

from __future__ import annotations

from fractions import Fraction
from functools import cache

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from nqm.theory._stability import is_schur_stable, jury_conditions, stability_region

z = sp.Symbol("z")
x = sp.Symbol("x")
beta = sp.Symbol("beta")

PROPERTY = settings(deadline=None, max_examples=40, derandomize=True)

radii_inside = st.fractions(min_value=0, max_value=Fraction(19, 20))
radii_outside = st.fractions(min_value=Fraction(21, 20), max_value=3)


@st.composite
def real_polynomials(draw):
    """(ascending exact coefficients, all roots inside the unit circle?) for degree 1..4."""
    degree = draw(st.integers(1, 4))
    poly = sp.Poly(draw(st.sampled_from([1, -1, 2, Fraction(-1, 3), Fraction(5, 2)])), z)
    stable = True
    while poly.degree() < degree:
        inside = draw(st.booleans())
        radius = sp.Rational(draw(radii_inside if inside else radii_outside))
        stable &= inside
        if degree - poly.degree() >= 2 and draw(st.booleans()):
            # rational point (cos, sin) = ((1 - u^2), 2u)/(1 + u^2) on the unit circle
            u = sp.Rational(draw(st.fractions(min_value=Fraction(1, 10), max_value=10)))
            p, q = radius * (1 - u**2) / (1 + u**2), radius * 2 * u / (1 + u**2)
            poly *= sp.Poly(z**2 - 2 * p * z + p**2 + q**2, z)
        else:
            poly *= sp.Poly(z - draw(st.sampled_from([1, -1])) * radius, z)
    return poly.all_coeffs()[::-1], stable


@cache
def generic_conditions(degree: int) -> tuple[tuple[sp.Symbol, ...], tuple[sp.Basic, ...]]:
    a = sp.symbols(f"a0:{degree + 1}", real=True)
    return a, tuple(jury_conditions(sum(a[i] * z**i for i in range(degree + 1)), z))


@PROPERTY
@given(real_polynomials())
def test_jury_conditions_agree_with_roots(case):
    coeffs, stable = case
    degree = len(coeffs) - 1
    numeric = np.roots([float(c) for c in coeffs[::-1]])
    assert (max(abs(numeric)) < 1) == stable  # the construction is right
    a, conditions = generic_conditions(degree)
    assert len(conditions) == (degree + 1 if degree >= 2 else 2)
    values = dict(zip(a, coeffs))
    assert all(bool(c.subs(values)) for c in conditions) == stable
    assert is_schur_stable(sum(ai * z**i for i, ai in enumerate(a)), z, values) == stable


def test_generic_conditions_are_strict_inequalities():
    for degree in range(1, 5):
        _, conditions = generic_conditions(degree)
        assert all(isinstance(c, (sp.StrictGreaterThan, sp.StrictLessThan)) for c in conditions)


def test_momentum_region():
    P = z**2 - (1 - x + beta) * z + beta
    region = stability_region(P, z, {x: sp.Interval.open(0, sp.oo), beta: sp.Interval.Ropen(0, 1)})
    assert region == sp.And(x > 0, x < 2 * (1 + beta))
    # semantic check against numpy on a grid
    for xv in np.linspace(0.05, 4.5, 19):
        for bv in np.linspace(0.0, 0.95, 9):
            inside = max(abs(np.roots([1, -(1 - xv + bv), bv]))) < 1
            assert bool(region.subs({x: xv, beta: bv})) == inside


def test_momentum_region_in_the_paper_symbols():
    alpha, h = sp.symbols("alpha h", positive=True)
    b = sp.Symbol("beta", nonnegative=True)
    P = z**2 - (1 - alpha * h + b) * z + b
    region = stability_region(P, z, {alpha: sp.Interval.open(0, sp.oo), b: sp.Interval.Ropen(0, 1)})
    assert isinstance(region, sp.StrictLessThan) and region.lhs == alpha
    assert sp.simplify(region.rhs - 2 * (1 + b) / h) == 0


def test_sgd_region():
    assert stability_region(z - (1 - x), z, {x: sp.Interval.open(0, sp.oo)}) == sp.Interval.open(0, 2)
    assert stability_region(z - (1 - x), z) == sp.Interval.open(0, 2)
    assert stability_region(z - (1 - x), z, {x: sp.Interval(3, 4)}) is sp.S.EmptySet


def test_ema_region_splits_into_factors():
    gamma = sp.Symbol("gamma")
    P = sp.expand((z - gamma) * (z - (1 - x)))
    region = stability_region(P, z, {x: sp.Interval.open(0, sp.oo), gamma: sp.Interval.Ropen(0, 1)})
    assert region == sp.And(x > 0, x < 2)


def test_unreducible_region_is_the_conjunction():
    a0, a1 = sp.symbols("a0 a1")
    region = stability_region(z**2 + a1 * z + a0, z)
    assert isinstance(region, sp.And)
    rng = np.random.default_rng(0)
    for v0, v1 in rng.uniform(-2.5, 2.5, size=(50, 2)):
        inside = max(abs(np.roots([1, v1, v0]))) < 1
        assert bool(region.subs({a0: v0, a1: v1})) == inside


def test_degenerate_inputs():
    assert jury_conditions(sp.Integer(7), z) == []
    assert jury_conditions(z - sp.Rational(1, 2), z) == []
    assert jury_conditions(z + 5, z) == [sp.false]
    assert is_schur_stable(sp.Poly(z**2 - sp.Rational(1, 4), z), z, {})
    with pytest.raises(ValueError):
        jury_conditions(sp.Integer(0), z)
    with pytest.raises(ValueError):
        is_schur_stable(z - x, z, {})


@pytest.mark.parametrize("name", ["sgd", "momentum", "ema", "nesterov", "qhm"])
def test_preconditioned_conditions_match_the_spectral_radius(name: str) -> None:
    """With P = H^p the transition holds h^(1-p); its Jury conditions hold exactly where the
    numeric spectral radius of A (evaluated independently with numpy) is below 1."""
    from nqm.theory import derive, get_spec

    spec = get_spec(name).precondition()
    conditions = derive(spec).stability_conditions
    symbols = [hp.symbol for hp in spec.hyperparameters]
    h = sp.Symbol("h", positive=True)
    rng = np.random.default_rng(0)
    agree = 0
    for _ in range(60):
        point = {s: sp.Rational(int(rng.integers(1, 99)), 100) for s in symbols}
        point[spec_symbol(spec, "lr")] = sp.Rational(int(rng.integers(1, 400)), 100)
        point[h] = sp.Rational(int(rng.integers(1, 300)), 100)
        radius = max(abs(np.linalg.eigvals(np.array(spec.A.xreplace(point).evalf(30), dtype=float))))
        if abs(radius - 1) < 1e-9:
            continue
        holds = all(bool(cond.xreplace(point)) for cond in conditions)
        assert holds == (radius < 1), (point, radius)
        agree += 1
    assert agree >= 50


def spec_symbol(spec, name: str) -> sp.Symbol:
    return next(hp.symbol for hp in spec.hyperparameters if hp.name == name)
