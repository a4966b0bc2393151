r"""An independent reference for the conformance tests, in 30-digit mpmath.

Per bin, the second moment :math:`P_t = E[x_tx_t^\top]` of :math:`x_{t+1} = A_tx_t + b_t\xi_t`
(:math:`E\xi_t^2 = c/B`, :math:`x_0 = \mathrm{init}\,\theta(0)`, :math:`E\theta(0)^2 = v`) is iterated
literally, :math:`P_{t+1} = A_tP_tA_t^\top + \frac c{B_t} b_tb_t^\top`, with the entries of the spec's
sympy matrices evaluated by mpmath at each step's values (so schedules work too: the learning
rates ``lrs`` and any other hyperparameter or the batch size given as a list of per-step values).
Preconditioning :math:`P = H^p` uses the equivalent problem of eqs. 8-9, written out here:
:math:`\tilde h = h^{1-p}`, :math:`\tilde c = c\,h^{-p}`, :math:`\tilde v = v\,h^{p}`, loss
:math:`\tfrac12\tilde h\,\tilde\theta^2`. Shares no code with the engine or with
``nqm.proofs.moment_recursion_risk`` (which lambdifies in numpy long double and preconditions
through ``OptimizerSpec.precondition``).
"""

from __future__ import annotations

import mpmath as mp
import sympy as sp

from nqm.theory.symbols import B, c, h

DIGITS = 30


def _mul(X: list[list[mp.mpf]], Y: list[list[mp.mpf]]) -> list[list[mp.mpf]]:
    return [[mp.fsum(X[i][k] * Y[k][j] for k in range(len(Y))) for j in range(len(Y[0]))] for i in range(len(X))]


def _transpose(X: list[list[mp.mpf]]) -> list[list[mp.mpf]]:
    return [list(col) for col in zip(*X)]


def _at(value, t: int):
    """Step ``t``'s value of a constant or of a list of per-step values."""
    return value[t] if isinstance(value, (list, tuple)) else value


def per_coordinate_risks(spec, problem, hyper: dict, precond_power: float, batch_size, lrs) -> list[list[mp.mpf]]:
    """Expected loss of one coordinate of each bin at steps 0..len(lrs): ``risks[bin][t]``.

    ``lrs`` is the learning rate of each update (for a spec without ``lr`` pass ``[None] * steps``);
    ``hyper`` holds the other hyperparameters and ``batch_size`` the batch size, each a number or a
    list of per-step values.
    """
    with mp.workdps(DIGITS):
        symbols = [h, c, B, *spec.symbols]
        fns = {name: sp.lambdify(symbols, getattr(spec, name), "mpmath") for name in ("A", "b", "init", "out")}
        n = spec.n
        p = mp.mpf(precond_power)
        out = []
        for hi, ci, vi in zip(problem.h, problem.c, problem.init_var):
            ht = mp.mpf(hi) ** (1 - p)
            ct = mp.mpf(ci) * mp.mpf(hi) ** (-p)
            vt = mp.mpf(vi) * mp.mpf(hi) ** p

            def entries(name: str, t: int) -> mp.matrix:
                args = [ht, ct, mp.mpf(_at(batch_size, t))]
                lr = _at(list(lrs), t) if len(lrs) else hyper.get("lr")
                args += [mp.mpf(lr if hp.name == "lr" else _at(hyper[hp.name], t)) for hp in spec.hyperparameters]
                return fns[name](*args)

            init, row = entries("init", 0), entries("out", 0)
            x0 = [[init[i, 0]] for i in range(n)]
            o = [[row[0, j] for j in range(n)]]
            P = [[vt * x0[i][0] * x0[j][0] for j in range(n)] for i in range(n)]
            risks = []
            for t in range(len(lrs) + 1):
                risks.append(ht / 2 * _mul(_mul(o, P), _transpose(o))[0][0])
                if t == len(lrs):
                    break
                A_mp, b_mp = entries("A", t), entries("b", t)
                A = [[A_mp[i, j] for j in range(n)] for i in range(n)]
                b = [[b_mp[i, 0]] for i in range(n)]
                noise = _mul(b, _transpose(b))
                P = _mul(_mul(A, P), _transpose(A))
                P = [[P[i][j] + ct / mp.mpf(_at(batch_size, t)) * noise[i][j] for j in range(n)] for i in range(n)]
            out.append(risks)
        return out


def expected_risk(spec, problem, hyper: dict, precond_power: float, batch_size: float, steps) -> list[mp.mpf]:
    """:math:`E\\mathcal L(t) = \\sum_i w_i\\,\\rho_i(t)` at each of ``steps`` for constant hyperparameters."""
    last = int(max(steps))
    lr = hyper.get("lr")
    risks = per_coordinate_risks(spec, problem, hyper, precond_power, batch_size, [lr] * last)
    with mp.workdps(DIGITS):
        return [mp.fsum(mp.mpf(w) * r[int(t)] for w, r in zip(problem.weights, risks)) for t in steps]
