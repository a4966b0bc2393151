r"""Everything the theory derives from one optimizer spec.

:func:`derive` returns a cached :class:`Derivation`; each attribute is computed on first
use from the spec's matrices alone (nothing optimizer-specific is typed here):

* mean dynamics and the characteristic polynomial :math:`\det(zI-A)` (eq. 22);
* second-moment dynamics, vectorised (:math:`A\otimes A`) and reduced, with eigenvalues
  :math:`\lambda_i\lambda_j`;
* the stationary second moment (discrete Lyapunov equation) and the stationary risk
  :math:`\tfrac12 h\,\frac{c}{B}\,\mathrm{out}\,\bar S\,\mathrm{out}^\top`;
* stability (Jury/Schur–Cohn conditions on the characteristic polynomial);
* the effective learning rate (from the rate and from the steady state) and small-step series;
* closed forms of the risk at step t via the Z-transform (:mod:`nqm.theory._closed_form`);
* the numeric-ready invariants that :mod:`nqm.numerics` evaluates (:attr:`Derivation.numeric`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, cached_property

import sympy as sp

from ._closed_form import ClosedForm, closed_form
from ._latex import _summary_formulas, latex_display
from ._moments import (
    _rational_in_placeholders,
    characteristic_polynomial,
    eigenvalues,
    second_moment_vec,
    second_moment_vech,
    stationary_covariance,
)
from ._spec import OptimizerSpec, SpecError
from ._stability import jury_conditions, stability_region
from ._symbols import B, c, h, x, z

__all__ = ["Derivation", "NumericInvariants", "derive"]


@dataclass(frozen=True)
class NumericInvariants:
    r"""Symbolic inputs of the numeric engine, factored for accurate floating-point evaluation.

    With :math:`D = A - I`, :math:`\sigma = \tfrac12\operatorname{tr}D` and
    :math:`K = D - \sigma I`, a 2x2 (or 1x1) transition satisfies :math:`K^2 = \Delta I`
    with :math:`\Delta = \sigma^2 - \det D`, hence (Cayley–Hamilton)

    .. math::

        A^t = c_t\,I + s_t\,K, \qquad c_t = \tfrac12(\lambda_1^t + \lambda_2^t), \quad
        s_t = \frac{\lambda_1^t - \lambda_2^t}{\lambda_1 - \lambda_2},

    the Chebyshev form of the paper's bracket (Theorem 1). The risk of one direction is

    .. math::

        \mathbb{E}\ell(t) = \tfrac12 h\Bigl[v_0\,(c_t u_0 + s_t u_1)^2
            + \tfrac{c}{B}\bigl(w_0 - c_t^2 w_0 - 2c_ts_t w_1 - s_t^2 w_2\bigr)\Bigr],

    with :math:`u_0 = \mathrm{out}\,\mathrm{init}`, :math:`u_1 = \mathrm{out}\,K\,\mathrm{init}`,
    :math:`w_0 = \mathrm{out}\bar S\mathrm{out}^\top`, :math:`w_1 = \mathrm{out}K\bar S\mathrm{out}^\top`,
    :math:`w_2 = \mathrm{out}K\bar SK^\top\mathrm{out}^\top`. For n = 1, K = 0 and
    :math:`\det D = \sigma^2`. For n >= 3 the Chebyshev fields are ``None`` and the
    engine powers :math:`A = I + D` by exact doubling instead.
    """

    n: int
    D: tuple[sp.Expr, ...]  # row-major n*n
    b: tuple[sp.Expr, ...]
    init: tuple[sp.Expr, ...]
    out: tuple[sp.Expr, ...]
    Sbar: tuple[sp.Expr, ...]  # row-major n*n (symmetric)
    w0: sp.Expr
    sigma: sp.Expr | None = None
    det_D: sp.Expr | None = None
    det_A_minus_1: sp.Expr | None = None
    u0: sp.Expr | None = None
    u1: sp.Expr | None = None
    w1: sp.Expr | None = None
    w2: sp.Expr | None = None


def _factor(e: sp.Expr) -> sp.Expr:
    return sp.factor(sp.cancel(e))


@dataclass(frozen=True, eq=False)
class Derivation:
    """Lazily derived results for one :class:`OptimizerSpec` (use :func:`derive`)."""

    spec: OptimizerSpec

    def _repr_latex_(self) -> str:
        """Jupyter display: the state-space form, characteristic polynomial, stationary risk and
        stability conditions, as the LaTeX document writes them (:func:`nqm.theory.derivation_latex`)."""
        formulas = _summary_formulas(
            self.spec, self.characteristic_polynomial, self.stationary_risk, self.stability_conditions
        )
        return latex_display(formulas)

    # ------------------------------------------------------------------ mean dynamics
    @cached_property
    def characteristic_polynomial(self) -> sp.Expr:
        r""":math:`\det(zI - A)` in the variable :data:`nqm.theory.symbols.z`, factored."""
        return characteristic_polynomial(self.spec, z)

    @cached_property
    def eigenvalues(self) -> dict[sp.Expr, int]:
        """Roots of the characteristic polynomial with multiplicities (sympy ``roots``)."""
        return eigenvalues(self.spec)

    # ------------------------------------------------------------------ second moments
    @cached_property
    def second_moment_vec(self) -> tuple[sp.Matrix, sp.Matrix]:
        r""":math:`(A\otimes A, \frac{c}{B}\mathrm{vec}\,bb^\top)`."""
        return second_moment_vec(self.spec)

    @cached_property
    def second_moment(self) -> tuple[sp.Matrix, sp.Matrix]:
        """The reduced second-moment system ``(M, q)`` on the upper-triangle entries."""
        return second_moment_vech(self.spec)

    @cached_property
    def second_moment_eigenvalues(self) -> dict[sp.Expr, int]:
        r"""Eigenvalues of :math:`A\otimes A`: all products :math:`\lambda_i\lambda_j`."""
        out: dict[sp.Expr, int] = {}
        for li, mi in self.eigenvalues.items():
            for lj, mj in self.eigenvalues.items():
                key = sp.simplify(li * lj)
                out[key] = out.get(key, 0) + mi * mj
        return out

    @cached_property
    def stationary_covariance(self) -> sp.ImmutableMatrix:
        r""":math:`\bar S` with :math:`\bar S = A\bar SA^\top + bb^\top` (multiply by c/B)."""
        return stationary_covariance(self.spec)

    @cached_property
    def stationary_risk(self) -> sp.Expr:
        r"""Stationary expected risk of one direction,
        :math:`\tfrac12 h\frac{c}{B}\mathrm{out}\bar S\mathrm{out}^\top`."""
        out = sp.Matrix(self.spec.out)
        return _factor(h / 2 * c / B * (out * self.stationary_covariance * out.T)[0])

    # ------------------------------------------------------------------ stability
    def _characteristic_poly(self) -> tuple[sp.Poly, dict[sp.Dummy, sp.Expr]]:
        r"""The characteristic polynomial as a :class:`~sympy.Poly` in z with rational coefficients.

        Powers with symbolic exponents (:math:`h^{1-p}` of a preconditioned spec, eq. 8) become
        placeholders first (as in :mod:`._moments`); the second value maps them back.
        """
        (poly,), back = _rational_in_placeholders([sp.expand(self.characteristic_polynomial)])
        return sp.Poly(poly, z), back

    @cached_property
    def stability_conditions(self) -> list[sp.Basic]:
        """Jury (Schur–Cohn) conditions: all eigenvalues of A strictly inside the unit circle."""
        poly, back = self._characteristic_poly()
        return [cond.xreplace(back) for cond in jury_conditions(poly, z)]

    @cached_property
    def stability_region(self) -> sp.Basic:
        """The stability conditions reduced, where sympy can, to a region in the hyperparameters."""
        assumptions = {hp.symbol: hp.interval for hp in self.spec.hyperparameters}
        poly, back = self._characteristic_poly()
        return stability_region(poly, z, assumptions).xreplace(back)

    # ------------------------------------------------------------------ small-step behaviour
    def _lr_symbol(self) -> sp.Symbol:
        for hp in self.spec.hyperparameters:
            if hp.name == "lr":
                return hp.symbol
        raise SpecError(f"{self.spec.name} has no hyperparameter named 'lr'")

    @cached_property
    def slow_eigenvalue_slope(self) -> sp.Expr:
        r""":math:`\partial\lambda/\partial\alpha` at :math:`\alpha = 0` of the eigenvalue branch through 1.

        By the implicit function theorem on :math:`p(z,\alpha) = \det(zI-A) = 0` at
        :math:`(z,\alpha) = (1, 0)`: :math:`\lambda'(0) = -p_\alpha / p_z`.
        """
        lr = self._lr_symbol()
        poly = sp.expand(self.characteristic_polynomial)
        at = {z: 1, lr: 0}
        pz = sp.diff(poly, z).subs(at)
        if sp.simplify(pz) == 0:
            raise SpecError(f"{self.spec.name}: the eigenvalue through 1 at lr = 0 is not simple")
        return _factor(-sp.diff(poly, lr).subs(at) / pz)

    @cached_property
    def effective_lr(self) -> sp.Expr:
        r"""Effective learning rate from the rate: :math:`\lambda \approx 1 - \alpha_{\rm eff} h`.

        For heavy-ball momentum this is :math:`\alpha/(1-\beta)` (Section 3.2, eq. 7).
        """
        return _factor(-self.slow_eigenvalue_slope * self._lr_symbol() / h)

    @cached_property
    def effective_lr_steady_state(self) -> sp.Expr:
        r"""Effective learning rate from the steady state: the SGD rate with the same
        small-:math:`\alpha` stationary risk, :math:`\alpha_{\rm eff} = \lim_{\alpha\to0}
        \mathcal{L}_\infty \cdot 4B/c`.
        """
        lr = self._lr_symbol()
        first = sp.diff(self.stationary_risk, lr).subs(lr, 0)
        return _factor(first * lr * 4 * B / c)

    def series_in_x(self, expr: sp.Expr, order: int = 2) -> sp.Expr:
        r"""Series of ``expr`` in :math:`x = \alpha h` about 0, to ``O(x**order)``."""
        lr = self._lr_symbol()
        return sp.series(sp.sympify(expr).subs(lr, x / h), x, 0, order).removeO()

    @cached_property
    def slow_eigenvalue_series(self) -> sp.Expr:
        r"""First-order series :math:`1 + \lambda'(0)\alpha` of the slow eigenvalue, in :math:`x = \alpha h`.

        For momentum: :math:`1 - x/(1-\beta)` (eq. 7's small-:math:`\alpha h` limit).
        """
        lr = self._lr_symbol()
        return sp.expand((1 + self.slow_eigenvalue_slope * lr).subs(lr, x / h))

    # ------------------------------------------------------------------ closed forms (Z-transform)
    @cached_property
    def closed_form(self) -> ClosedForm:
        r"""Closed forms of :math:`\mathbb{E}\,\ell(t)` via the Z-transform (:mod:`nqm.theory._closed_form`).

        In named roots :math:`r_1, r_2, \dots` with Vieta's relations for specs with two or
        more states (Theorems 1 and 2), in radicals for one state (eq. 4).
        """
        return closed_form(self.spec)

    @cached_property
    def closed_form_generic(self) -> ClosedForm:
        """The same closed forms with the roots written in radicals."""
        return closed_form(self.spec, named=False)

    @cached_property
    def mean_path(self) -> sp.Expr:
        r""":math:`m_t = \mathrm{out}\,A^t\,\mathrm{init}` (the bracket of Theorems 1 and 2), via
        :attr:`closed_form`."""
        return self.closed_form.mean_path

    @cached_property
    def noise_sum(self) -> sp.Expr:
        r""":math:`\sum_k g_k^2`, :math:`g_k = \mathrm{out}A^kb`, root-free (Appendix C's route to the
        stationary risk)."""
        return self.closed_form.noise_sum

    @cached_property
    def expected_risk(self) -> sp.Expr:
        r""":math:`\mathbb{E}\,\ell(t) = \tfrac{h}{2}[v_0 m_t^2 + \tfrac{c}{B}\sum_{k<t} g_k^2]`, exact, via
        :attr:`closed_form`."""
        return self.closed_form.expected_risk

    # ------------------------------------------------------------------ numeric engine inputs
    @cached_property
    def numeric(self) -> NumericInvariants:
        """The factored invariants evaluated by :mod:`nqm.numerics` (see :class:`NumericInvariants`)."""
        spec = self.spec
        n = spec.n
        D = sp.Matrix(spec.D)
        S = sp.Matrix(self.stationary_covariance)
        out, init = sp.Matrix(spec.out), sp.Matrix(spec.init)
        common = dict(
            n=n,
            D=tuple(D),
            b=tuple(spec.b),
            init=tuple(spec.init),
            out=tuple(spec.out),
            Sbar=tuple(S),
            w0=_factor((out * S * out.T)[0]),
        )
        if n > 2:
            return NumericInvariants(**common)
        sigma = _factor(D.trace() / 2) if n == 2 else D[0, 0]
        K = D - sigma * sp.eye(n)
        return NumericInvariants(
            **common,
            sigma=sigma,
            det_D=_factor(D.det()) if n == 2 else sigma**2,
            det_A_minus_1=_factor(sp.expand(spec.A.det() - 1)),
            u0=_factor((out * init)[0]),
            u1=_factor((out * K * init)[0]),
            w1=_factor((out * K * S * out.T)[0]),
            w2=_factor((out * K * S * K.T * out.T)[0]),
        )


@cache
def derive(spec: OptimizerSpec) -> Derivation:
    """The (cached) :class:`Derivation` of ``spec``."""
    return Derivation(spec)

