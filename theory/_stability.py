r"""Schur–Cohn / Jury stability conditions: all roots of a real polynomial inside the unit circle.

For :math:`P(z) = a_nz^n + \dots + a_0` with real coefficients and :math:`a_n \ne 0`, all
roots satisfy :math:`|z| < 1` (:math:`P` is *Schur stable*) if and only if (Jury's criterion)

.. math::

    a_n P(1) > 0, \qquad (-1)^n a_n P(-1) > 0, \qquad
    \ell_m^2 - c_m^2 > 0 \quad (m = n, n-1, \dots, 2),

where :math:`\ell_m, c_m` are the leading and constant coefficients of the Schur–Cohn
reductions :math:`P_n = P` and

.. math::

    P_{m-1}(z) = \frac{\ell_m P_m(z) - c_m P_m^*(z)}{z}, \qquad P_m^*(z) = z^m P_m(1/z).

(:math:`\ell_m^2 - c_m^2 > 0` is Jury's :math:`|b_0| > |b_{m-1}|` on the rows of his table;
the linear reduction's condition is replaced by the two conditions at :math:`z = \pm 1`.)
The factor :math:`a_n` makes the conditions independent of the sign of the leading
coefficient; it is dropped when its sign is known. A polynomial is Schur stable iff each of
its factors is, so the criterion is applied to each irreducible factor (over the ring of the
symbolic coefficients). Each condition is factored, and factors whose sign follows from the
symbols' assumptions (or, in :func:`stability_region`, from the given domains) or from an
earlier condition are divided out. For the heavy-ball polynomial
:math:`z^2 - (1 - x + \beta)z + \beta` this gives :math:`x > 0`,
:math:`2 + 2\beta - x > 0`, :math:`-1 < \beta < 1`, i.e. :math:`0 < x < 2(1+\beta)` for
:math:`0 \le \beta < 1`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import sympy as sp

__all__ = ["jury_conditions", "is_schur_stable", "stability_region"]

Domains = Mapping[sp.Symbol, sp.Set]


def _as_poly(poly: sp.Poly | sp.Expr, z: sp.Symbol) -> sp.Poly:
    """``poly`` as a polynomial in ``z`` alone; ValueError if it is not one or is zero."""
    expr = poly.as_expr() if isinstance(poly, sp.Poly) else sp.sympify(poly)
    try:
        P = sp.Poly(expr, z)
    except sp.PolynomialError as exc:
        raise ValueError(f"{expr} is not a polynomial in {z}") from exc
    if P.is_zero:
        raise ValueError("the zero polynomial has no stability conditions")
    return P


def _factors(P: sp.Poly) -> list[sp.Poly]:
    """The distinct non-constant irreducible factors of ``P`` over its (exact) coefficient ring."""
    if not P.domain.is_Exact:
        return [P]
    return [sp.Poly(f, P.gen) for f, _ in sp.factor_list(P.as_expr(), P.gen)[1] if sp.degree(f, P.gen) > 0]


def _known_sign(expr: sp.Expr, domains: Domains) -> int:
    """+1 / -1 if ``expr`` is positive / negative for all admissible values, else 0.

    Uses the symbols' assumptions, and for an expression in one symbol with a given domain,
    whether ``expr <= 0`` (or ``>= 0``) has no solution there.
    """
    if expr.is_positive:
        return 1
    if expr.is_negative:
        return -1
    free = expr.free_symbols
    if len(free) == 1 and (s := next(iter(free))) in domains:
        for sign, violated in ((1, expr <= 0), (-1, expr >= 0)):
            if _solve(violated, s, domains[s]) is sp.S.EmptySet:
                return sign
    return 0


def _solve(cond: sp.Basic, s: sp.Symbol, domain: sp.Set) -> sp.Set | None:
    """``solveset(cond, s, domain)``, or None where sympy cannot solve it."""
    try:
        solution = sp.solveset(cond, s, domain)
    except (NotImplementedError, ValueError, TypeError):
        return None
    return None if isinstance(solution, sp.ConditionSet) else solution


def _jury_expressions(P: sp.Poly, domains: Domains) -> list[sp.Expr]:
    r"""The expressions :math:`e` whose positivity (:math:`e > 0`) is Jury's criterion for ``P``."""
    a = P.all_coeffs()[::-1]  # a[i] multiplies z**i
    n = len(a) - 1
    if n == 0:
        return []
    sign = _known_sign(a[n], domains)
    scale = sign if sign else a[n]
    exprs = [scale * sum(a), scale * (-1) ** n * sum((-1) ** i * c for i, c in enumerate(a))]
    row = a
    for m in range(n, 1, -1):
        exprs.append(row[m] ** 2 - row[0] ** 2)
        # (l P_m - c P_m^*) / z: coefficient of z**(i-1) is l*a_i - c*a_{m-i}, i = 1..m
        row = [sp.expand(row[m] * row[i] - row[0] * row[m - i]) for i in range(1, m + 1)]
    return exprs


def _conditions(P: sp.Poly, domains: Domains) -> list[sp.Basic]:
    r"""Jury's expressions as simplified conditions (``true``/``false`` where decided).

    A polynomial is Schur stable iff each of its factors is, so the conditions are those of
    its irreducible factors (for exact coefficients). Each expression :math:`e > 0` is
    factored; factors of known sign (:func:`_known_sign`) and products of factors whose sign
    an earlier condition fixes are divided out. A remaining :math:`f_1f_2 < 0` whose factors
    are ordered (:math:`f_2 - f_1` of known sign, e.g. a constant) becomes
    :math:`f_{\rm low} < 0 < f_{\rm high}`.
    """
    established: list[tuple[Counter, int]] = []
    conditions: list[sp.Basic] = []
    for expr in (e for factor in _factors(P) for e in _jury_expressions(factor, domains)):
        const, factors = sp.factor_list(sp.expand(expr))
        sign = 1 if const > 0 else -1 if const < 0 else 0
        kept: Counter = Counter()
        for f, e in factors:
            s = _known_sign(f, domains)
            if s:
                sign *= s**e
            else:
                kept[f] += e
        for product, s in established:
            if kept and all(kept[f] >= e for f, e in product.items()):
                kept -= product
                sign *= s
        if not kept:
            conditions.append(sp.true if sign > 0 else sp.false)
            continue
        for product, s in _split_ordered_pair(kept, sign, domains):
            established.append((product, s))
            rest = sp.Mul(*[f**e for f, e in product.items()])
            conditions.append(rest > 0 if s > 0 else rest < 0)
    return conditions


def _split_ordered_pair(kept: Counter, sign: int, domains: Domains) -> list[tuple[Counter, int]]:
    r"""``kept`` (a non-empty product of factors) with its required sign, as one or two sign conditions.

    :math:`f_1 f_2 < 0` with :math:`f_1 < f_2` identically is :math:`f_1 < 0 \wedge f_2 > 0`.
    """
    if sign < 0 and sorted(kept.values()) == [1, 1]:
        f1, f2 = kept
        order = _known_sign(sp.expand(f2 - f1), domains)
        if order:
            low, high = (f1, f2) if order > 0 else (f2, f1)
            return [(Counter({low: 1}), -1), (Counter({high: 1}), 1)]
    return [(kept, sign)]


def _real_parameters(
    P: sp.Poly, given: Mapping[sp.Symbol, sp.Set]
) -> tuple[sp.Poly, dict[sp.Symbol, sp.Set], dict[sp.Symbol, sp.Symbol]]:
    """``P`` in real Dummies carrying the sign assumptions of each symbol's domain.

    The domain of a symbol is ``given[s]`` (default: the reals) intersected with the set its
    own assumptions imply. Returns the rewritten polynomial, Dummy -> domain, Dummy -> symbol.
    """
    domains: dict[sp.Symbol, sp.Set] = {}
    back: dict[sp.Symbol, sp.Symbol] = {}
    for s in sorted(P.free_symbols - {P.gen}, key=sp.default_sort_key):
        domain = given.get(s, sp.S.Reals) & _own_domain(s)
        d = sp.Dummy(s.name, real=True, **_sign_assumptions(domain))
        domains[d], back[d] = domain, s
    forward = {s: d for d, s in back.items()}
    return sp.Poly(P.as_expr().xreplace(forward), P.gen), domains, back


def jury_conditions(poly: sp.Poly | sp.Expr, z: sp.Symbol) -> list[sp.Basic]:
    r"""Jury (Schur–Cohn) conditions for all roots of ``poly`` to lie strictly inside :math:`|z| = 1`.

    Returns strict inequalities in the (real, symbolic) coefficients, necessary and
    sufficient together (see the module docstring): for each irreducible factor of degree
    :math:`n`, :math:`a_nP(1) > 0`, :math:`(-1)^na_nP(-1) > 0`, and :math:`\ell_m^2 - c_m^2
    > 0` for the Schur–Cohn reductions of degree :math:`m = n..2` (:math:`n + 1` conditions
    for :math:`n \ge 2`, two for :math:`n = 1`). Each is factored, with factors of known sign
    (symbols are real; their sign assumptions are used) or fixed by an earlier condition
    divided out; conditions that hold identically are omitted, and one that can never hold
    appears as ``false``. The leading coefficient is assumed non-zero. A constant polynomial
    has no roots: ``[]``.
    """
    P, domains, back = _real_parameters(_as_poly(poly, z), {})
    conditions = (c.xreplace(back) for c in _conditions(P, domains))
    return [c for c in conditions if c is not sp.true]


def is_schur_stable(poly: sp.Poly | sp.Expr, z: sp.Symbol, values: Mapping[sp.Symbol, sp.Expr]) -> bool:
    """Whether ``poly`` with ``values`` substituted has all roots strictly inside the unit circle.

    The numeric polynomial (its degree may drop) is tested with Jury's criterion.
    Raises ValueError if symbols other than ``z`` remain after substitution.
    """
    P = _as_poly(_as_poly(poly, z).as_expr().subs(values), z)
    if P.free_symbols - {z}:
        raise ValueError(f"values leave symbols {P.free_symbols - {z}} unassigned")
    return all(c is sp.true for c in _conditions(P, {}))


def stability_region(
    poly: sp.Poly | sp.Expr,
    z: sp.Symbol,
    assumptions: Mapping[sp.Symbol, sp.Set] | None = None,
) -> sp.Set | sp.Boolean:
    r"""The Jury conditions reduced, where sympy can, to a simple region of the parameters.

    ``assumptions`` maps symbols to their admissible sets (e.g. ``beta: Interval.Ropen(0, 1)``);
    every symbol also ranges only over the set its own assumptions imply (``positive=True``:
    :math:`(0,\infty)`), else the reals. The reduction divides out factors of known sign,
    solves single-symbol conditions within the domain (dropping those that hold on all of
    it), and solves multi-symbol conditions that are linear in a symbol with a coefficient of
    known sign for that symbol, trying symbols in the order of ``assumptions`` and then by
    name. Conditions it cannot reduce are kept as they are.

    Returns a Set when ``poly`` has one parameter and every condition was solved for it
    (e.g. :math:`z - (1 - x)`, :math:`x > 0`: ``Interval.open(0, 2)``), else a Boolean
    holding, for each constrained symbol, its domain bounds and the reduced conditions
    (e.g. :math:`z^2 - (1-x+\beta)z + \beta` with :math:`x > 0`,
    :math:`\beta\in[0,1)`: ``(x > 0) & (x < 2*beta + 2)``; bounds implied by a symbol's own
    assumptions, like ``alpha > 0`` for a positive ``alpha``, evaluate away). Never raises on
    conditions it cannot reduce: their conjunction is returned.
    """
    given = dict(assumptions or {})
    P, domains, back = _real_parameters(_as_poly(poly, z), given)
    forward = {s: d for d, s in back.items()}
    order = [forward[s] for s in given if s in forward] + [d for d, s in back.items() if s not in given]
    single = len(domains) == 1

    solved: dict[sp.Symbol, sp.Set] = {}
    isolated: list[sp.Symbol] = []
    others: list[sp.Basic] = []
    for cond in _conditions(P, domains):
        if cond is sp.true:
            continue
        if cond is sp.false:
            return sp.S.EmptySet if single else sp.false
        free = sorted(cond.free_symbols, key=order.index)
        if len(free) == 1 and (solution := _solve(cond, free[0], domains[free[0]])) is not None:
            solved[free[0]] = solved.get(free[0], domains[free[0]]) & solution
            continue
        cond, s = _isolate(cond, order, domains)
        if s is not None and s not in isolated:
            isolated.append(s)
        others.append(cond)

    if any(region is sp.S.EmptySet for region in solved.values()):
        return sp.S.EmptySet if single else sp.false
    if single and not others:
        (d,) = domains
        return solved.get(d, domains[d])
    # bounds are stated in the caller's symbols (on the sign-assuming dummies they would be `true`)
    parts = [rel for s, region in solved.items() if region != domains[s] for rel in _relations(region, back[s])]
    parts += [rel for s in isolated if s not in solved for rel in _relations(domains[s], back[s])]
    return sp.And(*parts, *(c.xreplace(back) for c in others))


def _own_domain(s: sp.Symbol) -> sp.Set:
    """The set implied by the symbol's own sign assumptions."""
    if s.is_positive:
        return sp.Interval.open(0, sp.oo)
    if s.is_nonnegative:
        return sp.Interval(0, sp.oo)
    if s.is_negative:
        return sp.Interval.open(-sp.oo, 0)
    if s.is_nonpositive:
        return sp.Interval(-sp.oo, 0)
    return sp.S.Reals


def _sign_assumptions(domain: sp.Set) -> dict[str, bool]:
    """Sign assumptions for a Dummy ranging over ``domain``."""
    for name, half_line in (
        ("positive", sp.Interval.open(0, sp.oo)),
        ("nonnegative", sp.Interval(0, sp.oo)),
        ("negative", sp.Interval.open(-sp.oo, 0)),
        ("nonpositive", sp.Interval(-sp.oo, 0)),
    ):
        if domain.is_subset(half_line):
            return {name: True}
    return {}


def _isolate(cond: sp.Basic, order: Sequence[sp.Symbol], domains: Domains) -> tuple[sp.Basic, sp.Symbol | None]:
    """``cond`` solved for the first symbol (in ``order``) it is linear in with a coefficient of known sign."""
    expr = cond.lhs - cond.rhs if isinstance(cond, sp.StrictGreaterThan) else cond.rhs - cond.lhs
    for s in order:
        if s not in expr.free_symbols or not expr.is_polynomial(s) or sp.degree(expr, s) != 1:
            continue
        coeff = sp.expand(expr).coeff(s, 1)
        sign = _known_sign(coeff, domains)
        if sign:
            bound = sp.factor(sp.cancel(-(expr - coeff * s) / coeff))
            return (s > bound if sign > 0 else s < bound), s
    return cond, None


def _relations(region: sp.Set, s: sp.Symbol) -> list[sp.Basic]:
    """``region`` as relationals in ``s``, without infinite bounds."""
    if isinstance(region, sp.Interval):
        lower = [] if region.inf == -sp.oo else [s > region.inf if region.left_open else s >= region.inf]
        upper = [] if region.sup == sp.oo else [s < region.sup if region.right_open else s <= region.sup]
        return lower + upper
    return [region.as_relational(s)]
