r"""Optimal piecewise-constant learning-rate schedules (Section 3.7.2, Figs. 3b, 3c and 15).

The authors optimise a schedule of K equal pieces (K = 50; one figure uses 10) for the
number of steps to reach a target risk:

* for a fixed total :math:`T`, minimise the exact final risk over the log learning rates
  with scipy's bounded L-BFGS-B, starting from :math:`\log\alpha = -5`, learning rates capped
  at :math:`2/(h_{\max}+h_{\min}) - 10^{-4}` (:func:`optimize_schedule`);
* binary-search the smallest :math:`T` whose optimised schedule reaches the target
  (:func:`optimal_schedule`).

Here the risk is the exact piecewise map (:func:`~nqm.numerics.piecewise_risk`) and the
gradient is exact (:func:`~nqm.numerics.piecewise_risk_gradient`); the objective is
:math:`\log R`, so L-BFGS-B's tolerances are relative. Pieces are as equal as integers allow
(:func:`~nqm.numerics.split_steps`), so every :math:`T` — not only multiples of K — is a
candidate.

**The step search.** Let :math:`R^*(T)` be the optimised final risk. The search brackets
the answer with certified ends and bisects:

* lower end: no method whatsoever reaches the target before the Bayes bound (below), so
  :math:`T < T_{\rm Bayes}` is infeasible without optimising;
* upper end: the best *constant* learning rate under the cap (exact engine, the paper's
  grid) reaches the target at :math:`T_c`, and the constant schedule is one of the
  candidates at :math:`T_c`, so the search never reports more than :math:`T_c` (and
  that case is certified by the constant schedule itself).

Bisection assumes :math:`R^*` is non-increasing in :math:`T`. That holds exactly for
per-step schedules (an extra step at :math:`\alpha\to0` is the identity) and up to the
rounding of piece lengths here; L-BFGS-B finds local optima only. The answer is always
certified feasible (its schedule's exact risk is at most the target), and the optimiser
reported :math:`R^*(T-1) >` target.

**Bayes bound.** With the start :math:`\theta_0-\theta^*\sim N(0, v)` as a prior, no method
reaches a risk below :meth:`Problem.bayes_risk_bound <nqm.numerics.Problem.bayes_risk_bound>`
after :math:`N = tB` examples; :meth:`Problem.bayes_bound_steps
<nqm.numerics.Problem.bayes_bound_steps>` turns it into steps. Its flat-prior limit, the paper's
information bound :math:`\tfrac12\operatorname{tr}(H^{-1}C)/N` (Section 3.6), is not a strict
lower bound for finite :math:`v` (it is about 1% above the Bayes bound on the paper's problem
at 0.01).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize

from ._forms import validate_count, validate_positive
from ._model import build_model
from ._optimizers import Optimizer
from ._problem import Problem
from ._schedule import piecewise_risk, schedule_family, split_steps
from ._schedule_maps import LrFamily, MapMethod, risk_and_gradient
from ._steps import grid_minimum

__all__ = [
    "ScheduleResult",
    "optimize_schedule",
    "optimal_schedule",
    "bayes_bound_steps",
    "best_constant",
    "default_max_lr",
    "AUTHORS_START",
    "PAPER_SGD_LRS",
    "MAX_SCHEDULE_STEPS",
]

#: the authors' start, log(alpha) = -5 for every piece
AUTHORS_START = -5.0
#: lower bound of the log learning rates (exp(-69) ~ 1e-30: a piece that does nothing)
_LOG_LR_FLOOR = -69.0
#: the paper's constant-learning-rate grid for SGD (Section 3.7)
PAPER_SGD_LRS = np.logspace(-5, 0.5, 100)
#: largest total the step search tries when no constant rate reaches the target
MAX_SCHEDULE_STEPS = 2**40


@dataclass
class ScheduleResult:
    """An optimised piecewise-constant schedule.

    ``steps``: the total number of steps (for :func:`optimal_schedule`, the smallest that
    reaches the target, or ``math.inf``); ``lrs``/``lengths``: the pieces; ``boundaries``:
    the steps :math:`0, L_0, \\dots, T`; ``risk``: the exact risk at each boundary;
    ``final_lr``: ``lrs[-1]``; ``evaluations``: risk-and-gradient evaluations used.
    """

    steps: float
    lrs: np.ndarray
    lengths: np.ndarray
    boundaries: np.ndarray
    risk: np.ndarray
    final_risk: float
    final_lr: float
    max_lr: float
    converged: bool
    message: str
    evaluations: int
    searched: dict[int, float] = field(default_factory=dict)


def default_max_lr(problem: Problem, opt: Optimizer | str) -> float:
    r"""The authors' cap :math:`2/(h_{\max}+h_{\min}) - 10^{-4}` of the (preconditioned) problem."""
    family = schedule_family(problem, opt, 1.0)
    hmax, hmin = family.h_range
    return 2.0 / (hmax + hmin) - 1e-4


def bayes_bound_steps(problem: Problem, *, batch_size: float, target: float) -> float:
    """:meth:`nqm.numerics.Problem.bayes_bound_steps` as a function (``nn.bayes_bound_steps``)."""
    return problem.bayes_bound_steps(target, batch_size)


def _minimise(
    family: LrFamily,
    lengths: np.ndarray,
    max_lr: float,
    start: np.ndarray,
    method: MapMethod,
    stop_below: float | None,
) -> tuple[np.ndarray, float, bool, str, int]:
    """L-BFGS-B on log learning rates; returns ``(lrs, risk, converged, message, evaluations)``.

    With ``stop_below`` the run ends as soon as an evaluated schedule's risk is at most it.
    """
    upper = math.log(max_lr)
    x0 = np.clip(start, _LOG_LR_FLOOR, upper)
    best = {"x": x0.copy(), "f": math.inf, "n": 0}

    class _Reached(Exception):
        pass

    def fun(y: np.ndarray) -> tuple[float, np.ndarray]:
        risk, grad = risk_and_gradient(family, np.exp(y), lengths, method)
        best["n"] += 1
        risk = float(risk)
        if risk < best["f"]:
            best["x"], best["f"] = y.copy(), risk
        if stop_below is not None and risk <= stop_below:
            raise _Reached
        if not (math.isfinite(risk) and risk > 0):
            return math.inf, np.zeros_like(y)
        return math.log(risk), grad / risk

    try:
        res = minimize(
            fun,
            x0,
            jac=True,
            method="L-BFGS-B",
            bounds=[(_LOG_LR_FLOOR, upper)] * x0.size,
            options={"maxiter": 5000, "maxfun": 20000, "ftol": 1e-13, "gtol": 1e-10},
        )
        converged, message = bool(res.success), str(res.message)
    except _Reached:
        converged, message = True, "reached the target"
    return np.exp(best["x"]), best["f"], converged, message, best["n"]


def _result(problem, opt, batch_size, lengths, lrs, max_lr, converged, message, evaluations, method, steps=None):
    risk = piecewise_risk(problem, opt, batch_size=batch_size, lrs=lrs, lengths=lengths, method=method)
    return ScheduleResult(
        steps=float(lengths.sum()) if steps is None else steps,
        lrs=lrs,
        lengths=lengths,
        boundaries=np.concatenate([[0], np.cumsum(lengths)]),
        risk=risk,
        final_risk=float(risk[-1]),
        final_lr=float(lrs[-1]),
        max_lr=max_lr,
        converged=converged,
        message=message,
        evaluations=evaluations,
    )


def optimize_schedule(
    problem: Problem,
    opt: Optimizer | str = "sgd",
    *,
    batch_size: float,
    steps: int,
    pieces: int = 50,
    max_lr: float | None = None,
    start: float | np.ndarray = AUTHORS_START,
    method: MapMethod = "auto",
) -> ScheduleResult:
    r"""The piecewise-constant schedule of ``pieces`` equal pieces minimising the exact risk after ``steps``.

    L-BFGS-B on :math:`\log\alpha_k` with exact gradients, from ``start`` (the authors'
    :math:`\log\alpha=-5`; an array gives one start per piece), learning rates in
    :math:`[10^{-30}, \texttt{max\_lr}]` (default :func:`default_max_lr`).
    ``opt`` is any registered spec with an ``lr`` (its value is ignored; the other
    hyperparameters and ``precond_power`` stay fixed).
    """
    pieces = validate_count("pieces", pieces, 1)
    family = schedule_family(problem, opt, batch_size)
    cap = default_max_lr(problem, opt) if max_lr is None else validate_positive("max_lr", max_lr)
    lengths = split_steps(steps, pieces)
    x0 = np.broadcast_to(np.asarray(start, dtype=float), (pieces,)).copy()
    lrs, _, converged, message, n = _minimise(family, lengths, cap, x0, method, stop_below=None)
    return _result(problem, opt, family.batch_size, lengths, lrs, cap, converged, message, n, method)


def best_constant(
    problem: Problem, opt: Optimizer | str, batch_size: float, target: float, lrs: np.ndarray
) -> tuple[float, float]:
    """Fewest steps to ``target`` over constant learning rates ``lrs`` (the engine's exact grid
    minimum) and the first learning rate attaining it; ``(inf, nan)`` if none reaches it."""
    base = Optimizer(opt, lr=1.0) if isinstance(opt, str) else opt
    lrs = np.asarray(lrs, dtype=float)
    steps, row = grid_minimum(build_model(problem, base.replace(lr=lrs), batch_size, merge_bins=True).flatten(), target)
    return float(steps), (math.nan if row is None else float(lrs[row]))


def optimal_schedule(
    problem: Problem,
    opt: Optimizer | str = "sgd",
    *,
    batch_size: float,
    target: float = 0.01,
    pieces: int = 50,
    max_lr: float | None = None,
    start: float | np.ndarray = AUTHORS_START,
    method: MapMethod = "auto",
) -> ScheduleResult:
    r"""The fewest total steps for which an optimised ``pieces``-piece schedule reaches ``target``.

    Bisection between certified ends (see the module docstring); every candidate total is
    optimised as :func:`optimize_schedule` does (from ``start``, the authors' choice),
    stopping a run early once the target is reached. The schedule of the answer is then
    optimised to convergence. ``searched`` maps each candidate total to its best risk.
    If no constant rate on the paper's grid reaches the target, the upper end is found by
    doubling; ``steps = math.inf`` (with the schedule of the last candidate) if no schedule
    of at most :data:`MAX_SCHEDULE_STEPS` steps reaches it.
    """
    target = validate_positive("target", target)
    pieces = validate_count("pieces", pieces, 1)
    family = schedule_family(problem, opt, batch_size)
    B = family.batch_size
    cap = default_max_lr(problem, opt) if max_lr is None else validate_positive("max_lr", max_lr)
    x0 = np.broadcast_to(np.asarray(start, dtype=float), (pieces,)).copy()
    if problem.initial_risk <= target:
        lengths = split_steps(0, pieces)
        return _result(problem, opt, B, lengths, np.full(pieces, cap), cap, True, "initial risk below target", 0, method, 0)
    grid = np.append(PAPER_SGD_LRS[PAPER_SGD_LRS <= cap], cap)
    hi_steps, lr_c = best_constant(problem, opt, B, target, grid)
    evaluations = 0
    searched: dict[int, float] = {}
    lo = int(min(problem.bayes_bound_steps(target, B), MAX_SCHEDULE_STEPS)) - 1  # infeasible

    def feasible(total: int) -> bool:
        nonlocal evaluations
        _, risk, _, _, n = _minimise(family, split_steps(total, pieces), cap, x0, method, stop_below=target)
        evaluations += n
        searched[total] = risk
        return risk <= target

    if math.isfinite(hi_steps):
        hi = int(hi_steps)
    else:  # no constant rate reaches the target: double until a schedule does
        hi = max(lo + 1, 1)
        while not feasible(hi):
            lo, hi = hi, 2 * hi
            if hi > MAX_SCHEDULE_STEPS:
                lengths = split_steps(lo, pieces)
                lrs, _, conv, msg, n = _minimise(family, lengths, cap, x0, method, stop_below=None)
                out = _result(problem, opt, B, lengths, lrs, cap, conv, msg, evaluations + n, method, math.inf)
                out.searched = searched
                return out
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if feasible(mid) else (mid, hi)
    lengths = split_steps(hi, pieces)
    lrs, risk, conv, msg, n = _minimise(family, lengths, cap, x0, method, stop_below=None)
    evaluations += n
    if not risk <= target:  # only at the constant-rate end: its schedule certifies it
        lrs, conv, msg = np.full(pieces, lr_c), True, "the best constant learning rate"
    out = _result(problem, opt, B, lengths, lrs, cap, conv, msg, evaluations, method, float(hi))
    out.searched = searched
    return out
