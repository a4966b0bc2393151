"""``Problem.paper()`` is the authors' binned problem; ``noise="bin-mean"`` keeps each bin's true noise.

References, written here and sharing no code with :mod:`nqm.numerics`:

* the notebook's ``toy_problem(ndim, nbins)`` loop (gd-zhang/noisy-quadratic-model, ``nqm.ipynb``;
  docs/math/protocol.md, Binning): bin values ``geomspace(1, 1/d, nbins)``, each :math:`h_i = 1/i`
  counted in the first bin value not above it, every bin kept; its noise is :math:`C = H` on the
  bin values (``sigma_sq = h_bin / B``) and its start :math:`s_0 = 1`;
* for the noise-preserving variant, a plain loop over the same assignment that averages the
  members' exact :math:`c_i = h_i` with ``math.fsum``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import nqm.numerics as nn

D, BINS = 10_000, 100


def notebook_toy_problem(ndim: int, nbins: int) -> tuple[np.ndarray, np.ndarray]:
    """The notebook's ``toy_problem`` loop, transcribed: (bin values, counts)."""
    full_h = 1.0 / np.arange(1, ndim + 1)
    bins = np.geomspace(full_h[0], full_h[-1], nbins)
    curr_bin, i, counts = 0, 0, np.zeros(nbins)
    while i < ndim:
        while i < ndim and full_h[i] >= bins[curr_bin]:
            counts[curr_bin] += 1
            i += 1
        curr_bin += 1
    return bins, counts


def members(ndim: int, nbins: int) -> list[list[float]]:
    """The exact curvatures h_i = 1/i that the notebook's loop puts in each bin."""
    full_h = 1.0 / np.arange(1, ndim + 1)
    bins = np.geomspace(full_h[0], full_h[-1], nbins)
    out: list[list[float]] = [[] for _ in range(nbins)]
    curr_bin = 0
    for x in full_h:
        while x < bins[curr_bin]:
            curr_bin += 1
        out[curr_bin].append(float(x))
    return out


@pytest.mark.parametrize("d, bins", [(D, BINS), (5000, 100), (300, 7), (10, 100), (1, 1)])
def test_paper_is_the_notebooks_toy_problem_bit_for_bit(d: int, bins: int) -> None:
    values, counts = notebook_toy_problem(d, bins)
    prob = nn.Problem.paper(d=d, bins=bins)
    assert np.array_equal(prob.h, values) and np.array_equal(prob.c, values)  # C = H on the bin values
    assert np.array_equal(prob.weights, counts) and np.array_equal(prob.init_var, np.ones(bins))
    assert "C = H on the bins" in prob.name


def test_the_default_keeps_empty_bins_with_weight_zero() -> None:
    _, counts = notebook_toy_problem(D, BINS)
    prob = nn.Problem.paper()
    assert prob.size == BINS and prob.dimension == D
    # the first bins are narrower than the gaps between 1, 1/2, 1/3, ...: 16 of them hold no h_i
    assert np.count_nonzero(prob.weights == 0) == np.count_nonzero(counts == 0) == 16


@pytest.mark.parametrize("d, bins", [(D, BINS), (300, 7)])
def test_bin_mean_noise_averages_the_members_true_noise(d: int, bins: int) -> None:
    values, _ = notebook_toy_problem(d, bins)
    groups = members(d, bins)
    keep = [k for k, g in enumerate(groups) if g]
    prob = nn.Problem.paper(d=d, bins=bins, noise="bin-mean")
    assert np.array_equal(prob.h, values[keep])
    assert prob.weights.tolist() == [float(len(groups[k])) for k in keep]
    assert np.array_equal(prob.init_var, np.ones(len(keep)))
    want = np.array([math.fsum(groups[k]) / len(groups[k]) for k in keep])
    # a sequential sum of n positive doubles is within (n - 1) eps of the exact sum (fsum, then one rounding)
    tol = np.array([len(groups[k]) for k in keep]) * np.finfo(float).eps
    assert np.all(np.abs(prob.c - want) <= tol * want)
    assert "bin-mean" in prob.name


def test_information_constant_binned_and_exact() -> None:
    authors, exact, bin_mean = nn.Problem.paper(), nn.Problem.paper(binned=False), nn.Problem.paper(noise="bin-mean")
    # C = H, on the exact or on the binned curvatures: c/h = 1 in every direction, so tr(H^-1 C)/2 = d/2 (Section 3.6)
    assert exact.information_constant == pytest.approx(D / 2, rel=1e-12)
    assert authors.information_constant == D / 2  # sum of integer counts: exact in floating point
    assert float(authors.information_bound(0.01, 4)) == D / 2 / (0.01 * 4)
    # bin-mean: each bin keeps its members' summed noise c_i = h_i, but its curvature is rounded down
    values, _ = notebook_toy_problem(D, BINS)
    groups = members(D, BINS)
    floors = [float(values[k]) for k, g in enumerate(groups) if g]
    groups = [g for g in groups if g]
    assert float(np.sum(bin_mean.weights * bin_mean.c)) == pytest.approx(math.fsum(1.0 / np.arange(1, D + 1)), rel=1e-12)
    reference = 0.5 * math.fsum(x / f for g, f in zip(groups, floors) for x in g)
    assert bin_mean.information_constant == pytest.approx(reference, rel=1e-12)
    ratio = D ** (1 / (BINS - 1))
    assert D / 2 < bin_mean.information_constant < ratio * D / 2
    assert round(reference) == 5236  # the figure the docstring quotes, from the reference (not from the code under test)
    assert np.all((bin_mean.c / bin_mean.h >= 1 - 1e-12) & (bin_mean.c / bin_mean.h < ratio))
    assert float(bin_mean.information_bound(0.01, 4)) / float(exact.information_bound(0.01, 4)) == pytest.approx(
        reference / (D / 2), rel=1e-12
    )


def test_both_binnings_share_the_curvatures_and_start() -> None:
    authors, bin_mean = nn.Problem.paper(), nn.Problem.paper(noise="bin-mean")
    keep = authors.weights > 0
    assert np.array_equal(authors.h[keep], bin_mean.h) and np.array_equal(authors.weights[keep], bin_mean.weights)
    # the start is the same (s_0 = 1): the initial risk is about 4.70 (the exact problem's is 4.89; docs/math/protocol.md)
    values, counts = notebook_toy_problem(D, BINS)
    assert authors.initial_risk == pytest.approx(0.5 * math.fsum(values * counts), rel=1e-14)
    assert authors.initial_risk == pytest.approx(bin_mean.initial_risk, rel=1e-14)
    assert round(authors.initial_risk, 2) == 4.70 and round(nn.Problem.paper(binned=False).initial_risk, 2) == 4.89


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"noise": "mean"}, "noise"), ({"noise": None}, "noise"), ({"noise": "Binned"}, "noise"),
        ({"bins": 0}, "bins"), ({"bins": 2.5}, "bins"), ({"bins": True}, "bins"), ({"bins": "100"}, "bins"),
        ({"d": 0}, "d"), ({"d": -3}, "d"), ({"d": 2.5}, "d"), ({"d": True}, "d"), ({"d": "10000"}, "d"),
        ({"binned": "yes"}, "binned"), ({"binned": 1}, "binned"), ({"binned": None}, "binned"),
    ],
)
def test_bad_arguments_name_the_parameter(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=rf"^{name} must be"):
        nn.Problem.paper(**kwargs)
