r"""Hypothesis strategy for settings under schedules: hyperparameters and the batch size that vary with the step.

A :class:`ScheduledSetup` holds a schedule twice: in the forms the engine receives
(:func:`nqm.numerics.schedules.piecewise`, per-step arrays and lists, vectorised callables of
the step) and as plain per-step values :math:`u_0, \dots, u_{T-1}` built here with
``numpy.repeat``, which the independent recursion
(:func:`~nqm.proofs.moment_recursion_risk`) receives. Nothing of
:func:`nqm.numerics.schedules.segments` is used to build the reference values.

Every step's hyperparameters are a stable setting: ``K`` settings are drawn by
:func:`~nqm.proofs.hyperparameters` (inside the derived stability region; the quantities not
scheduled keep the first setting's values, and a setting that is then unstable is replaced by
the first), and each step uses one of them. All scheduled hyperparameters share that
structure (piecewise: ``K`` pieces between drawn boundaries; per step: a drawn setting per
step, with the learning rate further scaled by a factor in [1/2, 1], which stays inside the
stable interval :math:`(0, \alpha_{\max})`). The batch size, which does not affect stability,
gets its own pieces or per-step values, so the engine has to join different boundaries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import strategies as st

import nqm.numerics as nn
from nqm.numerics.schedules import BATCH_SIZE, piecewise
from nqm.theory import OptimizerSpec

from ._strategies import (
    Setup,
    batch_sizes,
    derived_stable,
    hyperparameters,
    precond_powers,
    problems,
    resolve_spec,
    spectral_radius,
    step_lists,
)

__all__ = ["ScheduledSetup", "scheduled_setups"]


@dataclass(frozen=True, eq=False)
class ScheduledSetup:
    """A drawn setting under schedules.

    ``setup``: the problem, the optimizer (holding the values of the hyperparameters not
    scheduled), the constant batch size (ignored when ``"batch_size"`` is scheduled) and the
    evaluation steps; ``horizon``: T; ``schedule``: name -> the form the engine receives;
    ``per_step``: name -> the values of updates 0..T-1 (shape ``(T,)``); ``forms``: name -> how
    the schedule is given (for reports); ``every_step``: whether the engine is asked for every
    step (``steps=T``) rather than the evaluation steps with ``horizon=T``.
    """

    setup: Setup
    horizon: int
    schedule: dict[str, Any]
    per_step: dict[str, np.ndarray]
    forms: dict[str, str] = field(default_factory=dict)
    every_step: bool = True

    @property
    def batch_size(self) -> float | np.ndarray:
        """The batch size per step, or the constant one."""
        return self.per_step.get(BATCH_SIZE, self.setup.batch_size)

    @property
    def hyperparameters(self) -> dict[str, float | np.ndarray]:
        """Every hyperparameter: per-step values where scheduled, else the optimizer's (no ``precond_power``)."""
        return {k: self.per_step.get(k, v) for k, v in self.setup.hyperparameters.items()}

    def engine_arguments(self) -> dict[str, Any]:
        """The keywords of :func:`nqm.numerics.scheduled_risk` and :func:`nqm.numerics.monte_carlo` for the schedule."""
        constant = {} if BATCH_SIZE in self.schedule else {"batch_size": self.setup.batch_size}
        return {"schedule": self.schedule, **constant}

    def describe(self) -> dict[str, object]:
        """Plain data for reports: the setting, the horizon, and each schedule's form and per-step values."""
        base = self.setup.describe()
        fixed = {k: v for k, v in self.setup.hyperparameters.items() if k not in self.schedule}
        if fixed:
            base["hyperparameters"] = fixed
        else:
            base.pop("hyperparameters")
        if BATCH_SIZE in self.schedule:
            base.pop("batch_size")
        if self.every_step:
            base["steps"] = f"every step 0..{self.horizon}"
        return {
            **base,
            "horizon": self.horizon,
            "schedule": {k: f"{self.forms.get(k, '')}: {_runs(v)}" for k, v in self.per_step.items()},
        }

    def __repr__(self) -> str:
        return f"ScheduledSetup({self.describe()!r})"


def _runs(values: np.ndarray) -> str:
    """Per-step values as runs of equal values, ``value x count`` (values as Python writes them)."""
    starts = np.flatnonzero(np.concatenate([[True], values[1:] != values[:-1]]))
    counts = np.diff(np.concatenate([starts, [values.size]]))
    return ", ".join(f"{float(values[i])!r} x {int(n)}" for i, n in zip(starts, counts))


def _callable(values: np.ndarray) -> Callable[[Any], Any]:
    """A vectorised callable of the step returning ``values[t]``."""
    return lambda t: values[np.asarray(t, dtype=np.int64)]


def _pieces(draw: st.DrawFn, T: int, max_pieces: int) -> np.ndarray:
    """Strictly increasing boundaries in [1, T - 1], at most ``max_pieces - 1`` of them."""
    if T < 2:
        return np.zeros(0, dtype=np.int64)
    inner = draw(st.lists(st.integers(1, T - 1), max_size=max_pieces - 1, unique=True))
    return np.array(sorted(inner), dtype=np.int64)


def _form(draw: st.DrawFn, levels: np.ndarray, boundaries: np.ndarray | None, values: np.ndarray) -> tuple[Any, str]:
    """One of the forms of a schedule with per-step ``values`` (``boundaries`` if piecewise)."""
    kinds = ["per-step array", "per-step list", "callable"] + (["piecewise"] if boundaries is not None else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "piecewise":
        assert boundaries is not None
        return piecewise(levels.tolist(), boundaries.tolist()), f"piecewise(boundaries={boundaries.tolist()})"
    given = {"per-step array": values.copy(), "per-step list": values.tolist(), "callable": _callable(values)}
    return given[kind], kind


@st.composite
def scheduled_setups(
    draw: st.DrawFn,
    spec: OptimizerSpec | str,
    *,
    max_bins: int = 3,
    max_steps: int = 40,
    max_pieces: int = 3,
    max_coordinates: int = 200,
    integer_weights: bool = True,
    precondition: bool = True,
    every_step: bool | None = None,
) -> ScheduledSetup:
    """A :class:`ScheduledSetup` for ``spec``: a problem, a horizon T in [1, ``max_steps``], a
    non-empty set of scheduled quantities (hyperparameters of the spec and/or the batch size),
    piecewise (at most ``max_pieces`` pieces) or per step, each in a drawn form (module docstring).
    ``every_step``: evaluate at every step 0..T (``True``), at drawn steps (``False``) or either (``None``)."""
    spec = resolve_spec(spec)
    ref = nn.as_optimizer_spec(spec, "spec")
    problem = draw(problems(max_bins=max_bins, max_coordinates=max_coordinates, integer_weights=integer_weights))
    p = draw(precond_powers()) if precondition and not spec.preconditioned else 0.0
    T = draw(st.integers(1, max_steps))
    names = list(ref.forms.params) + [BATCH_SIZE]
    scheduled = draw(st.lists(st.sampled_from(names), min_size=1, max_size=len(names), unique=True))
    varying = [n for n in scheduled if n != BATCH_SIZE]
    first = draw(hyperparameters(spec, problem, precond_power=p))
    settings = [first]
    h_ = problem.preconditioned(p)[0]
    for _ in range(draw(st.integers(1, max_pieces)) - 1 if varying else 0):
        if varying == ["lr"]:  # a smaller learning rate stays in the stable interval (0, limit)
            settings.append({**first, "lr": first["lr"] * draw(st.floats(1e-3, 1.0))})
            continue
        drawn = draw(hyperparameters(spec, problem, precond_power=p))
        other = {**first, **{k: v for k, v in drawn.items() if k in varying}}
        stable = float(spectral_radius(ref, problem, other, p)) < 1.0 and bool(np.all(derived_stable(spec, h_, other)))
        settings.append(other if stable else first)
    schedule: dict[str, Any] = {}
    per_step: dict[str, np.ndarray] = {}
    forms: dict[str, str] = {}
    if varying:
        boundaries: np.ndarray | None
        if draw(st.booleans()):  # piecewise: setting k on piece k
            boundaries = _pieces(draw, T, len(settings))
            index = np.repeat(np.arange(boundaries.size + 1), np.diff(np.concatenate([[0], boundaries, [T]])))
            scale = np.ones(T)
        else:  # per step: a setting per step, the learning rate scaled by a factor in [1/2, 1]
            boundaries = None
            index = np.array(draw(st.lists(st.integers(0, len(settings) - 1), min_size=T, max_size=T)))
            scale = np.array(draw(st.lists(st.floats(0.5, 1.0), min_size=T, max_size=T)))
        for name in varying:
            levels = np.array([s[name] for s in settings[: index.max() + 1]])
            values = levels[index] * (scale if name == "lr" else 1.0)
            schedule[name], forms[name] = _form(draw, levels, boundaries, values)
            per_step[name] = values
    if BATCH_SIZE in scheduled:
        piece_wise = draw(st.booleans())
        edges = _pieces(draw, T, max_pieces) if piece_wise else None
        count = edges.size + 1 if edges is not None else T
        levels = np.array(draw(st.lists(batch_sizes(10), min_size=count, max_size=count)))
        values = np.repeat(levels, np.diff(np.concatenate([[0], edges, [T]]))) if edges is not None else levels
        schedule[BATCH_SIZE], forms[BATCH_SIZE] = _form(draw, levels, edges, values)
        per_step[BATCH_SIZE] = values
    every_step = draw(st.booleans()) if every_step is None else every_step
    steps = np.arange(T + 1, dtype=float) if every_step else draw(step_lists(T))
    optimizer = nn.Optimizer(spec, precond_power=p, **first)
    setup = Setup(problem, optimizer, draw(batch_sizes()), steps)
    return ScheduledSetup(setup, T, schedule, per_step, forms, every_step)
