"""Scaling out (issue 6): sweeps, Monte Carlo and schedule sweeps on any executor give exactly the
serial results; the on-disk cache makes re-runs free and interrupted runs resume.

Every comparison is exact (``repr`` of the rows: floats by their shortest round-trip form, so
``nan`` and ``inf`` compare too). The serial sweep itself is checked against ``tune`` at each
batch size (an independent, un-warm-started search of the whole grid) in test_sweep.py.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pytest

import nqm.numerics as nn
from nqm.numerics import ResultCache, _montecarlo
from nqm.theory import LR, OptimizerSpec

PAPER = nn.Problem.paper()
BS = [4.0, 64.0, 1024.0, 16384.0]


class Recorder(Executor):
    """Runs each task at submission in this thread and counts submissions; the submissions
    after ``fail_after`` fail as if their worker had been lost (an interrupted sweep)."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.submitted = 0
        self.fail_after = fail_after

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[override]
        self.submitted += 1
        fut: Future = Future()
        if self.fail_after is not None and self.submitted > self.fail_after:
            fut.set_exception(RuntimeError("worker lost"))
        else:
            fut.set_result(fn(*args, **kwargs))
        return fut


def rows(result: nn.Sweep | list[nn.Sweep]) -> str:
    return repr([r.rows for r in result] if isinstance(result, list) else result.rows)


def _optimistic(grad, theta, g_prev, lr):
    g = grad(theta)
    return theta - lr * (2 * g - g_prev), g


@pytest.fixture(scope="module")
def serial_momentum() -> nn.Sweep:
    return nn.sweep(PAPER, nn.Momentum, batch_sizes=BS, executor="serial")


@pytest.fixture
def user_spec():
    """A user spec (optimistic gradient descent), never registered: it reaches workers as an object."""
    return nn.from_spec(OptimizerSpec.from_update("scaleout_optimistic", _optimistic, state=("theta", "g_prev"), hyperparameters=(LR,)))


def test_paper_momentum_sweep_is_split_into_several_tasks(serial_momentum) -> None:
    seen = Recorder()
    assert rows(nn.sweep(PAPER, nn.Momentum, batch_sizes=BS, executor=seen)) == rows(serial_momentum)
    assert seen.submitted >= 2  # several picklable tasks, so there is something to distribute


@pytest.mark.slow
def test_sweep_on_a_dask_local_cluster_is_identical_to_serial(serial_momentum, user_spec) -> None:
    distributed = pytest.importorskip("dask.distributed")
    user_serial = nn.sweep(PAPER, user_spec, batch_sizes=BS, executor="serial")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            executor = client.get_executor()
            assert rows(nn.sweep(PAPER, nn.Momentum, batch_sizes=BS, executor=executor)) == rows(serial_momentum)
            # a spec registered only here travels with its tasks to the (spawned) workers
            assert rows(nn.sweep(PAPER, user_spec, batch_sizes=BS, executor=executor)) == rows(user_serial)


def test_sweep_on_a_threaded_dask_cluster_is_identical_to_serial(serial_momentum) -> None:
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            got = nn.sweep(PAPER, nn.Momentum, batch_sizes=BS, executor=client.get_executor())
    assert rows(got) == rows(serial_momentum)


def test_sweep_on_process_pools_is_identical_to_serial(serial_momentum, user_spec) -> None:
    with nn.local_pool(2) as pool:
        assert rows(nn.sweep(PAPER, nn.Momentum, batch_sizes=BS, executor=pool)) == rows(serial_momentum)
    # spawned workers start from nothing: the user spec must travel with the task
    user_serial = nn.sweep(PAPER, user_spec, batch_sizes=BS[:2], executor="serial")
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        assert rows(nn.sweep(PAPER, user_spec, batch_sizes=BS[:2], executor=pool)) == rows(user_serial)
    assert rows(nn.sweep(PAPER, nn.Momentum, batch_sizes=BS)) == rows(serial_momentum)  # the default


def test_refinement_runs_as_tasks_with_the_same_result() -> None:
    kw = dict(batch_sizes=[16.0, 4096.0], grid={"lr": np.logspace(-3, 0.5, 8)}, refine=True)
    serial = nn.sweep(PAPER, nn.SGD, executor="serial", **kw)
    assert any(r.refined for r in serial.rows)
    with ThreadPoolExecutor(2) as pool:
        assert rows(nn.sweep(PAPER, nn.SGD, executor=pool, **kw)) == rows(serial)


def test_sweeps_equal_single_sweeps(serial_momentum) -> None:
    configs = [{"optimizer": nn.Momentum}, {"optimizer": "sgd", "precond_power": 0.5}, {"optimizer": nn.EMA, "batch_sizes": BS[:2]}]
    with ThreadPoolExecutor(2) as pool:
        many = nn.sweeps(PAPER, configs, batch_sizes=BS, executor=pool)
    assert rows(many[0]) == rows(serial_momentum)
    assert rows(many[1]) == rows(nn.sweep(PAPER, nn.SGD, batch_sizes=BS, precond_power=0.5, executor="serial"))
    assert rows(many[2]) == rows(nn.sweep(PAPER, nn.EMA, batch_sizes=BS[:2], executor="serial"))
    with pytest.raises(ValueError, match="optimizer"):
        nn.sweeps(PAPER, [{"precond_power": 0.5}])


def test_cached_sweep_computes_nothing_on_any_executor(tmp_path, serial_momentum) -> None:
    first = Recorder()
    assert rows(nn.sweep(PAPER, nn.Momentum, batch_sizes=BS, executor=first, cache=tmp_path)) == rows(serial_momentum)
    assert first.submitted >= 2
    assert len(list(tmp_path.rglob("*.json"))) == first.submitted  # one entry per task
    again = Recorder()
    assert rows(nn.sweep(PAPER, nn.Momentum, batch_sizes=BS, executor=again, cache=tmp_path)) == rows(serial_momentum)
    assert again.submitted == 0
    # keys depend on the configuration, not on the executor: a cluster run reuses them
    with ThreadPoolExecutor(2) as pool:
        assert rows(nn.sweep(PAPER, nn.Momentum, batch_sizes=BS, executor=pool, cache=ResultCache(tmp_path, "sweep"))) == rows(serial_momentum)
    other = Recorder()
    nn.sweep(PAPER, nn.Momentum, batch_sizes=BS, target=0.02, executor=other, cache=tmp_path)
    assert other.submitted == first.submitted  # another configuration is computed afresh


def test_interrupted_sweep_resumes_where_it_stopped(tmp_path, serial_momentum) -> None:
    total = Recorder()
    nn.sweep(PAPER, nn.Momentum, batch_sizes=BS, executor=total)
    k = total.submitted - 2
    assert k >= 1
    with pytest.raises(RuntimeError, match="worker lost"):
        nn.sweep(PAPER, nn.Momentum, batch_sizes=BS, executor=Recorder(fail_after=k), cache=tmp_path)
    assert len(list(tmp_path.rglob("*.json"))) == k
    resumed = Recorder()
    assert rows(nn.sweep(PAPER, nn.Momentum, batch_sizes=BS, executor=resumed, cache=tmp_path)) == rows(serial_momentum)
    assert resumed.submitted == total.submitted - k


def test_bad_cache_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="cache"):
        nn.sweep(PAPER, nn.SGD, batch_sizes=[4.0], cache=3)


# ---------------------------------------------------------------- Monte Carlo
@pytest.fixture
def small_tasks(monkeypatch):
    """Blocks of a few runs and tasks of a few blocks, so that a small simulation has many tasks."""
    monkeypatch.setattr(_montecarlo, "_TARGET_ROWS", 64)
    monkeypatch.setattr(_montecarlo, "_TASK_ROW_STEPS", 1 << 13)


def test_monte_carlo_is_identical_across_executors_and_workers(small_tasks) -> None:
    prob = nn.Problem([1.0, 0.1, 0.01], c=[1.0, 0.1, 0.01], weights=[3, 5, 2])
    opt = nn.Momentum(lr=0.5, beta=0.8)
    kw = dict(batch_size=2.0, steps=60, runs=400, seed=7, targets=[0.05], keep_curves=True)
    seen = Recorder()
    ref = nn.monte_carlo(prob, opt, **kw, executor=seen)
    assert seen.submitted >= 4
    others = [nn.monte_carlo(prob, opt, **kw, executor="serial")]
    for workers in (1, 3):
        with ThreadPoolExecutor(workers) as pool:
            others.append(nn.monte_carlo(prob, opt, **kw, executor=pool))
    with nn.local_pool(2) as pool:
        others.append(nn.monte_carlo(prob, opt, **kw, executor=pool))
    for got in others:
        for name in ("mean", "stderr", "curves", "first_hits", "steps_quantiles"):
            assert np.array_equal(getattr(got, name), getattr(ref, name)), name
    # the merged statistics are those of all runs (numpy on the kept curves as the reference)
    np.testing.assert_allclose(ref.mean, ref.curves.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(ref.stderr, ref.curves.std(axis=0, ddof=1) / np.sqrt(kw["runs"]), rtol=1e-9)
    assert np.array_equal(ref.first_hits[0], np.array([np.argmax(c <= 0.05) if np.any(c <= 0.05) else np.inf for c in ref.curves]))


def test_monte_carlo_divergence_survives_the_merge(small_tasks) -> None:
    prob = nn.Problem([1.0, 0.1], c=[1.0, 1.0])
    res = nn.monte_carlo(prob, nn.SGD(lr=2.5), batch_size=1.0, steps=2000, runs=64, seed=0, executor="serial")
    assert np.isinf(res.mean[-1]) and np.isinf(res.stderr[-1]) and not np.any(np.isnan(res.mean))


def test_monte_carlo_cache_resumes(tmp_path, small_tasks) -> None:
    prob = nn.Problem([1.0, 0.1], c=[1.0, 0.1], weights=[4, 4])
    kw = dict(batch_size=4.0, steps=30, runs=300, seed=1)
    first = Recorder()
    ref = nn.monte_carlo(prob, nn.SGD(lr=0.5), **kw, executor=first, cache=tmp_path)
    again = Recorder()
    got = nn.monte_carlo(prob, nn.SGD(lr=0.5), **kw, executor=again, cache=tmp_path)
    assert first.submitted >= 2 and again.submitted == 0
    assert np.array_equal(got.mean, ref.mean) and np.array_equal(got.stderr, ref.stderr)


# ---------------------------------------------------------------- schedule sweeps
def test_schedule_sweep_is_identical_on_an_executor_and_cached(tmp_path) -> None:
    prob = nn.Problem.power_law(1000, bins=20)
    kw = dict(batch_sizes=[4.0, 256.0], target=0.05 * prob.initial_risk, pieces=4, constant_lrs=np.logspace(-3, 0.5, 30))
    serial = nn.schedule_sweep(prob, "sgd", **kw, executor="serial")
    seen = Recorder()
    got = nn.schedule_sweep(prob, "sgd", **kw, executor=seen, cache=tmp_path)
    assert seen.submitted == 2
    for name in ("steps", "constant_steps", "constant_lr"):
        assert np.array_equal(getattr(got, name), getattr(serial, name)), name
    assert np.array_equal(got.shapes()["lrs"], serial.shapes()["lrs"])
    again = Recorder()
    nn.schedule_sweep(prob, "sgd", **kw, executor=again, cache=tmp_path)
    assert again.submitted == 0
