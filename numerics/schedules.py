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

**Presets** (each function's docstring states its formula and source; ``docs/math/schedules.md``):

=====================  ===============================================  ==================================
name                   preset                                           default shape for a base value u
=====================  ===============================================  ==================================
``"constant"``         :func:`constant`                                 u
``"step"``             :func:`step_decay`                               u, times 0.1 at 0.5 T and 0.75 T
``"linear"``           :func:`linear_decay`                             u to 0, no warmup
``"cosine"``           :func:`cosine`                                   u to 0, no warmup
``"wsd"``              :func:`wsd`                                      u, linear cooldown over 0.2 T
``"wsd_sqrt"``         :func:`wsd` with ``shape="1-sqrt"``              u, 1 − sqrt cooldown over 0.2 T
``"inverse_time"``     :func:`inverse_time`                             u / (1 + t/(0.1 T))
``"inverse_sqrt"``     :func:`inverse_sqrt`                             u / sqrt(1 + t/(0.1 T))
``"batch_linear"``     :func:`batch_linear_ramp`                        u to 4u, linearly over 0.5 T
``"batch_geometric"``  :func:`batch_geometric_ramp`                     u to 4u, geometrically over 0.5 T
``"batch_doubling"``   :func:`batch_doubling`                           u, doubled at 0.5 T and 0.75 T
=====================  ===============================================  ==================================

The learning-rate shapes peak at the base value; the batch-size ramps *start* at it (the batch
size one would otherwise hold constant) and grow from it.

Conventions of the presets. A preset is a shape stretched over the horizon: **every position or
duration inside it (warmup, cooldown, ramp, boundaries, the inverse decays' scale) is a fraction
of T**, never a step count, so that one preset serves every horizon (for change points at given
steps, use :func:`piecewise`). A fraction :math:`f` names the step :math:`\lfloor fT + 1/2\rfloor`
(ties up). Warmups rise linearly from :math:`u/W` to :math:`u` (no update at 0), decays reach their
final value at step T, after the last update. Piecewise-constant parts are exact pieces
(:meth:`Schedule.pieces`): step decay and doubling have one piece per level, the stable phase of
WSD is one piece, a batch ramp with ``integer=True`` has one piece per distinct batch size, so the
engine's cost does not grow with T for them; only the per-step parts (warmup, decay, a real-valued
ramp) are materialised, at most :data:`MAX_SCHEDULE_STEPS` steps.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._forms import MAX_HORIZON, plain, real_array, validate_hyperparameter, validate_steps

__all__ = [
    "BATCH_SIZE",
    "MAX_SCHEDULE_STEPS",
    "Schedule",
    "ScheduleLike",
    "Segments",
    "as_schedule",
    "batch_doubling",
    "batch_geometric_ramp",
    "batch_linear_ramp",
    "constant",
    "cosine",
    "inverse_sqrt",
    "inverse_time",
    "linear_decay",
    "per_step",
    "piecewise",
    "segments",
    "step_decay",
    "wsd",
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
        try:
            return np.array([float(self.fn(int(k))) for k in t], dtype=float)
        except Exception as exc:  # the user's function, not ours: a ValueError naming the schedule (segments())
            raise ValueError(
                f"the callable must return {steps} values for the steps 0..{steps - 1} (one array call) or one "
                f"number per step; calling it raised {type(exc).__name__}: {exc}"
            ) from exc


# ------------------------------------------------------------------------------------------- presets
#
# A preset is a shape stretched over the horizon: every position or duration inside it is a fraction
# f of T, and the step it names is _at(f, T) = floor(f T + 1/2). Its values are built from phases,
# each a function of the step over [start, stop): constant, per step, or (rounded batch sizes)
# non-decreasing integers whose constant runs are found without visiting every step.


def _at(fraction: float, steps: int) -> int:
    """The step a fraction of the horizon names: :math:`\\lfloor fT + 1/2 \\rfloor` (ties up), in [0, T]."""
    return min(max(math.floor(fraction * steps + 0.5), 0), steps)


def _number(name: str, value: object) -> float:
    """One finite real number, or ``ValueError`` naming ``name``."""
    arr = real_array(name, value, "a finite number")
    if arr.ndim or not math.isfinite(float(arr)):
        raise ValueError(f"{name} must be a single finite number; got {plain(value)!r}")
    return float(arr)


def _in_range(name: str, value: object, rng: tuple[float, float, bool, bool]) -> float:
    """One number in ``rng`` (lo, hi, lo closed, hi closed), or ``ValueError`` naming ``name`` and the range."""
    arr = validate_hyperparameter(name, value, rng)
    if arr.ndim:
        raise ValueError(f"{name} must be a single number; got {plain(value)!r}")
    return float(arr)


_FRACTION = (0.0, 1.0, True, True)
_POSITIVE = (0.0, math.inf, False, False)
_BATCH = (1.0, math.inf, True, False)


def _distinct(ordered: np.ndarray) -> np.ndarray:
    """The distinct values of a sorted array (``np.unique`` without its hashing and sorting, which
    took 3 s for the 2 million piece ends of a long WSD schedule)."""
    return ordered[np.concatenate([[True], ordered[1:] != ordered[:-1]])]


def _round_half_up(x: np.ndarray) -> np.ndarray:
    """The nearest integers, ties up (batch sizes with ``integer=True``)."""
    return np.floor(x + 0.5)


def _level(x: float, integer: bool) -> float:
    """``x``, or the nearest integer (ties up) when ``integer``."""
    return float(math.floor(x + 0.5)) if integer else x


def _flat(level: float) -> Callable[[np.ndarray], np.ndarray]:
    """The constant function ``level`` of the step."""
    return lambda t: np.full(np.shape(t), level)


@dataclass(frozen=True)
class _Phase:
    """Steps ``start <= t < stop`` of a preset, valued ``value(t)`` (t a float64 array).

    ``kind``: ``"constant"`` (one value, one piece), ``"steps"`` (one piece per step) or ``"runs"``
    (non-decreasing integers: one piece per distinct value, found by bisection)."""

    start: int
    stop: int
    value: Callable[[np.ndarray], np.ndarray]
    kind: str = "steps"

    def at(self, t: np.ndarray) -> np.ndarray:
        """The values at the steps ``t`` (any integer array inside the phase)."""
        return np.asarray(self.value(np.asarray(t, dtype=float)), dtype=float)

    def count(self) -> int:
        """How many pieces :meth:`split` gives at most (computed without evaluating the phase)."""
        n = self.stop - self.start
        if self.kind == "constant" or n == 0:
            return min(n, 1)
        if self.kind == "runs":
            first, last = self.at(np.array([self.start, self.stop - 1]))
            return int(min(n, last - first + 1))
        return n

    def split(self) -> tuple[np.ndarray, np.ndarray]:
        """``(levels, lengths)`` of the phase's constant pieces (lengths >= 1)."""
        n = self.stop - self.start
        if n == 0:
            return np.zeros(0), np.zeros(0, dtype=np.int64)
        if self.kind == "constant":
            return self.at(np.array([self.start])), np.array([n], dtype=np.int64)
        if self.kind == "steps" or self.count() == n:
            return self.at(np.arange(self.start, self.stop)), np.ones(n, dtype=np.int64)
        return self._runs()

    def _runs(self) -> tuple[np.ndarray, np.ndarray]:
        # first step reaching each integer above the first value: a bisection of all of them at once
        first, last = self.at(np.array([self.start, self.stop - 1]))
        wanted = np.arange(first + 1, last + 1)
        lo = np.full(wanted.size, self.start + 1, dtype=np.int64)
        hi = np.full(wanted.size, self.stop - 1, dtype=np.int64)
        while np.any(lo < hi):
            mid = (lo + hi) // 2
            ok = self.at(mid) >= wanted
            hi, lo = np.where(ok, mid, hi), np.where(ok, lo, mid + 1)
        starts = _distinct(np.concatenate([[self.start], lo]))  # non-decreasing, as the value is
        return self.at(starts), np.diff(np.append(starts, self.stop)).astype(np.int64)


class _Phased(Schedule):
    """A preset made of phases (:class:`_Phase`); subclasses give :meth:`phases`."""

    @abstractmethod
    def phases(self, steps: int) -> list[_Phase]:
        """The phases over T = ``steps``, in order, covering 0..T-1."""

    def values(self, steps: int) -> np.ndarray:
        parts = [
            np.repeat(*ph.split()) if ph.kind != "steps" else ph.at(np.arange(ph.start, ph.stop))
            for ph in self.phases(steps)
        ]
        return np.concatenate(parts) if parts else np.zeros(0)

    def pieces(self, steps: int) -> tuple[np.ndarray, np.ndarray] | None:
        """The constant pieces (equal neighbours merged); ``None`` when every step is its own piece
        or more than :data:`MAX_SCHEDULE_STEPS` pieces would be needed."""
        phases = self.phases(steps)
        if sum(ph.count() for ph in phases) > MAX_SCHEDULE_STEPS \
                or all(ph.kind == "steps" for ph in phases if ph.stop > ph.start):
            return None
        levels, lengths = (np.concatenate(a) for a in zip(*(ph.split() for ph in phases), strict=True))
        if levels.size > 1:  # merge equal neighbours
            starts = np.concatenate([[True], levels[1:] != levels[:-1]])
            edges = np.flatnonzero(starts)
            levels, lengths = levels[edges], np.add.reduceat(lengths, edges)
        return levels, lengths.astype(np.int64)


def _warmup(peak: float, fraction: float, steps: int, limit: int | None = None) -> _Phase:
    r"""Linear warmup over the first :math:`W = \lfloor fT + 1/2\rfloor` steps (at most ``limit``):
    :math:`u_t = u\,(t+1)/W` (Goyal et al. 2017, sec. 2.2): it starts at :math:`u/W`, never spends
    an update at 0, and reaches :math:`u` at :math:`t = W - 1`."""
    W = min(_at(fraction, steps), steps if limit is None else limit)
    return _Phase(0, W, lambda t: peak * (t + 1) / W)


#: decay shapes s as functions of the remaining fraction q = 1 - p = (T - t)/(T - start) in (0, 1]
#: (s = 1 at the start, 0 at step T), written without cancellation so that u_t keeps full relative
#: accuracy on the last steps: 1 - p = q; (1 + cos(pi p))/2 = sin^2(pi q/2); 1 - sqrt(p) = q/(1 + sqrt(1 - q))
_SHAPES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "linear": lambda q: q,
    "cosine": lambda q: np.sin(np.pi / 2 * q) ** 2,
    "1-sqrt": lambda q: q / (1 + np.sqrt(1 - q)),
}


def _decay(start: int, steps: int, peak: float, final: float, shape: str) -> _Phase:
    r"""A decay from ``peak`` towards ``final`` over steps ``start..T-1``: :math:`u_t = u_\text{final} +
    (u - u_\text{final})\,s(p)` at the progress :math:`p = (t - \text{start})/(T - \text{start}) \in [0, 1)`
    with :math:`s(0) = 1`, :math:`s(1) = 0` (``final`` is reached at step T, after the last update)."""
    span, s = steps - start, _SHAPES[shape]
    return _Phase(start, steps, lambda t: final + (peak - final) * s((steps - t) / span))


def _lr_checks(peak: object, final: object, warmup: object) -> tuple[float, float, float]:
    return _number("peak", peak), _number("final", final), _in_range("warmup", warmup, _FRACTION)


@dataclass(frozen=True)
class _LinearDecay(_Phased):
    peak: float
    final: float
    warmup: float

    def phases(self, steps: int) -> list[_Phase]:
        w = _warmup(self.peak, self.warmup, steps)
        return [w, _decay(w.stop, steps, self.peak, self.final, "linear")]


def linear_decay(peak: float, final: float = 0.0, *, warmup: float = 0.0) -> Schedule:
    r"""Linear decay (with optional linear warmup): after the warmup's :math:`W` steps,

    .. math:: u_t = u_\text{final} + (u_\text{peak} - u_\text{final})\Bigl(1 - \frac{t - W}{T - W}\Bigr),

    from ``peak`` at :math:`t = W` to ``final`` at step T (the last update uses
    :math:`u_\text{final} + (u_\text{peak} - u_\text{final})/(T - W)`). ``warmup`` is a fraction of
    the horizon in [0, 1]. Source: the linear ("poly" with power 1) decay used e.g. for BERT
    (Devlin et al. 2019); warmup as in Goyal et al. 2017. Name ``"linear"``: ``linear_decay(base)``."""
    return _LinearDecay(*_lr_checks(peak, final, warmup))


@dataclass(frozen=True)
class _Cosine(_Phased):
    peak: float
    final: float
    warmup: float

    def phases(self, steps: int) -> list[_Phase]:
        w = _warmup(self.peak, self.warmup, steps)
        return [w, _decay(w.stop, steps, self.peak, self.final, "cosine")]


def cosine(peak: float, final: float = 0.0, *, warmup: float = 0.0) -> Schedule:
    r"""Cosine decay with optional linear warmup: after the warmup's :math:`W` steps,

    .. math:: u_t = u_\text{final}
              + \tfrac12(u_\text{peak} - u_\text{final})\Bigl(1 + \cos\frac{\pi (t - W)}{T - W}\Bigr).

    Source: Loshchilov & Hutter 2017 (SGDR, eq. 5, one cycle without restarts: ``final`` is
    :math:`\eta_\min`, ``peak`` :math:`\eta_\max`); warmup (a fraction of the horizon in [0, 1]) as
    in Goyal et al. 2017. Per step (no constant piece). Name ``"cosine"``: ``cosine(base)``."""
    return _Cosine(*_lr_checks(peak, final, warmup))


_COOLDOWNS = ("linear", "1-sqrt")


@dataclass(frozen=True)
class _WSD(_Phased):
    peak: float
    final: float
    warmup: float
    cooldown: float
    shape: str

    def phases(self, steps: int) -> list[_Phase]:
        decay_start = steps - _at(self.cooldown, steps)
        w = _warmup(self.peak, self.warmup, steps, limit=decay_start)
        stable = _Phase(w.stop, decay_start, _flat(self.peak), "constant")
        return [w, stable, _decay(decay_start, steps, self.peak, self.final, self.shape)]


def wsd(
    peak: float, final: float = 0.0, *, warmup: float = 0.0, cooldown: float = 0.2, shape: str = "linear"
) -> Schedule:
    r"""Warmup-stable-decay: linear warmup over :math:`W` steps, ``peak`` until the cooldown's last
    :math:`C = \lfloor cT + 1/2 \rfloor` steps, then (:math:`p = (t - (T - C))/C`)

    .. math:: u_t = u_\text{final} + (u_\text{peak} - u_\text{final})\,s(p),\qquad
              s(p) = 1 - p \ (\text{"linear"})\ \text{or}\ 1 - \sqrt p\ (\text{"1-sqrt"}).

    ``warmup`` and ``cooldown`` are fractions of the horizon (each in [0, 1], their sum at most 1;
    where rounding makes the two overlap, the warmup has :math:`W = T - C` steps). The stable
    phase is one constant piece. Sources: the three phases, Hu et al. 2024 (MiniCPM, whose own
    decay is exponential, not offered here); the linear and 1 − sqrt cooldowns and the cooldown
    fraction, Hägele et al. 2024 ("Scaling Laws and Compute-Optimal Training beyond Fixed Training
    Durations"). Names ``"wsd"`` (linear) and ``"wsd_sqrt"`` (1 − sqrt):
    ``wsd(base)``, ``wsd(base, shape="1-sqrt")``, cooldown 0.2."""
    p, f, w = _lr_checks(peak, final, warmup)
    c = _in_range("cooldown", cooldown, _FRACTION)
    if w + c > 1:
        raise ValueError(f"warmup + cooldown must be at most 1 (fractions of the horizon); got {w} + {c}")
    if shape not in _COOLDOWNS:
        raise ValueError(f"shape must be one of {', '.join(map(repr, _COOLDOWNS))}; got {plain(shape)!r}")
    return _WSD(p, f, w, c, shape)


@dataclass(frozen=True)
class _Steps(_Phased):
    initial: float
    factor: float
    boundaries: tuple[float, ...]
    integer: bool

    def phases(self, steps: int) -> list[_Phase]:
        edges = [0, *(_at(b, steps) for b in self.boundaries), steps]
        return [
            _Phase(lo, hi, _flat(_level(self.initial * self.factor**k, self.integer)), "constant")
            for k, (lo, hi) in enumerate(zip(edges[:-1], edges[1:]))
        ]


def _boundaries(boundaries: object, every: object) -> tuple[float, ...]:
    """Fractions of the horizon where a step schedule changes: given, or ``every``, 2 ``every``, ... < 1."""
    if (boundaries is None) == (every is None):
        raise ValueError("give exactly one of boundaries (fractions of the horizon) and every (a fraction)")
    if every is not None:
        e = _in_range("every", every, (0.0, 1.0, False, False))
        if 1 / e > MAX_SCHEDULE_STEPS:
            raise ValueError(f"every must be at least 1/{MAX_SCHEDULE_STEPS:,} (a fraction of the horizon); got {e!r}")
        return tuple(k * e for k in range(1, math.ceil(1 / e) + 1) if k * e < 1)
    arr = real_array("boundaries", boundaries, "fractions of the horizon in (0, 1), strictly increasing")
    if arr.ndim != 1 or arr.size > MAX_SCHEDULE_STEPS or not np.all((arr > 0) & (arr < 1)) \
            or np.any(np.diff(arr) <= 0):
        raise ValueError(
            f"boundaries must be fractions of the horizon in (0, 1), strictly increasing; got {plain(boundaries)!r}"
        )
    return tuple(arr.tolist())


def step_decay(
    peak: float, factor: float = 0.1, boundaries: Sequence[float] | None = None, *, every: float | None = None
) -> Schedule:
    r"""Step decay: :math:`u_t = u_\text{peak}\,\phi^{n(t)}`, :math:`n(t) = \#\{k : t \ge b_k\}`, with
    :math:`b_k = \lfloor f_k T + 1/2\rfloor` for the ``boundaries`` :math:`f_k` (fractions of the
    horizon, strictly increasing in (0, 1)) or :math:`f_k = k\cdot` ``every`` (:math:`k \ge 1`,
    :math:`f_k < 1`); ``factor`` :math:`\phi > 0`. Piecewise constant. Source: He et al. 2016 (ResNet,
    CIFAR-10: lr divided by 10 at 32k and 48k of 64k iterations, the default boundaries (0.5, 0.75)),
    Goyal et al. 2017 (ImageNet: at epochs 30, 60, 80 of 90). Name ``"step"``: ``step_decay(base)``."""
    return _Steps(
        _number("peak", peak), _in_range("factor", factor, _POSITIVE),
        _boundaries((0.5, 0.75) if boundaries is None and every is None else boundaries, every), False,
    )


def batch_doubling(
    initial: float, boundaries: Sequence[float] | None = None, factor: float = 2.0, *,
    every: float | None = None, integer: bool = False,
) -> Schedule:
    r"""Batch size multiplied by ``factor`` :math:`\phi \ge 1` at given fractions of the horizon:
    :math:`B_t = B_0\,\phi^{n(t)}` with :math:`n(t)` as in :func:`step_decay` (``boundaries`` or
    ``every``; default (0.5, 0.75)); ``integer=True`` rounds to the nearest integer (ties up).
    Source: Smith et al. 2018, "Don't Decay the Learning Rate, Increase the Batch Size" (B multiplied
    where the learning rate would have been divided). Name ``"batch_doubling"``:
    ``batch_doubling(base)``, the base the initial batch size."""
    return _Steps(
        _in_range("initial", initial, _BATCH), _in_range("factor", factor, (1.0, math.inf, True, False)),
        _boundaries((0.5, 0.75) if boundaries is None and every is None else boundaries, every), _flag(integer),
    )


def _flag(integer: object) -> bool:
    if not isinstance(integer, (bool, np.bool_)):
        raise ValueError(f"integer must be True or False; got {plain(integer)!r}")
    return bool(integer)


@dataclass(frozen=True)
class _Inverse(_Phased):
    initial: float
    scale: float
    power: float

    def phases(self, steps: int) -> list[_Phase]:
        s = self.scale * steps
        return [_Phase(0, steps, lambda t: self.initial / (1 + t / s) ** self.power)]


def inverse_time(initial: float, scale: float = 0.1) -> Schedule:
    r"""Inverse-time decay :math:`u_t = u_0 / (1 + t/(sT))`, the scale :math:`sT` a fraction ``scale``
    :math:`s > 0` of the horizon (the last update uses about :math:`u_0/(1 + 1/s)`). Source: the
    :math:`\sum\alpha_t = \infty`, :math:`\sum\alpha_t^2 < \infty` step sizes of Robbins & Monro 1951.
    Per step. Name ``"inverse_time"``: ``inverse_time(base)``, :math:`s = 0.1`."""
    return _Inverse(_number("initial", initial), _in_range("scale", scale, _POSITIVE), 1.0)


def inverse_sqrt(initial: float, scale: float = 0.1) -> Schedule:
    r"""Inverse-square-root decay :math:`u_t = u_0 / \sqrt{1 + t/(sT)}`, the scale a fraction ``scale``
    :math:`s > 0` of the horizon (this form, not Vaswani et al.'s with warmup; for that, take
    :func:`wsd`'s warmup or a callable). Source: Vaswani et al. 2017, sec. 5.3 (the decay after
    warmup, proportional to :math:`t^{-1/2}`). Per step. Name ``"inverse_sqrt"``: ``inverse_sqrt(base)``,
    :math:`s = 0.1`."""
    return _Inverse(_number("initial", initial), _in_range("scale", scale, _POSITIVE), 0.5)


@dataclass(frozen=True)
class _Ramp(_Phased):
    initial: float
    final: float
    ramp: float
    geometric: bool
    integer: bool

    def phases(self, steps: int) -> list[_Phase]:
        R = _at(self.ramp, steps)
        b0, b1 = self.initial, self.final
        curve = (lambda t: b0 * (b1 / b0) ** (t / R)) if self.geometric else (lambda t: b0 + (b1 - b0) * t / R)
        value = (lambda t: _round_half_up(curve(t))) if self.integer else curve
        return [
            _Phase(0, R, value, "runs" if self.integer else "steps"),
            _Phase(R, steps, _flat(_level(b1, self.integer)), "constant"),
        ]


def _ramp_checks(initial: object, final: object, ramp: object, integer: object) -> tuple[float, float, float, bool]:
    b0, b1 = _in_range("initial", initial, _BATCH), _in_range("final", final, _BATCH)
    if b1 < b0:
        raise ValueError(f"final must be at least initial ({b0!r}) for a ramp up; got {b1!r}")
    return b0, b1, _in_range("ramp", ramp, _FRACTION), _flag(integer)


def batch_linear_ramp(initial: float, final: float, ramp: float = 0.5, *, integer: bool = False) -> Schedule:
    r"""Linear warmup of the batch size: :math:`B_t = B_0 + (B_1 - B_0)\,t/R` for :math:`t < R`, then
    :math:`B_1`, over :math:`R = \lfloor rT + 1/2\rfloor` steps (``ramp`` :math:`r` a fraction of the
    horizon in [0, 1]; the first update uses :math:`B_0`, :math:`B_1` is reached at :math:`t = R`);
    :math:`1 \le B_0 \le B_1`. ``integer=True`` rounds every :math:`B_t` to the nearest integer (ties
    up): then the ramp is piecewise constant, one piece per distinct batch size. Source: batch-size
    warmup of large language model pre-training (GPT-3, Brown et al. 2020, sec. B: linear over the
    first tokens). Name ``"batch_linear"``: ``batch_linear_ramp(base, 4 * base)``."""
    b0, b1, r, integer = _ramp_checks(initial, final, ramp, integer)
    return _Ramp(b0, b1, r, False, integer)


def batch_geometric_ramp(initial: float, final: float, ramp: float = 0.5, *, integer: bool = False) -> Schedule:
    r"""Geometric warmup of the batch size: :math:`B_t = B_0 (B_1/B_0)^{t/R}` for :math:`t < R`, then
    :math:`B_1` (conventions as :func:`batch_linear_ramp`). Source: the geometric growth of B in
    Smith et al. 2018 and in adaptive-batch schemes (e.g. Devarakonda et al. 2017, AdaBatch), made
    continuous. Name ``"batch_geometric"``: ``batch_geometric_ramp(base, 4 * base)``."""
    b0, b1, r, integer = _ramp_checks(initial, final, ramp, integer)
    return _Ramp(b0, b1, r, True, integer)


#: what :func:`as_schedule` accepts
ScheduleLike = float | Sequence[float] | np.ndarray | Callable[[Any], Any] | Schedule | str


def _presets() -> Mapping[str, Callable[[float], Schedule]]:
    """Preset name -> the preset with its default shape scaled by a base value (module docstring)."""
    return {
        "constant": constant,
        "step": step_decay,
        "linear": linear_decay,
        "cosine": cosine,
        "wsd": wsd,
        "wsd_sqrt": lambda base: wsd(base, shape="1-sqrt"),
        "inverse_time": inverse_time,
        "inverse_sqrt": inverse_sqrt,
        "batch_linear": lambda base: batch_linear_ramp(base, 4 * base),
        "batch_geometric": lambda base: batch_geometric_ramp(base, 4 * base),
        "batch_doubling": batch_doubling,
    }


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
        try:
            return presets[value](base)
        except ValueError as exc:
            raise ValueError(f"{name}: the preset {value!r} with base value {plain(base)!r}: {exc}") from None
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
                    f"schedule[{key!r}] is not piecewise constant with at most {MAX_SCHEDULE_STEPS:,} pieces, so "
                    f"its {T:,} steps would be evaluated one by one; at most {MAX_SCHEDULE_STEPS:,} steps (use "
                    f"piecewise(), or a preset whose per-step part is shorter, for longer horizons)"
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
    edges = _distinct(np.sort(np.concatenate([np.cumsum(lengths) for _, lengths in parts.values()] + [[0]])))
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
