r"""Tuned schedule presets: the best member of a preset family at a total, and its fewest steps to a target.

A *preset family* is a set of learning-rate schedules :math:`\alpha_t = s\,u_t(\theta)`: a scale
(the *peak*) :math:`s` times a shape :math:`u(\theta)` with tuned shape parameters :math:`\theta`
in a box (for example WSD's cooldown fraction) and fixed options (a warmup). Every other
hyperparameter of the optimizer and the batch size stay constant.

**At a total** :math:`T` (:func:`tune_preset` with ``steps``) the exact final risk
:math:`\mathbb E\mathcal L(T)` (the segment maps of :mod:`._schedule_maps`: piecewise-constant
shapes in :math:`O(\text{pieces})`, per-step ones in :math:`O(T)`) is minimised as a profile,
:math:`\min_\theta \min_s R(s\,u(\theta))`:

* the inner minimum over the peak :math:`s` is
  :func:`~nqm.numerics._schedule_search.best_scale_at`: a log grid of peaks (4 per decade) from
  a tenth of the best constant rate at :math:`T` up to the largest peak under the cap (every
  rate at most ``max_lr``, as for :func:`~nqm.numerics.optimal_schedule`), the best constant
  rate and the optimizer's own ``lr`` (when an instance is given) as extra peaks, refined by a
  bounded scalar search in :math:`\log s`;
* the outer minimum over :math:`\theta` evaluates the product of the family's per-parameter
  grids, the family's default shape, its constant member (if it has one) and the best shapes of
  neighbouring totals (in the step search), then polishes the best on the profile without
  gradients (integer piece boundaries make it piecewise constant in fractions): one parameter by
  a bounded Brent search between the best point's evaluated neighbours, several by bounded
  Nelder-Mead.

**Certificate at a total.** The answer is the best *evaluated* schedule, so its exact final
risk is never above that of

* the best constant learning rate at :math:`T` (:func:`~nqm.numerics._schedule_search.best_constant_at`)
  **for families whose constant schedule is a member** (WSD with cooldown fraction 0 and no
  warmup, step decay with factor 1: their ``constant`` shape is evaluated at that rate). For
  cosine and linear decay, whose shapes are never constant, the constant rate is only a start (a
  peak tried on every shape) and the answer may lose to it (on the paper's problem, SGD at
  B = 256 to 4096, it does); the result reports ``constant_risk`` either way;
* the family's default shape scaled by the best constant rate and by the optimizer instance's
  ``lr`` (when under the cap).

**Cost.** Each shape costs one peak search, about 25 exact final risks; a piecewise-constant
shape (step decay; WSD's stable phase) costs :math:`O(\text{pieces})` per risk, a per-step one
(cosine, linear, WSD's cooldown) :math:`O(T)` (on the paper's 100-bin problem about 0.4 s per
risk at :math:`T = 8000` on one core), so tuning per-step presets at :math:`T \gtrsim 10^5` takes minutes.

**Fewest steps** (:func:`tune_preset` with ``target``): the step search of
:mod:`._schedule_search` (:func:`~nqm.numerics._schedule_search.search_totals`, the rule of
:func:`~nqm.numerics.optimal_schedule`): the answer is the fewest total whose tuned preset
reaches the target among the totals tested, and the total one below it was tested and failed.
The lower end is the Bayes bound (no method reaches the target sooner); the first upper guess
is the best constant rate's steps (certified for families with a constant member, confirmed
by the test itself for all), doubled until a total succeeds.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import schedules
from ._forms import _shown, real_array, validate_count, validate_hyperparameter, validate_positive
from ._optimizers import Optimizer, OptimizerLike
from ._problem import Problem
from ._schedule import piecewise_risk, schedule_family, schedule_optimizer
from ._schedule_maps import LrFamily, MapMethod
from ._schedule_opt import (
    MAX_SCHEDULE_STEPS,
    PAPER_SGD_LRS,
    ScheduleResult,
    _resolve_cap,
    _result,
    best_constant,
)
from ._schedule_search import TotalSearch, best_scale_at, one_blas_thread, search_totals
from ._tie import reaches

__all__ = ["PresetFamily", "PresetResult", "PRESET_FAMILIES", "tune_preset"]

#: peaks per decade of the inner grid of :func:`best_scale_at` for each shape (then refined)
_PEAK_GRID_PER_DECADE = 4
#: the inner grid spans the peaks from a tenth of the best constant rate to the largest allowed
_PEAK_GRID_BELOW_CONSTANT = 10.0
#: tolerance of the refined log peak (the risk is flat to second order there: ~1e-10 relative)
_PEAK_XATOL = 1e-5
#: Nelder-Mead tolerances of the outer polish over the shape parameters
_SHAPE_XATOL, _SHAPE_FATOL, _SHAPE_MAXFEV = 1e-4, 1e-12, 200


@dataclass(frozen=True)
class PresetFamily:
    r"""A family of learning-rate schedules :math:`\alpha_t = s\,u_t(\theta)` (module docstring).

    ``shape(steps, **theta, **options)`` returns the unit shape :math:`u(\theta)` over ``steps``
    as a :class:`~nqm.numerics.schedules.Schedule` (values > 0; the peak :math:`s` multiplies it).
    ``grids`` maps each tuned shape parameter to its starting grid; its range is
    ``[min(grid), max(grid)]``. ``default`` is the preset's default shape; ``constant``, the shape
    parameters for which the shape is constant (``None`` when no member is constant).
    """

    name: str
    shape: Callable[..., schedules.Schedule]
    grids: Mapping[str, Sequence[float]]
    default: Mapping[str, float]
    constant: Mapping[str, float] | None = None

    def __post_init__(self) -> None:
        if not callable(self.shape):
            raise ValueError(f"shape must be a callable shape(steps, **parameters) -> Schedule; "
                             f"got {_shown(self.shape)}")
        for key, grid in self.grids.items():
            arr = real_array(f"grids[{key!r}]", grid, "a non-empty 1-D array of finite numbers")
            if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)):
                raise ValueError(f"grids[{key!r}] must be a non-empty 1-D array of finite numbers; got {_shown(grid)}")
        for label, point in (("default", self.default), ("constant", self.constant)):
            if point is None:
                continue
            if set(point) != set(self.grids):
                raise ValueError(f"{label} must give each tuned parameter ({', '.join(self.grids)}); "
                                 f"got {_shown(point)}")
            for key, value in point.items():
                lo, hi = float(np.min(self.grids[key])), float(np.max(self.grids[key]))
                validate_hyperparameter(f"{label}[{key!r}]", value, (lo, hi, True, True))

    @property
    def bounds(self) -> dict[str, tuple[float, float]]:
        """Range of each tuned shape parameter."""
        return {k: (float(min(g)), float(max(g))) for k, g in self.grids.items()}


def _step_shape(steps: int, factor: float, boundaries: Sequence[float] = (0.5, 0.75)) -> schedules.Schedule:
    """:func:`~nqm.numerics.schedules.step_decay` at peak 1: the rate times ``factor`` at each
    fraction ``boundaries`` of the horizon (default 0.5 and 0.75, He et al. 2016)."""
    return schedules.step_decay(1.0, factor, boundaries)


def _cosine_shape(steps: int, warmup: float = 0.0, final: float = 0.0) -> schedules.Schedule:
    """:func:`~nqm.numerics.schedules.cosine` at peak 1 (``final`` a fraction of the peak)."""
    return schedules.cosine(1.0, final, warmup=warmup)


def _linear_shape(steps: int, warmup: float = 0.0, final: float = 0.0) -> schedules.Schedule:
    """:func:`~nqm.numerics.schedules.linear_decay` at peak 1 (``final`` a fraction of the peak)."""
    return schedules.linear_decay(1.0, final, warmup=warmup)


def _wsd_shape(steps: int, cooldown: float, warmup: float = 0.0, final: float = 0.0,
               shape: str = "linear") -> schedules.Schedule:
    """:func:`~nqm.numerics.schedules.wsd` at peak 1, the cooldown fraction at most ``1 - warmup``."""
    return schedules.wsd(1.0, final, warmup=warmup, cooldown=min(cooldown, 1.0 - warmup), shape=shape)


def _wsd_sqrt_shape(steps: int, cooldown: float, warmup: float = 0.0, final: float = 0.0) -> schedules.Schedule:
    """:func:`_wsd_shape` with the 1 - sqrt cooldown (Hägele et al. 2024)."""
    return _wsd_shape(steps, cooldown, warmup, final, "1-sqrt")


_COOLDOWNS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0)

#: the built-in preset families, by name (presets of :mod:`nqm.numerics.schedules` at peak 1):
#: ``"cosine"`` and ``"linear"`` (the peak alone; options ``warmup``, ``final``), ``"wsd"`` and
#: ``"wsd_sqrt"`` (the peak and the cooldown fraction in [0, 1]; constant at cooldown 0 without
#: warmup; options ``warmup``, ``final``), ``"step"`` (the peak and the factor in [0.001, 1];
#: constant at factor 1; option ``boundaries``)
PRESET_FAMILIES: dict[str, PresetFamily] = {
    "cosine": PresetFamily("cosine", _cosine_shape, {}, {}),
    "linear": PresetFamily("linear", _linear_shape, {}, {}),
    "wsd": PresetFamily("wsd", _wsd_shape, {"cooldown": _COOLDOWNS}, {"cooldown": 0.2}, {"cooldown": 0.0}),
    "wsd_sqrt": PresetFamily("wsd_sqrt", _wsd_sqrt_shape, {"cooldown": _COOLDOWNS}, {"cooldown": 0.2},
                             {"cooldown": 0.0}),
    "step": PresetFamily(
        "step", _step_shape, {"factor": (1e-3, 0.01, 0.03, 0.1, 0.3, 0.5, 1.0)}, {"factor": 0.1}, {"factor": 1.0}
    ),
}


@dataclass
class PresetResult(ScheduleResult):
    """A tuned preset: the pieces of :class:`ScheduleResult` (``lrs``, ``lengths``, ``risk`` at each
    piece boundary, ``searched`` in the step search) plus ``preset``, ``parameters`` (``peak``
    and the tuned shape parameters), ``options`` (the family's fixed options), ``constant_lr``
    and ``constant_risk`` (the best constant rate at the same total and its exact final risk) and
    ``evaluations`` (shapes evaluated, each by one peak search). Tables as
    :class:`ScheduleResult`; the scalars in the attrs."""

    preset: str = ""
    parameters: dict[str, float] = field(default_factory=dict)
    options: dict[str, object] = field(default_factory=dict)
    constant_lr: float = math.nan
    constant_risk: float = math.nan

    def _meta(self) -> dict[str, Any]:
        return {"preset": self.preset, **self.parameters, **self.options, **super()._meta(),
                "constant_lr": self.constant_lr, "constant_risk": self.constant_risk}


@dataclass
class _Tuned:
    """Best schedule of one family at one total: ``peak``, shape ``theta``, ``risk``."""

    peak: float
    theta: dict[str, float]
    risk: float
    constant_lr: float
    constant_risk: float
    evaluations: int


class _Tuner:
    """Evaluates a family's profile :math:`\\min_s R(s\\,u(\\theta))` at totals of one problem."""

    def __init__(self, family: LrFamily, preset: PresetFamily, options: Mapping[str, object], cap: float,
                 method: MapMethod, peaks: np.ndarray) -> None:
        self.family, self.preset, self.options, self.cap, self.method = family, preset, options, cap, method
        self.peaks = peaks  # extra peaks tried on every shape
        self.names = list(preset.grids)

    def pieces(self, steps: int, theta: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
        """Levels and lengths of the unit shape at ``theta`` over ``steps`` (equal neighbours merged)."""
        seg = schedules.segments({"lr": self.preset.shape(steps, **theta, **self.options)}, steps)
        levels = seg.values["lr"]
        if not np.all(levels > 0):
            raise ValueError(f"the {self.preset.name} shape must be positive at every step; got {levels.min()!r}")
        return levels, seg.lengths

    def profile(self, steps: int, theta: Mapping[str, float], extra: np.ndarray) -> tuple[float, float]:
        """Best peak and its risk for the shape ``theta``; ``extra[-1]`` is the best constant rate."""
        levels, lengths = self.pieces(steps, theta)
        top = self.cap / float(levels.max())
        decades = min(max(math.ceil(math.log10(top * _PEAK_GRID_BELOW_CONSTANT / extra[-1])), 1), 9)
        return best_scale_at(self.family, levels, lengths, self.cap, self.method, extra,
                             per_decade=_PEAK_GRID_PER_DECADE, xatol=_PEAK_XATOL, decades=decades)

    def tune(self, steps: int, starts: Sequence[Mapping[str, float]] = ()) -> _Tuned:
        """The certified best member at ``steps`` (module docstring), shape grids plus ``starts``."""
        const_lr, const_risk = best_scale_at(self.family, np.ones(1), np.array([steps]), self.cap, self.method,
                                             PAPER_SGD_LRS)  # best_constant_at, with its risk
        extra = np.append(self.peaks, const_lr)
        bounds = self.preset.bounds
        points = [dict(zip(self.names, p, strict=True)) for p in itertools.product(*self.preset.grids.values())]
        points += [dict(self.preset.default)] + ([dict(self.preset.constant)] if self.preset.constant else [])
        points += [dict(s) for s in starts]
        seen: dict[tuple[float, ...], tuple[float, float]] = {}

        def evaluate(theta: Mapping[str, float]) -> float:
            key = tuple(float(np.clip(theta[k], *bounds[k])) for k in self.names)
            if key not in seen:
                seen[key] = self.profile(steps, dict(zip(self.names, key, strict=True)), extra)
            return seen[key][1]

        for theta in points:
            evaluate(theta)
        best = np.array(min(seen, key=lambda k: seen[k][1]))
        if len(self.names) == 1:  # Brent between the best point's neighbours among those evaluated
            from scipy.optimize import minimize_scalar  # on first use: a fast import nqm.numerics

            tried = np.unique([k[0] for k in seen])
            i = int(np.searchsorted(tried, best[0]))
            lo, hi = tried[max(i - 1, 0)], tried[min(i + 1, tried.size - 1)]
            if hi > lo:
                minimize_scalar(lambda y: evaluate({self.names[0]: y}), bounds=(lo, hi), method="bounded",
                                options={"xatol": _SHAPE_XATOL, "maxiter": _SHAPE_MAXFEV})
        elif self.names:
            from scipy.optimize import minimize  # on first use: a fast import nqm.numerics

            minimize(lambda x: evaluate(dict(zip(self.names, x, strict=True))), best, method="Nelder-Mead",
                     bounds=[bounds[k] for k in self.names],
                     options={"xatol": _SHAPE_XATOL, "fatol": _SHAPE_FATOL, "maxfev": _SHAPE_MAXFEV})
        key = min(seen, key=lambda k: seen[k][1])
        peak, risk = seen[key]
        return _Tuned(peak, dict(zip(self.names, key, strict=True)), risk, const_lr, const_risk, len(seen))


class _PresetSearch(TotalSearch):
    """The feasibility test of the step search: does the tuned preset at a total reach the target?"""

    def __init__(self, tuner: _Tuner, target: float) -> None:
        super().__init__(target, 1)
        self.tuner = tuner
        self.found: dict[int, _Tuned] = {}
        self.evaluations = 0

    def tuned(self, total: int) -> _Tuned:
        if total not in self.found:
            near = sorted(self.found, key=lambda t: abs(t - total))[:2]  # warm starts: the nearest totals tested
            best = self.tuner.tune(total, [self.found[t].theta for t in near])
            self.evaluations += best.evaluations
            self.found[total], self.searched[total] = best, best.risk
        return self.found[total]

    def __call__(self, u: int) -> bool:
        return bool(reaches(self.tuned(u).risk, self.target))


def _family(preset: object) -> PresetFamily:
    if isinstance(preset, PresetFamily):
        return preset
    if isinstance(preset, str) and preset in PRESET_FAMILIES:
        return PRESET_FAMILIES[preset]
    raise ValueError(
        f"preset must be a PresetFamily or one of {', '.join(map(repr, PRESET_FAMILIES))}; got {_shown(preset)}"
    )


def _max_total(tuner: _Tuner) -> int:
    """Largest total the step search tries: :data:`MAX_SCHEDULE_STEPS` for piecewise-constant
    shapes, :data:`nqm.numerics.schedules.MAX_SCHEDULE_STEPS` for per-step ones."""
    default = tuner.preset.shape(MAX_SCHEDULE_STEPS, **tuner.preset.default, **tuner.options)
    return MAX_SCHEDULE_STEPS if default.pieces(MAX_SCHEDULE_STEPS) is not None else schedules.MAX_SCHEDULE_STEPS


@one_blas_thread
def tune_preset(
    problem: Problem,
    opt: OptimizerLike = "sgd",
    preset: str | PresetFamily = "step",
    *,
    batch_size: float,
    steps: int | None = None,
    target: float | None = None,
    options: Mapping[str, object] | None = None,
    max_lr: float | str | None = None,
    method: MapMethod = "auto",
) -> PresetResult:
    r"""The best member of a preset family of learning-rate schedules (module docstring).

    ``preset``: a name of :data:`PRESET_FAMILIES` or a :class:`PresetFamily`; ``options``: its
    fixed options (for ``"step"``: ``boundaries``, the fractions of the horizon where the rate
    drops, default ``(0.5, 0.75)``). Give exactly one of ``steps`` (the total :math:`T`: minimise
    the exact final risk :math:`\mathbb E\mathcal L(T)`) and ``target`` (the fewest steps for
    which the tuned preset reaches it; ``steps = math.inf`` if no total up to the search's limit
    does). ``opt`` is any spec with an ``lr`` (an instance's ``lr`` is tried as a peak; its other
    hyperparameters and ``precond_power`` stay fixed); every rate is at most ``max_lr`` (as for
    :func:`~nqm.numerics.optimal_schedule`). The certificates are in the module docstring.
    """
    fam = _family(preset)
    options = dict(options or {})
    clash = sorted(set(options) & set(fam.grids))
    if clash:
        raise ValueError(f"options must not set the tuned parameters of {fam.name!r}: {', '.join(clash)}")
    if (steps is None) == (target is None):
        raise ValueError("give exactly one of steps (the total to tune at) and target (the risk to reach)")
    lr_family = schedule_family(problem, opt, batch_size)
    cap = _resolve_cap(problem, opt, max_lr)
    base = schedule_optimizer(opt)
    peaks = np.array([float(base.lr)]) if isinstance(opt, Optimizer) else np.zeros(0)
    tuner = _Tuner(lr_family, fam, options, cap, method, peaks)
    if steps is not None:
        total = validate_count("steps", steps, 1, MAX_SCHEDULE_STEPS)
        tuner.pieces(total, fam.default)  # the options and the size are checked before any work
        return _preset_result(problem, opt, tuner, total, tuner.tune(total), float(total))
    target = validate_positive("target", target)
    B = lr_family.batch_size
    tuner.pieces(1, fam.default)
    if reaches(problem.initial_risk, target):
        r = _result(np.zeros(1, dtype=np.int64), np.full(1, cap), np.full(2, problem.initial_risk), cap, True,
                    "initial risk below target", 0, 0)
        return _as_preset(r, tuner, {"peak": cap, **fam.default}, math.nan, math.nan)
    search = _PresetSearch(tuner, target)
    limit = _max_total(tuner)
    lo = int(min(problem.bayes_bound_steps(target, B), limit) - 1)
    T_c, _ = best_constant(problem, opt, B, target, np.append(PAPER_SGD_LRS[PAPER_SGD_LRS <= cap], cap))
    found, lo = search_totals(search, lo, int(min(T_c, limit)) if math.isfinite(T_c) else lo + 1, limit)
    total = lo if found is None else found
    out = _preset_result(problem, opt, tuner, total, search.tuned(total), math.inf if found is None else float(found))
    out.searched = dict(sorted(search.searched.items()))
    out.evaluations = search.evaluations
    return out


def _preset_result(problem: Problem, opt: OptimizerLike, tuner: _Tuner, total: int, best: _Tuned,
                   steps: float) -> PresetResult:
    levels, lengths = tuner.pieces(total, best.theta)
    lrs = best.peak * levels
    risk = piecewise_risk(problem, opt, batch_size=tuner.family.batch_size, lrs=lrs, lengths=lengths,
                          method=tuner.method)
    r = _result(lengths, lrs, risk, tuner.cap, True, "best evaluated member", best.evaluations, steps)
    return _as_preset(r, tuner, {"peak": best.peak, **best.theta}, best.constant_lr, best.constant_risk)


def _as_preset(r: ScheduleResult, tuner: _Tuner, parameters: dict[str, float], constant_lr: float,
               constant_risk: float) -> PresetResult:
    return PresetResult(**{k: getattr(r, k) for k in r.__dataclass_fields__}, preset=tuner.preset.name,
                        parameters=parameters, options=dict(tuner.options), constant_lr=constant_lr,
                        constant_risk=constant_risk)
