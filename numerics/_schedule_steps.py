r"""Steps and examples to a target risk under schedules of any hyperparameter and of the batch size.

The answer is the first step :math:`t \le T` (the horizon) whose exact risk reaches the target
under the toolkit's one tie rule (:func:`~nqm.numerics.reaches`: :math:`\mathcal L(t) \le
\varepsilon(1 + \tau)`), found by evaluating *every* step (so it is exact for curves that are not
monotone), and the examples consumed before it, :math:`E(t) = \sum_{s<t} B_s` (the update from
step s to s + 1 uses a batch of :math:`B_s`). Never reached within the horizon: ``math.inf`` for both.

Work: the curve is evaluated on prefixes :math:`[0, 2^{10}), [0, 2^{11}), \dots` of the horizon
until one holds the first hit, so a target reached early costs little, and no more than twice the
work of evaluating the curve up to the answer otherwise (each prefix is a fresh exact evaluation).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ._forms import MAX_HORIZON, validate_positive, validate_steps
from ._optimizers import OptimizerLike
from ._problem import Problem
from ._schedule import MapMethod, _sum_bins, scheduled_reduce
from ._schedule_run import resolve_run
from ._tie import reaches

__all__ = ["ScheduledSteps", "examples_until", "scheduled_steps_to_target"]

#: the first prefix of the horizon evaluated
_FIRST_PREFIX = 1 << 10


@dataclass(frozen=True)
class ScheduledSteps:
    """The first step that reaches the target (``steps``) and the examples used before it
    (``examples`` :math:`=\\sum_{s<t}B_s`); both ``math.inf`` when the target is not reached within
    the horizon."""

    steps: float
    examples: float


def examples_until(levels: np.ndarray, starts: np.ndarray, steps: float) -> float:
    r"""Examples :math:`\sum_{t<S}B_t` used by the first ``steps`` = S updates when the batch size is
    ``levels[k]`` from step ``starts[k]`` on (``inf`` for ``inf``)."""
    if not math.isfinite(steps):
        return math.inf
    ends = np.append(starts[1:], np.inf)
    used = np.clip(np.minimum(ends, steps) - starts, 0, None)
    return float(np.sum(used * levels))


def scheduled_steps_to_target(
    problem: Problem,
    optimizer: OptimizerLike,
    *,
    target: object,
    horizon: object,
    schedule: Mapping[str, object] | None = None,
    batch_size: object = None,
    method: MapMethod = "auto",
) -> ScheduledSteps:
    """The first step t <= ``horizon`` whose exact risk reaches ``target`` and the examples before it.

    ``optimizer``, ``schedule`` and ``batch_size`` as for :func:`~nqm.numerics.scheduled_risk`; the
    schedules span ``horizon`` steps (at most ``MAX_HORIZON`` = :math:`10^7` here, since every step
    is evaluated). See the module docstring for the tie rule and the work.
    """
    eps = validate_positive("target", target)
    H = int(validate_steps(horizon, "horizon"))
    if not 1 <= H <= MAX_HORIZON:
        raise ValueError(f"horizon must be an integer in [1, {MAX_HORIZON:,}] (every step is evaluated); got {H:,}")
    run = resolve_run(problem, optimizer, schedule, batch_size, H)
    done = 0
    prefix = _FIRST_PREFIX
    while done <= H:
        end = min(prefix, H)
        risk = scheduled_reduce(run, np.arange(done, end + 1, dtype=float), _sum_bins, method)
        hit = np.flatnonzero(reaches(risk, eps))
        if hit.size:
            t = done + int(hit[0])
            return ScheduledSteps(float(t), examples_until(run.batch_sizes(), run.segments.starts, t))
        done, prefix = end + 1, 2 * prefix
    return ScheduledSteps(math.inf, math.inf)
