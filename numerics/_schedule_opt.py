r"""Optimal piecewise-constant learning-rate schedules (Section 3.7.2, Figs. 3b, 3c and 15).

The authors optimise a schedule of K equal pieces (K = 50; one figure uses 10) for the
number of steps to reach a target risk:

* for a fixed total :math:`T`, minimise the exact final risk over the log learning rates
  with scipy's bounded L-BFGS-B, starting from :math:`\log\alpha = -5`, learning rates capped
  (:func:`optimize_schedule`);
* binary-search the smallest :math:`T` whose optimised schedule reaches the target
  (:func:`optimal_schedule`).

Here the risk is the exact piecewise map (:func:`~nqm.numerics.piecewise_risk`) and the
gradient is exact (:func:`~nqm.numerics.piecewise_risk_gradient`).

**Certified per total.** One L-BFGS-B run from the authors' start can stall in a poor local
optimum (for SGD at B = 64 with 10 pieces it once stopped with the last piece at
:math:`\alpha\approx10^{-11}` and risk 0.0116 where a schedule with risk 0.0099947 exists). Every
total is therefore optimised from several starts and polished
(:func:`~nqm.numerics._schedule_search.certified_minimum`); the schedule returned at a total
:math:`T` has an exact final risk **never above** that of: the best constant learning rate at
:math:`T` (a 1-D search that includes every rate of the paper's grid under the cap); the
authors' start :math:`\log\alpha=-5` and the result of the authors' optimiser run from it
(L-BFGS-B on :math:`R` with scipy's default tolerances; their loss differs from the exact
:math:`R` by a :math:`10^{-8}` in a denominator, and their lower bound is :math:`-\infty`, not
:math:`\log 10^{-30}`); the caller's ``start``; and every schedule passed in ``schedules`` — each
after clipping its rates to :math:`[10^{-30}, \texttt{max\_lr}]`.

**The step search** (:func:`optimal_schedule`). The rule: the answer is the fewest total
:math:`T` whose certified risk reaches the target among the totals the search tests, and
:math:`T-1` was tested and failed (see :mod:`._schedule_search`: a bracketing search, secant
steps on the log risk safeguarded by bisection, whose guarantees do not assume the optimised risk
is monotone in :math:`T`). Its ends are certified:

* lower end: no method whatsoever reaches the target before the Bayes bound (below), so
  :math:`T < T_{\rm Bayes}` is infeasible without optimising;
* upper end: the best *constant* learning rate under the cap (exact engine, the paper's
  grid) reaches the target at :math:`T_c`, and any schedule passed in ``schedules`` that reaches
  the target at its own total; the search never reports more than the smallest of these.

Every total tested is warm-started from the optimised schedules of the nearest totals tested
below and above it, so the certified risk varies smoothly with :math:`T`.

**Several hyperparameters** (``vary=("lr", "beta")``, any spec: momentum, EMA, Nesterov, QHM,
user specs). The same optimiser and step search run in the coordinates of
:mod:`._schedule_coords` (values kept inside their ranges; exact gradients in every varying
hyperparameter through :class:`~._schedule_maps.ScheduleFamily`), with the starts and the
certificate of :mod:`._schedule_setup`: never above the best constant setting at the same total
(the learning rate optimised at each point of a grid of the other varying hyperparameters), the
authors' start and ``start`` (the others at the optimizer's values), nor any passed schedule.

**The authors' protocol as options.** ``equal_pieces=True`` restricts totals to multiples of
the number of pieces, every piece of the same length (the notebook bisects over the piece
length); ``max_lr="authors"`` is their cap :math:`2/(h_{\max}+h_{\min}+10^{-4})`
(:func:`authors_max_lr`) beside the default :func:`default_max_lr`,
:math:`2/(h_{\max}+h_{\min}) - 10^{-4}`. Both caps are computed on the preconditioned
curvatures.

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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ._forms import _shown, validate_count, validate_hyperparameter, validate_positive, validate_steps
from ._model import build_model
from ._optimizers import Optimizer, OptimizerLike
from ._problem import Problem
from ._schedule import schedule_family, schedule_optimizer, split_steps, validate_lrs
from ._schedule_maps import MapMethod
from ._schedule_search import (
    AUTHORS_LOG_LR,
    Minimum,
    TotalSearch,
    certified_minimum,
    one_blas_thread,
    search_totals,
)
from ._schedule_setup import LrSetup, VarySetup
from ._steps import grid_minimum
from ._tables import Columns, Tabular
from ._tie import reaches

__all__ = [
    "ScheduleResult",
    "optimize_schedule",
    "optimal_schedule",
    "bayes_bound_steps",
    "best_constant",
    "default_max_lr",
    "authors_max_lr",
    "AUTHORS_START",
    "PAPER_SGD_LRS",
    "MAX_SCHEDULE_STEPS",
]

#: the authors' start, log(alpha) = -5 for every piece
AUTHORS_START = AUTHORS_LOG_LR
#: the paper's constant-learning-rate grid for SGD (Section 3.7)
PAPER_SGD_LRS = np.logspace(-5, 0.5, 100)
#: largest total the step search tries when no constant rate reaches the target
MAX_SCHEDULE_STEPS = 2**40
#: a schedule given to :func:`optimal_schedule`: its learning rates (one per piece; with ``vary``, a
#: mapping of every varying hyperparameter to its values per piece) and total steps
SchedulePair = tuple[ArrayLike | Mapping[str, ArrayLike], int]
#: what the optimiser varies (:mod:`._schedule_setup`)
Setup = LrSetup | VarySetup


@dataclass
class ScheduleResult(Tabular):
    """An optimised piecewise-constant schedule.

    ``steps``: the total number of steps (for :func:`optimal_schedule`, the answer of the step
    search, or ``math.inf``); ``lrs``/``lengths``: the pieces; ``boundaries``: the steps
    :math:`0, L_0, \\dots, T`; ``risk``: the exact risk at each boundary; ``final_lr``:
    ``lrs[-1]``; ``evaluations``: risk-and-gradient evaluations used; ``searched``: the best
    risk found at each total the search tested; ``values``: with ``vary``, the per-piece values
    of every varying hyperparameter (``lrs`` is then ``values["lr"]``, or the optimizer's
    constant ``lr``).

    Tables (:class:`~nqm.numerics._tables.Tabular`): ``"pieces"`` (the default; one row per
    piece: ``piece`` (0, 1, ...), ``lr``, the other varying hyperparameters, ``length``, ``start`` and ``end`` (steps),
    ``risk_start`` and ``risk_end``, the exact risk at its ends) and ``"searched"``
    (``total_steps``, ``best_risk``), when the step search ran; the scalars in the attrs.
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
    values: dict[str, np.ndarray] = field(default_factory=dict)

    def _tables(self) -> dict[str, tuple[str, ...]]:
        return {"pieces": ("piece",), **({"searched": ("total_steps",)} if self.searched else {})}

    def _columns(self, table: str) -> Columns:
        if table == "searched":
            return {"total_steps": list(self.searched), "best_risk": list(self.searched.values())}
        b, r = np.asarray(self.boundaries), np.asarray(self.risk)
        return {"piece": np.arange(len(self.lrs)), "lr": self.lrs,
                **{k: v for k, v in self.values.items() if k != "lr"}, "length": self.lengths,
                "start": b[:-1], "end": b[1:], "risk_start": r[:-1], "risk_end": r[1:]}

    def _meta(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("steps", "final_risk", "final_lr", "max_lr", "converged", "message",
                                              "evaluations")}


def default_max_lr(problem: Problem, opt: OptimizerLike) -> float:
    r"""The toolkit's default cap :math:`2/(h_{\max}+h_{\min}) - 10^{-4}` of the (preconditioned) problem."""
    hmax, hmin = schedule_family(problem, opt, 1.0).h_range
    return 2.0 / (hmax + hmin) - 1e-4


def authors_max_lr(problem: Problem, opt: OptimizerLike) -> float:
    r"""The authors' cap :math:`2/(h_{\max}+h_{\min}+10^{-4})` of the (preconditioned) problem
    (``max_lr="authors"``; about 1.9996 on the paper's problem against the default's 1.9997)."""
    hmax, hmin = schedule_family(problem, opt, 1.0).h_range
    return 2.0 / (hmax + hmin + 1e-4)


def _resolve_cap(problem: Problem, opt: OptimizerLike, max_lr: object) -> float:
    if max_lr is None:
        return default_max_lr(problem, opt)
    if isinstance(max_lr, str):
        if max_lr != "authors":
            raise ValueError(f"max_lr must be a single number in (0, inf), 'authors' or None; got {max_lr!r}")
        return authors_max_lr(problem, opt)
    return validate_positive("max_lr", max_lr)


def bayes_bound_steps(problem: Problem, *, batch_size: float, target: float) -> float:
    """:meth:`nqm.numerics.Problem.bayes_bound_steps` as a function (``nn.bayes_bound_steps``)."""
    return problem.bayes_bound_steps(target, batch_size)


def _log_start(start: object, pieces: int) -> np.ndarray:
    arr = np.asarray(start, dtype=float)
    if arr.ndim > 1 or (arr.ndim == 1 and arr.size != pieces) or not np.all(np.isfinite(arr)):
        raise ValueError(f"start must be one finite log learning rate or one per piece ({pieces}); got {_shown(start)}")
    return np.broadcast_to(arr, (pieces,)).copy()


def _log_lrs(name: str, lrs: object, pieces: int) -> np.ndarray:
    """Log learning rates of one schedule of ``pieces`` pieces (``ValueError`` naming ``name``)."""
    try:
        arr = validate_lrs(lrs)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None
    if arr.shape != (pieces,):
        raise ValueError(f"{name} must hold one learning rate per piece ({pieces}); got shape {arr.shape}")
    return np.log(arr)


def _result(lengths, lrs, risk, max_lr, converged, message, evaluations, steps=None, values=None) -> ScheduleResult:
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
        values=values or {},
    )


def _setup_result(setup: Setup, lengths: np.ndarray, x: np.ndarray, best: Minimum, evaluations: int,
                  steps: float | None = None) -> ScheduleResult:
    """The result of the schedule ``x`` of ``setup`` with piece ``lengths`` (exact boundary risks).

    Pieces without a step are left out: a total :math:`T` below ``setup.pieces`` (which only the
    step search of :func:`optimal_schedule` can reach) has :math:`T` pieces of one step
    (:func:`split_steps` puts the empty pieces last), a total of 0 one empty piece."""
    values = setup.values(x)
    lrs = values["lr"] if "lr" in values else np.full(setup.pieces, float(setup.opt.hyperparameters["lr"]))
    k = max(1, int(np.count_nonzero(lengths)))
    kept = {n: v[:k] for n, v in values.items()} if isinstance(setup, VarySetup) else None
    return _result(lengths[:k], lrs[:k], setup.boundary_risk(x, lengths)[:k + 1], setup.cap, best.converged,
                   best.message, evaluations, steps, kept)


def _piece_lengths(steps: object, pieces: int) -> np.ndarray:
    """:func:`split_steps` of ``steps`` into ``pieces``, every piece at least one step: ``ValueError``
    naming ``pieces`` and its range [1, steps] otherwise."""
    total = int(validate_steps(steps))
    if pieces > total:
        raise ValueError(f"pieces must be an integer from 1 to steps ({total}), every piece at least one step; "
                         f"got {pieces}")
    return split_steps(total, pieces)


def _vary(opt: Optimizer, vary: object) -> tuple[str, ...]:
    """``vary`` as a tuple of distinct hyperparameter names of ``opt``'s spec (``ValueError`` otherwise)."""
    raw = [vary] if isinstance(vary, str) else list(vary) if isinstance(vary, (tuple, list)) else []
    params = opt.forms.params
    names = tuple(n for n in raw if isinstance(n, str) and n in params)
    if not names or len(names) != len(raw) or len(set(names)) != len(names):
        raise ValueError(f"vary must name distinct hyperparameters of {opt.name} ({', '.join(params)}); "
                         f"got {_shown(vary)}")
    return names


def _setup(problem: Problem, opt: OptimizerLike, batch_size: object, vary: object, max_lr: object, pieces: int,
           method: MapMethod, extra: np.ndarray) -> Setup:
    """The :class:`LrSetup` (``vary=("lr",)``) or :class:`VarySetup` of one schedule problem."""
    family = schedule_family(problem, opt, batch_size)
    base = schedule_optimizer(opt)
    names = _vary(base, vary)
    cap = _resolve_cap(problem, opt, max_lr)
    if names == ("lr",):
        return LrSetup(problem, base, family, cap, pieces, method, extra)
    return VarySetup(problem, base, names, family.batch_size, cap, pieces, method, extra)


def _point(setup: Setup, name: str, given: object) -> np.ndarray:
    """The point of a schedule given per piece: learning rates, or with ``vary`` a mapping of
    every varying hyperparameter to its ``pieces`` values (``ValueError`` naming ``name``)."""
    if isinstance(setup, LrSetup):
        return _log_lrs(name, given, setup.pieces)
    if not isinstance(given, Mapping) or set(given) != set(setup.names):
        raise ValueError(f"{name} must map each of {', '.join(setup.names)} to its {setup.pieces} per-piece values; "
                         f"got {_shown(given)}")
    values = {}
    for key in setup.names:
        arr = validate_hyperparameter(f"{name}[{key!r}]", given[key], setup.opt.forms.ranges[key])
        if arr.shape != (setup.pieces,):
            raise ValueError(f"{name}[{key!r}] must hold one value per piece ({setup.pieces}); got shape {arr.shape}")
        values[key] = arr
    return setup.point(values)


@one_blas_thread
def optimize_schedule(
    problem: Problem,
    opt: OptimizerLike = "sgd",
    *,
    batch_size: float,
    steps: int,
    pieces: int = 50,
    max_lr: float | str | None = None,
    start: float | np.ndarray = AUTHORS_START,
    method: MapMethod = "auto",
    schedules: Iterable[ArrayLike | Mapping[str, ArrayLike]] = (),
    vary: str | tuple[str, ...] = ("lr",),
) -> ScheduleResult:
    r"""The piecewise-constant schedule of ``pieces`` equal pieces minimising the exact risk after ``steps``.

    ``pieces`` is an integer from 1 to ``steps`` (every piece at least one step; ``ValueError`` otherwise).

    Multi-start bounded L-BFGS-B on :math:`\log\alpha_k` with exact gradients and a final polish
    (module docstring): the result's risk is never above that of the best constant rate at
    ``steps``, of the authors' start and their L-BFGS-B run from it, of ``start`` (one log
    learning rate, or one per piece), or of any schedule in ``schedules`` (arrays of ``pieces``
    learning rates). Learning rates lie in :math:`[10^{-30}, \texttt{max\_lr}]`; ``max_lr`` is a
    number, ``None`` (:func:`default_max_lr`) or ``"authors"`` (:func:`authors_max_lr`).
    ``opt`` is any spec with an ``lr`` (its value is ignored; the other
    hyperparameters and ``precond_power`` stay fixed).

    ``vary`` (default ``("lr",)``, the paper's schedules) names the hyperparameters optimised per
    piece, e.g. ``("lr", "beta")`` for momentum: ``opt`` is then an instance whose values start
    the optimisation and fix the others; the coordinates keep every value inside its range
    (:mod:`._schedule_coords`), the gradients are exact in every varying hyperparameter, and the
    certificate is against the best constant setting of :mod:`._schedule_setup` (the learning
    rate optimised at each point of a grid of the others) besides the starts above (the authors'
    and ``start`` with the others at ``opt``'s values) and ``schedules`` (each a mapping of every
    varying name to its ``pieces`` values), all clipped into the coordinates' box.
    """
    pieces = validate_count("pieces", pieces, 1)
    setup = _setup(problem, opt, batch_size, vary, max_lr, pieces, method, PAPER_SGD_LRS)
    lengths = _piece_lengths(steps, pieces)
    x0 = _log_start(start, pieces)
    user = [_point(setup, "schedules", s) for s in schedules]
    best = certified_minimum(setup.coords, lengths, setup.starts(int(lengths.sum()), x0) + user, method)
    return _setup_result(setup, lengths, best.x, best, best.evaluations)


def best_constant(
    problem: Problem, opt: OptimizerLike, batch_size: float, target: float, lrs: np.ndarray
) -> tuple[float, float]:
    """Fewest steps to ``target`` over constant learning rates ``lrs`` (the engine's exact grid
    minimum) and the first learning rate attaining it; ``(inf, nan)`` if none reaches it."""
    base = schedule_optimizer(opt)
    lrs = np.asarray(lrs, dtype=float)
    steps, row = grid_minimum(build_model(problem, base.replace(lr=lrs), batch_size, merge_bins=True).flatten(), target)
    return float(steps), (math.nan if row is None else float(lrs[row]))


def _constant_steps(setup: Setup, target: float) -> tuple[float, float]:
    """Fewest steps to ``target`` of a constant setting (:func:`best_constant` on the paper's grid
    under the cap and the cap; with ``vary``, at every point of the grid of the other varying
    hyperparameters, the learning rate fixed when it does not vary) and its learning rate."""
    opt, cap = setup.opt, setup.cap
    grid = np.append(PAPER_SGD_LRS[PAPER_SGD_LRS <= cap], cap)
    if isinstance(setup, LrSetup):
        return best_constant(setup.problem, opt, setup.batch_size, target, grid)
    lrs = grid if "lr" in setup.names else np.array([float(opt.hyperparameters["lr"])])
    found = [best_constant(setup.problem, opt.replace(**point), setup.batch_size, target, lrs) for point in setup.grid]
    return min(found, key=lambda pair: pair[0])


def _user_schedules(schedules: Iterable[SchedulePair], pieces: int, equal_pieces: bool,
                    setup: Setup | None = None) -> list[tuple[np.ndarray, int]]:
    """``(point, total)`` of each ``(values, steps)`` pair passed to :func:`optimal_schedule`:
    log learning rates, or the point of ``setup`` (:func:`_point`)."""
    out = []
    for item in schedules:
        try:
            lrs, total = item
        except (TypeError, ValueError):
            raise ValueError(f"schedules must hold (lrs, steps) pairs; got {item!r}") from None
        if isinstance(total, (bool, np.bool_)) or not isinstance(total, (int, np.integer)) or total < 1:
            raise ValueError(f"schedules: steps must be an integer >= 1; got {_shown(total)}")
        if equal_pieces and total % pieces:
            raise ValueError(
                f"schedules: steps must be a multiple of pieces ({pieces}) with equal_pieces=True; got {total}"
            )
        out.append((_log_lrs("schedules", lrs, pieces) if setup is None else _point(setup, "schedules", lrs),
                    int(total)))
    return out


class _StepSearch(TotalSearch):
    """The certified feasibility test of :func:`optimal_schedule` at totals ``unit * u``."""

    def __init__(self, setup: Setup, target: float, method: MapMethod, unit: int, starts: list[np.ndarray]) -> None:
        super().__init__(target, unit)
        self.setup, self.pieces, self.method = setup, setup.pieces, method
        self.starts = starts
        self.found: dict[int, np.ndarray] = {}
        self.evaluations = 0

    def neighbours(self, total: int) -> list[np.ndarray]:
        """Optimised schedules of the nearest tested totals below and above ``total``."""
        below = [t for t in self.found if t < total]
        above = [t for t in self.found if t > total]
        return [self.found[t] for t in (max(below, default=None), min(above, default=None)) if t is not None]

    def minimum(self, total: int, stop: bool) -> Minimum:
        starts = self.setup.starts(total, self.starts[0]) + self.starts[1:] + self.neighbours(total)
        if total in self.found:
            starts.append(self.found[total])
        best = certified_minimum(self.setup.coords, split_steps(total, self.pieces), starts, self.method,
                                 stop_below=self.target if stop else None)
        self.evaluations += best.evaluations
        return best

    def __call__(self, u: int) -> bool:
        """Whether the certified minimum at total ``unit * u`` reaches the target; a schedule that
        reaches it is optimised on from there (one polished run) so that the estimates see how
        far below the target this total gets."""
        total = u * self.unit
        best = self.minimum(total, stop=True)
        if reaches(best.risk, self.target):
            more = certified_minimum(self.setup.coords, split_steps(total, self.pieces), [best.x], self.method)
            self.evaluations += more.evaluations
            best = more if more.risk <= best.risk else best
        self.found[total], self.searched[total] = best.x, best.risk
        return bool(reaches(best.risk, self.target))


@one_blas_thread
def optimal_schedule(
    problem: Problem,
    opt: OptimizerLike = "sgd",
    *,
    batch_size: float,
    target: float = 0.01,
    pieces: int = 50,
    max_lr: float | str | None = None,
    start: float | np.ndarray = AUTHORS_START,
    method: MapMethod = "auto",
    equal_pieces: bool = False,
    schedules: Iterable[SchedulePair] = (),
    vary: str | tuple[str, ...] = ("lr",),
) -> ScheduleResult:
    r"""The fewest total steps for which an optimised ``pieces``-piece schedule reaches ``target``.

    The rule and its certificates are in the module docstring: the step search's answer is the
    fewest tested total whose certified optimised risk reaches the target, one total below it
    was tested and failed, and it never exceeds the best constant rate's steps nor the total of
    any passed schedule that reaches the target. Each tested total is optimised as
    :func:`optimize_schedule` does, stopping as soon as the target is reached; the answer's
    schedule is then optimised to convergence. ``searched`` maps each tested total to its best
    risk. An answer :math:`T` below ``pieces`` has :math:`T` pieces of one step (pieces without a step are
    left out; at :math:`T = 0` one empty piece at the cap remains).

    Options: ``max_lr`` as in :func:`optimize_schedule` (``"authors"`` for the authors' cap);
    ``equal_pieces=True`` restricts totals to multiples of ``pieces`` (equal pieces, the authors'
    convention; default ``False``: every total, pieces as equal as integers allow);
    ``schedules``: ``(lrs, steps)`` pairs, each ``pieces`` learning rates and its total, used as
    starts at every total and as upper ends of the search when they reach the target.
    If neither a constant rate on the paper's grid nor a passed schedule reaches the target, the
    upper end is found by doubling; ``steps = math.inf`` (with the schedule of the last failed
    total) if no schedule of at most :data:`MAX_SCHEDULE_STEPS` steps reaches it.

    ``vary`` as in :func:`optimize_schedule` (pairs in ``schedules`` then hold a mapping of every
    varying name to its per-piece values): the upper end is then the best constant setting's steps
    over the grid of :mod:`._schedule_setup`, and every total's certificate is as there.
    """
    target = validate_positive("target", target)
    pieces = validate_count("pieces", pieces, 1)
    if not isinstance(equal_pieces, (bool, np.bool_)):
        raise ValueError(f"equal_pieces must be True or False; got {equal_pieces!r}")
    setup = _setup(problem, opt, batch_size, vary, max_lr, pieces, method, PAPER_SGD_LRS)
    B, cap = setup.batch_size, setup.cap
    x0 = _log_start(start, pieces)
    user = _user_schedules(schedules, pieces, bool(equal_pieces), None if isinstance(setup, LrSetup) else setup)
    if reaches(problem.initial_risk, target):  # no step: the rates at the cap, the others at opt's values
        x = setup.point({n: cap if n == "lr" else setup.opt.hyperparameters[n] for n in setup.names})
        done = Minimum(x, problem.initial_risk, True, "initial risk below target", 0)
        return _setup_result(setup, split_steps(0, pieces), x, done, 0, 0)
    unit = pieces if equal_pieces else 1
    T_c, lr_c = _constant_steps(setup, target)
    if math.isfinite(lr_c):
        setup.extra = np.append(PAPER_SGD_LRS, lr_c)
    starts = [x0] + [setup.coords.clip(x) for x, _ in user]
    search = _StepSearch(setup, target, method, unit, starts)
    # certified ends: below the Bayes bound nothing reaches the target; the constant setting and
    # any passed schedule that reaches it bound the answer from above
    lo = int(min(problem.bayes_bound_steps(target, B), MAX_SCHEDULE_STEPS) - 1) // unit
    uppers = [-(-int(T_c) // unit)] if math.isfinite(T_c) else []
    for x, total in user:
        if reaches(setup.boundary_risk(setup.coords.clip(x), split_steps(total, pieces))[-1], target):
            uppers.append(total // unit)
    found, lo = search_totals(search, lo, min(uppers, default=lo + 1), MAX_SCHEDULE_STEPS)
    total = lo * unit if found is None else found * unit
    best = search.minimum(total, stop=False)  # starts include the feasible schedule found at total
    out = _setup_result(setup, split_steps(total, pieces), best.x, best, search.evaluations,
                        math.inf if found is None else float(total))
    out.searched = search.searched
    return out
