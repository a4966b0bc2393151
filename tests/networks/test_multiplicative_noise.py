"""The Gaussian-design multiplicative noise model: theory and exact engine (no torch needed).

References are independent of the module under test: the noise covariance is checked by
sympy.stats expectations of Gaussian polynomials, and the engine against a dense
(all directions at once, full cross-covariance) second-moment recursion written here
directly from each optimizer's update rule.
"""

import numpy as np
import pytest
import sympy as sp
import sympy.stats as ss

import nqm.numerics as nn
from nqm.theory import LR, OptimizerSpec, SpecError, ema, momentum, multiplicative_dynamics, nesterov, query_row, sgd
from nqm.theory._multiplicative import preconditioned_noise_is_invariant
from nqm.theory.symbols import alpha, beta, h


def test_gaussian_design_gradient_covariance_by_sympy_stats() -> None:
    # two eigen-directions, x_i ~ N(0, h_i), label noise eps ~ N(0, s^2); g = x (x.w - eps)
    h1, h2, s = sp.symbols("h1 h2 s", positive=True)
    w1, w2 = sp.symbols("w1 w2", real=True)
    x1, x2, eps = ss.Normal("x1", 0, sp.sqrt(h1)), ss.Normal("x2", 0, sp.sqrt(h2)), ss.Normal("eps", 0, s)
    r = x1 * w1 + x2 * w2 - eps
    g = [x1 * r, x2 * r]
    mean = [sp.simplify(ss.E(gi)) for gi in g]
    assert mean == [h1 * w1, h2 * w2]  # H = Sigma
    Sig, w = sp.diag(h1, h2), sp.Matrix([w1, w2])
    expected = Sig * w * w.T * Sig + (w.T * Sig * w)[0] * Sig + s**2 * Sig
    for i in range(2):
        for j in range(2):
            cov = ss.E(sp.expand(g[i] * g[j])) - mean[i] * mean[j]
            assert sp.simplify(cov - expected[i, j]) == 0


def test_query_rows_of_the_builtins_match_their_update_code() -> None:
    assert query_row(sgd) == sp.Matrix([[1]])
    assert query_row(momentum) == sp.Matrix([[1, 0]])
    assert query_row(ema) == sp.Matrix([[1, 0]])
    assert query_row(nesterov) == sp.Matrix([[1, -alpha * beta]])  # look-ahead theta - alpha beta m


def test_sgd_self_transition_is_the_hand_derived_one() -> None:
    # E w'^2 = (1 - a h)^2 E w^2 + a^2 (h^2 E w^2 + h Lambda + c) / B
    B = sp.Symbol("B", positive=True)
    dyn = multiplicative_dynamics(sgd)
    assert sp.simplify(dyn.self_matrix[0, 0] - ((1 - alpha * h) ** 2 + alpha**2 * h**2 / B)) == 0


def test_a_spec_with_two_gradient_queries_is_refused() -> None:
    def extragradient(grad, theta, lr):
        return (theta - lr * grad(theta - lr * grad(theta)),)

    spec = OptimizerSpec.from_update("extragradient_test", extragradient, state=("theta",), hyperparameters=(LR,))
    with pytest.raises(SpecError, match="more than one gradient"):
        query_row(spec)
    with pytest.raises(SpecError, match="un-preconditioned"):
        query_row(sgd.precondition())


def test_preconditioning_maps_the_model_to_itself() -> None:
    assert preconditioned_noise_is_invariant()


def dense_reference(h, c, v0, B, kind, lr, second, p, steps):
    """Full (all directions, with cross terms) second-moment recursion of the real update rule."""
    d = len(h)
    H, I = np.diag(h), np.eye(d)
    P = np.diag(h ** (-p))  # the update applies P^{-1} = H^{-p} to the gradient
    if kind == "sgd":
        A, b, Q, out = I - lr * P @ H, -lr * P, I, I
    elif kind == "momentum":  # m' = beta m + g, theta' = theta - lr m'
        A = np.block([[I - lr * P @ H, -lr * second * I], [P @ H, second * I]])
        b, Q, out = np.vstack([-lr * P, P]), np.hstack([I, 0 * I]), np.hstack([I, 0 * I])
    elif kind == "nesterov":  # g at theta - lr beta m
        A = np.block([[I - lr * P @ H, -lr * second * (I - lr * P @ H)], [P @ H, second * (I - lr * P @ H)]])
        b, Q, out = np.vstack([-lr * P, P]), np.hstack([I, -lr * second * I]), np.hstack([I, 0 * I])
    else:  # ema: theta' = theta - lr g, avg' = gamma avg + (1 - gamma) theta'
        A = np.block([[I - lr * P @ H, 0 * I], [(1 - second) * (I - lr * P @ H), second * I]])
        b, Q, out = np.vstack([-lr * P, -(1 - second) * lr * P]), np.hstack([I, 0 * I]), np.hstack([0 * I, I])
    n = A.shape[0]
    init = I if n == d else np.vstack([I, I if kind == "ema" else 0 * I])  # m(0) = 0, avg(0) = theta(0)
    Z = init @ np.diag(v0) @ init.T
    risks = []
    for _ in range(steps + 1):
        risks.append(0.5 * np.trace(H @ out @ Z @ out.T))
        W = Q @ Z @ Q.T
        C = (H @ W @ H + np.trace(H @ W) * H + np.diag(c)) / B
        Z = A @ Z @ A.T + b @ C @ b.T
    return np.array(risks)


CASES = [
    ("sgd", nn.SGD, dict(lr=0.3), None),
    ("momentum", nn.Momentum, dict(lr=0.1, beta=0.7), 0.7),
    ("nesterov", nn.Nesterov, dict(lr=0.1, beta=0.7), 0.7),
    ("ema", nn.EMA, dict(lr=0.3, gamma=0.8), 0.8),
]


@pytest.mark.parametrize("kind, cls, hyper, second", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("p", [0.0, 0.5])
def test_engine_matches_dense_reference(kind, cls, hyper, second, p) -> None:
    h = np.array([1.0, 0.4, 0.1, 0.02])
    c = 0.5 * h
    v0 = np.array([1.0, 2.0, 0.5, 3.0])
    steps = 60
    got = nn.multiplicative_expected_risk(nn.Problem(h, c, v0), cls(**hyper, precond_power=p), batch_size=3, steps=np.arange(steps + 1))
    want = dense_reference(h, c, v0, 3, kind, hyper["lr"], second, p, steps)
    np.testing.assert_allclose(got, want, rtol=1e-11, atol=0)


def test_grid_and_bins_broadcast_like_expected_risk() -> None:
    prob = nn.Problem([1.0, 0.1], c=[0.3, 0.03], init_var=1.0, weights=[2.0, 5.0])
    split = nn.Problem([1.0, 1.0, 0.1], c=[0.3, 0.3, 0.03], init_var=1.0, weights=[1.0, 1.0, 5.0])
    opt = nn.Momentum(lr=np.array([0.05, 0.1])[:, None], beta=np.array([0.0, 0.5, 0.9]))
    steps = np.array([[0, 3], [10, 40]])
    got = nn.multiplicative_expected_risk(prob, opt, batch_size=4, steps=steps)
    assert got.shape == (2, 3, 2, 2)
    # splitting a bin into two bins of half the weight changes nothing (the coupling sums weights)
    np.testing.assert_allclose(got, nn.multiplicative_expected_risk(split, opt, batch_size=4, steps=steps), rtol=1e-13)
    one = nn.multiplicative_expected_risk(prob, opt.at((1, 2)), batch_size=4, steps=steps)
    np.testing.assert_allclose(got[1, 2], one, rtol=1e-14)
    np.testing.assert_allclose(got[..., 0, 0], prob.initial_risk, rtol=1e-14)


def test_multiplicative_noise_only_adds_risk() -> None:
    prob = nn.Problem.power_law(50, a=1.0, c_scale=0.5)
    opt = nn.EMA(lr=0.5, gamma=0.9)
    t = np.arange(0, 200, 7)
    mult = nn.multiplicative_expected_risk(prob, opt, batch_size=8, steps=t)
    const = nn.expected_risk(prob, opt, batch_size=8, steps=t)
    assert np.all(mult[1:] > const[1:]) and mult[0] == pytest.approx(const[0], rel=1e-14)


def test_divergence_gives_inf_never_nan_and_bad_input_is_refused() -> None:
    prob = nn.Problem.power_law(20, a=1.0)
    # stable for the constant-noise model (lr h < 2) but the multiplicative noise blows up at B = 1
    risk = nn.multiplicative_expected_risk(prob, nn.Momentum(lr=1.5, beta=0.3), batch_size=1, steps=[0, 10, 5000])
    assert not np.isnan(risk).any() and risk[-1] == np.inf
    assert np.isfinite(nn.expected_risk(prob, nn.Momentum(lr=1.5, beta=0.3), batch_size=1, steps=[5000])[0])
    with pytest.raises(ValueError, match="steps"):
        nn.multiplicative_expected_risk(prob, nn.SGD(lr=0.1), batch_size=1, steps=[-1])
    with pytest.raises(ValueError, match="steps"):
        nn.multiplicative_expected_risk(prob, nn.SGD(lr=0.1), batch_size=1, steps=nn.MAX_MULTIPLICATIVE_STEPS + 1)
    with pytest.raises(ValueError, match="batch_size"):
        nn.multiplicative_expected_risk(prob, nn.SGD(lr=0.1), batch_size=0.5, steps=[1])
