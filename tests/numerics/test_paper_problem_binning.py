"""The paper's binned problem keeps each bin's noise but rounds its curvature down (Problem.paper).

Reference: a plain loop over the notebook's bin values ``geomspace(1, 1e-4, 100)``
(nqm-math.md, Section 7), each :math:`h_i = 1/i` rounded down to the largest bin value not above it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import nqm.numerics as nn

D, BINS = 10_000, 100


def _rounded_down(h: float, edges: list[float]) -> float:
    return max(e for e in edges if e <= h)


def test_information_constant_binned_and_exact() -> None:
    edges = list(np.geomspace(1.0, 1.0 / D, BINS))
    h = [1.0 / i for i in range(1, D + 1)]
    floors = [_rounded_down(x, edges) for x in h]
    binned, exact = nn.Problem.paper(), nn.Problem.paper(binned=False)
    # exact problem: C = H, so tr(H^-1 C)/2 = d/2 (Section 3.6)
    assert exact.information_constant == pytest.approx(D / 2, rel=1e-12)
    # binned: bin noise = sum of the members' c_i = h_i, curvature = the rounded-down value
    assert float(np.sum(binned.weights * binned.c)) == pytest.approx(math.fsum(h), rel=1e-12)
    reference = 0.5 * math.fsum(x / f for x, f in zip(h, floors))
    assert binned.information_constant == pytest.approx(reference, rel=1e-12)
    ratio = D ** (1 / (BINS - 1))
    assert D / 2 < binned.information_constant < ratio * D / 2
    assert np.all((binned.c / binned.h >= 1 - 1e-12) & (binned.c / binned.h < ratio))
    # the bound scales with the constant: binned and exact steps differ by exactly that factor
    assert float(binned.information_bound(0.01, 4)) / float(exact.information_bound(0.01, 4)) == pytest.approx(
        reference / (D / 2), rel=1e-12
    )
