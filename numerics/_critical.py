r"""Critical batch size and gradient noise scale (McCandlish et al. 2018), kept apart by name.

Three different quantities, easily confused:

* :math:`\mathcal B_{\rm crit}` — a property of a *steps-vs-batch-size curve*. Two
  definitions are offered, both documented below: McCandlish's fit
  (:func:`mccandlish_fit`) and the batch size at which the steps exceed perfect scaling
  by a factor of 2 (:func:`perfect_scaling_breakdown`).
* :math:`\mathcal B_{\rm noise} = \operatorname{tr}(H\Sigma)/(G^\top HG)` and
  :math:`\mathcal B_{\rm simple} = \operatorname{tr}\Sigma/|G|^2` — properties of a *point*
  of training (gradient :math:`G`, per-example covariance :math:`\Sigma`). In the NQM
  :math:`G = H\theta` and :math:`\Sigma = C`, so (docs/math/critical.md)
  :math:`\mathcal B_{\rm noise} = \operatorname{tr}(HC)/(\theta^\top H^3\theta)` and
  :math:`\mathcal B_{\rm simple} = \operatorname{tr}C/(\theta^\top H^2\theta)`
  (:func:`gradient_noise_scale`), and their expected-value versions along an optimizer's
  trajectory (:func:`expected_gradient_noise_scale`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import ClassVar

import numpy as np

from ._forms import _shown, evaluation_steps, real_array
from ._model import build_model, validate_batch_size
from ._optimizers import OptimizerLike, as_optimizer
from ._problem import Problem
from ._tables import Columns, Tabular

__all__ = [
    "McCandlishFit",
    "CriticalBatchSizes",
    "GradientNoiseScale",
    "mccandlish_fit",
    "perfect_scaling_breakdown",
    "critical_batch_sizes",
    "gradient_noise_scale",
    "expected_gradient_noise_scale",
]


def _curve(batch_sizes: object, steps: object) -> tuple[np.ndarray, np.ndarray]:
    """Validated (B, S) rows with finite steps, sorted by B."""
    B = validate_batch_size(batch_sizes, "batch_sizes")
    S = real_array("steps", steps, "numbers in [0, inf]")
    if B.ndim != 1 or S.shape != B.shape:
        raise ValueError(
            f"batch_sizes and steps must be 1-D arrays of the same length; got shapes {B.shape} and {S.shape}"
        )
    if np.any(np.isnan(S) | (S < 0)):
        raise ValueError(
            "steps must be numbers in [0, inf] (inf marks an unreachable target); got NaN or a negative value"
        )
    if np.unique(B).size != B.size:
        raise ValueError("batch_sizes must be distinct")
    order = np.argsort(B)
    B, S = B[order], S[order]
    keep = np.isfinite(S)
    return B[keep], S[keep]


@dataclass(frozen=True)
class McCandlishFit(Tabular):
    r"""McCandlish's model :math:`S = S_{\min} + E_{\min}/B` fitted to a steps curve.

    ``S_min`` (fewest steps, infinite batch), ``E_min`` (fewest examples, batch size -> 0),
    ``B_crit`` :math:`= E_{\min}/S_{\min}` (``inf`` if :math:`S_{\min} = 0`), and
    ``rms_relative_error`` of the fit over the rows used. ``to_pandas()``: one row, these four columns.
    """

    S_min: float
    E_min: float
    B_crit: float
    rms_relative_error: float

    def _tables(self) -> dict[str, tuple[str, ...]]:
        return {"fit": ()}

    def _columns(self, table: str) -> Columns:
        return {k: [v] for k, v in asdict(self).items()}


def mccandlish_fit(batch_sizes: object, steps: object) -> McCandlishFit:
    r"""Fit :math:`S = S_{\min} + E_{\min}/B` (McCandlish et al. 2018, eq. 2.11) to a steps curve.

    Equivalent to McCandlish's :math:`(S/S_{\min}-1)(E/E_{\min}-1) = 1` with :math:`E = BS`.
    Fit: :math:`S_{\min}, E_{\min}\ge0` minimise the squared *relative* residuals
    :math:`\sum_k \bigl((S_{\min} + E_{\min}/B_k)/S_k - 1\bigr)^2` over the rows with finite
    steps (steps span orders of magnitude, so absolute residuals would ignore large B).
    The model is linear in the two parameters, so this is a non-negative linear least-squares
    problem, solved exactly (scipy's NNLS). Needs two rows with finite steps.
    """
    B, S = _curve(batch_sizes, steps)
    if B.size < 2:
        raise ValueError(f"the McCandlish fit needs at least 2 rows with finite steps; got {B.size}")
    if np.any(S <= 0):
        raise ValueError("the McCandlish fit needs positive steps")
    A = np.stack([1.0 / S, 1.0 / (B * S)], axis=1)
    from scipy.optimize import nnls  # on first use: a fast import nqm.numerics

    (s_min, e_min), _ = nnls(A, np.ones(B.size))
    resid = A @ np.array([s_min, e_min]) - 1.0
    b_crit = e_min / s_min if s_min > 0 else math.inf
    return McCandlishFit(float(s_min), float(e_min), float(b_crit), float(np.sqrt(np.mean(resid**2))))


def perfect_scaling_breakdown(batch_sizes: object, steps: object, factor: float = 2.0) -> float:
    r"""The batch size at which the steps exceed perfect-scaling extrapolation by ``factor``.

    Perfect scaling from the smallest batch size :math:`B_0` predicts
    :math:`S_0B_0/B`; the ratio :math:`r(B) = S(B)\,B/(S_0B_0)` starts at 1. The answer is
    the first B with :math:`r(B) = ` ``factor``, found by linear interpolation of
    :math:`\log r` against :math:`\log B` between the two rows that bracket the first
    crossing (the curve is known only at the rows). Returns ``inf`` if :math:`r` stays
    below ``factor`` on the rows given (the crossing is beyond the largest batch size),
    and ``nan`` with fewer than two finite rows.
    """
    if not (isinstance(factor, (int, float)) and math.isfinite(factor) and factor > 1):
        raise ValueError(f"factor must be a finite number in (1, inf); got {_shown(factor)}")
    B, S = _curve(batch_sizes, steps)
    if B.size < 2:
        return math.nan
    if np.any(S <= 0):
        raise ValueError("the perfect-scaling criterion needs positive steps")
    log_r = np.log(S * B / (S[0] * B[0]))
    above = np.nonzero(log_r >= math.log(factor))[0]
    if above.size == 0:
        return math.inf
    k = int(above[0])
    lb0, lb1, lr0, lr1 = math.log(B[k - 1]), math.log(B[k]), log_r[k - 1], log_r[k]
    return float(math.exp(lb0 + (math.log(factor) - lr0) * (lb1 - lb0) / (lr1 - lr0)))


@dataclass(frozen=True)
class CriticalBatchSizes(Tabular):
    r"""Both definitions of the critical batch size for one steps curve (see the functions).

    ``reason`` says why a value is not a finite batch size, or why it is not tested: too few rows
    with finite steps, a fit whose :math:`S_{\min}` is 0 (the steps still fall as :math:`1/B` at
    the largest batch size: the curve never flattens over the batch sizes given), steps that stay
    within 2x of perfect scaling up to the largest batch size, or exactly 2 batch sizes (the fit
    then passes through both points, finite but untested). Empty when both values are finite and
    the fit is tested.

    ``to_pandas()``: one row, :meth:`record`. The two definitions are spelled
    :attr:`DEFINITIONS`, ``B_crit_mccandlish`` and ``B_crit_perfect_scaling_2x``, in every
    output: these tables, :meth:`Sweep.to_json <nqm.numerics.Sweep.to_json>`, the ``"critical"``
    table of :class:`~nqm.numerics.SweepList`, ``nqm critical`` and ``nqm sweep`` (CSV, JSON and
    console), the report's and the figures' tables and the network validation.
    """

    mccandlish: McCandlishFit | None
    perfect_scaling_2x: float
    reason: str = ""

    #: the names of the two definitions (McCandlish's fit, 2x perfect scaling), the same in every output
    DEFINITIONS: ClassVar[tuple[str, str]] = ("B_crit_mccandlish", "B_crit_perfect_scaling_2x")

    def record(self) -> dict[str, float | str]:
        """The one row of the table: McCandlish's ``S_min`` (steps), ``E_min`` (examples),
        ``B_crit_mccandlish`` and ``rms_relative_error`` (``nan`` without a fit), then
        ``B_crit_perfect_scaling_2x`` (batch sizes) and ``reason`` (see the class)."""
        fit = self.mccandlish or McCandlishFit(math.nan, math.nan, math.nan, math.nan)
        mccandlish, two_x = self.DEFINITIONS
        return {"S_min": fit.S_min, "E_min": fit.E_min, mccandlish: fit.B_crit,
                "rms_relative_error": fit.rms_relative_error, two_x: self.perfect_scaling_2x, "reason": self.reason}

    def _tables(self) -> dict[str, tuple[str, ...]]:
        return {"fit": ()}

    def _columns(self, table: str) -> Columns:
        return {k: [v] for k, v in self.record().items()}


def critical_batch_sizes(batch_sizes: object, steps: object) -> CriticalBatchSizes:
    """:func:`mccandlish_fit` (``None`` with fewer than 2 finite rows) and :func:`perfect_scaling_breakdown`
    at 2x, with the ``reason`` for every value that is not a finite batch size."""
    B, S = _curve(batch_sizes, steps)
    positive = bool(np.all(S > 0))
    fit = mccandlish_fit(B, S) if B.size >= 2 and positive else None
    two_x = perfect_scaling_breakdown(B, S) if positive else math.nan
    reasons = []
    if B.size < 2:
        reasons.append(f"both need at least 2 batch sizes with finite steps; got {B.size}")
    elif not positive:
        reasons.append("both need positive steps; the target is reached at step 0")
    else:
        largest = f"B = {B[-1]:g}, the largest batch size given"
        if B.size == 2:
            reasons.append("McCandlish: 2 batch sizes determine S_min and E_min exactly, so the fit is not tested "
                           "(give at least 3)")
        if fit is not None and fit.S_min == 0:
            reasons.append(f"McCandlish: the fitted S_min is 0 (the steps still fall as 1/B up to {largest}: "
                           "the curve never flattens), so B_crit lies beyond the batch sizes given (inf)")
        if math.isinf(two_x):
            reasons.append(f"2x perfect scaling: the steps stay within 2x of perfect scaling up to {largest}, "
                           "so the breakdown lies beyond the batch sizes given (inf)")
    return CriticalBatchSizes(fit, two_x, "; ".join(reasons))


@dataclass(frozen=True)
class GradientNoiseScale:
    r"""McCandlish's :math:`\mathcal B_{\rm noise}` and :math:`\mathcal B_{\rm simple}` (arrays or floats)."""

    B_noise: np.ndarray | float
    B_simple: np.ndarray | float


def _traces(problem: Problem) -> tuple[float, float]:
    r""":math:`\operatorname{tr}C` and :math:`\operatorname{tr}(HC)` (per-example noise, weights = multiplicities)."""
    w, h, c = problem.weights, problem.h, problem.c
    return float(np.sum(w * c)), float(np.sum(w * h * c))


def _ratio(num: float, den: np.ndarray) -> np.ndarray | float:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.inf)
    return float(out) if out.ndim == 0 else out


def gradient_noise_scale(problem: Problem, theta: object) -> GradientNoiseScale:
    r""":math:`\mathcal B_{\rm noise}` and :math:`\mathcal B_{\rm simple}` at the point ``theta``.

    ``theta`` holds one value per bin of ``problem`` (every coordinate of a bin of weight
    :math:`w_i` takes that value; for an unbinned problem it is the full vector); extra
    leading axes give several points. With per-example covariance :math:`\Sigma = C` and true
    gradient :math:`G = H\theta`:

    .. math::

        \mathcal B_{\rm noise} = \frac{\operatorname{tr}(HC)}{\theta^\top H^3\theta},\qquad
        \mathcal B_{\rm simple} = \frac{\operatorname{tr}C}{\theta^\top H^2\theta},

    ``inf`` at the optimum :math:`\theta = 0`. These are not the critical batch size, which
    describes a whole steps-vs-B curve (:func:`critical_batch_sizes`).
    """
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be an nqm.numerics.Problem; got {type(problem).__name__}")
    th = real_array("theta", theta, "an array of numbers")
    if th.ndim == 0 or th.shape[-1] != problem.size:
        raise ValueError(f"theta must have {problem.size} entries (one per bin) on its last axis; got shape {th.shape}")
    if not np.all(np.isfinite(th)):
        raise ValueError("theta must be finite")
    tr_c, tr_hc = _traces(problem)
    w, h = problem.weights, problem.h
    sq = th * th
    return GradientNoiseScale(
        _ratio(tr_hc, np.sum(w * h**3 * sq, axis=-1)), _ratio(tr_c, np.sum(w * h**2 * sq, axis=-1))
    )


def expected_gradient_noise_scale(
    problem: Problem, opt: OptimizerLike, *, batch_size: object, steps: object, **hyperparameters: object
) -> GradientNoiseScale:
    r"""Expected-value versions of :math:`\mathcal B_{\rm noise}, \mathcal B_{\rm simple}` along a trajectory.

    At step t of ``opt`` (mini-batch size ``batch_size``, the problem's random start), the
    squared gradient norms are replaced by their exact expectations:

    .. math::

        \mathcal B_{\rm simple}(t) = \frac{\operatorname{tr}C}{\mathbb E[\theta_t^\top H^2\theta_t]},\qquad
        \mathcal B_{\rm noise}(t) = \frac{\operatorname{tr}(HC)}{\mathbb E[\theta_t^\top H^3\theta_t]},

    with :math:`\mathbb E[\theta_t^\top H^k\theta_t] = \sum_i 2h_i^{k-1}\,\ell_i(t)` from the
    per-bin expected risks :math:`\ell_i = w_i\tfrac12h_i\mathbb E\theta_{i,t}^2` of the
    exact engine. This ratio of expectations is what the usual estimators target (they
    estimate :math:`|G|^2` and :math:`\operatorname{tr}\Sigma` separately); it is not the
    expectation of the pointwise ratio. ``steps`` as for :func:`~nqm.numerics.expected_risk`
    (``[0]``: the values at initialisation).
    Result shape: the optimizer's grid + the shape of the evaluation times (``(T + 1,)`` for a horizon T).
    """
    t = evaluation_steps(steps)
    model = build_model(problem, as_optimizer(opt, hyperparameters, "opt"), batch_size, trailing=1)
    det, noi = model.parts(t.ravel())
    risk = det + noi  # per bin, axis -2
    h = problem.h.reshape(-1, 1)
    tr_c, tr_hc = _traces(problem)
    g2 = np.sum(2.0 * h * risk, axis=-2)
    g3 = np.sum(2.0 * h * h * risk, axis=-2)
    shape = g2.shape[:-1] + t.shape
    return GradientNoiseScale(
        np.reshape(_ratio(tr_hc, g3), shape), np.reshape(_ratio(tr_c, g2), shape)
    )
