"""The doubling engine against an independent 50-digit oracle (tests/numerics/_edge_oracle.py)
in the regions where its I + E representation had an absolute floor: noise-free directions
(c = 0) whose mean path decays to 1e-300, with a slow mode the output does not see, for
user specs of three states, QHM at nu = 0 and Nesterov, up to t = 2**30.

Tolerance: 1e-10 relative (the engine's promise; the module docstring of
nqm.numerics._doubling bounds the error by about 2^8 ulps per mode). Where the mean path
oscillates (complex modes) it passes through zero, and near a zero no fixed-precision method
is relative-accurate; the tolerance adds the floor 1e-14 h v s^2 / 2, s = |out| |A^t| |init|
(entrywise, from the oracle): a mean path within 1e-13 of s is still held to 1e-10 relative
in m^2 wherever |m| >= 2e-3 s. Below the smallest normal double (1e-308) the engine must return a
non-negative value no larger than 1e-300.
"""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath as mp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sympy as sp

import nqm.numerics as nn
from nqm.theory import BETA, GAMMA, LR, OptimizerSpec, get_spec
from nqm.theory.symbols import h as H
from nqm.numerics._twofold import DoubleDouble

import _edge_oracle as oracle
from _user_specs import EMA_HB, ema_of_heavy_ball

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
RTOL = 1e-10
FLOOR = 1e-14
SMALLEST = 1e-300


#: out = theta: the EMA state is a mode of eigenvalue gamma the output does not see
HB_TRACKING = OptimizerSpec.from_update(
    "test_doubling_hb_tracking", ema_of_heavy_ball, state=("theta", "m", "avg"),
    hyperparameters=(LR, BETA, GAMMA), init=(1, 0, 1), out=(1, 0, 0), description="heavy ball, unread EMA",
)
#: out = avg: an EMA of heavy-ball iterates (all three modes observed)
MOMENTUM_EMA = EMA_HB
CLASSES = {spec.name: nn.from_spec(spec) for spec in (HB_TRACKING, MOMENTUM_EMA)}


def _observed_radius(spec, hyper: dict) -> float:
    """Spectral radius of the modes the output sees, at h = 1 (only used to choose steps, never to check)."""
    A = np.array(sp.lambdify([H, *spec.symbols], spec.A)(1.0, *(hyper[hp.name] for hp in spec.hyperparameters)), dtype=float)
    seen = {"qhm": 1, HB_TRACKING.name: 2}.get(spec.name, A.shape[0])  # QHM at nu = 0: theta alone
    return float(np.max(np.abs(np.linalg.eigvals(A[:seen, :seen]))))


def _case(spec_name: str, lr_h: float, beta: float, gamma: float):
    if spec_name == "qhm":
        return get_spec("qhm"), nn.QHM(lr=lr_h, beta=gamma, nu=0.0), {"lr": lr_h, "beta": gamma, "nu": 0.0}
    if spec_name == "nesterov":
        return get_spec("nesterov"), nn.Nesterov(lr=lr_h, beta=beta), {"lr": lr_h, "beta": beta}
    spec = HB_TRACKING if spec_name == HB_TRACKING.name else MOMENTUM_EMA
    return spec, CLASSES[spec_name](lr=lr_h, beta=beta, gamma=gamma), {"lr": lr_h, "beta": beta, "gamma": gamma}


@SETTINGS
@given(
    spec_name=st.sampled_from(["qhm", "nesterov", HB_TRACKING.name, MOMENTUM_EMA.name]),
    log_lr_h=st.floats(-4.0, 0.0),
    beta=st.one_of(st.just(0.0), st.floats(0.0, 0.95)),
    log_slow=st.floats(-9.0, 0.0),
    decades=st.floats(0.0, 330.0),
    log_h=st.floats(-3.0, 3.0),
)
def test_noise_free_decayed_mean_path_is_relative_accurate(spec_name, log_lr_h, beta, log_slow, decades, log_h) -> None:
    h, lr_h, gamma = 10.0**log_h, 10.0**log_lr_h, 1.0 - 10.0**log_slow
    spec, opt, hyper = _case(spec_name, lr_h / h, beta, gamma)
    rho = _observed_radius(spec, {**hyper, "lr": lr_h})
    # the step at which the observed modes have decayed by 10^-decades (capped at 2^30)
    t = 0 if rho == 0.0 else int(min(2**30, decades * math.log(10.0) / (2.0 * -math.log(rho))))
    prob = nn.Problem([h], c=[0.0], init_var=[1.0])
    start, noise = nn.risk_components(prob, opt, batch_size=1.0, steps=[t], method="doubling")
    (true_start, true_noise), = oracle.risk(spec, [h], [0.0], [1.0], [1.0], 1.0, hyper, [t])
    got = float(start[0] + noise[0])
    assert true_noise == 0 and got >= 0.0
    if true_start < mp.mpf(SMALLEST):
        assert got <= SMALLEST
        return
    floor = FLOOR * h / 2 * oracle.mean_scale(spec, h, 0.0, 1.0, hyper, t) ** 2
    assert abs(mp.mpf(got) - true_start) <= RTOL * true_start + floor, (t, got, true_start)


@SETTINGS
@given(
    spec_name=st.sampled_from([HB_TRACKING.name, MOMENTUM_EMA.name]),
    log_lr_h=st.floats(-12.0, 0.0),
    beta=st.floats(0.0, 0.999),
    log_slow=st.floats(-9.0, 0.0),
    log_t=st.floats(0.0, 9.0),
    log_c=st.floats(-6.0, 2.0),
)
def test_noisy_three_state_risk_is_relative_accurate(spec_name, log_lr_h, beta, log_slow, log_t, log_c) -> None:
    lr_h, gamma, c, t = 10.0**log_lr_h, 1.0 - 10.0**log_slow, 10.0**log_c, int(10.0**log_t)
    spec, opt, hyper = _case(spec_name, lr_h, beta, gamma)
    prob = nn.Problem([1.0], c=[c], init_var=[1.0])
    start, noise = nn.risk_components(prob, opt, batch_size=4.0, steps=[t], method="doubling")
    (true_start, true_noise), = oracle.risk(spec, [1.0], [c], [1.0], [1.0], 4.0, hyper, [t])
    assert abs(mp.mpf(float(noise[0])) - true_noise) <= RTOL * true_noise
    total = true_start + true_noise
    floor = FLOOR / 2 * oracle.mean_scale(spec, 1.0, c, 4.0, hyper, t) ** 2
    assert abs(mp.mpf(float(start[0] + noise[0])) - total) <= RTOL * total + floor


@SETTINGS
@given(log_lr_h=st.floats(-1.5, -0.5), log_slow=st.floats(-9.0, -1.0), decades=st.floats(1.0, 300.0),
       spec_name=st.sampled_from(["qhm", HB_TRACKING.name]))
def test_noise_free_first_hit_below_the_old_floor(log_lr_h, log_slow, decades, spec_name) -> None:
    # an unseen slow mode (QHM's buffer at nu = 0, an unread EMA) and a monotone observed
    # curve ((1 - lr h)^(2t) / 2): the first hit of a target between two consecutive steps'
    # oracle risks is the later step; the I + E floor made every target below 1e-32 hit early
    lr_h, gamma = 10.0**log_lr_h, 1.0 - 10.0**log_slow
    t_star = max(1, int(decades * math.log(10.0) / (2.0 * -math.log1p(-lr_h))))
    spec, opt, hyper = _case(spec_name, lr_h, 0.0, gamma)
    prob = nn.Problem([1.0], c=[0.0], init_var=[1.0])
    (before, _), (at, _) = oracle.risk(spec, [1.0], [0.0], [1.0], [1.0], 1.0, hyper, [t_star - 1, t_star])
    if at < mp.mpf(SMALLEST):
        return
    target = float(mp.sqrt(before * at))
    assert nn.steps_to_target(prob, opt, batch_size=1.0, target=target, method="doubling") == t_star


@pytest.mark.parametrize("spec", [HB_TRACKING, MOMENTUM_EMA], ids=lambda s: s.name)
def test_oracle_matches_the_literal_recursion(spec: OptimizerSpec) -> None:
    hyper = {"lr": 0.3, "beta": 0.7, "gamma": 0.9}
    fast = oracle.moments(spec, 1.5, 0.25, 2.0, hyper, list(range(41)))
    slow = oracle.literal_moments(spec, 1.5, 0.25, 2.0, hyper, 40)
    for (m1, n1), (m2, n2) in zip(fast, slow):
        assert abs(m1 - m2) <= mp.mpf(10) ** -oracle.DIGITS * max(1, abs(m2))
        assert abs(n1 - n2) <= mp.mpf(10) ** -oracle.DIGITS * max(1, abs(n2))


@SETTINGS
@given(name=st.sampled_from(["sgd", "ema"]), log_delta=st.floats(-12.0, -2.0), gamma=st.floats(0.0, 0.99),
       log_t=st.floats(0.0, 9.0), c=st.sampled_from([0.0, 1.0]))
def test_eigenvalue_near_minus_one_of_a_triangular_transition(name, log_delta, gamma, log_t, c) -> None:
    # lr h = 2 - delta: the first squaring forms lambda^2 - 1 = E(E + 2I) without cancellation
    # (2E + E^2 lost ~1e-16/delta of it: 1e-9 relative at delta = 1e-9)
    lr, t = 2.0 - 10.0**log_delta, int(10.0**log_t)
    hyper = {"lr": lr} if name == "sgd" else {"lr": lr, "gamma": gamma}
    prob = nn.Problem([1.0], c=[c], init_var=[1.0])
    got = float(np.ravel(nn.expected_risk(prob, nn.optimizer(name, **hyper), batch_size=1.0, steps=[t], method="doubling"))[0])
    (start, noise), = oracle.risk(get_spec(name), [1.0], [c], [1.0], [1.0], 1.0, hyper, [t])
    true = start + noise
    if true < mp.mpf(SMALLEST):
        assert 0.0 <= got <= SMALLEST
    else:
        assert abs(mp.mpf(got) - true) <= RTOL * true, (t, got, true)


def _dyadic(x: float, bits: int) -> float:
    """x rounded to ``bits`` significant bits (so that its products with 8-bit numbers are exact)."""
    m, e = math.frexp(x)
    return math.ldexp(round(m * 2**bits), e - bits)


@SETTINGS
@given(spec_name=st.sampled_from(["momentum", MOMENTUM_EMA.name]), log_delta=st.floats(-12.0, -2.0),
       beta=st.one_of(st.integers(1, 255).map(lambda k: k / 256), st.integers(9, 40).map(lambda j: 2.0**-j)),
       gamma=st.integers(0, 255).map(lambda k: k / 256), log_t=st.floats(0.0, 9.0), c=st.sampled_from([0.0, 1.0]),
       log2_h=st.integers(-20, 20))
def test_eigenvalue_near_minus_one_of_a_heavy_ball_transition(spec_name, log_delta, beta, gamma, log_t, c, log2_h) -> None:
    # lr h = 2 (1 + beta) (1 - delta): lambda + 1 ~ delta is the cancellation of O(1) terms of
    # det(A + I), which float products of A + I lost (~1e-16/delta relative: 2e-6 at delta = 1e-9,
    # t = 1e9); such elements are carried in double-double. lr has 44 bits, beta and gamma 8 (or
    # beta a power of two) and h a power of two, so that every entry of the engine's D = A - I is
    # the exact value of the spec's at these inputs (a rounded entry is an error in the input,
    # amplified like 1e-16/delta by any method)
    h, t = 2.0**log2_h, int(10.0**log_t)
    lr = _dyadic(2.0 * (1.0 + beta) * (1.0 - 10.0**log_delta), 44) / h
    hyper = {"lr": lr, "beta": beta} | ({} if spec_name == "momentum" else {"gamma": gamma})
    spec = get_spec("momentum") if spec_name == "momentum" else MOMENTUM_EMA
    opt = nn.Momentum(**hyper) if spec_name == "momentum" else CLASSES[spec_name](**hyper)
    prob = nn.Problem([h], c=[c * h], init_var=[1.0])
    start, noise = nn.risk_components(prob, opt, batch_size=1.0, steps=[t], method="doubling")
    (true_start, true_noise), = oracle.risk(spec, [h], [c * h], [1.0], [1.0], 1.0, hyper, [t])
    assert abs(mp.mpf(float(noise[0])) - true_noise) <= RTOL * true_noise, (t, float(noise[0]), true_noise)
    total, got = true_start + true_noise, float(start[0] + noise[0])
    if total < mp.mpf(SMALLEST):
        assert 0.0 <= got <= SMALLEST
        return
    floor = FLOOR * h / 2 * oracle.mean_scale(spec, h, c * h, 1.0, hyper, t) ** 2
    assert got >= 0.0 and abs(mp.mpf(got) - total) <= RTOL * total + floor, (t, got, total)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 4), log_scale=st.floats(-100.0, 100.0))
def test_double_double_matrix_product_is_exact_to_its_stated_bound(seed, n, log_scale) -> None:
    # DoubleDouble's docstring: about n 2^-104 of |A||B| per entry; each of the n products is
    # exact to 2^-104 of its term and each of the n - 1 sums to 2^-104 of its magnitude, so
    # 4 n 2^-104 |A||B| bounds the error (exact rational reference, inputs with a lower part)
    rng = np.random.default_rng(seed)

    def operand() -> DoubleDouble:
        hi = rng.standard_normal((3, n, n)) * 10.0**log_scale
        return DoubleDouble(hi, hi * rng.uniform(-1.0, 1.0, hi.shape) * 2.0**-53)

    a, b = operand(), operand()
    got = a @ b
    for e, i, j in np.ndindex(3, n, n):
        exact = sum((Fraction(a.hi[e, i, k]) + Fraction(a.lo[e, i, k])) * (Fraction(b.hi[e, k, j]) + Fraction(b.lo[e, k, j]))
                    for k in range(n))
        size = sum(abs(a.hi[e, i, k]) * abs(b.hi[e, k, j]) for k in range(n))
        error = abs(Fraction(got.hi[e, i, j]) + Fraction(got.lo[e, i, j]) - exact)
        assert error <= Fraction(4 * n) * Fraction(2) ** -104 * Fraction(size) * (1 + Fraction(2) ** -50)
