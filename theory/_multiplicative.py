r"""Exact state-dependent (multiplicative) gradient noise of least squares with Gaussian inputs.

The NQM (eq. 1) draws gradient noise of fixed covariance :math:`C/B`. Stochastic
gradients of linear regression do not: with inputs :math:`x\sim N(0,\Sigma)`, labels
:math:`y = x^\top\theta^\ast+\varepsilon`, :math:`\varepsilon\sim N(0,\sigma^2)` and
:math:`w = \theta-\theta^\ast`, one example's gradient of :math:`\tfrac12(x^\top\theta-y)^2` is
:math:`g = x(x^\top w-\varepsilon)` with mean :math:`\Sigma w` (so :math:`H=\Sigma`) and, by
Isserlis' theorem :math:`\mathbb{E}[x_ax_bx_cx_d] = \Sigma_{ab}\Sigma_{cd}+\Sigma_{ac}\Sigma_{bd}
+\Sigma_{ad}\Sigma_{bc}`,

.. math::

    \operatorname{Cov}(g\mid w) = \mathbb{E}[xx^\top ww^\top xx^\top] + \sigma^2\Sigma - \Sigma ww^\top\Sigma
      = \Sigma ww^\top\Sigma + (w^\top\Sigma w)\,\Sigma + \sigma^2\Sigma .

In the eigenbasis of :math:`\Sigma = \operatorname{diag}(h_i)` the noise of direction i has
conditional variance :math:`\bigl(h_i^2w_i^2 + h_i\sum_j h_jw_j^2 + c_i\bigr)/B` for a
mini-batch of B examples, with :math:`c_i = \sigma^2h_i` (the NQM's :math:`C=\sigma^2H`).
The noise is uncorrelated with the state, so taking expectations keeps the
second-moment dynamics **linear** (though coupled across directions through
:math:`\mathbb{E}[w^\top\Sigma w]`): for a spec :math:`x' = Ax+b\xi` that queries one gradient
per step at :math:`w = q\,x`,

.. math::

    S_i' = A_iS_iA_i^\top + \frac{b_ib_i^\top}{B}\Bigl(c_i + h_i^2\,qS_iq^\top
      + h_i\sum_j m_j h_j\,qS_jq^\top\Bigr),

where :math:`S_i = \mathbb{E}[x_ix_i^\top]` and :math:`m_j` is the multiplicity of direction j.
Only the diagonal blocks :math:`S_i` enter, so the recursion closes on them exactly, for
any start (random or deterministic). The query row :math:`q` is read off the spec: a
single query :math:`\hat g = h\,qx+\xi` makes :math:`\partial A/\partial h = b\,q`.

A preconditioner :math:`P=H^p` (eqs. 8–9) maps the model to itself: in
:math:`\tilde\theta = h^{p/2}\theta` the noise :math:`h^{-p/2}\xi` has variance
:math:`\bigl(\tilde h_i^2\tilde w_i^2 + \tilde h_i\sum_j\tilde h_j\tilde w_j^2 + \tilde c_i\bigr)/B`
with :math:`\tilde h = h^{1-p}`, :math:`\tilde c = ch^{-p}` — the same form on
:data:`~nqm.theory.PRECONDITIONED_PROBLEM` (checked symbolically by
:func:`preconditioned_noise_is_invariant`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import sympy as sp

from ._moments import second_moment_vech, vech_basis
from ._spec import PRECONDITIONED_PROBLEM, OptimizerSpec, SpecError
from ._symbols import B, c, h, p

__all__ = [
    "MultiplicativeDynamics",
    "multiplicative_dynamics",
    "query_row",
    "gaussian_design_noise_variance",
    "preconditioned_noise_is_invariant",
    "COUPLING",
]

#: :math:`\Lambda = \sum_j m_jh_j\,\mathbb{E}[w_j^2] = \mathbb{E}[w^\top\Sigma w]`, the coupling
#: through which every direction's noise depends on all the others
COUPLING = sp.Symbol("Lambda", nonnegative=True)


def gaussian_design_noise_variance(hh: sp.Expr, ww2: sp.Expr, coupling: sp.Expr, cc: sp.Expr) -> sp.Expr:
    r"""Per-example noise variance of one eigen-direction: :math:`h^2\mathbb{E}w^2 + h\Lambda + c`."""
    return hh**2 * ww2 + hh * coupling + cc


def query_row(spec: OptimizerSpec) -> sp.ImmutableMatrix:
    r"""The row :math:`q` with gradient query point :math:`w = q\,x`, from :math:`\partial A/\partial h = b\,q`.

    Raises :class:`SpecError` unless the spec queries exactly one gradient per step
    (``A`` affine in :math:`h`, ``b`` free of :math:`h`, :math:`\partial A/\partial h` of
    rank one along ``b``) and is not already preconditioned (precondition through the
    problem instead, see the module docstring).
    """
    if spec.preconditioned:
        raise SpecError(
            f"{spec.name}: pass the un-preconditioned spec; preconditioning acts on the problem "
            "(h -> h^(1-p), c -> c h^(-p)) and leaves the multiplicative model's form unchanged"
        )
    if any(sp.diff(e, h) != 0 for e in spec.b):
        raise SpecError(f"{spec.name}: b depends on h, so the step queries more than one gradient")
    dA = spec.A.diff(h)
    if any(sp.simplify(e) != 0 for e in dA.diff(h)):
        raise SpecError(f"{spec.name}: A is not affine in h, so the step queries more than one gradient")
    rows = [i for i, e in enumerate(spec.b) if sp.simplify(e) != 0]
    if not rows:
        raise SpecError(f"{spec.name}: b is zero; the update ignores the gradient")
    q = (dA[rows[0], :] / spec.b[rows[0]]).applyfunc(sp.cancel)
    if any(sp.simplify(e) != 0 for e in (dA - spec.b * q)) or q.free_symbols & {h, c, B}:
        raise SpecError(f"{spec.name}: dA/dh is not b q for a single query row q; not a one-query method")
    return sp.ImmutableMatrix(q)


@dataclass(frozen=True)
class MultiplicativeDynamics:
    r"""The coupled second-moment recursion of one spec in reduced (vech) coordinates.

    With :math:`s_i` the distinct entries of :math:`S_i` (order :func:`~nqm.theory.vech_basis`),

    .. math::

        s_i' = M\,s_i + \frac{g}{B}\bigl(c_i + h_i^2\,r\cdot s_i + h_i\Lambda\bigr),
        \qquad \Lambda = \sum_j m_jh_j\,r\cdot s_j,\qquad \mathbb{E}\ell_i = \tfrac12h_i\,u\cdot s_i,

    where ``M`` is the constant-noise NQM's second-moment matrix (Appendices B, D),
    :math:`g = \mathrm{vech}(bb^\top)`, :math:`r\cdot s = qSq^\top` (query second moment) and
    :math:`u\cdot s = \mathrm{out}\,S\,\mathrm{out}^\top`. ``self_matrix`` is
    :math:`M + g\,h^2r/B`, the part of the transition that stays within a direction.
    """

    spec: OptimizerSpec
    query: sp.ImmutableMatrix  # 1 x n, q
    M: sp.ImmutableMatrix
    gain: sp.ImmutableMatrix  # vech(b b^T)
    query_form: sp.ImmutableMatrix  # 1 x m, r
    risk_form: sp.ImmutableMatrix  # 1 x m, u

    @property
    def self_matrix(self) -> sp.ImmutableMatrix:
        """:math:`M + g h^2 r / B`: the within-direction transition of the multiplicative model."""
        return sp.ImmutableMatrix((self.M + self.gain * self.query_form * h**2 / B).applyfunc(sp.factor))

    def step(self, s: sp.Matrix, coupling: sp.Expr = COUPLING) -> sp.Matrix:
        r"""One step :math:`s\mapsto Ms + \frac{g}{B}(c + h^2 r\cdot s + h\Lambda)` (symbolic)."""
        ww2 = (self.query_form * s)[0]
        return self.M * s + self.gain / B * gaussian_design_noise_variance(h, ww2, coupling, c)


def _quadratic_form_row(row: sp.Matrix, order: list[tuple[int, int]]) -> sp.ImmutableMatrix:
    """Coefficients ``f`` with ``row S row^T = f . vech(S)`` for symmetric S."""
    coeff = []
    for i, j in order:
        coeff.append(row[i] * row[j] * (1 if i == j else 2))
    return sp.ImmutableMatrix([[sp.factor(v) for v in coeff]])


@cache
def multiplicative_dynamics(spec: OptimizerSpec) -> MultiplicativeDynamics:
    """Derive the coupled second-moment recursion of ``spec`` (cached); see :class:`MultiplicativeDynamics`."""
    q = query_row(spec)
    order = vech_basis(spec.n)
    M, noise = second_moment_vech(spec, order)
    gain = sp.ImmutableMatrix([sp.factor(e * B / c) for e in noise])
    return MultiplicativeDynamics(
        spec=spec,
        query=q,
        M=sp.ImmutableMatrix(M),
        gain=gain,
        query_form=_quadratic_form_row(sp.Matrix(q), order),
        risk_form=_quadratic_form_row(sp.Matrix(spec.out), order),
    )


def preconditioned_noise_is_invariant() -> bool:
    r"""Check symbolically that :math:`P=H^p` maps the Gaussian-design noise to its own form.

    In :math:`\tilde\theta = h^{p/2}\theta` (so :math:`\mathbb{E}w^2 = h^{-p}\mathbb{E}\tilde w^2`) the
    preconditioned noise :math:`h^{-p/2}\xi` has variance :math:`h^{-p}(h^2\mathbb{E}w^2 + h\Lambda + c)`;
    with :math:`\Lambda = \sum_j h_j\mathbb{E}w_j^2 = \sum_j\tilde h_j\mathbb{E}\tilde w_j^2 = \tilde\Lambda`
    this equals :math:`\tilde h^2\mathbb{E}\tilde w^2 + \tilde h\tilde\Lambda + \tilde c`.
    """
    wt2, lam = sp.symbols("wtilde2 Lambda", nonnegative=True)
    hj, wj2 = sp.symbols("h_j wtilde_j2", positive=True)
    # one coupling term: h_j E w_j^2 with E w_j^2 = h_j^(-p) E wtilde_j^2 is htilde_j E wtilde_j^2
    coupling_same = sp.simplify(sp.powsimp(hj * hj ** (-p) * wj2 - hj ** (1 - p) * wj2, force=True)) == 0
    original = h ** (-p) * gaussian_design_noise_variance(h, h ** (-p) * wt2, lam, c)
    tilde = gaussian_design_noise_variance(PRECONDITIONED_PROBLEM[h], wt2, lam, PRECONDITIONED_PROBLEM[c])
    return bool(coupling_same and sp.simplify(sp.powsimp(sp.expand(original - tilde), force=True)) == 0)
