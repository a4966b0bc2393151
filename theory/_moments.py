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
"""

from __future__ import annotations

import sympy as sp

from ._spec import OptimizerSpec
from ._symbols import B, c, z

__all__ = [
    "vech_basis",
    "second_moment_vec",
    "second_moment_vech",
    "stationary_covariance",
    "characteristic_polynomial",
]


def characteristic_polynomial(spec: OptimizerSpec, var: sp.Symbol = z) -> sp.Expr:
    r""":math:`\det(zI - A)`, the characteristic polynomial of the mean dynamics (eq. 22)."""
    return sp.factor(sp.expand((var * sp.eye(spec.n) - spec.A).det()))


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


def stationary_covariance(spec: OptimizerSpec) -> sp.ImmutableMatrix:
    r"""The stationary second moment for unit noise, :math:`\bar S = A\bar SA^\top + bb^\top`.

    The stationary second moment of the state is :math:`\frac{c}{B}\bar S`. Entries are
    factored rational functions; they are finite exactly where the spec is stable.
    """
    n = spec.n
    order = vech_basis(n)
    syms = sp.symbols(f"_s0:{len(order)}")
    S = sp.zeros(n, n)
    for sym, (i, j) in zip(syms, order):
        S[i, j] = S[j, i] = sym
    D = sp.Matrix(spec.D)
    E = D * S + S * D.T + D * S * D.T + spec.b * spec.b.T
    eqs = [sp.expand(E[i, j]) for i, j in order]
    # sympy's linear solver over the field of rational functions (fast, exact)
    solutions = sp.solve(eqs, syms, dict=True)
    if len(solutions) != 1 or set(solutions[0]) != set(syms):
        raise ValueError(f"{spec.name}: the Lyapunov equation has no unique generic solution")
    values = {sym: sp.factor(v) for sym, v in solutions[0].items()}
    return sp.ImmutableMatrix(S.subs(values).applyfunc(sp.factor))


def characteristic_polynomial_vec(spec: OptimizerSpec, var: sp.Symbol = z) -> sp.Expr:
    r""":math:`\det(zI - A\otimes A)`, factored; its roots are the products :math:`\lambda_i\lambda_j`."""
    M, _ = second_moment_vec(spec)
    return sp.factor((var * sp.eye(M.rows) - M).det(method="berkowitz"))
