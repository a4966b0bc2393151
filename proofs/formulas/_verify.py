r"""Verifying a user's own formula against a derived quantity.

:func:`verify_formula` takes a formula — a sympy expression, a string in sympy syntax, or
LaTeX — that the user claims equals a quantity derived for one optimizer, and answers

``equal``
    proved symbolically (expansion/cancellation with powers of :math:`t, k` compared as
    sequences; named roots eliminated through Vieta's relations; or roots in radicals);
``not equal``
    with a counterexample: an exact rational point inside the hyperparameter domain and the
    stability region (:class:`~nqm.proofs.claims._prover.PointSampler`), and both values there: a
    difference seen at 50 digits is re-evaluated at 100, 200, 400 and 800 digits until both
    values agree with those at half the precision to a relative :math:`10^{-20}` (a formula
    that cancels more than 50 digits is not called unequal on rounding noise; a point where
    the values never settle is skipped and counted);
``unknown``
    with what was tried: every sampled point agrees to a relative :math:`10^{-30}` at 50
    digits, but no symbolic route closed within the time budget.

A formula is never executed. The text is read into a syntax tree (:func:`ast.parse`, or
sympy's ``parse_latex``) and rebuilt from a whitelist with bounded size and cost
(:mod:`nqm.proofs.formulas._parse`), the user side is evaluated at the sample points by walking
that tree in mpmath (:mod:`nqm.proofs.formulas._evaluate`), and the symbolic routes run in a worker
process that is stopped when the budget is spent (:mod:`nqm.proofs.formulas._budget`).

The derived side is evaluated independently of its closed form at the sample points: the
mean path as :math:`\mathrm{out}A^t\mathrm{init}`, noise sums by exact doubling of the moment
recursion, :math:`\det(zI - A)` from the matrix (:class:`~nqm.proofs.claims._prover.SpecNumerics`).

Quantities (:data:`QUANTITIES`): ``stationary_risk``, ``noise_sum``, ``effective_lr``,
``effective_lr_steady_state``, ``slow_eigenvalue_series``, ``characteristic_polynomial`` (in
:math:`z`), ``mean_path`` and ``partial_noise_sum`` and ``expected_risk`` (in :math:`t`),
``impulse_response`` (in :math:`k`).

Symbols: the canonical ones of :mod:`nqm.theory`, with user spellings mapped: ``alpha``,
``α``, ``lr``, ``eta`` → :math:`\alpha`; ``beta``/``β``; ``gamma``/``γ``; ``nu``/``ν``;
``h``, ``h_i``; ``c``, ``c_i``; ``B``; ``p``; ``t``, ``k``; ``z`` (also ``lambda``/``λ``, the
polynomial variable); ``r1``, ``r_1``, ``r2``, ``r_2`` (the named roots, :math:`r_1` the slow
one); ``x`` = :math:`\alpha h` (the notebook's shorthand); ``v0``, ``s0``, ``s_0`` (the start
moment :math:`\mathrm E\theta_i(0)^2`); and each hyperparameter's own name and symbol name.
``^`` is a power and ``E`` is Euler's number.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import mpmath as mp
import sympy as sp

from nqm.theory import (
    OptimizerSpec,
    SpecError,
    closed_form,
    derive,
    get_spec,
    hyperparameters_from_roots,
    root_symbols,
    root_values,
    same_closed_form,
)
from nqm.theory.symbols import B, alpha, beta, c, gamma, h, k, nu, p, r1, r2, t, v0, x, z

from .._limits import MAX_SAMPLES, MAX_SYMBOLIC_SECONDS, SYMBOLIC_SECONDS  # the CLI's help shows them
from ..claims import DIGITS, PointSampler, SpecNumerics, rational_mpf, spec_numerics
from ._budget import call_with_budget, prestart
from ._evaluate import evaluate
from ._parse import FormulaBuilder

__all__ = ["QUANTITIES", "FormulaVerdict", "Quantity", "parse_user_formula", "verify_formula"]

#: relative agreement required at every sample point (evaluated at DIGITS digits)
AGREEMENT = mp.mpf(10) ** -30
#: symbolic fallbacks in radicals are skipped for larger expressions (sympy's simplify may not return)
MAX_RADICAL_OPS = 400
#: most formula nodes evaluated over the sample (samples x nodes; about 6 us a node at 50 digits)
MAX_POINT_WORK = 2_000_000
#: points whose values do not settle after which no further points are compared
MAX_UNSETTLED = 3
#: precisions (digits) at which a difference seen at DIGITS is re-evaluated, until both values settle
CONFIRM_DIGITS = (2 * DIGITS, 4 * DIGITS, 8 * DIGITS, 16 * DIGITS)
#: a value has settled when it agrees with the one at half the precision to this relative accuracy
STABLE = mp.mpf(10) ** -20


@dataclass(frozen=True)
class Quantity:
    """A derived object that a formula can be checked against.

    ``index``: the free variable besides the problem and hyperparameters (:math:`t`, :math:`k`,
    :math:`z`, or None); ``symbolic(spec)``: the derived expression; ``numeric(num, point, i)``:
    its value at an exact point (and index value) computed from the matrices.
    """

    name: str
    description: str
    index: sp.Symbol | None
    symbolic: Callable[[OptimizerSpec], sp.Expr]
    numeric: Callable[[SpecNumerics, Mapping[sp.Symbol, sp.Rational], object], object]


def _lr(spec: OptimizerSpec) -> sp.Symbol | None:
    return next((hp.symbol for hp in spec.hyperparameters if hp.name == "lr"), None)


def _derived_value(attribute: str) -> Callable[[SpecNumerics, Mapping[sp.Symbol, sp.Rational], object], object]:
    """Numeric value of a derived expression without an independent numeric route (lambdified at 50 digits)."""

    def value(num: SpecNumerics, point: Mapping[sp.Symbol, sp.Rational], _: object) -> object:
        expr = _in_lr(getattr(derive(num.spec), attribute), num.spec)
        return sp.lambdify(num.args, expr, "mpmath")(*num.values(point))

    return value


def _risk_factor(point: Mapping[sp.Symbol, sp.Rational]) -> mp.mpf:
    return rational_mpf(point[h]) / 2 * rational_mpf(point[c]) / rational_mpf(point[B])


#: name -> a derived quantity of an optimizer that :func:`verify_formula` compares a formula with
QUANTITIES: dict[str, Quantity] = {
    q.name: q
    for q in (
        Quantity("stationary_risk", "stationary risk of one direction, E l_i(inf)", None,
                 lambda s: derive(s).stationary_risk,
                 lambda num, pt, _: _risk_factor(pt) * num.noise_sum(pt)),
        Quantity("noise_sum", "sum_k g_k^2 (the stationary risk is hc/(2B) times it)", None,
                 lambda s: closed_form(s).noise_sum, lambda num, pt, _: num.noise_sum(pt)),
        Quantity("effective_lr", "effective learning rate from the slow eigenvalue, 1 - alpha_eff h + O(h^2)", None,
                 lambda s: derive(s).effective_lr, _derived_value("effective_lr")),
        Quantity("effective_lr_steady_state", "effective learning rate from the small-alpha steady state", None,
                 lambda s: derive(s).effective_lr_steady_state, _derived_value("effective_lr_steady_state")),
        Quantity("slow_eigenvalue_series", "slow eigenvalue to first order in x = alpha h", None,
                 lambda s: derive(s).slow_eigenvalue_series, _derived_value("slow_eigenvalue_series")),
        Quantity("characteristic_polynomial", "det(zI - A) of the mean dynamics, in z", z,
                 lambda s: derive(s).characteristic_polynomial,
                 lambda num, pt, i: num.characteristic_polynomial(pt, i)),
        Quantity("mean_path", "m_t = E y_t / theta(0) (the bracket of Theorems 1 and 2), in t", t,
                 lambda s: closed_form(s).mean_path, lambda num, pt, i: num.mean_path(pt, int(i))),
        Quantity("impulse_response", "g_k = out A^k b, in k", k,
                 lambda s: closed_form(s).impulse_response, lambda num, pt, i: num.impulse_response(pt, int(i))),
        Quantity("partial_noise_sum", "sum_{k<t} g_k^2, in t", t,
                 lambda s: closed_form(s).partial_noise_sum, lambda num, pt, i: num.partial_noise_sum(pt, int(i))),
        Quantity("expected_risk", "exact risk E l_i(t) = h/2 [s0 m_t^2 + (c/B) sum_{k<t} g_k^2], in t", t,
                 lambda s: closed_form(s).expected_risk, lambda num, pt, i: num.expected_risk(pt, int(i))),
    )
}


@dataclass(frozen=True)
class FormulaVerdict:
    """The answer of :func:`verify_formula`.

    ``verdict``: ``"equal"``, ``"not equal"`` or ``"unknown"``; ``formula``: the parsed formula
    in canonical symbols; ``derived``: the derived expression; ``counterexample``: the point
    (symbol name -> exact value, plus the index) where they differ, with ``values`` =
    (formula, derived) there to 20 digits; ``tried``: what was attempted, in order.
    """

    verdict: str
    optimizer: str
    quantity: str
    formula: sp.Expr
    derived: sp.Expr
    counterexample: dict[str, str] | None
    values: tuple[str, str] | None
    tried: tuple[str, ...]
    seconds: float

    @property
    def equal(self) -> bool:
        return self.verdict == "equal"

    def __str__(self) -> str:
        lines = [f"{self.verdict}: {self.quantity} of {self.optimizer}", f"  formula: {self.formula}",
                 f"  derived: {self.derived}"]
        if self.counterexample is not None and self.values is not None:
            lines.append("  counterexample: " + ", ".join(f"{k} = {v}" for k, v in self.counterexample.items()))
            lines.append(f"  formula value: {self.values[0]}")
            lines.append(f"  derived value: {self.values[1]}")
        lines += [f"  tried: {s}" for s in self.tried]
        return "\n".join(lines)


# ---------------------------------------------------------------------- parsing
_GENERAL_ALIASES: dict[str, sp.Symbol] = {
    **{n: alpha for n in ("alpha", "α", "lr", "eta", "η")},
    **{n: beta for n in ("beta", "β")},
    **{n: gamma for n in ("gamma", "γ")},
    **{n: nu for n in ("nu", "ν")},
    **{n: h for n in ("h", "h_i", "hi")},
    **{n: c for n in ("c", "c_i", "ci")},
    **{n: v0 for n in ("v0", "v_0", "s0", "s_0")},
    **{n: z for n in ("z", "lambda", "λ")},
    **{n: r1 for n in ("r1", "r_1")},
    **{n: r2 for n in ("r2", "r_2")},
    "B": B, "p": p, "t": t, "k": k, "x": x,
}


def _normal_name(name: str) -> str:
    return re.sub(r"[\\{}\s]", "", name)


def _aliases(spec: OptimizerSpec) -> dict[str, sp.Symbol]:
    table = dict(_GENERAL_ALIASES)
    for i, root in enumerate(root_symbols(spec.n), start=1):
        table[f"r{i}"] = table[f"r_{i}"] = root
    for hp in spec.hyperparameters:
        table[hp.name] = hp.symbol
        table[hp.symbol.name] = hp.symbol
    return table


def _right_hand_side(text: str) -> str:
    """The part after a single top-level ``=`` (a left-hand side such as ``E l(inf) =`` is dropped).

    Only an ``=`` outside brackets and braces counts (LaTeX's ``\\sum_{i=1}`` or a keyword
    argument is not an equation), and not one of ``<= >= == !=``.
    """
    level, cuts = 0, []
    for j, ch in enumerate(text):
        level += (ch in "([{") - (ch in ")]}")
        if ch == "=" and level == 0 and text[j - 1: j] not in ("<", ">", "=", "!") and text[j + 1: j + 2] != "=":
            cuts.append(j)
    if not cuts:
        return text
    if len(cuts) != 1:
        raise ValueError(f"formula must be an expression, optionally 'lhs = expression'; got {text[:60]!r}")
    return text[cuts[0] + 1:]


def parse_user_formula(formula: object, spec: OptimizerSpec, syntax: str = "auto") -> sp.Expr:
    """``formula`` (sympy expression, sympy-syntax string or LaTeX) in the canonical symbols of ``spec``.

    ``syntax``: ``"auto"`` (LaTeX if the text has a backslash or a brace, else sympy syntax),
    ``"sympy"`` or ``"latex"``. The text is never executed: it is read into a syntax tree and
    rebuilt from a whitelist with bounded size and cost (:mod:`nqm.proofs.formulas._parse`, whose
    docstring is the grammar); a sympy expression is rebuilt the same way. ``ValueError`` on
    anything outside it.
    """
    if syntax not in ("auto", "sympy", "latex"):
        raise ValueError(f"syntax must be 'auto', 'sympy' or 'latex'; got {syntax!r}")
    builder = FormulaBuilder(_aliases(spec), _normal_name)
    if isinstance(formula, sp.Basic):
        parsed = builder.from_sympy(formula)
    elif not isinstance(formula, str) or not formula.strip():
        raise ValueError(f"formula must be a sympy expression or a non-empty string; got {formula!r}")
    else:
        text = _right_hand_side(formula.strip())
        use_latex = syntax == "latex" or (syntax == "auto" and re.search(r"[\\{}]", text) is not None)
        parsed = builder.from_latex(text) if use_latex else builder.from_python(text)
    return parsed


# ---------------------------------------------------------------------- checking
def _in_lr(expr: sp.Expr, spec: OptimizerSpec) -> sp.Expr:
    """``expr`` with the notebook's :math:`x` replaced by :math:`\\alpha h` (if the spec has a learning rate)."""
    lr = _lr(spec)
    return sp.sympify(expr).subs(x, lr * h) if lr is not None else sp.sympify(expr)


def _resolve(optimizer: object, precondition: bool) -> OptimizerSpec:
    if isinstance(optimizer, OptimizerSpec):
        spec = optimizer
    elif isinstance(optimizer, str):
        try:
            spec = get_spec(optimizer)
        except KeyError as err:
            raise ValueError(f"optimizer must be a registered name or an OptimizerSpec; {err.args[0]}") from None
    else:
        raise ValueError(f"optimizer must be a registered name or an OptimizerSpec; got {optimizer!r}")
    return spec.precondition() if precondition else spec


def _index_value(quantity: Quantity, sampler: PointSampler) -> sp.Rational | int | None:
    if quantity.index is None:
        return None
    if quantity.index == z:
        return sp.Rational(f"{sampler.rng.uniform(-2, 2):.4g}")
    return int(sampler.rng.integers(0, 41))


def _vieta_substitution(spec: OptimizerSpec) -> dict[sp.Symbol, sp.Expr] | None:
    """Hyperparameters in terms of the named roots (labels as :func:`root_values` orders them), or None."""
    if spec.n < 2:
        return None
    try:
        return hyperparameters_from_roots(spec)
    except SpecError:
        pass
    try:
        return hyperparameters_from_roots(spec, dict(zip(root_symbols(spec.n), root_values(spec))))
    except SpecError:
        return None


class _SymbolicBudget:
    """Runs :func:`same_closed_form` calls in a worker process (:func:`._budget.call_with_budget`)
    until ``seconds`` of wall-clock time are spent, noting each attempt in ``tried``."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.tried: list[str] = []

    def same(self, label: str, *args: object) -> bool | None:
        """True/False as :func:`same_closed_form` answers, None if it did not answer in time or failed."""
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            self.tried.append(f"{label}: not attempted (the symbolic time budget of {self.seconds:g} s was spent)")
            return None
        status, value = call_with_budget(same_closed_form, args, remaining)
        if status == "done":
            self.tried.append(f"{label}: {'equal' if value else 'inconclusive'}")
            return bool(value)
        self.tried.append(f"{label}: stopped at the symbolic time budget of {self.seconds:g} s" if status == "timeout"
                          else f"{label}: failed ({value})")
        return None


def _symbolic(user: sp.Expr, derived: sp.Expr, spec: OptimizerSpec, seconds: float) -> tuple[bool, list[str]]:
    budget = _SymbolicBudget(seconds)
    if budget.same("symbolic: expansion/cancellation (powers of t, k as sequences)", user, derived):
        return True, budget.tried
    roots = set(root_symbols(spec.n)) if spec.n >= 2 else set()
    if roots & (user.free_symbols | derived.free_symbols):
        sub = _vieta_substitution(spec)
        if sub is not None:
            relations = ", ".join(f"{k} = {v}" for k, v in sub.items())
            if budget.same(f"symbolic modulo Vieta's relations ({relations})", user, derived, sub):
                return True, budget.tried
        values = dict(zip(root_symbols(spec.n), root_values(spec)))
        u, d = user.xreplace(values), derived.xreplace(values)
        if sp.count_ops(u) + sp.count_ops(d) <= MAX_RADICAL_OPS and budget.same("symbolic with the roots in radicals", u, d):
            return True, budget.tried
    return False, budget.tried


def _pair(user_f: Callable[..., object], q: Quantity, num: SpecNumerics, point: Mapping[sp.Symbol, sp.Rational],
          i: object) -> tuple[object, object]:
    """(formula, derived) at ``point`` (and index ``i``) at the current precision."""
    return user_f(*num.values(point), *([rational_mpf(i)] if i is not None else [])), q.numeric(num, point, i)


def _stable(coarse: object, fine: object) -> bool:
    return abs(coarse - fine) <= STABLE * max(abs(coarse), abs(fine))


def _difference(pair: Callable[[], tuple[object, object]], a: object, b: object) -> bool | None | tuple[int, tuple]:
    """Whether values ``a``, ``b`` that differ at DIGITS really differ: re-evaluated at each of
    CONFIRM_DIGITS, True (not a counterexample) as soon as they agree, ``(digits, (a, b))`` as
    soon as both agree with the previous precision's to a relative STABLE while differing (so a
    formula that cancels more digits than 50 is not reported unequal), None if neither happens."""
    for dps in CONFIRM_DIGITS:
        with mp.workdps(dps):
            try:
                fine_a, fine_b = pair()
            except (ZeroDivisionError, ValueError, TypeError):
                return None
            if not (mp.isfinite(fine_a) and mp.isfinite(fine_b)):
                return None
            if _close(fine_a, fine_b):
                return True
            if _stable(a, fine_a) and _stable(b, fine_b):
                return dps, (fine_a, fine_b)
            a, b = fine_a, fine_b
    return None


def _show(value: object) -> str:
    """20 significant digits; a complex value with a negligible imaginary part prints as real."""
    if isinstance(value, mp.mpc) and abs(value.imag) <= mp.mpf(10) ** -40 * max(abs(value.real), 1):
        value = value.real
    return mp.nstr(value, 20)


def _close(a: object, b: object) -> bool:
    return abs(a - b) <= AGREEMENT * max(abs(a), abs(b)) + mp.mpf(10) ** -45


def verify_formula(
    formula: object,
    *,
    optimizer: object,
    quantity: str,
    precondition: bool = False,
    samples: int = 20,
    seed: int = 0,
    syntax: str = "auto",
    symbolic_seconds: float = SYMBOLIC_SECONDS,
) -> FormulaVerdict:
    r"""Decide whether ``formula`` equals the derived ``quantity`` of ``optimizer`` (module docstring).

    ``optimizer``: a registered name or an :class:`~nqm.theory.OptimizerSpec`;
    ``precondition=True`` checks the :math:`P = H^p` version (adds :math:`p`). ``samples``
    (1 to :data:`MAX_SAMPLES`, and at most :data:`MAX_POINT_WORK` formula nodes evaluated in
    all) random stable points (seeded by ``seed``) are compared first;
    symbolic proof is attempted when they all agree, in a worker process, for at most
    ``symbolic_seconds`` (in :math:`(0,` :data:`MAX_SYMBOLIC_SECONDS` :math:`]`; the worker's
    start, about 1 s on first use, overlaps the comparison and is not counted); past it the
    answer is ``unknown``.
    ``ValueError`` names the bad argument (unknown quantity, unparsable or refused formula,
    symbols the quantity cannot depend on).

    Grammar of ``formula`` (a string, or a sympy expression taken apart the same way;
    :mod:`nqm.proofs.formulas._parse` has the details). Allowed:

    * numbers: integer and decimal literals, exact (``0.1`` is :math:`1/10`);
    * names: the symbols of the module docstring, and ``pi``, ``E``, ``I``;
    * operators ``+ - * / **`` (``^`` too), unary ``+``/``-``, parentheses;
    * calls, positional only, of ``sqrt exp log ln`` (``log(x, b)`` too) ``sin cos tan asin
      acos atan sinh cosh tanh abs``; a symbol called with one argument, ``B(2 - x)``, is a
      product. LaTeX (``\frac``, ``\sqrt``, ``\left(``, ``^{}``, ``\cdot``, Greek letters,
      ``h_i``, ...) is parsed by sympy and must reduce to the same parts.

    Everything else is refused: attribute access, subscripts, keywords, strings, lambdas,
    comprehensions, containers, comparisons, any other name or call (``eval``, ``chr``,
    ``factorial``, ``N``, ``\operatorname{...}``, ``\int``, ``\sum``, ``\binom``, ``x!``).
    Bounds (:mod:`nqm.proofs.formulas._parse`): 100,000 characters of text (LaTeX: 2,000);
    50,000 nodes; 60 levels of nesting (a chain of ``+``/``-`` or ``*``/``/`` is one level,
    so a flat sum of thousands of terms is fine); literals of at most 100 digits; numeric
    exponents :math:`p/q` with :math:`|p|, q \le 1000` (towers are refused); 4,000 digits for
    any exact number the formula makes. At a sample point, :math:`e^u`, trigonometric and
    hyperbolic functions of :math:`u` and :math:`b^u` with :math:`|u|` (or :math:`|u \ln b|`)
    above :math:`2^{4096}` count as undefined there (:mod:`nqm.proofs.formulas._evaluate`).
    """
    start = time.perf_counter()
    if quantity not in QUANTITIES:
        raise ValueError(f"quantity must be one of {', '.join(QUANTITIES)}; got {quantity!r}")
    if not isinstance(samples, int) or isinstance(samples, bool) or not 1 <= samples <= MAX_SAMPLES:
        raise ValueError(f"samples must be an integer from 1 to {MAX_SAMPLES}; got {samples!r}")
    if (not isinstance(symbolic_seconds, (int, float)) or isinstance(symbolic_seconds, bool)
            or not 0 < symbolic_seconds <= MAX_SYMBOLIC_SECONDS):
        raise ValueError(f"symbolic_seconds must be a number of seconds in (0, {MAX_SYMBOLIC_SECONDS:g}]; "
                         f"got {symbolic_seconds!r}")
    q = QUANTITIES[quantity]
    spec = _resolve(optimizer, precondition)
    if q.name in ("effective_lr", "effective_lr_steady_state", "slow_eigenvalue_series") and _lr(spec) is None:
        raise ValueError(f"quantity {quantity} needs a hyperparameter named 'lr'; {spec.name} has none")
    user = _in_lr(parse_user_formula(formula, spec, syntax), spec)
    size = sum(1 for _ in sp.preorder_traversal(user))
    if samples * size > MAX_POINT_WORK:
        raise ValueError(f"samples times the formula's size ({samples} x {size} nodes) must be at most "
                         f"{MAX_POINT_WORK:,}; use fewer samples")
    num = spec_numerics(spec)
    allowed = set(num.args) | ({q.index} if q.index is not None else set()) | (set(root_symbols(spec.n)) if spec.n >= 2 else set())
    extra = user.free_symbols - allowed
    if extra:
        raise ValueError(f"formula uses symbol(s) {sorted(map(str, extra))} that {quantity} of {spec.name} cannot depend on; "
                         f"allowed: {sorted(map(str, allowed))}")
    prestart((same_closed_form.__module__,))  # the symbolic worker starts while the points are compared
    derived = _in_lr(q.symbolic(spec), spec)
    roots = root_symbols(spec.n) if spec.n >= 2 else ()
    roots_f = sp.lambdify(num.args, list(root_values(spec)) if roots else [], "mpmath")  # derived, not user text

    def user_f(*args: object) -> object:
        point_values = dict(zip(num.args, args)) | dict(zip(roots, roots_f(*args[: len(num.args)])))
        return evaluate(user, point_values | ({q.index: args[-1]} if q.index is not None else {}))

    sampler = PointSampler(spec, seed)
    checked, skipped, unsettled = 0, 0, 0
    with mp.workdps(DIGITS):
        for _ in range(samples):
            point = sampler.point(stable=True)
            i = _index_value(q, sampler)
            args = num.values(point) + ([rational_mpf(i)] if i is not None else [])
            try:
                a, b = user_f(*args), q.numeric(num, point, i)
            except (ZeroDivisionError, ValueError, TypeError):
                skipped += 1
                continue
            if not (mp.isfinite(a) and mp.isfinite(b)):
                skipped += 1
                continue
            checked += 1
            if _close(a, b):
                continue
            outcome = _difference(lambda: _pair(user_f, q, num, point, i), a, b)
            if outcome is None:
                checked, unsettled = checked - 1, unsettled + 1
                if unsettled == MAX_UNSETTLED:
                    break
                continue
            if outcome is True:
                continue
            dps, (a, b) = outcome
            where = {s.name: str(v) for s, v in sorted(point.items(), key=lambda kv: kv[0].name) if s in set(num.args)}
            if i is not None:
                where[q.index.name] = str(i)
            tried = (f"numeric: point {checked} of the sample differs (relative difference "
                     f"{mp.nstr(abs(a - b) / max(abs(a), abs(b)), 3)} at {dps} digits, where both values agree with "
                     f"those at {dps // 2} digits to a relative 1e-20)",)
            return FormulaVerdict("not equal", spec.name, quantity, user, derived, where,
                                  (_show(a), _show(b)), tried, time.perf_counter() - start)
    numeric_note = (f"numeric: {checked} random points inside the stability region agree to a relative 1e-30 at {DIGITS} digits"
                    + (f" ({skipped} points skipped: a side undefined there)" if skipped else "")
                    + (f" ({unsettled} points skipped: the values did not settle by {CONFIRM_DIGITS[-1]} digits"
                       + ("; no further points compared)" if unsettled == MAX_UNSETTLED else ")") if unsettled else ""))
    if checked == 0:
        return FormulaVerdict("unknown", spec.name, quantity, user, derived, None, None,
                              (f"numeric: no sample point where both sides are defined and settle "
                               f"({skipped} undefined, {unsettled} unsettled)",),
                              time.perf_counter() - start)
    proved, tried = _symbolic(user, derived, spec, symbolic_seconds)
    return FormulaVerdict("equal" if proved else "unknown", spec.name, quantity, user, derived, None, None,
                          (numeric_note, *tried), time.perf_counter() - start)
