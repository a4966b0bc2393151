"""Noise-free directions (c = 0) whose mean path holds one mode of a two-state spec, because a
structural zero decouples a state (nqm.numerics._single_mode): QHM at nu = 0 (theta never
reads the buffer, whose mode beta is slow and unseen), momentum and Nesterov at beta = 0, EMA at
lr h = 1. The default (Chebyshev) engine cancelled the unseen mode with an absolute floor of
~1e-16 beta^t, so risks below ~1e-32 were wrong by up to 1e168 and small targets were hit
early. Checked against the independent 50-digit oracle (tests/numerics/_edge_oracle.py) at
1e-10 relative wherever the truth is a normal double (>= 1e-300; below, the engine must give
a value in [0, 1e-300]); the modal bounds of steps_to_target against the exact risk.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nqm.numerics as nn
from nqm.numerics import _steps
from nqm.numerics import build_model
from nqm.theory import get_spec

import _edge_oracle as oracle
from _bounds import assert_bounds_hold

SETTINGS = settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
RTOL = 1e-10
SMALLEST = 1e-300


def _decoupled(kind: str, lr_h: float, slow: float) -> tuple[nn.Optimizer, dict, float]:
    """(optimizer, hyperparameters, observed eigenvalue) of a spec with a decoupled state, at h = 1."""
    if kind == "qhm":
        hyper = {"lr": lr_h, "beta": slow, "nu": 0.0}
        return nn.QHM(**hyper), hyper, 1.0 - lr_h
    if kind in ("momentum", "nesterov"):
        hyper = {"lr": lr_h, "beta": 0.0}
        return nn.optimizer(kind, **hyper), hyper, 1.0 - lr_h
    hyper = {"lr": 1.0, "gamma": slow}  # EMA at lr h = 1: theta is 0 after one step, the average decays as gamma^t
    return nn.EMA(**hyper), hyper, slow


@SETTINGS
@given(kind=st.sampled_from(["qhm", "momentum", "nesterov", "ema"]), log_lr_h=st.floats(-6.0, 0.25),
       log_slow=st.floats(-9.0, -0.05), decades=st.floats(0.0, 330.0))
def test_one_mode_mean_path_is_relative_accurate_down_to_1e_300(kind, log_lr_h, log_slow, decades) -> None:
    lr_h, slow = 10.0**log_lr_h, 1.0 - 10.0**log_slow
    opt, hyper, lam = _decoupled(kind, lr_h, slow)
    t = 0 if lam == 0.0 else int(min(2**40, decades * math.log(10.0) / (2.0 * -math.log(abs(lam)))))
    prob = nn.Problem([1.0], c=[0.0], init_var=[1.0])
    got = float(np.ravel(nn.expected_risk(prob, opt, batch_size=1.0, steps=[t]))[0])
    (true, _), = oracle.risk(get_spec(kind), [1.0], [0.0], [1.0], [1.0], 1.0, hyper, [t])
    assert got >= 0.0
    if true < mp.mpf(SMALLEST):
        assert got <= SMALLEST
    else:
        assert abs(mp.mpf(got) - true) <= RTOL * true, (t, got, true)


@SETTINGS
@given(log_lr_h=st.floats(-2.0, -0.3), log_slow=st.floats(-9.0, -1.0), decades=st.floats(1.0, 300.0),
       p=st.sampled_from([0.0, 0.5]))
def test_first_hit_of_a_small_target_with_an_unseen_slow_mode(log_lr_h, log_slow, decades, p) -> None:
    # QHM at nu = 0 on a noise-free direction: E L(t) = (1 - lr h)^(2t) / 2 is monotone, so the
    # first hit of a target between two consecutive oracle risks is the later step
    lr_h, slow = 10.0**log_lr_h, 1.0 - 10.0**log_slow
    hyper = {"lr": lr_h, "beta": slow, "nu": 0.0}
    t_star = max(1, int(decades * math.log(10.0) / (2.0 * -math.log1p(-lr_h))))
    h = 4.0  # preconditioned curvature h^(1-p) sets the rate: use lr = lr_h / h^(1-p)
    lr = lr_h / h ** (1.0 - p)
    (before, _), (at, _) = oracle.risk(get_spec("qhm"), [h], [0.0], [1.0], [1.0], 1.0, {**hyper, "lr": lr},
                                       [t_star - 1, t_star], precond_power=p)
    if at < mp.mpf(SMALLEST):
        return
    target = float(mp.sqrt(before * at))
    opt = nn.QHM(lr=lr, beta=slow, nu=0.0, precond_power=p)
    assert nn.steps_to_target(nn.Problem([h], c=[0.0], init_var=[1.0]), opt, batch_size=1.0, target=target) == t_star


@settings(deadline=None, max_examples=40, derandomize=True)
@given(kind=st.sampled_from(["qhm", "momentum", "nesterov", "ema"]), log_lr_h=st.floats(-3.0, 0.1),
       log_slow=st.floats(-9.0, -0.1), noisy=st.booleans(), seed=st.integers(0, 2**16))
def test_modal_bounds_of_one_mode_bins_never_exceed_the_exact_risk(kind, log_lr_h, log_slow, noisy, seed) -> None:
    rng = np.random.default_rng(seed)
    opt, _, _ = _decoupled(kind, 10.0**log_lr_h, 1.0 - 10.0**log_slow)
    c = 10 ** rng.uniform(-3, 1, 3) if noisy else np.zeros(3)
    prob = nn.Problem(10 ** rng.uniform(-2.0, 0.0, 3), c=c, init_var=10 ** rng.uniform(-1, 1, 3), weights=rng.integers(1, 5, 3))
    model = build_model(prob, opt, 2.0).flatten()
    cert = _steps._Certificates(model)
    T = 400
    risk = np.ravel(nn.expected_risk(prob, opt, batch_size=2.0, steps=np.arange(T + 1)))
    assert_bounds_hold(cert, np.ravel(risk), rng)
