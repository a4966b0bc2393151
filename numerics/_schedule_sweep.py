r"""Data of the paper's schedule figures: Fig. 3b (steps against B for the optimised schedule,
the best constant learning rate and the information bound), Fig. 3c (schedule shapes; one
figure uses 10 pieces) and Fig. 15 (the final learning rate against B, about linear).

:func:`schedule_sweep` runs :func:`~nqm.numerics.optimal_schedule` at every batch size and
the constant-rate baseline on the paper's SGD grid (``logspace(-5, 0.5, 100)``) with the
exact engine. Plotting is left to the caller: every table is plain arrays.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ._cache import register_result_type
from ._forms import validate_batch_sizes, validate_count, validate_hyperparameter, validate_positive
from ._optimizers import Optimizer, OptimizerLike
from ._parallel import ExecutorArg, ResultCache, map_tasks, resolve_cache, resolve_executor
from ._problem import Problem
from ._schedule import schedule_optimizer
from ._schedule_maps import MapMethod
from ._schedule_opt import (
    AUTHORS_START,
    PAPER_SGD_LRS,
    SchedulePair,
    ScheduleResult,
    _resolve_cap,
    _user_schedules,
    best_constant,
    optimal_schedule,
)
from ._tables import Columns, Tabular

register_result_type(ScheduleResult)  # cached by schedule_sweep

__all__ = ["ScheduleSweep", "schedule_sweep", "PAPER_BATCH_SIZES"]

#: the paper's batch sizes 2^2, 2^4, ..., 2^20
PAPER_BATCH_SIZES = 2.0 ** np.arange(2, 21, 2)


@dataclass
class ScheduleSweep(Tabular):
    """Optimised schedules and the constant-rate baseline at each batch size.

    ``steps``: fewest steps of the optimised schedule; ``constant_steps``/``constant_lr``:
    the best constant learning rate on the grid; ``information_bound``:
    :math:`\\tfrac12\\operatorname{tr}(H^{-1}C)/(\\varepsilon B)`; ``schedules``: one
    :class:`ScheduleResult` per batch size.

    Tables (:class:`~nqm.numerics._tables.Tabular`): ``"steps"`` (the default; Fig. 3b and
    15, one row per batch size: ``batch_size``, ``schedule_steps``, ``constant_steps`` (steps,
    ``inf`` where never), ``constant_lr``, ``information_bound`` (steps), ``final_lr``) and
    ``"pieces"`` (Fig. 3c, one row per batch size and piece: the columns of
    :class:`ScheduleResult`'s ``"pieces"``). ``to_xarray()`` joins both over ``batch_size``
    (and ``piece``).
    """

    batch_sizes: np.ndarray
    target: float
    pieces: int
    steps: np.ndarray
    constant_steps: np.ndarray
    constant_lr: np.ndarray
    information_bound: np.ndarray
    schedules: list[ScheduleResult]

    @property
    def final_lr(self) -> np.ndarray:
        """Learning rate of the last piece at each batch size (Fig. 15)."""
        return np.array([s.final_lr for s in self.schedules])

    def steps_table(self) -> dict[str, np.ndarray]:
        """Fig. 3b: batch size, optimised-schedule steps, best constant-rate steps, information bound."""
        return {
            "batch_size": self.batch_sizes,
            "schedule_steps": self.steps,
            "constant_steps": self.constant_steps,
            "constant_lr": self.constant_lr,
            "information_bound": self.information_bound,
        }

    def shapes(self) -> dict[str, np.ndarray]:
        """Fig. 3c: ``lrs[i, k]`` of piece k at batch size i, with the piece edges as fractions
        of each schedule's length (``edges[i]``, K + 1 values from 0 to 1)."""
        lrs = np.array([s.lrs for s in self.schedules])
        edges = np.array([s.boundaries / max(s.boundaries[-1], 1) for s in self.schedules])
        return {"batch_size": self.batch_sizes, "edges": edges, "lrs": lrs}

    def final_lr_table(self) -> dict[str, np.ndarray]:
        r"""Fig. 15: batch size, final learning rate, and the local log-log slopes
        :math:`\Delta\log\alpha_{\rm final}/\Delta\log B` between consecutive batch sizes
        (about 1 below the critical batch size)."""
        lr = self.final_lr
        slope = np.diff(np.log(lr)) / np.diff(np.log(self.batch_sizes))
        return {"batch_size": self.batch_sizes, "final_lr": lr, "local_slope": slope}

    def _tables(self) -> dict[str, tuple[str, ...]]:
        return {"steps": ("batch_size",), "pieces": ("batch_size", "piece")}

    def _columns(self, table: str) -> Columns:
        if table == "steps":
            return {**self.steps_table(), "final_lr": self.final_lr}
        parts = [s._columns("pieces") for s in self.schedules]
        sizes = [len(part["piece"]) for part in parts]
        return {"batch_size": np.repeat(self.batch_sizes, sizes),
                **{k: np.concatenate([part[k] for part in parts]) for k in parts[0]}}

    def _meta(self) -> dict[str, Any]:
        return {"target": self.target, "pieces": self.pieces}


@dataclass(frozen=True)
class _ScheduleTask:
    """One batch size of :func:`schedule_sweep`: the optimised schedule and the best constant rate."""

    problem: Problem
    opt: Optimizer
    batch_size: float
    target: float
    pieces: int
    constant_lrs: np.ndarray
    max_lr: float | str | None
    start: float | np.ndarray
    method: MapMethod
    equal_pieces: bool
    schedules: tuple[tuple[np.ndarray, int], ...]

    def cache_config(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _schedule_task(task: _ScheduleTask) -> tuple[ScheduleResult, float, float]:
    schedule = optimal_schedule(task.problem, task.opt, batch_size=task.batch_size, target=task.target,
                                pieces=task.pieces, max_lr=task.max_lr, start=task.start, method=task.method,
                                equal_pieces=task.equal_pieces, schedules=task.schedules)
    steps, lr = best_constant(task.problem, task.opt, task.batch_size, task.target, task.constant_lrs)
    return schedule, steps, lr


def _schedules_by_batch_size(
    schedules: Iterable[SchedulePair] | Mapping[float, Iterable[SchedulePair]],
    Bs: np.ndarray,
    pieces: int,
    equal_pieces: bool,
) -> list[tuple[tuple[np.ndarray, int], ...]]:
    """The ``(lrs, steps)`` pairs of each batch size, validated as :func:`optimal_schedule` does
    (``ValueError`` naming ``schedules``) before any work starts."""

    def pairs(items: Iterable[SchedulePair]) -> tuple[tuple[np.ndarray, int], ...]:
        items = list(items)
        _user_schedules(items, pieces, bool(equal_pieces))
        return tuple((np.asarray(lrs, dtype=float), int(total)) for lrs, total in items)

    if isinstance(schedules, Mapping):
        given = {}
        for B, items in schedules.items():
            try:
                known = bool(np.any(Bs == float(B)))
            except (TypeError, ValueError):
                known = False
            if not known:
                raise ValueError(f"schedules: batch size {B!r} is not among batch_sizes")
            given[float(B)] = pairs(items)
        return [given.get(float(B), ()) for B in Bs]
    shared = pairs(schedules)
    return [shared] * Bs.size


def schedule_sweep(
    problem: Problem | None = None,
    opt: OptimizerLike = "sgd",
    *,
    batch_sizes: ArrayLike = PAPER_BATCH_SIZES,
    target: float = 0.01,
    pieces: int = 50,
    constant_lrs: object = PAPER_SGD_LRS,
    max_lr: float | str | None = None,
    start: float | np.ndarray = AUTHORS_START,
    method: MapMethod = "auto",
    equal_pieces: bool = False,
    schedules: Iterable[SchedulePair] | Mapping[float, Iterable[SchedulePair]] = (),
    executor: ExecutorArg = None,
    cache: ResultCache | str | os.PathLike[str] | bool | None = None,
    progress: Callable[[Iterable[Any], int], Iterable[Any]] | None = None,
) -> ScheduleSweep:
    """Optimised ``pieces``-piece schedules and the best constant rate at every batch size.

    Defaults reproduce the paper: its binned problem (:meth:`Problem.paper`), SGD, target
    0.01, B = 2^2..2^20, 50 pieces (use ``pieces=10`` for the 10-piece figure), the
    constant grid ``logspace(-5, 0.5, 100)``.

    ``max_lr``, ``start``, ``method``, ``equal_pieces`` and ``schedules`` are passed to
    :func:`~nqm.numerics.optimal_schedule` at every batch size, with its meaning and
    certificates (``max_lr="authors"`` and ``equal_pieces=True`` for the authors' protocol).
    ``schedules`` is either ``(lrs, steps)`` pairs used at every batch size, or a mapping from
    batch size to the pairs of that batch size (for example the authors' schedules, one set per
    B); a mapping's batch sizes must be among ``batch_sizes``.

    Each batch size is one picklable task: ``executor`` says where they run, by the executor
    convention of :func:`~nqm.numerics.resolve_executor` (``None``, the default: a local thread
    pool for more than one batch size); the result does not depend on it. ``cache`` (``True``, a directory or a
    ``ResultCache``) stores each finished batch size by its full configuration, so re-runs are
    free and an interrupted sweep resumes; ``progress`` wraps the task completions.
    """
    problem = Problem.paper() if problem is None else problem
    opt = schedule_optimizer(opt)  # a class, spec or name travels to workers as an instance
    Bs = validate_batch_sizes(batch_sizes if np.ndim(batch_sizes) else [batch_sizes])
    grid = np.atleast_1d(validate_hyperparameter("constant_lrs", constant_lrs, (0.0, math.inf, False, False)))
    target, pieces = validate_positive("target", target), validate_count("pieces", pieces, 1)
    if not isinstance(equal_pieces, (bool, np.bool_)):
        raise ValueError(f"equal_pieces must be True or False; got {equal_pieces!r}")
    _resolve_cap(problem, opt, max_lr)
    where = resolve_executor(executor)
    per_batch = _schedules_by_batch_size(schedules, Bs, pieces, bool(equal_pieces))
    tasks = [
        _ScheduleTask(problem, opt, float(B), target, pieces, grid, max_lr, start, method, bool(equal_pieces), pairs)
        for B, pairs in zip(Bs, per_batch, strict=True)
    ]
    done = map_tasks(_schedule_task, tasks, executor=where, cache=resolve_cache(cache, "schedule-sweep-certified"),
                     progress=progress)
    results = [schedule for schedule, _, _ in done]
    const_steps = [steps for _, steps, _ in done]
    const_lr = [lr for _, _, lr in done]
    return ScheduleSweep(
        batch_sizes=Bs,
        target=float(target),
        pieces=int(pieces),
        steps=np.array([s.steps for s in results], dtype=float),
        constant_steps=np.array(const_steps),
        constant_lr=np.array(const_lr),
        information_bound=np.asarray(problem.information_bound(target, Bs), dtype=float),
        schedules=results,
    )
