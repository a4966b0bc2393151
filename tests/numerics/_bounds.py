"""One check shared by the certificate tests: a row's modal lower bounds never exceed its exact risk."""

import numpy as np


def assert_bounds_hold(cert, risk: np.ndarray, rng: np.random.Generator, intervals: int = 15) -> None:
    """Row 0 of ``cert``: on random intervals [a, b] of the exact curve ``risk`` (steps 0..T), the
    interval bound and the point bounds at a and b are at most the risk they bound."""
    T = risk.size - 1
    one = np.array([0])
    for _ in range(intervals):
        a = int(rng.integers(0, T))
        b = int(rng.integers(a, T + 1))
        low = cert.lower(one, np.array([float(a)]), np.array([float(b)]))
        left = cert.lower_at(one, np.array([float(a)]))
        assert low[0] <= risk[a : b + 1].min() * (1 + 1e-12)
        assert left[0] <= risk[a] * (1 + 1e-12)
        assert cert.lower_at(one, np.array([float(b)]))[0] <= risk[b] * (1 + 1e-12)
