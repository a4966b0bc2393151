"""Linear regression trained by torch.optim against the engine's exact predictions.

Tolerances: the PyTorch mean of R runs is compared at every recorded step with
``z * standard_error``, where the standard error uses the larger of the engine's exact
Gaussian-law ``risk_variance`` and the runs' sample variance (NoiseModelComparison.
standard_error explains why) and z is two-sided Bonferroni over all steps for a stated
false-failure rate per example. Seeds are fixed (hypothesis derandomised, torch seeded).
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scipy.stats import norm

pytest.importorskip("torch")

import nqm.numerics as nn  # noqa: E402
from nqm.proofs import compare_noise_models, train_linear_regression  # noqa: E402

FALSE_FAILURE = 1e-3  # per example / per test, over all steps


def z_threshold(points: int, rate: float = FALSE_FAILURE) -> float:
    return float(norm.isf(rate / (2 * points)))


@st.composite
def settings_(draw, max_d: int):
    d = draw(st.integers(10, max_d))
    a = draw(st.floats(0.5, 1.5))
    h = np.arange(1, d + 1, dtype=float) ** (-a)
    sigma = draw(st.floats(0.2, 2.0))
    opt = draw(st.sampled_from(["sgd", "momentum", "ema"]))
    p = draw(st.sampled_from([0.0, 0.25, 0.5, 0.75]))
    B = draw(st.sampled_from([1, 2, 4, 8, 16, 32]))
    second = draw(st.floats(0.0, 0.95))
    frac = draw(st.floats(0.02, 0.6))  # effective step as a fraction of 1 / max curvature seen
    lr = frac / np.max(h ** (1 - p)) * (1 - second if opt == "momentum" else 1.0)
    hyper = {"lr": lr, "precond_power": p}
    if opt == "momentum":
        hyper["beta"] = second
    if opt == "ema":
        hyper["gamma"] = second
    init_var = draw(st.sampled_from([0.1, 1.0, 4.0]))
    return h, sigma, opt, hyper, B, init_var


def check_against_multiplicative(h, sigma, opt, hyper, B, init_var, steps, runs, seed) -> None:
    problem = nn.Problem(h, c=sigma**2 * h, init_var=init_var)
    engine_opt = {"sgd": nn.SGD, "momentum": nn.Momentum, "ema": nn.EMA}[opt](**hyper)
    pred = nn.multiplicative_expected_risk(problem, engine_opt, batch_size=B, steps=[0, steps])
    assume(np.isfinite(pred[-1]) and pred[-1] < 2 * pred[0])  # a run that trains, not one that diverges
    cmp = compare_noise_models(h, sigma=sigma, optimizer=opt, batch_size=B, steps=steps, runs=runs,
                               init_var=init_var, seed=seed, **hyper)
    z = np.abs(cmp.torch_mean - cmp.multiplicative)[1:] / cmp.standard_error()[1:]
    assert np.max(z) <= z_threshold(steps), f"max |z| = {np.max(z):.2f} at step {1 + int(np.argmax(z))}"


@settings(max_examples=4, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(settings_(max_d=60))
def test_engine_predicts_the_pytorch_mean_curve(case) -> None:
    h, sigma, opt, hyper, B, init_var = case
    check_against_multiplicative(h, sigma, opt, hyper, B, init_var, steps=60, runs=1000, seed=len(h) + B)


@pytest.mark.slow
@settings(max_examples=5, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(settings_(max_d=1000))
def test_engine_predicts_the_pytorch_mean_curve_large(case) -> None:
    h, sigma, opt, hyper, B, init_var = case
    check_against_multiplicative(h, sigma, opt, hyper, B, init_var, steps=120, runs=1000, seed=len(h) * 7 + B)


def test_constant_noise_nqm_holds_near_the_optimum() -> None:
    # start near the optimum with a small step and a large batch: the state-dependent part of the
    # noise is then tiny against the label noise (the exact model bounds the bias below)
    h = 1.0 / np.arange(1, 51)
    cmp = compare_noise_models(h, sigma=1.0, optimizer="sgd", lr=0.02, batch_size=32, steps=100, runs=1000,
                               init_var=0.01, seed=11)
    se_exact = np.sqrt(cmp.nqm_variance / cmp.runs)  # the engine's exact risk_variance alone
    bias = np.abs(cmp.multiplicative - cmp.constant)
    assert np.all(bias[1:] <= 0.5 * se_exact[1:])  # the regime: model bias below half a standard error
    # |N(b, s^2)| > (z + 0.5) s is rarer than |N(0, s^2)| > z s for |b| <= s/2
    z = np.abs(cmp.torch_mean - cmp.constant)[1:] / se_exact[1:]
    assert np.max(z) <= z_threshold(100) + 0.5


def test_multiplicative_model_closes_the_gap_far_from_the_optimum() -> None:
    h = 1.0 / np.arange(1, 101)
    cmp = compare_noise_models(h, sigma=1.0, optimizer="momentum", lr=0.02, beta=0.9, batch_size=4, steps=100,
                               runs=1000, init_var=1.0, seed=5)
    se = cmp.standard_error()[1:]
    z_const = np.abs(cmp.torch_mean - cmp.constant)[1:] / se
    z_mult = np.abs(cmp.torch_mean - cmp.multiplicative)[1:] / se
    threshold = z_threshold(100)
    assert np.max(z_mult) <= threshold
    assert np.max(z_const) > threshold  # the constant-noise NQM is rejected at the same level
    assert np.all(cmp.constant[1:] < cmp.multiplicative[1:])


def test_torch_ema_and_preconditioner_follow_eq11_and_eq8() -> None:
    # AveragedModel EMA (theta_avg(0) = theta(0)) on top of a gradient-hook preconditioner H^-p:
    # two directions and 4000 runs make the standard error small, so the check is tight
    h = np.array([1.0, 0.25])
    cmp = compare_noise_models(h, sigma=0.5, optimizer="ema", lr=0.3, gamma=0.8, precond_power=0.5,
                               batch_size=16, steps=40, runs=4000, init_var=1.0, seed=3)
    z = np.abs(cmp.torch_mean - cmp.multiplicative)[1:] / cmp.standard_error()[1:]
    assert np.max(z) <= z_threshold(40)


def test_bad_arguments_raise_value_error_naming_them() -> None:
    with pytest.raises(ValueError, match="lr"):
        train_linear_regression([1.0], sigma=1.0, lr=-1.0, batch_size=1, steps=1)
    with pytest.raises(ValueError, match="optimizer"):
        train_linear_regression([1.0], sigma=1.0, lr=0.1, optimizer="adam", batch_size=1, steps=1)
    with pytest.raises(ValueError, match="runs"):
        train_linear_regression([1.0], sigma=1.0, lr=0.1, batch_size=1, steps=1, runs=1)
    with pytest.raises(ValueError, match="h"):
        train_linear_regression([0.0], sigma=1.0, lr=0.1, batch_size=1, steps=1)
