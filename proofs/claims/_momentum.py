r"""Claim 2 (Zhang et al. 2019, Section 3.2, Theorem 1, eq. 7, Appendices B–C): heavy-ball momentum.

The entries, each holding the paper's statements (the paper's formula beside the one derived
from the momentum spec, :mod:`nqm.theory._paper`) and its proof:

* the mean characteristic polynomial :math:`z^2-(1-\alpha h_i+\beta)z+\beta` (Theorem 1;
  Appendix B, eq. 22) and the second-moment system of Appendix B with eigenvalues
  :math:`r_1^2, r_1r_2 = \beta, r_2^2`;
* Theorem 1 (eq. 6): the bracket is the exact mean path, the second term the exact stationary
  risk, and the bound holds for every t (the generic argument of
  :func:`~nqm.proofs.claims._prover.bound_outcome`);
* eq. 7: the overdamped rate :math:`r_1` and its small-step limit :math:`1-\alpha h_i/(1-\beta)`;
* the damping boundary :math:`\beta = (1-\sqrt{\alpha h_i})^2` (refuting the restated
  :math:`(1-\alpha h_i)^2`), the double root there, and the underdamped modulus
  :math:`|r| = \sqrt\beta` — with, as a further step, the discriminant of
  :math:`\det(zI-A)` factored as :math:`(\beta-(1-\sqrt x)^2)(\beta-(1+\sqrt x)^2)` and
  shown negative in the underdamped regime, so the roots are complex conjugates;
* stability :math:`0 < \alpha h_i < 2(1+\beta)` and the small-step steady state
  :math:`\alpha_{\mathrm{eff}}c_i/(4B)`, :math:`\alpha_{\mathrm{eff}} = \alpha/(1-\beta)`.
"""

from __future__ import annotations

from functools import partial

import sympy as sp

from nqm.theory import derive, momentum, positive_on, same_closed_form
from nqm.theory.paper import (
    APPENDIX_B_CHARACTERISTIC_POLYNOMIAL,
    APPENDIX_B_CRITICAL_DAMPING,
    APPENDIX_B_EIGENVALUES,
    APPENDIX_B_INITIAL_STATE,
    APPENDIX_B_NOISE,
    APPENDIX_B_TRANSITION,
    APPENDIX_C_IMPULSE_RESPONSE,
    CRITICAL_DAMPING_DOUBLE_ROOT,
    CRITICAL_DAMPING_MEAN_PATH,
    DAMPING_BOUNDARY,
    DAMPING_BOUNDARY_WITHOUT_ROOT,
    EQ7_OVERDAMPED_RATE,
    EQ7_SMALL_STEP_LIMIT,
    MOMENTUM_EFFECTIVE_LR,
    MOMENTUM_SMALL_STEP_STEADY_STATE,
    MOMENTUM_STABILITY,
    THEOREM1_BOUND,
    THEOREM1_CHARACTERISTIC_POLYNOMIAL,
    THEOREM1_MEAN_PATH,
    THEOREM1_STATIONARY_RISK,
    UNDERDAMPED_MODULUS,
)
from nqm.theory.symbols import alpha, beta, h, x, z

from ._prover import FACTORISATION, SERIES, SIGN, SYMBOLIC, Outcome, Proof, bound_outcome, method, paper_claim, step

__all__ = ["claims"]

_DISTINCT = (r"$0 \le \beta < 1$", r"$\beta \ne (1-\sqrt{\alpha h_i})^2$ (distinct roots)")


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


def claims() -> list[Proof]:
    """Claim 2's entries, in the catalogue's order."""
    return [
        paper_claim("momentum_characteristic_polynomial",
                    "$r_1, r_2$ are the roots of momentum's mean characteristic polynomial $z^2-(1-\\alpha h_i+\\beta)z+\\beta$",
                    method(SYMBOLIC), (THEOREM1_CHARACTERISTIC_POLYNOMIAL,), reference="Theorem 1; Appendix B, eq. 22",
                    optimizers=("momentum",)),
        paper_claim("momentum_second_moment_eigenvalues",
                    "momentum's second-moment system (Appendix B) has eigenvalues $r_1^2$, $r_1r_2 = \\beta$ and $r_2^2$",
                    method(SYMBOLIC), (APPENDIX_B_TRANSITION, APPENDIX_B_NOISE, APPENDIX_B_INITIAL_STATE,
                                       APPENDIX_B_CHARACTERISTIC_POLYNOMIAL, APPENDIX_B_EIGENVALUES),
                    reference="Appendix B", optimizers=("momentum",), assumptions=_DISTINCT),
        paper_claim("theorem1_mean_path", "the bracket of Theorem 1 is the exact mean path (and its impulse response)",
                    method(SYMBOLIC), (THEOREM1_MEAN_PATH, APPENDIX_C_IMPULSE_RESPONSE),
                    reference="Theorem 1; Appendix C", optimizers=("momentum",), assumptions=_DISTINCT),
        paper_claim("theorem1_stationary_risk", "the second term of Theorem 1 is the exact stationary risk",
                    method(SYMBOLIC), (THEOREM1_STATIONARY_RISK,), reference="Theorem 1; Appendix C",
                    optimizers=("momentum",), assumptions=(r"$0 \le \beta < 1$", r"$0 < \alpha h_i < 2(1+\beta)$")),
        paper_claim("theorem1_bound",
                    "Theorem 1: the risk is at most the bound (exact start term plus stationary risk) for every t",
                    method(SYMBOLIC, SIGN), (THEOREM1_BOUND,), reference="Theorem 1 (eq. 6)", optimizers=("momentum",),
                    latex=r"\mathrm{E}\,\ell_{i}(t) \le \mathcal{B}_{i}(t) \quad \forall t \ge 0 \\ " + THEOREM1_BOUND.latex,
                    extra=partial(bound_outcome, momentum),
                    assumptions=_DISTINCT + (r"stable: $0 < \alpha h_i < 2(1+\beta)$",)),
        paper_claim("eq7_overdamped_rate", "in the overdamped regime the rate is the larger real root $r_1$ of eq. 7",
                    method(SIGN), (EQ7_OVERDAMPED_RATE,), reference="eq. 7", optimizers=("momentum",),
                    assumptions=(r"$\beta < (1-\sqrt{\alpha h_i})^2$ (positive discriminant)",)),
        paper_claim("eq7_small_step_limit", "for small $\\alpha h_i$, $r_1 \\approx 1 - \\alpha h_i/(1-\\beta)$",
                    method(SERIES), (EQ7_SMALL_STEP_LIMIT,), reference="eq. 7", optimizers=("momentum",),
                    assumptions=(r"$\alpha h_i \to 0$ at fixed $0 \le \beta < 1$",)),
        paper_claim("damping_boundary",
                    "the damping boundary is $\\beta = (1-\\sqrt{\\alpha h_i})^2$ (not the restated $(1-\\alpha h_i)^2$)",
                    method(FACTORISATION), (DAMPING_BOUNDARY, DAMPING_BOUNDARY_WITHOUT_ROOT), reference="Section 3.2",
                    optimizers=("momentum",), assumptions=(r"$0 \le \beta < 1$",)),
        paper_claim("critical_damping_double_root",
                    "at critical damping the roots coincide at $\\sqrt\\beta$; the mean path is the limit of Theorem 1's bracket",
                    method(FACTORISATION), (CRITICAL_DAMPING_DOUBLE_ROOT, CRITICAL_DAMPING_MEAN_PATH,
                                            APPENDIX_B_CRITICAL_DAMPING),
                    reference="Section 3.2; Appendix B", optimizers=("momentum",),
                    assumptions=(r"$\beta = (1-\sqrt{\alpha h_i})^2$",)),
        paper_claim("underdamped_modulus", "in the underdamped regime the roots are complex with $|r| = \\sqrt\\beta$",
                    method(FACTORISATION, SIGN), (UNDERDAMPED_MODULUS,), reference="Section 3.2", optimizers=("momentum",),
                    extra=_underdamped_discriminant,
                    assumptions=(r"underdamped: $(1-\sqrt{\alpha h_i})^2 < \beta < 1$",)),
        paper_claim("momentum_stability", "momentum is stable iff $0 < \\alpha h_i < 2(1+\\beta)$", method(SIGN),
                    (MOMENTUM_STABILITY,), reference="docs/math/momentum.md, Stability (derived)", optimizers=("momentum",),
                    latex=r"0 < \alpha h_{i} < 2(1+\beta)", assumptions=(r"$0 \le \beta < 1$",)),
        paper_claim("momentum_steady_state_effective_lr",
                    "for small $\\alpha h_i$ momentum's steady state is $\\alpha_{\\mathrm{eff}}c_i/(4B)$, "
                    "$\\alpha_{\\mathrm{eff}} = \\alpha/(1-\\beta)$",
                    method(SERIES), (MOMENTUM_SMALL_STEP_STEADY_STATE, MOMENTUM_EFFECTIVE_LR),
                    reference="Section 3.2, eq. 7", optimizers=("sgd", "momentum"),
                    assumptions=(r"leading order as $\alpha h_i \to 0$",)),
    ]
