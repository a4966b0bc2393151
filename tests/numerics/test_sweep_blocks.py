"""A sweep's grid is split into interleaved blocks of rows of its first axis (block j holds rows j,
j + k, ...): the table maps each block's optimum back to the whole grid, ties to the first grid point.
A small grid swept in this process without a cache is searched whole instead: the same table."""

import numpy as np
import pytest

import nqm.numerics as nn
from nqm.numerics import _sweep, map_tasks

PROBLEM = nn.Problem.paper(d=1000, bins=8)


@pytest.mark.parametrize("whole", [False, True])  # the blocks as tasks, or the whole grid at once
@pytest.mark.parametrize("elements", [8 * 6, 8 * 6 * 2, 8 * 6 * 3])  # one row per block, 2 and 3 rows
def test_blocks_give_the_whole_grids_first_optimum(elements, whole, monkeypatch: pytest.MonkeyPatch) -> None:
    # equal lr values in rows 1 and 4 (different blocks unless one block): the first of them must win
    lr = np.array([0.02, 0.4, 0.05, 0.1, 0.4, 0.2, 0.01])
    grid = {"lr": lr, "beta": np.array([0.0, 0.3, 0.6, 0.8, 0.9, 0.95])}
    monkeypatch.setattr(_sweep, "_TASK_ELEMENTS", elements)
    monkeypatch.setattr(_sweep, "_WHOLE_GRID_ELEMENTS", lr.size * 6 * 8 if whole else 0)
    jobs = nn.sweep_jobs(PROBLEM, [nn.Momentum], grid=grid)
    assert jobs[0].tasks == -(-lr.size * 6 * 8 // elements)
    batch_sizes = np.array([4.0, 256.0])
    mapped = []  # the grid tasks run: the blocks, or one task of the whole grid

    def recording(fn, tasks, **kw):
        mapped.extend(t.axes["lr"].size for t in tasks if fn is _sweep._grid_task)
        return map_tasks(fn, tasks, **kw)

    monkeypatch.setattr(_sweep, "map_tasks", recording)
    table = nn.sweep(PROBLEM, nn.Momentum, batch_sizes=batch_sizes, target=0.05, grid=grid, executor="serial")
    assert len(mapped) == (1 if whole else jobs[0].tasks) and sum(mapped) == lr.size
    mesh = np.meshgrid(*grid.values(), indexing="ij")
    for B, row in zip(batch_sizes, table.rows):
        every = nn.steps_to_target(PROBLEM, nn.Momentum(lr=mesh[0], beta=mesh[1]), batch_size=B, target=0.05)
        first = np.unravel_index(np.argmin(every), every.shape)  # argmin: the first of equal minima
        assert row.steps == every.min()
        assert row.hyperparameters == {"lr": lr[first[0]], "beta": grid["beta"][first[1]]}


@pytest.mark.parametrize("configs, whole", [(2, True), (1, False)])
def test_a_pool_searches_whole_grids_when_every_worker_has_a_configuration(configs, whole, monkeypatch) -> None:
    """On a 2-worker pool without a cache, two configurations run as two whole-grid tasks (as in this process);
    one configuration keeps its blocks, so that both workers have work. The tables equal the serial ones."""
    grid = {"lr": np.array([0.02, 0.05, 0.1, 0.2, 0.4]), "beta": np.array([0.0, 0.6, 0.9])}
    monkeypatch.setattr(_sweep, "_TASK_ELEMENTS", 8 * 3)  # five blocks of one row each
    monkeypatch.setattr(_sweep, "_WHOLE_GRID_ELEMENTS", 5 * 3 * 8)
    opts = [{"optimizer": nn.Momentum, "precond_power": p} for p in (0.0, 0.5)][:configs]
    mapped = []

    def recording(fn, tasks, **kw):
        mapped.extend(t.axes["lr"].size for t in tasks if fn is _sweep._grid_task)
        return map_tasks(fn, tasks, **kw)

    args = dict(batch_sizes=[4.0, 256.0], target=0.05, grid=grid)
    serial = nn.sweeps(PROBLEM, opts, executor="serial", **args)
    monkeypatch.setattr(_sweep, "map_tasks", recording)
    pooled = nn.sweeps(PROBLEM, opts, executor=2, **args)
    assert mapped == ([5] * configs if whole else [1] * 5)
    assert [s.rows for s in pooled] == [s.rows for s in serial]
