r"""What the schedule optimiser varies: the learning rate alone, or any set of hyperparameters.

:class:`LrSetup` is the paper's problem (log learning rates, :class:`~._schedule_coords.LogRates`);
:class:`VarySetup` optimises the per-piece values of several hyperparameters of any spec at once
(e.g. ``("lr", "beta")`` for momentum) in the coordinates of :class:`~._schedule_coords.Transformed`,
with the exact gradients of :func:`~._schedule_maps.risk_and_gradient`.

Both give the optimiser, at every total :math:`T`, the same kinds of starts
(:func:`~._schedule_search.standard_starts` for the learning rate) and one certificate: the
**best constant setting** at :math:`T`. For the learning rate alone it is
:func:`~._schedule_search.best_constant_at`. With several quantities it is the best, at
:math:`T`, over a grid of the other varying hyperparameters (:func:`constant_grid`: for a range
:math:`[lo, hi)` the values :math:`hi - (hi - lo)\{1, \tfrac12, 10^{-1}, 10^{-2}, 10^{-3}\}`
inside it — for :math:`\beta`: 0, 0.5, 0.9, 0.99, 0.999 — plus the optimizer's own value) of
the best constant learning rate at each grid point (:func:`~._schedule_search.best_scale_at`,
the same 1-D search), or of the risk itself when the learning rate does not vary.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping

import numpy as np

from ._optimizers import Optimizer
from ._problem import Problem
from ._schedule import piecewise_risk
from ._schedule_coords import LogRates, Transformed, rates
from ._schedule_maps import LrFamily, MapMethod, ScheduleFamily, boundary_risk, final_risk, piece_maps, propagate
from ._schedule_search import AUTHORS_LOG_LR, best_constant_at, best_scale_at, standard_starts

__all__ = ["LrSetup", "VarySetup", "constant_grid"]

#: fractions of a finite range's width below its upper end in the grid of constant settings
_GRID_GAPS = (1.0, 0.5, 0.1, 0.01, 0.001)


def constant_grid(rng: tuple, own: float) -> np.ndarray:
    """The grid of constant values of one hyperparameter (module docstring), with ``own``."""
    lo, hi, lo_closed, _ = rng
    if math.isfinite(lo) and math.isfinite(hi):
        grid = [hi - (hi - lo) * g for g in _GRID_GAPS if g < 1.0 or lo_closed]
    else:
        grid = [own * f for f in (0.1, 0.3, 3.0, 10.0)]
    return np.unique(np.array([*grid, own], dtype=float))


class LrSetup:
    """The learning rate alone (the paper's schedules): log rates under the cap ``max_lr``."""

    names = ("lr",)

    def __init__(self, problem: Problem, opt: Optimizer, family: LrFamily, max_lr: float, pieces: int,
                 method: MapMethod, extra: np.ndarray) -> None:
        self.problem, self.opt, self.family, self.cap, self.pieces, self.method = (
            problem, opt, family, max_lr, pieces, method)
        self.extra = extra  # rates tried besides the grid by the best constant rate
        self.batch_size = family.batch_size
        self.coords = LogRates(family, max_lr, pieces, AUTHORS_LOG_LR)
        self.constant: dict[int, float] = {}  # best constant rate at each total

    def constant_lr(self, total: int) -> float:
        if total not in self.constant:
            self.constant[total] = best_constant_at(self.family, total, self.cap, self.method, self.extra)
        return self.constant[total]

    def starts(self, total: int, start: np.ndarray) -> list[np.ndarray]:
        """:func:`standard_starts` with the best constant rate at ``total``."""
        return standard_starts(self.pieces, self.cap, self.constant_lr(total), start)

    def values(self, x: np.ndarray) -> dict[str, np.ndarray]:
        return {"lr": rates(x, self.cap)}

    def point(self, values: Mapping[str, object]) -> np.ndarray:
        """Log learning rates (clipped into the box) of ``values["lr"]`` (a number or one per piece)."""
        return self.coords.clip(np.log(np.broadcast_to(np.asarray(values["lr"], dtype=float), (self.pieces,))))

    def boundary_risk(self, x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Exact risk at every piece boundary of the schedule ``x``."""
        return piecewise_risk(self.problem, self.opt, batch_size=self.family.batch_size, lrs=rates(x, self.cap),
                              lengths=lengths, method=self.method)


class VarySetup:
    """Several hyperparameters ``vary`` of ``opt`` per piece (module docstring); the others, the
    batch size and ``precond_power`` constant; ``opt``'s values are the starts' values."""

    def __init__(self, problem: Problem, opt: Optimizer, vary: tuple[str, ...], batch_size: float, max_lr: float,
                 pieces: int, method: MapMethod, extra: np.ndarray) -> None:
        self.problem, self.opt, self.names, self.cap, self.pieces, self.method = (
            problem, opt, vary, max_lr, pieces, method)
        self.batch_size, self.extra = batch_size, extra
        self.family = ScheduleFamily(problem, opt, vary, batch_size)
        self.coords = Transformed(self.family, vary, max_lr, pieces)
        self.own = {name: float(opt.hyperparameters[name]) for name in vary}
        others = [n for n in vary if n != "lr"]
        self.grid = [dict(zip(others, p, strict=True))
                     for p in itertools.product(*(constant_grid(opt.forms.ranges[n], self.own[n]) for n in others))]
        self.constant: dict[int, dict[str, float]] = {}

    def best_constant(self, total: int) -> dict[str, float]:
        """The best constant setting at ``total`` (module docstring) and its ``"risk"``."""
        if total not in self.constant:
            best = {"risk": math.inf}
            for point in self.grid:
                if "lr" in self.names:
                    fam = LrFamily(self.problem, self.opt.replace(**point), self.batch_size)
                    lr, risk = best_scale_at(fam, np.ones(1), np.array([total]), self.cap, self.method, self.extra)
                    cand = {**point, "lr": lr}
                else:
                    cand = dict(point)
                    vals = {n: np.array([[cand[n]]]) for n in self.names}
                    risk = float(final_risk(self.family, vals, np.array([[total]]), self.method)[0])
                risk = risk if math.isfinite(risk) and risk >= 0 else math.inf
                if risk < best["risk"]:
                    best = {**cand, "risk": risk}
            self.constant[total] = best
        return self.constant[total]

    def starts(self, total: int, start: np.ndarray) -> list[np.ndarray]:
        """The best constant setting; with the learning rate varying also the authors' start, the
        caller's ``start`` (log rates; the others at ``opt``'s values) and the decaying shape of
        :func:`standard_starts` (the others at the best constant setting's values)."""
        const = self.best_constant(total)
        out = [self.coords.point({n: const[n] for n in self.names})]
        if "lr" in self.names:
            authors, own, _, decay = standard_starts(self.pieces, self.cap, const["lr"], start)
            for lrs, rest in ((authors, self.own), (own, self.own), (decay, const)):
                out.append(self.coords.point({**{n: rest[n] for n in self.names}, "lr": rates(lrs, self.cap)}))
        return out

    def values(self, x: np.ndarray) -> dict[str, np.ndarray]:
        return self.coords.values(x)

    def boundary_risk(self, x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Exact risk at every piece boundary of the schedule ``x`` (the segment maps)."""
        vals = {n: v[:, None] for n, v in self.values(x).items()}  # pieces first
        maps = piece_maps(self.family, vals, np.asarray(lengths)[:, None], method=self.method)
        m, N = propagate(self.family, maps)
        return boundary_risk(self.family, maps, m, N)[:, 0]

    def point(self, values: Mapping[str, object]) -> np.ndarray:
        return self.coords.point(values)
