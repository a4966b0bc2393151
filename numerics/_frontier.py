r"""Steps against examples: the cost of reaching a target, its Pareto frontier and McCandlish's relation.

Training to a target risk :math:`\varepsilon` costs :math:`S` steps and :math:`E = \sum_{t<S} B_t`
examples (:math:`E = BS` at a constant batch size B). Over a family of runs indexed by a batch
size (a constant B tuned at every B, :func:`~nqm.numerics.sweep`), the points :math:`(S, E)` trade
one cost for the other. This module reports

* the **Pareto frontier**: the points no other point beats in both costs (point k is on it iff no
  point j has :math:`S_j \le S_k` and :math:`E_j \le E_k` with :math:`(S_j, E_j) \ne (S_k, E_k)`;
  equal points are all on it; a point that never reaches the target is not);
* **McCandlish's relation** (McCandlish et al. 2018, "An Empirical Model of Large-Batch Training",
  eq. 2.11),

  .. math::

      \Bigl(\frac{S}{S_{\min}} - 1\Bigr)\Bigl(\frac{E}{E_{\min}} - 1\Bigr) = 1
      \iff \frac{S_{\min}}{S} + \frac{E_{\min}}{E} = 1
      \iff S = S_{\min} + \frac{E_{\min}}{E/S},

  fitted by :func:`~nqm.numerics.mccandlish_fit` at the mean batch size :math:`E/S` of each point
  (for a constant B exactly :math:`S = S_{\min} + E_{\min}/B`), and its **residual** per point,
  :math:`r = S_{\min}/S + E_{\min}/E - 1` (0 where the relation holds; the fit's relative
  residual, bounded by 1 in size on either side for positive costs), beside the product form
  :math:`(S/S_{\min}-1)(E/E_{\min}-1)`;
* two **exact anchors** that do not come from a fit: no run of the optimizer on the same grid takes
  fewer steps than the noise-free problem (:math:`C = 0`, the limit :math:`B\to\infty`: for fixed
  hyperparameters the risk's noise part is non-negative and falls as :math:`1/B`), and no method
  whatsoever uses fewer examples than the Bayes bound
  (:meth:`~nqm.numerics.Problem.bayes_bound_steps` at :math:`B = 1`). The fitted :math:`S_{\min}`
  and :math:`E_{\min}` can be compared with them.

The **anchored residual** :math:`S_\infty/S + E_{\rm low}/E - 1` replaces the fitted pair by the
noise-free steps :math:`S_\infty` (exact) and the fewest examples among the points
:math:`E_{\rm low}` (an upper bound of the family's infimum): without a fit it is about 0 at both
ends of a wide batch-size range, and its value at the knee measures how far the family's trade-off
is from McCandlish's hyperbola there (positive: the points cost less than the hyperbola through the
two ends says).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ._batch_ramps import first_hit_under_batch_schedule
from ._critical import McCandlishFit, mccandlish_fit
from ._forms import real_array, validate_count, validate_hyperparameter, validate_positive
from ._optimizers import OptimizerLike, as_optimizer_spec
from ._parallel import ExecutorArg
from ._problem import Problem
from ._schedule import split_steps
from ._schedule_steps import examples_until
from ._sweep import PAPER_BATCH_SIZES, Sweep, sweeps
from ._tables import Columns, Tabular
from ._tune import OPTIMIZERS_OWN

__all__ = ["BatchRamp", "RAMP_LR_FACTORS", "StepsExamples", "mccandlish_residuals", "pareto_front", "steps_examples"]

#: default reporting threshold of :attr:`StepsExamples.holds`: the size of the residual at most this
RELATION_TOLERANCE = 0.1
#: a batch ramp's learning rate is re-tuned over the constant-B optimum times these factors (it included)
RAMP_LR_FACTORS = np.logspace(-1, 1, 21)


@dataclass(frozen=True)
class BatchRamp:
    r"""A batch-size warmup to a final batch size B by doubling (Smith et al. 2018; Brown et al. 2020).

    The batch size is :math:`B/2^n, B/2^{n-1}, \dots, B/2` (``doublings`` = n levels, each raised to
    at least 1, equal neighbours merged), each held for an equal share (:func:`~nqm.numerics.split_steps`)
    of the first :math:`R = \lceil fS_c(B)\rceil` steps, then B for good; :math:`S_c(B)` is the tuned
    constant-B steps to the target and f = ``fraction`` in (0, 1]. The schedule does not depend on
    the horizon, so its steps to the target are a first hit.
    """

    doublings: int = 4
    fraction: float = 0.25

    def __post_init__(self) -> None:
        validate_count("doublings", self.doublings, 1, 60)
        validate_hyperparameter("fraction", self.fraction, (0.0, 1.0, False, True))

    def schedule(self, batch_size: float, constant_steps: float) -> tuple[np.ndarray, np.ndarray]:
        """``(levels, starts)``: the batch size ``levels[k]`` from step ``starts[k]`` on."""
        n = self.doublings
        ramp = max(math.ceil(self.fraction * constant_steps), n)
        levels = np.maximum(batch_size * 2.0 ** -np.arange(n, -1, -1), 1.0)
        starts = np.concatenate([[0], np.cumsum(split_steps(ramp, n))])
        keep = np.concatenate([[True], levels[1:] != levels[:-1]])
        return levels[keep], starts[keep]

    def describe(self) -> str:
        return f"batch ramp: {self.doublings} doublings to B over {self.fraction:g} of the constant-B steps"


def _costs(steps: object, examples: object) -> tuple[np.ndarray, np.ndarray]:
    """Validated 1-D steps and examples of equal length, in [0, inf] (inf: never reached)."""
    S = real_array("steps", steps, "numbers in [0, inf]")
    E = real_array("examples", examples, "numbers in [0, inf]")
    if S.ndim != 1 or S.shape != E.shape:
        raise ValueError(
            f"steps and examples must be 1-D arrays of the same length; got shapes {S.shape} and {E.shape}"
        )
    for name, arr in (("steps", S), ("examples", E)):
        if np.any(np.isnan(arr) | (arr < 0)):
            raise ValueError(
                f"{name} must be numbers in [0, inf] (inf: the target is never reached); got NaN or a negative value"
            )
    return S.astype(float), E.astype(float)


def pareto_front(steps: ArrayLike, examples: ArrayLike) -> np.ndarray:
    r"""Which points :math:`(S_k, E_k)` are on the Pareto frontier (boolean mask, module docstring).

    Point k is on it iff it is finite and no point j has :math:`S_j \le S_k`, :math:`E_j \le E_k`
    and :math:`(S_j, E_j) \ne (S_k, E_k)`.
    """
    S, E = _costs(steps, examples)
    finite = np.isfinite(S) & np.isfinite(E)
    le = (S[None, :] <= S[:, None]) & (E[None, :] <= E[:, None])  # [k, j]: j at most k in both
    differs = (S[None, :] != S[:, None]) | (E[None, :] != E[:, None])
    dominated = np.any(le & differs & finite[None, :], axis=1)
    return finite & ~dominated


def mccandlish_residuals(steps: ArrayLike, examples: ArrayLike, fit: McCandlishFit) -> tuple[np.ndarray, np.ndarray]:
    r"""``(residual, relation)`` of McCandlish's relation at each point under ``fit``.

    ``residual`` :math:`= S_{\min}/S + E_{\min}/E - 1` (0 where the relation holds) and ``relation``
    :math:`= (S/S_{\min} - 1)(E/E_{\min} - 1)` (1 where it holds; ``nan`` when :math:`S_{\min}` or
    :math:`E_{\min}` is 0). Points that never reach the target give ``nan``.
    """
    S, E = _costs(steps, examples)
    with np.errstate(divide="ignore", invalid="ignore"):
        finite = np.isfinite(S) & np.isfinite(E) & (S > 0) & (E > 0)
        residual = np.where(finite, fit.S_min / S + fit.E_min / E - 1.0, np.nan)
        if fit.S_min > 0 and fit.E_min > 0:
            relation = np.where(finite, (S / fit.S_min - 1.0) * (E / fit.E_min - 1.0), np.nan)
        else:
            relation = np.full(S.shape, np.nan)
    return residual, relation


@dataclass(frozen=True)
class StepsExamples(Tabular):
    r"""Steps and examples to a target over a batch-size family, with its frontier and McCandlish's relation.

    Per point (arrays in increasing batch size): ``batch_sizes``, ``steps`` :math:`S` (``inf`` if the
    target is never reached), ``examples`` :math:`E = \sum_{t<S}B_t`, ``hyperparameters`` (the tuned
    values). ``fit``: McCandlish's :math:`S_{\min}, E_{\min}` fitted to the points (``None`` with fewer
    than 2 finite points); ``noise_free_steps``: the exact lower bound on S (the same optimizer and
    grid on the problem with :math:`C = 0`); ``bayes_examples``: the exact lower bound on E of any
    method (module docstring); ``tolerance``: the reporting threshold of :attr:`holds`.

    Tables: ``"points"`` (default; one row per batch size: ``batch_size``, ``steps``, ``examples``,
    ``mean_batch_size`` :math:`E/S`, ``pareto``, ``residual``, ``relation``, ``holds``,
    ``anchored_residual`` and each hyperparameter) and ``"fit"`` (one row: ``S_min``, ``E_min``,
    ``B_crit``, ``rms_relative_error``, ``noise_free_steps``, ``bayes_examples``).
    """

    optimizer: str
    precond_power: float
    target: float
    problem: str
    family: str
    batch_sizes: np.ndarray
    steps: np.ndarray
    examples: np.ndarray
    hyperparameters: tuple[dict[str, float], ...] = field(repr=False)
    fit: McCandlishFit | None
    noise_free_steps: float
    bayes_examples: float
    tolerance: float = RELATION_TOLERANCE

    @property
    def pareto(self) -> np.ndarray:
        """Mask of the points on the Pareto frontier (:func:`pareto_front`)."""
        return pareto_front(self.steps, self.examples)

    @property
    def residual(self) -> np.ndarray:
        r""":math:`S_{\min}/S + E_{\min}/E - 1` per point (``nan`` without a fit; :func:`mccandlish_residuals`)."""
        return self._residuals()[0]

    @property
    def relation(self) -> np.ndarray:
        r""":math:`(S/S_{\min}-1)(E/E_{\min}-1)` per point, 1 where McCandlish's relation holds."""
        return self._residuals()[1]

    @property
    def holds(self) -> np.ndarray:
        """Mask of the points where the size of the fitted residual is at most ``tolerance``."""
        with np.errstate(invalid="ignore"):
            return np.abs(self.residual) <= self.tolerance

    @property
    def anchored_residual(self) -> np.ndarray:
        r""":math:`S_\infty/S + E_{\rm low}/E - 1` per point: the noise-free steps and the fewest examples
        among the points in place of the fit (module docstring); ``nan`` where never reached."""
        finite = np.isfinite(self.examples)
        low = float(np.min(self.examples[finite])) if finite.any() else math.nan
        anchors = McCandlishFit(self.noise_free_steps, low, math.nan, math.nan)
        return mccandlish_residuals(self.steps, self.examples, anchors)[0]

    def _residuals(self) -> tuple[np.ndarray, np.ndarray]:
        if self.fit is None:
            nan = np.full(self.steps.shape, np.nan)
            return nan, nan
        return mccandlish_residuals(self.steps, self.examples, self.fit)

    def _tables(self) -> dict[str, tuple[str, ...]]:
        return {"points": ("batch_size",), "fit": ()}

    def _columns(self, table: str) -> Columns:
        if table == "fit":
            fit = self.fit or McCandlishFit(math.nan, math.nan, math.nan, math.nan)
            return {"S_min": [fit.S_min], "E_min": [fit.E_min], "B_crit": [fit.B_crit],
                    "rms_relative_error": [fit.rms_relative_error], "noise_free_steps": [self.noise_free_steps],
                    "bayes_examples": [self.bayes_examples]}
        with np.errstate(divide="ignore", invalid="ignore"):
            mean_b = np.where(self.steps > 0, self.examples / self.steps, self.batch_sizes)
        names = list(dict.fromkeys(k for h in self.hyperparameters for k in h))
        return {
            "batch_size": self.batch_sizes, "steps": self.steps, "examples": self.examples, "mean_batch_size": mean_b,
            "pareto": self.pareto, "residual": self.residual, "relation": self.relation, "holds": self.holds,
            "anchored_residual": self.anchored_residual,
            **{p: np.array([h.get(p, math.nan) for h in self.hyperparameters]) for p in names},
        }

    def _meta(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer, "precond_power": self.precond_power, "target": self.target,
                "problem": self.problem, "family": self.family}


def _analyse(problem: Problem, base: dict[str, Any], batch_sizes: np.ndarray, steps: np.ndarray,
             examples: np.ndarray, hyper: tuple[dict[str, float], ...], noise_free: float,
             tolerance: float) -> StepsExamples:
    """The frontier result of computed points: McCandlish's fit at the mean batch sizes E/S."""
    ok = np.isfinite(steps) & (steps > 0)
    fit = mccandlish_fit(examples[ok] / steps[ok], steps[ok]) if ok.sum() >= 2 else None
    return StepsExamples(**base, batch_sizes=batch_sizes, steps=steps, examples=examples, hyperparameters=hyper,
                         fit=fit, noise_free_steps=noise_free,
                         bayes_examples=problem.bayes_bound_steps(base["target"], 1.0), tolerance=tolerance)


def _noise_free(problem: Problem) -> Problem:
    """The problem without gradient noise (:math:`C = 0`), the limit :math:`B \\to \\infty`."""
    return Problem(problem.h, np.zeros_like(problem.c), problem.init_var, problem.weights,
                   name=f"{problem.name}, noise-free")


def _ramp_points(problem: Problem, optimizer: OptimizerLike, table: Sweep,
                 ramp: BatchRamp) -> tuple[np.ndarray, np.ndarray, tuple[dict[str, float], ...]]:
    """Steps, examples and hyperparameters of ``ramp`` at each final batch size of the constant sweep ``table``:
    the learning rate re-tuned over :data:`RAMP_LR_FACTORS` times the constant-B optimum, the other
    hyperparameters kept at it."""
    ref = as_optimizer_spec(optimizer)
    steps: list[float] = []
    examples: list[float] = []
    hypers: list[dict[str, float]] = []
    for row in table.rows:
        if not math.isfinite(row.steps):
            steps.append(math.inf)
            examples.append(math.inf)
            hypers.append({})
            continue
        levels, starts = ramp.schedule(row.batch_size, row.steps)
        lrs = row.hyperparameters["lr"] * RAMP_LR_FACTORS
        grid = ref(**{**row.hyperparameters, "lr": lrs, "precond_power": table.precond_power})
        S, j = first_hit_under_batch_schedule(problem, grid, levels, starts, table.target)
        steps.append(S)
        examples.append(examples_until(levels, starts, S))
        hypers.append({} if j is None else {**row.hyperparameters, "lr": float(lrs[j])})
    return np.array(steps), np.array(examples), tuple(hypers)


def steps_examples(
    problem: Problem,
    optimizer: OptimizerLike,
    *,
    batch_sizes: ArrayLike = PAPER_BATCH_SIZES,
    target: float = 0.01,
    ramp: BatchRamp | None = None,
    grid: Mapping[str, ArrayLike] | None = None,
    precond_power: float = OPTIMIZERS_OWN,
    tolerance: float = RELATION_TOLERANCE,
    executor: ExecutorArg = None,
    **fixed: ArrayLike,
) -> StepsExamples:
    r"""Steps and examples to ``target`` over a batch-size family, and their frontier.

    ``ramp=None``: a constant batch size B, tuned per B: each point is :func:`~nqm.numerics.sweep`'s
    tuned row (``optimizer``, ``grid``, ``precond_power``, ``fixed`` and ``executor`` as for
    :func:`~nqm.numerics.sweep`), :math:`S(B)` exact, :math:`E = BS`. With a :class:`BatchRamp`,
    each B is the ramp's final batch size; the learning rate is re-tuned over
    :data:`RAMP_LR_FACTORS` times the constant-B optimum (which is among them), the other
    hyperparameters stay at it, and S is the exact first hit (:mod:`._batch_ramps`),
    :math:`E = \sum_{t<S}B_t`. The noise-free anchor is the same tuning on the problem with
    :math:`C = 0` (a floor for any batch schedule). The result (:class:`StepsExamples`) holds the
    Pareto frontier, McCandlish's fitted :math:`S_{\min}, E_{\min}` and the relation's residual at
    every point (module docstring); ``tolerance`` (> 0) only sets which points
    :attr:`StepsExamples.holds` reports.
    """
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be an nqm.numerics.Problem; got {type(problem).__name__}")
    tolerance = validate_positive("tolerance", tolerance)
    if ramp is not None and not isinstance(ramp, BatchRamp):
        raise ValueError(f"ramp must be None (a constant batch size) or an nqm.numerics.BatchRamp; got {ramp!r}")
    config = dict(optimizer=optimizer, target=target, grid=grid, precond_power=precond_power, **fixed)
    table = sweeps(problem, [dict(config, batch_sizes=batch_sizes)], executor=executor)[0]
    free = sweeps(_noise_free(problem), [dict(config, batch_sizes=[1.0])])[0]
    B = table.batch_sizes
    base = dict(optimizer=as_optimizer_spec(optimizer).name, precond_power=table.precond_power, target=table.target,
                problem=problem.name, family="constant batch size" if ramp is None else ramp.describe())
    if ramp is None:
        S, E, hyper = table.steps, B * table.steps, tuple(r.hyperparameters for r in table.rows)
    else:
        S, E, hyper = _ramp_points(problem, optimizer, table, ramp)
    return _analyse(problem, base, B, S, E, hyper, float(free.steps[0]), tolerance)
