"""The engine against 50-digit mpmath: near repeated roots, tiny alpha*h, t up to 1e9.

The reference powers the spec's own (A, b) in mpmath by binary doubling; it shares no
code with the engine, which uses factored invariants and the Chebyshev closed form.
"""

import math

import mpmath as mp
import numpy as np
import pytest
import sympy as sp

import nqm.numerics as nn
from nqm.theory import ema, momentum, nesterov, qhm, sgd
from nqm.theory.symbols import B, alpha, beta, c, gamma, h

mp.mp.dps = 50


def mp_risk(spec, values: dict, hv: float, cv: float, Bv: float, v0: float, t: int) -> mp.mpf:
    """E[l(t)] = h/2 (v0 (out A^t init)^2 + c/B out S_t out^T) by doubling in 50 digits."""
    sub = {h: sp.Float(hv, 50), c: sp.Float(cv, 50), B: sp.Float(Bv, 50)}
    sub.update({k: sp.Float(v, 50) for k, v in values.items()})
    conv = lambda M: mp.matrix(sp.N(M.subs(sub), 50).tolist())  # noqa: E731
    A, b, init, out = conv(spec.A), conv(spec.b), conv(spec.init), conv(spec.out)
    n = A.rows
    P, S, Pp, Sp, k = mp.eye(n), mp.zeros(n, n), A, b * b.T, t
    while k:
        if k & 1:
            S, P = S + P * Sp * P.T, P * Pp
        k >>= 1
        if k:
            Sp, Pp = Sp + Pp * Sp * Pp.T, Pp * Pp
    return mp.mpf(hv) / 2 * (v0 * (out * P * init)[0] ** 2 + mp.mpf(cv) / Bv * (out * S * out.T)[0])


x = 1e-3
critical = (1 - math.sqrt(x)) ** 2
CASES = [
    ("critical damping", momentum, nn.Momentum(lr=x, beta=critical), {alpha: x, beta: critical}),
    ("just overdamped", momentum, nn.Momentum(lr=x, beta=critical * (1 - 1e-9)), {alpha: x, beta: critical * (1 - 1e-9)}),
    ("just underdamped", momentum, nn.Momentum(lr=x, beta=critical * (1 + 1e-9)), {alpha: x, beta: critical * (1 + 1e-9)}),
    ("tiny alpha h", momentum, nn.Momentum(lr=1e-12, beta=0.9), {alpha: 1e-12, beta: 0.9}),
    ("tiny alpha h, beta near 1", momentum, nn.Momentum(lr=1e-12, beta=1 - 1e-5), {alpha: 1e-12, beta: 1 - 1e-5}),
    ("EMA repeated root", ema, nn.EMA(lr=0.01, gamma=0.99), {alpha: 0.01, gamma: 0.99}),
    ("EMA near repeated root", ema, nn.EMA(lr=0.01, gamma=0.99 * (1 + 1e-12)), {alpha: 0.01, gamma: 0.99 * (1 + 1e-12)}),
    ("SGD tiny alpha h", sgd, nn.SGD(lr=1e-12), {alpha: 1e-12}),
    ("SGD overshooting", sgd, nn.SGD(lr=1.9), {alpha: 1.9}),
    ("momentum, negative eigenvalues", momentum, nn.Momentum(lr=3.5, beta=0.9), {alpha: 3.5, beta: 0.9}),
    ("momentum, beta tiny", momentum, nn.Momentum(lr=1.5, beta=0.01), {alpha: 1.5, beta: 0.01}),
    ("momentum beta = 0", momentum, nn.Momentum(lr=0.3, beta=0.0), {alpha: 0.3, beta: 0.0}),
    ("nesterov", nesterov, nn.Nesterov(lr=0.2, beta=0.95), {alpha: 0.2, beta: 0.95}),
    ("qhm", qhm, nn.QHM(lr=0.2, beta=0.999, nu=0.7), {alpha: 0.2, beta: 0.999, sp.Symbol("nu", nonnegative=True): 0.7}),
]
STEPS = [0, 1, 7, 1000, 10**6, 10**9]


@pytest.mark.parametrize("label, spec, opt, values", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("method", ["chebyshev", "doubling"])
def test_expected_risk_matches_50_digit_reference(label, spec, opt, values, method) -> None:
    prob = nn.Problem([1.0], c=[1.0], init_var=1.0)
    got = nn.expected_risk(prob, opt, batch_size=4.0, steps=STEPS, method=method)
    want = np.array([float(mp_risk(spec, values, 1.0, 1.0, 4.0, 1.0, t)) for t in STEPS])
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=0)


def test_divergent_settings_give_inf_never_nan() -> None:
    prob = nn.Problem.paper()
    opt = nn.Momentum(lr=[0.5, 5.0], beta=0.9)  # alpha h < 2(1 + beta) fails for the second
    stat = nn.stationary_risk(prob, opt, batch_size=16)
    assert np.isfinite(stat[0]) and stat[1] == np.inf
    risk = nn.expected_risk(prob, opt, batch_size=16, steps=[0, 10, 10**6, 10**9])
    assert not np.isnan(risk).any()
    assert risk[1, -1] == np.inf and risk[1, 0] == pytest.approx(prob.initial_risk)
    assert nn.steps_to_target(prob, nn.Momentum(lr=5.0, beta=0.9), batch_size=16, target=0.01) == math.inf
