r"""Schedules of hyperparameters and of the batch size: what varies with the step, and how.

A *schedule* gives the value :math:`u_t` a quantity takes in the update from step :math:`t` to
:math:`t+1`, for :math:`t = 0, \dots, T-1` (the risk is then defined at steps :math:`0, \dots, T`).
Every hyperparameter of a spec (``lr``, ``beta``, ``gamma``, ``nu``, a user spec's own) and the
batch size (key ``"batch_size"``) may have one; the preconditioning power may not (it fixes the
coordinates of the equivalent problem, eqs. 8–9).

Anything :func:`as_schedule` accepts may be passed where a schedule is expected:

* a number — a constant;
* a 1-D array (list, tuple or ndarray) of length :math:`T` — one value per step;
* a callable of the step — called once with the int64 array :math:`0, \dots, T-1` (a vectorised
  function such as ``lambda t: 0.1 * 0.5 ** (t // 1000)``), or, if that fails or returns another
  shape, once per step;
* :func:`piecewise` — piecewise-constant values between given boundaries;
* a :class:`Schedule` (the presets of this module);
* a preset's name (``"cosine"``) — that preset scaled by the quantity's base value (the value an
  optimizer instance holds, or the spec's default).

:func:`segments` turns the schedules of several quantities into one sequence of constant
:class:`Segments`, the form the exact engine consumes: piecewise-constant schedules cost
:math:`O(\text{pieces})` however long the horizon, per-step ones :math:`O(T)`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._forms import MAX_HORIZON, plain, real_array, validate_steps

__all__ = [
    "BATCH_SIZE",
    "MAX_SCHEDULE_STEPS",
    "Schedule",
    "ScheduleLike",
    "Segments",
    "as_schedule",
    "constant",
    "per_step",
    "piecewise",
    "segments",
]

#: the key of the batch size in a ``schedule=`` mapping
BATCH_SIZE = "batch_size"

#: most steps a schedule that is not piecewise constant may span (its values are materialised)
MAX_SCHEDULE_STEPS = MAX_HORIZON


class Schedule(ABC):
    """A schedule of one quantity over a horizon of T steps (T given when it is evaluated)."""

    @abstractmethod
    def values(self, steps: int) -> np.ndarray:
        """The values :math:`u_0, \\dots, u_{T-1}` for ``steps`` = T, a float array of shape ``(T,)``."""

    def pieces(self, steps: int) -> tuple[np.ndarray, np.ndarray] | None:
        """``(values, lengths)`` of the constant pieces over T = ``steps`` (lengths >= 1, summing to
        T), or ``None`` when the schedule is not piecewise constant with few pieces; then the engine
        uses :meth:`values`."""
        return None


@dataclass(frozen=True)
class _Constant(Schedule):
    value: float

    def values(self, steps: int) -> np.ndarray:
        return np.full(steps, self.value)

    def pieces(self, steps: int) -> tuple[np.ndarray, np.ndarray]:
        return np.array([self.value]), np.array([steps], dtype=np.int64)


def constant(value: float) -> Schedule:
    r""":math:`u_t = u` for every step."""
    return _Constant(float(value))


@dataclass(frozen=True, eq=False)
class _PerStep(Schedule):
    array: np.ndarray

    def values(self, steps: int) -> np.ndarray:
        if self.array.size != steps:
            raise ValueError(f"a per-step schedule of {self.array.size} values cannot span {steps} steps")
        return self.array


def per_step(values: object) -> Schedule:
    r"""One value per step: :math:`u_t` = ``values[t]``; the horizon must equal ``len(values)``."""
    arr = real_array("values", values, "a 1-D array of finite numbers")
    if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)):
        raise ValueError(f"values must be a non-empty 1-D array of finite numbers; got shape {arr.shape}")
    return _PerStep(arr.astype(float))


@dataclass(frozen=True, eq=False)
class _Piecewise(Schedule):
    levels: np.ndarray
    boundaries: np.ndarray  # int64, strictly increasing, >= 1

    def pieces(self, steps: int) -> tuple[np.ndarray, np.ndarray]:
        inside = self.boundaries[self.boundaries < steps]
        edges = np.concatenate([[0], inside, [steps]]).astype(np.int64)
        return self.levels[: edges.size - 1].copy(), np.diff(edges)

    def values(self, steps: int) -> np.ndarray:
        levels, lengths = self.pieces(steps)
        return np.repeat(levels, lengths)


def piecewise(values: Sequence[float], boundaries: Sequence[int]) -> Schedule:
    r"""Piecewise constant: ``values[0]`` before step ``boundaries[0]``, ``values[k]`` from
    ``boundaries[k-1]`` up to ``boundaries[k]``, the last value to the end of the horizon
    (``len(values) == len(boundaries) + 1``; boundaries strictly increasing integers >= 1)."""
    levels = real_array("values", values, "a 1-D array of finite numbers").astype(float)
    if levels.ndim != 1 or levels.size == 0 or not np.all(np.isfinite(levels)):
        raise ValueError(f"values must be a non-empty 1-D array of finite numbers; got {plain(values)!r}")
    edges = validate_steps(np.asarray(boundaries, dtype=object) if len(boundaries) else np.zeros(0), "boundaries")
    if edges.ndim != 1 or edges.size != levels.size - 1:
        raise ValueError(
            f"boundaries must hold len(values) - 1 = {levels.size - 1} steps; got {edges.size}"
        )
    if edges.size and (edges[0] < 1 or np.any(np.diff(edges) <= 0)):
        raise ValueError(f"boundaries must be strictly increasing integers >= 1; got {edges.tolist()}")
    return _Piecewise(levels, edges.astype(np.int64))


@dataclass(frozen=True, eq=False)
class _Callable(Schedule):
    fn: Callable[[Any], Any]

    def values(self, steps: int) -> np.ndarray:
        t = np.arange(steps, dtype=np.int64)
        try:
            with np.errstate(all="ignore"):
                out = np.asarray(self.fn(t), dtype=float)
            if out.shape == (steps,):
                return out
            if out.ndim == 0:
                return np.full(steps, float(out))
        except Exception:  # a scalar function such as math.cos: fall back to one call per step
            pass
        return np.array([float(self.fn(int(k))) for k in t], dtype=float)


#: what :func:`as_schedule` accepts
ScheduleLike = float | Sequence[float] | np.ndarray | Callable[[Any], Any] | Schedule | str


def _presets() -> Mapping[str, Callable[[float], Schedule]]:
    """Preset name -> the preset scaled by a base value (filled in by the presets below)."""
    return {"constant": constant}


def as_schedule(value: object, *, name: str = "schedule", base: float | None = None) -> Schedule:
    """Any schedule form (module docstring) as a :class:`Schedule`; ``ValueError`` naming ``name``
    for anything else (a preset's name needs ``base``, the quantity's base value)."""
    if isinstance(value, Schedule):
        return value
    if isinstance(value, str):
        presets = _presets()
        if value not in presets:
            raise ValueError(f"{name}: no schedule preset named {value!r}; presets: {', '.join(sorted(presets))}")
        if base is None:
            raise ValueError(f"{name}: the preset {value!r} needs a base value (none is known for it)")
        return presets[value](base)
    if callable(value):
        return _Callable(value)
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be a number, an array, a callable, a preset or a Schedule; got {value!r}")
    if isinstance(value, (int, float, np.integer, np.floating)):
        if not math.isfinite(float(value)):
            raise ValueError(f"{name} must be finite; got {plain(value)!r}")
        return constant(float(value))
    if isinstance(value, (list, tuple, np.ndarray)):
        try:
            return per_step(value)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
    raise ValueError(
        f"{name} must be a number, an array, a callable, a preset name or a Schedule; got {type(value).__name__}"
    )


@dataclass(frozen=True, eq=False)
class Segments:
    r"""Schedules of several quantities as one sequence of constant segments.

    Segment k spans ``lengths[k]`` >= 1 steps, during which quantity ``q`` is ``values[q][k]``;
    ``sum(lengths)`` is the horizon T. Consecutive segments differ in at least one value.
    """

    lengths: np.ndarray
    values: Mapping[str, np.ndarray]

    @property
    def steps(self) -> int:
        """The horizon T."""
        return int(self.lengths.sum())

    @property
    def starts(self) -> np.ndarray:
        """First step of each segment (int64, ``starts[0] == 0``)."""
        return np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(np.int64)

    def at_steps(self, name: str) -> np.ndarray:
        """The per-step values of ``name`` (shape ``(T,)``)."""
        return np.repeat(self.values[name], self.lengths)


def segments(
    schedule: Mapping[str, object], steps: int, *, bases: Mapping[str, float] | None = None
) -> Segments:
    """Join the schedules in ``schedule`` (name -> any form :func:`as_schedule` accepts) over a
    horizon of ``steps`` >= 1 into :class:`Segments`. ``bases`` gives each name's base value for
    preset names. Schedules that are not piecewise constant are materialised, at most
    :data:`MAX_SCHEDULE_STEPS` steps (checked before any value is computed)."""
    T = int(validate_steps(steps, "steps"))
    if T < 1:
        raise ValueError(f"steps must be an integer >= 1 for a schedule; got {T}")
    bases = bases or {}
    parts: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for key, raw in schedule.items():
        sched = as_schedule(raw, name=f"schedule[{key!r}]", base=bases.get(key))
        piece = sched.pieces(T)
        if piece is None:
            if T > MAX_SCHEDULE_STEPS:
                raise ValueError(
                    f"schedule[{key!r}] is not piecewise constant, so its {T:,} steps would be evaluated one by "
                    f"one; at most {MAX_SCHEDULE_STEPS:,} steps (use piecewise() for longer horizons)"
                )
            try:
                vals = np.asarray(sched.values(T), dtype=float)
            except ValueError as exc:
                raise ValueError(f"schedule[{key!r}]: {exc}") from None
            if vals.shape != (T,):
                raise ValueError(f"schedule[{key!r}] gave {vals.shape} values for {T} steps")
            piece = vals, np.ones(T, dtype=np.int64)
        levels, lengths = piece
        if not np.all(np.isfinite(levels)):
            bad = levels[~np.isfinite(levels)][0]
            raise ValueError(f"schedule[{key!r}] must be finite at every step; got {plain(bad)!r}")
        parts[key] = np.asarray(levels, dtype=float), np.asarray(lengths, dtype=np.int64)
    if not parts:
        return Segments(np.array([T], dtype=np.int64), {})
    edges = np.unique(np.concatenate([np.cumsum(lengths) for _, lengths in parts.values()] + [[0]]))
    starts = edges[:-1]
    values = {
        key: levels[np.searchsorted(np.cumsum(lengths), starts, side="right")]
        for key, (levels, lengths) in parts.items()
    }
    # merge consecutive segments that hold the same values
    if starts.size > 1:
        same = np.ones(starts.size - 1, dtype=bool)
        for v in values.values():
            same &= v[1:] == v[:-1]
        keep = np.concatenate([[True], ~same])
        starts = starts[keep]
        values = {k: v[keep] for k, v in values.items()}
    lengths_out = np.diff(np.concatenate([starts, [T]])).astype(np.int64)
    return Segments(lengths_out, values)
