r"""The report's time-varying training section: how far schedules are from the optimum at a few batch sizes.

For each :class:`ScheduleComparison` (an optimizer and a batch size :math:`B`) the budget is the
fewest steps :math:`T` in which the best *constant* setting on the paper's grid reaches the
target (:func:`nqm.numerics.tune`); at that budget, the examples are :math:`E = BT` and the
table gives the exact final risk :math:`\mathbb E\mathcal L(T)` of

* the tuned constant setting (at most the target, by the choice of :math:`T`;
  :func:`nqm.numerics.expected_risk`);
* each preset of ``presets`` (:mod:`nqm.numerics.schedules`) in its default shape over the
  horizon :math:`T`, its peak the tuned constant learning rate (the preset's name scaled by the
  optimizer's ``lr``, :func:`nqm.numerics.scheduled_risk`): *not* re-tuned, so this says what
  switching the schedule alone does (``nqm schedule tune`` tunes a preset's peak and shape);
* the optimal piecewise-constant learning-rate schedule of ``pieces`` equal pieces, the other
  hyperparameters at their tuned constant values (:func:`nqm.numerics.optimize_schedule`,
  certified never above the best constant learning rate at :math:`T`).

The ratio of the optimum to the constant says how much lower a schedule gets on the same budget
of steps and examples. Every number is the library's own, recomputed by the test of this section.

The section also gathers what the rest of the report computes about time-varying training: the
outcomes and numbers of the catalogue's claims on steps against examples
(:data:`TIME_VARYING_CLAIMS`, run by the proofs section) and the figures drawn by the figures
section (:data:`TIME_VARYING_FIGURES`), so nothing is computed twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from nqm.numerics import Problem, expected_risk, optimize_schedule, scheduled_risk, tune

from ._tasks import timed

__all__ = ["DEFAULT_SCHEDULE_COMPARISONS", "TIME_VARYING_CLAIMS", "TIME_VARYING_FIGURES", "ScheduleComparison",
           "schedule_row", "schedules_task"]

#: the catalogue's claims about time-varying training (steps against examples, batch ramps, Smith et al.,
#: presets against the optimum); a test keeps the list equal to the catalogue's
TIME_VARYING_CLAIMS = ("mccandlish_relation_in_the_nqm", "batch_ramp_saves_examples_not_steps",
                       "increase_batch_instead_of_decay", "wsd_cosine_and_the_optimum")
#: the figures about time-varying training (a test keeps the list equal to the registered ones)
TIME_VARYING_FIGURES = ("steps_vs_examples", "batch_ramps", "presets_vs_optimum", "preset_curves")


@dataclass(frozen=True)
class ScheduleComparison:
    """One row of the section: optimizer ``name`` at batch size ``batch_size``, tuned on the paper's
    grid (``fixed`` hyperparameters held), against the ``presets`` at that learning rate and its
    optimal ``pieces``-piece learning-rate schedule."""

    name: str
    batch_size: float
    pieces: int = 10
    presets: tuple[str, ...] = ("wsd", "cosine", "step")
    fixed: Mapping[str, float] = field(default_factory=dict)


#: the default rows: SGD at a small and a large batch, momentum between them (about 5 s on the
#: paper's problem; smaller batches need longer budgets: SGD at B = 64 alone takes 6 s, most of it
#: the per-step cosine over its 95,762 steps)
DEFAULT_SCHEDULE_COMPARISONS = (
    ScheduleComparison("sgd", 256.0),
    ScheduleComparison("sgd", 4096.0),
    ScheduleComparison("momentum", 1024.0),
)


def schedule_row(problem: Problem, setting: ScheduleComparison, target: float) -> dict[str, Any]:
    """The section's row for ``setting`` (module docstring); the budget is ``inf`` and the risks
    absent when no constant setting of the grid reaches ``target``."""
    B = setting.batch_size
    tuned = tune(problem, setting.name, batch_size=B, target=target, **setting.fixed)
    row: dict[str, Any] = {"optimizer": setting.name, "batch_size": B, "steps": float(tuned.steps),
                           "examples": B * float(tuned.steps), **{f"constant_{k}": v for k, v in tuned.hyperparameters.items()}}
    if tuned.optimizer is None:
        return row
    T = int(tuned.steps)
    constant = float(expected_risk(problem, tuned.optimizer, batch_size=B, steps=[T])[0])
    presets = {f"risk_{name}": float(scheduled_risk(problem, tuned.optimizer, steps=[T], schedule={"lr": name},
                                                    batch_size=B)[0]) for name in setting.presets}
    best = optimize_schedule(problem, tuned.optimizer, batch_size=B, steps=T, pieces=setting.pieces)
    row.update(risk_constant=constant, **presets, pieces=setting.pieces, risk_optimal=best.final_risk,
               optimal_over_constant=best.final_risk / constant)
    return row


def schedules_task(task: tuple[Problem, Sequence[ScheduleComparison], float]) -> tuple[list[dict[str, Any]], float]:
    """``(rows, seconds)``: :func:`schedule_row` for each comparison of ``(problem, comparisons, target)``."""
    problem, comparisons, target = task
    return timed(lambda: [schedule_row(problem, s, target) for s in comparisons])
