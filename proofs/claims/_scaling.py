r"""Claim 6 (Zhang et al. 2019, Section 3.7, Fig. 14): linear learning-rate scaling below the critical batch size.

``sgd_lr_scales_with_batch_size``: in the limit
:math:`\alpha\to0` with :math:`\tau = \alpha t` and :math:`\kappa = \alpha/B` fixed, eq. 4's risk
tends to :math:`e^{-2h\tau}\tfrac12hs_0 + (1-e^{-2h\tau})\kappa c/4` (symbolic limit), a
function of :math:`(\tau,\kappa)` only. The fewest steps :math:`t = \tau/(\kappa B)` are
therefore :math:`\min_{R(\tau,\kappa)\le\varepsilon}\tau/\kappa\,/B` at
:math:`\alpha^* = \kappa^*B`: linear learning-rate scaling with perfect step scaling. The
regime is :math:`\alpha^*h_{\max} \ll 1`, i.e. :math:`B \ll 1/(\kappa^*h_{\max})`, below the
critical batch size. Confirmed with the exact engine on the paper's problem: the slope of
:math:`\log\alpha^*` against :math:`\log B` for :math:`B \le B_{\rm crit}/8` (2x
perfect-scaling definition) and :math:`\alpha^*/B` at :math:`B = 1` against :math:`\kappa^*`
from the limit model.

The entry holds no statement of :mod:`nqm.theory._paper` (none is about this limit): its
check, the symbolic limit and the exact engine, is the whole proof.
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp
from scipy.optimize import brentq, minimize_scalar

import nqm.numerics as nn
from nqm.theory import closed_form, sgd
from nqm.theory.symbols import B, alpha, c, h, t, v0

from ._information import PAPER_TARGET, paper_problem
from ._prover import NUMERIC, SERIES, Outcome, Proof, method, step

__all__ = ["claims"]

#: batch sizes of the learning-rate study (Fig. 14): 2^0 .. 2^21
SCALING_BATCH_SIZES = 2.0 ** np.arange(0, 22)
#: the fit range of claim 6 is B <= B_crit / SCALING_MARGIN
SCALING_MARGIN = 8.0
#: accepted |slope - 1| and relative agreement with the limit model in claim 6
SLOPE_TOLERANCE = 0.05
LIMIT_TOLERANCE = 0.01


_TAU = sp.Symbol("tau", positive=True)
_KAPPA = sp.Symbol("kappa", positive=True)


def _limit_risk() -> sp.Expr:
    r"""Eq. 4 with :math:`t = \tau/\alpha`, :math:`B = \alpha/\kappa`, as :math:`\alpha \to 0^+` (sympy ``limit``)."""
    scaled = closed_form(sgd).expected_risk.subs({t: _TAU / alpha, B: alpha / _KAPPA})
    return sp.limit(scaled, alpha, 0, "+")


def _limit_optimum(limit: sp.Expr, prob: nn.Problem, eps: float) -> tuple[float, float]:
    r""":math:`(\kappa^*, \tau^*/\kappa^*)` minimising :math:`\tau/\kappa` subject to :math:`\sum_i w_i R_i(\tau,\kappa) = \varepsilon`."""
    f = sp.lambdify((_TAU, _KAPPA, h, c, v0), limit, "numpy")
    w, hv, cv, vv = prob.weights, prob.h, prob.c, prob.init_var

    def risk(tau: float, kappa: float) -> float:
        return float(np.sum(w * f(tau, kappa, hv, cv, vv)))

    kappa_max = 4 * eps / float(np.sum(w * cv))  # the stationary part kappa tr(C)/4 must stay below eps

    def tau_of(kappa: float) -> float:
        return brentq(lambda tau: risk(tau, kappa) - eps, 0.0, 1e15, xtol=1e-12, rtol=1e-14)

    res = minimize_scalar(lambda lk: math.log(tau_of(math.exp(lk))) - lk,
                          bounds=(math.log(kappa_max) - 10, math.log(kappa_max) - 1e-9),
                          method="bounded", options={"xatol": 1e-10})
    kappa = math.exp(res.x)
    return kappa, tau_of(kappa) / kappa


def _lr_scaling_outcome() -> Outcome:
    limit = _limit_risk()
    expected = sp.exp(-2 * h * _TAU) * h * v0 / 2 + (1 - sp.exp(-2 * h * _TAU)) * _KAPPA * c / 4
    ok_limit = sp.simplify(limit - expected) == 0
    ok_free = limit.free_symbols <= {_TAU, _KAPPA, h, c, v0}
    prob, eps = paper_problem(), PAPER_TARGET
    sweep = nn.sweep(prob, "sgd", batch_sizes=SCALING_BATCH_SIZES, target=eps, refine=True)
    Bs, lr, steps = sweep.batch_sizes, sweep.column("lr"), sweep.steps
    b_crit = sweep.critical_batch_sizes().perfect_scaling_2x
    use = np.isfinite(lr) & (Bs <= b_crit / SCALING_MARGIN)
    slope = float(np.polyfit(np.log(Bs[use]), np.log(lr[use]), 1)[0]) if use.sum() >= 2 else math.nan
    ok_slope = abs(slope - 1) <= SLOPE_TOLERANCE
    kappa, examples = _limit_optimum(expected, prob, eps)  # the limit's overflow-free form (equal by ok_limit)
    kappa_ratio = float(lr[0] / Bs[0]) / kappa
    examples_ratio = float(steps[0] * Bs[0]) / examples
    ok_model = abs(kappa_ratio - 1) <= LIMIT_TOLERANCE and abs(examples_ratio - 1) <= LIMIT_TOLERANCE
    spread = float(np.max(steps[use] * Bs[use]) / np.min(steps[use] * Bs[use])) if use.any() else math.nan
    regime = 1 / (kappa * float(prob.h.max()))
    lines = (
        step(ok_limit and ok_free, f"lim_(alpha -> 0) of eq. 4 at t = tau/alpha, B = alpha/kappa is {limit} = "
                                   "exp(-2 h tau) h v0/2 + (1 - exp(-2 h tau)) kappa c/4 (symbolic limit), a function of "
                                   "(tau, kappa) only"),
        step(True, "hence min_alpha t = min_{R(tau, kappa) <= eps} tau/kappa / B, attained at alpha* = kappa* B: the optimal "
                   "learning rate is linear in B and the steps scale as 1/B (perfect scaling), to leading order in alpha* h_max"),
        step(ok_slope, f"exact engine, paper's problem, SGD tuned on the paper's grid and refined, B = 2^0..2^21: "
                       f"B_crit (2x perfect scaling) = {b_crit:.4g}; fitted slope of log alpha* vs log B over "
                       f"B in [1, {Bs[use].max() if use.any() else math.nan:g}] (B <= B_crit/{SCALING_MARGIN:g}, {int(use.sum())} "
                       f"batch sizes) = {slope:.4f} (|slope - 1| <= {SLOPE_TOLERANCE})"),
        step(ok_model, f"limit model on the same problem: kappa* = {kappa:.6g}, tau*/kappa* = {examples:.6g} examples; engine at "
                       f"B = 1: alpha*/B = kappa* x {kappa_ratio:.5f}, t* B = (tau*/kappa*) x {examples_ratio:.5f} "
                       f"(within {LIMIT_TOLERANCE:.0%})"),
        step(True, f"regime: alpha* h_max << 1, i.e. B << 1/(kappa* h_max) = {regime:.4g}; over the fit range t* B varies by "
                   f"a factor {spread:.4f}"),
    )
    data = {"slope": slope, "fit_batch_sizes": [float(b) for b in Bs[use]], "critical_batch_size_2x": b_crit,
            "kappa_star": kappa, "examples_star": examples, "alpha_over_B_at_1_ratio": kappa_ratio,
            "examples_at_1_ratio": examples_ratio, "regime_batch_size": regime}
    return Outcome(ok_limit and ok_free and ok_slope and ok_model, lines, data)


def _lr_scaling_proof() -> Proof:
    return Proof(
        "sgd_lr_scales_with_batch_size",
        "below the critical batch size the optimal constant SGD learning rate scales linearly with $B$ "
        "(asymptotic: $\\alpha \\to 0$ with $\\alpha t$ and $\\alpha/B$ fixed)",
        r"\lim_{\alpha\to0}\mathrm{E}\,\ell_{i}\Big|_{t = \tau/\alpha,\ B = \alpha/\kappa} = e^{-2h_{i}\tau}\frac{h_{i}s_{0}}{2}"
        r" + \left(1 - e^{-2h_{i}\tau}\right)\frac{\kappa c_{i}}{4} \ \Longrightarrow\ \alpha^{*} = \kappa^{*} B,\quad"
        r" t^{*} = \frac{\tau^{*}}{\kappa^{*} B}",
        method(SERIES, NUMERIC),
        _lr_scaling_outcome,
        reference="Section 3.7; Fig. 14",
        assumptions=(r"regime $\alpha^* h_{\max} \ll 1$ ($B \ll B_{\mathrm{crit}}$)",
                     "the constrained minimum of tau/kappa exists (found numerically for the paper's problem)"),
        domain="symbolic limit for every direction; numerical on the paper's problem, target 0.01, B = 2^0..2^21, "
               "fit over B <= B_crit/8",
        optimizers=("sgd",),
    )


def claims() -> list[Proof]:
    """Claim 6's entry."""
    return [_lr_scaling_proof()]
