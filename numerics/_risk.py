r"""Exact expected risk, its variance, and the stationary risk.

All functions accept an optimizer whose hyperparameters are arrays (a grid) and a
``batch_size`` array; results carry the broadcast grid shape in front. The optimizer is any
form :func:`~nqm.numerics._optimizers.as_optimizer` accepts: an instance, or a class, spec or
registered name with the hyperparameters as keywords (``expected_risk(prob, nn.Momentum,
lr=0.1, beta=0.9, ...)``). ``steps`` is a horizon T (every step 0..T: a curve) or an array of
evaluation times of any shape (``[T]`` is step T alone), as in every function that takes
``steps`` (:func:`~nqm.numerics._forms.evaluation_steps`). The risk of a
divergent setting is its exact (finite, growing) value where representable and ``inf``
on overflow, never NaN; its stationary risk is ``inf``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ._forms import evaluation_steps
from ._model import Method, build_model
from ._optimizers import OptimizerLike, as_optimizer
from ._problem import Problem
from ._schedule import scheduled_evaluation

__all__ = ["expected_risk", "risk_variance", "stationary_risk", "risk_components"]

#: elements (grid x bins x steps) evaluated per chunk; bounds peak memory to a few hundred MB
_CHUNK_ELEMENTS = 1 << 21
#: most values (grid points x evaluation times) one call returns (800 MB of float64), checked before
#: any step is evaluated
MAX_RESULT_VALUES = 10**8


def _reduce_over_steps(problem, opt, batch_size, steps, method: Method, reduce, merge_bins: bool, hyper) -> np.ndarray:
    """Apply ``reduce(start_parts, noise_parts)`` (summing out the bin axis, -2) chunk by chunk
    over the flattened ``steps``; the result ends in ``steps.shape``. ``merge_bins``: as for
    :func:`build_model` (only where ``reduce`` is a sum over bins of the expected risk)."""
    t = evaluation_steps(steps)
    flat = t.ravel()
    resolved = as_optimizer(opt, hyper, "opt")
    model = build_model(problem, resolved, batch_size, trailing=1, method=method, merge_bins=merge_bins)
    points = int(np.prod(model.weight.shape[:-2], dtype=np.int64))
    if points * flat.size > MAX_RESULT_VALUES:
        raise ValueError(f"steps: {flat.size:,} evaluation times x {points:,} grid points would return more than "
                         f"{MAX_RESULT_VALUES:.0e} values; evaluate fewer steps or a smaller grid")
    chunk = max(1, _CHUNK_ELEMENTS // max(1, model.weight.size))
    pieces = [reduce(*model.parts(flat[lo : lo + chunk])) for lo in range(0, flat.size, chunk)]
    if not pieces:
        pieces = [reduce(*model.parts(flat))]
    out = np.concatenate(pieces, axis=-1)
    return out.reshape(out.shape[:-1] + t.shape)


def expected_risk(
    problem: Problem,
    opt: OptimizerLike,
    *,
    batch_size: object,
    steps: object,
    method: Method = "auto",
    **hyperparameters: object,
) -> np.ndarray:
    r"""Exact :math:`\mathbb{E}\mathcal L(t)` at each step in ``steps`` (eqs. 4, 6, 12 and their generalisation).

    Returns an array of shape ``grid + times.shape`` (``times = 0..T`` for a horizon T). ``method``
    selects the Chebyshev closed form (specs with <= 2 states) or exact doubling (any spec); ``"auto"`` picks
    the former where it applies. Both are accurate to ~1e-13 relative in the regimes
    tested against 50-digit mpmath (tests/numerics/test_exactness.py). The Chebyshev form
    keeps ~1e-11 relative (never NaN, never negative) up to the stability edge and on it, at
    alpha*h down to 1e-16, at a zero eigenvalue and at any scale (tests/numerics/test_edges.py,
    benchmarks/scan_edges.py), with two documented floors: near a zero of the mean path (its modes
    cancel) the start part is off by more than 1e-10 relative by at most ~5e-16 of the initial risk
    (docs/math/numerics.md), and an underdamped pair
    carries a phase error of about t * theta * eps (1.8e-9 at beta = 1 - 1e-7, alpha h = 2).
    """
    return _reduce_over_steps(
        problem, opt, batch_size, steps, method, lambda d, n: np.sum(d + n, axis=-2), True, hyperparameters
    )


def risk_components(
    problem: Problem,
    opt: OptimizerLike,
    *,
    batch_size: object,
    steps: object,
    method: Method = "auto",
    **hyperparameters: object,
) -> tuple[np.ndarray, np.ndarray]:
    """``(start part, noise part)`` of the expected risk: the decaying mean-path term and
    the accumulated noise term (the two terms of Theorems 1 and 2 before stationarity)."""
    both = _reduce_over_steps(
        problem, opt, batch_size, steps, method, lambda d, n: np.stack([np.sum(d, axis=-2), np.sum(n, axis=-2)]), True,
        hyperparameters,
    )
    return both[0], both[1]


def risk_variance(
    problem: Problem,
    opt: OptimizerLike,
    *,
    batch_size: object = None,
    steps: object,
    method: Method = "auto",
    schedule: Mapping[str, object] | None = None,
    horizon: object = None,
    **hyperparameters: object,
) -> np.ndarray:
    r"""Exact :math:`\mathrm{Var}[\mathcal L(t)]` for Gaussian noise and a Gaussian start.

    Each coordinate's iterate is then a zero-mean Gaussian with variance :math:`V_i(t)`,
    so :math:`\tfrac12h_i\theta_i^2` has variance :math:`\tfrac12h_i^2V_i^2 = 2\rho_i^2` with
    :math:`\rho_i` its expected risk; a bin of weight :math:`w_i` holds :math:`w_i`
    independent coordinates, so :math:`\mathrm{Var}\,\mathcal L = 2\sum_i \rho_{\rm bin,i}^2/w_i`.

    With ``schedule=`` (and ``horizon=``, as for :func:`~nqm.numerics.scheduled_risk`, whose forms
    of ``schedule`` and ``batch_size`` it takes) the same formula holds step by step for the
    per-bin risks :math:`\rho_{\rm bin,i}(t)` of the scheduled run: the iterate stays a zero-mean
    Gaussian whatever the values of each step.
    """
    if schedule is None and horizon is None:
        w = problem.weights.reshape(-1, 1) if isinstance(problem, Problem) else np.ones((1, 1))
        return _reduce_over_steps(problem, opt, batch_size, steps, method,
                                  lambda d, n: _variance_of_bins(d + n, w, -2), False, hyperparameters)
    if hyperparameters:
        opt = as_optimizer(opt, hyperparameters, "opt")
    return scheduled_evaluation(problem, opt, steps, schedule, batch_size, horizon, method,
                                lambda rho: _variance_of_bins(rho, problem.weights, -1))


def _variance_of_bins(rho: np.ndarray, w: np.ndarray, axis: int) -> np.ndarray:
    """:math:`2\\sum_i\\rho_i^2/w_i` over the bin ``axis`` of the per-bin risks ``rho`` (weights ``w``
    broadcast against it; bins of weight 0 hold nothing)."""
    safe = np.where(w > 0, w, 1.0)
    with np.errstate(over="ignore"):  # a divergent bin's square overflows to inf, as it should
        return np.sum(np.where(w > 0, 2.0 * rho * rho / safe, 0.0), axis=axis)


def stationary_risk(
    problem: Problem, opt: OptimizerLike, *, batch_size: object, **hyperparameters: object
) -> np.ndarray:
    r"""The :math:`t\to\infty` risk
    :math:`\sum_i w_i\tfrac12 h_i\frac{c_i}{B}\,\mathrm{out}\bar S_i\mathrm{out}^\top`; ``inf`` if unstable."""
    opt = as_optimizer(opt, hyperparameters, "opt")
    model = build_model(problem, opt, batch_size, merge_bins=True, stationary=True)
    return np.sum(model.stationary(), axis=-1)
