"""Bins of equal (preconditioned) curvature merge: ``Problem.expected_risk_equivalent``.

The engine sums the expected risk of such bins as one (weights summed, start and noise
variances weight-averaged), which is what makes p = 1 cheap: every curvature becomes
h^0 = 1. Checked against the independent 30-digit moment recursion of the conformance
suite (_moment_reference.py), and metamorphically against the same
problem evaluated bin by bin.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import _moment_reference as reference
import nqm.numerics as nn
from nqm.theory import LR, OptimizerSpec, get_spec
from nqm.theory.symbols import B, c, h

PAPER = nn.Problem.paper()


def _per_bin_sum(problem: nn.Problem, opt: nn.Optimizer, batch_size: float, steps: np.ndarray) -> np.ndarray:
    """The expected risk as a sum of one-bin problems (nothing to merge in any of them)."""
    return sum(
        nn.expected_risk(nn.Problem([hi], c=[ci], init_var=[vi], weights=[wi]), opt, batch_size=batch_size, steps=steps)
        for hi, ci, vi, wi in zip(problem.h, problem.c, problem.init_var, problem.weights)
    )


def test_full_preconditioning_makes_the_paper_problem_one_bin() -> None:
    """At p = 1 every curvature h^(1-p) is 1 and every noise c h^-p is c/h = 1 (C = H on the bins):
    the authors' problem is one bin of weight d with h = c = 1, start sum(w h v)/d, and information
    constant exactly d/2."""
    merged = PAPER.expected_risk_equivalent(1.0, noise_linear=True)
    assert merged.size == 1 and merged.h.tolist() == [1.0] and merged.c.tolist() == [1.0]
    assert merged.dimension == PAPER.dimension == 10_000
    assert merged.initial_risk == pytest.approx(PAPER.initial_risk, rel=1e-14)
    assert merged.information_constant == PAPER.information_constant == 10_000 / 2
    # below p = 1 the binned curvatures stay distinct: only the weightless (empty) bins are dropped
    at_half = PAPER.expected_risk_equivalent(0.5, noise_linear=True)
    assert at_half.size == np.count_nonzero(PAPER.weights) < PAPER.size
    assert np.array_equal(at_half.weights, PAPER.weights[PAPER.weights > 0])


def test_full_preconditioning_merges_the_bin_mean_variant_keeping_its_noise() -> None:
    """With the noise-preserving binning c/h differs between bins (in [1, r)); the merged bin's noise
    is their weighted mean, so the information constant (about 5236, not d/2) is preserved."""
    bin_mean = nn.Problem.paper(noise="bin-mean")
    merged = bin_mean.expected_risk_equivalent(1.0, noise_linear=True)
    assert merged.size == 1 and merged.h.tolist() == [1.0]
    assert merged.dimension == bin_mean.dimension
    assert merged.initial_risk == pytest.approx(bin_mean.initial_risk, rel=1e-14)
    assert merged.information_constant == pytest.approx(bin_mean.information_constant, rel=1e-14)
    assert merged.c[0] == pytest.approx(np.sum(bin_mean.weights * bin_mean.c / bin_mean.h) / bin_mean.dimension, rel=1e-14)
    assert bin_mean.expected_risk_equivalent(0.5, noise_linear=True).size == bin_mean.size


def test_noise_variance_splits_bins_unless_the_risk_is_linear_in_it() -> None:
    problem = nn.Problem([1.0, 1.0, 0.5], c=[1.0, 3.0, 0.5], init_var=[1.0, 2.0, 1.0], weights=[1.0, 3.0, 2.0])
    linear = problem.expected_risk_equivalent(0.0, noise_linear=True)
    assert linear.h.tolist() == [0.5, 1.0] and linear.weights.tolist() == [2.0, 4.0]
    assert linear.c.tolist() == [0.5, (1.0 + 9.0) / 4] and linear.init_var.tolist() == [1.0, (1.0 + 6.0) / 4]
    assert problem.expected_risk_equivalent(0.0, noise_linear=False).size == 3
    zero = nn.Problem([1.0, 1.0, 2.0], weights=[0.0, 1.0, 0.0])
    assert zero.expected_risk_equivalent(0.0, noise_linear=True).h.tolist() == [1.0]  # weightless bins dropped


@pytest.mark.parametrize(
    "opt",
    [nn.SGD(lr=0.3), nn.Momentum(lr=0.2, beta=0.9), nn.EMA(lr=0.4, gamma=0.6), nn.Nesterov(lr=0.1, beta=0.8),
     nn.QHM(lr=0.3, beta=0.9, nu=0.7)],
    ids=lambda o: o.name,
)
@pytest.mark.parametrize("p", [0.0, 0.5, 1.0])
def test_merged_risk_matches_the_30_digit_recursion(opt: nn.Optimizer, p: float) -> None:
    problem = nn.Problem([1.0, 0.25, 1.0, 0.25, 0.04], c=[1.0, 0.5, 2.0, 0.25, 0.04],
                         init_var=[1.0, 3.0, 0.5, 1.0, 2.0], weights=[2.0, 1.0, 5.0, 3.0, 1.0])
    opt = opt.replace(precond_power=p)
    steps = np.array([0, 1, 2, 7, 30, 120])
    got = nn.expected_risk(problem, opt, batch_size=4.0, steps=steps)
    hyper = {k: float(v) for k, v in opt.hyperparameters.items()}
    want = reference.expected_risk(get_spec(opt.name), problem, hyper, p, 4.0, steps)
    np.testing.assert_allclose(got, [float(x) for x in want], rtol=1e-12)
    np.testing.assert_allclose(got, _per_bin_sum(problem, opt, 4.0, steps), rtol=1e-13)


def _noise_aware(grad, theta, lr):
    """SGD whose step shrinks with the noise variance: A = 1 - lr h / (1 + c), not linear in c."""
    return (theta - lr / (1 + c) * grad(theta),)


def test_a_spec_whose_dynamics_depend_on_c_keeps_bins_of_different_noise_apart() -> None:
    spec = OptimizerSpec.from_update("merge_noise_aware", _noise_aware, state=("theta",), hyperparameters=(LR,))
    assert not spec.noise_linear and get_spec("sgd").noise_linear
    assert c in spec.A.free_symbols and {h, B} & spec.A.free_symbols == {h}
    problem = nn.Problem([1.0, 1.0], c=[0.5, 4.0], weights=[1.0, 1.0])
    opt = nn.Optimizer(spec, lr=0.5)
    steps = np.array([0, 1, 5, 40])
    got = nn.expected_risk(problem, opt, batch_size=2.0, steps=steps)
    want = reference.expected_risk(spec, problem, {"lr": 0.5}, 0.0, 2.0, steps)
    np.testing.assert_allclose(got, [float(x) for x in want], rtol=1e-12)
    # merging on h alone would have averaged c inside A: a visibly different curve
    wrong = nn.expected_risk(problem.expected_risk_equivalent(0.0, noise_linear=True), opt, batch_size=2.0, steps=steps)
    assert abs(wrong[-1] - got[-1]) > 1e-3 * got[-1]


def test_steps_and_sweeps_at_full_preconditioning_agree_with_an_exact_scan() -> None:
    opt = nn.EMA(lr=2.3e-5, gamma=0.99996, precond_power=1.0)  # near the repeated root gamma = 1 - lr h
    steps = nn.steps_to_target(PAPER, opt, batch_size=4.0, target=0.01)
    assert isinstance(steps, int)
    window = np.arange(steps - 2000, steps + 1)
    risk = _per_bin_sum(PAPER, opt, 4.0, window)  # the unmerged problem, bin by bin
    assert risk[-1] <= 0.01 < risk[:-1].min()
    table = nn.sweep(PAPER, nn.EMA, batch_sizes=[64.0], precond_power=1.0, executor="serial")
    best = nn.EMA(**table.rows[0].hyperparameters, precond_power=1.0)
    at = _per_bin_sum(PAPER, best, 64.0, np.array([table.rows[0].steps - 1, table.rows[0].steps]))
    assert at[1] <= 0.01 < at[0] and math.isfinite(table.rows[0].steps)
