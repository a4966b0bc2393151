"""Learning-rate schedules: exact risk (per step and piecewise), exact gradients, optimal schedules.

References are independent of the code under test: a per-step recursion on the spec's
symbolic (A, b) lambdified here (not the generated forms), 50-digit mpmath powers of the
same matrices, mpmath numerical differentiation for gradients, the engine's constant-rate
risk, and the Bayes lower bound of a Gaussian-mean problem computed here.
"""

import math

import mpmath as mp
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import nqm.numerics as nn
from nqm.numerics import build_model
from nqm.numerics._steps import grid_minimum
from nqm.theory import BETA, GAMMA, LR, Hyperparameter, OptimizerSpec, ema, momentum, nesterov, qhm, sgd
from nqm.theory.symbols import B as Bsym
from nqm.theory.symbols import alpha, c, h

mp.mp.dps = 50

SMALL = nn.Problem([1.0, 0.05, 1e-3], c=[0.7, 0.05, 2e-3], init_var=[1.0, 2.0, 0.5], weights=[1.0, 3.0, 10.0])

# (numeric optimizer with placeholder lr, spec, fixed hyperparameter values by symbol)
SPECS = [
    (nn.SGD(lr=1.0), sgd, {}),
    (nn.SGD(lr=1.0, precond_power=0.5), sgd, {}),
    (nn.Momentum(lr=1.0, beta=0.9), momentum, {"beta": 0.9}),
    (nn.Momentum(lr=1.0, beta=0.5, precond_power=0.25), momentum, {"beta": 0.5}),
    (nn.EMA(lr=1.0, gamma=0.95), ema, {"gamma": 0.95}),
    (nn.Nesterov(lr=1.0, beta=0.8), nesterov, {"beta": 0.8}),
    (nn.QHM(lr=1.0, beta=0.9, nu=0.7), qhm, {"beta": 0.9, "nu": 0.7}),
]
IDS = ["sgd", "sgd-p0.5", "momentum", "momentum-p0.25", "ema", "nesterov", "qhm"]


def _mom_ema(grad, theta, m, avg, lr, beta, gamma):
    m = beta * m + grad(theta)
    theta = theta - lr * m
    return theta, m, gamma * avg + (1 - gamma) * theta


@pytest.fixture(scope="module")
def three_state():
    """A user spec with three states (momentum evaluated at an EMA): the doubling path."""
    spec = OptimizerSpec.from_update(
        "test_schedule_momentum_ema", _mom_ema, state=("theta", "m", "avg"),
        hyperparameters=(LR, BETA, GAMMA), init=(1, 0, 1), out=(0, 0, 1),
    )
    yield nn.Optimizer(spec, lr=1.0, beta=0.6, gamma=0.9), spec, {"beta": 0.6, "gamma": 0.9}


# ---------------------------------------------------------------- independent references
def _matrices(spec, fixed: dict, modules: str):
    """``(A(lr, h, c, B), b(...), init, out)`` from the spec's sympy matrices."""
    subs = {hp.symbol: fixed[hp.name] for hp in spec.hyperparameters if hp.name in fixed}
    A = sp.lambdify((alpha, h, c, Bsym), spec.A.subs(subs), modules)
    b = sp.lambdify((alpha, h, c, Bsym), spec.b.subs(subs), modules)
    return A, b, np.array(spec.init, dtype=float).ravel(), np.array(spec.out, dtype=float).ravel()


def _precondition(prob, p):
    return prob.h ** (1 - p), prob.c * prob.h ** (-p), prob.init_var * prob.h**p


def reference_per_step(spec, fixed, prob, p, lrs_per_step, Bv) -> np.ndarray:
    """E L(t), t = 0..T, in 50 digits: S_{t+1} = A_t S_t A_t^T + (c/B) b_t b_t^T per bin, S_0 = v init init^T."""
    A, b, init, out = _matrices(spec, fixed, "mpmath")
    hs, cs, vs = _precondition(prob, p)
    risk = [mp.mpf(0)] * (len(lrs_per_step) + 1)
    o = mp.matrix(out.tolist())
    for hi, ci, vi, wi in zip(hs, cs, vs, prob.weights):
        hi, ci, vi, wi = mp.mpf(hi), mp.mpf(ci), mp.mpf(vi), mp.mpf(wi)
        x0 = mp.matrix(init.tolist())
        S = vi * x0 * x0.T
        for t, lr in enumerate(lrs_per_step):
            risk[t] += wi * hi / 2 * (o.T * S * o)[0]
            Am, bm = mp.matrix(A(mp.mpf(lr), hi, ci, mp.mpf(Bv))), mp.matrix(b(mp.mpf(lr), hi, ci, mp.mpf(Bv)))
            S = Am * S * Am.T + ci / Bv * bm * bm.T
        risk[-1] += wi * hi / 2 * (o.T * S * o)[0]
    return np.array([float(r) for r in risk])


#: Two exact methods in double differ by the rounding each accumulates over a product of t transitions:
#: every step of the per-step recursion (a 2x2 product and a noise term) has a relative backward error of
#: a few eps, so after t steps the forward error is ~ t * eps * kappa of the largest second moment met,
#: kappa the ratio of the state's second-moment norm to the risk along the way. On a divergent curve this
#: is all of it: Nesterov lr 1, beta 0.8, lrs [1.65625, 0.333, 1.8125], lengths [204, 250, 135] on SMALL,
#: B = 1 (risk 4e74 at t = 204, 3e6 at t = 454, 5e73 at t = 589) has, against a 50-digit recursion,
#: errors up to 6e-14 (per step), 2.1e-13 (Chebyshev pieces), 5e-14 (doubling) of the running max, and
#: a difference of 2.7e-13 to 1.1e-12 (the latter on other libm builds), i.e. ~ 2-8 t eps. The bound
#: is 16 t eps of the running max: per step and method, 4 eps (2x2 products) times kappa <= 2 times 2.
ROUNDING_GROWTH = 16 * 2.0**-52


def running_max(curve: np.ndarray) -> np.ndarray:
    """Largest risk met so far: rounding in any exact method is relative to it, so a risk
    that falls by cancellation (after a divergent piece, say) is compared on that scale."""
    return np.maximum.accumulate(curve)


def mp_piecewise_risk(spec, fixed, prob, p, log_lrs, lengths, Bv):
    """Final risk of a piecewise schedule in 50 digits: powers of (A, b) by binary doubling."""
    A_fn, b_fn, init, out = _matrices(spec, fixed, "mpmath")
    hs, cs, vs = _precondition(prob, p)
    total = mp.mpf(0)
    for hi, ci, vi, wi in zip(hs, cs, vs, prob.weights):
        hi, ci, vi = mp.mpf(hi), mp.mpf(ci), mp.mpf(vi)
        n = len(init)
        m, N = mp.matrix(init.tolist()), mp.zeros(n, n)
        for y, L in zip(log_lrs, lengths):
            lr = mp.exp(y)
            A, b = mp.matrix(A_fn(lr, hi, ci, mp.mpf(Bv))), mp.matrix(b_fn(lr, hi, ci, mp.mpf(Bv)))
            P, S, Pp, Sp, k = mp.eye(n), mp.zeros(n, n), A, b * b.T, int(L)
            while k:
                if k & 1:
                    S, P = S + P * Sp * P.T, P * Pp
                k >>= 1
                if k:
                    Sp, Pp = Sp + Pp * Sp * Pp.T, Pp * Pp
            m, N = P * m, P * N * P.T + S
        o = mp.matrix(out.tolist())
        total += mp.mpf(wi) * hi / 2 * (vi * (o.T * m)[0] ** 2 + ci / Bv * (o.T * N * o)[0])
    return total


# ---------------------------------------------------------------- (1) the per-step recursion
@pytest.mark.parametrize("opt, spec, fixed", SPECS, ids=IDS)
@settings(max_examples=8, deadline=None)
@given(data=st.data())
def test_scheduled_risk_matches_an_independent_recursion(opt, spec, fixed, data) -> None:
    T = data.draw(st.integers(1, 60))
    lrs = np.array(data.draw(st.lists(st.floats(1e-3, 1.8), min_size=T, max_size=T)))
    Bv = data.draw(st.sampled_from([1.0, 7.0, 1024.0]))
    got = nn.scheduled_risk(SMALL, opt, batch_size=Bv, lrs=lrs)
    want = reference_per_step(spec, fixed, SMALL, float(opt.precond_power), lrs, Bv)
    assert np.all(np.abs(got - want) <= 1e-12 * running_max(want))


def test_three_state_user_spec_per_step(three_state) -> None:
    opt, spec, fixed = three_state
    lrs = np.random.default_rng(1).uniform(0.01, 1.5, 80)
    got = nn.scheduled_risk(SMALL, opt, batch_size=3.0, lrs=lrs)
    want = reference_per_step(spec, fixed, SMALL, 0.0, lrs, 3.0)
    assert np.all(np.abs(got - want) <= 1e-12 * running_max(want))


@pytest.mark.parametrize("opt", [s[0] for s in SPECS], ids=IDS)
def test_constant_schedule_is_the_engine_risk(opt) -> None:
    prob = nn.Problem.paper()
    steps = np.array([0, 1, 17, 999, 5000])
    want = nn.expected_risk(prob, opt.replace(lr=0.37), batch_size=64, steps=steps)
    per_step = nn.scheduled_risk(prob, opt, batch_size=64, lrs=np.full(5000, 0.37), steps=steps)
    pieces = nn.piecewise_risk(prob, opt, batch_size=64, lrs=[0.37] * 3, lengths=[1, 998, 4001], steps=steps)
    np.testing.assert_allclose(per_step, want, rtol=1e-12)
    np.testing.assert_allclose(pieces, want, rtol=1e-12)


def test_several_schedules_at_once_equal_separate_calls() -> None:
    rng = np.random.default_rng(0)
    lrs = rng.uniform(0.01, 1.0, (3, 40))
    opt = nn.Momentum(lr=1.0, beta=0.7)
    both = nn.scheduled_risk(SMALL, opt, batch_size=5, lrs=lrs, steps=[0, 13, 40])
    for i in range(3):
        np.testing.assert_array_equal(both[i], nn.scheduled_risk(SMALL, opt, batch_size=5, lrs=lrs[i], steps=[0, 13, 40]))
    pw = nn.piecewise_risk(SMALL, opt, batch_size=5, lrs=lrs[:, :4], lengths=[3, 0, 9, 28])
    for i in range(3):
        np.testing.assert_allclose(pw[i], nn.piecewise_risk(SMALL, opt, batch_size=5, lrs=lrs[i, :4], lengths=[3, 0, 9, 28]), rtol=1e-14)


# ---------------------------------------------------------------- (2) piecewise against (1)
@pytest.mark.parametrize("opt, spec, fixed", SPECS, ids=IDS)
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_piecewise_matches_the_per_step_recursion(opt, spec, fixed, data) -> None:
    K = data.draw(st.integers(1, 5))
    lrs = np.array(data.draw(st.lists(st.floats(1e-4, 1.9), min_size=K, max_size=K)))
    lengths = np.array(data.draw(st.lists(st.integers(0, 300), min_size=K, max_size=K)))
    T = int(lengths.sum())
    steps = np.unique(data.draw(st.lists(st.integers(0, T), min_size=1, max_size=6)))
    Bv = data.draw(st.sampled_from([1.0, 16.0, 4096.0]))
    curve = nn.scheduled_risk(SMALL, opt, batch_size=Bv, lrs=np.repeat(lrs, lengths)) if T else np.array([SMALL.initial_risk])
    want, scale = curve[steps], running_max(curve)[steps]
    for method in ("chebyshev", "doubling"):
        got = nn.piecewise_risk(SMALL, opt, batch_size=Bv, lrs=lrs, lengths=lengths, steps=steps, method=method)
        assert np.all(np.abs(got - want) <= ROUNDING_GROWTH * np.maximum(steps, 1) * scale), method
    ends = nn.piecewise_risk(SMALL, opt, batch_size=Bv, lrs=lrs, lengths=lengths)
    at = nn.piecewise_risk(SMALL, opt, batch_size=Bv, lrs=lrs, lengths=lengths, steps=np.r_[0, np.cumsum(lengths)])
    np.testing.assert_allclose(ends, at, rtol=1e-14)


def test_three_state_piecewise_matches_per_step(three_state) -> None:
    opt, _, _ = three_state
    lrs, lengths = np.array([1.2, 0.3, 0.05]), np.array([40, 7, 150])
    want = nn.scheduled_risk(SMALL, opt, batch_size=9, lrs=np.repeat(lrs, lengths), steps=[0, 40, 41, 47, 100, 197])
    got = nn.piecewise_risk(SMALL, opt, batch_size=9, lrs=lrs, lengths=lengths, steps=[0, 40, 41, 47, 100, 197])
    np.testing.assert_allclose(got, want, rtol=1e-12)


x = 1e-3
CRITICAL = (1 - math.sqrt(x)) ** 2
MP_CASES = [
    # (label, optimizer, spec, fixed, lrs, lengths)
    ("sgd tiny lr, long", nn.SGD(lr=1.0), sgd, {}, [1e-12, 1e-3, 1.9], [10**9, 10**6, 7]),
    ("sgd overshooting", nn.SGD(lr=1.0), sgd, {}, [1.99, 0.5], [1000, 10]),
    ("momentum critical damping", nn.Momentum(lr=1.0, beta=CRITICAL), momentum, {"beta": CRITICAL}, [x, x * (1 + 1e-9), 0.5], [10**6, 1000, 3]),
    ("momentum tiny lr", nn.Momentum(lr=1.0, beta=0.9), momentum, {"beta": 0.9}, [1e-12, 0.01, 2.5], [10**9, 10**5, 20]),
    ("ema repeated root", nn.EMA(lr=1.0, gamma=0.99), ema, {"gamma": 0.99}, [0.01, 0.003, 0.01 * (1 + 1e-12)], [5000, 10**7, 30]),
    ("qhm", nn.QHM(lr=1.0, beta=0.999, nu=0.7), qhm, {"beta": 0.999, "nu": 0.7}, [0.2, 1e-6], [10**4, 10**8]),
]


@pytest.mark.parametrize("label, opt, spec, fixed, lrs, lengths", MP_CASES, ids=[m[0] for m in MP_CASES])
@pytest.mark.parametrize("method", ["chebyshev", "doubling"])
def test_piecewise_matches_50_digit_reference(label, opt, spec, fixed, lrs, lengths, method) -> None:
    prob = nn.Problem([1.0], c=[1.0], init_var=[1.0])
    got = nn.piecewise_risk(prob, opt, batch_size=4.0, lrs=lrs, lengths=lengths, method=method)[-1]
    want = float(mp_piecewise_risk(spec, fixed, prob, 0.0, [mp.log(v) for v in lrs], lengths, 4.0))
    assert got == pytest.approx(want, rel=1e-12, abs=0)


def test_divergent_schedules_give_inf_never_nan() -> None:
    prob = nn.Problem.paper()
    lrs = np.array([0.5, 50.0, 0.1])
    per = nn.scheduled_risk(prob, "sgd", batch_size=4, lrs=np.repeat(lrs, [10, 400, 10]), steps=[0, 10, 100, 420])
    pw = nn.piecewise_risk(prob, "sgd", batch_size=4, lrs=lrs, lengths=[10, 400, 10], steps=[0, 10, 100, 420])
    for r in (per, pw):
        assert not np.isnan(r).any() and r[-1] == np.inf and r[0] == pytest.approx(prob.initial_risk)
    m = nn.piecewise_risk(prob, nn.Momentum(lr=1.0, beta=0.9), batch_size=4, lrs=lrs, lengths=[10, 10**6, 10])
    assert not np.isnan(m).any() and m[-1] == np.inf
    risk, grad = nn.piecewise_risk_gradient(prob, "sgd", batch_size=4, lrs=lrs, lengths=[10, 10**6, 10])
    assert risk == np.inf and not np.isnan(risk)


# ---------------------------------------------------------------- exact gradients
GRAD_CASES = [
    ("sgd closed form", nn.SGD(lr=1.0), sgd, {}, "auto"),
    ("sgd by doubling", nn.SGD(lr=1.0), sgd, {}, "doubling"),
    ("preconditioned sgd", nn.SGD(lr=1.0, precond_power=0.5), sgd, {}, "auto"),
    ("momentum", nn.Momentum(lr=1.0, beta=0.9), momentum, {"beta": 0.9}, "auto"),
    ("ema", nn.EMA(lr=1.0, gamma=0.95), ema, {"gamma": 0.95}, "auto"),
    ("nesterov", nn.Nesterov(lr=1.0, beta=0.8), nesterov, {"beta": 0.8}, "auto"),
]


@pytest.mark.parametrize("label, opt, spec, fixed, method", GRAD_CASES, ids=[g[0] for g in GRAD_CASES])
def test_gradient_matches_mpmath_differentiation(label, opt, spec, fixed, method) -> None:
    lrs = np.array([1.7, 0.4, 0.03, 0.9])
    lengths = np.array([3, 250, 1000, 2])
    p = float(opt.precond_power)
    risk, grad = nn.piecewise_risk_gradient(SMALL, opt, batch_size=8.0, lrs=lrs, lengths=lengths, method=method)
    y0 = [mp.log(v) for v in lrs]
    assert risk == pytest.approx(float(mp_piecewise_risk(spec, fixed, SMALL, p, y0, lengths, 8.0)), rel=1e-12)
    for k in range(len(lrs)):
        def f(y, k=k):
            ys = list(y0)
            ys[k] = y
            return mp_piecewise_risk(spec, fixed, SMALL, p, ys, lengths, 8.0)

        want = float(mp.diff(f, y0[k]))
        assert grad[k] == pytest.approx(want, rel=1e-9, abs=1e-14 * abs(risk))


def test_three_state_gradient_matches_central_differences(three_state) -> None:
    opt, _, _ = three_state
    lrs, lengths = np.array([1.1, 0.2, 0.02]), np.array([30, 400, 2000])
    _, grad = nn.piecewise_risk_gradient(SMALL, opt, batch_size=2, lrs=lrs, lengths=lengths)
    # central differences in log lr: truncation O(eps^2 R''') and rounding O(1e-16 R / eps)
    eps = 1e-5
    for k in range(3):
        up, dn = lrs.copy(), lrs.copy()
        up[k] *= math.exp(eps)
        dn[k] *= math.exp(-eps)
        fd = (nn.piecewise_risk(SMALL, opt, batch_size=2, lrs=up, lengths=lengths)[-1]
              - nn.piecewise_risk(SMALL, opt, batch_size=2, lrs=dn, lengths=lengths)[-1]) / (2 * eps)
        assert grad[k] == pytest.approx(fd, rel=1e-6, abs=1e-9)


@settings(max_examples=15, deadline=None)
@given(
    lrs=st.lists(st.floats(1e-3, 1.9), min_size=2, max_size=6),
    B=st.sampled_from([1.0, 64.0, 2.0**16]),
    data=st.data(),
)
def test_gradient_matches_finite_differences_on_the_paper_problem(lrs, B, data) -> None:
    prob = nn.Problem.paper()
    lrs = np.array(lrs)
    lengths = np.array(data.draw(st.lists(st.integers(1, 5000), min_size=lrs.size, max_size=lrs.size)))
    opt = data.draw(st.sampled_from([nn.SGD(lr=1.0), nn.Momentum(lr=1.0, beta=0.9)]))
    risk, grad = nn.piecewise_risk_gradient(prob, opt, batch_size=B, lrs=lrs, lengths=lengths)
    eps = 1e-6
    for k in range(lrs.size):
        up, dn = lrs.copy(), lrs.copy()
        up[k] *= math.exp(eps)
        dn[k] *= math.exp(-eps)
        fd = (nn.piecewise_risk(prob, opt, batch_size=B, lrs=up, lengths=lengths)[-1]
              - nn.piecewise_risk(prob, opt, batch_size=B, lrs=dn, lengths=lengths)[-1]) / (2 * eps)
        # rounding of the two risks (~1e-15 R each) over 2 eps, plus O(eps^2) truncation
        assert abs(grad[k] - fd) <= 1e-8 * risk + 1e-6 * abs(fd)


# ---------------------------------------------------------------- optimal schedules
def bayes_risk(prob, examples: float) -> float:
    """Posterior-mean risk with the start as prior: sum_i w_i h_i/2 / (1/v_i + N h_i^2/c_i)."""
    return float(np.sum(prob.weights * 0.5 * prob.h / (1.0 / prob.init_var + examples * prob.h**2 / prob.c)))


@pytest.mark.parametrize("B", [4.0, 256.0, 16384.0])
def test_optimised_schedule_beats_every_constant_rate_at_the_same_steps(B) -> None:
    prob = nn.Problem.paper()
    cap = nn.default_max_lr(prob, "sgd")
    grid = np.logspace(-5, math.log10(cap), 200)
    T = int(grid_minimum(build_model(prob, nn.SGD(lr=grid), B).flatten(), 0.01)[0])  # best constant's steps
    res = nn.optimize_schedule(prob, "sgd", batch_size=B, steps=T)
    constant_risks = nn.expected_risk(prob, nn.SGD(lr=grid), batch_size=B, steps=[T])[:, 0]
    assert res.final_risk <= constant_risks.min() * (1 + 1e-12)
    assert res.final_risk == pytest.approx(
        nn.piecewise_risk(prob, "sgd", batch_size=B, lrs=res.lrs, lengths=res.lengths)[-1], rel=1e-14
    )
    assert np.all(res.lrs <= cap) and res.lengths.sum() == T
    assert res.final_risk >= bayes_risk(prob, T * B)


@pytest.mark.parametrize("B", [4.0, 1024.0])
def test_step_search_is_certified_and_bounded(B) -> None:
    prob = nn.Problem.paper()
    res = nn.optimal_schedule(prob, "sgd", batch_size=B, target=0.01)
    T = int(res.steps)
    exact = nn.piecewise_risk(prob, "sgd", batch_size=B, lrs=res.lrs, lengths=res.lengths)
    assert res.lengths.sum() == T and exact[-1] <= 0.01
    # one step fewer: not reached from the authors' start nor from the found schedule
    for start in (-5.0, np.log(res.lrs)):
        assert nn.optimize_schedule(prob, "sgd", batch_size=B, steps=T - 1, start=start).final_risk > 0.01
    # never better than the Bayes bound; not worse than the best constant rate on the paper grid
    assert exact[-1] >= bayes_risk(prob, T * B)
    assert T >= nn.bayes_bound_steps(prob, batch_size=B, target=0.01)
    assert T <= grid_minimum(build_model(prob, nn.SGD(lr=np.logspace(-5, 0.5, 100)), B).flatten(), 0.01)[0]
    # the paper's information bound d/(2 eps B) (general C: tr(H^-1 C)/2) is not beaten either
    assert T >= prob.information_bound(0.01, B)


def test_bayes_bound_steps_is_the_first_step_under_the_bound() -> None:
    prob = nn.Problem.paper()
    for B in (4.0, 300.0):
        T = nn.bayes_bound_steps(prob, batch_size=B, target=0.01)
        assert bayes_risk(prob, T * B) <= 0.01 < bayes_risk(prob, (T - 1) * B)
        assert T <= prob.information_bound(0.01, B) + 1


@pytest.mark.slow
def test_paper_figures_3b_3c_15() -> None:
    sweep = nn.schedule_sweep(batch_sizes=2.0 ** np.arange(2, 21, 2))
    tab = sweep.steps_table()
    # Fig. 3b: schedules help a lot at small B, barely at large B; never beat the information bound
    assert np.all(tab["schedule_steps"] <= tab["constant_steps"])
    assert np.all(tab["schedule_steps"] >= tab["information_bound"])
    assert tab["constant_steps"][0] / tab["schedule_steps"][0] > 5
    assert tab["constant_steps"][-1] / tab["schedule_steps"][-1] < 1.1
    # Fig. 3c: high rate first, then decay (non-increasing up to the optimiser's tolerance)
    lrs = sweep.shapes()["lrs"]
    assert np.all(np.diff(lrs, axis=1) <= 1e-6 * lrs[:, :-1])
    # Fig. 15: final learning rate ~ linear in B below the critical batch size
    slope = sweep.final_lr_table()["local_slope"]
    assert np.all(np.abs(slope[:3] - 1) < 0.15)
    ten = nn.schedule_sweep(batch_sizes=[16.0, 256.0], pieces=10)
    assert ten.shapes()["lrs"].shape == (2, 10) and ten.shapes()["edges"].shape == (2, 11)
    assert np.all(ten.steps <= ten.constant_steps) and np.all(ten.steps >= ten.information_bound)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: nn.scheduled_risk(SMALL, "sgd", batch_size=4, lrs=[0.1, -1.0]), "lrs"),
        (lambda: nn.scheduled_risk(SMALL, "sgd", batch_size=4, lrs=[0.1, np.nan]), "lrs"),
        (lambda: nn.scheduled_risk(SMALL, "sgd", batch_size=0.5, lrs=[0.1]), "batch_size"),
        (lambda: nn.scheduled_risk(SMALL, "sgd", batch_size=4, lrs=[0.1], steps=[2]), "steps"),
        (lambda: nn.piecewise_risk(SMALL, "sgd", batch_size=4, lrs=[0.1, 0.2], lengths=[3]), "lengths"),
        (lambda: nn.piecewise_risk(SMALL, "sgd", batch_size=4, lrs=[0.1, 0.2], lengths=[3, -1]), "lengths"),
        (lambda: nn.piecewise_risk(SMALL, "sgd", batch_size=4, lrs=[0.1], lengths=[3], steps=[4]), "steps"),
        (lambda: nn.piecewise_risk(SMALL, "sgd", batch_size=4, lrs=[0.1], lengths=[3], method="x"), "method"),
        (lambda: nn.piecewise_risk(SMALL, nn.Momentum(lr=1.0, beta=[0.1, 0.2]), batch_size=4, lrs=[0.1], lengths=[3]), "beta"),
        (lambda: nn.piecewise_risk(SMALL, "momentum", batch_size=4, lrs=[0.1], lengths=[3]), "beta"),
        (lambda: nn.optimize_schedule(SMALL, "sgd", batch_size=4, steps=10, pieces=0), "pieces"),
        (lambda: nn.optimize_schedule(SMALL, "sgd", batch_size=4, steps=10, max_lr=-1.0), "max_lr"),
        (lambda: nn.optimal_schedule(SMALL, "sgd", batch_size=4, target=0.0), "target"),
        (lambda: nn.split_steps(10, 0), "pieces"),
    ],
)
def test_bad_input_raises_value_error_naming_the_parameter(call, match) -> None:
    with pytest.raises(ValueError, match=match):
        call()


def _plain(grad, theta, eta):
    return (theta - eta * grad(theta),)


def test_spec_without_lr_is_rejected() -> None:
    eta = Hyperparameter("eta", sp.Symbol("eta", positive=True), 0.0, math.inf, False, False)
    spec = OptimizerSpec.from_update("test_schedule_no_lr", _plain, state=("theta",), hyperparameters=(eta,))
    with pytest.raises(ValueError, match="'lr'"):
        nn.piecewise_risk(SMALL, nn.Optimizer(spec, eta=0.1), batch_size=4, lrs=[0.1], lengths=[3])


def test_one_state_maps_equal_the_general_closed_form() -> None:
    """The one-state fast path of the piece maps (the optimiser's hot path for SGD) gives the
    general Chebyshev closed form's P, Q, derivatives and stability flags at learning rates from
    1e-30 through the edge of stability 2/h (just inside, at, just outside) to divergence, at
    lengths 0, 1, odd and even up to 2^40: Q and its derivative bit for bit, P bit for bit
    where it is a normal number, P and its derivative to one rounding everywhere (the general
    path halves a power that may be subnormal, losing its last bits; the fast path does not)."""
    from nqm.numerics._schedule import schedule_family
    from nqm.numerics._schedule_maps import _chebyshev_maps, _one_state_maps

    for p in (0.0, 0.5):
        family = schedule_family(nn.Problem.paper(), nn.SGD(lr=1.0, precond_power=p), 64.0)
        hmax = family.h_range[0]
        edge = 2.0 / hmax
        lrs = np.concatenate([np.logspace(-30, 1, 120), [1 / hmax, edge * (1 - 1e-12), edge, edge * (1 + 1e-12), 1e300]])
        lengths = np.array([0, 1, 2, 3, 7, 8, 1000, 10**6 + 1, 10**9, 2**40], dtype=float)
        lr, L = np.meshgrid(lrs, lengths, indexing="ij")
        inv = family.invariants(lr, derivative=True)
        for derivative in (False, True):
            fast = _one_state_maps(inv, L[..., None], derivative)
            general = _chebyshev_maps(inv, L[..., None], derivative)
            np.testing.assert_array_equal(fast.stable, general.stable)
            for key in ("P", "Q", "dP", "dQ") if derivative else ("P", "Q"):
                a, b = getattr(fast, key), getattr(general, key)
                np.testing.assert_allclose(a, b, rtol=2 * np.finfo(float).eps, atol=np.finfo(float).tiny, err_msg=key)
                exact = ~(np.abs(b) < np.finfo(float).tiny) | (b == 0) if key == "P" else key != "dP"
                np.testing.assert_array_equal(np.where(exact, a, 0.0), np.where(exact, b, 0.0), err_msg=key)
