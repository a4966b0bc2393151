r"""Mean and second-moment dynamics of any optimizer spec (Appendices B and D, generalised).

For :math:`x' = A x + b\xi` with :math:`\mathbb{E}\xi = 0`, :math:`\mathbb{E}\xi^2 = c/B`:

.. math::

    \mathbb{E}x' = A\,\mathbb{E}x, \qquad
    S' = A S A^\top + \frac{c}{B}\,b b^\top \quad (S = \mathbb{E}[x x^\top]),

or in vectorised form :math:`\mathrm{vec}\,S' = (A\otimes A)\,\mathrm{vec}\,S + \frac{c}{B}\,
\mathrm{vec}(bb^\top)`. The eigenvalues of :math:`A\otimes A` are the products
:math:`\lambda_i\lambda_j` of the eigenvalues of :math:`A` (for momentum :math:`r_1^2, r_1r_2=\beta,
r_2^2`, Appendix B). The stationary second moment solves the discrete Lyapunov equation
:math:`S = A S A^\top + \frac{c}{B} bb^\top`; we solve it in the form
:math:`DS + SD^\top + DSD^\top + bb^\top = 0` with :math:`D = A - I`, which keeps the
factors that vanish as :math:`\alpha h\to 0` exact.

The Lyapunov equation is linear in the :math:`n(n+1)/2` distinct entries of :math:`S`. Its
coefficients are rational functions once every power with a non-integer exponent is a
symbol: :func:`stationary_covariance` writes each such power :math:`w^{e}` (after
:math:`w^{e_1+e_2} = w^{e_1}w^{e_2}`) as a placeholder :math:`u = w^{|e|}` or :math:`1/u`, e.g.
:math:`h^{1-p} = h/u`, :math:`c\,h^{-p} = c/u` with :math:`u = h^p` for a preconditioned
spec (eq. 8), solves the polynomial system by fraction-free elimination
(``DomainMatrix.solve_den``) and substitutes back.
The solution over the field with independent placeholders specialises to the solution of
the original system wherever its determinant does not vanish identically, which is checked.
"""

from __future__ import annotations

import random
from functools import cache

import sympy as sp
from sympy.polys.matrices import DomainMatrix
from sympy.polys.matrices.exceptions import DMNonInvertibleMatrixError

from ._spec import OptimizerSpec, SpecError
from ._symbols import B, c, z

__all__ = [
    "vech_basis",
    "second_moment_vec",
    "second_moment_vech",
    "stationary_covariance",
    "characteristic_polynomial",
    "eigenvalues",
]


@cache
def characteristic_polynomial(spec: OptimizerSpec, var: sp.Symbol = z) -> sp.Expr:
    r""":math:`\det(zI - A)`, the characteristic polynomial of the mean dynamics (eq. 22), factored (cached)."""
    return sp.factor(sp.expand((var * sp.eye(spec.n) - spec.A).det()))


@cache
def eigenvalues(spec: OptimizerSpec) -> dict[sp.Expr, int]:
    """Roots of the characteristic polynomial in :math:`z` with multiplicities (sympy ``roots``; cached).

    Raises :class:`SpecError` if sympy does not find all :math:`n` of them in closed form."""
    roots = sp.roots(sp.Poly(sp.expand(characteristic_polynomial(spec, z)), z))
    if sum(roots.values()) != spec.n:
        raise SpecError(f"could not find all eigenvalues of {spec.name} in closed form")
    return roots


def vech_basis(n: int) -> list[tuple[int, int]]:
    """Index pairs (i, j), i <= j, of the upper triangle, in row-major order.

    For n = 2 this is ((0,0), (0,1), (1,1)); :func:`second_moment_vech` accepts any
    order (the authors' notebook uses (0,0), (1,1), (0,1)).
    """
    return [(i, j) for i in range(n) for j in range(i, n)]


def second_moment_vec(spec: OptimizerSpec) -> tuple[sp.Matrix, sp.Matrix]:
    r"""The Kronecker form :math:`(A\otimes A,\ \frac{c}{B}\mathrm{vec}(bb^\top))`."""
    A = sp.Matrix(spec.A)
    M = sp.kronecker_product(A, A)
    q = sp.Matrix((spec.b * spec.b.T).reshape(spec.n * spec.n, 1)) * c / B
    return M, q


def second_moment_vech(
    spec: OptimizerSpec, order: list[tuple[int, int]] | None = None
) -> tuple[sp.Matrix, sp.Matrix]:
    r"""The reduced symmetric form on the distinct entries :math:`E[x_i x_j]`, :math:`i\le j`.

    Returns ``(M, q)`` with :math:`s' = M s + q`, ``s`` ordered by ``order`` (default
    :func:`vech_basis`). This is the 3x3 system of Appendix B (momentum) and D (EMA).
    """
    n = spec.n
    order = order or vech_basis(n)
    index = {pair: k for k, pair in enumerate(order)}
    if sorted(index) != sorted(vech_basis(n)):
        raise ValueError(f"order must list each pair (i, j), i <= j, once; got {order}")
    syms = sp.symbols(f"_m0:{len(order)}")
    S = sp.Matrix(n, n, lambda i, j: syms[index[(min(i, j), max(i, j))]])
    Snew = spec.A * S * spec.A.T
    M = sp.Matrix(len(order), len(order), lambda r, col: sp.factor(sp.expand(Snew[order[r]]).coeff(syms[col])))
    bb = spec.b * spec.b.T
    q = sp.Matrix([sp.factor(bb[pair] * c / B) for pair in order])
    return M, q


def _rational_in_placeholders(exprs: list[sp.Expr]) -> tuple[list[sp.Expr], dict[sp.Dummy, sp.Expr]]:
    r"""``exprs`` with every power :math:`w^e` of non-integer exponent replaced by a placeholder.

    Exponent sums are split first (:math:`h^{1-p} = h\,h^{-p}`); a power whose exponent has a
    minus sign becomes :math:`1/u` with :math:`u = w^{-e}`. Returns the rewritten
    expressions (rational functions) and ``placeholder -> power`` for substituting back.
    """
    table: dict[sp.Expr, sp.Dummy] = {}

    def placeholder(power: sp.Expr) -> sp.Expr:
        base, exponent = power.as_base_exp()
        if exponent.could_extract_minus_sign():
            return 1 / placeholder(base ** (-exponent))
        key = base**exponent
        if key not in table:
            table[key] = sp.Dummy("u", positive=key.is_positive)
        return table[key]

    rewritten = [
        sp.expand_power_exp(e).replace(lambda q: q.is_Pow and not q.exp.is_Integer, placeholder) for e in exprs
    ]
    return rewritten, {u: power for power, u in table.items()}


def _not_identically_zero(expr: sp.Expr, attempts: int = 5) -> bool:
    """True if ``expr`` is non-zero at a random rational point (which proves it is not identically 0)."""
    rng = random.Random(0)
    symbols = sorted(expr.free_symbols, key=sp.default_sort_key)
    for _ in range(attempts):
        point = {s: sp.Rational(rng.randint(5, 95), 100) * (-1 if s.is_nonpositive else 1) for s in symbols}
        value = sp.N(expr.xreplace(point), 50)
        if value.is_number and value.is_finite and abs(value) > sp.Float(10) ** -30:
            return True
    return False


def stationary_covariance(spec: OptimizerSpec) -> sp.ImmutableMatrix:
    r"""The stationary second moment for unit noise, :math:`\bar S = A\bar SA^\top + bb^\top`.

    The stationary second moment of the state is :math:`\frac{c}{B}\bar S`. Entries are
    factored rational functions (in the placeholders of the module docstring, e.g.
    :math:`h^p` for a preconditioned spec); they are finite exactly where the spec is stable.
    """
    n = spec.n
    order = vech_basis(n)
    syms = sp.symbols(f"_s0:{len(order)}")
    S = sp.zeros(n, n)
    for sym, (i, j) in zip(syms, order):
        S[i, j] = S[j, i] = sym
    entries, back = _rational_in_placeholders([*spec.D, *spec.b])
    D, b = sp.Matrix(n, n, entries[: n * n]), sp.Matrix(n, 1, entries[n * n :])
    E = D * S + S * D.T + D * S * D.T + b * b.T
    # each equation times its denominator: a linear system with polynomial coefficients
    equations = [sp.together(sp.expand(E[i, j])).as_numer_denom()[0] for i, j in order]
    matrix, rhs = sp.linear_eq_to_matrix(equations, syms)
    dmatrix, drhs = DomainMatrix.from_Matrix(matrix).unify(DomainMatrix.from_Matrix(rhs))
    try:
        numerators, denominator = dmatrix.solve_den(drhs)  # fraction-free: exact and fast
    except DMNonInvertibleMatrixError as exc:
        raise ValueError(f"{spec.name}: the Lyapunov equation has no unique generic solution") from exc
    denominator = dmatrix.domain.to_sympy(denominator)
    if back and not _not_identically_zero(denominator.xreplace(back)):
        raise ValueError(f"{spec.name}: the Lyapunov equation has no unique generic solution")
    values = {
        sym: sp.factor(num / denominator).xreplace(back) for sym, num in zip(syms, numerators.to_Matrix())
    }
    return sp.ImmutableMatrix(S.xreplace(values))


def characteristic_polynomial_vec(spec: OptimizerSpec, var: sp.Symbol = z) -> sp.Expr:
    r""":math:`\det(zI - A\otimes A)`, factored; its roots are the products :math:`\lambda_i\lambda_j`."""
    M, _ = second_moment_vec(spec)
    return sp.factor((var * sp.eye(M.rows) - M).det(method="berkowitz"))
