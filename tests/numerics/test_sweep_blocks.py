"""A sweep's grid is split into interleaved blocks of rows of its first axis (block j holds rows j,
j + k, ...): the table maps each block's optimum back to the whole grid, ties to the first grid point."""

import numpy as np
import pytest

import nqm.numerics as nn
from nqm.numerics import _sweep

PROBLEM = nn.Problem.paper(d=1000, bins=8)


@pytest.mark.parametrize("elements", [8 * 6, 8 * 6 * 2, 8 * 6 * 3])  # one row per block, 2 and 3 rows
def test_blocks_give_the_whole_grids_first_optimum(elements, monkeypatch: pytest.MonkeyPatch) -> None:
    # equal lr values in rows 1 and 4 (different blocks unless one block): the first of them must win
    lr = np.array([0.02, 0.4, 0.05, 0.1, 0.4, 0.2, 0.01])
    grid = {"lr": lr, "beta": np.array([0.0, 0.3, 0.6, 0.8, 0.9, 0.95])}
    monkeypatch.setattr(_sweep, "_TASK_ELEMENTS", elements)
    jobs = nn.sweep_jobs(PROBLEM, [nn.Momentum], grid=grid)
    assert jobs[0].tasks == -(-lr.size * 6 * 8 // elements)
    batch_sizes = np.array([4.0, 256.0])
    table = nn.sweep(PROBLEM, nn.Momentum, batch_sizes=batch_sizes, target=0.05, grid=grid, executor="serial")
    mesh = np.meshgrid(*grid.values(), indexing="ij")
    for B, row in zip(batch_sizes, table.rows):
        every = nn.steps_to_target(PROBLEM, nn.Momentum(lr=mesh[0], beta=mesh[1]), batch_size=B, target=0.05)
        first = np.unravel_index(np.argmin(every), every.shape)  # argmin: the first of equal minima
        assert row.steps == every.min()
        assert row.hyperparameters == {"lr": lr[first[0]], "beta": grid["beta"][first[1]]}
