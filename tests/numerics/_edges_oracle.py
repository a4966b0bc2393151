r"""An independent 50-digit reference for the edge scans (tests/numerics/test_edges*.py, benchmarks/scan_edges.py).

For one coordinate with curvature h, noise variance c, batch size B and start variance v, the
spec's state-space update :math:`x_{k+1} = Ax_k + b\,\xi_k` (:math:`E\xi^2 = c/B`) gives

.. math::

    E\ell(t) = \tfrac12 h\,v\,(\mathrm{out}A^t\mathrm{init})^2
             + \tfrac12 h\,\tfrac cB\,\mathrm{out}\,S_t\,\mathrm{out}^\top,\qquad
    S_t = \sum_{k<t}A^k b b^\top A^{k\top},

both evaluated by binary doubling (:math:`S_{2t} = S_t + A^tS_tA^{t\top}`, a sum of positive
semidefinite terms) in 50-digit mpmath from the exact binary values of the inputs. It uses only
the spec's sympy matrices (A, b, init, out), never the engine's invariants or closed forms.
"""

from __future__ import annotations

from functools import lru_cache

import mpmath as mp
import sympy as sp
from nqm.theory import get_spec
from nqm.theory.symbols import B, c, h

DIGITS = 50
#: absolute floor of the start part, relative to the initial risk h v / 2 (docs/math/numerics.md, "The
#: absolute floor of the mean path"): a mean path m with an absolute error d (10 ulps of
#: |c_t u0| + |s_t u1| <= 1e2: d = 1e2 * 2**-52 * 10 ~ 2.2e-13) puts (2|m| + d) d into m^2, which exceeds
#: RTOL m^2 by at most d^2 (1 + 1 / RTOL) (at |m| = d / RTOL): 4.9e-16 for RTOL = 1e-10, rounded up
START_FLOOR = 5e-16

Mat = list[list[mp.mpf]]


def _mul(X: Mat, Y: Mat) -> Mat:
    return [[mp.fsum(X[i][k] * Y[k][j] for k in range(len(Y))) for j in range(len(Y[0]))] for i in range(len(X))]


def _add(X: Mat, Y: Mat) -> Mat:
    return [[a + b for a, b in zip(r, s)] for r, s in zip(X, Y)]


def _t(X: Mat) -> Mat:
    return [list(col) for col in zip(*X)]


@lru_cache(maxsize=None)
def _lambdified(name: str):
    spec = get_spec(name)
    symbols = [h, c, B, *spec.symbols]
    return spec, {k: sp.lambdify(symbols, getattr(spec, k), "mpmath") for k in ("A", "b", "init", "out")}


def parts(name: str, hyper: dict[str, float], hv: float, cv: float, Bv: float, v: float, steps) -> list[tuple[mp.mpf, mp.mpf]]:
    """``(start part, noise part)`` of the expected loss of one coordinate at each of ``steps``."""
    spec, fns = _lambdified(name)
    with mp.workdps(DIGITS):
        args = [mp.mpf(hv), mp.mpf(cv), mp.mpf(Bv)] + [mp.mpf(hyper[hp.name]) for hp in spec.hyperparameters]
        A, b, init, out = (fns[k](*args).tolist() for k in ("A", "b", "init", "out"))
        n = len(A)
        result = []
        for t in steps:
            P = [[mp.mpf(int(i == j)) for j in range(n)] for i in range(n)]
            S = [[mp.mpf(0)] * n for _ in range(n)]
            Pp, Sp, k = A, _mul(b, _t(b)), int(t)
            while k:
                if k & 1:
                    S = _add(S, _mul(_mul(P, Sp), _t(P)))
                    P = _mul(P, Pp)
                k >>= 1
                if k:
                    Sp = _add(Sp, _mul(_mul(Pp, Sp), _t(Pp)))
                    Pp = _mul(Pp, Pp)
            mean = _mul(_mul(out, P), init)[0][0]
            noise = _mul(_mul(out, S), _t(out))[0][0]
            half_h = args[0] / 2
            result.append((half_h * mp.mpf(v) * mean * mean, half_h * args[1] / args[2] * noise))
        return result


def risk(name: str, hyper: dict[str, float], hv: float, cv: float, Bv: float, v: float, steps) -> list[mp.mpf]:
    """Expected loss of one coordinate at each of ``steps`` (start part + noise part)."""
    with mp.workdps(DIGITS):
        return [a + b for a, b in parts(name, hyper, hv, cv, Bv, v, steps)]


def edge(name: str, beta: float, nu: float = 0.7) -> mp.mpf:
    """alpha*h at the stability edge (an eigenvalue at -1) of a built-in, in the working precision."""
    b, n = mp.mpf(beta), mp.mpf(nu)
    return {
        "sgd": mp.mpf(2),
        "ema": mp.mpf(2),
        "momentum": 2 * (1 + b),
        "nesterov": 2 * (1 + b) / (1 + 2 * b),
        "qhm": 2 * (1 + b) / (1 + b - 2 * b * n),
    }[name]
