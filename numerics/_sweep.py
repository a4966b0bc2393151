r"""Batch-size sweeps: tuned steps to target against B (Fig. 3a, 4, 11, 13, 14).

:func:`sweep` tunes the optimizer at every batch size (:func:`~nqm.numerics.tune`'s grid
search, exact) and returns a :class:`Sweep` table: per batch size the fewest steps, the
chosen hyperparameters, the effective learning rate, and the information-theoretic lower
bound :math:`\tfrac12\operatorname{tr}(H^{-1}C)/(\varepsilon B)` (Section 3.6); plus both
critical batch sizes (:mod:`._critical`).

The sweep runs in increasing B with a warm start. For fixed hyperparameters the expected
risk is pointwise non-increasing in B (the noise part scales as :math:`1/B`, the start part
does not depend on B), so the previous optimum's steps are an exact upper bound for the next
batch size, and every grid point's certified lower bound carries over scaled by
:math:`B_{\rm prev}/B`; the transition invariants are built once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ._critical import CriticalBatchSizes, critical_batch_sizes
from ._forms import Forms, validate_batch_sizes, validate_positive
from ._model import build_model
from ._optimizers import Optimizer, OptimizerLike, as_optimizer
from ._parallel import ExecutorArg, LocalWorkers, ResultCache, map_tasks, resolve_cache, resolve_executor
from ._problem import Problem
from ._tables import Columns, Tabular, records_to_columns
from ._tune import OPTIMIZERS_OWN, GridSearch, _axes, _refine, tuning_arguments

__all__ = ["SweepJob", "SweepRow", "Sweep", "SweepList", "sweep", "sweep_jobs", "sweeps", "POOL_MIN_WORK",
           "effective_lr", "LearningRateTable", "optimal_learning_rates", "PAPER_BATCH_SIZES"]

#: the paper's batch sizes 2^2, 2^4, ..., 2^20 (Fig. 3a)
PAPER_BATCH_SIZES = 2.0 ** np.arange(2, 21, 2)
#: curvature at which the effective learning rate is read off (the slope as h -> 0)
_H_EFF = 1e-12


def _slowest_rate(opt: Optimizer, h: float) -> tuple[np.ndarray, bool]:
    """``(-mu, closed)``: minus the slowest eigenvalue of D = A - I at curvature ``h`` (no noise), per
    grid point, and whether it came from the closed form (else from numpy's eigenvalues)."""
    model = build_model(Problem([h], c=[0.0], name="effective-lr probe"), opt, 1.0)
    if model.powers is not None:
        return -np.asarray(model.powers.mu1)[..., 0], True
    mu = np.linalg.eigvals(model.inv["D"])
    return -np.max(mu.real, axis=-1)[..., 0], False


def effective_lr(opt: OptimizerLike, **hyperparameters: object) -> np.ndarray:
    r"""Effective learning rate: the decay rate of the slowest mode per unit curvature as :math:`h\to0`.

    The slow eigenvalue of the transition is :math:`1 - \alpha_{\rm eff}h + O(h^2)`:
    :math:`\alpha_{\rm eff} = \alpha/(1-\beta)` for heavy-ball momentum and Nesterov
    (Section 3.3, Fig. 11), :math:`\alpha` for SGD and EMA. Read off from the engine's
    invariants at :math:`h = 10^{-12}` (:math:`\mu_1/h`, relative error about
    :math:`10^{-12}\alpha_{\rm eff}`); specs with more than two states use the eigenvalues of
    the transition at :math:`h = 10^{-6}` (relative error about :math:`10^{-6}`). Where the
    rate is not yet linear there (momentum with :math:`\alpha h \not\ll (1-\beta)^2`), smaller
    probes down to :math:`10^{-21}` (:math:`10^{-10}`) are used: the slope is read at the first
    probe where the rate at :math:`2h` is twice that at :math:`h` to within :math:`10^{-4}`
    (:math:`10^{-3}`). ``nan`` where none is, i.e. where the slow mode does not tend to 1 as
    :math:`h\to0`, e.g. weight decay, whose rate is set by the decay rather than the curvature.
    Shape: the optimizer's grid. ``opt`` as for :func:`~nqm.numerics.expected_risk`.
    """
    plain = as_optimizer(opt, hyperparameters, "opt").replace(precond_power=0.0)
    rate, closed = _slowest_rate(plain, _H_EFF)
    # probe curvatures, largest first: the slope is read at the first h where the rate doubles
    # with h to within tol (the O(h^2) term is negligible), e.g. momentum needs alpha h << (1-beta)^2
    probes, tol = ((_H_EFF, 1e-15, 1e-18, 1e-21), 1e-4) if closed else ((1e-6, 1e-8, 1e-10), 1e-3)
    out = np.full(np.shape(rate), np.nan)
    for h in probes:
        if h != _H_EFF or not closed:
            rate, _ = _slowest_rate(plain, h)
        doubled, _ = _slowest_rate(plain, 2.0 * h)
        with np.errstate(all="ignore"):
            linear = np.isnan(out) & (np.abs(doubled / rate - 2.0) <= 2.0 * tol)
            out = np.where(linear, rate / h, out)
        if not np.isnan(out).any():
            break
    return out if out.ndim else out[()]


@dataclass(frozen=True)
class SweepRow:
    """One batch size: fewest steps (``inf`` if never), the chosen hyperparameters (empty if
    none), the effective learning rate, the information bound, and whether the grid
    optimum lies at an end of an axis (``at_edge`` names those hyperparameters)."""

    batch_size: float
    steps: float
    hyperparameters: dict[str, float]
    effective_lr: float
    information_bound: float
    at_edge: tuple[str, ...] = ()
    refined: bool = False


@dataclass(frozen=True)
class Sweep(Tabular):
    """Tuned steps to target against batch size, for one optimizer and preconditioner power.

    ``rows`` in increasing batch size. Columns as arrays: :attr:`batch_sizes`,
    :attr:`steps`, :attr:`information_bounds`, :meth:`column`; :meth:`critical_batch_sizes`
    gives both definitions. Tables (:class:`~nqm.numerics._tables.Tabular`): ``to_pandas()``,
    ``to_csv()`` give :meth:`records`, one row per batch size (``batch_size``; ``steps``, the
    fewest steps to the target, ``inf`` if never; each hyperparameter; ``effective_lr``;
    ``information_bound`` in steps; ``at_edge``; ``refined``; and the constant ``optimizer``,
    ``precond_power``, ``target``); ``to_xarray()`` indexes them by ``batch_size``;
    ``to_json()`` adds the grid and both critical batch sizes (``"critical_batch_size"``, the
    columns of :meth:`CriticalBatchSizes.record`).
    """

    optimizer: str
    precond_power: float
    target: float
    problem: str
    rows: tuple[SweepRow, ...]
    grid: dict[str, np.ndarray] = field(repr=False)

    @property
    def batch_sizes(self) -> np.ndarray:
        return np.array([r.batch_size for r in self.rows])

    @property
    def steps(self) -> np.ndarray:
        return np.array([r.steps for r in self.rows])

    @property
    def information_bounds(self) -> np.ndarray:
        return np.array([r.information_bound for r in self.rows])

    def column(self, name: str) -> np.ndarray:
        """A hyperparameter (``"lr"``, ``"beta"``, ...) or ``"effective_lr"`` per row (``nan`` where no optimum)."""
        if name == "effective_lr":
            return np.array([r.effective_lr for r in self.rows])
        return np.array([r.hyperparameters.get(name, math.nan) for r in self.rows])

    def critical_batch_sizes(self) -> CriticalBatchSizes:
        """McCandlish's fit and the 2x perfect-scaling breakdown of this curve (:mod:`._critical`)."""
        return critical_batch_sizes(self.batch_sizes, self.steps)

    def learning_rate_scaling(self, max_batch_size: float | None = None) -> float:
        r"""Least-squares slope of :math:`\log\alpha_{\rm eff}` against :math:`\log B` (Fig. 14).

        Over the rows with an optimum and :math:`B \le` ``max_batch_size`` (default: the
        2x perfect-scaling critical batch size); 1 means the optimal learning rate scales
        linearly with B. ``nan`` with fewer than two rows.
        """
        if max_batch_size is None:
            max_batch_size = self.critical_batch_sizes().perfect_scaling_2x
        B, lr = self.batch_sizes, self.column("effective_lr")
        use = np.isfinite(lr) & (B <= max_batch_size)
        if use.sum() < 2:
            return math.nan
        return float(np.polyfit(np.log(B[use]), np.log(lr[use]), 1)[0])

    def records(self) -> list[dict[str, object]]:
        """One flat dict per row (hyperparameters as their own columns)."""
        names = list(self.grid) + [p for r in self.rows for p in r.hyperparameters if p not in self.grid]
        names = list(dict.fromkeys(names))
        out = []
        for r in self.rows:
            rec: dict[str, object] = {
                "optimizer": self.optimizer,
                "precond_power": self.precond_power,
                "target": self.target,
                "batch_size": r.batch_size,
                "steps": r.steps,
            }
            rec.update({p: r.hyperparameters.get(p, math.nan) for p in names})
            rec.update(
                effective_lr=r.effective_lr,
                information_bound=r.information_bound,
                at_edge=" ".join(r.at_edge),
                refined=r.refined,
            )
            out.append(rec)
        return out

    def _tables(self) -> dict[str, tuple[str, ...]]:
        return {"rows": ("batch_size",)}

    def _columns(self, table: str) -> Columns:
        return records_to_columns(self.records())

    def _meta(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer, "precond_power": self.precond_power, "target": self.target,
                "problem": self.problem}

    def _json_doc(self) -> dict[str, Any]:
        """The table, grid and both critical batch sizes."""
        return {
            **self._meta(),
            "grid": {k: v.tolist() for k, v in self.grid.items()},
            "rows": self.records(),
            "critical_batch_size": self.critical_batch_sizes().record(),
        }


class SweepList(list[Sweep], Tabular):
    """The sweeps of :func:`sweeps`: a ``list`` of :class:`Sweep` that also converts as one table.

    Tables: ``"rows"`` (:meth:`Sweep.records` of every sweep, one row per optimizer, power
    and batch size; axes ``optimizer``, ``precond_power``, ``batch_size``) and ``"critical"``
    (:meth:`critical_records`, one row per sweep).
    ``to_xarray()`` needs each (optimizer, power) once.
    """

    def _tables(self) -> dict[str, tuple[str, ...]]:
        return {"rows": ("optimizer", "precond_power", "batch_size"), "critical": ("optimizer", "precond_power")}

    def _columns(self, table: str) -> Columns:
        if table == "rows":
            return records_to_columns([rec for s in self for rec in s.records()])
        return records_to_columns(self.critical_records())

    def critical_records(self) -> list[dict[str, Any]]:
        """The ``"critical"`` table, one dict per sweep: ``optimizer``, ``precond_power``, ``target``, then
        McCandlish's ``S_min`` (steps), ``E_min`` (examples), ``B_crit_mccandlish`` and
        ``rms_relative_error``, ``B_crit_perfect_scaling_2x`` (batch sizes) and ``reason``
        (:meth:`CriticalBatchSizes.record`); ``nqm critical`` writes these rows."""
        return [{"optimizer": s.optimizer, "precond_power": s.precond_power, "target": s.target,
                 **s.critical_batch_sizes().record()} for s in self]

    def _meta(self) -> dict[str, Any]:
        """The target and problem when every sweep shares them."""
        shared = {k: {getattr(s, k) for s in self} for k in ("target", "problem")}
        return {k: v.pop() for k, v in shared.items() if len(v) == 1}


@dataclass(frozen=True)
class _GridTask:
    """One sweep task: the warm-started batch-size loop over a block of rows of the grid.

    ``spec`` is the optimizer at the block's first grid point: it carries the spec (to a worker
    process too: it pickles as its spec), the fixed hyperparameters and the preconditioner power;
    ``axes`` is the block (a product grid whose first axis is every k-th value of the sweep's first axis).
    """

    problem: Problem
    spec: Optimizer
    axes: dict[str, np.ndarray]
    batch_sizes: tuple[float, ...]
    target: float
    #: per batch size, an exact first hit of some point of the whole grid (:func:`_incumbents`), or ()
    uppers: tuple[float, ...] = ()

    def cache_config(self) -> dict[str, object]:
        return {"problem": self.problem, "spec": self.spec, "axes": self.axes,
                "batch_sizes": list(self.batch_sizes), "target": self.target,
                **({"uppers": list(self.uppers)} if self.uppers else {})}

    def search(self) -> GridSearch:
        fixed = {k: float(v) for k, v in self.spec.hyperparameters.items() if k not in self.axes}
        return GridSearch(self.problem, self.spec.forms, self.axes, fixed, self.spec.precond_power)


def _grid_task(task: _GridTask) -> list[tuple[float, int | None]]:
    """Per batch size (increasing) the block's fewest steps and first flat index in the block;
    ``(inf, None)`` where none reaches the target, or, given ``uppers``, none in at most that many steps."""
    search = task.search()
    out = []
    upper = math.inf
    for j, B in enumerate(task.batch_sizes):
        if task.uppers:
            upper = min(upper, task.uppers[j])
        steps, idx = search.minimum(B, task.target, upper)
        upper = steps
        out.append((steps, idx))
    return out


@dataclass(frozen=True)
class _RefineTask:
    """Refinement past the grid at one batch size, from the grid optimum ``hyperparameters``."""

    grid: _GridTask  # the whole grid, at this batch size
    steps: float
    hyperparameters: dict[str, float]

    def cache_config(self) -> dict[str, object]:
        return {"grid": self.grid, "steps": self.steps, "hyperparameters": self.hyperparameters}


def _refine_task(task: _RefineTask) -> tuple[float, dict[str, float], bool]:
    g = task.grid
    search = g.search()
    return _refine(g.problem, g.spec.forms, search, task.steps, dict(task.hyperparameters),
                   g.batch_sizes[0], g.target)


#: grid points x bins per sweep task. Blocks are whole rows of the first axis and depend only
#: on the grid and the problem (never on the executor), so cache entries are shared by every
#: executor and every executor gives the same tasks.
_TASK_ELEMENTS = 1 << 16
#: with ``executor=None``, sweeps whose total work (grid points x bins x batch sizes, summed
#: over configurations) is below this run in this process, larger ones on a thread pool. Set when
#: the automatic pool was a process pool (0.4 s before its first result; one paper momentum sweep,
#: 2000 x 100 x 10 = 2e6, takes about 0.35 s serially, Fig. 4's sweeps, about 1e7, 2.1 s:
#: benchmarks/bench_scaleout.py); threads start at once, so a lower threshold would also pay,
#: but wall-clock gains were unmeasurable on the saturated shared machine when threads became the
#: default, so it stays.
POOL_MIN_WORK = 5_000_000


@dataclass(frozen=True)
class _Plan:
    """One configuration of :func:`sweeps`: validated arguments and its grid tasks."""

    forms: Forms
    problem: Problem
    batch_sizes: np.ndarray  # increasing
    target: float
    axes: dict[str, np.ndarray]
    search: GridSearch
    refine: bool
    tasks: tuple[_GridTask, ...]
    #: each task's rows of the first axis (all of it for a grid without axes)
    rows: tuple[np.ndarray, ...]

    @property
    def name(self) -> str:
        """The spec's name."""
        return self.forms.name

    @property
    def work(self) -> float:
        return float(self.search.size * self.problem.size * self.batch_sizes.size)


def _plan(
    problem: Problem,
    optimizer: OptimizerLike,
    *,
    batch_sizes: ArrayLike = PAPER_BATCH_SIZES,
    target: float = 0.01,
    grid: Mapping[str, ArrayLike] | None = None,
    precond_power: float = OPTIMIZERS_OWN,
    refine: bool = False,
    **fixed: ArrayLike,
) -> _Plan:
    forms, grid, fixed, power = tuning_arguments(optimizer, grid, fixed, precond_power)
    Bs = validate_batch_sizes(batch_sizes)
    eps = validate_positive("target", target)
    axes, values = _axes(forms, grid, fixed)
    search = GridSearch(problem, forms, axes, values, power)
    Bs = np.sort(Bs)
    B_tuple = tuple(float(B) for B in Bs)
    blocks: list[dict[str, np.ndarray]] = [axes]
    splits = [np.zeros(1, dtype=np.intp)]
    if axes:
        first, *rest = axes
        pieces = min(axes[first].size, math.ceil(search.size * problem.size / _TASK_ELEMENTS))
        # interleaved rows (j, j + pieces, ...): every block spans the whole first axis, so each
        # finds a near-optimal incumbent at every batch size on its own and prunes the rest with it
        splits = [np.arange(j, axes[first].size, pieces) for j in range(pieces)]
        blocks = [{first: axes[first][rows], **{k: axes[k] for k in rest}} for rows in splits]
    tasks = tuple(
        _GridTask(
            problem,
            Optimizer(forms, precond_power=search.precond_power, **{k: a[0] for k, a in block.items()}, **values),
            block,
            B_tuple,
            eps,
        )
        for block in blocks
    )
    return _Plan(forms, problem, Bs, eps, axes, search, bool(refine), tasks, tuple(splits))


#: grids of at most this many grid points x bins are searched whole (one task, as :func:`~nqm.numerics.tune`
#: searches them) when a sweep runs in this process without a cache: every chunk then starts from the
#: optimum of the whole grid, not of its block, so fewer points are evaluated (the paper's momentum grid,
#: 2000 x 100 bins: Fig. 3a's serial sweeps take 11-15 % less CPU time, benchmarks/bench_tune_loop.py); its
#: kept models are then held at once (the paper's momentum grid: 81 MiB, :meth:`GridSearch.nbytes`, against
#: 20 MiB per block; up to ~106 MiB at this size). Larger grids, pools and cached runs use the blocks
#: (cache entries are the blocks', whatever the executor).
_WHOLE_GRID_ELEMENTS = 4 * _TASK_ELEMENTS


def _whole_grid(plan: _Plan) -> _Plan:
    """``plan`` as one task over its whole grid when it has several and is at most :data:`_WHOLE_GRID_ELEMENTS`."""
    if len(plan.tasks) == 1 or plan.search.size * plan.problem.size > _WHOLE_GRID_ELEMENTS:
        return plan
    whole = replace(plan.tasks[0], axes=plan.axes)
    first = next(iter(plan.axes.values()))
    return replace(plan, tasks=(whole,), rows=(np.arange(first.size),))


#: plans of at least this many grid tasks first search a strided subgrid for incumbents
INCUMBENT_MIN_TASKS = 8


def _with_incumbents(plan: _Plan, store: ResultCache | None) -> _Plan:
    r"""``plan`` with every task told, per batch size, an exact first hit of some grid point.

    For a plan of :data:`INCUMBENT_MIN_TASKS` tasks or more, the subgrid taking every k-th point
    of each axis (k the smallest with at most :data:`_TASK_ELEMENTS` elements) is searched first,
    in this process, as one task, then the whole grid within k points of each of its optima (one
    task each). The best of these at each batch size is an exact hit of a point of the grid, so
    the grid's optimum is at most that: a task then skips every row whose certified
    lower bound over :math:`[0, \text{upper}]` exceeds the target (:func:`~._steps.grid_minimum`),
    and reports no row where none ties or beats it. The task holding the grid's optimum (or the
    first point tying it) still finds it, so the result is unchanged (tests/numerics/test_sweep_incumbents.py);
    only hopeless blocks cost less (benchmarks/bench_user_spec.py).
    """
    if len(plan.tasks) < INCUMBENT_MIN_TASKS:
        return plan
    stride = 1
    while math.prod(-(-a.size // stride) for a in plan.axes.values()) * plan.problem.size > _TASK_ELEMENTS:
        stride += 1
    coarse = replace(plan.tasks[0], axes={k: a[::stride] for k, a in plan.axes.items()})
    found = map_tasks(_grid_task, [coarse], executor="serial", cache=store)[0]
    # then the whole grid within one stride of each subgrid optimum
    shape = tuple(a.size for a in coarse.axes.values())
    centres = dict.fromkeys(np.unravel_index(idx, shape) for _, idx in found if idx is not None)
    boxes = [
        replace(coarse, axes={k: a[max(0, (i - 1) * stride + 1) : (i + 1) * stride]
                              for (k, a), i in zip(plan.axes.items(), c)})
        for c in centres
    ]
    near = map_tasks(_grid_task, boxes, executor="serial", cache=store)
    uppers = tuple(float(min(steps for steps, _ in per_B)) for per_B in zip(found, *near))
    return replace(plan, tasks=tuple(replace(t, uppers=uppers) for t in plan.tasks))


def _assemble(plan: _Plan, results: list[list[tuple[float, int | None]]]) -> list[tuple[float, int | None]]:
    """Per batch size the grid optimum over all blocks: fewest steps, ties to the first grid point."""
    per_row = plan.search.size // plan.search.shape[0] if plan.search.shape else 1
    best = []
    for j in range(plan.batch_sizes.size):
        steps, winner = math.inf, None
        for rows, per_B in zip(plan.rows, results):
            s, idx = per_B[j]
            if idx is None:
                continue
            at = int(rows[idx // per_row]) * per_row + idx % per_row  # the block's point in the whole grid
            if winner is None or (s, at) < (steps, winner):
                steps, winner = s, at
        best.append((steps, winner))
    return best


def _plans(
    problem: Problem, configs: Sequence[Mapping[str, object] | object], common: Mapping[str, object]
) -> list[_Plan]:
    """The validated plan of each config of :func:`sweeps` (a config's own value wins over ``common``)."""
    plans = []
    for config in configs:
        config = config if isinstance(config, Mapping) else {"optimizer": config}
        args = {**common, **config}
        if "optimizer" not in args:
            raise ValueError(f"every config needs an 'optimizer'; got {dict(config)!r}")
        plans.append(_plan(problem, **args))
    return plans


@dataclass(frozen=True)
class SweepJob:
    """The size of one configuration of :func:`sweeps`, known before any work: ``grid_points``
    hyperparameter settings x ``batch_sizes`` x ``bins`` (the problem's directions, :attr:`Problem.size`) =
    ``searches`` exact steps-to-target searches, split into ``tasks`` picklable tasks (one, for a small
    grid run in this process without a cache: :func:`sweep`)."""

    optimizer: str
    precond_power: float
    grid_points: int
    batch_sizes: int
    bins: int
    searches: float
    tasks: int


def sweep_jobs(problem: Problem, configs: Sequence[Mapping[str, object] | object], **common: object) -> list[SweepJob]:
    """What :func:`sweeps` with the same arguments will compute, one :class:`SweepJob` per config;
    bad arguments raise the ``ValueError`` that :func:`sweeps` raises, before any work."""
    return [SweepJob(plan.name, float(plan.search.precond_power), int(plan.search.size), int(plan.batch_sizes.size),
                     int(plan.problem.size), plan.work, len(plan.tasks))
            for plan in _plans(problem, configs, common)]


def sweeps(
    problem: Problem,
    configs: Sequence[Mapping[str, object] | object],
    *,
    executor: ExecutorArg = None,
    cache: ResultCache | str | Path | bool | None = None,
    progress: Callable[[Iterable[Any], int], Iterable[Any]] | None = None,
    **common: object,
) -> SweepList:
    r"""Several sweeps at once (e.g. every (optimizer, p) of Fig. 4): one :class:`Sweep` per config,
    in a :class:`SweepList` (a ``list`` whose ``to_pandas()``/``to_xarray()`` join them).

    Each config is an optimizer (anything :func:`sweep` accepts: ``[nn.SGD, nn.Momentum]``) or a
    mapping of :func:`sweep`'s keyword arguments plus ``optimizer``, e.g.
    ``{"optimizer": nn.Momentum, "precond_power": 0.5}``; ``common`` holds arguments shared
    by all (a config's own value wins). All configurations' tasks go to the executor
    together; ``executor``, ``cache`` and ``progress`` as for :func:`sweep`.
    """
    plans = _plans(problem, configs, common)
    store = resolve_cache(cache, "sweep")
    where = resolve_executor(executor, sum(p.work for p in plans), POOL_MIN_WORK)
    if store is None and (where == "serial" or isinstance(where, LocalWorkers) and len(plans) >= where.workers):
        plans = [_whole_grid(p) for p in plans]  # every worker still has a configuration of its own
    plans = [_with_incumbents(p, store) for p in plans]
    tasks = [t for p in plans for t in p.tasks]
    flat = map_tasks(_grid_task, tasks, executor=where, cache=store, progress=progress)
    optima, k = [], 0
    for plan in plans:
        optima.append(_assemble(plan, flat[k : k + len(plan.tasks)]))
        k += len(plan.tasks)
    refine_jobs = [
        (i, j, _RefineTask(_GridTask(p.problem, p.tasks[0].spec, p.axes, (float(p.batch_sizes[j]),), p.target),
                           float(steps), p.search.hyperparameters(idx)))
        for i, (p, best) in enumerate(zip(plans, optima)) if p.refine
        for j, (steps, idx) in enumerate(best) if idx is not None
    ]
    jobs = [job for _, _, job in refine_jobs]
    refined = map_tasks(_refine_task, jobs, executor=where, cache=store, progress=progress)
    refined_at = {(i, j): r for (i, j, _), r in zip(refine_jobs, refined)}
    out = []
    for i, (plan, best) in enumerate(zip(plans, optima)):
        found = {}  # batch-size index -> (steps, hyperparameters, grid edges, refined)
        for j, (steps, idx) in enumerate(best):
            if idx is None:
                continue
            index = np.unravel_index(idx, plan.search.shape)
            edges = tuple(p for (p, a), n in zip(plan.axes.items(), index) if a.size > 1 and n in (0, a.size - 1))
            value, hyper, is_refined = refined_at.get((i, j), (steps, plan.search.hyperparameters(idx), False))
            found[j] = (float(value), hyper, edges, is_refined)
        # every row's effective learning rate at once (one grid of optimizers, elementwise)
        lr_eff = {}
        if found:
            names = list(next(iter(found.values()))[1])
            grid = Optimizer(plan.forms, **{p: np.array([f[1][p] for f in found.values()]) for p in names})
            lr_eff = dict(zip(found, effective_lr(grid).tolist()))
        rows = []
        for j, B in enumerate(plan.batch_sizes):
            bound = float(plan.problem.information_bound(plan.target, B))
            if j not in found:
                rows.append(SweepRow(float(B), math.inf, {}, math.nan, bound))
                continue
            value, hyper, edges, is_refined = found[j]
            rows.append(SweepRow(float(B), value, hyper, float(lr_eff[j]), bound, edges, is_refined))
        out.append(Sweep(plan.name, plan.search.precond_power, plan.target, plan.problem.name, tuple(rows), plan.axes))
    return SweepList(out)


def sweep(
    problem: Problem,
    optimizer: OptimizerLike,
    *,
    batch_sizes: ArrayLike = PAPER_BATCH_SIZES,
    target: float = 0.01,
    grid: Mapping[str, ArrayLike] | None = None,
    precond_power: float = OPTIMIZERS_OWN,
    refine: bool = False,
    executor: ExecutorArg = None,
    cache: ResultCache | str | Path | bool | None = None,
    progress: Callable[[Iterable[Any], int], Iterable[Any]] | None = None,
    **fixed: ArrayLike,
) -> Sweep:
    r"""Tune ``optimizer`` at every batch size: the steps-vs-B table of Fig. 3a.

    Arguments as for :func:`~nqm.numerics.tune` (the paper's grids by default); rows come
    in increasing batch size. Exact: each row equals ``tune`` at that batch size (the warm
    start only skips provably losing work, module docstring). ``refine=True`` refines each
    row past the grid (the warm start keeps using the on-grid optima).

    **Scaling out.** The grid is split into k blocks of whole rows of its first axis, block j
    holding rows j, j + k, ... (about :data:`_TASK_ELEMENTS` grid points x bins each; interleaved, so
    that each block's own optimum is near the grid's); each block is one picklable task that
    runs the warm-started loop over all batch sizes, and the reduction takes per batch size
    the fewest steps with ties to the first grid point, so the table is identical for every
    executor and every number of workers. Without a cache, in this process or on a local pool with at
    least as many configurations as workers, a grid of at most :data:`_WHOLE_GRID_ELEMENTS` grid points x
    bins is searched whole instead, as :func:`~nqm.numerics.tune` searches it: the same table, with fewer
    evaluations (Fig. 3a's 8 configurations on the default 2-thread pool: 1.77 s instead of 2.34 s,
    ``benchmarks/bench_tune_loop.py``).

    ``executor``: where the tasks run, by the executor convention of
    :func:`~nqm.numerics.resolve_executor`; ``None`` (default) uses a local thread pool when the
    work (grid points x bins x batch sizes) is at least :data:`POOL_MIN_WORK`, else this process.
    ``cache``: ``True`` (``$NQM_CACHE_DIR``), a directory or a
    :class:`~nqm.numerics._parallel.ResultCache`: every finished task is stored under its full
    configuration, so a repeated sweep computes nothing and an interrupted one resumes.
    ``progress``: a wrapper ``progress(iterable, total)`` around task completions (e.g. a rich bar).
    """
    return sweeps(problem, [dict(optimizer=optimizer, batch_sizes=batch_sizes, target=target, grid=grid,
                                 precond_power=precond_power, refine=refine, **fixed)],
                  executor=executor, cache=cache, progress=progress)[0]


@dataclass(frozen=True)
class LearningRateTable(Tabular):
    r"""Optimal learning rate against batch size (Fig. 14; Fig. 11 for momentum's effective rate).

    Arrays per batch size: ``lr`` (the tuned :math:`\alpha`), ``effective_lr``
    (:func:`effective_lr`, :math:`\alpha/(1-\beta)` for momentum), ``steps``;
    ``scaling_exponent``: the log-log slope of ``effective_lr`` below the 2x
    perfect-scaling critical batch size (1 = linear scaling, the paper's claim).
    ``to_pandas()``/``to_csv()``: one row per batch size with those four columns (``steps``
    ``inf`` where never reached); ``scaling_exponent`` in the attrs.
    """

    batch_sizes: np.ndarray
    lr: np.ndarray
    effective_lr: np.ndarray
    steps: np.ndarray
    scaling_exponent: float

    def _tables(self) -> dict[str, tuple[str, ...]]:
        return {"rows": ("batch_size",)}

    def _columns(self, table: str) -> Columns:
        return {"batch_size": self.batch_sizes, "lr": self.lr, "effective_lr": self.effective_lr, "steps": self.steps}

    def _meta(self) -> dict[str, Any]:
        return {"scaling_exponent": self.scaling_exponent}


def optimal_learning_rates(problem: Problem, optimizer: OptimizerLike, **sweep_args: Any) -> LearningRateTable:
    """The tuned (and effective) learning rate at each batch size; arguments as for :func:`sweep`.

    The paper's Fig. 14 uses SGD up to :math:`B = 2^{21}`:
    ``optimal_learning_rates(prob, nn.SGD, batch_sizes=2.0 ** np.arange(0, 22))``.
    """
    table = sweep(problem, optimizer, **sweep_args)
    return LearningRateTable(
        table.batch_sizes, table.column("lr"), table.column("effective_lr"), table.steps, table.learning_rate_scaling()
    )
