r"""Decay the learning rate, or grow the batch size? Smith et al. (2018), "Don't Decay the Learning Rate,
Increase the Batch Size", in the exact NQM.

Smith et al. argue that multiplying the batch size by :math:`k` where a step schedule would divide the
learning rate by :math:`k` keeps the SGD noise scale :math:`\alpha/B` (the temperature) and so reaches
the same loss after the same number of examples (epochs) in :math:`k`-fold fewer steps after each
change. :func:`decay_versus_growth` compares three runs that start alike at batch size :math:`B_0`:

* **constant**: the optimizer tuned at :math:`B_0` (:func:`~nqm.numerics.tune`): :math:`S_0` steps;
* **lr decay**: the learning rate divided by :math:`k` after each milestone, at the steps
  :math:`m_jS_0` (``milestones`` :math:`m_j`), batch size :math:`B_0` throughout;
* **batch growth**: the batch size multiplied by :math:`k` after the same milestones *in examples*
  (:math:`N_j = m_jS_0B_0`, as Smith et al. change B at the epochs where the learning rate would
  have decayed), the learning rate constant.

In the two scheduled runs the (initial) learning rate is re-tuned over
:data:`~nqm.numerics._frontier.RAMP_LR_FACTORS` times the constant optimum, the other
hyperparameters stay at it. Both schedules are fixed in steps (they do not depend on a horizon), so
each cost is an exact first hit: the lr-decay risk by the piecewise maps
(:func:`~nqm.numerics.piecewise_risk`), the batch-growth risk by the segment maps (:mod:`._batch_ramps`),
every step from the first change on evaluated in increasing order up to :data:`HORIZON_FACTOR`
:math:`S_0` (``inf`` beyond: not reached within that horizon); before the first change each run is
the constant run, whose first hits are exact closed-form searches.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._batch_ramps import constant_first_hits, first_hit_scan, first_hit_under_batch_schedule
from ._forms import real_array, validate_hyperparameter
from ._frontier import RAMP_LR_FACTORS
from ._optimizers import OptimizerLike, as_optimizer_spec
from ._problem import Problem
from ._schedule import piecewise_risk
from ._schedule_steps import examples_until
from ._tables import Columns, Tabular
from ._tune import OPTIMIZERS_OWN, tune

__all__ = ["DecayVersusGrowth", "HORIZON_FACTOR", "decay_versus_growth"]

#: the scheduled runs are searched up to this many times the constant run's steps
HORIZON_FACTOR = 8


@dataclass(frozen=True)
class DecayVersusGrowth(Tabular):
    """The three runs of :func:`decay_versus_growth`: ``steps`` and ``examples`` to the target and the
    (initial) ``lr`` of each, keyed by ``"constant"``, ``"lr decay"`` and ``"batch growth"``; the
    milestones in steps of each schedule (``decay_steps``, ``growth_steps``).

    Tables: ``"runs"`` (one row per run: ``run``, ``steps``, ``examples``, ``lr``, ``milestone_steps``).
    """

    optimizer: str
    batch_size: float
    factor: float
    milestones: tuple[float, ...]
    target: float
    problem: str
    steps: dict[str, float]
    examples: dict[str, float]
    lr: dict[str, float]
    decay_steps: tuple[int, ...]
    growth_steps: tuple[int, ...]

    def _tables(self) -> dict[str, tuple[str, ...]]:
        return {"runs": ("run",)}

    def _columns(self, table: str) -> Columns:
        runs = list(self.steps)
        marks = {"constant": "", "lr decay": " ".join(map(str, self.decay_steps)),
                 "batch growth": " ".join(map(str, self.growth_steps))}
        return {"run": runs, "steps": [self.steps[r] for r in runs], "examples": [self.examples[r] for r in runs],
                "lr": [self.lr[r] for r in runs], "milestone_steps": [marks[r] for r in runs]}

    def _meta(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer, "batch_size": self.batch_size, "factor": self.factor,
                "milestones": list(self.milestones), "target": self.target, "problem": self.problem}


def _milestones(milestones: Sequence[float]) -> tuple[float, ...]:
    arr = real_array("milestones", milestones, "fractions in (0, inf), strictly increasing")
    if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr) & (arr > 0)) or np.any(np.diff(arr) <= 0):
        raise ValueError(f"milestones must be fractions of the constant run's steps in (0, inf), strictly increasing; "
                         f"got {milestones!r}")
    return tuple(float(m) for m in arr)


def decay_versus_growth(
    problem: Problem,
    optimizer: OptimizerLike = "sgd",
    *,
    batch_size: float,
    target: float = 0.01,
    factor: float = 5.0,
    milestones: Sequence[float] = (0.5, 0.75),
    precond_power: float = OPTIMIZERS_OWN,
    **tuning: Any,
) -> DecayVersusGrowth:
    r"""Steps and examples to ``target`` of a constant run, an lr step decay and a batch-size growth (module
    docstring). ``factor`` :math:`k > 1` (Smith et al. use 5); ``milestones``: fractions of the constant
    run's steps :math:`S_0`; ``optimizer``, ``precond_power`` and ``tuning`` (``grid=`` and fixed values)
    as for :func:`~nqm.numerics.tune` at ``batch_size``."""
    k = float(validate_hyperparameter("factor", factor, (1.0, math.inf, False, False)))
    marks = _milestones(milestones)
    base = tune(problem, optimizer, batch_size=batch_size, target=target, precond_power=precond_power, **tuning)
    name = as_optimizer_spec(optimizer).name
    B0, eps = base.batch_size, base.target
    steps, examples, lr = {"constant": float(base.steps)}, {"constant": float(base.steps) * B0}, \
        {"constant": base.hyperparameters.get("lr", math.nan)}
    decay_at: tuple[int, ...] = ()
    growth_at: tuple[int, ...] = ()
    if base.optimizer is not None and base.steps > 0:
        S0 = float(base.steps)
        horizon = HORIZON_FACTOR * S0
        lrs = base.hyperparameters["lr"] * RAMP_LR_FACTORS
        # lr decay: steps m_j S0, lr / k^j after the j-th
        decay_at = tuple(sorted({max(1, round(m * S0)) for m in marks}))
        edges = np.array([0, *decay_at, int(horizon) + 1])
        rates = lrs[:, None] / k ** np.arange(edges.size - 1)
        fixed = base.optimizer.replace(lr=1.0)

        def decay_risk(t: np.ndarray) -> np.ndarray:
            return piecewise_risk(problem, fixed, batch_size=B0, lrs=rates, lengths=np.diff(edges), steps=t)

        before = constant_first_hits(problem, base.optimizer.replace(lr=lrs), B0, eps)
        j: int | None
        if float(np.min(before)) < decay_at[0]:  # reached before the first decay: the constant run
            j = int(np.argmin(before))
            S = float(before[j])
        else:
            S, j = first_hit_scan(decay_risk, decay_at[0], horizon, lrs.size * problem.size, eps)
        steps["lr decay"], examples["lr decay"] = S, S * B0
        lr["lr decay"] = math.nan if j is None else float(lrs[j])
        # batch growth: examples m_j S0 B0, B0 k^j after the j-th
        levels = B0 * k ** np.arange(len(marks) + 1)
        quota = np.diff(np.concatenate([[0.0], np.array(marks) * S0 * B0]))
        starts = np.concatenate([[0], np.cumsum(np.maximum(np.round(quota / levels[:-1]), 1))]).astype(np.int64)
        growth_at = tuple(int(s) for s in starts[1:])
        grid = base.optimizer.replace(lr=lrs)
        S, j = first_hit_under_batch_schedule(problem, grid, levels, starts, eps)
        steps["batch growth"], examples["batch growth"] = S, examples_until(levels, starts, S)
        lr["batch growth"] = math.nan if j is None else float(lrs[j])
    return DecayVersusGrowth(name, B0, k, marks, eps, problem.name, steps, examples, lr, decay_at, growth_at)
