"""A sweep that first searches a strided subgrid for incumbents (certified pruning) gives exactly the
sweep without them, and both give the minimum of every grid point's exact steps to the target."""

import sys
from pathlib import Path

import numpy as np
import pytest

import nqm.numerics as nn
from nqm.numerics import _sweep

sys.path.insert(0, str(Path(__file__).parent))
from test_spectral import EmaHB  # noqa: E402  (a user three-state spec)

PROBLEM = nn.Problem.paper(d=1000, bins=8)
BATCH_SIZES = np.array([4.0, 64.0, 1024.0])


@pytest.mark.parametrize("cls, grid", [
    (EmaHB, {"lr": np.logspace(-3, 0.5, 12), "beta": 1 - np.logspace(-3, 0, 5), "gamma": 1 - np.logspace(-4, 0, 6)}),
    (nn.Momentum, {"lr": np.logspace(-3, 0.5, 30), "beta": 1 - np.logspace(-3, 0, 8)}),
])
def test_incumbents_change_nothing(cls, grid, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_sweep, "_TASK_ELEMENTS", 8 * 30)  # many small tasks: most can be pruned
    monkeypatch.setattr(_sweep, "_WHOLE_GRID_ELEMENTS", 0)  # the tasks even in this process
    results = {}
    for min_tasks in (10**9, 1):  # without, then with the subgrid's incumbents
        monkeypatch.setattr(_sweep, "INCUMBENT_MIN_TASKS", min_tasks)
        s = nn.sweep(PROBLEM, cls, batch_sizes=BATCH_SIZES, target=0.05, grid=grid, executor="serial")
        results[min_tasks] = [(row.steps, row.hyperparameters) for row in s.rows]
    assert results[1] == results[10**9]
    mesh = np.meshgrid(*grid.values(), indexing="ij")
    opt = cls(**dict(zip(grid, mesh)))
    for B, (steps, hyper) in zip(BATCH_SIZES, results[1]):
        every = nn.steps_to_target(PROBLEM, opt, batch_size=B, target=0.05)
        first = np.unravel_index(np.argmin(every), every.shape)  # ties: the first grid point
        assert steps == every.min()
        assert hyper == {k: float(a[i]) for (k, a), i in zip(grid.items(), first)}
