r"""Machine-checked proofs: the result type, the runner, and the proofs that hold for any spec.

A :class:`Proof` states a claim in words and in LaTeX, names its method, its assumptions and
its domain, and checks it; :meth:`Proof.run` times the check and returns a
:class:`ProofResult`. The methods (:data:`METHODS`) are

* ``symbolic identity`` — both sides derived and shown equal by expansion/cancellation
  (powers in :math:`t, k` compared as sequences, roots eliminated through Vieta's relations);
* ``series expansion`` — a limit or leading-order term computed symbolically;
* ``sign argument`` / ``factorisation argument`` — an inequality or a case split settled by
  factoring and the signs of the factors under the stated assumptions;
* ``numerical (exact engine)`` — exact integer step counts of :mod:`nqm.numerics`;
* ``sampled check (mpmath, 50 digits)`` — a dense sample of the stated domain evaluated at
  50 significant digits; used only where the claim has no symbolic route, and reported so.

Generic proofs, for *any* :class:`~nqm.theory.OptimizerSpec` (registered or not), per
eigen-direction :math:`x_{t+1} = Ax_t + b\,\xi_t`, :math:`y_t = \mathrm{out}\,x_t`:

``stationary_risk[spec]``
    The derived stationary risk :math:`\tfrac12 h\frac cB\,\mathrm{out}\,\bar S\,\mathrm{out}^\top`
    is the limit of the risk curve: :math:`\bar S` solves :math:`\bar S = A\bar SA^\top + bb^\top`
    (symbolic), and inside the Jury region :math:`\rho(A) < 1`, so
    :math:`\bar S - N_t = A^t\bar S(A^t)^\top \to 0` with :math:`N_t` the noise covariance at
    step t; the closed-form curve (Z-transform, specs with at most two states) tends to it
    symbolically, and the 50-digit moment recursion converges to it at sampled points.
``stability_region[spec]``
    Jury's conditions on :math:`\det(zI-A)` (necessary and sufficient, Jury 1964) agree with
    the spectral radius of :math:`A` computed at 50 digits on a dense sample of the
    hyperparameter domain, half of it within a relative :math:`10^{-6}\dots10^{-2}` of the
    stability boundary.
``bound_vs_exact[spec]``
    :math:`\mathbb E\,\ell(t) \le \mathcal B(t) := \tfrac12 h\,v_0\,m_t^2 + \mathbb E\,\ell(\infty)`
    for every :math:`t \ge 0` (the bound of Theorems 1 and 2): the gap is
    :math:`\tfrac{hc}{2B}\,\mathrm{out}\,A^t\bar S(A^t)^\top\mathrm{out}^\top
    = \tfrac{hc}{2B}\sum_{k\ge t} g_k^2 \ge 0`, :math:`g_k = \mathrm{out}A^kb` real.

:func:`~nqm.proofs.claims.run_all` (in :mod:`._catalogue`) runs the whole catalogue.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import mpmath as mp
import numpy as np
import sympy as sp
from sympy.polys.polyfuncs import symmetrize

from nqm.theory import OptimizerSpec, Statement, closed_form, derive, root_symbols, same_closed_form, vieta_relations
from nqm.theory.symbols import B, c, h, k, t, v0

from ..conformance import resolve_spec
from ._results import ProofResult

__all__ = [
    "METHODS",
    "Outcome",
    "Proof",
    "ProofResult",
    "PointSampler",
    "DIGITS",
    "rational_mpf",
    "SpecNumerics",
    "spec_numerics",
    "bound_proof",
    "eliminate_roots",
    "generic_proofs",
    "paper_claim",
    "stability_proof",
    "stationary_risk_proof",
    "statements_latex",
    "statements_outcome",
]

SYMBOLIC = "symbolic identity"
SERIES = "series expansion"
SIGN = "sign argument"
FACTORISATION = "factorisation argument"
NUMERIC = "numerical (exact engine)"
SAMPLED = "sampled check (mpmath, 50 digits)"
#: the vocabulary of :attr:`Proof.method` (a method may combine several, joined by " + ")
METHODS: tuple[str, ...] = (SYMBOLIC, SERIES, SIGN, FACTORISATION, NUMERIC, SAMPLED)

#: working precision of every sampled check (significant digits)
DIGITS = 50


def method(*parts: str) -> str:
    """A method string from :data:`METHODS` (several are joined by ``" + "``)."""
    unknown = [m for m in parts if m not in METHODS]
    if unknown or not parts:
        raise ValueError(f"method must be one or more of {METHODS}; got {parts!r}")
    return " + ".join(parts)


# ---------------------------------------------------------------------- results
@dataclass(frozen=True)
class Outcome:
    """What a proof's check returns: ``ok``, the steps it took (``details``) and figures (``data``)."""

    ok: bool
    details: tuple[str, ...]
    data: Mapping[str, Any] = field(default_factory=dict)


def step(ok: bool, text: str) -> str:
    """One line of :attr:`Outcome.details`, marked ``[ok]`` or ``[FAIL]``."""
    return f"[{'ok' if ok else 'FAIL'}] {text}"


def combine(*outcomes: Outcome) -> Outcome:
    """All steps of ``outcomes``; ok if every one is."""
    data: dict[str, Any] = {}
    for o in outcomes:
        data.update(o.data)
    return Outcome(all(o.ok for o in outcomes), tuple(d for o in outcomes for d in o.details), data)


@dataclass(frozen=True)
class Proof:
    """One named claim with its check (see the module docstring); :meth:`run` gives a :class:`ProofResult`.

    ``statements`` holds the paper's statements (:class:`~nqm.theory.Statement` objects, each
    the paper's formula beside the object derived from the specs) that the claim rests on:
    :meth:`run` checks each of them (their own derivations, not a repetition), then runs
    ``check``, the steps no statement covers (``None``: the statements are the whole proof).
    """

    name: str
    claim: str
    latex: str
    method: str
    check: Callable[[], Outcome] | None = field(default=None, repr=False)
    reference: str = ""
    assumptions: tuple[str, ...] = ()
    domain: str = ""
    optimizers: tuple[str, ...] = ()
    statements: tuple[Statement, ...] = ()

    def __post_init__(self) -> None:
        wrong = [s for s in self.statements if not isinstance(s, Statement)]
        if wrong:
            raise ValueError(f"statements of proof {self.name!r} must be nqm.theory.Statement objects; got {wrong[0]!r}")
        if self.check is None and not self.statements:
            raise ValueError(f"proof {self.name!r} needs a check or at least one statement")

    def run(self) -> ProofResult:
        """Check the statements and run the check, timed; an exception is a failed proof
        (``outcome = "error"``), never a crash."""
        start = time.perf_counter()
        try:
            parts = [statements_outcome(*self.statements)]
            if self.check is not None:
                parts.append(self.check())
            out = combine(*parts)
            outcome = "passed" if out.ok else "failed"
        except Exception as exc:  # noqa: BLE001 - a proof that raises has failed; report why
            out = Outcome(False, (step(False, f"the check raised {type(exc).__name__}: {exc}"),))
            outcome = "error"
        return ProofResult(
            self.name, self.claim, self.latex, self.method, out.ok, outcome, out.details, self.reference,
            self.assumptions, self.domain, self.optimizers, time.perf_counter() - start, dict(out.data),
            tuple(st.name for st in self.statements),
        )


def statements_outcome(*statements: Statement) -> Outcome:
    """Check the paper's ``statements``: each derivation against its claim.

    A statement marked ``correct=False`` (a known error in a public restatement) passes when
    the derivation refutes it.
    """
    lines, ok = [], True
    for st in statements:
        result = st.check()
        verdict = "equal" if result.equal else "not equal"
        kind = "paper's claim, must be equal" if st.correct else "known error in a restatement, must be refuted"
        lines.append(step(result.ok, f"theory statement {st.name} ({st.reference}): derived vs stated: {verdict} ({kind})"))
        ok &= result.ok
    return Outcome(ok, tuple(lines))


def statements_latex(*statements: Statement) -> str:
    r"""The display of the paper's (correct) ``statements``, one line each (joined by ``\\``)."""
    return r" \\ ".join(st.latex for st in statements if st.correct)


#: the domain of a claim settled symbolically
SYMBOLIC_DOMAIN = "symbolic: all admissible hyperparameters under the assumptions"


def paper_claim(
    name: str,
    claim: str,
    how: str,
    statements: tuple[Statement, ...],
    *,
    reference: str,
    optimizers: tuple[str, ...],
    assumptions: tuple[str, ...] = (),
    latex: str | None = None,
    extra: Callable[[], Outcome] | None = None,
    domain: str = SYMBOLIC_DOMAIN,
) -> Proof:
    """A claim of the paper proved by its ``statements`` (and the ``extra`` steps they do not cover).

    ``how`` is the method (:func:`method`); the display defaults to the statements' own
    (:func:`statements_latex`).
    """
    return Proof(
        name, claim, statements_latex(*statements) if latex is None else latex, how, extra,
        reference=reference, assumptions=assumptions, domain=domain, optimizers=optimizers, statements=statements,
    )



# ---------------------------------------------------------------------- sampling at 50 digits
def rational_mpf(value: sp.Rational | int) -> mp.mpf:
    """The exact rational ``value`` as an mpmath float at the working precision (numerator divided by denominator)."""
    r = sp.Rational(value)
    return mp.mpf(int(r.p)) / int(r.q)


def _precision() -> Any:
    """A precision context of at least :data:`DIGITS` digits (more if the caller works at more)."""
    return mp.workdps(max(DIGITS, mp.mp.dps))


def _rational(value: float) -> sp.Rational:
    """``value`` rounded to 6 significant digits, as an exact rational (a printable, reproducible point)."""
    return sp.Rational(f"{value:.6g}")


#: the sampling domain of the generic checks and of :func:`~nqm.proofs.verify_formula`
SAMPLE_DOMAIN: dict[str, tuple[float, float]] = {
    "h": (0.1, 10.0),  # log-uniform
    "c": (0.1, 10.0),  # log-uniform
    "v0": (0.1, 10.0),  # log-uniform
    "B": (1.0, 1024.0),  # log-uniform, rounded to an integer
    "x": (1e-3, 20.0),  # x = lr * h, log-uniform (the learning rate is x/h)
}
DOMAIN_TEXT = (
    r"$h_i, c_i, s_0 \in [0.1, 10]$ log-uniform, $B \in \{1, \dots, 1024\}$ log-uniform, "
    r"$\alpha h_i \in [10^{-3}, 20]$ log-uniform, other hyperparameters over their declared ranges "
    r"(with weight near both ends); points rounded to 6 significant digits (exact rationals)"
)


class SpecNumerics:
    """A spec's matrices and derived objects evaluated at 50 digits (mpmath), at exact rational points.

    Independent of the closed forms: mean path :math:`m_t = \\mathrm{out}A^t\\mathrm{init}`,
    impulse response :math:`g_k = \\mathrm{out}A^kb`, noise sums and the risk are computed from
    the matrices by exact powers and doubling. Use :func:`spec_numerics` (cached per spec).
    """

    def __init__(self, spec: OptimizerSpec) -> None:
        self.spec = spec
        self.args = (h, c, B, v0, *spec.symbols)
        self._mats = [sp.lambdify(self.args, m, "mpmath") for m in (spec.A, spec.b, spec.init, spec.out)]

    def values(self, point: Mapping[sp.Symbol, sp.Rational]) -> list[mp.mpf]:
        """The point's values in :attr:`args` order (symbols it lacks are 1)."""
        return [rational_mpf(point.get(s, 1)) for s in self.args]

    def matrices(self, point: Mapping[sp.Symbol, sp.Rational]) -> tuple[mp.matrix, ...]:
        """``(A, b, init, out)`` at ``point``."""
        vals = self.values(point)
        return tuple(mp.matrix(f(*vals)) for f in self._mats)

    def spectral_radius(self, point: Mapping[sp.Symbol, sp.Rational]) -> mp.mpf:
        r""":math:`\rho(A) = \max|\lambda_i(A)|` at ``point`` (mpmath's eigenvalue solver)."""
        with _precision():
            A = self.matrices(point)[0]
            if A.rows == 1:  # mpmath's eig returns a tuple for 1x1 matrices
                return abs(A[0, 0])
            return max(abs(e) for e in mp.eig(A, left=False, right=False))

    def characteristic_polynomial(self, point: Mapping[sp.Symbol, sp.Rational], zval: sp.Rational) -> mp.mpf:
        r""":math:`\det(zI - A)` at ``point`` and :math:`z` = ``zval``."""
        with _precision():
            A = self.matrices(point)[0]
            return mp.det(rational_mpf(zval) * mp.eye(A.rows) - A)

    def mean_path(self, point: Mapping[sp.Symbol, sp.Rational], steps: int) -> mp.mpf:
        with _precision():
            A, _, init, out = self.matrices(point)
            return (out * A**steps * init)[0]

    def impulse_response(self, point: Mapping[sp.Symbol, sp.Rational], index: int) -> mp.mpf:
        with _precision():
            A, b, _, out = self.matrices(point)
            return (out * A**index * b)[0]

    def partial_noise_sum(self, point: Mapping[sp.Symbol, sp.Rational], steps: int) -> mp.mpf:
        r""":math:`\sum_{k<t} g_k^2 = \mathrm{out}\,N_t\,\mathrm{out}^\top` by binary doubling of
        :math:`N_{t+1} = AN_tA^\top + bb^\top`, :math:`N_{2t} = N_t + A^tN_t(A^t)^\top`."""
        with _precision():
            A, b, _, out = self.matrices(point)
            n = A.rows
            N, P = mp.zeros(n, n), mp.eye(n)  # N_m and A^m for the prefix m of the bits read so far
            bits = bin(int(steps))[2:] if steps else ""
            for bit in bits:
                N, P = N + P * N * P.T, P * P
                if bit == "1":
                    N, P = A * N * A.T + b * b.T, A * P
            return (out * N * out.T)[0]

    def noise_sum(self, point: Mapping[sp.Symbol, sp.Rational], max_doublings: int = 400) -> mp.mpf:
        r""":math:`\sum_{k\ge0} g_k^2`: doubling :math:`N_{2m} = N_m + A^mN_m(A^m)^\top` until
        :math:`\|A^m\| < 10^{-60}` (``nan`` if that takes more than ``max_doublings``)."""
        with _precision():
            A, b, _, out = self.matrices(point)
            N, P = b * b.T, A
            for _ in range(max_doublings):
                if mp.mnorm(P, 1) < mp.mpf(10) ** -60:
                    return (out * N * out.T)[0]
                N, P = N + P * N * P.T, P * P
            return mp.nan

    def expected_risk(self, point: Mapping[sp.Symbol, sp.Rational], steps: int) -> mp.mpf:
        r""":math:`\tfrac12 h[v_0 m_t^2 + \frac cB\sum_{k<t}g_k^2]`."""
        with _precision():
            hv, cv, Bv, vv = (rational_mpf(point.get(s, 1)) for s in (h, c, B, v0))
            return hv / 2 * (vv * self.mean_path(point, steps) ** 2 + cv / Bv * self.partial_noise_sum(point, steps))


@lru_cache(maxsize=None)
def spec_numerics(spec: OptimizerSpec) -> SpecNumerics:
    """The (cached) :class:`SpecNumerics` of ``spec``."""
    return SpecNumerics(spec)


class PointSampler:
    """Reproducible random points of a spec's domain (:data:`SAMPLE_DOMAIN`) as exact rationals.

    ``point(stable=True)`` draws until the spectral radius of :math:`A` (50 digits) is below 1;
    ``stable=None`` accepts any point. Hyperparameters: the learning rate (``lr``) through
    :math:`x = \\alpha h`; a finite range uniformly, with a quarter of the draws within
    :math:`10^{-4}\\dots10^{-1}` of each end and closed ends taken 5% of the time each; a
    half-line :math:`(lo, \\infty)` as :math:`lo + ` log-uniform :math:`[10^{-3}, 10^2]`.
    """

    def __init__(self, spec: OptimizerSpec, seed: int = 0) -> None:
        self.spec = spec
        self.rng = np.random.default_rng(seed)
        self.numerics = spec_numerics(spec)

    def _log_uniform(self, lo: float, hi: float) -> float:
        return float(math.exp(self.rng.uniform(math.log(lo), math.log(hi))))

    def hyperparameter(self, hp: Any, curvature: float) -> sp.Rational:
        """One value of hyperparameter ``hp`` (the learning rate as ``x/curvature``)."""
        lo, hi = hp.lower, hp.upper
        if hp.name == "lr":
            return _rational(self._log_uniform(*SAMPLE_DOMAIN["x"]) / curvature)
        if math.isinf(hi):
            return _rational(lo + self._log_uniform(1e-3, 1e2))
        u = self.rng.random()
        width = hi - lo
        if hp.lower_closed and u < 0.05:
            return _rational(lo)
        if hp.upper_closed and u > 0.95:
            return _rational(hi)
        if u < 0.3:
            return _rational(lo + width * 10 ** -self.rng.uniform(1, 4))
        if u > 0.7:
            return _rational(hi - width * 10 ** -self.rng.uniform(1, 4))
        return _rational(self.rng.uniform(lo, hi))

    def raw_point(self) -> dict[sp.Symbol, sp.Rational]:
        """A point without a stability requirement."""
        hv = _rational(self._log_uniform(*SAMPLE_DOMAIN["h"]))
        point = {
            h: hv,
            c: _rational(self._log_uniform(*SAMPLE_DOMAIN["c"])),
            v0: _rational(self._log_uniform(*SAMPLE_DOMAIN["v0"])),
            B: sp.Integer(round(self._log_uniform(*SAMPLE_DOMAIN["B"]))),
        }
        for hp in self.spec.hyperparameters:
            point[hp.symbol] = self.hyperparameter(hp, float(hv))
        return point

    def point(self, stable: bool | None = True, max_tries: int = 10_000) -> dict[sp.Symbol, sp.Rational]:
        """A point whose :math:`\\rho(A) < 1` (``stable=True``), ``> 1`` (``False``) or either (``None``)."""
        for _ in range(max_tries):
            pt = self.raw_point()
            if stable is None or (self.numerics.spectral_radius(pt) < 1) == stable:
                return pt
        raise ValueError(f"{self.spec.name}: no {'stable' if stable else 'unstable'} point in {max_tries} draws")


def describe_point(point: Mapping[sp.Symbol, sp.Rational]) -> str:
    """``name = value`` pairs of a point, in a fixed order."""
    return ", ".join(f"{s} = {v}" for s, v in sorted(point.items(), key=lambda kv: kv[0].name))


# ---------------------------------------------------------------------- symbolic helpers
def eliminate_roots(expr: sp.Expr, spec: OptimizerSpec) -> sp.Expr:
    r"""A rational function of the named roots that is symmetric in them, in the spec's symbols.

    The numerator and denominator (times the Vandermonde product if they are antisymmetric)
    are written in the elementary symmetric polynomials (``symmetrize``), which Vieta's
    relations (:func:`~nqm.theory.vieta_relations`) replace by the coefficients
    of :math:`\det(zI-A)`. ``ValueError`` if ``expr`` is not symmetric.
    """
    roots = root_symbols(spec.n)
    values = [rel.rhs for rel in vieta_relations(spec)]
    num, den = sp.fraction(sp.cancel(sp.together(expr)))
    vandermonde = sp.prod([ri - rj for i, ri in enumerate(roots) for rj in roots[i + 1:]])
    for factor in (sp.S.One, vandermonde):
        parts = []
        for poly in (sp.expand(num * factor), sp.expand(den * factor)):
            sym, rest, defs = symmetrize(poly, *roots, formal=True)
            if rest != 0:
                break
            parts.append(sym.subs({s: v for (s, _), v in zip(defs, values)}))
        else:
            return sp.cancel(parts[0] / parts[1])
    raise ValueError("the expression is not symmetric in the named roots")


def vanishing_limit(expr: sp.Expr, index: sp.Symbol, spec: OptimizerSpec, named: bool) -> sp.Expr:
    r"""The limit :math:`t\to\infty` of a closed form whose index-dependent powers all have eigenvalue bases.

    Every power :math:`w^{a\,t + b}` with :math:`a > 0` is set to 0. That is its limit inside
    the stability region because each base is checked to be a product of named roots
    (:math:`|r_i| < 1` there) or, in radicals, ± an eigenvalue of :math:`A`; ``ValueError``
    otherwise.
    """
    roots = set(root_symbols(spec.n)) if named else {sp.expand(r) for r in derive(spec).eigenvalues}
    e = sp.expand(sp.expand_power_base(sp.expand_power_exp(sp.sympify(expr)), force=True))

    def vanish(power: sp.Pow) -> sp.Expr:
        base, exponent = power.as_base_exp()
        slope = sp.expand(exponent).coeff(index, 1)
        if not (slope.is_number and slope > 0 and sp.expand(exponent - slope * index).free_symbols.isdisjoint({index})):
            raise ValueError(f"power {power} is not of the form w**(a*{index} + b) with a > 0")
        if named:
            ok = bool(base.free_symbols) and base.free_symbols <= roots
            if ok:
                poly = sp.Poly(base, *sorted(roots, key=str))
                ok = poly.is_monomial and abs(poly.LC()) == 1
        else:
            ok = sp.expand(base) in roots or sp.expand(-base) in roots
        if not ok:
            raise ValueError(f"base {base} of {power} is not a product of eigenvalues")
        return sp.S.Zero

    return e.replace(lambda q: q.is_Pow and q.exp.has(index), vanish)


def lyapunov_residual_vanishes(spec: OptimizerSpec) -> bool:
    r""":math:`\bar S - (A\bar SA^\top + bb^\top) = 0` for the derived :math:`\bar S`, entrywise by cancellation."""
    A, b = sp.Matrix(spec.A), sp.Matrix(spec.b)
    S = sp.Matrix(derive(spec).stationary_covariance)
    residual = S - (A * S * A.T + b * b.T)
    return all(sp.cancel(sp.together(e)) == 0 for e in residual)


def _matrices_real(spec: OptimizerSpec) -> bool:
    return all(e.is_real for m in (spec.A, spec.b, spec.out) for e in m)


@lru_cache(maxsize=None)
def closed_form_limits(spec: OptimizerSpec) -> Outcome:
    r"""The closed-form curve (Z-transform, :mod:`nqm.theory._closed_form`) and its limit, for specs with
    at most two states: :math:`s_0 = 0`, :math:`s_{t+1} - s_t = g_t^2` (so :math:`s_t = \sum_{k<t}g_k^2`),
    :math:`\lim s_t = \sum_k g_k^2` (Parseval), :math:`m_t \to 0`, and
    :math:`\tfrac{hc}{2B}\sum_k g_k^2` equals the Lyapunov stationary risk. Cached per spec."""
    cf = closed_form(spec)
    s, g, m = cf.partial_noise_sum, cf.impulse_response, cf.mean_path
    lines = []
    ok0 = same_closed_form(s.subs(t, 0), 0)
    lines.append(step(ok0, "closed form: s_0 = 0 for s_t = partial sum of squares"))
    ok1 = same_closed_form(s.subs(t, t + 1) - s, g.subs(k, t) ** 2)
    lines.append(step(ok1, "closed form: s_(t+1) - s_t = g_t^2 (telescoping, symbolic), hence s_t = sum_(k<t) g_k^2"))
    limit_s = vanishing_limit(s, t, spec, cf.named)
    limit_m = vanishing_limit(m, t, spec, cf.named)
    in_params = eliminate_roots(limit_s, spec) if cf.named else limit_s
    ok2 = same_closed_form(in_params, cf.noise_sum)
    how = "named roots eliminated by Vieta's relations" if cf.named else "roots in radicals"
    lines.append(step(ok2, "closed form: every t-power has an eigenvalue base (|lambda| < 1 when stable), so lim s_t "
                           f"equals the Parseval sum sum_k g_k^2 ({how})"))
    ok3 = limit_m == 0
    lines.append(step(ok3, "closed form: the mean path m_t tends to 0 (every term carries a vanishing power)"))
    ok4 = same_closed_form(h * c / (2 * B) * cf.noise_sum, derive(spec).stationary_risk)
    lines.append(step(ok4, "closed form: hc/(2B) sum_k g_k^2 equals the Lyapunov stationary risk (symbolic)"))
    return Outcome(ok0 and ok1 and ok2 and ok3 and ok4, tuple(lines))


#: specs with more states skip the closed form in t (its self-verification is slow)
CLOSED_FORM_STATES = 2


# ---------------------------------------------------------------------- generic proofs
def _stationary_outcome(spec: OptimizerSpec, points: int = 8, seed: int = 0) -> Outcome:
    d = derive(spec)
    lines = []
    ok_lyap = lyapunov_residual_vanishes(spec)
    lines.append(step(ok_lyap, "the derived S-bar solves S = A S A^T + b b^T (symbolic, entrywise cancellation)"))
    out = sp.Matrix(spec.out)
    ok_def = same_closed_form(h / 2 * c / B * (out * sp.Matrix(d.stationary_covariance) * out.T)[0], d.stationary_risk)
    lines.append(step(ok_def, "the stationary risk is h/2 (c/B) out S-bar out^T (symbolic)"))
    lines.append(step(True, "inside the Jury region rho(A) < 1, so A^t -> 0: m_t -> 0 and S-bar - N_t = A^t S-bar (A^t)^T -> 0 "
                            "(theorem), hence E l(t) -> the stationary risk"))
    parts = [Outcome(ok_lyap and ok_def, tuple(lines))]
    if spec.n <= CLOSED_FORM_STATES:
        parts.append(closed_form_limits(spec))
    else:
        parts.append(Outcome(True, (f"(closed form in t not attempted for n = {spec.n} > {CLOSED_FORM_STATES} states)",)))
    sampler = PointSampler(spec, seed)
    num = spec_numerics(spec)
    risk = sp.lambdify(num.args, d.stationary_risk, "mpmath")
    worst = mp.mpf(0)
    with mp.workdps(DIGITS):
        for _ in range(points):
            pt = sampler.point(stable=True)
            curve = rational_mpf(pt[h]) / 2 * rational_mpf(pt[c]) / rational_mpf(pt[B]) * num.noise_sum(pt)
            ref = risk(*num.values(pt))
            worst = max(worst, abs(curve - ref) / abs(ref))
    ok_num = worst < mp.mpf(10) ** -30
    parts.append(Outcome(ok_num, (step(ok_num, f"numeric curve: at {points} stable sampled points the 50-digit moment recursion "
                                               f"(doubling to ||A^m|| < 1e-60) converges to the derived stationary risk; worst "
                                               f"relative difference {mp.nstr(worst, 3)} (< 1e-30)"),),
                         {"worst_relative_difference": float(worst)}))
    return combine(*parts)


def stationary_risk_proof(spec: OptimizerSpec | str) -> Proof:
    """The generic proof ``stationary_risk[spec]`` (module docstring)."""
    spec = resolve_spec(spec)
    return Proof(
        f"stationary_risk[{spec.name}]",
        f"the derived stationary risk of {spec.name} (discrete Lyapunov solution) is the limit of its risk curve",
        r"\lim_{t\to\infty}\mathrm{E}\,\ell_{i}(t) = \tfrac12 h_{i}\frac{c_{i}}{B}\,\mathrm{out}\,\bar S\,\mathrm{out}^\top,"
        r"\quad \bar S = A\bar SA^\top + bb^\top",
        method(SYMBOLIC, SAMPLED),
        lambda: _stationary_outcome(spec),
        reference="Theorems 1-2 (second terms); Appendices B-D; generic",
        assumptions=("hyperparameters inside the Jury stability region",),
        domain="symbolic: the whole stability region; numeric curve: 8 stable points of the sampling domain (" + DOMAIN_TEXT + ")",
        optimizers=(spec.name,),
    )


def _numpy_matrix(f: Callable, values: Sequence[np.ndarray], size: int) -> np.ndarray:
    rows = f(*values)
    return np.stack([np.stack([np.broadcast_to(np.asarray(e, dtype=float), (size,)) for e in row], -1) for row in rows], -2)


def _boundary_rates(spec: OptimizerSpec, points: list[dict[sp.Symbol, sp.Rational]]) -> np.ndarray:
    r"""For each point, the :math:`x = \alpha h` where the double-precision spectral radius first reaches 1
    (bisection in :math:`\log x` between :math:`10^{-3}` and :math:`10^4`; ``nan`` if none)."""
    lr = spec.hyperparameter("lr").symbol
    args = spec_numerics(spec).args
    f = sp.lambdify(args, spec.A.tolist(), "numpy")
    base = {s: np.array([float(p.get(s, 1)) for p in points]) for s in args}
    hv = base[h]

    def radius(x: np.ndarray) -> np.ndarray:
        vals = [x / hv if s == lr else base[s] for s in args]
        with np.errstate(all="ignore"):
            return np.max(np.abs(np.linalg.eigvals(_numpy_matrix(f, vals, len(points)))), axis=-1)

    lo, hi = np.full(len(points), 1e-3), np.full(len(points), 1e4)
    valid = (radius(lo) < 1) & (radius(hi) >= 1)
    for _ in range(60):
        mid = np.sqrt(lo * hi)
        stable = radius(mid) < 1
        lo, hi = np.where(stable, mid, lo), np.where(stable, hi, mid)
    return np.where(valid, hi, np.nan)


def _stability_outcome(spec: OptimizerSpec, random_points: int = 1000, boundary_points: int = 1000, seed: int = 0) -> Outcome:
    d = derive(spec)
    args = spec_numerics(spec).args
    conditions = [sp.lambdify(args, cond, "mpmath") for cond in d.stability_conditions]
    region = d.stability_region
    region_f = sp.lambdify(args, region, "mpmath") if isinstance(region, sp.Basic) and region not in (sp.true, sp.false) else None
    sampler = PointSampler(spec, seed)
    num = sampler.numerics
    points = [sampler.raw_point() for _ in range(random_points)]
    has_lr = any(hp.name == "lr" for hp in spec.hyperparameters)
    near = 0
    if has_lr and boundary_points:
        seeds = [sampler.raw_point() for _ in range(boundary_points)]
        rates = _boundary_rates(spec, seeds)
        lr = spec.hyperparameter("lr").symbol
        for pt, xc in zip(seeds, rates):
            if np.isfinite(xc):
                offset = 10 ** -sampler.rng.uniform(2, 6) * (1 if sampler.rng.random() < 0.5 else -1)
                pt[lr] = _rational(xc * (1 + offset) / float(pt[h]))
                points.append(pt)
                near += 1
    disagree, stable_count, region_mismatch = [], 0, 0
    with mp.workdps(DIGITS):
        for pt in points:
            vals = num.values(pt)
            jury = all(bool(f(*vals)) for f in conditions)
            spectral = num.spectral_radius(pt) < 1
            stable_count += spectral
            if jury != spectral:
                disagree.append(pt)
            if region_f is not None and bool(region_f(*vals)) != jury:
                region_mismatch += 1
    ok = not disagree and region_mismatch == 0
    lines = [
        step(True, f"Jury's conditions on det(zI - A) (necessary and sufficient for all |lambda| < 1): "
                   f"{'; '.join(str(cond) for cond in d.stability_conditions)}"),
        step(not disagree, f"dense sample of {len(points)} points ({len(points) - near} over the domain, {near} within a relative "
                           f"1e-6..1e-2 of the stability boundary in alpha*h): Jury conditions and the 50-digit spectral "
                           f"radius of A agree at every point ({stable_count} stable, {len(points) - stable_count} unstable)"
                           + (f"; first disagreement at {describe_point(disagree[0])}" if disagree else "")),
    ]
    if region_f is not None:
        lines.append(step(region_mismatch == 0, f"the reduced region {region} agrees with the Jury conditions at every point"))
    return Outcome(ok, tuple(lines), {"points": len(points), "near_boundary": near, "stable": stable_count,
                                      "disagreements": len(disagree)})


def stability_proof(spec: OptimizerSpec | str) -> Proof:
    """The generic proof ``stability_region[spec]`` (module docstring)."""
    spec = resolve_spec(spec)
    return Proof(
        f"stability_region[{spec.name}]",
        f"the derived (Jury) stability region of {spec.name} is exactly where the spectral radius of A is below 1",
        r"\text{Jury}(\det(zI - A)) \iff \rho(A) < 1",
        method(SAMPLED),
        lambda: _stability_outcome(spec),
        reference="Jury (1964); Section 3 (stability of each method)",
        assumptions=("Jury's criterion is necessary and sufficient (theorem); the sample checks the derivation and its reduction",),
        domain="dense sample: 1000 points of the sampling domain and up to 1000 within 1e-6..1e-2 (relative) of the "
               "boundary (" + DOMAIN_TEXT + ")",
        optimizers=(spec.name,),
    )


@lru_cache(maxsize=None)
def bound_outcome(spec: OptimizerSpec) -> Outcome:
    r"""The argument of ``bound_vs_exact[spec]`` (module docstring), cached per spec."""
    A, b = sp.Matrix(spec.A), sp.Matrix(spec.b)
    S = sp.Matrix(derive(spec).stationary_covariance)
    n = spec.n
    N = sp.Matrix(n, n, lambda i, j: sp.Symbol(f"N_{min(i, j)}{max(i, j)}", real=True))
    E_next = S - (A * N * A.T + b * b.T)
    recursion = all(sp.cancel(sp.together(e)) == 0 for e in E_next - A * (S - N) * A.T)
    real = _matrices_real(spec)
    lines = [
        step(True, "exact risk: E l(t) = h/2 [v0 m_t^2 + (c/B) out N_t out^T] with N_0 = 0, N_(t+1) = A N_t A^T + b b^T "
                   "(independent zero-mean noise; the bound is h/2 v0 m_t^2 + h/2 (c/B) out S-bar out^T)"),
        step(recursion, "E_t = S-bar - N_t obeys E_(t+1) = A E_t A^T (symbolic, for a generic symmetric N_t, from the "
                        "Lyapunov equation), and E_0 = S-bar; so E_t = A^t S-bar (A^t)^T"),
        step(real, "A, b and out are real (symbol assumptions), so g_k = out A^k b is real"),
        step(True, "inside the stability region S-bar = sum_k A^k b b^T (A^k)^T (the unique Lyapunov solution), so "
                   "out E_t out^T = sum_(k>=t) g_k^2 >= 0 and bound - risk = hc/(2B) sum_(k>=t) g_k^2 >= 0 for every t"),
    ]
    parts = [Outcome(recursion and real, tuple(lines))]
    if n <= CLOSED_FORM_STATES:
        cf = closed_form(spec)
        gap = (cf.start_part + cf.stationary_risk) - cf.expected_risk
        ok = same_closed_form(gap, h * c / (2 * B) * (cf.noise_sum - cf.partial_noise_sum))
        parts.append(closed_form_limits(spec))
        parts.append(Outcome(ok, (step(ok, "closed form: bound - E l(t) = hc/(2B) (sum_k g_k^2 - sum_(k<t) g_k^2) (symbolic)"),)))
    return combine(*parts)


def bound_proof(spec: OptimizerSpec | str) -> Proof:
    """The generic proof ``bound_vs_exact[spec]`` (module docstring)."""
    spec = resolve_spec(spec)
    return Proof(
        f"bound_vs_exact[{spec.name}]",
        f"for {spec.name}, the exact risk is at most the start term plus the stationary risk at every step",
        r"\mathrm{E}\,\ell_{i}(t) \le \tfrac12 h_{i} s_{0} m_{t}^{2} + \mathrm{E}\,\ell_{i}(\infty)"
        r"\quad\text{for all } t \ge 0,\qquad \text{gap} = \frac{h_{i}c_{i}}{2B}\sum_{k\ge t} g_{k}^{2}",
        method(SYMBOLIC, SIGN),
        lambda: bound_outcome(spec),
        reference="Theorems 1-2 (the bound); generic",
        assumptions=("hyperparameters inside the Jury stability region", "noise independent across steps, zero mean"),
        domain="every t >= 0 and every stable setting (symbolic)",
        optimizers=(spec.name,),
    )


def generic_proofs(spec: OptimizerSpec | str) -> list[Proof]:
    """The three generic proofs on ``spec`` (a spec object or a registered name)."""
    return [stationary_risk_proof(spec), stability_proof(spec), bound_proof(spec)]
