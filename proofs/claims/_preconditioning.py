r"""Claim 3 (Zhang et al. 2019, Section 3.3, eqs. 8–10): preconditioning with :math:`P = H^p`.

The entries, each holding the paper's statements (:mod:`nqm.theory._paper`) and its proof:

* ``preconditioning_equivalence``: a preconditioned method is the same method on the NQM
  :math:`(H^{1-p}, CH^{-p})` (for SGD, momentum and EMA), and eq. 9 is preconditioned SGD's exact risk;
* ``eq10_preconditioned_steady_state``: eq. 10, the steady state with :math:`C = H`, and its
  ill-conditioned form :math:`\alpha h_i^{1-p}/(4B)`;
* ``preconditioned_steady_state_grows_with_p``: for :math:`h_i < 1` that steady state grows with
  :math:`p` (a sign argument on its derivative).
"""

from __future__ import annotations

from nqm.theory.paper import (
    EQ9_PRECONDITIONED_SGD_RISK,
    EQ10_ILL_CONDITIONED,
    EQ10_INCREASING_IN_P,
    EQ10_PRECONDITIONED_STEADY_STATE,
    PRECONDITIONING_EQUIVALENCE_EMA,
    PRECONDITIONING_EQUIVALENCE_MOMENTUM,
    PRECONDITIONING_EQUIVALENCE_SGD,
)

from ._prover import SERIES, SIGN, SYMBOLIC, Proof, method, paper_claim

__all__ = ["claims"]


def claims() -> list[Proof]:
    """Claim 3's entries, in the catalogue's order."""
    return [
        paper_claim("preconditioning_equivalence",
                    "preconditioning with $P = H^p$ is the same method on the NQM $(H^{1-p}, CH^{-p})$; eq. 9 is its exact risk",
                    method(SYMBOLIC), (PRECONDITIONING_EQUIVALENCE_SGD, PRECONDITIONING_EQUIVALENCE_MOMENTUM,
                                       PRECONDITIONING_EQUIVALENCE_EMA, EQ9_PRECONDITIONED_SGD_RISK),
                    reference="eqs. 8-9", optimizers=("sgd", "momentum", "ema"),
                    latex=r"\tilde h_{i} = h_{i}^{1-p},\quad \tilde c_{i} = c_{i} h_{i}^{-p},\quad \tilde s_{0} = s_{0} h_{i}^{p} \\ "
                    + EQ9_PRECONDITIONED_SGD_RISK.latex,
                    assumptions=(r"$0 \le p \le 1$",)),
        paper_claim("eq10_preconditioned_steady_state", "eq. 10: the steady state of preconditioned SGD with $C = H$",
                    method(SYMBOLIC, SERIES), (EQ10_PRECONDITIONED_STEADY_STATE, EQ10_ILL_CONDITIONED),
                    reference="eq. 10", optimizers=("sgd",), assumptions=(r"$C = H$", r"$0 < \alpha h_i^{1-p} < 2$")),
        paper_claim("preconditioned_steady_state_grows_with_p",
                    "for ill-conditioned directions ($h_i < 1$, $C = H$) the steady-state risk grows with $p$",
                    method(SIGN), (EQ10_INCREASING_IN_P,), reference="Section 3.3 after eq. 10", optimizers=("sgd",),
                    latex=r"\frac{\partial}{\partial p}\,\frac{\alpha h_{i}^{1-p}}{2B\left(2-\alpha h_{i}^{1-p}\right)} > 0",
                    assumptions=(r"$0 < h_i < 1$", r"$C = H$", r"$0 < \alpha h_i^{1-p} < 2$")),
    ]
