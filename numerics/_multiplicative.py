r"""Exact expected risk under the Gaussian-design multiplicative noise model.

Stochastic gradients of least squares with Gaussian inputs carry noise whose covariance
depends on the iterate (:mod:`nqm.theory._multiplicative`): per direction i of a
mini-batch of B examples, :math:`\operatorname{Var}\xi_i = (c_i + h_i^2\,\mathbb{E}w_i^2 +
h_i\Lambda)/B` with :math:`\Lambda = \sum_j m_jh_j\mathbb{E}w_j^2`. The second moments
:math:`S_i = \mathbb{E}[x_ix_i^\top]` of every direction's optimizer state then obey the
linear, coupled recursion

.. math::

    S_i' = S_i + DS_i + S_iD^\top + DS_iD^\top + b_ib_i^\top\,
      \frac{c_i + h_i^2\,qS_iq^\top + h_i\sum_j m_jh_j\,qS_jq^\top}{B},\qquad
    \mathbb{E}\mathcal L(t) = \sum_i m_i\tfrac12h_i\,\mathrm{out}\,S_i(t)\,\mathrm{out}^\top,

written with :math:`D = A - I` (as in the constant-noise engine) so that increments keep
their relative accuracy when :math:`\alpha h` is tiny. The recursion is iterated step by step,
vectorised over hyperparameter grids and bins; it is exact up to rounding (each step is a
sum of non-negative terms on the diagonal). Preconditioning :math:`P=H^p` enters through
:meth:`~nqm.numerics.Problem.preconditioned`, which maps the model to itself
(:func:`nqm.theory._multiplicative.preconditioned_noise_is_invariant`). The query row
:math:`q` is derived symbolically from the spec (sympy is imported on first use only).
Bins of weight :math:`m_i` stand for :math:`m_i` identical coordinates, which is exact.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np

from ._forms import evaluation_steps
from ._model import build_model, validate_batch_size
from ._optimizers import OptimizerLike, as_optimizer
from ._problem import Problem

__all__ = ["multiplicative_expected_risk", "MAX_MULTIPLICATIVE_STEPS"]

#: the recursion is iterated step by step; larger horizons would be slow, not inexact
MAX_MULTIPLICATIVE_STEPS = 10**7


@cache
def _query_function(spec: Any) -> tuple[tuple[str, ...], Callable[..., list]]:
    """``(hyperparameter names, q(*values))`` for ``spec`` (compiled once per spec content)."""
    import sympy as sp

    from nqm.theory import query_row

    q = query_row(spec)
    names = tuple(hp.name for hp in spec.hyperparameters)
    return names, sp.lambdify([hp.symbol for hp in spec.hyperparameters], list(q), "numpy")


def multiplicative_expected_risk(
    problem: Problem, opt: OptimizerLike, *, batch_size: object, steps: object, **hyperparameters: object
) -> np.ndarray:
    r"""Exact :math:`\mathbb{E}\mathcal L(t)` of ``opt`` on least squares with Gaussian inputs.

    ``problem`` gives :math:`h_i` (input covariance spectrum), :math:`c_i` (label-noise part,
    :math:`\sigma^2h_i` for label noise :math:`\sigma`), the start second moments and
    multiplicities; the gradient noise adds the state-dependent part
    :math:`(\Sigma ww^\top\Sigma + w^\top\Sigma w\,\Sigma)/B` to :math:`C/B`. Returns an array of
    shape ``grid + times.shape`` (``times``: the evaluation times of ``steps``, e.g. ``(T + 1,)`` for a
    horizon T) like :func:`~nqm.numerics.expected_risk`; divergent
    settings give ``inf``, never NaN. Works for any registered spec that queries one
    gradient per step (all built-ins); others raise ``ValueError``.
    """
    opt = as_optimizer(opt, hyperparameters, "opt")
    t = evaluation_steps(steps)
    if t.size and t.max() > MAX_MULTIPLICATIVE_STEPS:
        raise ValueError(
            f"steps must be integers in [0, {MAX_MULTIPLICATIVE_STEPS}] for the multiplicative model "
            f"(it iterates the recursion); got {t.max():.0f}"
        )
    from nqm.theory import SpecError

    try:
        names, qfn = _query_function(opt.spec)
    except SpecError as exc:
        raise ValueError(f"optimizer {opt.name!r} has no multiplicative-noise model: {exc}") from None
    model = build_model(problem, opt, batch_size, method="doubling")
    grid = model.weight.shape[:-1]
    Bv = np.broadcast_to(validate_batch_size(batch_size), grid)[..., None]
    ht, ct, _ = problem.preconditioned(np.broadcast_to(opt.precond_power, grid))
    mult = problem.weights
    hyper = opt.hyperparameters
    q = np.stack([np.broadcast_to(np.asarray(v, dtype=float), grid) for v in qfn(*(hyper[k] for k in names))], -1)
    q = q[..., None, :]  # grid + (1 bin, n)
    D = model.inv["D"]
    bb = model.inv["b"][..., :, None] * model.inv["b"][..., None, :]
    init, out = model.inv["init"], model.inv["out"]
    S = init[..., :, None] * init[..., None, :] * model.start[..., None, None]
    flat = t.ravel().astype(np.int64)
    order = np.argsort(flat, kind="stable")
    result = np.empty(grid + (flat.size,))
    k = 0
    with np.errstate(all="ignore"):
        for step in range(int(flat.max()) + 1 if flat.size else 0):
            while k < flat.size and flat[order[k]] == step:
                result[..., order[k]] = np.sum(model.weight * np.einsum("...i,...ij,...j->...", out, S, out), axis=-1)
                k += 1
            if k == flat.size:
                break
            y2 = np.einsum("...i,...ij,...j->...", q, S, q)
            coupling = np.sum(mult * ht * y2, axis=-1, keepdims=True)
            nu = (ct + ht * ht * y2 + ht * coupling) / Bv
            DS = D @ S
            increment = DS + np.swapaxes(DS, -1, -2) + DS @ np.swapaxes(D, -1, -2)
            # symmetrise exactly: rounding would otherwise seed an antisymmetric part, which
            # the recursion amplifies for underdamped transitions
            S = S + 0.5 * (increment + np.swapaxes(increment, -1, -2)) + bb * nu[..., None, None]
    result = np.where(np.isnan(result), np.inf, result)
    return result.reshape(grid + t.shape)
