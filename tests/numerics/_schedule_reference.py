r"""An independent per-step reference for schedules of every hyperparameter and of the batch size.

Per bin, the second moment :math:`S_t = E[x_tx_t^\top]` of :math:`x_{t+1} = A_tx_t + b_t\xi_t`
(:math:`E\xi_t^2 = c/B_t`, :math:`x_0 = \mathrm{init}\,\theta(0)`, :math:`E\theta(0)^2 = v`) is
iterated literally in mpmath (:data:`DIGITS` digits),

.. math::

    S_{t+1} = A_tS_tA_t^\top + \tfrac{c}{B_t}\,b_tb_t^\top,\qquad
    \mathbb E\mathcal L(t) = \sum_i w_i\tfrac12\tilde h_i\,\mathrm{out}\,S_t\,\mathrm{out}^\top,

with :math:`A_t, b_t` the spec's sympy matrices (``spec.A``, ``spec.b``, ``spec.init``, ``spec.out``
of :mod:`nqm.theory`, lambdified to mpmath; not the numeric engine's generated forms) evaluated at
step t's value of every hyperparameter and batch size. Preconditioning :math:`P = H^p` uses the
equivalent problem of eqs. 8-9 written out here: :math:`\tilde h = h^{1-p}`, :math:`\tilde c = c\,h^{-p}`,
:math:`\tilde v = v\,h^{p}`. Shares no code with ``nqm.numerics``.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import sympy as sp

from nqm.theory.symbols import B, c, h

DIGITS = 30


def per_step_risk(spec, problem, per_step: dict, precond_power: float = 0.0) -> np.ndarray:
    """:math:`\\mathbb E\\mathcal L(t)` for t = 0..T as floats (:func:`per_step_risk_mp`)."""
    return np.array([float(r) for r in per_step_risk_mp(spec, problem, per_step, precond_power)])


def per_step_risk_mp(spec, problem, per_step: dict, precond_power: float = 0.0) -> list:
    """:math:`\\mathbb E\\mathcal L(t)` for t = 0..T in mpmath; ``per_step`` maps every hyperparameter
    name of ``spec`` and ``"batch_size"`` to T per-step values (numbers or mpf; a single number is
    every step's value)."""
    T = max((len(v) for v in per_step.values() if np.ndim(v)), default=0)
    steps = {k: list(v) if np.ndim(v) else [v] * T for k, v in per_step.items()}
    names = [hp.name for hp in spec.hyperparameters]
    with mp.workdps(DIGITS):
        symbols = [h, c, B, *spec.symbols]
        fns = {label: sp.lambdify(symbols, getattr(spec, label), "mpmath") for label in ("A", "b", "init", "out")}
        p = mp.mpf(precond_power)
        risk = [mp.mpf(0)] * (T + 1)
        for hi, ci, vi, wi in zip(problem.h, problem.c, problem.init_var, problem.weights):
            ht = mp.mpf(hi) ** (1 - p)
            ct = mp.mpf(ci) * mp.mpf(hi) ** (-p)
            vt = mp.mpf(vi) * mp.mpf(hi) ** p

            def at(label: str, t: int) -> mp.matrix:
                args = [ht, ct, mp.mpf(steps["batch_size"][t])] + [mp.mpf(steps[n][t]) for n in names]
                return mp.matrix(fns[label](*args))

            x0, out = at("init", 0), at("out", 0)
            S = vt * x0 * x0.T
            for t in range(T + 1):
                risk[t] += mp.mpf(wi) * ht / 2 * (out * S * out.T)[0]
                if t == T:
                    break
                A, b = at("A", t), at("b", t)
                S = A * S * A.T + ct / mp.mpf(steps["batch_size"][t]) * (b * b.T)
        return risk
