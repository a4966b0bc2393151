r"""Exact first hits when only the batch size changes with the step, for a hyperparameter grid.

The risk under a batch-size schedule (every other hyperparameter constant) is the engine's:
:func:`~nqm.numerics.scheduled_risk` with ``schedule={"batch_size": piecewise(levels, starts[1:])}``,
the batch size :math:`B_k` on steps :math:`[s_k, s_{k+1})` (:math:`s_0 = 0`, the last piece unbounded),
evaluated exactly through the segment maps, one grid point at a time (divergence gives ``inf``, never NaN).

**First hits.** Before the batch size first changes the run is the constant run at :math:`B_0`,
whose exact first hits come from :func:`~nqm.numerics.steps_to_target`'s search. After it, the
risk is non-increasing in every :math:`B_t` (in the recursion
:math:`S_{t+1} = AS_tA^\top + \frac{c}{B_t}bb^\top` the batch size only scales the non-negative
noise injected at step :math:`t`), so for fixed hyperparameters the first hit lies between the first
hits at the constant batch sizes :math:`\max_k B_k` and :math:`\min_k B_k`. Every step from the
smallest lower bound of the grid to the smallest upper bound is evaluated, in increasing order, in
chunks (:func:`first_hit_scan`; the segment maps start each chunk at its first step in
:math:`O(\text{pieces})`, without re-running the earlier steps, so memory stays bounded); a grid point
is evaluated only from the chunk that contains its own lower bound on. The first step that reaches the
target (the tie rule of :func:`~nqm.numerics.reaches`) is exact, also for non-monotone curves, and of
the grid points reaching it there the lowest flat index wins. The scan refuses to pass
:data:`~nqm.numerics.validation.MAX_HORIZON` (``ValueError`` naming ``target``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ._forms import MAX_HORIZON
from ._model import build_model
from ._optimizers import Optimizer
from ._problem import Problem
from ._schedule import scheduled_risk
from ._steps import first_hits
from ._tie import reaches
from .schedules import BATCH_SIZE, piecewise

__all__ = ["constant_first_hits", "first_hit_scan", "first_hit_under_batch_schedule"]

#: steps x grid points x bins evaluated at once by the first-hit scan
_CHUNK_ELEMENTS = 1 << 20
#: when the target is never reached at the smallest batch size, the scan stops at the ramp's end plus
#: this many times the first hit at the largest one (then ``inf``: not reached within that horizon)
RAMP_TAIL = 8


def constant_first_hits(problem: Problem, opt: Optimizer, batch_size: float, target: float) -> np.ndarray:
    """Exact first hits at a constant batch size of every grid point of ``opt``, flattened."""
    return first_hits(build_model(problem, opt, batch_size, merge_bins=True).flatten(), target).ravel()


def first_hit_under_batch_schedule(problem: Problem, opt: Optimizer, levels: np.ndarray, starts: np.ndarray,
                                   target: float) -> tuple[float, int | None]:
    """Fewest steps to ``target`` over the grid points of ``opt`` under the batch schedule, and the first flat
    grid index attaining it (``(inf, None)`` if none reaches it within the horizon searched, module docstring)."""
    first = constant_first_hits(problem, opt, float(levels[0]), target)
    if len(levels) == 1 or float(np.min(first)) < starts[1]:  # reached before the batch size first changes
        j = int(np.argmin(first))
        return (float(first[j]), j) if math.isfinite(first[j]) else (math.inf, None)
    # per grid point, the first hit lies between its first hits at max(levels) (and starts[1]) and min(levels)
    earliest = np.maximum(constant_first_hits(problem, opt, float(np.max(levels)), target), float(starts[1]))
    lo = float(np.min(earliest))
    if not math.isfinite(lo):
        return math.inf, None
    hi = float(np.min(constant_first_hits(problem, opt, float(np.min(levels)), target)))
    if not math.isfinite(hi):
        hi = float(starts[-1]) + RAMP_TAIL * max(lo, 1.0)
    schedule = {BATCH_SIZE: piecewise([float(b) for b in levels], [int(s) for s in starts[1:]])}
    points = [opt.at(index) for index in np.ndindex(opt.shape)]

    def risk_at(t: np.ndarray) -> np.ndarray:
        if t[-1] > MAX_HORIZON:
            raise ValueError(f"target: not reached under this batch schedule within the horizon limit "
                             f"{MAX_HORIZON:,} steps; use a larger target, batch size or learning rate")
        risk = np.full((len(points), t.size), np.inf)
        for j in np.flatnonzero(earliest <= t[-1]):  # the others cannot reach the target by t[-1]
            risk[j] = scheduled_risk(problem, points[j], steps=t, schedule=schedule)
        return risk

    return first_hit_scan(risk_at, lo, hi, len(points) * problem.size, target)


def first_hit_scan(risk_at: Callable[[np.ndarray], np.ndarray], lo: float, hi: float, elements: int,
                   target: float) -> tuple[float, int | None]:
    """The first step in ``[lo, hi]`` where some row of ``risk_at(t)`` (shape ``(rows, t.size)``) reaches
    ``target``, and the first such row; ``(inf, None)`` if none does. Steps are evaluated in increasing
    order, in chunks that double from 32 up to about :data:`_CHUNK_ELEMENTS` / ``elements`` (the rows
    times their bins), since the hit is often close to ``lo``."""
    largest = max(1, _CHUNK_ELEMENTS // max(elements, 1))
    start, chunk = int(lo), 16
    while start <= hi:
        chunk = min(2 * chunk, largest)
        t = np.arange(start, min(start + chunk, int(hi) + 1))
        hit = reaches(risk_at(t), target)
        if hit.any():
            first = np.where(hit.any(axis=1), np.argmax(hit, axis=1), t.size)
            j = int(np.argmin(first))
            return float(t[first[j]]), j
        start += t.size
    return math.inf, None
