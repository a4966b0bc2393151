r"""The catalogue of named proofs: the paper's claims (Zhang et al. 2019) and the generic proofs.

Claims 1–4 of the issue (SGD, momentum, preconditioning, EMA) are symbolic. Where
:mod:`nqm.theory._paper` already derives an object from the specs and compares it with the
paper's statement, the proof *wraps* that :class:`~nqm.theory.Statement` (its check is run
and reported, never re-derived); the steps below add only what no statement covers:

* eq. 4 substituted into SGD's derived second-moment recursion;
* the underdamped regime as a factorisation of the discriminant (so the roots are
  complex conjugates and :math:`|r|^2 = r_1r_2 = \beta`);
* "the bound holds for every t" (Theorems 1 and 2) through the generic argument of
  :func:`~nqm.proofs.claims._prover.bound_outcome`;
* EMA's rate: the eigenvalues :math:`\{1-\alpha h, \gamma\}`, the sign argument for
  :math:`\gamma < 1-\alpha h`, and the non-vanishing coefficient of :math:`(1-\alpha h)^t`.

Claims 5 and 6 (the information bound at the tuned optimum, the linear learning-rate
scaling) are in :mod:`._batch`. :func:`proof_catalogue` assembles everything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import sympy as sp

from nqm.theory import (
    OptimizerSpec,
    closed_form,
    derive,
    ema,
    get_spec,
    momentum,
    positive_on,
    registered_specs,
    same_closed_form,
    sgd,
    statement,
)
from nqm.theory.symbols import alpha, beta, gamma, h, r1, r2, t, v0, x, z

from ._batch import batch_proofs, information_bound_proof
from ._results import ProofReport, ProofResult
from ._prover import (
    FACTORISATION,
    SERIES,
    SIGN,
    SYMBOLIC,
    Outcome,
    Proof,
    bound_outcome,
    combine,
    generic_proofs,
    method,
    statements_outcome,
    step,
)
from ..conformance._strategies import _spec

__all__ = ["paper_proofs", "proof_catalogue", "run_all"]


def _statement_latex(*names: str) -> str:
    return r" \\ ".join(statement(n).latex for n in names if statement(n).correct)


def _wrap(
    name: str,
    claim: str,
    how: str,
    statements: tuple[str, ...],
    *,
    reference: str,
    optimizers: tuple[str, ...],
    assumptions: tuple[str, ...] = (),
    latex: str | None = None,
    extra: Callable[[], Outcome] | None = None,
    domain: str = "symbolic: all admissible hyperparameters under the assumptions",
) -> Proof:
    """A proof made of theory statements (and optionally one extra check)."""

    def check() -> Outcome:
        parts = [statements_outcome(*statements)]
        if extra is not None:
            parts.append(extra())
        return combine(*parts)

    return Proof(
        name, claim, latex if latex is not None else _statement_latex(*statements), how, check,
        reference=reference, assumptions=assumptions, domain=domain, optimizers=optimizers, statements=statements,
    )


# ---------------------------------------------------------------------- extra steps
def _eq4_recursion() -> Outcome:
    r"""Eq. 4 solves :math:`\mathrm E\ell(t+1) = M\,\mathrm E\ell(t) + \tfrac12hq`, :math:`\mathrm E\ell(0) = \tfrac12hs_0`,
    with :math:`(M, q)` SGD's derived second-moment system."""
    eq4 = statement("eq4_sgd_risk").claimed
    M, q = derive(sgd).second_moment
    residual = eq4.subs(t, t + 1) - (M[0] * eq4 + h / 2 * q[0])
    ok_rec = same_closed_form(residual, 0)
    ok_init = same_closed_form(eq4.subs(t, 0), h * v0 / 2)
    return Outcome(ok_rec and ok_init, (
        step(ok_rec, f"eq. 4 substituted into the derived recursion E l(t+1) = ({M[0]}) E l(t) + h/2 ({q[0]}): "
                     "residual 0 for every t (symbolic)"),
        step(ok_init, "eq. 4 at t = 0 is h s0 / 2, the initial risk"),
    ))


def _underdamped_discriminant() -> Outcome:
    r"""The discriminant of momentum's :math:`\det(zI-A)` factors as :math:`(\beta-(1-\sqrt x)^2)(\beta-(1+\sqrt x)^2)`,
    negative for :math:`(1-\sqrt x)^2 < \beta < 1`: the roots are a complex-conjugate pair."""
    disc = sp.discriminant(sp.Poly(sp.expand(derive(momentum).characteristic_polynomial), z)).subs(alpha, x / h)
    factored = (beta - (1 - sp.sqrt(x)) ** 2) * (beta - (1 + sp.sqrt(x)) ** 2)
    ok_factor = same_closed_form(disc, factored)
    s, u = sp.Dummy("s", positive=True), sp.Dummy("u", positive=True)
    inside = (1 - s) ** 2 + (1 - (1 - s) ** 2) * u  # beta strictly between (1 - sqrt x)^2 and 1, x = s^2 < 4
    ok_sign = positive_on(-disc.subs(x, s**2).subs(beta, inside), {s: (0, 2), u: (0, 1)})
    return Outcome(ok_factor and ok_sign, (
        step(ok_factor, "disc_z det(zI - A) = (beta - (1 - sqrt x)^2)(beta - (1 + sqrt x)^2) (symbolic, x = alpha h)"),
        step(ok_sign, "for (1 - sqrt x)^2 < beta < 1 the discriminant is negative (sign argument with sqrt x in (0, 2), "
                      "beta = (1 - sqrt x)^2 + (1 - (1 - sqrt x)^2) u, u in (0, 1)): complex-conjugate roots, |r|^2 = r1 r2 = det A"),
    ))


def _ema_rate() -> Outcome:
    r"""EMA's slowest mode is SGD's :math:`1-\alpha h` whenever :math:`0 \le \gamma < 1-\alpha h`."""
    eig_ema = {sp.expand(e) for e in derive(ema).eigenvalues}
    eig_sgd = {sp.expand(e) for e in derive(sgd).eigenvalues}
    ok_eig = eig_ema == {sp.expand(1 - alpha * h), gamma} and eig_sgd == {sp.expand(1 - alpha * h)}
    second = {sp.expand(e) for e in derive(ema).second_moment_eigenvalues}
    ok_second = second == {sp.expand((1 - alpha * h) ** 2), sp.expand(gamma * (1 - alpha * h)), gamma**2}
    u = sp.Dummy("u", positive=True)
    inside = {gamma: (1 - x) * u}  # 0 < gamma < 1 - x with x = alpha h in (0, 1)
    domain = {x: (0, 1), u: (0, 1)}
    ok_sign = positive_on(((1 - x) - gamma).subs(inside), domain) and positive_on(((1 - x) + gamma).subs(inside), domain)
    path = sp.expand(sp.expand_power_exp(closed_form(ema).mean_path))
    lead = sp.factor(path.coeff(r1**t).subs({r1: 1 - x, r2: gamma}).subs(alpha, x / h))
    ok_lead = positive_on(lead.subs(inside), domain)
    return Outcome(ok_eig and ok_second and ok_sign and ok_lead, (
        step(ok_eig, f"eigenvalues of A: EMA {sorted(map(str, eig_ema))}, SGD {sorted(map(str, eig_sgd))} (derived)"),
        step(ok_second, "second-moment eigenvalues of EMA: (1 - alpha h)^2, gamma (1 - alpha h), gamma^2 (derived)"),
        step(ok_sign, "for 0 < gamma < 1 - alpha h: 1 - alpha h - gamma > 0 and 1 - alpha h + gamma > 0 (sign argument), so "
                      "|gamma| < |1 - alpha h|: the spectral radius is SGD's 1 - alpha h, and (1 - alpha h)^2 dominates the "
                      "second moments (gamma = 0 is immediate)"),
        step(ok_lead, f"the coefficient of (1 - alpha h)^t in the mean path, {lead} (x = alpha h, r2 = gamma), is positive "
                      "there: the rate is attained, not cancelled"),
    ))


def _bound_every_t(spec: OptimizerSpec) -> Callable[[], Outcome]:
    return lambda: bound_outcome(spec)


_MOMENTUM_DISTINCT = (r"$0 \le \beta < 1$", r"$\beta \ne (1-\sqrt{\alpha h_i})^2$ (distinct roots)")
_EMA_DISTINCT = (r"$0 \le \gamma < 1$", r"$\gamma \ne 1-\alpha h_i$ (distinct roots)")


def paper_proofs() -> list[Proof]:
    """The paper's claims 1–6 (claims 5 and 6 from :mod:`._batch`), in the issue's order."""
    proofs = [
        # ---------------------------------------------------------------- 1. SGD
        _wrap("eq4_solves_sgd_recursion",
              "eq. 4 is the exact expected risk of SGD: it solves SGD's second-moment recursion",
              method(SYMBOLIC), ("eq4_sgd_risk",), reference="eqs. 2-4", optimizers=("sgd",),
              latex=statement("eq4_sgd_risk").latex + r" \\ \mathrm{E}\,\ell_{i}(t+1) = \left(1 - \alpha h_{i}\right)^{2}"
              r"\mathrm{E}\,\ell_{i}(t) + \frac{h_{i}\alpha^{2} c_{i}}{2B},\quad \mathrm{E}\,\ell_{i}(0) = \frac{h_{i} s_{0}}{2}",
              extra=_eq4_recursion, assumptions=(r"every step $t \ge 0$",)),
        _wrap("sgd_stability", "SGD is stable iff $0 < \\alpha h_i < 2$", method(SIGN), ("sgd_stability",),
              reference="Section 3.1", optimizers=("sgd",), latex=r"0 < \alpha h_{i} < 2",
              assumptions=(r"$\alpha > 0$, $h_i > 0$",)),
        # ---------------------------------------------------------------- 2. momentum
        _wrap("momentum_characteristic_polynomial",
              "$r_1, r_2$ are the roots of momentum's mean characteristic polynomial $z^2-(1-\\alpha h_i+\\beta)z+\\beta$",
              method(SYMBOLIC), ("theorem1_characteristic_polynomial",), reference="Theorem 1; Appendix B, eq. 22",
              optimizers=("momentum",)),
        _wrap("momentum_second_moment_eigenvalues",
              "momentum's second-moment system (Appendix B) has eigenvalues $r_1^2$, $r_1r_2 = \\beta$ and $r_2^2$",
              method(SYMBOLIC), ("appendix_b_transition", "appendix_b_noise", "appendix_b_initial_state",
                                 "appendix_b_characteristic_polynomial", "appendix_b_eigenvalues"),
              reference="Appendix B", optimizers=("momentum",), assumptions=_MOMENTUM_DISTINCT),
        _wrap("theorem1_mean_path", "the bracket of Theorem 1 is the exact mean path (and its impulse response)",
              method(SYMBOLIC), ("theorem1_mean_path", "appendix_c_impulse_response"),
              reference="Theorem 1; Appendix C", optimizers=("momentum",), assumptions=_MOMENTUM_DISTINCT),
        _wrap("theorem1_stationary_risk", "the second term of Theorem 1 is the exact stationary risk",
              method(SYMBOLIC), ("theorem1_stationary_risk",), reference="Theorem 1; Appendix C",
              optimizers=("momentum",), assumptions=(r"$0 \le \beta < 1$", r"$0 < \alpha h_i < 2(1+\beta)$")),
        _wrap("theorem1_bound", "Theorem 1: the risk is at most the bound (exact start term plus stationary risk) for every t",
              method(SYMBOLIC, SIGN), ("theorem1_bound",), reference="Theorem 1 (eq. 6)", optimizers=("momentum",),
              latex=r"\mathrm{E}\,\ell_{i}(t) \le \mathcal{B}_{i}(t) \quad \forall t \ge 0 \\ " + statement("theorem1_bound").latex,
              extra=_bound_every_t(momentum), assumptions=_MOMENTUM_DISTINCT + (r"stable: $0 < \alpha h_i < 2(1+\beta)$",)),
        _wrap("eq7_overdamped_rate", "in the overdamped regime the rate is the larger real root $r_1$ of eq. 7",
              method(SIGN), ("eq7_overdamped_rate",), reference="eq. 7", optimizers=("momentum",),
              assumptions=(r"$\beta < (1-\sqrt{\alpha h_i})^2$ (positive discriminant)",)),
        _wrap("eq7_small_step_limit", "for small $\\alpha h_i$, $r_1 \\approx 1 - \\alpha h_i/(1-\\beta)$",
              method(SERIES), ("eq7_small_step_limit",), reference="eq. 7", optimizers=("momentum",),
              assumptions=(r"$\alpha h_i \to 0$ at fixed $0 \le \beta < 1$",)),
        _wrap("damping_boundary",
              "the damping boundary is $\\beta = (1-\\sqrt{\\alpha h_i})^2$ (not the restated $(1-\\alpha h_i)^2$)",
              method(FACTORISATION), ("damping_boundary", "damping_boundary_without_root"), reference="Section 3.2",
              optimizers=("momentum",), assumptions=(r"$0 \le \beta < 1$",)),
        _wrap("critical_damping_double_root",
              "at critical damping the roots coincide at $\\sqrt\\beta$; the mean path is the limit of Theorem 1's bracket",
              method(FACTORISATION), ("critical_damping_double_root", "critical_damping_mean_path",
                                      "appendix_b_critical_damping"),
              reference="Section 3.2; Appendix B", optimizers=("momentum",),
              assumptions=(r"$\beta = (1-\sqrt{\alpha h_i})^2$",)),
        _wrap("underdamped_modulus", "in the underdamped regime the roots are complex with $|r| = \\sqrt\\beta$",
              method(FACTORISATION, SIGN), ("underdamped_modulus",), reference="Section 3.2", optimizers=("momentum",),
              extra=_underdamped_discriminant,
              assumptions=(r"underdamped: $(1-\sqrt{\alpha h_i})^2 < \beta < 1$",)),
        _wrap("momentum_stability", "momentum is stable iff $0 < \\alpha h_i < 2(1+\\beta)$", method(SIGN),
              ("momentum_stability",), reference="docs/math/momentum.md, Stability (derived)", optimizers=("momentum",),
              latex=r"0 < \alpha h_{i} < 2(1+\beta)", assumptions=(r"$0 \le \beta < 1$",)),
        _wrap("momentum_steady_state_effective_lr",
              "for small $\\alpha h_i$ momentum's steady state is $\\alpha_{\\mathrm{eff}}c_i/(4B)$, $\\alpha_{\\mathrm{eff}} = \\alpha/(1-\\beta)$",
              method(SERIES), ("momentum_small_step_steady_state", "momentum_effective_lr"),
              reference="Section 3.2, eq. 7", optimizers=("sgd", "momentum"),
              assumptions=(r"leading order as $\alpha h_i \to 0$",)),
        # ---------------------------------------------------------------- 3. preconditioning
        _wrap("preconditioning_equivalence",
              "preconditioning with $P = H^p$ is the same method on the NQM $(H^{1-p}, CH^{-p})$; eq. 9 is its exact risk",
              method(SYMBOLIC), ("preconditioning_equivalence_sgd", "preconditioning_equivalence_momentum",
                                 "preconditioning_equivalence_ema", "eq9_preconditioned_sgd_risk"),
              reference="eqs. 8-9", optimizers=("sgd", "momentum", "ema"),
              latex=r"\tilde h_{i} = h_{i}^{1-p},\quad \tilde c_{i} = c_{i} h_{i}^{-p},\quad \tilde s_{0} = s_{0} h_{i}^{p} \\ "
              + statement("eq9_preconditioned_sgd_risk").latex,
              assumptions=(r"$0 \le p \le 1$",)),
        _wrap("eq10_preconditioned_steady_state", "eq. 10: the steady state of preconditioned SGD with $C = H$",
              method(SYMBOLIC, SERIES), ("eq10_preconditioned_steady_state", "eq10_ill_conditioned"),
              reference="eq. 10", optimizers=("sgd",), assumptions=(r"$C = H$", r"$0 < \alpha h_i^{1-p} < 2$")),
        _wrap("preconditioned_steady_state_grows_with_p",
              "for ill-conditioned directions ($h_i < 1$, $C = H$) the steady-state risk grows with $p$",
              method(SIGN), ("eq10_increasing_in_p",), reference="Section 3.3 after eq. 10", optimizers=("sgd",),
              latex=r"\frac{\partial}{\partial p}\,\frac{\alpha h_{i}^{1-p}}{2B\left(2-\alpha h_{i}^{1-p}\right)} > 0",
              assumptions=(r"$0 < h_i < 1$", r"$C = H$", r"$0 < \alpha h_i^{1-p} < 2$")),
        # ---------------------------------------------------------------- 4. EMA
        _wrap("ema_second_moments", "EMA's second-moment system in the notebook's coordinates (Appendix D)",
              method(SYMBOLIC), ("appendix_d_transition", "appendix_d_noise", "appendix_d_initial_state", "appendix_d_risk"),
              reference="Appendix D", optimizers=("ema",)),
        _wrap("theorem2_mean_path", "the roots of EMA are $1-\\alpha h_i$ and $\\gamma$; the bracket of Theorem 2 is the exact mean path",
              method(SYMBOLIC), ("theorem2_characteristic_polynomial", "theorem2_mean_path"),
              reference="Theorem 2 (eq. 12)", optimizers=("ema",), assumptions=_EMA_DISTINCT),
        _wrap("theorem2_stationary_risk", "the second term of Theorem 2 (SGD's steady state times the red factor) is exact",
              method(SYMBOLIC), ("theorem2_stationary_risk", "theorem2_red_factor"), reference="Theorem 2 (eq. 12)",
              optimizers=("sgd", "ema"), assumptions=(r"$0 \le \gamma < 1$", r"$0 < \alpha h_i < 2$")),
        _wrap("theorem2_bound", "Theorem 2: the risk is at most the bound (exact start term plus stationary risk) for every t",
              method(SYMBOLIC, SIGN), ("theorem2_bound",), reference="Theorem 2 (eq. 12)", optimizers=("ema",),
              latex=r"\mathrm{E}\,\ell(\tilde\theta_{i}(t)) \le \mathcal{B}_{i}(t) \quad \forall t \ge 0 \\ "
              + statement("theorem2_bound").latex,
              extra=_bound_every_t(ema), assumptions=_EMA_DISTINCT + (r"stable: $0 < \alpha h_i < 2$",)),
        _wrap("theorem2_red_factor_below_one",
              "the red factor is below 1 for $\\gamma \\in (0,1)$ and $\\alpha h_i \\in (0,2)$ (and needs $\\gamma$ in both factors)",
              method(SIGN), ("theorem2_red_factor_below_one", "theorem2_red_factor_without_gamma"),
              reference="Theorem 2; Section 3.4", optimizers=("sgd", "ema"),
              assumptions=(r"$0 < \gamma < 1$", r"$0 < \alpha h_i < 2$")),
        Proof(
            "ema_rate_unchanged",
            "EMA converges at SGD's rate $1-\\alpha h_i$ when $\\gamma < 1-\\alpha h_i$",
            r"\rho(A_{\mathrm{EMA}}) = \max(|1-\alpha h_{i}|, \gamma) = 1 - \alpha h_{i} = \rho(A_{\mathrm{SGD}})"
            r"\quad \text{for } 0 \le \gamma < 1 - \alpha h_{i}",
            method(FACTORISATION, SIGN), _ema_rate, reference="Section 3.4", optimizers=("sgd", "ema"),
            assumptions=(r"$0 \le \gamma < 1-\alpha h_i$ (so $0 < \alpha h_i < 1$)",),
            domain="symbolic: $0 < \\alpha h_i < 1$, $0 \\le \\gamma < 1-\\alpha h_i$",
        ),
    ]
    return proofs + batch_proofs()


def _registered(spec: OptimizerSpec) -> bool:
    try:
        return get_spec(spec.name) is spec
    except KeyError:
        return False


def proof_catalogue(specs: Iterable[OptimizerSpec | str] | None = None) -> list[Proof]:
    """Every proof to run for ``specs`` (see :func:`~nqm.proofs.run_all`), paper claims first."""
    chosen = list(registered_specs()) if specs is None else [_spec(s) for s in specs]
    names = {s.name for s in chosen if _registered(s)}
    out = [p for p in paper_proofs() if set(p.optimizers) <= names]
    for spec in chosen:
        if _registered(spec):
            out.append(information_bound_proof(spec.name))
        out.extend(generic_proofs(spec))
    return out


def run_all(
    specs: Iterable[OptimizerSpec | str] | None = None,
    *,
    progress: Callable[[ProofResult], None] | None = None,
) -> ProofReport:
    """Run every proof of the catalogue and return one :class:`ProofResult` per proof, as a
    :class:`~nqm.proofs.ProofReport` (a list with ``to_pandas()`` and an HTML table for Jupyter).

    ``specs=None``: the paper's claims and, for every registered optimizer, the information
    bound at its tuned optimum and the generic proofs. Given specs (objects or registered
    names): the paper's claims about those optimizers only, the generic proofs on each, and the
    tuned information bound for each registered one. ``progress`` is called after each proof.
    """
    results = ProofReport()
    for proof in proof_catalogue(specs):
        results.append(proof.run())
        if progress is not None:
            progress(results[-1])
    return results
