r"""How far tuned learning-rate presets are from the optimal schedule, across batch sizes.

At each batch size B the budget is the constant run's fewest steps :math:`T(B)` to the target
(:func:`~nqm.numerics.tune`: at :math:`T(B)` the best constant rate of the grid just reaches it).
At that budget :func:`preset_gaps` reports the exact final risk :math:`\mathbb E\mathcal L(T)` of

* ``constant``: the tuned constant run (at most the target);
* ``cosine``: cosine decay to 0 (Loshchilov & Hutter 2017), its peak tuned
  (:func:`~nqm.numerics.tune_preset`);
* ``wsd``: warmup-stable-decay with the common linear cooldown over the last 20 % of the steps
  (Hägele et al. 2024; no warmup), its peak tuned;
* ``optimum``: the best piecewise-constant schedule of ``pieces`` equal pieces
  (:func:`~nqm.numerics.optimize_schedule`, certified never worse than the best constant rate).

The ratios ``wsd / optimum`` and ``cosine / wsd`` say how much WSD loses to the optimum and cosine to
WSD. Only the learning rate varies; the other hyperparameters stay at the constant run's optimum.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from . import schedules
from ._forms import validate_batch_sizes, validate_count
from ._optimizers import OptimizerLike, as_optimizer_spec
from ._problem import Problem
from ._risk import expected_risk
from ._schedule_opt import optimize_schedule
from ._schedule_tune import PresetFamily, tune_preset
from ._tables import Columns, Tabular
from ._tune import OPTIMIZERS_OWN, tune

__all__ = ["PresetGaps", "WSD_COOLDOWN", "preset_gaps"]

#: the cooldown fraction of the WSD compared (Hägele et al. 2024's common choice)
WSD_COOLDOWN = 0.2
#: the runs compared, in order
RUNS = ("constant", "cosine", "wsd", "optimum")


def _wsd_shape(steps: int) -> schedules.Schedule:
    """WSD at peak 1 with a linear cooldown over the last :data:`WSD_COOLDOWN` of the horizon."""
    return schedules.wsd(1.0, cooldown=WSD_COOLDOWN)


_WSD = PresetFamily("wsd", _wsd_shape, {}, {})


@dataclass(frozen=True)
class PresetGaps(Tabular):
    """Final risks at each batch size's budget (module docstring): ``batch_sizes``, ``budgets`` (the
    constant run's steps), ``risks`` (run name -> array over B) and ``peaks`` (the tuned peak or constant
    learning rate; for the optimum its largest rate) and ``schedules`` (each run's learning rates per
    constant piece and the pieces' lengths, per batch size).

    Tables: ``"rows"`` (one row per batch size: ``batch_size``, ``budget``, each run's final risk and
    peak, and the ratios ``wsd_over_optimum`` and ``cosine_over_wsd``).
    """

    optimizer: str
    target: float
    pieces: int
    problem: str
    batch_sizes: np.ndarray
    budgets: np.ndarray
    risks: Mapping[str, np.ndarray]
    peaks: Mapping[str, np.ndarray]
    #: run -> per batch size, the learning rates of the schedule's constant pieces and their lengths
    schedules: Mapping[str, tuple[tuple[np.ndarray, np.ndarray], ...]] = field(default_factory=dict, repr=False)

    def ratio(self, run: str, over: str) -> np.ndarray:
        """Final risk of ``run`` over that of ``over`` at each batch size."""
        return self.risks[run] / self.risks[over]

    def _tables(self) -> dict[str, tuple[str, ...]]:
        return {"rows": ("batch_size",)}

    def _columns(self, table: str) -> Columns:
        return {"batch_size": self.batch_sizes, "budget": self.budgets,
                **{f"{r}_risk": self.risks[r] for r in RUNS}, **{f"{r}_peak": self.peaks[r] for r in RUNS},
                "wsd_over_optimum": self.ratio("wsd", "optimum"), "cosine_over_wsd": self.ratio("cosine", "wsd")}

    def _meta(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer, "target": self.target, "pieces": self.pieces, "problem": self.problem,
                "wsd_cooldown": WSD_COOLDOWN}


def preset_gaps(
    problem: Problem,
    optimizer: OptimizerLike = "sgd",
    *,
    batch_sizes: ArrayLike,
    target: float = 0.01,
    pieces: int = 20,
    precond_power: float = OPTIMIZERS_OWN,
    **tuning: Any,
) -> PresetGaps:
    """Constant, tuned cosine, tuned WSD and the optimal ``pieces``-piece schedule at each batch size's budget
    (module docstring). ``optimizer``, ``precond_power`` and ``tuning`` (``grid=`` and fixed values) as for
    :func:`~nqm.numerics.tune`; the budget must be finite (the target reached at every B) and at least 1. A
    budget T below ``pieces`` gets the optimal schedule of T one-step pieces (every piece at least one step)."""
    Bs = np.sort(validate_batch_sizes(batch_sizes, "batch_sizes"))
    pieces = validate_count("pieces", pieces, 1)
    risks: dict[str, list[float]] = {r: [] for r in RUNS}
    peaks: dict[str, list[float]] = {r: [] for r in RUNS}
    budgets = []
    pieces_of: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {r: [] for r in RUNS}
    for B in Bs:
        base = tune(problem, optimizer, batch_size=float(B), target=target, precond_power=precond_power, **tuning)
        if base.optimizer is None or not 1 <= base.steps:
            raise ValueError(f"batch_sizes: the constant run must reach the target in at least 1 step at every batch "
                             f"size; at B = {B:g} it takes {base.steps}")
        T, opt = int(base.steps), base.optimizer
        budgets.append(T)
        risks["constant"].append(float(expected_risk(problem, opt, batch_size=float(B), steps=[T])[0]))
        peaks["constant"].append(float(base.hyperparameters["lr"]))
        pieces_of["constant"].append((np.array([peaks["constant"][-1]]), np.array([T])))
        for name, family in (("cosine", "cosine"), ("wsd", _WSD)):
            r = tune_preset(problem, opt, family, batch_size=float(B), steps=T)
            risks[name].append(r.final_risk)
            peaks[name].append(r.parameters["peak"])
            pieces_of[name].append((r.lrs, r.lengths))
        best = optimize_schedule(problem, opt, batch_size=float(B), steps=T, pieces=min(pieces, T))
        risks["optimum"].append(best.final_risk)
        peaks["optimum"].append(float(np.max(best.lrs)))
        pieces_of["optimum"].append((best.lrs, best.lengths))
    return PresetGaps(as_optimizer_spec(optimizer).name, float(target), pieces, problem.name, Bs,
                      np.array(budgets, dtype=float), {k: np.array(v) for k, v in risks.items()},
                      {k: np.array(v) for k, v in peaks.items()}, {k: tuple(v) for k, v in pieces_of.items()})
