r"""The coordinates in which the schedule optimiser moves: a box in which every point is a valid schedule.

A K-piece schedule of the varying quantities is the point :math:`x` of a box
:math:`[\ell, u]` (bounded L-BFGS-B then never leaves the region where the spec is defined):

* the learning rate by :math:`y = \log\alpha \in [\log 10^{-30}, \log\alpha_{\max}]` (the cap
  of :func:`~nqm.numerics.optimal_schedule`); :math:`\partial R/\partial y = \alpha\,\partial R/\partial\alpha`;
* a hyperparameter with a finite range :math:`[lo, hi)` (momentum's :math:`\beta`, EMA's
  :math:`\gamma`, QHM's :math:`\nu`) by the log of its distance to the upper end,
  :math:`y = \log(hi - u) \in [\log(hi - lo) - 30, \log(hi - lo)]`, so that values as close to
  the end as :math:`1 - 10^{-13}(hi - lo)` are reached with relative resolution;
  :math:`\partial R/\partial y = -(hi - u)\,\partial R/\partial u`;
* one with a range :math:`(lo, \infty)` by :math:`y = \log(u - lo)` in
  :math:`[\log 10^{-30}, \log 10^{6}]`.

:class:`LogRates` holds learning rates alone (the lr-only optimiser of the paper's protocol);
:class:`Transformed` any set of hyperparameters (the blocks of :math:`K` coordinates in the order
of ``vary``).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping

import numpy as np

from ._schedule_maps import LrFamily, MapMethod, ScheduleFamily, final_risk, risk_and_gradient

__all__ = ["Coordinates", "LogRates", "Transformed", "LOG_LR_FLOOR", "rates"]

#: lower bound of the log learning rates (exp(-69) ~ 1e-30: a piece that does nothing)
LOG_LR_FLOOR = -69.0
#: decades (natural log) below its range's width the distance of a bounded hyperparameter to its end reaches
_GAP_DECADES = 30.0
#: upper bound of log(u - lo) for a hyperparameter without an upper end (other than lr)
_LOG_UNBOUNDED_TOP = math.log(1e6)


def rates(x: np.ndarray, max_lr: float) -> np.ndarray:
    """The learning rates of log learning rates ``x`` at most ``log max_lr``: ``exp(x)``, never above
    ``max_lr`` (``exp(log max_lr)`` can round one unit above it, past a cap that may be the edge of
    the stability region)."""
    return np.minimum(np.exp(x), max_lr)


class Coordinates(ABC):
    """A box of coordinates ``x`` (shape ``(..., size)``) for K-piece schedules, with the exact
    final risk and its gradient in ``x``."""

    pieces: int
    lower: np.ndarray
    upper: np.ndarray

    def clip(self, x: np.ndarray) -> np.ndarray:
        """``x`` clipped into the box."""
        return np.clip(x, self.lower, self.upper)

    @abstractmethod
    def final_risk(self, xs: np.ndarray, lengths: np.ndarray, method: MapMethod) -> np.ndarray:
        """Exact final risks of the schedules ``xs`` (rows) with piece ``lengths``."""

    @abstractmethod
    def risk_and_gradient(self, x: np.ndarray, lengths: np.ndarray, method: MapMethod) -> tuple[float, np.ndarray]:
        """Exact final risk of one schedule ``x`` and its gradient in ``x``."""

    def authors(self, x: np.ndarray) -> bool:
        """Whether ``x`` is the authors' start (optimised their way: on R, scipy's tolerances)."""
        return False


class LogRates(Coordinates):
    """Log learning rates of an lr-only family, in ``[LOG_LR_FLOOR, log max_lr]`` (module docstring)."""

    def __init__(self, family: LrFamily, max_lr: float, pieces: int, authors_log_lr: float) -> None:
        self.family, self.max_lr, self.pieces = family, max_lr, pieces
        self.lower = np.full(pieces, LOG_LR_FLOOR)
        self.upper = np.full(pieces, math.log(max_lr))
        self.authors_start = min(authors_log_lr, math.log(max_lr))

    def final_risk(self, xs: np.ndarray, lengths: np.ndarray, method: MapMethod) -> np.ndarray:
        return final_risk(self.family, rates(xs, self.max_lr), np.broadcast_to(lengths, xs.shape), method)

    def risk_and_gradient(self, x: np.ndarray, lengths: np.ndarray, method: MapMethod) -> tuple[float, np.ndarray]:
        value, grad = risk_and_gradient(self.family, rates(x, self.max_lr), lengths, method)
        return float(value), np.asarray(grad, dtype=float)

    def authors(self, x: np.ndarray) -> bool:
        return bool(np.all(x == self.authors_start))


class _Axis:
    r"""The transform of one hyperparameter (module docstring): :math:`u = hi - e^y` for a finite
    upper end, :math:`u = lo + e^y` otherwise (the learning rate: :math:`lo = 0`, capped)."""

    def __init__(self, name: str, rng: tuple, max_lr: float) -> None:
        lo, hi = float(rng[0]), float(rng[1])
        if not math.isfinite(lo) and not math.isfinite(hi):
            raise ValueError(f"vary: {name} has no finite end to its range, so it cannot be optimised per piece")
        self.name, self.lo, self.hi = name, lo, hi
        self.from_top = math.isfinite(hi) and name != "lr"
        if name == "lr":
            self.bounds = (LOG_LR_FLOOR, math.log(max_lr))
            self.cap = max_lr
        elif self.from_top and math.isfinite(lo):
            width = math.log(hi - lo)
            self.bounds = (width - _GAP_DECADES, width)
        elif self.from_top:
            self.bounds = (-_GAP_DECADES, _LOG_UNBOUNDED_TOP)
        else:
            self.bounds = (LOG_LR_FLOOR, _LOG_UNBOUNDED_TOP)

    def value(self, y: np.ndarray) -> np.ndarray:
        if self.name == "lr":
            return rates(y, self.cap)
        if self.from_top:
            return np.maximum(self.hi - np.exp(y), self.lo)  # the rounding of hi - (hi - lo) stays at lo
        return self.lo + np.exp(y)

    def coordinate(self, u: np.ndarray) -> np.ndarray:
        """The coordinate of values ``u`` (clipped into the bounds by the caller)."""
        with np.errstate(divide="ignore"):
            return np.log(self.hi - u) if self.from_top else np.log(u - self.lo)

    def slope(self, u: np.ndarray) -> np.ndarray:
        """:math:`du/dy` at the values ``u``."""
        return -(self.hi - u) if self.from_top else u - self.lo


class Transformed(Coordinates):
    """Blocks of ``pieces`` coordinates, one per name of ``vary`` (module docstring), for a
    :class:`~nqm.numerics._schedule_maps.ScheduleFamily` varying exactly those hyperparameters."""

    def __init__(self, family: ScheduleFamily, vary: tuple[str, ...], max_lr: float, pieces: int) -> None:
        self.family, self.pieces = family, pieces
        self.axes = [_Axis(name, family.forms.ranges[name], max_lr) for name in vary]
        self.lower = np.repeat([a.bounds[0] for a in self.axes], pieces)
        self.upper = np.repeat([a.bounds[1] for a in self.axes], pieces)

    def values(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Per-piece values of each varying hyperparameter (``(..., pieces)``) at the points ``x``."""
        K = self.pieces
        return {a.name: a.value(x[..., i * K:(i + 1) * K]) for i, a in enumerate(self.axes)}

    def point(self, values: Mapping[str, object]) -> np.ndarray:
        """The point (clipped into the box) of per-piece ``values`` (each a number or ``pieces`` values)."""
        x = np.concatenate([
            self.axes[i].coordinate(np.broadcast_to(np.asarray(values[a.name], dtype=float), (self.pieces,)))
            for i, a in enumerate(self.axes)
        ])
        return self.clip(x)

    def final_risk(self, xs: np.ndarray, lengths: np.ndarray, method: MapMethod) -> np.ndarray:
        vals = self.values(xs)
        return final_risk(self.family, vals, np.broadcast_to(lengths, xs.shape[:-1] + (self.pieces,)), method)

    def risk_and_gradient(self, x: np.ndarray, lengths: np.ndarray, method: MapMethod) -> tuple[float, np.ndarray]:
        vals = self.values(x)
        risk, grads = risk_and_gradient(self.family, vals, lengths, method, wrt=[a.name for a in self.axes])
        grad = np.concatenate([grads[a.name] * a.slope(vals[a.name]) for a in self.axes])
        return float(risk), np.asarray(grad, dtype=float)
