"""Learning rates far below the float range of (alpha h)^2 stay stable and exact (SGD's one eigenvalue)."""

import mpmath as mp
import numpy as np
import pytest

import nqm.numerics as nn


@pytest.mark.parametrize("lr", [1e-150, 1e-200, 1e-300])
def test_sgd_stationary_risk_for_tiny_learning_rates(lr: float) -> None:
    h = np.array([1.0, 1e-4])
    problem = nn.Problem(h)  # c = h
    # eq. 4's limit per direction: (1/2) h (c/B) alpha / (h (2 - alpha h)), in 50-digit arithmetic
    mp.mp.dps = 50
    exact = sum(mp.mpf(1) / 2 * mp.mpf(hi) * mp.mpf(lr) / (2 - mp.mpf(lr) * mp.mpf(hi)) for hi in h)
    got = nn.stationary_risk(problem, nn.SGD(lr=lr), batch_size=1)
    assert np.isfinite(got)
    assert abs(got - float(exact)) <= 1e-12 * float(exact)
