r"""Batch-size sweeps: tuned steps to target against B (Fig. 3a, 4, 11, 13, 14).

:func:`sweep` tunes the optimizer at every batch size (:func:`~nqm.numerics.tune`'s grid
search, exact) and returns a :class:`Sweep` table: per batch size the fewest steps, the
chosen hyperparameters, the effective learning rate, and the information-theoretic lower
bound :math:`\tfrac12\operatorname{tr}(H^{-1}C)/(\varepsilon B)` (Section 3.6); plus both
critical batch sizes (:mod:`._critical`).

The sweep runs in increasing B with a warm start. For fixed hyperparameters the expected
risk is pointwise non-increasing in B (the noise part scales as :math:`1/B`, the start part
does not depend on B), so the previous optimum's steps are an exact upper bound for the next
batch size, and every grid point's certified lower bound carries over scaled by
:math:`B_{\rm prev}/B`; the transition invariants are built once.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ._critical import CriticalBatchSizes, critical_batch_sizes
from ._forms import forms_for
from ._model import build_model, validate_batch_size
from ._optimizers import Optimizer
from ._problem import Problem
from ._steps import validate_target
from ._tune import GridSearch, _axes, _refine, resolve_spec_name

__all__ = ["SweepRow", "Sweep", "sweep", "effective_lr", "LearningRateTable", "optimal_learning_rates", "PAPER_BATCH_SIZES"]

#: the paper's batch sizes 2^2, 2^4, ..., 2^20 (Fig. 3a)
PAPER_BATCH_SIZES = 2.0 ** np.arange(2, 21, 2)
#: curvature at which the effective learning rate is read off (the slope as h -> 0)
_H_EFF = 1e-12


def effective_lr(opt: Optimizer) -> np.ndarray:
    r"""Effective learning rate: the decay rate of the slowest mode per unit curvature as :math:`h\to0`.

    The slow eigenvalue of the transition is :math:`1 - \alpha_{\rm eff}h + O(h^2)`:
    :math:`\alpha_{\rm eff} = \alpha/(1-\beta)` for heavy-ball momentum and Nesterov
    (Section 3.3, Fig. 11), :math:`\alpha` for SGD and EMA. Read off from the engine's
    invariants at :math:`h = 10^{-12}` (:math:`\mu_1/h`, relative error about
    :math:`10^{-12}\alpha_{\rm eff}`); specs with more than two states use the eigenvalues of
    the transition at :math:`h = 10^{-6}` (relative error about :math:`10^{-6}`). Shape: the
    optimizer's grid.
    """
    probe = Problem([_H_EFF], c=[0.0], name="effective-lr probe")
    plain = opt.replace(precond_power=0.0)
    model = build_model(probe, plain, 1.0)
    if model.powers is not None:
        return -np.asarray(model.powers.mu1)[..., 0] / _H_EFF
    h = 1e-6
    model = build_model(Problem([h], c=[0.0]), plain, 1.0)
    mu = np.linalg.eigvals(model.inv["D"])
    slow = np.max(mu.real, axis=-1)
    return -slow[..., 0] / h


@dataclass(frozen=True)
class SweepRow:
    """One batch size: fewest steps (``inf`` if never), the chosen hyperparameters (empty if
    none), the effective learning rate, the information bound, and whether the grid
    optimum lies at an end of an axis (``at_edge`` names those hyperparameters)."""

    batch_size: float
    steps: float
    hyperparameters: dict[str, float]
    effective_lr: float
    information_bound: float
    at_edge: tuple[str, ...] = ()
    refined: bool = False


@dataclass(frozen=True)
class Sweep:
    """Tuned steps to target against batch size, for one optimizer and preconditioner power.

    ``rows`` in increasing batch size. Columns as arrays: :attr:`batch_sizes`,
    :attr:`steps`, :attr:`information_bounds`, :meth:`column`. Export with :meth:`to_csv`
    and :meth:`to_json`; :meth:`critical_batch_sizes` gives both definitions.
    """

    optimizer: str
    precond_power: float
    target: float
    problem: str
    rows: tuple[SweepRow, ...]
    grid: dict[str, np.ndarray] = field(repr=False)

    @property
    def batch_sizes(self) -> np.ndarray:
        return np.array([r.batch_size for r in self.rows])

    @property
    def steps(self) -> np.ndarray:
        return np.array([r.steps for r in self.rows])

    @property
    def information_bounds(self) -> np.ndarray:
        return np.array([r.information_bound for r in self.rows])

    def column(self, name: str) -> np.ndarray:
        """A hyperparameter (``"lr"``, ``"beta"``, ...) or ``"effective_lr"`` per row (``nan`` where no optimum)."""
        if name == "effective_lr":
            return np.array([r.effective_lr for r in self.rows])
        return np.array([r.hyperparameters.get(name, math.nan) for r in self.rows])

    def critical_batch_sizes(self) -> CriticalBatchSizes:
        """McCandlish's fit and the 2x perfect-scaling breakdown of this curve (:mod:`._critical`)."""
        return critical_batch_sizes(self.batch_sizes, self.steps)

    def learning_rate_scaling(self, max_batch_size: float | None = None) -> float:
        r"""Least-squares slope of :math:`\log\alpha_{\rm eff}` against :math:`\log B` (Fig. 14).

        Over the rows with an optimum and :math:`B \le` ``max_batch_size`` (default: the
        2x perfect-scaling critical batch size); 1 means the optimal learning rate scales
        linearly with B. ``nan`` with fewer than two rows.
        """
        if max_batch_size is None:
            max_batch_size = self.critical_batch_sizes().perfect_scaling_2x
        B, lr = self.batch_sizes, self.column("effective_lr")
        use = np.isfinite(lr) & (B <= max_batch_size)
        if use.sum() < 2:
            return math.nan
        return float(np.polyfit(np.log(B[use]), np.log(lr[use]), 1)[0])

    def records(self) -> list[dict[str, object]]:
        """One flat dict per row (hyperparameters as their own columns)."""
        names = list(self.grid) + [p for r in self.rows for p in r.hyperparameters if p not in self.grid]
        names = list(dict.fromkeys(names))
        out = []
        for r in self.rows:
            rec: dict[str, object] = {
                "optimizer": self.optimizer,
                "precond_power": self.precond_power,
                "target": self.target,
                "batch_size": r.batch_size,
                "steps": r.steps,
            }
            rec.update({p: r.hyperparameters.get(p, math.nan) for p in names})
            rec.update(
                effective_lr=r.effective_lr,
                information_bound=r.information_bound,
                at_edge=" ".join(r.at_edge),
                refined=r.refined,
            )
            out.append(rec)
        return out

    def to_csv(self, path: str | Path) -> Path:
        """Write :meth:`records` as CSV (``inf``/``nan`` spelled so); returns the path."""
        path = Path(path)
        recs = self.records()
        with path.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(recs[0]) if recs else ["batch_size", "steps"])
            writer.writeheader()
            writer.writerows(recs)
        return path

    def to_json(self, path: str | Path) -> Path:
        """Write the table, grid and both critical batch sizes as JSON (non-finite numbers as strings)."""

        def clean(v: object) -> object:
            if isinstance(v, float) and not math.isfinite(v):
                return str(v)
            if isinstance(v, dict):
                return {k: clean(x) for k, x in v.items()}
            if isinstance(v, (list, tuple)):
                return [clean(x) for x in v]
            return v

        crit = self.critical_batch_sizes()
        doc = {
            "optimizer": self.optimizer,
            "precond_power": self.precond_power,
            "target": self.target,
            "problem": self.problem,
            "grid": {k: v.tolist() for k, v in self.grid.items()},
            "rows": self.records(),
            "critical_batch_size": {
                "mccandlish": None if crit.mccandlish is None else asdict(crit.mccandlish),
                "perfect_scaling_2x": crit.perfect_scaling_2x,
            },
        }
        path = Path(path)
        path.write_text(json.dumps(clean(doc), indent=2))
        return path


def sweep(
    problem: Problem,
    optimizer: object,
    *,
    batch_sizes: object = PAPER_BATCH_SIZES,
    target: object = 0.01,
    grid: Mapping[str, object] | None = None,
    precond_power: object = 0.0,
    refine: bool = False,
    **fixed: object,
) -> Sweep:
    r"""Tune ``optimizer`` at every batch size: the steps-vs-B table of Fig. 3a.

    Arguments as for :func:`~nqm.numerics.tune` (the paper's grids by default); rows come
    in increasing batch size. Exact: each row equals ``tune`` at that batch size (the warm
    start only skips provably losing work, module docstring). ``refine=True`` refines each
    row past the grid (the warm start keeps using the on-grid optima).
    """
    name = resolve_spec_name(optimizer)
    forms = forms_for(name)
    Bs = validate_batch_size(batch_sizes)
    if Bs.ndim != 1 or Bs.size == 0:
        raise ValueError(f"batch_sizes must be a non-empty 1-D array of numbers >= 1; got shape {Bs.shape}")
    if np.unique(Bs).size != Bs.size:
        raise ValueError("batch_sizes must be distinct")
    eps = validate_target(target)
    axes, values = _axes(forms, grid, fixed)
    search = GridSearch(problem, name, axes, values, precond_power)
    rows = []
    upper = math.inf
    for B in np.sort(Bs):
        steps, idx = search.minimum(float(B), eps, upper)
        upper = steps
        bound = float(problem.information_bound(eps, B))
        if idx is None:
            rows.append(SweepRow(float(B), math.inf, {}, math.nan, bound))
            continue
        index = np.unravel_index(idx, search.shape)
        edges = tuple(p for (p, a), i in zip(axes.items(), index) if a.size > 1 and i in (0, a.size - 1))
        hyper = search.hyperparameters(idx)
        best, refined = steps, False
        if refine:
            best, hyper, refined = _refine(problem, forms, search, steps, hyper, float(B), eps)
        lr_eff = float(effective_lr(Optimizer(name, **hyper)))
        rows.append(SweepRow(float(B), float(best), hyper, lr_eff, bound, edges, refined))
    return Sweep(name, search.precond_power, eps, problem.name, tuple(rows), axes)


@dataclass(frozen=True)
class LearningRateTable:
    r"""Optimal learning rate against batch size (Fig. 14; Fig. 11 for momentum's effective rate).

    Arrays per batch size: ``lr`` (the tuned :math:`\alpha`), ``effective_lr``
    (:func:`effective_lr`, :math:`\alpha/(1-\beta)` for momentum), ``steps``;
    ``scaling_exponent``: the log-log slope of ``effective_lr`` below the 2x
    perfect-scaling critical batch size (1 = linear scaling, the paper's claim).
    """

    batch_sizes: np.ndarray
    lr: np.ndarray
    effective_lr: np.ndarray
    steps: np.ndarray
    scaling_exponent: float

    def to_csv(self, path: str | Path) -> Path:
        """Write the columns as CSV; returns the path."""
        path = Path(path)
        with path.open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["batch_size", "lr", "effective_lr", "steps"])
            writer.writerows(zip(self.batch_sizes, self.lr, self.effective_lr, self.steps))
        return path


def optimal_learning_rates(problem: Problem, optimizer: object, **sweep_args: object) -> LearningRateTable:
    """The tuned (and effective) learning rate at each batch size; arguments as for :func:`sweep`.

    The paper's Fig. 14 uses SGD up to :math:`B = 2^{21}`:
    ``optimal_learning_rates(prob, nn.SGD, batch_sizes=2.0 ** np.arange(0, 22))``.
    """
    table = sweep(problem, optimizer, **sweep_args)  # type: ignore[arg-type]
    return LearningRateTable(
        table.batch_sizes, table.column("lr"), table.column("effective_lr"), table.steps, table.learning_rate_scaling()
    )
