r"""An independent reference for the engine: the second-moment recursion, step by step.

For :math:`x_{t+1} = A x_t + b\,\xi_t` with :math:`E\xi_t^2 = c/B` and
:math:`x_0 = \mathrm{init}\,\theta(0)`, :math:`E\theta(0)^2 = v`, the second moment
:math:`P_t = E[x_tx_t^\top]` obeys (Appendices B and D, for any spec)

.. math::

    P_0 = v\,\mathrm{init}\,\mathrm{init}^\top,\qquad
    P_{t+1} = A P_t A^\top + \frac{c}{B}\,b b^\top,\qquad
    E\mathcal L(t) = \sum_i w_i\,\tfrac12 h_i\,\mathrm{out}\,P_t\,\mathrm{out}^\top .

This module iterates that literally, with ``A, b, init, out`` lambdified from the spec's
sympy matrices (not from the generated forms, not through :math:`D`, no closed form, no
stationary covariance) in extended precision (``numpy.longdouble``). Preconditioning is
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
    return np.array(
        [[np.broadcast_to(np.asarray(f(*args), dtype=np.longdouble), shape) for f in row] for row in rows]
    ).transpose(2, 0, 1)


def moment_recursion_risk(
    spec: OptimizerSpec,
    problem: nn.Problem,
    hyperparameters: Mapping[str, float],
    *,
    batch_size: float,
    steps: object,
) -> np.ndarray:
    r"""Exact :math:`E\mathcal L(t)` at each of ``steps`` by iterating :math:`P_{t+1} = AP_tA^\top + \frac cB bb^\top`.

    ``hyperparameters`` name every hyperparameter of ``spec`` (including ``precond_power``
    for a spec from :meth:`~nqm.theory.OptimizerSpec.precondition`). Costs
    :math:`O(\max t)` small matrix products per bin; meant for :math:`t` up to a few thousand.
    """
    t = np.asarray(steps, dtype=np.int64)
    last = int(t.max()) if t.size else 0
    hv = problem.h.astype(np.longdouble)
    args = [hv, problem.c.astype(np.longdouble), np.longdouble(batch_size)]
    args += [np.longdouble(hyperparameters[hp.name]) for hp in spec.hyperparameters]
    shape = hv.shape
    A_rows, b_rows, init_rows, out_rows = _matrices(spec)
    A = _evaluate(A_rows, args, shape)  # (bins, n, n)
    b = _evaluate(b_rows, args, shape)  # (bins, n, 1)
    init = _evaluate(init_rows, args, shape)
    out = _evaluate(out_rows, args, shape)  # (bins, 1, n)
    v = problem.init_var.astype(np.longdouble)[:, None, None]
    noise = (problem.c.astype(np.longdouble) / np.longdouble(batch_size))[:, None, None] * (b @ b.transpose(0, 2, 1))
    weight = problem.weights.astype(np.longdouble) * hv / 2
    P = v * (init @ init.transpose(0, 2, 1))
    At = A.transpose(0, 2, 1)
    risks = np.empty(last + 1, dtype=np.longdouble)
    for k in range(last + 1):
        risks[k] = np.sum(weight * (out @ P @ out.transpose(0, 2, 1))[:, 0, 0])
        P = A @ P @ At + noise
    return risks[t].astype(float)
