r"""Claim 1 (Zhang et al. 2019, Section 3.1, eqs. 2–4): SGD's exact risk and its stability.

``eq4_solves_sgd_recursion``
    The paper's eq. 4, :math:`\mathrm E\ell_i(t) = (1-\alpha h_i)^{2t}\tfrac12h_is_0
    + (1-(1-\alpha h_i)^{2t})\frac{\alpha c_i}{2B(2-\alpha h_i)}`, beside SGD's risk derived
    from its spec (:data:`~nqm.theory._paper.EQ4_SGD_RISK`); and, as a further step, eq. 4
    substituted into the derived second-moment recursion
    :math:`\mathrm E\ell(t+1) = M\,\mathrm E\ell(t) + \tfrac12hq`, :math:`\mathrm E\ell(0) = \tfrac12hs_0`.
``sgd_stability``
    :math:`0 < \alpha h_i < 2` beside the derived (Jury) stability region
    (:data:`~nqm.theory._paper.SGD_STABILITY`).

Each entry holds its statement objects (see :mod:`nqm.theory._paper` for why they are
defined in the theory) together with its method, reference, assumptions and further checks.
"""

from __future__ import annotations

from nqm.theory import derive, same_closed_form, sgd
from nqm.theory.paper import EQ4_SGD_RISK, SGD_STABILITY
from nqm.theory.symbols import h, t, v0

from ._prover import SIGN, SYMBOLIC, Outcome, Proof, method, paper_claim, step

__all__ = ["claims"]


def _eq4_recursion() -> Outcome:
    r"""Eq. 4 solves :math:`\mathrm E\ell(t+1) = M\,\mathrm E\ell(t) + \tfrac12hq`, :math:`\mathrm E\ell(0) = \tfrac12hs_0`,
    with :math:`(M, q)` SGD's derived second-moment system."""
    eq4 = EQ4_SGD_RISK.claimed
    M, q = derive(sgd).second_moment
    residual = eq4.subs(t, t + 1) - (M[0] * eq4 + h / 2 * q[0])
    ok_rec = same_closed_form(residual, 0)
    ok_init = same_closed_form(eq4.subs(t, 0), h * v0 / 2)
    return Outcome(ok_rec and ok_init, (
        step(ok_rec, f"eq. 4 substituted into the derived recursion E l(t+1) = ({M[0]}) E l(t) + h/2 ({q[0]}): "
                     "residual 0 for every t (symbolic)"),
        step(ok_init, "eq. 4 at t = 0 is h s0 / 2, the initial risk"),
    ))


def claims() -> list[Proof]:
    """Claim 1's entries, in the catalogue's order."""
    return [
        paper_claim("eq4_solves_sgd_recursion",
                    "eq. 4 is the exact expected risk of SGD: it solves SGD's second-moment recursion",
                    method(SYMBOLIC), (EQ4_SGD_RISK,), reference="eqs. 2-4", optimizers=("sgd",),
                    latex=EQ4_SGD_RISK.latex + r" \\ \mathrm{E}\,\ell_{i}(t+1) = \left(1 - \alpha h_{i}\right)^{2}"
                    r"\mathrm{E}\,\ell_{i}(t) + \frac{h_{i}\alpha^{2} c_{i}}{2B},\quad \mathrm{E}\,\ell_{i}(0) = \frac{h_{i} s_{0}}{2}",
                    extra=_eq4_recursion, assumptions=(r"every step $t \ge 0$",)),
        paper_claim("sgd_stability", "SGD is stable iff $0 < \\alpha h_i < 2$", method(SIGN), (SGD_STABILITY,),
                    reference="Section 3.1", optimizers=("sgd",), latex=r"0 < \alpha h_{i} < 2",
                    assumptions=(r"$\alpha > 0$, $h_i > 0$",)),
    ]
