r"""An independent reference for the engine: the second-moment recursion, step by step.

For :math:`x_{t+1} = A_t x_t + b_t\,\xi_t` with :math:`E\xi_t^2 = c/B_t` and
:math:`x_0 = \mathrm{init}\,\theta(0)`, :math:`E\theta(0)^2 = v`, the second moment
:math:`P_t = E[x_tx_t^\top]` obeys (Appendices B and D, for any spec)

.. math::

    P_0 = v\,\mathrm{init}\,\mathrm{init}^\top,\qquad
    P_{t+1} = A_t P_t A_t^\top + \frac{c}{B_t}\,b_t b_t^\top,\qquad
    E\mathcal L(t) = \sum_i w_i\,\tfrac12 h_i\,\mathrm{out}\,P_t\,\mathrm{out}^\top .

This module iterates that literally, with ``A, b, init, out`` lambdified from the spec's
sympy matrices (not from the generated forms, not through :math:`D`, no closed form, no
stationary covariance) in extended precision (``numpy.longdouble``). Under a schedule
(any hyperparameter or the batch size given one value per step) :math:`A_t, b_t, B_t` are those
of step :math:`t`; constant ones are the special case :math:`A_t = A`. Preconditioning is
whatever the spec's matrices say: pass ``spec.precondition()`` with ``precond_power`` among
the hyperparameters, which applies :math:`P^{-1} = H^{-p}` to the gradient in the original
coordinates (the engine instead maps the problem, eq. 9).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

import numpy as np
import sympy as sp

import nqm.numerics as nn
from nqm.theory import OptimizerSpec
from nqm.theory.symbols import B, c, h

__all__ = ["moment_recursion_risk"]


@lru_cache(maxsize=None)
def _matrices(spec: OptimizerSpec):
    args = [h, c, B, *spec.symbols]
    return tuple(
        [[sp.lambdify(args, entry, "numpy") for entry in row] for row in mat.tolist()]
        for mat in (spec.A, spec.b, spec.init, spec.out)
    )


def _evaluate(rows, args, shape) -> np.ndarray:
    """The matrix of lambdified entries ``rows`` at ``args``, shape ``shape + (rows, columns)``."""
    values = np.array(
        [[np.broadcast_to(np.asarray(f(*args), dtype=np.longdouble), shape) for f in row] for row in rows]
    )
    return np.moveaxis(values, (0, 1), (-2, -1))


def _per_step(name: str, value: object, last: int) -> np.ndarray:
    """A constant as a 0-d array, or the first ``last`` values of a per-step array as shape ``(last, 1)``."""
    arr = np.asarray(value, dtype=np.longdouble)
    if arr.ndim == 0:
        return arr
    if arr.ndim != 1 or arr.size < max(last, 1):
        raise ValueError(f"{name} must be a number or a 1-D array of at least {max(last, 1)} per-step values; "
                         f"got shape {arr.shape}")
    return arr[: max(last, 1), None]


def moment_recursion_risk(
    spec: OptimizerSpec,
    problem: nn.Problem,
    hyperparameters: Mapping[str, object],
    *,
    batch_size: object,
    steps: object,
) -> np.ndarray:
    r"""Exact :math:`E\mathcal L(t)` at each of ``steps``: :math:`P_{t+1} = A_tP_tA_t^\top + \frac c{B_t} b_tb_t^\top`.

    ``hyperparameters`` name every hyperparameter of ``spec`` (including ``precond_power``
    for a spec from :meth:`~nqm.theory.OptimizerSpec.precondition`). Each of them and
    ``batch_size`` is a number (constant) or a 1-D array of per-step values, entry ``t`` used by
    the update from step ``t`` to ``t + 1`` (a schedule; at least ``max(steps)`` entries), so
    :math:`A_t, b_t` are the spec's matrices at step ``t``'s values; ``init`` and ``out`` are
    evaluated at step 0's and must not change with the step. Costs :math:`O(\max t)` small
    matrix products per bin; meant for :math:`t` up to a few thousand.
    """
    t = np.asarray(steps, dtype=np.int64)
    last = int(t.max()) if t.size else 0
    hv = problem.h.astype(np.longdouble)
    Bv = _per_step("batch_size", batch_size, last)
    values = [_per_step(hp.name, hyperparameters[hp.name], last) for hp in spec.hyperparameters]
    args = [hv, problem.c.astype(np.longdouble), Bv, *values]
    shape = np.broadcast_shapes(hv.shape, *(np.shape(a) for a in args))  # (bins,) or (steps, bins)
    per_step = len(shape) == 2
    A_rows, b_rows, init_rows, out_rows = _matrices(spec)
    A = _evaluate(A_rows, args, shape)  # (..., bins, n, n)
    b = _evaluate(b_rows, args, shape)  # (..., bins, n, 1)
    init = _evaluate(init_rows, args, shape)
    out = _evaluate(out_rows, args, shape)  # (..., bins, 1, n)
    if per_step:
        if np.any(init != init[:1]) or np.any(out != out[:1]):
            raise ValueError(f"{spec.name}: init and out change with a scheduled quantity")
        init, out = init[0], out[0]
    v = problem.init_var.astype(np.longdouble)[:, None, None]
    c_over_B = np.broadcast_to(problem.c.astype(np.longdouble) / Bv, shape)[..., None, None]
    noise = c_over_B * (b @ np.swapaxes(b, -1, -2))
    weight = problem.weights.astype(np.longdouble) * hv / 2
    P = v * (init @ init.transpose(0, 2, 1))
    At = np.swapaxes(A, -1, -2)
    risks = np.empty(last + 1, dtype=np.longdouble)
    for k in range(last + 1):
        risks[k] = np.sum(weight * (out @ P @ out.transpose(0, 2, 1))[:, 0, 0])
        if k < last:
            P = A[k] @ P @ At[k] + noise[k] if per_step else A @ P @ At + noise
    return risks[t].astype(float)
