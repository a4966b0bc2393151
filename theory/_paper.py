r"""The paper's statements, typed as claims, each re-derived from the specs and compared symbolically.

Every :class:`Statement` holds the claim as the paper (or a public restatement) writes it, a
function that derives the same object from the optimizer specs alone (nothing
optimizer-specific is typed in a derivation: it reads :func:`nqm.theory.derive`, the
closed forms of :mod:`nqm.theory._closed_form` and the specs' matrices), the assumptions
under which the claim is made, and the comparison that decides equality. ``check()``
returns a :class:`Check` with both objects and the verdict; statements with
``correct=False`` are known errors in public restatements, which the derivation must
*refute* (the damping boundary :math:`(1-\alpha h)^2`, and Theorem 2's factor without
:math:`\gamma`).

How regimes are handled:

* named roots: identities in :math:`r_1, r_2` hold modulo Vieta's relations; both sides
  are compared after substituting the hyperparameters solved from those relations
  (:func:`~nqm.theory._closed_form.hyperparameters_from_roots`, e.g.
  :math:`\alpha = (1-r_1)(1-r_2)/h`, :math:`\beta = r_1r_2`), valid for distinct roots;
* the overdamped regime: the discriminant is replaced by a positive symbol, which orders
  the real roots;
* inequalities: the claimed relation's sides must match the derived ones, and the derived
  difference must be provably positive on the stated domain (:func:`positive_on`).

Where a formula is restated (the paper's extracted text lost it), the reference says so; docs/math states them all.

Where the statements live, and why here: a statement is theory (a claim and a derivation from
the specs, both sympy), and theory's LaTeX document (:func:`~nqm.theory.latex_document`) prints
each one with its derivation, while :mod:`nqm.theory` may not import :mod:`nqm.proofs`. So every
statement is defined once, below, as a module-level constant (``EQ4_SGD_RISK``,
``THEOREM1_BOUND``, ...), and :data:`STATEMENTS` lists those same objects in document order. A
claim of the proof catalogue (:mod:`nqm.proofs.claims`) holds the statement objects it rests on
together with its proof (method, assumptions, domain, further checks): one claim, one entry, no
names joining two registries. :func:`statement` looks a statement up by its name, for
interactive use; the catalogue never does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property

import sympy as sp

from ._builtins import ema, momentum, sgd
from ._closed_form import closed_form, hyperparameters_from_roots, same_closed_form
from ._derive import derive
from ._latex import Formula, to_latex
from ._moments import second_moment_vech
from ._spec import PRECONDITIONED_PROBLEM, OptimizerSpec
from ._symbols import B, alpha, beta, c, gamma, h, k, p, r1, r2, t, v0, x, z

__all__ = ["Check", "STATEMENTS", "Statement", "check_all", "positive_on", "preconditioning_statement", "statement"]

#: number of examples seen, N = tB (Section 3.6)
N = sp.Symbol("N", positive=True)
#: dimension of the problem (Section 3.6)
d = sp.Symbol("d", positive=True, integer=True)

#: :math:`\mathrm{E}\,\ell_i(0) = \tfrac12 h\,\mathrm{E}\theta_i(0)^2`
L0 = h * v0 / 2
#: the notebook's shorthand :math:`x = \alpha h` (Appendices B and D), as a substitution
_X = {alpha: x / h}
#: the notebook's state order (θθ, vv, θv) for Appendices B and D
NOTEBOOK_ORDER = [(0, 0), (1, 1), (0, 1)]

#: words of statement names written out in headings (Statement.heading)
_HEADING_WORDS = {"sgd": "SGD", "ema": "EMA", "lr": "learning rate"}

Domain = Mapping[sp.Symbol, tuple[sp.Expr, sp.Expr]]


@dataclass(frozen=True)
class Check:
    """The outcome of :meth:`Statement.check`.

    ``equal``: the derived object equals the claim (symbolically, under the statement's
    assumptions). ``ok``: the derivation settles the statement as catalogued, i.e.
    ``equal`` for the paper's claims and ``not equal`` for known errors.
    """

    name: str
    derived: sp.Basic
    claimed: sp.Basic
    equal: bool
    ok: bool


def _same(derived: sp.Basic, claimed: sp.Basic, substitution: Mapping[sp.Symbol, sp.Expr] | None = None) -> bool:
    """Componentwise :func:`same_closed_form` for expressions, tuples and matrices."""
    if isinstance(claimed, (sp.MatrixBase, sp.Tuple)):
        pairs = list(zip(derived, claimed))
        return len(derived) == len(claimed) and all(same_closed_form(a, b, substitution) for a, b in pairs)
    if isinstance(claimed, sp.Rel):
        return type(derived) is type(claimed) and same_closed_form(
            derived.lhs - derived.rhs, claimed.lhs - claimed.rhs, substitution
        )
    return same_closed_form(derived, claimed, substitution)


def _every(derived: sp.Tuple, claimed: sp.Basic) -> bool:
    """Each component of ``derived`` (several derivation routes) equals the one claim."""
    return all(_same(e, claimed) for e in derived)


def _modulo_vieta(
    spec: OptimizerSpec, labels: Mapping[sp.Symbol, sp.Expr] | None = None
) -> Callable[[sp.Basic, sp.Basic], bool]:
    """Compare after eliminating the hyperparameters through Vieta's relations of ``spec``."""
    return lambda derived, claimed: _same(derived, claimed, hyperparameters_from_roots(spec, labels))


def positive_on(expr: sp.Expr, domain: Domain) -> bool:
    r"""A certificate that ``expr`` > 0 wherever it is defined on ``domain`` (open intervals).

    Each variable of ``domain`` is mapped onto :math:`(0, \infty)`:
    :math:`s = lo + (hi - lo)\,u/(1+u)` (finite ``hi``) or :math:`s = lo + u`, :math:`u > 0`.
    The result is factored and the sign of each factor settled: numbers; polynomials in
    the new variables whose coefficients all have one sign; real powers of positive
    factors; even powers (positive where the expression is defined); :math:`\log a` by the
    sign of :math:`a - 1`. Other symbols must be positive by assumption. Sufficient, not
    necessary: False means "not shown".
    """
    sub = {}
    for sym, (lo, hi) in domain.items():
        u = sp.Dummy(f"u_{sym}", positive=True)
        sub[sym] = lo + (hi - lo) * u / (1 + u) if sp.sympify(hi).is_finite else lo + u
    return _sign(sp.sympify(expr).subs(sub)) == 1


def _sign(e: sp.Expr) -> int:
    """+1 or -1 if the sign of ``e`` is settled by the rules of :func:`positive_on`, else 0."""
    e = sp.sympify(e)
    logarithm = _as_logarithm(e)  # before factoring, which splits logarithms again
    if logarithm is not None:
        return _sign(logarithm.args[0] - 1)
    e = sp.factor(sp.cancel(sp.together(e)))
    logarithm = _as_logarithm(e)
    if logarithm is not None:
        return _sign(logarithm.args[0] - 1)
    if e.is_Number:
        return int(sp.sign(e))
    if e.is_Mul:
        signs = [_sign(f) for f in e.args]
        return 0 if 0 in signs else int(sp.prod(signs))
    if e.is_Pow:
        if e.exp.is_even:
            return 1
        base = _sign(e.base)
        return 1 if base == 1 and e.exp.is_real else base if e.exp.is_odd else 0
    terms = [sp.Mul(*sp.Mul.make_args(term)) for term in sp.Add.make_args(sp.expand(e))]
    if all(term.is_positive for term in terms):
        return 1
    if all(term.is_negative for term in terms):
        return -1
    return 0


def _as_logarithm(e: sp.Expr) -> sp.log | None:
    """``e`` as a single logarithm, if it is one or a sum of logarithms."""
    if isinstance(e, sp.log):
        return e
    if e.is_Add and all(
        isinstance(a, sp.log) or (a.is_Mul and a.args[0].is_Integer and isinstance(a.args[1], sp.log)) for a in e.args
    ):
        combined = sp.logcombine(e, force=True)
        return combined if isinstance(combined, sp.log) else None
    return None


def _holds_on(domain: Domain) -> Callable[[sp.Basic, sp.Basic], bool]:
    """Compare a derived relation ``lhs < rhs`` (or ``>``) with the claim and prove it on ``domain``."""

    def compare(derived: sp.Rel, claimed: sp.Rel) -> bool:
        if type(derived) is not type(claimed):
            return False
        if not _same(derived.lhs, claimed.lhs) or not _same(derived.rhs, claimed.rhs):
            return False
        below = isinstance(derived, (sp.StrictLessThan, sp.LessThan))
        gap = derived.rhs - derived.lhs if below else derived.lhs - derived.rhs
        return positive_on(gap, domain)

    return compare


@dataclass(frozen=True, eq=False)
class Statement:
    r"""One statement of the paper (or a public restatement), with its derivation.

    ``claim`` builds the statement's sympy object as written (an expression, a tuple of
    expressions, a matrix or a relation); ``derive`` builds the same object from the
    specs; ``compare(derived, claimed)`` decides equality (default: symbolic, powers of
    :math:`t, k` as sequences). ``labels`` are the LaTeX left-hand sides of the claim's
    components (``derived_labels`` of the derivation's, default the same).
    ``assumptions`` are inline LaTeX; ``specs`` the registered names the statement is
    about; ``correct=False`` marks a known error that the derivation must refute.
    """

    name: str
    reference: str
    title: str
    claim: Callable[[], sp.Basic]
    derive: Callable[[], sp.Basic]
    labels: tuple[str, ...]
    assumptions: tuple[str, ...] = ()
    specs: tuple[str, ...] = ()
    compare: Callable[[sp.Basic, sp.Basic], bool] = _same
    correct: bool = True
    derived_labels: tuple[str, ...] | None = None

    @cached_property
    def claimed(self) -> sp.Basic:
        """The claim as a sympy object."""
        return self.claim()

    @cached_property
    def derived(self) -> sp.Basic:
        """The same object derived from the specs."""
        return self.derive()

    @cached_property
    def result(self) -> Check:
        """The (cached) :class:`Check`."""
        equal = bool(self.compare(self.derived, self.claimed))
        return Check(self.name, self.derived, self.claimed, equal, equal == self.correct)

    def check(self) -> Check:
        """Derive, compare with the claim, and report (cached)."""
        return self.result

    def formulas(self, derived: sp.Basic | None = None) -> tuple:
        """Document lines (:class:`nqm.theory.Formula`): the claim, then the derivation."""
        def lines(obj: sp.Basic, labels: tuple[str, ...], tag: str) -> list:
            items = list(obj) if isinstance(obj, sp.Tuple) else [obj]
            return [
                Formula(rf"\text{{{tag}}}\quad {label}", item, relation=isinstance(item, sp.Rel))
                for label, item in zip(labels, items)
            ]

        derived = self.derived if derived is None else derived
        paper = lines(self.claimed, self.labels, "paper:")
        return tuple(paper + lines(derived, self.derived_labels or self.labels, "derived:"))

    @property
    def heading(self) -> str:
        """The name in words, for a heading: ``theorem1_characteristic_polynomial`` reads
        "Theorem 1: characteristic polynomial", ``eq4_sgd_risk`` "Eq. 4: SGD risk"."""
        words = self.name.split("_")
        lead = re.fullmatch(r"(theorem|eq)(\d+)", words[0])
        if lead:
            words = [f"{'Theorem' if lead.group(1) == 'theorem' else 'Eq.'} {lead.group(2)}:"] + words[1:]
        elif words[0] == "appendix" and len(words) > 1:
            words = [f"Appendix {words[1].upper()}:"] + words[2:]
        text = " ".join(_HEADING_WORDS.get(w, w) for w in words)
        return text[:1].upper() + text[1:]

    @property
    def latex(self) -> str:
        """LaTeX of the claim (``label = formula``, components separated by ``,\\quad``)."""
        items = list(self.claimed) if isinstance(self.claimed, sp.Tuple) else [self.claimed]
        return r",\quad ".join(
            to_latex(e) if isinstance(e, sp.Rel) else f"{label} = {to_latex(e)}" for label, e in zip(self.labels, items)
        )


# --------------------------------------------------------------------------- derivations
def _overdamped_r1() -> sp.Expr:
    r"""The larger eigenvalue of momentum's A when the discriminant :math:`\Delta > 0` (real roots).

    Every square root :math:`\sqrt{\Delta}` is replaced by :math:`\sqrt{D}` with a positive
    symbol D; the root :math:`\lambda_a` with :math:`\lambda_a - \lambda_b > 0` is :math:`r_1`.
    """
    roots = list(derive(momentum).eigenvalues)
    D = sp.Dummy("D", positive=True)
    radicals = {s: sp.sqrt(D) for s in set().union(*(r.atoms(sp.Pow) for r in roots)) if s.exp == sp.S.Half}
    if len({s.base for s in radicals}) != 1:
        raise RuntimeError("expected the momentum roots to share one square root of the discriminant")
    larger = [a for a in roots if all((a - b).xreplace(radicals).is_positive for b in roots if b is not a)]
    if len(larger) != 1:
        raise RuntimeError("could not order the momentum roots in the overdamped regime")
    return larger[0]


def _critical_momentum() -> sp.Expr:
    r"""The momentum :math:`\beta \in [0, 1)` where momentum's A has a double eigenvalue.

    Solves :math:`\operatorname{disc}_z\det(zI-A) = 0` for :math:`\beta` and drops the
    solutions that are provably :math:`\ge 1` (outside BETA's range).
    """
    poly = sp.Poly(sp.expand(derive(momentum).characteristic_polynomial), z)
    solutions = sp.solve(sp.discriminant(poly).subs(_X), beta)
    inside = [s for s in solutions if not sp.expand(s - 1).is_nonnegative]
    if len(inside) != 1:
        raise RuntimeError(f"expected one critical momentum in [0, 1), found {inside}")
    return sp.factor(inside[0])


def _critical_spec() -> OptimizerSpec:
    return momentum.fix(beta=_critical_momentum().subs(x, alpha * h))


def _series_at_fixed_beta(expr: sp.Expr) -> sp.Expr:
    r"""First-order series in :math:`x = \alpha h` at fixed :math:`\beta \in [0, 1)` (written :math:`1-\bar\beta`)."""
    bbar = sp.Dummy("beta_c", positive=True)
    e = sp.sympify(expr).subs(_X).subs(beta, 1 - bbar)
    return sp.factor(sp.series(e, x, 0, 2).removeO().subs(bbar, 1 - beta))


def _first_order_in_lr(expr: sp.Expr) -> sp.Expr:
    r"""Leading term :math:`\alpha\,\partial_\alpha e|_{\alpha=0}` of a steady state that vanishes at
    :math:`\alpha = 0`."""
    return sp.factor(alpha * sp.diff(expr, alpha).subs(alpha, 0))


def _notebook_momentum() -> OptimizerSpec:
    r"""Momentum in the notebook's coordinates :math:`(\theta, v)`, :math:`v = -\alpha m` (Appendix B)."""
    return momentum.change_basis(sp.diag(1, -alpha), state=("theta", "v"))


def _notebook_ema() -> OptimizerSpec:
    r"""EMA in the notebook's coordinates :math:`(\theta, z)`, :math:`z = \tilde\theta/(1-\gamma)` (Appendix D)."""
    return ema.change_basis(sp.diag(1, 1 / (1 - gamma)), state=("theta", "z"))


def _initial_state(spec: OptimizerSpec) -> sp.Matrix:
    r""":math:`s_0 = v_0\,(\mathrm{init}_i\,\mathrm{init}_j)` in the notebook order."""
    return sp.Matrix([sp.factor(v0 * spec.init[i] * spec.init[j]) for i, j in NOTEBOOK_ORDER])


def _risk_weights(spec: OptimizerSpec) -> sp.Matrix:
    r"""Row :math:`w` with :math:`\mathrm{E}\ell = w\,s` in the notebook order (off-diagonal pairs count twice)."""
    return sp.Matrix([[sp.factor(h / 2 * spec.out[i] * spec.out[j] * (1 if i == j else 2)) for i, j in NOTEBOOK_ORDER]])


def _in_x(m: sp.Matrix) -> sp.Matrix:
    return m.subs(_X).applyfunc(sp.factor)


def _cramer_rao_risk() -> sp.Expr:
    r"""Per-direction risk of the best unbiased estimate from N gradient queries (Section 3.6).

    Each query :math:`g = h\theta + \epsilon`, :math:`\epsilon\sim N(0, c)`, has
    log-likelihood :math:`-(g - h\theta)^2/(2c) + \mathrm{const}`; the Fisher information
    of N queries is :math:`I = -N\,\mathrm{E}\,\partial_\theta^2\log p = Nh^2/c`, attained
    by the maximum-likelihood estimate (the mean of :math:`g/h`); the risk is
    :math:`\tfrac12 h\,I^{-1}`.
    """
    theta, g = sp.symbols("theta g", real=True)
    loglik = -((g - h * theta) ** 2) / (2 * c)
    fisher = -N * sp.diff(loglik, theta, 2)
    return sp.factor(h / 2 / fisher)


def _bracket(r: sp.Expr) -> sp.Expr:
    r"""Theorem 1's bracket :math:`[(r_1^{t+1}-r_2^{t+1}) - r\,(r_1^t-r_2^t)]/(r_1-r_2)` with the coefficient ``r``."""
    return ((r1 ** (t + 1) - r2 ** (t + 1)) - r * (r1**t - r2**t)) / (r1 - r2)


_THEOREM1_STATIONARY = (1 + beta) * alpha * c / (2 * B * (2 * beta + 2 - alpha * h) * (1 - beta))
_RED = (1 - gamma) * (1 + (1 - alpha * h) * gamma) / ((1 + gamma) * (1 - (1 - alpha * h) * gamma))
_THEOREM2_STATIONARY = alpha * c / (2 * B * (2 - alpha * h)) * _RED
_DISTINCT_MOMENTUM = (r"$0 \le \beta < 1$", r"$\beta \ne (1-\sqrt{\alpha h_i})^2$ (distinct roots $r_1 \ne r_2$)")
_DISTINCT_EMA = (
    r"$0 \le \gamma < 1$", r"$\gamma \ne 1-\alpha h_i$ (distinct roots)", r"$r_1 = 1-\alpha h_i$, $r_2 = \gamma$"
)
_STEADY = r"\mathrm{E}\,\ell_{i}(\infty)"


def _ema_stationary_routes() -> sp.Tuple:
    return sp.Tuple(derive(ema).stationary_risk, closed_form(ema).stationary_risk)


def _red_factor_derived() -> sp.Expr:
    """EMA's stationary risk over SGD's (both derived)."""
    return sp.factor(sp.cancel(derive(ema).stationary_risk / derive(sgd).stationary_risk))


def preconditioning_statement(spec: OptimizerSpec, reference: str = "eqs. 8-9") -> Statement:
    r"""Preconditioning equivalence for any spec: ``spec.precondition()``'s exact risk equals
    ``spec``'s on the NQM :data:`~nqm.theory.PRECONDITIONED_PROBLEM` (eqs. 8–9)."""
    return Statement(
        name=f"preconditioning_equivalence_{spec.name}",
        reference=reference,
        title=rf"preconditioned {spec.name} is {spec.name} on the NQM $(h_i^{{1-p}}, c_i h_i^{{-p}})$",
        claim=lambda: closed_form(spec).expected_risk.xreplace(PRECONDITIONED_PROBLEM),
        derive=lambda: closed_form(spec.precondition()).expected_risk,
        labels=(r"\mathrm{E}\,\ell_{i}(t)",),
        assumptions=(r"$P = H^p$, $0 \le p \le 1$", r"start moment $s_0 h_i^{p}$ in $\tilde\theta = h_i^{p/2}\theta$"),
        specs=(spec.name,),
    )


EQ4_SGD_RISK = Statement(
    "eq4_sgd_risk", "eq. 4", "the exact expected risk of SGD",
    claim=lambda: (
        (1 - alpha * h) ** (2 * t) * L0 + (1 - (1 - alpha * h) ** (2 * t)) * alpha * c / (2 * B * (2 - alpha * h))
    ),
    derive=lambda: closed_form(sgd).expected_risk,
    labels=(r"\mathrm{E}\,\ell_{i}(t)",),
    assumptions=(r"every step $t \ge 0$; $\mathrm{E}\,\ell_i(0) = h_i s_0/2$",),
    specs=("sgd",),
)

SGD_STABILITY = Statement(
    "sgd_stability", "Section 3.1", "SGD is stable iff $0 < \\alpha h_i < 2$",
    claim=lambda: sp.StrictLessThan(alpha, 2 / h),
    derive=lambda: derive(sgd).stability_region,
    labels=("",),
    specs=("sgd",),
)

THEOREM1_CHARACTERISTIC_POLYNOMIAL = Statement(
    "theorem1_characteristic_polynomial", "Theorem 1 (eq. 6); Appendix B, eq. 22",
    "$r_1, r_2$ are the roots of $x^2 - (1-\\alpha h_i+\\beta)x + \\beta$",
    claim=lambda: z**2 - (1 - alpha * h + beta) * z + beta,
    derive=lambda: derive(momentum).characteristic_polynomial,
    labels=(r"\det(zI - A)",),
    specs=("momentum",),
)

THEOREM1_MEAN_PATH = Statement(
    "theorem1_mean_path", "Theorem 1 (eq. 6); Appendix C, eq. 33",
    "the bracket of Theorem 1 is the exact mean path $\\mathrm{E}\\,\\theta_i(t)/\\theta_i(0)$",
    claim=lambda: _bracket(beta),
    derive=lambda: closed_form(momentum).mean_path,
    labels=("m_{t}",),
    assumptions=_DISTINCT_MOMENTUM + (r"Vieta: $r_1 + r_2 = 1-\alpha h_i+\beta$, $r_1 r_2 = \beta$",),
    specs=("momentum",),
    compare=_modulo_vieta(momentum),
)

THEOREM1_STATIONARY_RISK = Statement(
    "theorem1_stationary_risk", "Theorem 1 (eq. 6); Appendix C, eqs. 30-31",
    "the second term of Theorem 1 is the exact stationary risk (Lyapunov route and Appendix C's sum of squares)",
    claim=lambda: _THEOREM1_STATIONARY,
    derive=lambda: sp.Tuple(derive(momentum).stationary_risk, closed_form(momentum).stationary_risk),
    labels=(_STEADY,),
    derived_labels=(_STEADY + r"\ \text{(Lyapunov)}", _STEADY + r"\ \text{(}\textstyle\sum_k g_k^2\text{)}"),
    assumptions=(r"$0 \le \beta < 1$", r"$0 < \alpha h_i < 2(1+\beta)$ (stable)"),
    specs=("momentum",),
    compare=_every,
)

THEOREM1_BOUND = Statement(
    "theorem1_bound", "Theorem 1 (eq. 6)",
    "the bound $\\mathcal{B}_i(t) \\ge \\mathrm{E}\\,\\ell_i(t)$ is the exact start term "
    "plus the exact stationary risk",
    claim=lambda: _bracket(beta) ** 2 * L0 + _THEOREM1_STATIONARY,
    derive=lambda: closed_form(momentum).start_part + closed_form(momentum).stationary_risk,
    labels=(r"\mathcal{B}_{i}(t)",),
    assumptions=_DISTINCT_MOMENTUM,
    specs=("momentum",),
    compare=_modulo_vieta(momentum),
)

APPENDIX_C_IMPULSE_RESPONSE = Statement(
    "appendix_c_impulse_response", "Appendix C, eqs. 26-28 (restated in docs/math/momentum.md)",
    "the impulse response solves $g_{k+2} = (1-\\alpha h_i+\\beta)g_{k+1} - \\beta g_k$, $g_0 = -\\alpha$",
    claim=lambda: -alpha * (r1 ** (k + 1) - r2 ** (k + 1)) / (r1 - r2),
    derive=lambda: closed_form(momentum).impulse_response,
    labels=("g_{k}",),
    assumptions=_DISTINCT_MOMENTUM,
    specs=("momentum",),
    compare=_modulo_vieta(momentum),
)

EQ7_OVERDAMPED_RATE = Statement(
    "eq7_overdamped_rate", "eq. 7",
    "in the overdamped regime the rate is the larger real root $r_1$",
    claim=lambda: (1 - alpha * h + beta + sp.sqrt((1 - alpha * h + beta) ** 2 - 4 * beta)) / 2,
    derive=_overdamped_r1,
    labels=("r_{1}",),
    assumptions=(r"overdamped: $(1-\alpha h_i+\beta)^2 > 4\beta$, i.e. $\beta < (1-\sqrt{\alpha h_i})^2$",),
    specs=("momentum",),
)

EQ7_SMALL_STEP_LIMIT = Statement(
    "eq7_small_step_limit", "eq. 7 and footnote 1",
    "for small $\\alpha h_i$, $r_1 \\approx 1 - \\alpha h_i/(1-\\beta)$",
    claim=lambda: 1 - x / (1 - beta),
    derive=lambda: sp.Tuple(_series_at_fixed_beta(_overdamped_r1()), derive(momentum).slow_eigenvalue_series),
    labels=("r_{1}",),
    derived_labels=(r"r_{1} + O(x^2)", r"\lambda_{\mathrm{slow}} + O(x^2)"),
    assumptions=(r"$x = \alpha h_i \to 0$ at fixed $0 \le \beta < 1$",),
    specs=("momentum",),
    compare=_every,
)

DAMPING_BOUNDARY = Statement(
    "damping_boundary", "Section 3.2; docs/math/momentum.md",
    "the damping boundary (critical momentum) is $(1-\\sqrt{\\alpha h_i})^2$",
    claim=lambda: (1 - sp.sqrt(x)) ** 2,
    derive=_critical_momentum,
    labels=(r"\beta_{c}",),
    assumptions=(r"$x = \alpha h_i$", r"$\beta \in [0, 1)$"),
    specs=("momentum",),
)

DAMPING_BOUNDARY_WITHOUT_ROOT = Statement(
    "damping_boundary_without_root", "public lecture notes (docs/math/momentum.md)",
    "a widely copied restatement gives the damping boundary as $(1-\\alpha h_i)^2$",
    claim=lambda: (1 - x) ** 2,
    derive=_critical_momentum,
    labels=(r"\beta_{c}",),
    assumptions=(r"$x = \alpha h_i$",),
    specs=("momentum",),
    correct=False,
)

CRITICAL_DAMPING_DOUBLE_ROOT = Statement(
    "critical_damping_double_root", "Section 3.2; Appendix B",
    "at $\\beta = (1-\\sqrt{\\alpha h_i})^2$ the two roots coincide at $1-\\sqrt{\\alpha h_i} = \\sqrt\\beta$",
    claim=lambda: (z - (1 - sp.sqrt(x))) ** 2,
    derive=lambda: sp.factor(derive(_critical_spec()).characteristic_polynomial.subs(_X)),
    labels=(r"\det(zI - A)",),
    assumptions=(r"$\beta = (1-\sqrt{\alpha h_i})^2$",),
    specs=("momentum",),
)

CRITICAL_DAMPING_MEAN_PATH = Statement(
    "critical_damping_mean_path", "Theorem 1 at critical damping (docs/math/momentum.md)",
    "at the double root the mean path is the limit $r_2 \\to r_1$ of Theorem 1's bracket (0/0 there)",
    claim=lambda: sp.limit(_bracket(r1**2), r2, r1).subs(r1, 1 - sp.sqrt(x)),
    derive=lambda: closed_form(_critical_spec(), named=False).mean_path.subs(_X),
    labels=("m_{t}",),
    assumptions=(r"$\beta = r^2$, $r = 1-\sqrt{\alpha h_i}$ (double pole of the Z-transform)",),
    specs=("momentum",),
)

APPENDIX_B_CRITICAL_DAMPING = Statement(
    "appendix_b_critical_damping", "Appendix B",
    "at critical damping all eigenvalues of the second-moment transition equal $\\beta$",
    claim=lambda: (z - (1 - sp.sqrt(x)) ** 2) ** 3,
    derive=lambda: sp.factor(
        (z * sp.eye(3) - second_moment_vech(_critical_spec())[0]).det(method="berkowitz").subs(_X)
    ),
    labels=(r"\det(zI - M)",),
    assumptions=(r"$\beta = (1-\sqrt{\alpha h_i})^2$",),
    specs=("momentum",),
)

UNDERDAMPED_MODULUS = Statement(
    "underdamped_modulus", "Section 3.2",
    "in the underdamped regime the roots are complex with $|r| = \\sqrt\\beta$",
    claim=lambda: sp.sqrt(beta),
    derive=lambda: sp.sqrt(sp.factor(momentum.A.det())),
    labels=(r"|r_{1}| = |r_{2}|",),
    assumptions=(r"underdamped: $\beta > (1-\sqrt{\alpha h_i})^2$; complex-conjugate roots of a real $A$, "
                 r"so $|r|^2 = r_1r_2 = \det A$",),
    specs=("momentum",),
)

MOMENTUM_STABILITY = Statement(
    "momentum_stability", "docs/math/momentum.md, Stability (derived)",
    "momentum is stable iff $\\alpha h_i < 2(1+\\beta)$",
    claim=lambda: sp.StrictLessThan(alpha, 2 * (1 + beta) / h),
    derive=lambda: derive(momentum).stability_region,
    labels=("",),
    assumptions=(r"$0 \le \beta < 1$",),
    specs=("momentum",),
)

MOMENTUM_SMALL_STEP_STEADY_STATE = Statement(
    "momentum_small_step_steady_state", "Section 3.2",
    "for small $\\alpha h_i$ the steady state is $\\alpha c_i/(4B(1-\\beta))$",
    claim=lambda: alpha * c / (4 * B * (1 - beta)),
    derive=lambda: _first_order_in_lr(derive(momentum).stationary_risk),
    labels=(_STEADY,),
    assumptions=(r"leading order as $\alpha h_i \to 0$, $\beta$ fixed",),
    specs=("momentum",),
)

MOMENTUM_EFFECTIVE_LR = Statement(
    "momentum_effective_lr", "Section 3.2, eq. 7",
    "momentum behaves as SGD with $\\alpha_{\\mathrm{eff}} = \\alpha/(1-\\beta)$ (rate and steady state)",
    claim=lambda: sp.Tuple(alpha / (1 - beta), alpha / (1 - beta), alpha * c / (4 * B * (1 - beta))),
    derive=lambda: sp.Tuple(
        derive(momentum).effective_lr,
        derive(momentum).effective_lr_steady_state,
        _first_order_in_lr(derive(sgd).stationary_risk).subs(alpha, derive(momentum).effective_lr),
    ),
    labels=(r"\alpha_{\mathrm{eff}}", r"\alpha_{\mathrm{eff}}",
            r"\mathrm{E}\,\ell_{i}^{\mathrm{SGD}}(\infty)\big|_{\alpha_{\mathrm{eff}}}"),
    derived_labels=(
        r"\alpha_{\mathrm{eff}}\ \text{(rate)}",
        r"\alpha_{\mathrm{eff}}\ \text{(steady state)}",
        r"\mathrm{E}\,\ell_{i}^{\mathrm{SGD}}(\infty)\big|_{\alpha_{\mathrm{eff}}}",
    ),
    assumptions=(r"leading order as $\alpha h_i \to 0$",),
    specs=("sgd", "momentum"),
)

PRECONDITIONING_EQUIVALENCE_SGD = preconditioning_statement(sgd, "eqs. 8-9")

PRECONDITIONING_EQUIVALENCE_MOMENTUM = preconditioning_statement(
    momentum, "Section 3.3 (momentum runs on the transformed problem)"
)

PRECONDITIONING_EQUIVALENCE_EMA = preconditioning_statement(ema, "Sections 3.3-3.4")

EQ9_PRECONDITIONED_SGD_RISK = Statement(
    "eq9_preconditioned_sgd_risk", "eq. 9 (docs/math/precond.md)",
    "the exact risk of preconditioned SGD",
    claim=lambda: (1 - alpha * h ** (1 - p)) ** (2 * t) * L0
    + (1 - (1 - alpha * h ** (1 - p)) ** (2 * t)) * alpha * c * h ** (-p) / (2 * B * (2 - alpha * h ** (1 - p))),
    derive=lambda: closed_form(sgd.precondition()).expected_risk,
    labels=(r"\mathrm{E}\,\ell_{i}(t)",),
    assumptions=(r"$P = H^p$, $0 \le p \le 1$",),
    specs=("sgd",),
)

EQ10_PRECONDITIONED_STEADY_STATE = Statement(
    "eq10_preconditioned_steady_state", "eq. 10 (restated in docs/math/precond.md)",
    "the steady state of preconditioned SGD with $C = H$",
    claim=lambda: alpha * h ** (1 - p) / (2 * B * (2 - alpha * h ** (1 - p))),
    derive=lambda: sp.factor(derive(sgd.precondition()).stationary_risk.subs(c, h)),
    labels=(_STEADY,),
    assumptions=(r"$C = H$", r"$0 < \alpha h_i^{1-p} < 2$"),
    specs=("sgd",),
)

EQ10_ILL_CONDITIONED = Statement(
    "eq10_ill_conditioned", "eq. 10 (docs/math/precond.md)",
    "ill-conditioned: for $\\alpha h_i^{1-p} \\ll 1$ the steady state is $\\alpha h_i^{1-p}/(4B)$",
    claim=lambda: alpha * h ** (1 - p) / (4 * B),
    derive=lambda: _first_order_in_lr(derive(sgd.precondition()).stationary_risk.subs(c, h)),
    labels=(_STEADY,),
    assumptions=(r"$C = H$",
                 r"$\kappa \gg 1$: $\alpha h_i^{1-p} \le \alpha h_1^{1-p} < 2$ "
                 r"makes $\alpha h_i^{1-p} \ll 1$ for most $i$"),
    specs=("sgd",),
)

EQ10_INCREASING_IN_P = Statement(
    "eq10_increasing_in_p", "Section 3.3 after eq. 10",
    "the steady state increases monotonically with $p$",
    claim=lambda: sp.StrictGreaterThan(sp.diff(alpha * h ** (1 - p) / (2 * B * (2 - alpha * h ** (1 - p))), p), 0),
    derive=lambda: sp.StrictGreaterThan(sp.diff(derive(sgd.precondition()).stationary_risk.subs(c, h), p), 0),
    labels=("",),
    assumptions=(r"$C = H$", r"$0 < h_i < 1$ ($h_i = 1/i$)", r"$\alpha h_i^{1-p} \ne 2$"),
    specs=("sgd",),
    compare=_holds_on({h: (0, 1)}),
)

THEOREM2_CHARACTERISTIC_POLYNOMIAL = Statement(
    "theorem2_characteristic_polynomial", "Theorem 2 (eq. 12); Appendix D",
    "$r_1 = 1-\\alpha h_i$ and $r_2 = \\gamma$ are the roots of the EMA dynamics",
    claim=lambda: (z - (1 - alpha * h)) * (z - gamma),
    derive=lambda: derive(ema).characteristic_polynomial,
    labels=(r"\det(zI - A)",),
    specs=("ema",),
)

THEOREM2_MEAN_PATH = Statement(
    "theorem2_mean_path", "Theorem 2 (eq. 12); Appendix D, eq. 48",
    "the bracket of Theorem 2 is the exact mean path of the average",
    claim=lambda: _bracket(gamma * (1 - alpha * h)),
    derive=lambda: closed_form(ema).mean_path,
    labels=("m_{t}",),
    assumptions=_DISTINCT_EMA,
    specs=("ema",),
    compare=_modulo_vieta(ema, {r1: 1 - alpha * h, r2: gamma}),
)

THEOREM2_STATIONARY_RISK = Statement(
    "theorem2_stationary_risk", "Theorem 2 (eq. 12); Appendix D, eqs. 46-47",
    "the second term of Theorem 2 is the exact stationary risk (Lyapunov route and sum of squares)",
    claim=lambda: _THEOREM2_STATIONARY,
    derive=_ema_stationary_routes,
    labels=(_STEADY,),
    derived_labels=(_STEADY + r"\ \text{(Lyapunov)}", _STEADY + r"\ \text{(}\textstyle\sum_k g_k^2\text{)}"),
    assumptions=(r"$0 \le \gamma < 1$", r"$0 < \alpha h_i < 2$"),
    specs=("ema",),
    compare=_every,
)

THEOREM2_BOUND = Statement(
    "theorem2_bound", "Theorem 2 (eq. 12)",
    "the bound $\\mathcal{B}_i(t) \\ge \\mathrm{E}\\,\\ell_i(t)$ is the exact start term "
    "plus the exact stationary risk",
    claim=lambda: _bracket(gamma * (1 - alpha * h)) ** 2 * L0 + _THEOREM2_STATIONARY,
    derive=lambda: closed_form(ema).start_part + closed_form(ema).stationary_risk,
    labels=(r"\mathcal{B}_{i}(t)",),
    assumptions=_DISTINCT_EMA,
    specs=("ema",),
    compare=_modulo_vieta(ema, {r1: 1 - alpha * h, r2: gamma}),
)

THEOREM2_RED_FACTOR = Statement(
    "theorem2_red_factor", "Theorem 2 (eq. 12, red part)",
    "EMA's steady state is SGD's times the red factor, with $\\gamma$ in both $(1 \\pm (1-\\alpha h_i)\\gamma)$",
    claim=lambda: _RED,
    derive=_red_factor_derived,
    labels=(r"\frac{\mathrm{E}\,\ell^{\mathrm{EMA}}_{i}(\infty)}{\mathrm{E}\,\ell^{\mathrm{SGD}}_{i}(\infty)}",),
    assumptions=(r"$0 \le \gamma < 1$", r"$0 < \alpha h_i < 2$"),
    specs=("sgd", "ema"),
)

THEOREM2_RED_FACTOR_BELOW_ONE = Statement(
    "theorem2_red_factor_below_one", "Section 3.4",
    "the red factor is below 1, so EMA lowers the steady state",
    claim=lambda: sp.StrictLessThan(_RED.subs(_X), 1),
    derive=lambda: sp.StrictLessThan(_red_factor_derived().subs(_X), 1),
    labels=("",),
    assumptions=(r"$0 < \gamma < 1$", r"$0 < x = \alpha h_i < 2$"),
    specs=("sgd", "ema"),
    compare=_holds_on({x: (0, 2), gamma: (0, 1)}),
)

THEOREM2_RED_FACTOR_WITHOUT_GAMMA = Statement(
    "theorem2_red_factor_without_gamma", "public lecture notes (docs/math/ema.md)",
    "a widely copied restatement drops $\\gamma$ from $(1 \\pm (1-\\alpha h_i)\\gamma)$ in the red factor",
    claim=lambda: (1 - gamma) * (1 + (1 - alpha * h)) / ((1 + gamma) * (1 - (1 - alpha * h))),
    derive=_red_factor_derived,
    labels=(r"\frac{\mathrm{E}\,\ell^{\mathrm{EMA}}_{i}(\infty)}{\mathrm{E}\,\ell^{\mathrm{SGD}}_{i}(\infty)}",),
    specs=("sgd", "ema"),
    correct=False,
)

APPENDIX_B_TRANSITION = Statement(
    "appendix_b_transition", "Appendix B, eqs. 20-21 (notebook coordinates)",
    "second-moment transition of momentum on $(\\mathrm{E}\\theta^2, \\mathrm{E}v^2, \\mathrm{E}\\theta v)$, "
    "$v = -\\alpha m$",
    claim=lambda: sp.Matrix([
        [(1 - x) ** 2, beta**2, 2 * beta * (1 - x)],
        [x**2, beta**2, -2 * x * beta],
        [-x * (1 - x), beta**2, beta * (1 - 2 * x)],
    ]),
    derive=lambda: _in_x(second_moment_vech(_notebook_momentum(), NOTEBOOK_ORDER)[0]),
    labels=("M",),
    assumptions=(r"$x = \alpha h_i$",),
    specs=("momentum",),
)

APPENDIX_B_NOISE = Statement(
    "appendix_b_noise", "Appendix B, eq. 21",
    "noise vector of the momentum second moments",
    claim=lambda: alpha**2 * c / B * sp.Matrix([1, 1, 1]),
    derive=lambda: second_moment_vech(_notebook_momentum(), NOTEBOOK_ORDER)[1],
    labels=("q",),
    specs=("momentum",),
)

APPENDIX_B_INITIAL_STATE = Statement(
    "appendix_b_initial_state", "Appendix B",
    "initial second moments $(\\mathrm{E}\\theta(0)^2, 0, 0)$",
    claim=lambda: sp.Matrix([v0, 0, 0]),
    derive=lambda: _initial_state(_notebook_momentum()),
    labels=("s(0)",),
    specs=("momentum",),
)

APPENDIX_B_CHARACTERISTIC_POLYNOMIAL = Statement(
    "appendix_b_characteristic_polynomial", "Appendix B",
    "characteristic polynomial of the momentum second-moment transition",
    claim=lambda: (z - beta) * (z**2 - ((1 - x + beta) ** 2 - 2 * beta) * z + beta**2),
    derive=lambda: sp.factor(
        (z * sp.eye(3) - second_moment_vech(_notebook_momentum(), NOTEBOOK_ORDER)[0]).det(method="berkowitz").subs(_X)
    ),
    labels=(r"\det(zI - M)",),
    assumptions=(r"$x = \alpha h_i$",),
    specs=("momentum",),
)

APPENDIX_B_EIGENVALUES = Statement(
    "appendix_b_eigenvalues", "Appendix B",
    "the second-moment eigenvalues are $r_1^2$, $r_2^2$ and $r_1r_2 = \\beta$",
    claim=lambda: sp.expand((z - r1**2) * (z - r2**2) * (z - r1 * r2)),
    derive=lambda: sp.factor((z * sp.eye(3) - derive(momentum).second_moment[0]).det(method="berkowitz")),
    labels=(r"\det(zI - M)",),
    assumptions=_DISTINCT_MOMENTUM,
    specs=("momentum",),
    compare=_modulo_vieta(momentum),
)

APPENDIX_D_TRANSITION = Statement(
    "appendix_d_transition", "Appendix D, eq. 38 (notebook coordinates)",
    "second-moment transition of EMA on $(\\mathrm{E}\\theta^2, \\mathrm{E}z^2, \\mathrm{E}z\\theta)$, "
    "$z = \\tilde\\theta/(1-\\gamma)$",
    claim=lambda: sp.Matrix([
        [(1 - x) ** 2, 0, 0],
        [(1 - x) ** 2, gamma**2, 2 * gamma * (1 - x)],
        [(1 - x) ** 2, 0, gamma * (1 - x)],
    ]),
    derive=lambda: _in_x(second_moment_vech(_notebook_ema(), NOTEBOOK_ORDER)[0]),
    labels=("M",),
    assumptions=(r"$x = \alpha h_i$",),
    specs=("ema",),
)

APPENDIX_D_NOISE = Statement(
    "appendix_d_noise", "Appendix D, eq. 38",
    "noise vector of the EMA second moments",
    claim=lambda: alpha**2 * c / B * sp.Matrix([1, 1, 1]),
    derive=lambda: second_moment_vech(_notebook_ema(), NOTEBOOK_ORDER)[1],
    labels=("q",),
    specs=("ema",),
)

APPENDIX_D_INITIAL_STATE = Statement(
    "appendix_d_initial_state", "Appendix D",
    "initial second moments $(s_0, s_0/(1-\\gamma)^2, s_0/(1-\\gamma))$",
    claim=lambda: sp.Matrix([v0, v0 / (1 - gamma) ** 2, v0 / (1 - gamma)]),
    derive=lambda: _initial_state(_notebook_ema()),
    labels=("s(0)",),
    specs=("ema",),
)

APPENDIX_D_RISK = Statement(
    "appendix_d_risk", "Appendix D",
    "the risk is $\\tfrac12 h_i(1-\\gamma)^2\\,\\mathrm{E}z^2$",
    claim=lambda: sp.Matrix([[0, h * (1 - gamma) ** 2 / 2, 0]]),
    derive=lambda: _risk_weights(_notebook_ema()),
    labels=(r"\partial\,\mathrm{E}\,\ell / \partial s",),
    specs=("ema",),
)

INFORMATION_BOUND_PER_DIRECTION = Statement(
    "information_bound_per_direction", "Section 3.6 (general C derived, docs/math/bounds.md)",
    "no estimate from $N$ queries beats risk $\\tfrac12 (c_i/h_i)/N$ per direction, "
    "i.e. $\\tfrac12\\mathrm{tr}(H^{-1}C)/N$",
    claim=lambda: c / h / (2 * N),
    derive=_cramer_rao_risk,
    labels=(r"\mathrm{E}\,\ell_{i}^{\min}",),
    assumptions=(r"Gaussian noise; unbiased estimates (Cram\'er--Rao, attained by maximum likelihood)", r"$N = tB$"),
)

INFORMATION_BOUND = Statement(
    "information_bound", "Section 3.6",
    "with $C = H$ no method beats risk $d/(2N)$ after $N$ examples",
    claim=lambda: d / (2 * N),
    derive=lambda: sp.Sum(_cramer_rao_risk().subs(c, h), (sp.Symbol("i", integer=True, positive=True), 1, d)).doit(),
    labels=(r"\mathrm{E}\,\mathcal{L}^{\min}",),
    assumptions=(r"$C = H$", r"$N = tB$"),
)


#: every statement, in the order of the paper's results (and of the LaTeX document's section)
STATEMENTS: tuple[Statement, ...] = (
    EQ4_SGD_RISK, SGD_STABILITY, THEOREM1_CHARACTERISTIC_POLYNOMIAL, THEOREM1_MEAN_PATH, THEOREM1_STATIONARY_RISK,
    THEOREM1_BOUND, APPENDIX_C_IMPULSE_RESPONSE, EQ7_OVERDAMPED_RATE, EQ7_SMALL_STEP_LIMIT, DAMPING_BOUNDARY,
    DAMPING_BOUNDARY_WITHOUT_ROOT, CRITICAL_DAMPING_DOUBLE_ROOT, CRITICAL_DAMPING_MEAN_PATH,
    APPENDIX_B_CRITICAL_DAMPING, UNDERDAMPED_MODULUS, MOMENTUM_STABILITY, MOMENTUM_SMALL_STEP_STEADY_STATE,
    MOMENTUM_EFFECTIVE_LR, PRECONDITIONING_EQUIVALENCE_SGD, PRECONDITIONING_EQUIVALENCE_MOMENTUM,
    PRECONDITIONING_EQUIVALENCE_EMA, EQ9_PRECONDITIONED_SGD_RISK, EQ10_PRECONDITIONED_STEADY_STATE,
    EQ10_ILL_CONDITIONED, EQ10_INCREASING_IN_P, THEOREM2_CHARACTERISTIC_POLYNOMIAL, THEOREM2_MEAN_PATH,
    THEOREM2_STATIONARY_RISK, THEOREM2_BOUND, THEOREM2_RED_FACTOR, THEOREM2_RED_FACTOR_BELOW_ONE,
    THEOREM2_RED_FACTOR_WITHOUT_GAMMA, APPENDIX_B_TRANSITION, APPENDIX_B_NOISE, APPENDIX_B_INITIAL_STATE,
    APPENDIX_B_CHARACTERISTIC_POLYNOMIAL, APPENDIX_B_EIGENVALUES, APPENDIX_D_TRANSITION, APPENDIX_D_NOISE,
    APPENDIX_D_INITIAL_STATE, APPENDIX_D_RISK, INFORMATION_BOUND_PER_DIRECTION, INFORMATION_BOUND,
)

def statement(name: str) -> Statement:
    """The statement called ``name`` (KeyError listing the names otherwise)."""
    for st in STATEMENTS:
        if st.name == name:
            return st
    raise KeyError(f"no statement {name!r}; known: {[s.name for s in STATEMENTS]}")


def check_all() -> list[Check]:
    """Check every statement (each derivation is cached)."""
    return [st.check() for st in STATEMENTS]
