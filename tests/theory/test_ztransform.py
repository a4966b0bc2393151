"""Tests of the verified Z-transform engine (nqm.theory._ztransform).

Every expected value here is computed independently of the engine: by direct iteration,
sympy matrix powers, series expansion of X in 1/z, mpmath summation, or the paper's
Theorem 1 formulas.
"""

from __future__ import annotations

import random

import mpmath
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import nqm.theory._ztransform as ztm
from nqm.theory._ztransform import (
    ZTransformError,
    ZTransformVerificationError,
    inverse_ztransform,
    partial_sum_of_squares,
    solve_recurrence,
    solve_vector_recurrence,
    sum_of_squares,
    ztransform,
)

k = sp.Symbol("k", integer=True, nonnegative=True)
t = sp.Symbol("t", integer=True, nonnegative=True)
z = sp.Symbol("z")
a, b, c = sp.symbols("a b c")
x0, x1, x2 = sp.symbols("x0 x1 x2")
alpha, h = sp.symbols("alpha h", positive=True)
beta = sp.Symbol("beta", nonnegative=True)
r1, r2 = sp.symbols("r1 r2")

PROPERTY = settings(deadline=None, max_examples=30, derandomize=True)
N = 13  # compare k = 0..12


def is_zero(expr: sp.Expr) -> bool:
    return sp.simplify(sp.cancel(sp.expand(expr))) == 0


def series_terms(X: sp.Expr, count: int) -> list[sp.Expr]:
    """Coefficients of X in 1/z, by power-series division in w = 1/z (written independently
    of the engine): X = w**(n - m) * Nrev(w) / Drev(w) with reversed coefficient lists."""
    if X == 0:
        return [sp.S.Zero] * count
    num, den = (sp.Poly(p, z) for p in sp.fraction(sp.cancel(sp.together(X))))
    shift = den.degree() - num.degree()
    nrev, drev = num.all_coeffs(), den.all_coeffs()  # highest power of z first = lowest power of w
    quotient: list[sp.Expr] = []
    for i in range(count):
        acc = nrev[i] if i < len(nrev) else 0
        acc -= sum(drev[j] * quotient[i - j] for j in range(1, min(i, len(drev) - 1) + 1))
        quotient.append(sp.cancel(acc / drev[0]))
    return ([sp.S.Zero] * shift + quotient)[:count]


# ----------------------------------------------------------------------------- forward
@pytest.mark.parametrize(
    "x, expected",
    [
        (k * a**k, a * z / (z - a) ** 2),
        (k**2, z * (z + 1) / (z - 1) ** 3),
        (sp.binomial(k, 2) * a**k, a**2 * z / (z - a) ** 3),
        (sp.Integer(5), 5 * z / (z - 1)),
        ((1 + sp.I) ** k, z / (z - 1 - sp.I)),
        (sp.exp(2 * k), z / (z - sp.exp(2))),
        (a ** (k + 1) + sp.KroneckerDelta(k, 2), a * z / (z - a) + z**-2),
        (k**3 * (-sp.Rational(1, 2)) ** k, None),
    ],
)
def test_forward_table(x, expected):
    X = ztransform(x, k, z)
    if expected is not None:
        assert is_zero(X - expected)
    # independent check: the series of X in 1/z reproduces the sequence
    for i, coeff in enumerate(series_terms(X, 8)):
        assert is_zero(coeff - x.subs(k, i))


@pytest.mark.parametrize("x", [1 / (k + 1), sp.sin(k), a ** (k**2), sp.KroneckerDelta(k, b), sp.factorial(k)])
def test_forward_rejects_unsupported(x):
    with pytest.raises(ZTransformError):
        ztransform(x, k, z)


# ----------------------------------------------------------------------------- round trip
BASES = [sp.Integer(0), sp.Integer(1), sp.Integer(-1), sp.Integer(2), sp.Rational(1, 2), sp.Rational(-1, 3), sp.Rational(3, 4)]


@st.composite
def rational_sequences(draw):
    """Sums of poly(k) * w**k (degree <= 2, so poles of multiplicity up to 3; w = 0 gives a
    pole at 0) plus finite-support terms; repeated bases make the multiplicities add up."""
    terms = []
    for _ in range(draw(st.integers(1, 3))):
        w = draw(st.sampled_from(BASES))
        coeffs = draw(st.lists(st.integers(-3, 3), min_size=1, max_size=3))
        scale = sp.Rational(draw(st.integers(1, 5)), draw(st.integers(1, 4)))
        terms.append(scale * sum(cf * k**i for i, cf in enumerate(coeffs)) * w**k)
    for j in draw(st.lists(st.integers(0, 3), max_size=2)):
        terms.append(draw(st.integers(-2, 2)) * sp.KroneckerDelta(k, j))
    return sp.Add(*terms)


def exact_terms(x: sp.Expr, count: int = N) -> list[sp.Expr]:
    return [sp.expand(x.subs(k, i)) for i in range(count)]


@PROPERTY
@given(rational_sequences())
def test_forward_then_inverse_round_trip(x):
    X = ztransform(x, k, z)
    back = inverse_ztransform(X, z, k)
    assert exact_terms(back) == exact_terms(x)


@PROPERTY
@given(rational_sequences())
def test_forward_matches_series(x):
    X = ztransform(x, k, z)
    assert series_terms(X, 8) == exact_terms(x, 8)


# ----------------------------------------------------------------------------- inverse
def test_inverse_repeated_symbolic_pole_any_multiplicity():
    for m in range(1, 5):
        x = inverse_ztransform(z / (z - a) ** m, z, k)
        expected = sp.expand_func(sp.binomial(k, m - 1)) * a ** (k - m + 1)
        assert is_zero(x - expected)


def test_inverse_improper_and_poles_at_zero_give_kronecker_deltas():
    x = inverse_ztransform((z**2 + 1) / z**2, z, k)
    assert x == sp.KroneckerDelta(k, 0) + sp.KroneckerDelta(k, 2)
    # biproper X: the constant shows up at k = 0 only
    x = inverse_ztransform((3 * z - 1) / (z - a), z, k)
    for i, coeff in enumerate(series_terms((3 * z - 1) / (z - a), 6)):
        assert is_zero(x.subs(k, i) - coeff)


def test_inverse_symbolic_quadratic_in_its_two_roots():
    s, q = sp.symbols("s q")
    X = z / (z**2 - s * z + q)
    x = inverse_ztransform(X, z, k)
    roots = set(sp.roots(z**2 - s * z + q, z))
    assert {p.base for p in x.atoms(sp.Pow) if p.exp.has(k)} == roots
    for i, coeff in enumerate(series_terms(X, 6)):
        assert is_zero(sp.radsimp(x.subs(k, i) - coeff))


def test_inverse_with_named_poles():
    X = -alpha * z**2 / (z**2 - (1 - alpha * h + beta) * z + beta)
    x = inverse_ztransform(X, z, k, poles={r1: 1, r2: 1})
    assert is_zero(x - (-alpha * (r1 ** (k + 1) - r2 ** (k + 1)) / (r1 - r2)))


def test_inverse_rejects_bad_input():
    with pytest.raises(ZTransformError, match="causal"):
        inverse_ztransform(z**2 / (z - 1), z, k)
    with pytest.raises(ZTransformError, match="rational"):
        inverse_ztransform(sp.exp(z), z, k)
    with pytest.raises(ZTransformError, match="poles"):
        inverse_ztransform(z / (z**3 + a * z + b), z, k)  # symbolic irreducible cubic
    with pytest.raises(ZTransformError, match="multiplicities"):
        inverse_ztransform(z / ((z - a) * (z - b)), z, k, poles={a: 1})


def test_inverse_wrong_poles_fail_verification():
    with pytest.raises(ZTransformVerificationError):
        inverse_ztransform(z / ((z - a) * (z - b)), z, k, poles={a: 1, 2 * a: 1})
    with pytest.raises(ZTransformVerificationError, match="do not match"):  # r1 is not a double root
        inverse_ztransform(z / ((z - a) * (z**2 - b * z + c)), z, k, poles={a: 1, r1: 2})


def test_inverse_with_known_and_named_poles():
    X = z / ((z - a) * (z**2 - b * z + c))
    x = inverse_ztransform(X, z, k, poles={a: 1, r1: 1, r2: 1})
    vieta = {b: r1 + r2, c: r1 * r2}
    for i, coeff in enumerate(series_terms(X.subs(vieta), 8)):
        assert sp.cancel(x.subs(k, i) - coeff) == 0


def test_inverse_numeric_cubic_uses_roots():
    X = z / (z**3 - 2)
    x = inverse_ztransform(X, z, k)
    for i, coeff in enumerate(series_terms(X, 8)):
        assert abs(complex(sp.N(x.subs(k, i) - coeff, 30))) < 1e-20


# ----------------------------------------------------------------------------- recurrences
def iterate(coeffs, initial, forcing, count):
    seq = list(initial)
    n = len(coeffs)
    for j in range(count - n):
        seq.append(sp.cancel(forcing.subs(k, j) - sum(coeffs[i] * seq[j + i] for i in range(n))))
    return seq


def test_second_order_symbolic_recurrence_distinct_and_repeated_roots():
    x = solve_recurrence([a * b, -(a + b)], [x0, x1], k)
    assert is_zero(x - ((x1 - b * x0) * a**k - (x1 - a * x0) * b**k) / (a - b))
    x = solve_recurrence([a**2, -2 * a], [x0, x1], k)  # a = b: double root
    assert is_zero(x - (a**k * x0 + k * a ** (k - 1) * (x1 - a * x0)))
    assert is_zero(x.subs(k, k + 2) - 2 * a * x.subs(k, k + 1) + a**2 * x)


@st.composite
def symbolic_recurrences(draw):
    roots = draw(st.lists(st.sampled_from([a, b, c, sp.Integer(2), sp.Rational(-1, 2)]), min_size=1, max_size=3))
    char = sp.Poly(sp.Mul(*[z - r for r in roots]), z).all_coeffs()[::-1]  # ascending, monic
    initial = draw(st.lists(st.sampled_from([x0, x1, x2, sp.Integer(1), sp.Integer(-2)]), min_size=len(roots), max_size=len(roots)))
    return [sp.expand(cf) for cf in char[:-1]], initial


@pytest.mark.slow  # several seconds: kept out of the quick run's 3-minute budget
@PROPERTY
@given(symbolic_recurrences())
def test_random_symbolic_recurrences(recurrence):
    coeffs, initial = recurrence
    x = solve_recurrence(coeffs, initial, k)
    for i, value in enumerate(iterate(coeffs, initial, sp.S.Zero, 9)):
        assert sp.cancel(sp.expand(x.subs(k, i) - value)) == 0


@pytest.mark.parametrize(
    "coeffs, forcing",
    [
        ([-a], k * a**k),  # resonant forcing: pole a of multiplicity 3
        ([a * b, -(a + b)], 2**k),
        ([0, -a], k + 1),  # c_0 = 0: a pole at z = 0
        ([sp.Rational(1, 4), -1], (sp.Rational(1, 2)) ** k * k),  # forcing on a double root
    ],
)
def test_forced_recurrences(coeffs, forcing):
    initial = [x0, x1][: len(coeffs)]
    x = solve_recurrence(coeffs, initial, k, forcing=forcing)
    for i, value in enumerate(iterate(coeffs, initial, forcing, 9)):
        assert sp.cancel(sp.expand(x.subs(k, i) - value)) == 0


# ----------------------------------------------------------------------------- vector recurrences
MOMENTUM = sp.Matrix([[1 - alpha * h, -alpha * beta], [h, beta]])  # state (theta, m)


def theorem1_bracket(p1, p2, n):
    return ((p1 ** (n + 1) - p2 ** (n + 1)) - beta * (p1**n - p2**n)) / (p1 - p2)


def test_momentum_mean_path_is_theorem1_bracket():
    x = solve_vector_recurrence(MOMENTUM, sp.Matrix([1, 0]), k, poles={r1: 1, r2: 1})
    assert is_zero(x[0] - theorem1_bracket(r1, r2, k))


def test_momentum_mean_path_without_named_roots():
    x = solve_vector_recurrence(MOMENTUM, sp.Matrix([1, 0]), k)
    rng = random.Random(7)
    with mpmath.workdps(40):
        for _ in range(3):
            values = {alpha: sp.Rational(rng.randint(1, 9), 10), h: sp.Rational(rng.randint(1, 9), 10), beta: sp.Rational(rng.randint(1, 9), 10)}
            s = 1 - values[alpha] * values[h] + values[beta]
            p1, p2 = mpmath.polyroots([1, -mpmath.mpf(s), mpmath.mpf(values[beta])])
            theta = x[0].subs(values)
            for n in range(8):
                expected = ((p1 ** (n + 1) - p2 ** (n + 1)) - mpmath.mpf(values[beta]) * (p1**n - p2**n)) / (p1 - p2)
                assert abs(complex(sp.N(theta.subs(k, n), 30)) - complex(expected)) < 1e-20


@pytest.mark.parametrize(
    "A, init",
    [
        (sp.Matrix([[a]]), sp.Matrix([c])),
        (sp.Matrix([[a, 1], [0, a]]), sp.Matrix([x0, x1])),
        (sp.Matrix([[a, b, 0], [0, a, c], [0, 0, 2]]), sp.Matrix([1, x0, x1])),
        (sp.Matrix([[a, 1, 0, 0], [0, a, 1, 0], [0, 0, a, 1], [0, 0, 0, a]]), sp.Matrix([1, 2, 3, 4])),
        (sp.Matrix([[a, b, 0, 0], [0, c, 0, 0], [1, 0, 0, 0], [0, 0, 1, 0]]), sp.Matrix([1, 1, 0, 0])),
    ],
)
def test_vector_recurrence_matches_matrix_powers(A, init):
    x = solve_vector_recurrence(A, init, k)
    for n in range(7):
        assert all(sp.cancel(sp.expand(e)) == 0 for e in x.subs(k, n) - A**n * init)


def test_vector_recurrence_general_3x3_with_named_eigenvalues():
    l1, l2, l3 = sp.symbols("l1:4")
    A = sp.Matrix([[a, b, c], [1, 0, 0], [0, 1, 0]])  # companion matrix: irreducible cubic
    with pytest.raises(ZTransformError, match="poles"):
        solve_vector_recurrence(A, sp.Matrix([1, 0, 0]), k)
    x = solve_vector_recurrence(A, sp.Matrix([1, 0, 0]), k, poles={l1: 1, l2: 1, l3: 1})
    # with a, b, c the elementary symmetric functions of l1, l2, l3 it is A**k e_1 exactly
    vieta = {a: l1 + l2 + l3, b: -(l1 * l2 + l1 * l3 + l2 * l3), c: l1 * l2 * l3}
    for n in range(5):
        assert all(sp.cancel(e) == 0 for e in (x.subs(k, n) - A**n * sp.Matrix([1, 0, 0])).subs(vieta))


# ----------------------------------------------------------------------------- sums of squares
def numeric_sum_of_squares(first, s, q, count=3000):
    """sum x_k^2 for x_{k+2} = s x_{k+1} - q x_k, by direct mpmath summation."""
    u, v = first
    total = u * u + v * v
    for _ in range(count):
        u, v = v, s * v - q * u
        total += v * v
    return total


def test_sum_of_squares_momentum_impulse_response():
    s = 1 - alpha * h + beta
    X = -alpha * z**2 / (z**2 - s * z + beta)
    total = sum_of_squares(X, z)
    # Appendix C / Theorem 1: stationary risk (h/2)(c/B) * total = (1+beta) alpha c / (2B(2beta+2-alpha h)(1-beta))
    assert is_zero(total - alpha**2 * (1 + beta) / ((1 - beta) * ((1 + beta) ** 2 - s**2)))
    assert is_zero(h / 2 * total - (1 + beta) * alpha / (2 * (2 * beta + 2 - alpha * h) * (1 - beta)))
    rng = random.Random(3)
    with mpmath.workdps(40):
        for _ in range(3):
            # alpha*h >= 0.09 keeps the slow root below ~0.91, so 3000 terms reach 1e-40
            values = {alpha: sp.Rational(rng.randint(30, 90), 100), h: sp.Rational(rng.randint(30, 90), 100),
                      beta: sp.Rational(rng.randint(5, 60), 100)}
            av, hv, bv = (mpmath.mpf(v.p) / v.q for v in (values[alpha], values[h], values[beta]))
            sv = 1 - av * hv + bv
            expected = numeric_sum_of_squares((-av, -av * sv), sv, bv)
            got = mpmath.mpf(str(sp.N(total.subs(values), 40)))
            assert abs(got - expected) < mpmath.mpf(10) ** -25


@pytest.mark.parametrize(
    "X, expected",
    [
        (z / (z - a), 1 / (1 - a**2)),
        (a * z / (z - a) ** 2, a**2 * (1 + a**2) / (1 - a**2) ** 3),  # sum k^2 a^(2k)
        (1 + 2 / z, sp.Integer(5)),  # finite support: pole at 0 only
        (sp.Integer(3), sp.Integer(9)),
    ],
)
def test_sum_of_squares_known_cases(X, expected):
    assert is_zero(sum_of_squares(X, z) - expected)


def test_partial_sum_of_squares():
    s_t = partial_sum_of_squares(z / (z - a), z, t)
    assert is_zero(s_t - (1 - a ** (2 * t)) / (1 - a**2))
    X = -alpha * z**2 / ((z - r1) * (z - r2))
    s_t = partial_sum_of_squares(X, z, t)
    values = {alpha: sp.Rational(1, 3), r1: sp.Rational(1, 2), r2: sp.Rational(-1, 5)}
    terms = series_terms(X.subs(values), 10)
    for n in range(10):
        assert s_t.subs(values).subs(t, n) == sum(v**2 for v in terms[:n])
    # for large t it approaches the stationary sum
    assert abs(sp.N(s_t.subs(values).subs(t, 200) - sum_of_squares(X.subs(values), z), 60)) < 1e-50


def test_partial_sum_with_pole_on_unit_circle_and_at_zero():
    X = z / (z - 1) + 1 / z  # x = 1 + delta_{k,1}
    s_t = partial_sum_of_squares(X, z, t)
    assert [s_t.subs(t, n) for n in range(5)] == [0, 1, 5, 6, 7]


# ----------------------------------------------------------------------------- the verification has teeth
def test_wrong_table_entry_is_caught(monkeypatch):
    monkeypatch.setattr(ztm, "_sequence_pair", lambda w, j, kk: w**kk if w != 0 else sp.KroneckerDelta(kk, j))
    inverse_ztransform(z / (z - a), z, k)  # multiplicity 1: the wrong entry happens to be right
    with pytest.raises(ZTransformVerificationError):
        inverse_ztransform(z / (z - a) ** 2, z, k)
    with pytest.raises(ZTransformVerificationError):
        solve_recurrence([a**2, -2 * a], [x0, x1], k)
    with pytest.raises(ZTransformVerificationError):
        solve_vector_recurrence(sp.Matrix([[a, 1], [0, a]]), sp.Matrix([0, 1]), k)


def test_wrong_forward_pair_is_caught(monkeypatch):
    monkeypatch.setattr(ztm, "_transform_pair", lambda w, j, zz: zz / (zz - w) ** (j + 2))
    with pytest.raises(ZTransformVerificationError):
        ztransform(k * a**k, k, z)


def test_wrong_sums_are_caught(monkeypatch):
    monkeypatch.setattr(ztm, "_parseval_sum", lambda num, den: sp.Integer(1))
    with pytest.raises(ZTransformVerificationError):
        sum_of_squares(z / (z - a), z)
    monkeypatch.setattr(ztm, "_geometric_partial_sum", lambda w, j, tt, unit: w**tt / (1 - w))
    with pytest.raises(ZTransformVerificationError):
        partial_sum_of_squares(z / (z - a), z, t)
