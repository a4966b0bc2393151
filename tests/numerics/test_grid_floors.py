"""The floors of a grid search: certified lower bounds on every row's risk over [0, result] that a
batch-size sweep carries to the next batch size (scaled by B_prev / B) to skip rows without work.

They must never exceed the exact risk (checked against a scan of every step, which shares nothing
with the search), and they include the search's own certificates (the bounds and exact risks that
ruled out each interval of a row), not only the bound over the whole range.
"""

import numpy as np

import nqm.numerics as nn
from nqm.numerics import _steps, build_model
from nqm.numerics._tie import tie_threshold

PROBLEM = nn.Problem.paper(d=1000, bins=8)
LR, BETA = np.meshgrid(np.geomspace(1e-3, 3.0, 12), 1.0 - np.geomspace(1e-3, 1.0, 6), indexing="ij")
OPT = nn.Momentum(lr=LR.ravel(), beta=BETA.ravel())


def test_floors_bound_the_risk_and_include_the_searchs_certificates() -> None:
    B, target = 16.0, 0.05 * PROBLEM.initial_risk
    model = build_model(PROBLEM, OPT, B, merge_bins=True).flatten()
    floor = np.zeros(LR.size)
    steps, row = _steps.grid_minimum(model, target, floor=floor)
    assert row is not None and 10 < steps < 20_000
    risk = nn.expected_risk(PROBLEM, OPT, batch_size=B, steps=np.arange(int(steps) + 1))
    settled = np.isfinite(floor)  # divergent rows get inf: they never reach any target
    assert settled.sum() > LR.size // 2
    # a bound, or an exact risk of the merged-bins model (the same sum over bins up to rounding)
    assert np.all(floor[settled] <= risk[settled].min(axis=-1) * (1 + 1e-12))
    whole = _steps._Certificates(model).lower(np.arange(LR.size), np.zeros(LR.size), np.full(LR.size, steps))
    thr = tie_threshold(target)
    # rows ruled out by the search below the result although the bound over [0, steps] allowed a hit
    assert np.any(settled & (whole <= thr) & (floor > thr))
