"""Critical batch size (two definitions) and McCandlish's gradient noise scales.

References: synthetic curves built from known S_min, E_min; direct vector formulas on the
expanded (unbinned) problem; an independent per-step second-moment recursion.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nqm.numerics as nn


@settings(deadline=None, max_examples=40)
@given(s_min=st.floats(1.0, 1e5), e_min=st.floats(1.0, 1e9))
def test_mccandlish_fit_recovers_known_parameters(s_min, e_min) -> None:
    B = 2.0 ** np.arange(0, 21, 2)
    fit = nn.mccandlish_fit(B, s_min + e_min / B)
    assert fit.S_min == pytest.approx(s_min, rel=1e-8)
    assert fit.E_min == pytest.approx(e_min, rel=1e-8)
    assert fit.B_crit == pytest.approx(e_min / s_min, rel=1e-7)
    assert fit.rms_relative_error < 1e-9


def test_mccandlish_fit_minimises_relative_residuals() -> None:
    # perturbed data: the fit is the least-squares solution in relative error (checked
    # against a dense scan of the two parameters), and ignores unreachable rows
    rng = np.random.default_rng(3)
    B = 2.0 ** np.arange(0, 16)
    S = (50.0 + 2e5 / B) * np.exp(rng.normal(0, 0.05, B.size))
    fit = nn.mccandlish_fit(np.append(B, 2.0**17), np.append(S, np.inf))

    def loss(s, e):
        return np.sum(((s + e / B) / S - 1) ** 2)

    best = loss(fit.S_min, fit.E_min)
    for ds in (0.99, 1.01):
        for de in (0.99, 1.01):
            assert loss(fit.S_min * ds, fit.E_min * de) >= best


def test_perfect_scaling_breakdown_interpolates_in_log_b() -> None:
    # S = 100 + 1e4 / B: r(B) = S(B) B / (S(1) 1) = (100 B + 1e4) / 10100 reaches 2 at B = 102
    B = 2.0 ** np.arange(0, 12)
    S = 100.0 + 1e4 / B
    got = nn.perfect_scaling_breakdown(B, S)
    r = S * B / (S[0] * B[0])
    k = np.argmax(r >= 2)
    want = math.exp(np.interp(math.log(2.0), np.log(r[k - 1 : k + 1]), np.log(B[k - 1 : k + 1])))
    assert got == pytest.approx(want, rel=1e-12)
    assert 64 < got < 128  # brackets the exact crossing B = 102
    # on a grid containing the crossing exactly, the interpolation returns it
    assert nn.perfect_scaling_breakdown([1.0, 102.0, 1000.0], 100.0 + 1e4 / np.array([1.0, 102.0, 1000.0])) == pytest.approx(102.0, rel=1e-12)


def test_perfect_scaling_never_broken_is_inf() -> None:
    B = np.array([1.0, 2.0, 4.0])
    assert nn.perfect_scaling_breakdown(B, 1000.0 / B) == math.inf
    assert nn.critical_batch_sizes(B, [math.inf, math.inf, 3.0]).mccandlish is None


def expanded(prob, values):
    """Per-coordinate arrays of an unbinned copy of a binned problem (weights as repeats)."""
    reps = prob.weights.astype(int)
    return (np.repeat(a, reps) for a in (prob.h, prob.c, values))


def test_gradient_noise_scale_matches_the_vector_formulas() -> None:
    prob = nn.Problem.power_law(2000, a=1.0, b=0.5, bins=30)
    rng = np.random.default_rng(0)
    theta = rng.normal(size=prob.size)
    h, c, th = expanded(prob, theta)
    G = h * th  # true gradient
    got = nn.gradient_noise_scale(prob, theta)
    assert got.B_simple == pytest.approx(np.sum(c) / (G @ G), rel=1e-12)
    assert got.B_noise == pytest.approx(np.sum(h * c) / (G @ (h * G)), rel=1e-12)
    both = nn.gradient_noise_scale(prob, np.stack([theta, 2 * theta]))
    np.testing.assert_allclose(both.B_simple, [got.B_simple, got.B_simple / 4], rtol=1e-12)
    assert nn.gradient_noise_scale(prob, np.zeros(prob.size)).B_noise == math.inf


def test_expected_noise_scale_along_sgd_matches_an_independent_recursion() -> None:
    prob = nn.Problem([1.0, 0.1, 0.01], c=[0.5, 0.2, 0.01], init_var=[1.0, 3.0, 2.0], weights=[2, 5, 9])
    lr, B, T = 0.4, 8.0, 60
    s = prob.init_var.copy()  # E theta_i^2, per coordinate
    want_simple, want_noise = [], []
    for _ in range(T + 1):
        g2 = np.sum(prob.weights * prob.h**2 * s)
        g3 = np.sum(prob.weights * prob.h**3 * s)
        want_simple.append(np.sum(prob.weights * prob.c) / g2)
        want_noise.append(np.sum(prob.weights * prob.h * prob.c) / g3)
        s = (1 - lr * prob.h) ** 2 * s + lr**2 * prob.c / B
    got = nn.expected_gradient_noise_scale(prob, nn.SGD(lr=lr), batch_size=B, steps=np.arange(T + 1))
    np.testing.assert_allclose(got.B_simple, want_simple, rtol=1e-12)
    np.testing.assert_allclose(got.B_noise, want_noise, rtol=1e-12)


def test_expected_noise_scale_for_a_preconditioned_grid_at_initialisation() -> None:
    # at t = 0 the iterate is the start for every optimizer and preconditioner
    prob = nn.Problem.paper()
    got = nn.expected_gradient_noise_scale(prob, nn.Momentum(lr=[0.1, 1.0], beta=0.9, precond_power=0.5), batch_size=16, steps=[0])
    w, h, c, v = prob.weights, prob.h, prob.c, prob.init_var
    np.testing.assert_allclose(got.B_simple[:, 0], np.sum(w * c) / np.sum(w * h**2 * v), rtol=1e-12)
    np.testing.assert_allclose(got.B_noise[:, 0], np.sum(w * h * c) / np.sum(w * h**3 * v), rtol=1e-12)


@pytest.mark.parametrize(
    "call",
    [
        lambda: nn.mccandlish_fit([1, 2], [10]),
        lambda: nn.mccandlish_fit([1, 2, 4], [10, np.nan, 3]),
        lambda: nn.mccandlish_fit([1, 1], [10, 5]),
        lambda: nn.mccandlish_fit([0.5, 2], [10, 5]),
        lambda: nn.mccandlish_fit([1, 2, 4], [10, np.inf, np.inf]),
        lambda: nn.perfect_scaling_breakdown([1, 2], [10, 8], factor=1.0),
        lambda: nn.gradient_noise_scale(nn.Problem([1.0, 2.0]), [1.0, 2.0, 3.0]),
        lambda: nn.gradient_noise_scale(nn.Problem([1.0, 2.0]), [1.0, np.nan]),
    ],
)
def test_bad_curves_are_value_errors(call) -> None:
    with pytest.raises(ValueError):
        call()
