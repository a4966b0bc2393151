r"""Claim 5 (Zhang et al. 2019, Section 3.6): the information bound, and the tuned optima against it.

The paper: after :math:`N = tB` examples no method beats risk
:math:`\tfrac12\operatorname{tr}(H^{-1}C)/N`, so at any optimizer's tuned optimum
:math:`tB \ge \tfrac12\operatorname{tr}(H^{-1}C)/\varepsilon`. The entries:

* ``information_bound_at_tuned_optimum[name]`` — numerical, exact engine: for each registered
  optimizer, tuned (:func:`nqm.numerics.sweep`, exact integer steps, the paper's grids) on
  the paper's binned problem at the paper's batch sizes :math:`2^2,\dots,2^{20}`, target
  0.01 and preconditioning powers :math:`p \in \{0, 0.25, 0.5, 0.75\}`, the fewest steps
  satisfy both the paper's bound and the rigorous Bayes bound
  (:meth:`nqm.numerics.Problem.bayes_bound_steps`), and each optimum is certified by the exact risk
  at its step count;
* ``bayes_information_bound`` — symbolic: the flat-prior bound is the :math:`v\to\infty` limit of
  the Bayes (posterior-variance) bound :math:`\tfrac12 h\,vc/(c+vNh^2)`, which is smaller; and
  the flat bound is *not* a lower bound for a finite start: SGD with :math:`\alpha h = \tfrac12`,
  :math:`h = c = v = B = 1` reaches risk :math:`\tfrac14` in one step, below
  :math:`\tfrac12\operatorname{tr}(H^{-1}C)/N = \tfrac12`, and exactly at the Bayes bound;
* ``information_bound_derivation`` — symbolic: it holds the paper's statements of the bound
  (:data:`~nqm.theory._paper.INFORMATION_BOUND_PER_DIRECTION`,
  :data:`~nqm.theory._paper.INFORMATION_BOUND`), each beside the Cramér–Rao risk derived per direction.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np
import sympy as sp

import nqm.numerics as nn
from nqm.numerics import PAPER_BATCH_SIZES
from nqm.theory import OptimizerSpec, closed_form, positive_on, same_closed_form, sgd
from nqm.theory.paper import INFORMATION_BOUND, INFORMATION_BOUND_PER_DIRECTION
from nqm.theory.symbols import B, alpha, c, h, t, v0

from ._prover import NUMERIC, SIGN, SYMBOLIC, Outcome, Proof, method, paper_claim, step

__all__ = [
    "PAPER_POWERS",
    "PAPER_TARGET",
    "claims",
    "information_bound_proof",
    "paper_problem",
    "tuning_grid",
]

#: the paper's target risk (Section 3.7)
PAPER_TARGET = 0.01
#: the paper's preconditioning powers (Fig. 3a)
PAPER_POWERS = (0.0, 0.25, 0.5, 0.75)


@lru_cache(maxsize=1)
def paper_problem() -> nn.Problem:
    """The paper's binned problem (:meth:`nqm.numerics.Problem.paper`)."""
    return nn.Problem.paper()


def tuning_grid(spec: OptimizerSpec | str) -> dict[str, np.ndarray]:
    """Grid axes for hyperparameters of ``spec`` (a spec or a registered name) that the tuner has no
    default for (the paper's grids otherwise).

    A finite range gets 8 interior points, a half-line :math:`(lo, \\infty)` the values
    :math:`lo + ` ``logspace(-3, 2, 8)``. QHM's :math:`\\nu` keeps the tuner's fixed 0.7.
    """
    forms = nn.as_optimizer_spec(spec, "spec").forms
    defaults = nn.default_grid(spec)
    grid = {}
    for p in forms.params:
        if p in defaults or p == "nu":
            continue
        lo, hi, _, _ = forms.ranges[p]
        grid[p] = lo + np.logspace(-3, 2, 8) if math.isinf(hi) else np.linspace(lo, hi, 10)[1:-1]
    return grid


@lru_cache(maxsize=None)
def _paper_sweep(spec: OptimizerSpec, power: float) -> nn.Sweep:
    return nn.sweep(paper_problem(), spec, batch_sizes=PAPER_BATCH_SIZES, target=PAPER_TARGET,
                    grid=tuning_grid(spec) or None, precond_power=power)


def _power_of_two(value: float) -> str:
    exponent = math.log2(value)
    return f"2^{int(exponent)}" if exponent.is_integer() else f"{value:g}"


def _information_bound_outcome(spec: OptimizerSpec) -> Outcome:
    prob = paper_problem()
    eps = PAPER_TARGET
    constant = prob.information_constant
    rows: list[dict[str, Any]] = []
    worst_paper = worst_bayes = (math.inf, None)
    uncertified, beaten_paper, beaten_bayes, unreached = [], [], [], 0
    for power in PAPER_POWERS:
        sweep = _paper_sweep(spec, power)
        for row in sweep.rows:
            Bv = row.batch_size
            paper_steps = float(prob.information_bound(eps, Bv))
            bayes_steps = prob.bayes_bound_steps(eps, Bv)
            rows.append({"precond_power": power, "batch_size": Bv, "steps": row.steps,
                         "information_bound_steps": paper_steps, "bayes_bound_steps": bayes_steps,
                         "hyperparameters": row.hyperparameters})
            if not math.isfinite(row.steps):
                unreached += 1
                continue
            opt = nn.as_optimizer(spec, {**row.hyperparameters, "precond_power": power}, "spec")
            risk = float(nn.expected_risk(prob, opt, batch_size=Bv, steps=[row.steps])[0])
            where = f"p = {power:g}, B = {Bv:g}"
            if risk > eps * (1 + 1e-9):
                uncertified.append(f"{where} (risk {risk:.6g})")
            worst_paper = min(worst_paper, (row.steps / paper_steps, where), key=lambda r: r[0])
            worst_bayes = min(worst_bayes, (row.steps / bayes_steps, where), key=lambda r: r[0])
            if row.steps < paper_steps:
                beaten_paper.append(where)
            if row.steps < bayes_steps:
                beaten_bayes.append(where)
    settings = len(rows)
    reached = settings - unreached

    def beaten(where: list[str]) -> str:
        return f"; beaten at {'; '.join(where[:4])}{' ...' if len(where) > 4 else ''}" if where else ""

    lines = [
        step(not uncertified, f"{reached} of {settings} settings (p in {list(PAPER_POWERS)}, B = {_power_of_two(min(r['batch_size'] for r in rows))}"
                              f"..{_power_of_two(max(r['batch_size'] for r in rows))}) reach the target {eps:g} on the grid; each "
                              "optimum certified by the exact risk at its step count"
                              + (f"; NOT certified: {'; '.join(uncertified[:3])}" if uncertified else "")),
        step(not beaten_paper, f"paper's bound: steps x B >= tr(H^-1 C)/2 / eps = {constant / eps:.6g} at every optimum; "
                               f"smallest ratio {worst_paper[0]:.4g} (at {worst_paper[1]})" + beaten(beaten_paper)),
        step(not beaten_bayes, f"rigorous Bayes bound (finite start, Problem.bayes_bound_steps): smallest ratio steps / bound "
                               f"{worst_bayes[0]:.4g} (at {worst_bayes[1]})" + beaten(beaten_bayes)),
    ]
    if unreached:
        lines.append(step(True, f"{unreached} settings never reach the target on the grid (infinite steps satisfy both bounds)"))
    ok = not (uncertified or beaten_paper or beaten_bayes)
    return Outcome(ok, tuple(lines), {"settings": rows, "smallest_ratio_paper": worst_paper[0],
                                      "smallest_ratio_bayes": worst_bayes[0]})


def information_bound_proof(spec: OptimizerSpec) -> Proof:
    """Claim 5 for the optimizer ``spec`` (module docstring); the spec travels with the proof, so a
    worker process runs it without a registry entry."""
    name = spec.name
    return Proof(
        f"information_bound_at_tuned_optimum[{name}]",
        f"at its tuned optimum, {name} needs $t^* B \\ge \\operatorname{{tr}}(H^{{-1}}C)/(2\\varepsilon)$ examples "
        "(and no fewer steps than the rigorous Bayes bound)",
        r"t^{*}(B)\,B \ge \frac{\operatorname{tr}(H^{-1}C)}{2\varepsilon},\qquad "
        r"t^{*}(B) \ge \min\Bigl\{t : \sum_i \tfrac12 h_i \frac{v_i c_i}{c_i + v_i t B h_i^{2}} \le \varepsilon\Bigr\}",
        method(NUMERIC),
        lambda: _information_bound_outcome(spec),
        reference="Section 3.6",
        assumptions=("the paper's problem: h_i = 1/i, d = 1e4, C = H, theta(0) ~ N(0, I), 100 geometric bins",
                     "tuned on the paper's grids (nn.default_grid; QHM nu = 0.7)"),
        domain="paper's batch sizes 2^2..2^20, target 0.01, p in {0, 0.25, 0.5, 0.75}; exact integer steps",
        optimizers=(name,),
    )


# ---------------------------------------------------------------------- Bayes bound (symbolic)
def _bayes_outcome() -> Outcome:
    N, v = sp.symbols("N v", positive=True)
    theta, theta_start, g = sp.symbols("theta theta_start g", real=True)
    log_posterior = -((theta - theta_start) ** 2) / (2 * v) - N * (g - h * theta) ** 2 / (2 * c)
    precision = -sp.diff(log_posterior, theta, 2)
    bayes = sp.factor(h / 2 / precision)
    ok_form = same_closed_form(bayes, h * v * c / (2 * (c + v * N * h**2)))
    flat = INFORMATION_BOUND_PER_DIRECTION.derived
    ok_limit = sp.simplify(sp.limit(bayes, v, sp.oo) - flat) == 0
    ok_below = positive_on(flat - bayes, {N: (0, sp.oo), v: (0, sp.oo)})
    rng = np.random.default_rng(0)
    worst = 0.0
    for _ in range(20):
        hv, cv, vv, Nv = (float(np.exp(rng.uniform(-3, 3))) for _ in range(4))
        code = float(nn.Problem([hv], [cv], [vv]).bayes_risk_bound(Nv))
        derived = float(bayes.subs({h: hv, c: cv, v: vv, N: Nv}))
        worst = max(worst, abs(code - derived) / derived)
    ok_code = worst < 1e-12
    point = {alpha: sp.Rational(1, 2), h: 1, c: 1, v0: 1, B: 1, t: 1}
    risk = sp.nsimplify(closed_form(sgd).expected_risk.subs(point))
    flat_at = flat.subs({c: 1, h: 1, N: 1})
    bayes_at = bayes.subs({c: 1, h: 1, v: 1, N: 1})
    ok_counter = risk == sp.Rational(1, 4) and flat_at == sp.Rational(1, 2) and bayes_at <= risk
    steps = nn.Problem([1.0], [1.0], [1.0]).bayes_bound_steps(0.25, 1)
    ok_steps = steps == 1
    return Outcome(all((ok_form, ok_limit, ok_below, ok_code, ok_counter, ok_steps)), (
        step(ok_form, f"posterior of theta* ~ N(theta(0), v) after N examples g = h theta + eps, eps ~ N(0, c): precision "
                      f"{sp.simplify(precision)}, so no estimator beats E l >= {bayes} (MMSE = posterior variance)"),
        step(ok_limit, "flat-prior limit v -> oo: c/(2 h N), the paper's per-direction bound (Cramer-Rao statement)"),
        step(ok_below, "c/(2 h N) - Bayes bound > 0 for all N, v > 0 (sign argument): the Bayes bound is the weaker, rigorous one"),
        step(ok_code, f"Problem.bayes_risk_bound implements the derived formula (20 random points, worst relative "
                      f"difference {worst:.1e})"),
        step(ok_counter, f"counterexample to the flat bound with a finite start: SGD, alpha h = 1/2, h = c = v = B = 1, t = 1 has "
                         f"exact risk {risk} < tr(H^-1 C)/(2N) = {flat_at}; the Bayes bound {bayes_at} holds (with equality)"),
        step(ok_steps, "Problem.bayes_bound_steps gives 1 step for that problem and target 1/4 (attained by the SGD step above)"),
    ))


def _bayes_proof() -> Proof:
    return Proof(
        "bayes_information_bound",
        "the rigorous information bound for a finite start is the Bayes bound; the paper's "
        "$\\operatorname{tr}(H^{-1}C)/(2N)$ is its flat-prior limit and can be beaten when the start is informative",
        r"\mathrm{E}\,\mathcal{L}(t) \ge \sum_{i} \frac{h_{i}}{2}\,\frac{v_{i} c_{i}}{c_{i} + v_{i} N h_{i}^{2}}"
        r" < \frac{\operatorname{tr}(H^{-1}C)}{2N},\qquad N = tB",
        method(SYMBOLIC, SIGN),
        _bayes_outcome,
        reference="Section 3.6 (rigorous version derived)",
        assumptions=("Gaussian noise and Gaussian start theta* - theta(0) ~ N(0, v_i) per direction",
                     "every method's iterate is an estimator of theta* from the N = tB examples seen"),
        domain="all h, c, v, N > 0 (symbolic); counterexample exact",
    )


def _information_derivation_proof() -> Proof:
    return paper_claim(
        "information_bound_derivation",
        "no unbiased estimate from $N$ examples beats $\\operatorname{tr}(H^{-1}C)/(2N)$; with $C = H$ this is $d/(2N)$",
        method(SYMBOLIC),
        (INFORMATION_BOUND_PER_DIRECTION, INFORMATION_BOUND),
        reference="Section 3.6",
        optimizers=(),
        assumptions=("Gaussian noise; unbiased estimates (Cramer-Rao)",),
        domain="symbolic",
    )


def claims() -> list[Proof]:
    """Claim 5's entries that hold for every optimizer: the derivation and the Bayes bound
    (:func:`information_bound_proof` adds one per registered optimizer)."""
    return [_information_derivation_proof(), _bayes_proof()]
