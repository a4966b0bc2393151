r"""Claim 4 (Zhang et al. 2019, Section 3.4, Theorem 2, eq. 12, Appendix D): exponential moving average.

The entries, each holding the paper's statements (:mod:`nqm.theory._paper`) and its proof:

* EMA's second-moment system in the notebook's coordinates (Appendix D);
* Theorem 2: the roots :math:`1-\alpha h_i` and :math:`\gamma`, the bracket as the exact mean
  path, the second term (SGD's steady state times the red factor) as the exact stationary
  risk, and the bound for every t (:func:`~nqm.proofs.claims._prover.bound_outcome`);
* the red factor is below 1 for :math:`\gamma \in (0, 1)`, :math:`\alpha h_i \in (0, 2)` and
  needs :math:`\gamma` in both factors (the restatement without it is refuted);
* ``ema_rate_unchanged``: EMA converges at SGD's rate :math:`1-\alpha h_i` when
  :math:`\gamma < 1-\alpha h_i` — the eigenvalues :math:`\{1-\alpha h, \gamma\}`, the sign
  argument for :math:`\gamma < 1-\alpha h`, and the non-vanishing coefficient of
  :math:`(1-\alpha h)^t`. No statement of :mod:`nqm.theory._paper` covers it: the entry's check is the whole proof.
"""

from __future__ import annotations

from functools import partial

import sympy as sp

from nqm.theory import closed_form, derive, ema, positive_on, sgd
from nqm.theory.paper import (
    APPENDIX_D_INITIAL_STATE,
    APPENDIX_D_NOISE,
    APPENDIX_D_RISK,
    APPENDIX_D_TRANSITION,
    THEOREM2_BOUND,
    THEOREM2_CHARACTERISTIC_POLYNOMIAL,
    THEOREM2_MEAN_PATH,
    THEOREM2_RED_FACTOR,
    THEOREM2_RED_FACTOR_BELOW_ONE,
    THEOREM2_RED_FACTOR_WITHOUT_GAMMA,
    THEOREM2_STATIONARY_RISK,
)
from nqm.theory.symbols import alpha, gamma, h, r1, r2, t, x

from ._prover import FACTORISATION, SIGN, SYMBOLIC, Outcome, Proof, bound_outcome, method, paper_claim, step

__all__ = ["claims"]

_DISTINCT = (r"$0 \le \gamma < 1$", r"$\gamma \ne 1-\alpha h_i$ (distinct roots)")


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


def claims() -> list[Proof]:
    """Claim 4's entries, in the catalogue's order."""
    return [
        paper_claim("ema_second_moments", "EMA's second-moment system in the notebook's coordinates (Appendix D)",
                    method(SYMBOLIC), (APPENDIX_D_TRANSITION, APPENDIX_D_NOISE, APPENDIX_D_INITIAL_STATE, APPENDIX_D_RISK),
                    reference="Appendix D", optimizers=("ema",)),
        paper_claim("theorem2_mean_path",
                    "the roots of EMA are $1-\\alpha h_i$ and $\\gamma$; the bracket of Theorem 2 is the exact mean path",
                    method(SYMBOLIC), (THEOREM2_CHARACTERISTIC_POLYNOMIAL, THEOREM2_MEAN_PATH),
                    reference="Theorem 2 (eq. 12)", optimizers=("ema",), assumptions=_DISTINCT),
        paper_claim("theorem2_stationary_risk",
                    "the second term of Theorem 2 (SGD's steady state times the red factor) is exact",
                    method(SYMBOLIC), (THEOREM2_STATIONARY_RISK, THEOREM2_RED_FACTOR), reference="Theorem 2 (eq. 12)",
                    optimizers=("sgd", "ema"), assumptions=(r"$0 \le \gamma < 1$", r"$0 < \alpha h_i < 2$")),
        paper_claim("theorem2_bound",
                    "Theorem 2: the risk is at most the bound (exact start term plus stationary risk) for every t",
                    method(SYMBOLIC, SIGN), (THEOREM2_BOUND,), reference="Theorem 2 (eq. 12)", optimizers=("ema",),
                    latex=r"\mathrm{E}\,\ell(\tilde\theta_{i}(t)) \le \mathcal{B}_{i}(t) \quad \forall t \ge 0 \\ "
                    + THEOREM2_BOUND.latex,
                    extra=partial(bound_outcome, ema), assumptions=_DISTINCT + (r"stable: $0 < \alpha h_i < 2$",)),
        paper_claim("theorem2_red_factor_below_one",
                    "the red factor is below 1 for $\\gamma \\in (0,1)$ and $\\alpha h_i \\in (0,2)$ "
                    "(and needs $\\gamma$ in both factors)",
                    method(SIGN), (THEOREM2_RED_FACTOR_BELOW_ONE, THEOREM2_RED_FACTOR_WITHOUT_GAMMA),
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
