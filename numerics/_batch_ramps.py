r"""Exact risk and first hits when only the batch size changes with the step, for a hyperparameter grid.

With every hyperparameter constant, the batch size enters the per-direction recursion
:math:`S_{t+1} = AS_tA^\top + \frac{c}{B_t}bb^\top` only through the noise injected at each step,
so the risk is linear in the per-step noise variances :math:`c/B_t` (superposition). Let
:math:`n(\tau) = \sum_{i<\tau} g_i` be the noise part of the risk after :math:`\tau` steps at
:math:`B = 1` (:math:`g_i \ge 0` the contribution of the noise injected :math:`i+1` steps earlier;
:math:`n(\tau) = 0` for :math:`\tau \le 0`) and :math:`d(t)` the start part. A batch size
:math:`B_k` on steps :math:`[s_k, s_{k+1})` (:math:`s_0 = 0`, the last piece unbounded) contributes
:math:`\frac1{B_k}[n(t-s_k) - n(t-s_{k+1})]` to the risk at step :math:`t`, and summing by parts

.. math::

    \mathbb E\mathcal L(t) = d(t) + \frac{n(t)}{B_0} + \sum_{k\ge1}\Bigl(\frac1{B_k} - \frac1{B_{k-1}}\Bigr)n(t - s_k).

Each term is the engine's exact constant-hyperparameter closed form (:func:`~nqm.numerics.build_model`'s
parts), so the whole lr grid and a chunk of steps are evaluated at once; for a ramp up
(:math:`B_k` non-decreasing) the terms after the first are negative and the rounding error is at
most about :math:`\epsilon\,B_{\max}/B_0` of the noise part (measured against the engine's segment maps,
:func:`~nqm.numerics.scheduled_risk`: within 1e-10 on drawn ramps, ``tests/numerics/test_frontier.py``). A
divergent grid point gives ``inf``, also at steps where its risk is still finite but within a factor
:math:`B_{\max}/B_0` of the float64 overflow (the terms overflow first); never NaN. On an lr grid it costs
about 0.6x a loop of :func:`~nqm.numerics.scheduled_risk` calls (21 rates, 8001 steps, paper spectrum
d = 1000 in 20 bins, 5 batch sizes: 6.0 s against 9.5 s for SGD, 6.9 s against 12.5 s for momentum).

**First hits.** Before the batch size first changes the run is the constant run at :math:`B_0`,
whose exact first hits come from :func:`~nqm.numerics.steps_to_target`'s search. After it, the
risk is non-increasing in every :math:`B_t` (each :math:`n` increment is non-negative), so for fixed
hyperparameters the first hit lies between the first hits at the constant batch sizes
:math:`\max_k B_k` and :math:`\min_k B_k`: every step in between is evaluated, in increasing order,
and the first that reaches the target (the tie rule of :func:`~nqm.numerics.reaches`) is exact,
also for non-monotone curves.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ._model import build_model
from ._optimizers import Optimizer
from ._problem import Problem
from ._steps import first_hits
from ._tie import reaches

__all__ = ["batch_schedule_risk", "constant_first_hits", "first_hit_scan", "first_hit_under_batch_schedule",
           "examples_until"]

#: steps x grid points x bins evaluated at once by the first-hit scan
_CHUNK_ELEMENTS = 1 << 20
#: when the target is never reached at the smallest batch size, the scan stops at the ramp's end plus
#: this many times the first hit at the largest one (then ``inf``: not reached within that horizon)
RAMP_TAIL = 8


def batch_schedule_risk(problem: Problem, opt: Optimizer, levels: np.ndarray, starts: np.ndarray,
                        steps: np.ndarray) -> np.ndarray:
    r"""Exact :math:`\mathbb E\mathcal L(t)` at ``steps`` (1-D integers) when the batch size is ``levels[k]`` from
    step ``starts[k]`` on (``starts[0] == 0``, increasing); shape ``opt.shape + steps.shape`` (module docstring)."""
    model = build_model(problem, opt, 1.0, trailing=1, merge_bins=True)
    t = np.asarray(steps, dtype=float)
    with np.errstate(all="ignore"):
        det, noise = model.parts(t)
        total = np.sum(det, axis=-2) + np.sum(noise, axis=-2) / levels[0]
        for k in range(1, len(levels)):
            _, shifted = model.parts(np.maximum(t - starts[k], 0.0))
            total = total + (1.0 / levels[k] - 1.0 / levels[k - 1]) * np.sum(shifted, axis=-2)
        # overflow in a divergent grid point (inf - inf) is inf; a rounding below the start part is a floor
        return np.where(np.isnan(total) | np.isinf(total), np.inf, np.maximum(total, np.sum(det, axis=-2)))


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
    lo = max(float(np.min(constant_first_hits(problem, opt, float(np.max(levels)), target))), float(starts[1]))
    if not math.isfinite(lo):
        return math.inf, None
    hi = float(np.min(constant_first_hits(problem, opt, float(np.min(levels)), target)))
    if not math.isfinite(hi):
        hi = float(starts[-1]) + RAMP_TAIL * max(lo, 1.0)
    flat = int(np.prod(opt.shape))
    return first_hit_scan(lambda t: batch_schedule_risk(problem, opt, levels, starts, t).reshape(flat, t.size),
                          lo, hi, flat * problem.size, target)


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


def examples_until(levels: np.ndarray, starts: np.ndarray, steps: float) -> float:
    r"""Examples :math:`\sum_{t<S}B_t` used by the first ``steps`` = S updates (``inf`` for ``inf``)."""
    if not math.isfinite(steps):
        return math.inf
    ends = np.append(starts[1:], np.inf)
    used = np.clip(np.minimum(ends, steps) - starts, 0, None)
    return float(np.sum(used * levels))
