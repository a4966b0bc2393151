r"""A verified unilateral Z-transform engine for sympy (sympy has none: issue 12502).

Convention (unilateral, causal sequences :math:`x_k`, :math:`k \ge 0`):

.. math::

    X(z) = \mathcal{Z}\{x\}(z) = \sum_{k\ge 0} x_k z^{-k}.

Everything rests on one table pair, valid for every :math:`w` (symbolic, complex, 1) and
every integer :math:`j \ge 0`:

.. math::

    \binom{k}{j} w^{k-j} \;\longleftrightarrow\; \frac{z}{(z-w)^{j+1}},
    \qquad\text{and for } w = 0:\quad \delta_{k,j} \longleftrightarrow z^{-j}.

* **Forward** (:func:`ztransform`): a sum of terms :math:`P(k)\,w^k` (and
  :math:`\delta_{k,i}` terms) is rewritten in the binomial basis
  :math:`P(k) = \sum_j (\Delta^j P)(0)\binom{k}{j}`, so
  :math:`P(k) w^k \mapsto \sum_j (\Delta^j P)(0)\, w^j z/(z-w)^{j+1}`.
* **Inverse** (:func:`inverse_ztransform`): partial fractions of :math:`X(z)/z`. A pole
  :math:`w` of multiplicity :math:`m` of :math:`X(z)/z` contributes
  :math:`\sum_{j=1}^{m} c_j\,z/(z-w)^j`, with the residue-type coefficients
  :math:`c_j = \frac{1}{(m-j)!}\frac{d^{m-j}}{dz^{m-j}}\bigl[(z-w)^m X(z)/z\bigr]_{z=w}`,
  hence :math:`x_k \ni c_j \binom{k}{j-1} w^{k-j+1}`. The coefficients are computed with
  independent placeholder symbols for the poles (so they are plain rational functions) and
  the poles are substituted at the end.
* **Finite-support part.** :math:`X(z)/z` always has a pole at :math:`z = 0`; its principal
  part :math:`\sum_j c_j z^{-j}` is the part of :math:`X` that is a polynomial in
  :math:`z^{-1}` (a non-strictly-proper :math:`X`, or poles of :math:`X` at 0). It is
  returned as ``c_j * KroneckerDelta(k, j - 1)``, never as a Piecewise, so results stay
  closed under the forward transform and under products (:math:`\delta_{k,i}\,f(k) =
  f(i)\,\delta_{k,i}`). A rational :math:`X` with numerator degree above the denominator
  degree is not the transform of a causal sequence and raises :class:`ZTransformError`.

Generic values. Results are closed forms for *generic* values of the symbols. Poles are
treated as distinct expressions: symbolic poles that coincide for special parameter values
(e.g. the momentum roots at critical damping :math:`\beta = (1-\sqrt{\alpha h})^2`), and
symbolic poles that vanish for special values (the table term :math:`w^{k-j+1}` with
:math:`j \ge 2` is then 0/0 at small :math:`k`) need the limit, or a new call with those
values substituted, which then finds the repeated pole or the pole at 0 exactly.

Poles. By default the denominator is factored (``factor_list``) and each factor is solved in
closed form (linear, quadratic, binomial-type :math:`z^n - c`; the cubic and quartic
formulas are not used, and numeric factors of degree >= 3 fall back to ``CRootOf``). Any
other symbolic factor of degree >= 3 raises :class:`ZTransformError`: pass ``poles`` instead.
``poles`` maps each non-zero pole to its multiplicity; a pole may be an expression in the symbols
of ``X`` or a *new* bare symbol (e.g. ``r1, r2`` for the roots of
:math:`z^2 - (1-\alpha h+\beta)z + \beta`), so the result is written in named roots whose relations
(Vieta) the caller knows. With ``poles`` the
denominator is used as given (no cancellation), so the multiplicities must add up to its
degree (roots at :math:`z = 0` are found exactly and may be omitted).

Verification. Every public function checks its result before returning it, through the one
helper :func:`_verify`: (1) the defining relation (recurrence, shift identity) is substituted
back and must expand/cancel to 0, or, when that is inconclusive (e.g. named roots whose
relations sympy does not know), vanish at random numeric points with mpmath at 50 digits;
(2) the first terms are compared with an independent computation (series of :math:`X` in
:math:`1/z`, direct iteration, direct summation) at random rational parameter values, with
bare-symbol poles bound to the numeric roots of the denominator. A failing result raises
:class:`ZTransformVerificationError` and is never returned.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from math import comb, factorial, log

import mpmath
import sympy as sp

__all__ = [
    "ZTransformError",
    "ZTransformVerificationError",
    "ztransform",
    "inverse_ztransform",
    "solve_recurrence",
    "solve_vector_recurrence",
    "sum_of_squares",
    "partial_sum_of_squares",
]

Poles = Mapping[sp.Expr, int]

_TERMS = 10  #: terms compared with the independent computation (at least 8), plus deg D
_POINTS = 3  #: random parameter points at which a result must check out
_MAX_DRAWS = 200  #: draws allowed to find _POINTS non-degenerate points
_DPS = 50  #: working precision of the numeric checks (decimal digits)
_TOL = mpmath.mpf(10) ** -30  #: relative tolerance of the numeric checks
_EXTRA_K = (23,)  #: indices beyond the compared terms at which residuals are also checked
_SEED = 20190717
_SYMBOLIC_OPS = 400  #: larger residuals skip the symbolic attempt and are checked numerically
_SYMBOLIC_TERMS = 4000  #: so do residuals whose expansion or common numerator may exceed this many terms
_STABLE_MARGIN = 1e-3  #: sum_of_squares samples points with spectral radius < 1 - margin


class ZTransformError(ValueError):
    """Input outside what the Z-transform engine supports (with the reason)."""


class ZTransformVerificationError(ZTransformError):
    """A computed closed form failed its self-check; it was not returned."""


class _Degenerate(Exception):
    """The sample point is singular for the expressions being checked; draw another."""


# --------------------------------------------------------------------------- the table
def _sequence_pair(w: sp.Expr, j: int, k: sp.Symbol) -> sp.Expr:
    r"""Sequence side of the table: :math:`\binom{k}{j} w^{k-j}`, or :math:`\delta_{k,j}` for w = 0."""
    if w == 0:
        return sp.KroneckerDelta(k, j)
    return sp.expand_func(sp.binomial(k, j)) * w ** (k - j)


def _transform_pair(w: sp.Expr, j: int, z: sp.Symbol) -> sp.Expr:
    r"""Z-domain side of the table: :math:`z/(z-w)^{j+1}` (:math:`z^{-j}` for w = 0)."""
    return z / (z - w) ** (j + 1)


def _binomial_basis(P: sp.Expr, k: sp.Symbol) -> list[sp.Expr]:
    r"""Coefficients :math:`b_j = (\Delta^j P)(0) = \sum_i (-1)^{j-i}\binom{j}{i}P(i)` of
    :math:`P(k) = \sum_j b_j \binom{k}{j}` for a polynomial :math:`P` in ``k``."""
    values = [P.subs(k, i) for i in range(sp.degree(P, k) + 1)] if P.has(k) else [P]
    return [
        sp.expand(sum((-1) ** (j - i) * sp.binomial(j, i) * values[i] for i in range(j + 1)))
        for j in range(len(values))
    ]


# --------------------------------------------------------------------------- sequences
def _split_terms(x: sp.Expr, k: sp.Symbol) -> tuple[dict[sp.Expr, sp.Expr], dict[int, sp.Expr]]:
    r"""Decompose :math:`x_k = \sum_w P_w(k)\,w^k + \sum_i e_i\,\delta_{k,i}`.

    Returns ``({w: P_w}, {i: e_i})``. Supported factors of a term: anything free of ``k``,
    polynomials in ``k`` (``binomial(k, j)`` with integer ``j`` included), ``a**(c*k + d)``
    and ``exp(c*k + d)``, and ``KroneckerDelta(k, i)`` with a fixed integer ``i``.
    """
    x = sp.expand(sp.expand_func(sp.sympify(x)), power_exp=True, power_base=True)
    geometric: dict[sp.Expr, sp.Expr] = {}
    finite: dict[int, sp.Expr] = {}
    for term in sp.Add.make_args(x):
        const, poly, base, deltas = sp.S.One, sp.S.One, sp.S.One, set()
        for factor in sp.Mul.make_args(term):
            if not factor.has(k):
                const *= factor
            elif (delta := _delta_index(factor, k)) is not None:
                deltas.add(delta)
            elif factor.is_Pow and not factor.base.has(k) or isinstance(factor, sp.exp):
                b, e = (sp.E, factor.exp) if isinstance(factor, sp.exp) else factor.as_base_exp()
                slope, offset = _linear_in(e, k, factor)
                base *= b**slope
                const *= b**offset
            elif factor.is_polynomial(k):
                poly *= factor
            else:
                raise ZTransformError(
                    f"unsupported factor {factor} of the sequence: only sums of polynomial(k) * a**k "
                    "terms and KroneckerDelta(k, i) are supported"
                )
        if len(deltas) > 1 or any(i < 0 for i in deltas):
            continue  # delta_{k,i} delta_{k,j} = 0 for i != j, and k >= 0
        if deltas:
            (i,) = deltas
            finite[i] = finite.get(i, 0) + const * poly.subs(k, i) * base**i
        else:
            geometric[base] = geometric.get(base, 0) + const * poly
    return geometric, finite


def _delta_index(factor: sp.Expr, k: sp.Symbol) -> int | None:
    """``i`` if ``factor`` is ``KroneckerDelta(k, i)`` (or a power of it), else None."""
    base = factor.base if factor.is_Pow and factor.exp.is_positive else factor
    if not isinstance(base, sp.KroneckerDelta):
        return None
    other = base.args[1] if base.args[0] == k else base.args[0] if base.args[1] == k else None
    if other is None or not other.is_Integer:
        raise ZTransformError(f"{base}: only KroneckerDelta({k}, i) with a fixed integer i is supported")
    return int(other)


def _linear_in(e: sp.Expr, k: sp.Symbol, factor: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    """``(c, d)`` with ``e = c*k + d``; raises for exponents not linear in ``k``."""
    e = sp.expand(e)
    if not e.is_polynomial(k) or sp.degree(e, k) != 1:
        raise ZTransformError(f"unsupported factor {factor}: the exponent must be linear in {k}")
    return e.coeff(k, 1), e.coeff(k, 0)


def _canonical(x: sp.Expr, k: sp.Symbol, poles: Mapping[sp.Symbol, sp.Expr]) -> sp.Expr:
    r"""The sequence as :math:`\sum_w P_w(k)\,w^k + \sum_i e_i\,\delta_{k,i}`, each part factored.

    ``x`` is written in placeholder symbols for the poles; the parts are factored while they
    are small rational functions of the placeholders, and ``poles`` (placeholder -> pole) is
    substituted last, so radicals in the poles are never expanded.
    """
    geometric, finite = _split_terms(x, k)
    parts = [sp.factor(P).xreplace(poles) * w.xreplace(poles) ** k for w, P in geometric.items() if P != 0]
    parts += [sp.factor(e).xreplace(poles) * sp.KroneckerDelta(k, i) for i, e in sorted(finite.items())]
    return sp.powsimp(sp.Add(*parts))


# --------------------------------------------------------------------------- Z domain
def _rational_parts(X: sp.Expr, z: sp.Symbol, cancel: bool) -> tuple[sp.Poly, sp.Poly]:
    """Numerator and denominator of ``X`` as polynomials in ``z`` (cancelled if asked)."""
    X = sp.sympify(X)
    num, den = sp.fraction(sp.cancel(X) if cancel else sp.together(X))
    try:
        return sp.Poly(num, z), sp.Poly(den, z)
    except sp.PolynomialError as exc:
        raise ZTransformError(f"X is not a rational function of {z}: {X}") from exc


def _split_zero_roots(den: sp.Poly) -> tuple[int, sp.Poly]:
    """``(s, D0)`` with ``den = z**s * D0`` and ``D0(0) != 0``."""
    s = den.monoms()[-1][0]
    return s, sp.Poly(sp.cancel(den.as_expr() / den.gen**s), den.gen)


def _closed_form_roots(den: sp.Poly) -> dict[sp.Expr, int]:
    """Non-zero roots of ``den`` with multiplicities, in closed form where possible."""
    z = den.gen
    roots: dict[sp.Expr, int] = {}
    for factor, mult in sp.factor_list(den.as_expr(), z)[1]:
        f = sp.Poly(factor, z)
        if f.degree() <= 0:
            continue
        found = sp.roots(f, cubics=False, quartics=False, quintics=False)
        if sum(found.values()) < f.degree():
            if f.free_symbols - {z}:
                raise ZTransformError(
                    f"no closed-form roots for the symbolic factor {factor} of the denominator; "
                    "pass `poles` (e.g. new symbols r1, r2, ... with their multiplicities)"
                )
            found = {r: 1 for r in f.all_roots()}
        for r, m in found.items():
            roots[r] = roots.get(r, 0) + m * mult
    return roots


def _nonzero_poles(den_nz: sp.Poly, zero_mult: int, poles: Poles | None) -> dict[sp.Expr, int]:
    """The non-zero poles to expand about: found in closed form, or the caller's, checked."""
    if poles is None:
        return _closed_form_roots(den_nz)
    z = den_nz.gen
    given: dict[sp.Expr, int] = {}
    for pole, mult in poles.items():
        pole = sp.sympify(pole)
        if pole.has(z) or int(mult) != mult or mult < 1:
            raise ZTransformError(f"poles must map z-free expressions to positive integers, got {pole}: {mult}")
        if pole == 0:
            if mult != zero_mult:
                raise ZTransformError(f"the pole at 0 has multiplicity {zero_mult}, not {mult}")
            continue
        given[pole] = int(mult)
    if sum(given.values()) != den_nz.degree():
        raise ZTransformError(
            f"the non-zero poles' multiplicities add up to {sum(given.values())}, but the denominator "
            f"has {den_nz.degree()} non-zero roots: {den_nz.as_expr()}"
        )
    return given


def _inverse_core(
    num: sp.Poly, den: sp.Poly, k: sp.Symbol, poles: Poles | None
) -> tuple[sp.Expr, dict[sp.Symbol, sp.Expr]]:
    """Unverified inverse transform of ``num/den`` (see the module docstring for the method).

    Returns the sequence written in placeholder symbols for the non-zero poles, and the map
    placeholder -> pole (apply with :func:`_canonical`).
    """
    if num.is_zero:
        return sp.S.Zero, {}
    if num.degree() > den.degree():
        raise ZTransformError(
            f"X = ({num.as_expr()})/({den.as_expr()}) has numerator degree above denominator degree: "
            "it is not the unilateral transform of a causal sequence"
        )
    z = den.gen
    zero_mult, den_nz = _split_zero_roots(den)
    placeholders = {sp.Dummy("w"): (pole, m) for pole, m in _nonzero_poles(den_nz, zero_mult, poles).items()}
    # X(z)/z = num / (lc * z**(s+1) * prod (z - w)**m), with independent placeholders w
    factors = [(sp.S.Zero, zero_mult + 1)] + [(w, m) for w, (_, m) in placeholders.items()]
    lc = den_nz.LC()
    x = sp.S.Zero
    for w, m in factors:
        rest = num.as_expr() / (lc * sp.Mul(*[(z - v) ** mv for v, mv in factors if v is not w]))
        derivative = rest
        for order in range(m):  # c_j with j = m - order
            c = sp.cancel(derivative.subs(z, w)) / factorial(order)
            x += c * _sequence_pair(w, m - order - 1, k)
            derivative = sp.diff(derivative, z)
    return x, {w: pole for w, (pole, _) in placeholders.items()}


def _inverse(num: sp.Poly, den: sp.Poly, k: sp.Symbol, poles: Poles | None) -> sp.Expr:
    """Unverified inverse transform of ``num/den`` in canonical form."""
    x, placeholders = _inverse_core(num, den, k, poles)
    return _canonical(x, k, placeholders)


def _forward_core(x: sp.Expr, k: sp.Symbol, z: sp.Symbol) -> sp.Expr:
    r"""Unverified forward transform: :math:`\sum_w\sum_j (\Delta^jP_w)(0)\,w^j z/(z-w)^{j+1}
    + \sum_i e_i z^{-i}`."""
    geometric, finite = _split_terms(x, k)
    X = sp.Add(*[
        b * w**j * _transform_pair(w, j, z)
        for w, P in geometric.items()
        for j, b in enumerate(_binomial_basis(P, k))
    ])
    X += sp.Add(*[e * z ** (-i) for i, e in finite.items()])
    return sp.factor(sp.cancel(X))


# --------------------------------------------------------------------------- verification
def _num(expr: sp.Expr, point: Mapping[sp.Symbol, sp.Expr]) -> mpmath.mpc:
    """``expr`` at ``point`` as an mpmath number (``_DPS`` digits); raises :class:`_Degenerate`."""
    value = sp.sympify(expr).xreplace(point)
    if value.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
        raise _Degenerate("a closed form is singular there")
    value = value.evalf(_DPS)
    if not value.is_number or value.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
        raise _Degenerate("a closed form is singular there")
    re, im = value.as_real_imag()
    return mpmath.mpc(mpmath.mpf(str(sp.Float(re, _DPS))), mpmath.mpf(str(sp.Float(im, _DPS))))


def _values(x: sp.Expr, k: sp.Symbol, point: Mapping[sp.Symbol, sp.Expr], indices: Iterable[int]) -> list[mpmath.mpc]:
    """``x`` at ``point`` for ``k`` in ``indices``."""
    at = sp.sympify(x).xreplace(point)
    return [_num(at, {k: sp.Integer(i)}) for i in indices]


def _rational_series(
    num: Sequence[sp.Expr], den: Sequence[sp.Expr], point: Mapping[sp.Symbol, sp.Expr], count: int
) -> list[mpmath.mpc]:
    r"""First ``count`` coefficients of :math:`X = N/D` in :math:`z^{-1}`, by long division.

    ``num``/``den`` are coefficient lists, highest degree first, with ``len(num) <= len(den)``.
    From :math:`D(z)X(z) = N(z)`: :math:`d_n x_j = a_{n-j} - \sum_{i<n} d_i x_{j-n+i}`.
    """
    d = [_num(c, point) for c in reversed(den)]
    a = [_num(c, point) for c in reversed(num)]
    n = len(d) - 1
    if abs(d[n]) < _TOL:
        raise _Degenerate("the leading coefficient of the denominator vanishes there")
    xs: list[mpmath.mpc] = []
    for j in range(count):
        acc = a[n - j] if 0 <= n - j < len(a) else mpmath.mpc(0)
        acc -= sum((d[i] * xs[j - n + i] for i in range(n) if j - n + i >= 0), mpmath.mpc(0))
        xs.append(acc / d[n])
    return xs


def _numeric_roots(coeffs: Sequence[sp.Expr]) -> list[tuple[mpmath.mpc, int]]:
    """Roots with multiplicities of the polynomial with exact coefficients ``coeffs``."""
    w = sp.Dummy("w")
    poly = sp.Poly(list(coeffs), w)
    if poly.degree() < len(coeffs) - 1:
        raise _Degenerate("the leading coefficient of the denominator vanishes there")
    roots = []
    for factor, mult in poly.sqf_list()[1]:
        try:
            found = factor.nroots(n=_DPS + 10, maxsteps=500)
        except mpmath.libmp.NoConvergence as exc:
            raise _Degenerate("the numeric roots did not converge") from exc
        roots += [(_num(r, {}), mult) for r in found]
    return roots


@dataclass(frozen=True)
class _Sampler:
    """Random numeric points for the free symbols of a claim.

    ``params`` get random rationals in (0.05, 0.95) (sign and integrality from their
    assumptions). ``root_symbols`` (bare new symbols standing for poles) are bound to the
    numeric roots of ``den`` (coefficients, highest first) that are not accounted for by the
    ``known`` poles, matching multiplicities. With ``stable`` all roots of ``den`` must lie in
    :math:`|z| < 1 - 10^{-3}`.
    """

    params: tuple[sp.Symbol, ...]
    den: tuple[sp.Expr, ...] = ()
    known: Mapping[sp.Expr, int] = field(default_factory=dict)
    root_symbols: Mapping[sp.Symbol, int] = field(default_factory=dict)
    stable: bool = False

    @property
    def is_random(self) -> bool:
        return bool(self.params or self.root_symbols)

    def draw(self, rng: random.Random) -> dict[sp.Symbol, sp.Expr]:
        """A random point: exact rationals for the roots' sake, returned as ``_DPS + 10``-digit
        Floats (so that large closed forms evaluate quickly)."""
        exact = {s: _draw_value(s, rng) for s in self.params}
        point = {s: v if v.is_Integer else sp.Float(v, _DPS + 10) for s, v in exact.items()}
        if self.root_symbols or self.stable:
            roots = _numeric_roots([c.xreplace(exact) for c in self.den])
            if self.stable and any(abs(r) >= 1 - _STABLE_MARGIN for r, _ in roots):
                raise _Degenerate("poles on or outside the unit circle")
            point.update(self._bind(roots, point))
        return point

    def _bind(
        self, roots: list[tuple[mpmath.mpc, int]], point: Mapping[sp.Symbol, sp.Expr]
    ) -> dict[sp.Symbol, sp.Expr]:
        """Values of the root symbols: the roots left after the known poles, by multiplicity."""
        remaining = list(roots)
        for pole, mult in self.known.items():
            value = _num(pole, point)
            match = [
                i for i, (r, m) in enumerate(remaining) if m == mult and abs(r - value) <= 1e-20 * (1 + abs(value))
            ]
            if not match:
                raise _Degenerate("the given poles do not match the roots of the denominator")
            remaining.pop(match[0])
        bound = {}
        for sym, mult in self.root_symbols.items():
            match = [i for i, (_, m) in enumerate(remaining) if m == mult]
            if not match:
                raise _Degenerate("the given poles do not match the roots of the denominator")
            r, _ = remaining.pop(match[0])
            bound[sym] = sp.Float(str(r.real), _DPS + 10) + sp.I * sp.Float(str(r.imag), _DPS + 10)
        return bound


def _draw_value(sym: sp.Symbol, rng: random.Random) -> sp.Rational:
    value = sp.Integer(rng.randint(1, 4)) if sym.is_integer else sp.Rational(rng.randint(5, 95), 100)
    if sym.is_nonnegative:
        return value
    if sym.is_nonpositive:
        return -value
    return value if rng.random() < 0.5 else -value


def _expanded_terms(expr: sp.Expr, cap: int) -> int:
    r"""An upper bound on the number of terms of ``expand(expand_power_exp(expr))``, saturating at ``cap``.

    A sum adds, a product multiplies, and a power :math:`(\sum_{i=1}^m a_i)^{n+e}` with
    integer :math:`n` and symbolic :math:`e` gives at most :math:`\binom{|n|+m-1}{m-1}`
    monomials (multinomial theorem); the bound is computed without expanding anything.
    """
    if expr.is_Add or expr.is_Mul:
        total = 0 if expr.is_Add else 1
        for arg in expr.args:
            size = _expanded_terms(arg, cap)
            total = min(cap, total + size if expr.is_Add else total * size)
        return total
    if expr.is_Pow:
        exponent = expr.exp if expr.exp.is_Integer else expr.exp.as_coeff_Add()[0]
        terms = _expanded_terms(expr.base, cap)
        if not exponent.is_Integer or terms == 1:
            return 1
        return min(cap, comb(abs(int(exponent)) + terms - 1, terms - 1))
    return 1


def _vanishes_symbolically(expr: sp.Expr) -> bool:
    """True if ``expr`` expands/cancels to 0, decided within a size budget.

    False means inconclusive: it did not cancel, or the attempt was skipped because
    ``expr`` is large (more than ``_SYMBOLIC_OPS`` operations, or an expansion or common
    denominator that could exceed ``_SYMBOLIC_TERMS`` terms, bounded beforehand by
    :func:`_expanded_terms`) or contains radicals (cancellation over radicals is slow and
    weak). The caller then verifies numerically, so the budget never admits an unchecked
    result; it only bounds the time spent before that.
    """
    if expr == 0:
        return True
    radicals = any(p.exp.is_Rational and not p.exp.is_Integer for p in expr.atoms(sp.Pow))
    if radicals or sp.count_ops(expr) > _SYMBOLIC_OPS:
        return False
    split = sp.expand_power_exp(expr)
    if _expanded_terms(split, _SYMBOLIC_TERMS + 1) > _SYMBOLIC_TERMS:
        return False
    e = sp.expand(split)
    if e == 0:
        return True
    terms = sp.Add.make_args(e)
    denominators = {term.as_numer_denom()[1] for term in terms}
    common = len(terms)
    for d in denominators:
        common = min(_SYMBOLIC_TERMS + 1, common * _expanded_terms(d, _SYMBOLIC_TERMS + 1))
    return common <= _SYMBOLIC_TERMS and sp.cancel(sp.together(e)) == 0


def _close(a: mpmath.mpc, b: mpmath.mpc, scale: mpmath.mpf = 0) -> bool:
    return abs(a - b) <= _TOL * max(1, abs(a), abs(b), scale)


def _verify(
    label: str,
    sampler: _Sampler,
    compare: Callable[[Mapping[sp.Symbol, sp.Expr]], Iterable[tuple[mpmath.mpc, mpmath.mpc]]],
    residuals: Sequence[Sequence[sp.Expr]] = (),
    index: sp.Symbol | None = None,
) -> None:
    r"""Check a claim; raise :class:`ZTransformVerificationError` if it fails.

    * ``residuals``: each is a list of terms whose sum must vanish identically in ``index``
      (e.g. the recurrence applied to the closed form). A residual that does not
      expand/cancel to 0 must vanish numerically at every sample point, for
      ``index`` = 0..``_TERMS``-1 and at ``_EXTRA_K``, relative to the size of its terms.
    * ``compare(point)`` yields (closed form, independent reference) pairs at a numeric
      point, which must agree to ``_TOL`` relative.

    The claim must pass at ``_POINTS`` non-degenerate sample points (one if there is
    nothing to sample); points where something is singular are redrawn.
    """
    pending = [list(r) for r in residuals if not _vanishes_symbolically(sp.Add(*r))]
    needed = _POINTS if sampler.is_random else 1
    rng = random.Random(_SEED)
    reason = ""
    with mpmath.workdps(_DPS):
        for _ in range(_MAX_DRAWS):
            try:
                point = sampler.draw(rng)
                bad = [(a, b) for a, b in compare(point) if not _close(a, b)]
                for terms in pending:
                    for values in zip(*(_values(t, index, point, [*range(_TERMS), *_EXTRA_K]) for t in terms)):
                        if not _close(sum(values), 0, max(abs(v) for v in values)):
                            bad.append((sum(values), mpmath.mpc(0)))
            except _Degenerate as exc:
                reason = str(exc)
                continue
            if bad:
                raise ZTransformVerificationError(
                    f"{label}: the result failed its self-check at {point}: {bad[0][0]} != {bad[0][1]}"
                )
            needed -= 1
            if needed == 0:
                return
    raise ZTransformVerificationError(
        f"{label}: found no non-degenerate sample point to verify the result (last: {reason})"
    )


def _pole_sampler(symbols: set[sp.Symbol], den_nz: sp.Poly, poles: Poles | None) -> _Sampler:
    """Sampler for a result that used ``poles`` (bare new symbols bound to roots of ``den_nz``)."""
    poles = {sp.sympify(p): m for p, m in (poles or {}).items() if sp.sympify(p) != 0}
    roots = {p: m for p, m in poles.items() if isinstance(p, sp.Symbol) and p not in symbols}
    known = {p: m for p, m in poles.items() if p not in roots}
    stray = set().union(*(p.free_symbols for p in known)) - symbols if known else set()
    if stray:
        raise ZTransformError(
            f"poles must be expressions in the symbols of the input or new bare symbols; {stray} are neither"
        )
    return _Sampler(
        params=tuple(sorted(symbols, key=sp.default_sort_key)),
        den=tuple(den_nz.all_coeffs()),
        known=known if roots else {},
        root_symbols=roots,
    )


def _check_index(k: sp.Symbol, *exprs: sp.Expr) -> None:
    if not isinstance(k, sp.Symbol):
        raise ZTransformError(f"the index must be a sympy Symbol, got {k!r}")
    for e in exprs:
        if sp.sympify(e).has(k):
            raise ZTransformError(f"{e} must not depend on the index {k}")


# --------------------------------------------------------------------------- public API
def ztransform(x: sp.Expr, k: sp.Symbol, z: sp.Symbol) -> sp.Expr:
    r"""Unilateral Z-transform :math:`X(z) = \sum_{k\ge0} x_k z^{-k}` of a closed-form sequence.

    ``x`` is a sum of terms :math:`P(k)\,a^k` (:math:`P` a polynomial, ``binomial(k, j)``
    included; :math:`a` symbolic, numeric, complex, or 1; ``a**(c*k + d)`` and
    ``exp(c*k + d)`` are rewritten) and :math:`\delta_{k,i}` terms. Uses

    .. math::

        P(k)\,a^k = \sum_j (\Delta^jP)(0)\binom{k}{j}a^k
        \;\longmapsto\; \sum_j (\Delta^jP)(0)\,\frac{a^j z}{(z-a)^{j+1}},\qquad
        \delta_{k,i} \longmapsto z^{-i},

    e.g. :math:`k a^k \mapsto az/(z-a)^2`, :math:`k^2 \mapsto z(z+1)/(z-1)^3`. The result
    is factored. It is verified: with :math:`X = N/D`, :math:`D(z)X(z) = N(z)` requires
    :math:`\sum_i d_i x_{k+1+i} = 0` for all :math:`k\ge0` (substituted back), and the series
    of :math:`X` in :math:`1/z` must reproduce the first terms of ``x``.

    Raises :class:`ZTransformError` for unsupported input.
    """
    _check_index(k)
    if sp.sympify(x).has(z):
        raise ZTransformError(f"the sequence must not contain {z}")
    X = _forward_core(x, k, z)
    num, den = _rational_parts(X, z, cancel=False)
    d = den.all_coeffs()
    n = len(d) - 1
    _verify(
        f"ztransform({x})",
        _Sampler(params=tuple(sorted(sp.sympify(x).free_symbols - {k}, key=sp.default_sort_key))),
        lambda point: zip(
            _values(x, k, point, range(_TERMS + n)),
            _rational_series(num.all_coeffs(), d, point, _TERMS + n),
        ),
        residuals=[[d[n - i] * sp.sympify(x).subs(k, k + 1 + i) for i in range(n + 1)]],
        index=k,
    )
    return X


def inverse_ztransform(X: sp.Expr, z: sp.Symbol, k: sp.Symbol, poles: Poles | None = None) -> sp.Expr:
    r"""The causal sequence :math:`x_k` with :math:`\sum_{k\ge0}x_kz^{-k} = X(z)`, for rational ``X``.

    Partial fractions of :math:`X(z)/z`: a pole :math:`w \ne 0` of multiplicity :math:`m`
    gives :math:`\sum_{j=1}^m c_j\binom{k}{j-1}w^{k-j+1}`; the pole at :math:`z = 0` gives
    the finite-support part :math:`\sum_j c_j\,\delta_{k,j-1}` (returned with
    ``KroneckerDelta(k, j - 1)``; it comes from a non-strictly-proper :math:`X` or poles of
    :math:`X` at 0). The result is :math:`\sum_w P_w(k)\,w^k + \sum_i e_i\delta_{k,i}` with
    factored :math:`P_w`, :math:`e_i`.

    ``poles`` (optional) maps each non-zero pole to its multiplicity. Poles may be
    expressions in the symbols of ``X`` or new bare symbols (named roots, e.g. ``r1, r2`` of
    a symbolic quadratic); the result is then written in them. Without ``poles`` the
    denominator is cancelled, factored and solved in closed form (a symbolic quadratic
    :math:`z^2 + a_1z + a_0` gives its two roots
    :math:`-a_1/2 \pm \sqrt{a_1^2/4 - a_0}`); a symbolic irreducible factor of degree >= 3
    raises :class:`ZTransformError` asking for ``poles``.

    Results hold for generic parameter values (see the module docstring for coinciding or
    vanishing symbolic poles). Verified: :math:`\sum_i d_i x_{k+1+i} = 0` and the series of
    ``X`` in :math:`1/z` at random points. Raises :class:`ZTransformError` if ``X`` is not
    rational in ``z`` or has numerator degree above the denominator degree.
    """
    _check_index(k, X)
    num, den = _rational_parts(X, z, cancel=poles is None)
    sampler = _pole_sampler(sp.sympify(X).free_symbols - {z}, _split_zero_roots(den)[1], poles)
    x = _inverse(num, den, k, poles)
    d = den.all_coeffs()
    n = len(d) - 1
    _verify(
        f"inverse_ztransform({X})",
        sampler,
        lambda point: zip(
            _values(x, k, point, range(_TERMS + n)),
            _rational_series(num.all_coeffs(), d, point, _TERMS + n),
        ),
        residuals=[[d[n - i] * x.subs(k, k + 1 + i) for i in range(n + 1)]],
        index=k,
    )
    return x


def solve_recurrence(
    coeffs: Sequence[sp.Expr],
    initial: Sequence[sp.Expr],
    k: sp.Symbol,
    forcing: sp.Expr = 0,
    poles: Poles | None = None,
) -> sp.Expr:
    r"""Closed form of :math:`x_{k+n} + c_{n-1}x_{k+n-1} + \dots + c_0x_k = f(k)`.

    ``coeffs = (c_0, ..., c_{n-1})`` (the leading coefficient is 1), ``initial =
    (x_0, ..., x_{n-1})``; both may be symbolic. ``forcing`` :math:`f` is 0 or a sum of
    polynomial(k) * geometric terms (anything :func:`ztransform` accepts). With
    :math:`c_n = 1` and the shift rule :math:`\mathcal{Z}\{x_{k+j}\} = z^jX(z) -
    \sum_{i<j}x_iz^{j-i}`:

    .. math::

        X(z) = \frac{F(z) + \sum_{j=1}^{n} c_j \sum_{i=0}^{j-1} x_i z^{j-i}}
                    {\sum_{j=0}^{n} c_j z^j},

    inverted by :func:`inverse_ztransform` (``poles``: the non-zero poles of this
    :math:`X`, i.e. the characteristic roots and the forcing's bases, as there). Repeated
    roots, resonant forcing and :math:`c_0 = 0` are handled. Verified by substituting the
    closed form into the recurrence and the initial values, and against direct iteration.
    """
    _check_index(k, *coeffs, *initial)
    n = len(coeffs)
    if n < 1 or len(initial) != n:
        raise ZTransformError(f"need n >= 1 coefficients and n initial values, got {len(coeffs)} and {len(initial)}")
    c = [*map(sp.sympify, coeffs), sp.S.One]
    init = [sp.sympify(v) for v in initial]
    forcing = sp.sympify(forcing)
    z = sp.Dummy("z")
    start = sum(c[j] * sum(init[i] * z ** (j - i) for i in range(j)) for j in range(1, n + 1))
    X = (_forward_core(forcing, k, z) + start) / sum(c[j] * z**j for j in range(n + 1))
    num, den = _rational_parts(X, z, cancel=poles is None)
    symbols = set().union(*(e.free_symbols for e in [*c, *init, forcing])) - {k}
    sampler = _pole_sampler(symbols, _split_zero_roots(den)[1], poles)
    x = _inverse(num, den, k, poles)

    def compare(point: Mapping[sp.Symbol, sp.Expr]) -> Iterable[tuple[mpmath.mpc, mpmath.mpc]]:
        cs = [_num(ci, point) for ci in c[:n]]
        seq = [_num(v, point) for v in init]
        f = _values(forcing, k, point, range(_TERMS))
        for j in range(_TERMS):
            seq.append(f[j] - sum(cs[i] * seq[j + i] for i in range(n)))
        return zip(_values(x, k, point, range(_TERMS + n)), seq)

    _verify(
        "solve_recurrence",
        sampler,
        compare,
        residuals=[[c[j] * x.subs(k, k + j) for j in range(n + 1)] + [-forcing]]
        + [[x.subs(k, i), -init[i]] for i in range(n)],
        index=k,
    )
    return x


def solve_vector_recurrence(A: sp.Matrix, x0: sp.Matrix, k: sp.Symbol, poles: Poles | None = None) -> sp.Matrix:
    r"""Closed form of :math:`x_k = A^k x_0`, entrywise, through the Z-transform.

    :math:`\mathcal{Z}\{x\}(z) = z(zI - A)^{-1}x_0 = z\,\mathrm{adj}(zI-A)\,x_0/\det(zI-A)`,
    each entry inverted by :func:`inverse_ztransform`. ``poles`` are the non-zero
    eigenvalues of :math:`A` with algebraic multiplicities (e.g. named roots ``r1, r2``); with
    ``poles`` every entry keeps the full characteristic polynomial as denominator, without
    them every entry is cancelled first. Verified by substituting back into
    :math:`x_{k+1} = Ax_k`, :math:`x_0`, and against direct iteration.
    """
    A, x0 = sp.Matrix(A), sp.Matrix(x0)
    if not A.is_square or x0.shape != (A.rows, 1):
        raise ZTransformError(f"need a square A and a column x0 of matching size, got {A.shape} and {x0.shape}")
    _check_index(k, *A, *x0)
    z = sp.Dummy("z")
    char = sp.Poly((z * sp.eye(A.rows) - A).det(method="berkowitz"), z)
    top = z * (z * sp.eye(A.rows) - A).adjugate(method="berkowitz") * x0
    sampler = _pole_sampler(A.free_symbols | x0.free_symbols, _split_zero_roots(char)[1], poles)
    x = sp.Matrix(
        [_inverse(*_rational_parts(entry / char.as_expr(), z, cancel=poles is None), k, poles) for entry in top]
    )

    def compare(point: Mapping[sp.Symbol, sp.Expr]) -> Iterable[tuple[mpmath.mpc, mpmath.mpc]]:
        An = mpmath.matrix([[_num(a, point) for a in A.row(i)] for i in range(A.rows)])
        v = mpmath.matrix([_num(e, point) for e in x0])
        closed = [_values(e, k, point, range(_TERMS)) for e in x]
        for i in range(_TERMS):
            yield from zip([c[i] for c in closed], [v[j] for j in range(A.rows)])
            v = An * v

    step = x.subs(k, k + 1) - A * x
    _verify(
        "solve_vector_recurrence",
        sampler,
        compare,
        residuals=[[e] for e in step] + [[e, -e0] for e, e0 in zip(x.subs(k, 0), x0)],
        index=k,
    )
    return x


def sum_of_squares(X: sp.Expr, z: sp.Symbol) -> sp.Expr:
    r""":math:`\sum_{k\ge0} x_k^2` for a stable rational :math:`X(z) = N(z)/D(z)`, rational in its coefficients.

    Assumes all poles strictly inside the unit circle (not checked symbolically; the
    verification samples such points) and a real sequence (for complex :math:`x_k` this is
    :math:`\sum x_k^2`, not :math:`\sum|x_k|^2`). In the Z-domain (Parseval),
    :math:`\sum_k x_k^2 = \frac{1}{2\pi i}\oint X(z)X(z^{-1})\frac{dz}{z}` is the constant
    term :math:`\rho_0` of :math:`X(z)X(z^{-1}) = \sum_j \rho_j z^{-j}`
    (:math:`\rho_j = \sum_k x_kx_{k+|j|}`). Split it into its causal and anticausal halves,
    :math:`X(z)X(z^{-1}) = F(z) + F(z^{-1})` with :math:`F = G/D`,
    :math:`\deg G \le n = \deg D`; multiplying by :math:`z^n D(z)D(z^{-1})`:

    .. math::

        N(z)N^*(z) = G(z)D^*(z) + G^*(z)D(z), \qquad P^*(z) = z^nP(1/z),

    i.e. the :math:`n+1` linear equations :math:`\sum_i (d_{i+s}g_i + d_ig_{i+s}) =
    \sum_i a_ia_{i+s}`, :math:`s = 0..n`, uniquely solvable when no two poles have product 1.
    Then :math:`\sum_k x_k^2 = \rho_0 = 2F(\infty) = 2g_n/d_n`. No roots are needed, so
    the result is a factored rational function of the coefficients. Verified against direct
    numeric summation of the series of ``X`` at random stable points.
    """
    X = sp.sympify(X)
    num, den = _rational_parts(X, z, cancel=True)
    if num.degree() > den.degree():
        raise ZTransformError(f"{X} is not the transform of a causal sequence")
    total = _parseval_sum(num, den)
    n = den.degree()

    def compare(point: Mapping[sp.Symbol, sp.Expr]) -> Iterable[tuple[mpmath.mpc, mpmath.mpc]]:
        try:
            coeffs = [_num(c, point) for c in den.all_coeffs()]
            roots = mpmath.polyroots(coeffs, maxsteps=200, extraprec=100) if n else []
        except mpmath.libmp.NoConvergence as exc:
            raise _Degenerate("the numeric roots did not converge") from exc
        radius = max((abs(r) for r in roots), default=0)
        # enough terms for the tail (radius**2)**count to fall below 10**-(_DPS + 5)
        count = 60 * (n + 1) + (int(-(_DPS + 5) * log(10) / (2 * log(radius))) if radius > 0 else 0)
        terms = _rational_series(num.all_coeffs(), den.all_coeffs(), point, count)
        return [(_num(total, point), mpmath.fsum(t * t for t in terms))]

    _verify(
        f"sum_of_squares({X})",
        _Sampler(
            params=tuple(sorted(X.free_symbols - {z}, key=sp.default_sort_key)),
            den=tuple(den.all_coeffs()),
            stable=True,
        ),
        compare,
    )
    return total


def _parseval_sum(num: sp.Poly, den: sp.Poly) -> sp.Expr:
    r"""Unverified :math:`2g_n/d_n` from the linear system of :func:`sum_of_squares`."""
    d = den.all_coeffs()[::-1]  # d[i] multiplies z**i
    n = len(d) - 1
    a = num.all_coeffs()[::-1] + [sp.S.Zero] * (n + 1 - len(num.all_coeffs()))
    g = sp.symbols(f"g0:{n + 1}", cls=sp.Dummy)
    equations = [
        sum(d[i + s] * g[i] + d[i] * g[i + s] - a[i] * a[i + s] for i in range(n + 1 - s)) for s in range(n + 1)
    ]
    system, rhs = sp.linear_eq_to_matrix(equations, g)
    return sp.factor(sp.cancel(2 * system.LUsolve(rhs)[n] / d[n]))


def partial_sum_of_squares(X: sp.Expr, z: sp.Symbol, t: sp.Symbol, poles: Poles | None = None) -> sp.Expr:
    r""":math:`s_t = \sum_{k<t} x_k^2` in closed form in ``t`` (any rational causal ``X``).

    With :math:`x` from :func:`inverse_ztransform` (``poles`` as there), :math:`x_k^2 =
    \sum_w P_w(k)w^k + \sum_i e_i\delta_{k,i}` with :math:`w` the pairwise products of poles.
    In the binomial basis and by the shift theorem evaluated at :math:`z = 1`
    (:math:`\sum_{k<t}y_k = Y(1) - \mathcal{Z}\{y_{k+t}\}(1)`, :math:`\Delta^i\binom{k}{j}
    = \binom{k}{j-i}`):

    .. math::

        \sum_{k<t}\binom{k}{j}w^k = \frac{w^j}{(1-w)^{j+1}}
            - w^t\sum_{i=0}^{j}\binom{t}{j-i}\frac{w^i}{(1-w)^{i+1}}\quad(w\ne1),
        \qquad \sum_{k<t}\binom{k}{j} = \binom{t}{j+1},

    and :math:`\sum_{k<t}\delta_{k,i} = 1 - \sum_{l\le i}\delta_{t,l}`. Valid for integer
    :math:`t\ge0` and generic parameters (a symbolic :math:`w` equal to 1 for special values
    needs the limit). Verified by :math:`s_{t+1} - s_t = x_t^2`, :math:`s_0 = 0`, and against
    cumulative sums of the series of ``X``.
    """
    _check_index(t, X)
    k = sp.Dummy("k", integer=True, nonnegative=True)
    num, den = _rational_parts(X, z, cancel=poles is None)
    sampler = _pole_sampler(sp.sympify(X).free_symbols - {z}, _split_zero_roots(den)[1], poles)
    x, placeholders = _inverse_core(num, den, k, poles)
    geometric, finite = _split_terms(x**2, k)
    s = sp.Add(*[
        b * _geometric_partial_sum(w, j, t, unit=w.xreplace(placeholders) == 1)
        for w, P in geometric.items()
        for j, b in enumerate(_binomial_basis(P, k))
    ])
    s += sp.Add(*[e * (1 - sum(sp.KroneckerDelta(t, m) for m in range(i + 1))) for i, e in finite.items()])
    s = _canonical(s, t, placeholders)
    xt = x.xreplace({k: t, **placeholders})

    def compare(point: Mapping[sp.Symbol, sp.Expr]) -> Iterable[tuple[mpmath.mpc, mpmath.mpc]]:
        terms = _rational_series(num.all_coeffs(), den.all_coeffs(), point, _TERMS)
        partial_sums = [mpmath.fsum(v * v for v in terms[:i]) for i in range(_TERMS + 1)]
        return zip(_values(s, t, point, range(_TERMS + 1)), partial_sums)

    _verify(
        "partial_sum_of_squares",
        sampler,
        compare,
        residuals=[[s.subs(t, t + 1), -s, -xt**2], [s.subs(t, 0)]],
        index=t,
    )
    return s


def _geometric_partial_sum(w: sp.Expr, j: int, t: sp.Symbol, unit: bool) -> sp.Expr:
    r""":math:`\sum_{k<t}\binom{k}{j}w^k` (see :func:`partial_sum_of_squares`); ``unit``: :math:`w = 1`.

    ``w`` may be a placeholder whose value is substituted later, hence the explicit flag.
    """
    if unit:
        return sp.expand_func(sp.binomial(t, j + 1))
    return w**j / (1 - w) ** (j + 1) - w**t * sum(
        sp.expand_func(sp.binomial(t, j - i)) * w**i / (1 - w) ** (i + 1) for i in range(j + 1)
    )
