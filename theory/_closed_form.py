r"""Closed forms of the expected risk at step t for any spec, through the Z-transform.

Appendix C proves Theorem 1 by solving the second-order difference equation of the
momentum impulse response with the Z-transform and summing its squares. The same route
works for every spec :math:`x' = Ax + b\xi`, :math:`x_0 = \mathrm{init}\,\theta(0)`,
:math:`y = \mathrm{out}\,x`. Unrolling the recursion,

.. math::

    y_t = m_t\,\theta(0) + \sum_{j<t} g_{t-1-j}\,\xi_j, \qquad
    m_t = \mathrm{out}\,A^t\,\mathrm{init}, \qquad g_k = \mathrm{out}\,A^k\,b,

and since the :math:`\xi_j` are independent with variance :math:`c/B` and independent of
:math:`\theta(0)` (with :math:`v_0 = \mathbb{E}\,\theta(0)^2`),

.. math::

    \mathbb{E}\,\ell(t) = \tfrac12 h\,\mathbb{E}\,y_t^2
        = \frac{h}{2}\Bigl[v_0\,m_t^2 + \frac{c}{B}\sum_{k<t} g_k^2\Bigr]
    \xrightarrow{t\to\infty} \frac{hc}{2B}\sum_{k\ge0} g_k^2 .

In the Z-domain :math:`\mathcal{Z}\{m\} = z\,\mathrm{out}(zI-A)^{-1}\mathrm{init}` and
:math:`\mathcal{Z}\{g\} = z\,\mathrm{out}(zI-A)^{-1}b`, rational with denominator
:math:`\det(zI-A)` (eq. 22). :mod:`nqm.theory._ztransform` inverts them (eqs. 27–28 and
33 for momentum), sums the squares in closed form without roots (Parseval; eqs. 30–31) and
in partial sums :math:`\sum_{k<t}`; every result is self-verified there.

Named roots. For a spec with :math:`n \ge 2` states the results are written in named
roots :math:`r_1, \dots, r_n` of :math:`\det(zI-A)` (the paper's :math:`r_1, r_2`), tied to
the hyperparameters by Vieta's relations :math:`e_j(r_1,\dots,r_n) = (-1)^j a_{n-j}` for
:math:`\det(zI-A) = z^n + a_{n-1}z^{n-1} + \dots + a_0`; they hold for distinct roots. The
generic form writes the roots in radicals (:func:`root_values`); at coinciding roots (e.g.
critical damping, :math:`\beta = (1-\sqrt{\alpha h})^2`) substitute the parameter values
into the spec first and derive again, which finds the repeated pole exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from itertools import combinations

import sympy as sp

from ._moments import characteristic_polynomial, eigenvalues
from ._spec import OptimizerSpec, SpecError
from ._symbols import B, c, h, k, r1, r2, t, v0, z
from ._ztransform import inverse_ztransform, partial_sum_of_squares, sum_of_squares

__all__ = [
    "ClosedForm",
    "closed_form",
    "hyperparameters_from_roots",
    "root_symbols",
    "root_values",
    "same_closed_form",
    "transfer_function",
    "vieta_relations",
]


def transfer_function(spec: OptimizerSpec, vector: sp.Matrix, var: sp.Symbol = z) -> sp.Expr:
    r""":math:`z\,\mathrm{out}\,(zI-A)^{-1} v = z\,\mathrm{out}\,\mathrm{adj}(zI-A)\,v/\det(zI-A)`.

    The Z-transform of :math:`\mathrm{out}\,A^k v` (``vector`` :math:`v` = ``init`` for the
    mean path, ``b`` for the impulse response), over the full characteristic polynomial.
    """
    resolvent = var * sp.eye(spec.n) - sp.Matrix(spec.A)
    numerator = (sp.Matrix(spec.out) * resolvent.adjugate(method="berkowitz") * sp.Matrix(vector))[0]
    return sp.expand(var * numerator) / sp.expand(resolvent.det(method="berkowitz"))


def root_symbols(n: int) -> tuple[sp.Symbol, ...]:
    """The named roots :math:`r_1, \\dots, r_n` (:data:`nqm.theory.symbols.r1`, :data:`nqm.theory.symbols.r2`,
    then ``r_3``, ...)."""
    named = (r1, r2)
    return tuple(named[i] if i < 2 else sp.Symbol(f"r_{i + 1}") for i in range(n))


def vieta_relations(spec: OptimizerSpec) -> tuple[sp.Eq, ...]:
    r"""Vieta's relations between the named roots and the spec's symbols.

    :math:`e_j(r_1, \dots, r_n) = (-1)^j a_{n-j}` for :math:`\det(zI - A) = \sum_i a_i z^i`
    (:math:`a_n = 1`); for momentum :math:`r_1 + r_2 = 1 - \alpha h + \beta`,
    :math:`r_1 r_2 = \beta` (Theorem 1).
    """
    roots = root_symbols(spec.n)
    coeffs = sp.Poly(sp.expand(characteristic_polynomial(spec, z)), z).all_coeffs()  # a_n, ..., a_0
    out = []
    for j in range(1, spec.n + 1):
        elementary = sp.Add(*[sp.Mul(*combo) for combo in combinations(roots, j)])
        out.append(sp.Eq(elementary, sp.factor((-1) ** j * coeffs[j] / coeffs[0]), evaluate=False))
    return tuple(out)


@cache
def root_values(spec: OptimizerSpec) -> tuple[sp.Expr, ...]:
    r"""The eigenvalues of :math:`A` in radicals, in the order of the named roots.

    :math:`r_1` is the slow branch: the eigenvalue through 1 at :math:`\alpha = 0` (for
    momentum :math:`\tfrac12[1-\alpha h+\beta+\sqrt{(1-\alpha h+\beta)^2-4\beta}]`, eq. 7;
    for EMA :math:`1-\alpha h`, Theorem 2). The order is decided at one admissible
    numeric point (a labelling, not a claim); specs without a learning rate keep sympy's
    order. Raises :class:`SpecError` if the roots are not simple or not in closed form.
    """
    eig = eigenvalues(spec)
    if any(m > 1 for m in eig.values()):
        raise SpecError(f"{spec.name}: the eigenvalues of A are generically repeated; named roots need simple roots")
    values = sorted(eig, key=sp.default_sort_key)
    lr = next((hp for hp in spec.hyperparameters if hp.name == "lr"), None)
    if lr is None or len(values) < 2:
        return tuple(values)
    point: dict[sp.Symbol, sp.Expr] = {lr.symbol: sp.S.Zero, h: sp.S.One, c: sp.S.One, B: sp.S.One}
    for hp in spec.hyperparameters:
        if hp is not lr:
            lo, hi = hp.interval.inf, hp.interval.sup
            point[hp.symbol] = (lo + hi) / 2 if hi.is_finite else lo + 1
    distance = [abs(complex(sp.N(v.xreplace(point))) - 1) for v in values]
    slow = distance.index(min(distance))
    return (values[slow],) + tuple(v for i, v in enumerate(values) if i != slow)


def hyperparameters_from_roots(
    spec: OptimizerSpec, labels: Mapping[sp.Symbol, sp.Expr] | None = None
) -> dict[sp.Symbol, sp.Expr]:
    r"""Solve Vieta's relations for the spec's hyperparameters in terms of :math:`r_1, \dots, r_n`.

    With :math:`n` relations, the first :math:`n` hyperparameters (the learning rate and
    the momentum-like ones, in declaration order) are solved for; e.g. momentum:
    :math:`\alpha = (1-r_1)(1-r_2)/h`, :math:`\beta = r_1 r_2`. Substituting this into
    two expressions in named roots turns an identity "modulo Vieta" into an identity of
    rational functions of the :math:`r_i` (the substitution :math:`r_1, r_2` of the brief).

    ``labels`` picks one solution when several exist: the paper's labelling of the roots,
    e.g. ``{r1: 1 - alpha*h, r2: gamma}`` for Theorem 2.
    """
    unknowns = list(spec.symbols[: spec.n])
    if len(unknowns) < spec.n:
        raise SpecError(f"{spec.name}: fewer hyperparameters than roots; cannot invert Vieta's relations")
    solutions = sp.solve([rel.lhs - rel.rhs for rel in vieta_relations(spec)], unknowns, dict=True)
    if labels:
        solutions = [
            s for s in solutions if all(sp.cancel(sp.sympify(v).xreplace(s) - r) == 0 for r, v in labels.items())
        ]
    if len(solutions) != 1:
        raise SpecError(f"{spec.name}: Vieta's relations have {len(solutions)} matching solutions; pass labels")
    return {sym: sp.factor(v) for sym, v in solutions[0].items()}


@dataclass(frozen=True, eq=False)
class ClosedForm:
    r"""Closed forms in :math:`t` of one spec's expected risk (see the module docstring).

    ``named`` selects named roots :math:`r_1, \dots, r_n` (with :attr:`vieta`) over roots
    in radicals; it needs :math:`n \ge 2`. Each attribute is computed and self-verified on
    first use.
    """

    spec: OptimizerSpec
    named: bool

    def __post_init__(self) -> None:
        if self.named and self.spec.n < 2:
            raise SpecError(f"{self.spec.name} has one state: its single root needs no name")

    @property
    def poles(self) -> dict[sp.Symbol, int] | None:
        """The ``poles`` passed to the Z-transform engine: the named roots, or None (radicals)."""
        return {r: 1 for r in root_symbols(self.spec.n)} if self.named else None

    @property
    def roots(self) -> tuple[sp.Expr, ...]:
        r"""The roots as they appear in the results: :math:`(r_1, \dots, r_n)` or their values."""
        return root_symbols(self.spec.n) if self.named else root_values(self.spec)

    @cached_property
    def vieta(self) -> tuple[sp.Eq, ...]:
        """Vieta's relations of the named roots (empty for the generic form)."""
        return vieta_relations(self.spec) if self.named else ()

    def in_radicals(self, expr: sp.Expr) -> sp.Expr:
        r"""``expr`` with the named roots replaced by :func:`root_values` (the generic form)."""
        if not self.named:
            return sp.sympify(expr)
        return sp.sympify(expr).xreplace(dict(zip(root_symbols(self.spec.n), root_values(self.spec))))

    @cached_property
    def mean_path(self) -> sp.Expr:
        r""":math:`m_t = \mathrm{out}\,A^t\,\mathrm{init} = \mathbb{E}\,y_t/\theta(0)`, in :data:`nqm.theory.symbols.t`.

        For momentum this is the bracket of Theorem 1 (eqs. 32–33), for EMA that of Theorem 2.
        """
        return inverse_ztransform(transfer_function(self.spec, self.spec.init), z, t, poles=self.poles)

    @cached_property
    def impulse_response(self) -> sp.Expr:
        r""":math:`g_k = \mathrm{out}\,A^k b`, the response of :math:`y_{j+1+k}` to the noise :math:`\xi_j` (eq. 28)."""
        return inverse_ztransform(transfer_function(self.spec, self.spec.b), z, k, poles=self.poles)

    @cached_property
    def noise_sum(self) -> sp.Expr:
        r""":math:`\sum_{k\ge0} g_k^2` in closed form without roots (Parseval; Appendix C, eqs. 30–31).

        Times :math:`hc/(2B)` it is the stationary risk; it equals
        :math:`\mathrm{out}\,\bar S\,\mathrm{out}^\top` of the Lyapunov route.
        """
        return sum_of_squares(transfer_function(self.spec, self.spec.b), z)

    @cached_property
    def partial_noise_sum(self) -> sp.Expr:
        r""":math:`s_t = \sum_{k<t} g_k^2`, the noise accumulated by step :math:`t`."""
        return partial_sum_of_squares(transfer_function(self.spec, self.spec.b), z, t, poles=self.poles)

    @property
    def start_part(self) -> sp.Expr:
        r""":math:`\tfrac12 h\,v_0\,m_t^2`, the decaying term (first term of eqs. 4, 6, 12)."""
        return h / 2 * v0 * self.mean_path**2

    @property
    def noise_part(self) -> sp.Expr:
        r""":math:`\tfrac{hc}{2B}\sum_{k<t} g_k^2`, the noise term before stationarity."""
        return h * c / (2 * B) * self.partial_noise_sum

    @property
    def expected_risk(self) -> sp.Expr:
        r""":math:`\mathbb{E}\,\ell(t) = \tfrac{h}{2}\bigl[v_0 m_t^2 + \tfrac{c}{B}\sum_{k<t}g_k^2\bigr]` (exact)."""
        return self.start_part + self.noise_part

    @property
    def stationary_risk(self) -> sp.Expr:
        r""":math:`\lim_{t\to\infty}\mathbb{E}\,\ell(t) = \tfrac{hc}{2B}\sum_k g_k^2` (stable specs)."""
        return sp.factor(h * c / (2 * B) * self.noise_sum)


@cache
def closed_form(spec: OptimizerSpec, named: bool | None = None) -> ClosedForm:
    """The (cached) :class:`ClosedForm` of ``spec``; ``named`` defaults to named roots for n >= 2."""
    return ClosedForm(spec, spec.n >= 2 if named is None else named)


# --------------------------------------------------------------------------- identities
def same_closed_form(
    a: sp.Basic,
    b: sp.Basic,
    substitution: Mapping[sp.Symbol, sp.Expr] | None = None,
    indices: Sequence[sp.Symbol] = (t, k),
) -> bool:
    r"""True if ``a`` and ``b`` are provably equal for all integer ``indices`` >= 0.

    Powers :math:`w^{a i + b}` with an index :math:`i` become :math:`U_w^a w^b` with one new
    symbol :math:`U_w` per base :math:`w` (up to sign, :math:`(-w)^i = (-1)^iw^i`), so the
    sequences compare as rational functions; radicands are brought to one normal form.
    ``substitution`` (e.g. :func:`hyperparameters_from_roots`) is applied to both first.
    False means "not shown equal".
    """
    diff = sp.sympify(a) - sp.sympify(b)
    if substitution:
        diff = diff.subs(dict(substitution))
    return _vanishes(_index_powers(diff, indices))


def _index_powers(expr: sp.Expr, indices: Sequence[sp.Symbol]) -> sp.Expr:
    """Replace index-dependent powers by powers of per-base placeholder symbols."""
    expr = sp.expand_power_base(sp.expand_power_exp(expr), force=True)
    placeholders: dict[tuple[sp.Expr, sp.Symbol], sp.Symbol] = {}

    def split(power: sp.Pow) -> sp.Expr:
        base, exponent = power.as_base_exp()
        exponent = sp.expand(exponent)
        for i in indices:
            if not exponent.has(i):
                continue
            slope, offset = exponent.coeff(i, 1), exponent.coeff(i, 0)
            if sp.expand(slope * i + offset - exponent) != 0 or slope.has(*indices) or not slope.is_integer:
                return power
            factor = sp.S.One
            if base.could_extract_minus_sign():
                base, factor = -base, _placeholder(placeholders, sp.S.NegativeOne, i) ** slope * (-1) ** offset
            return factor * _placeholder(placeholders, base, i) ** slope * base**offset
        return power

    return expr.replace(lambda e: e.is_Pow and e.exp.has(*indices), split)


def _placeholder(table: dict[tuple[sp.Expr, sp.Symbol], sp.Symbol], base: sp.Expr, index: sp.Symbol) -> sp.Symbol:
    return table.setdefault((base, index), sp.Dummy(f"U_{index}"))


def _normal_radicals(expr: sp.Expr) -> sp.Expr:
    """Write every square root as :math:`\\sqrt{\\text{expanded radicand over a common denominator}}`."""
    return expr.replace(
        lambda e: e.is_Pow and e.exp == sp.S.Half and not e.base.is_Number,
        lambda e: sp.sqrt(sp.together(sp.expand(e.base))),
    )


def _vanishes(expr: sp.Expr) -> bool:
    """True if ``expr`` is shown to be 0 by expansion, cancellation or (last) simplification."""
    expr = _normal_radicals(sp.sympify(expr))
    if sp.expand(expr) == 0 or sp.cancel(sp.together(expr)) == 0:
        return True
    return sp.simplify(expr) == 0
