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
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._cache import register_result_type
from ._forms import validate_batch_size, validate_count, validate_hyperparameter, validate_positive
from ._optimizers import Optimizer
from ._parallel import ResultCache, map_tasks, resolve_cache
from ._problem import Problem
from ._schedule_maps import MapMethod
from ._schedule_opt import AUTHORS_START, PAPER_SGD_LRS, ScheduleResult, best_constant, optimal_schedule

register_result_type(ScheduleResult)  # cached by schedule_sweep

__all__ = ["ScheduleSweep", "schedule_sweep", "PAPER_BATCH_SIZES"]

#: the paper's batch sizes 2^2, 2^4, ..., 2^20
PAPER_BATCH_SIZES = 2.0 ** np.arange(2, 21, 2)


@dataclass
class ScheduleSweep:
    """Optimised schedules and the constant-rate baseline at each batch size.

    ``steps``: fewest steps of the optimised schedule; ``constant_steps``/``constant_lr``:
    the best constant learning rate on the grid; ``information_bound``:
    :math:`\\tfrac12\\operatorname{tr}(H^{-1}C)/(\\varepsilon B)`; ``schedules``: one
    :class:`ScheduleResult` per batch size.
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


@dataclass(frozen=True)
class _ScheduleTask:
    """One batch size of :func:`schedule_sweep`: the optimised schedule and the best constant rate."""

    problem: Problem
    opt: Optimizer | str
    batch_size: float
    target: float
    pieces: int
    constant_lrs: np.ndarray
    max_lr: float | None
    start: float | np.ndarray
    method: MapMethod

    def cache_config(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _schedule_task(task: _ScheduleTask) -> tuple[ScheduleResult, float, float]:
    schedule = optimal_schedule(task.problem, task.opt, batch_size=task.batch_size, target=task.target,
                                pieces=task.pieces, max_lr=task.max_lr, start=task.start, method=task.method)
    steps, lr = best_constant(task.problem, task.opt, task.batch_size, task.target, task.constant_lrs)
    return schedule, steps, lr


def schedule_sweep(
    problem: Problem | None = None,
    opt: Optimizer | str = "sgd",
    *,
    batch_sizes: object = PAPER_BATCH_SIZES,
    target: float = 0.01,
    pieces: int = 50,
    constant_lrs: object = PAPER_SGD_LRS,
    max_lr: float | None = None,
    start: float | np.ndarray = AUTHORS_START,
    method: MapMethod = "auto",
    executor: Executor | str | None = None,
    cache: ResultCache | str | os.PathLike[str] | bool | None = None,
    progress: Callable[[Iterable[Any], int], Iterable[Any]] | None = None,
) -> ScheduleSweep:
    """Optimised ``pieces``-piece schedules and the best constant rate at every batch size.

    Defaults reproduce the paper: its binned problem (:meth:`Problem.paper`), SGD, target
    0.01, B = 2^2..2^20, 50 pieces (use ``pieces=10`` for the 10-piece figure), the
    constant grid ``logspace(-5, 0.5, 100)``.

    Each batch size is one picklable task: ``executor`` is any ``concurrent.futures.Executor``
    (dask, Ray, ...), ``"serial"``, or ``None`` (default: a local process pool for more than
    one batch size); the result does not depend on it. ``cache`` (``True``, a directory or a
    ``ResultCache``) stores each finished batch size by its full configuration, so re-runs are
    free and an interrupted sweep resumes; ``progress`` wraps the task completions.
    """
    problem = Problem.paper() if problem is None else problem
    Bs = np.atleast_1d(validate_batch_size(batch_sizes, "batch_sizes"))
    grid = np.atleast_1d(validate_hyperparameter("constant_lrs", constant_lrs, (0.0, math.inf, False, False)))
    target, pieces = validate_positive("target", target), validate_count("pieces", pieces, 1)
    tasks = [_ScheduleTask(problem, opt, float(B), target, pieces, grid, max_lr, start, method) for B in Bs]
    done = map_tasks(_schedule_task, tasks, executor=executor, cache=resolve_cache(cache, "schedule-sweep-certified"),
                     progress=progress)
    schedules = [schedule for schedule, _, _ in done]
    const_steps = [steps for _, steps, _ in done]
    const_lr = [lr for _, _, lr in done]
    return ScheduleSweep(
        batch_sizes=Bs,
        target=float(target),
        pieces=int(pieces),
        steps=np.array([s.steps for s in schedules], dtype=float),
        constant_steps=np.array(const_steps),
        constant_lr=np.array(const_lr),
        information_bound=np.asarray(problem.information_bound(target, Bs), dtype=float),
        schedules=schedules,
    )
