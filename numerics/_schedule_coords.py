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

:class:`LogRates` holds learning rates alone (the lr-only optimiser of the paper's protocol).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import numpy as np

from ._schedule_maps import LrFamily, MapMethod, final_risk, risk_and_gradient

__all__ = ["Coordinates", "LogRates", "LOG_LR_FLOOR", "rates"]

#: lower bound of the log learning rates (exp(-69) ~ 1e-30: a piece that does nothing)
LOG_LR_FLOOR = -69.0


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

    @property
    def size(self) -> int:
        """Number of coordinates."""
        return int(self.lower.size)

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
