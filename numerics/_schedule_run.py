r"""One scheduled run: an optimizer, the schedules of its hyperparameters and of the batch size, a horizon.

:func:`resolve_run` turns the arguments of :func:`~nqm.numerics.scheduled_risk` (and of
:func:`~nqm.numerics.risk_variance` and :func:`~nqm.numerics.scheduled_steps_to_target` with
``schedule=``) into a :class:`ScheduledRun`: the :class:`~nqm.numerics._schedule_maps.ScheduleFamily`
whose varying quantities are the scheduled ones, and the constant
:class:`~nqm.numerics.schedules.Segments` of the schedules over the horizon. Every check happens
here, before any risk is computed:

* the optimizer is resolved by :func:`~nqm.numerics.as_optimizer_spec`; an instance's values are
  the constants of the quantities not scheduled and the *bases* of the scheduled ones (a preset's
  name is that preset scaled by its quantity's base); a class, spec or name takes the spec's
  defaults (:func:`~nqm.numerics.spec_defaults`); a hyperparameter with neither a value nor a
  schedule is a ``ValueError`` naming it;
* keys of ``schedule`` are hyperparameters of the spec or ``"batch_size"``; ``precond_power`` cannot
  vary (it fixes the coordinates of the equivalent problem, eqs. 8–9); a constant ``batch_size=``
  and ``schedule["batch_size"]`` exclude each other, unless the schedule is a preset's name
  (``"batch_doubling"``), whose base ``batch_size=`` then is; one of them is needed;
* sizes: a schedule that is not piecewise constant spans at most
  :data:`~nqm.numerics.schedules.MAX_SCHEDULE_STEPS` steps (checked by
  :func:`~nqm.numerics.schedules.segments` before any value is computed);
* every scheduled value lies in its hyperparameter's range (:func:`nqm.theory.hyperparameter_ranges`,
  carried by the forms) and every batch size is at least 1: ``ValueError`` naming
  ``schedule['beta']`` and the range.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ._forms import _shown, validate_batch_size, validate_hyperparameter
from ._optimizers import Optimizer, OptimizerLike, as_optimizer_spec, spec_defaults
from ._problem import Problem
from ._schedule_family import check_varying
from ._schedule_maps import ScheduleFamily
from .schedules import BATCH_SIZE, Segments, segments

__all__ = ["ScheduledRun", "resolve_run"]


@dataclass(frozen=True)
class ScheduledRun:
    """A resolved scheduled run: the ``family`` (its varying quantities are the scheduled ones) and the
    ``segments`` of their schedules over ``segments.steps`` steps."""

    family: ScheduleFamily
    segments: Segments

    @property
    def values(self) -> dict[str, np.ndarray]:
        """Per segment, the value of every varying quantity of the family (``(K,)`` arrays)."""
        return dict(self.segments.values)

    def batch_sizes(self) -> np.ndarray:
        """The batch size of each segment (``(K,)``)."""
        B = self.family.batch_size
        return self.segments.values[BATCH_SIZE] if B is None else np.full(self.segments.lengths.size, B)


def _schedule_keys(schedule: object, params: tuple[str, ...], spec_name: str) -> Mapping[str, object]:
    if schedule is None:
        return {}
    if not isinstance(schedule, Mapping):
        raise ValueError(
            f"schedule must be a mapping of {', '.join(params)} or {BATCH_SIZE!r} to schedules; got {_shown(schedule)}"
        )
    check_varying(schedule, params, spec_name)
    return schedule


def resolve_run(
    problem: Problem, optimizer: OptimizerLike, schedule: object, batch_size: object, horizon: int
) -> ScheduledRun:
    """Check and resolve the arguments of a scheduled run over ``horizon`` >= 1 steps (module docstring)."""
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be an nqm.numerics.Problem; got {type(problem).__name__}")
    ref = as_optimizer_spec(optimizer)
    forms = ref.forms
    sched = _schedule_keys(schedule, forms.params, forms.name)
    batch_varies = BATCH_SIZE in sched
    if batch_varies and batch_size is not None and not isinstance(sched[BATCH_SIZE], str):
        raise ValueError("batch_size: give a constant batch_size= or a schedule['batch_size'], not both (with a "
                         "preset's name, schedule['batch_size'] = 'batch_doubling', batch_size= is its base)")
    if BATCH_SIZE not in sched and batch_size is None:
        raise ValueError("batch_size: give a constant batch_size= (a number >= 1) or a schedule['batch_size']")
    B = None
    if batch_size is not None:
        arr = validate_batch_size(batch_size)
        if arr.ndim:
            raise ValueError(f"batch_size must be a single number >= 1 (a schedule: schedule['batch_size']); "
                             f"got shape {arr.shape}")
        B = float(arr)
    for name, value in ref.values.items():
        if np.ndim(value):
            raise ValueError(f"optimizer: {name} must be a single number for a scheduled run (schedules vary it "
                             f"over the steps); got shape {np.shape(value)}")
    held = {name: float(value) for name, value in ref.values.items()}
    precond_power = held.pop("precond_power", 0.0)
    if any(p not in held for p in forms.params):
        held = {**spec_defaults(forms), **held}
    bases = {p: held[p] for p in forms.params if p in held}
    missing = [p for p in forms.params if p not in sched and p not in bases]
    if missing:
        raise ValueError(
            f"{missing[0]}: {forms.name} needs a value of {missing[0]}; give the optimizer one "
            f"({forms.name}(..., {missing[0]}=...)) or a schedule[{missing[0]!r}]"
        )
    segs = segments(sched, horizon, bases=bases if B is None else {**bases, BATCH_SIZE: B})
    for name, vals in segs.values.items():
        if name == BATCH_SIZE:
            validate_batch_size(vals, f"schedule[{name!r}]")
        else:
            validate_hyperparameter(f"schedule[{name!r}]", vals, forms.ranges[name])
    varying = tuple(p for p in forms.params if p in sched)
    start = {p: float(segs.values[p][0]) if p in sched else bases[p] for p in forms.params}
    opt = Optimizer(forms, precond_power=precond_power, **start)
    if batch_varies:
        varying, B = varying + (BATCH_SIZE,), None
    family = ScheduleFamily(problem, opt, varying, B)
    return ScheduledRun(family, segs)
