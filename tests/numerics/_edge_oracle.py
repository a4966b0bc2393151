r"""An independent high-precision oracle for the exact risk at any step (t up to 2**62).

Per direction, the state :math:`x_{t+1} = Ax_t + b\,\xi_t` (:math:`E\xi_t^2 = c/B`,
:math:`x_0 = \mathrm{init}\,\theta(0)`, :math:`E\theta(0)^2 = v`) has the exact expected loss

.. math::

    \tfrac12h\Bigl[v\,m(t)^2 + \tfrac cB\,n(t)\Bigr],\qquad m(t) = \mathrm{out}A^t\mathrm{init},\quad
    n(t) = \sum_{k<t}(\mathrm{out}A^kb)^2 = \mathrm{out}\,S_t\,\mathrm{out}^\top,

the second-moment recursion :math:`P_{t+1} = AP_tA^\top + \tfrac cBbb^\top` solved in closed form.
Here :math:`A^t` and :math:`S_t` come from the binary digits of t with
:math:`A^{a+p} = A^aA^p`, :math:`S_{a+p} = S_a + A^aS_pA^{a\top}`, in mpmath with the spec's
sympy matrices evaluated at the (exactly converted) float inputs. The working precision is
raised until two runs at precisions D and 2D agree to :data:`DIGITS` significant digits,
so every returned value carries at least that many correct digits (cancellation included).
Preconditioning :math:`P = H^p` (eqs. 8-9) is the problem :math:`(h^{1-p}, c\,h^{-p}, v\,h^p)`.
Shares no code with the engine; for small t, :func:`literal_moments` iterates the
recursion step by step as a check of this module.
"""

from __future__ import annotations

from collections.abc import Sequence

import mpmath as mp
import sympy as sp

from nqm.theory.symbols import B as B_SYM
from nqm.theory.symbols import c as C_SYM
from nqm.theory.symbols import h as H_SYM

#: significant digits guaranteed on every returned value
DIGITS = 50


def _matrices(spec, h: mp.mpf, c: mp.mpf, batch: mp.mpf, hyper: dict) -> tuple[mp.matrix, ...]:
    symbols = [H_SYM, C_SYM, B_SYM, *spec.symbols]
    args = [h, c, batch] + [mp.mpf(hyper[hp.name]) for hp in spec.hyperparameters]
    return tuple(mp.matrix(sp.lambdify(symbols, getattr(spec, name), "mpmath")(*args))
                 for name in ("A", "b", "init", "out"))


def _moments_at(spec, h, c, batch, hyper, steps: Sequence[int]) -> list[tuple[mp.mpf, mp.mpf]]:
    A, b, init, out = _matrices(spec, h, c, batch, hyper)
    n = A.rows
    result = []
    for t in steps:
        Ap, Sp = A, b * b.T
        Aa, Sa = mp.eye(n), mp.zeros(n, n)
        t = int(t)
        while t:
            if t & 1:
                Sa = Sa + Aa * Sp * Aa.T
                Aa = Aa * Ap
            t >>= 1
            if t:
                Sp = Sp + Ap * Sp * Ap.T
                Ap = Ap * Ap
        result.append(((out * Aa * init)[0, 0], (out * Sa * out.T)[0, 0]))
    return result


def _agree(x: mp.mpf, y: mp.mpf) -> bool:
    return x == y or abs(x - y) <= mp.mpf(10) ** (-DIGITS - 2) * max(abs(x), abs(y))


def moments(spec, h: float, c: float, batch: float, hyper: dict, steps: Sequence[int]) -> list[tuple[mp.mpf, mp.mpf]]:
    r"""``[(m(t), n(t)) for t in steps]`` of one direction, each to :data:`DIGITS` digits."""
    dps = 2 * DIGITS
    while True:
        runs = []
        for d in (dps, 2 * dps):
            with mp.workdps(d):
                runs.append(_moments_at(spec, mp.mpf(h), mp.mpf(c), mp.mpf(batch), hyper, steps))
        if all(_agree(x, y) for a, b in zip(*runs) for x, y in zip(a, b)):
            return runs[1]
        dps *= 2
        if dps > 40000:
            raise ArithmeticError("the oracle did not converge")


def literal_moments(spec, h: float, c: float, batch: float, hyper: dict, last: int) -> list[tuple[mp.mpf, mp.mpf]]:
    """``(m(t), n(t))`` for t = 0..last by iterating the recursion literally (a check of :func:`moments`)."""
    with mp.workdps(3 * DIGITS):
        A, b, init, out = _matrices(spec, mp.mpf(h), mp.mpf(c), mp.mpf(batch), hyper)
        x, g, noise, result = init, b, mp.mpf(0), []
        for _ in range(last + 1):
            result.append(((out * x)[0, 0], noise))
            noise += (out * g)[0, 0] ** 2
            x, g = A * x, A * g
        return result


def risk(spec, h: Sequence[float], c: Sequence[float], v: Sequence[float], w: Sequence[float], batch: float,
         hyper: dict, steps: Sequence[int], precond_power: float = 0.0) -> list[tuple[mp.mpf, mp.mpf]]:
    r"""``[(start part, noise part) of E L(t) for t in steps]`` summed over directions of weight ``w``."""
    parts = [[mp.mpf(0), mp.mpf(0)] for _ in steps]
    with mp.workdps(2 * DIGITS):
        p = mp.mpf(precond_power)
    for hi, ci, vi, wi in zip(h, c, v, w):
        with mp.workdps(4 * DIGITS):
            ht = mp.mpf(hi) ** (1 - p)
            ct = mp.mpf(ci) * mp.mpf(hi) ** (-p)
            vt = mp.mpf(vi) * mp.mpf(hi) ** p
        for k, (m, n) in enumerate(moments(spec, ht, ct, batch, hyper, steps)):
            with mp.workdps(4 * DIGITS):
                parts[k][0] += mp.mpf(wi) * ht / 2 * vt * m * m
                parts[k][1] += mp.mpf(wi) * ht / 2 * ct / mp.mpf(batch) * n
    return [(a, b) for a, b in parts]


def mean_scale(spec, h: float, c: float, batch: float, hyper: dict, t: int) -> mp.mpf:
    r""":math:`|\mathrm{out}|\,|A^t|\,|\mathrm{init}|` (entrywise absolute values), to a few digits: the
    magnitude a fixed-precision evaluation of :math:`m(t)` is measured against where m(t)
    passes through zero (oscillating modes)."""
    with mp.workdps(2 * DIGITS):
        A, _, init, out = _matrices(spec, mp.mpf(h), mp.mpf(c), mp.mpf(batch), hyper)
        P = A**int(t) if t else mp.eye(A.rows)
        n = A.rows
        return mp.fsum(abs(out[0, i]) * abs(P[i, j]) * abs(init[j, 0]) for i in range(n) for j in range(n))
