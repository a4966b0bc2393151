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
:math:`\tilde v = v\,h^{p}`. :func:`piecewise_risk_mp` applies a constant piece of L steps by binary
powering of the same literal matrices (for horizons up to :math:`2^{62}`). Shares no code with
``nqm.numerics``.
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
    """:math:`\\mathbb E\\mathcal L(t)` for t = 0..T in mpmath (the sum over bins of :func:`per_bin_risks`)."""
    bins = per_bin_risks(spec, problem, per_step, precond_power)
    with mp.workdps(DIGITS):
        return [mp.fsum(col) for col in zip(*bins)]


def per_bin_risks(spec, problem, per_step: dict, precond_power: float = 0.0) -> list:
    """``risks[bin][t]``: bin i's risk :math:`w_i\\tfrac12\\tilde h_i\\,\\mathrm{out}\\,S_t\\,\\mathrm{out}^\\top`
    for t = 0..T in mpmath; ``per_step`` maps every hyperparameter name of ``spec`` and
    ``"batch_size"`` to T per-step values (numbers or mpf; a single number is every step's value)."""
    T = max((len(v) for v in per_step.values() if np.ndim(v)), default=0)
    steps = {k: list(v) if np.ndim(v) else [v] * T for k, v in per_step.items()}
    names = [hp.name for hp in spec.hyperparameters]
    with mp.workdps(DIGITS):
        fns = _lambdified(spec)
        out = []
        for ht, ct, vt, wi in _equivalent_bins(problem, precond_power):

            def at(label: str, t: int) -> mp.matrix:
                args = [ht, ct, mp.mpf(steps["batch_size"][t])] + [mp.mpf(steps[n][t]) for n in names]
                return mp.matrix(fns[label](*args))

            x0, o = at("init", 0), at("out", 0)
            S = vt * x0 * x0.T
            risk = []
            for t in range(T + 1):
                risk.append(wi * ht / 2 * (o * S * o.T)[0])
                if t == T:
                    break
                A, b = at("A", t), at("b", t)
                S = A * S * A.T + ct / mp.mpf(steps["batch_size"][t]) * (b * b.T)
            out.append(risk)
        return out


def _lambdified(spec) -> dict:
    symbols = [h, c, B, *spec.symbols]
    return {label: sp.lambdify(symbols, getattr(spec, label), "mpmath") for label in ("A", "b", "init", "out")}


def _equivalent_bins(problem, precond_power: float):
    """Per bin :math:`(\\tilde h, \\tilde c, \\tilde v, w)` of the equivalent problem (eqs. 8-9) in mpmath."""
    p = mp.mpf(precond_power)
    for hi, ci, vi, wi in zip(problem.h, problem.c, problem.init_var, problem.weights):
        yield mp.mpf(hi) ** (1 - p), mp.mpf(ci) * mp.mpf(hi) ** (-p), mp.mpf(vi) * mp.mpf(hi) ** p, mp.mpf(wi)


def piecewise_risk_mp(spec, problem, pieces: list, precond_power: float = 0.0) -> list:
    """:math:`\\mathbb E\\mathcal L` at the end of each piece (and at step 0) in mpmath for ``pieces`` =
    [(values, L), ...] with ``values`` mapping every hyperparameter and ``"batch_size"`` to a number:
    :math:`S \\mapsto A^LSA^{L\\top} + \\frac cB\\sum_{k<L}A^kbb^\\top A^{k\\top}` by binary powering of
    the literal matrices (any L up to 2**62 in about 62 squarings)."""
    names = [hp.name for hp in spec.hyperparameters]
    with mp.workdps(DIGITS):
        fns = _lambdified(spec)
        total = [mp.mpf(0)] * (len(pieces) + 1)
        for ht, ct, vt, wi in _equivalent_bins(problem, precond_power):
            first = pieces[0][0]
            args0 = [ht, ct, mp.mpf(first["batch_size"])] + [mp.mpf(first[n]) for n in names]
            x0, o = mp.matrix(fns["init"](*args0)), mp.matrix(fns["out"](*args0))
            S = vt * x0 * x0.T
            total[0] += wi * ht / 2 * (o * S * o.T)[0]
            for j, (values, L) in enumerate(pieces):
                args = [ht, ct, mp.mpf(values["batch_size"])] + [mp.mpf(values[n]) for n in names]
                A, b = mp.matrix(fns["A"](*args)), mp.matrix(fns["b"](*args))
                n = A.rows
                P, Q, Pp, Qp, k = mp.eye(n), mp.zeros(n, n), A, b * b.T, int(L)
                while k:
                    if k & 1:
                        Q, P = Q + P * Qp * P.T, P * Pp
                    k >>= 1
                    if k:
                        Qp, Pp = Qp + Pp * Qp * Pp.T, Pp * Pp
                S = P * S * P.T + ct / mp.mpf(values["batch_size"]) * Q
                total[j + 1] += wi * ht / 2 * (o * S * o.T)[0]
        return total
