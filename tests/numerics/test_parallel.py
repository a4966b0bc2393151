"""map_tasks: any executor gives the serial results; the cache makes re-runs free and resumable."""

import os
import pickle
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import nqm.numerics as nn
from nqm.numerics import ResultCache, config_key, map_tasks


def test_executors_agree_with_serial() -> None:
    tasks = [(i, i + 1, i + 2) for i in range(7)]
    serial = map_tasks(sum, tasks, executor="serial")
    assert serial == [sum(t) for t in tasks]
    assert map_tasks(sum, tasks) == serial  # default: local thread pool
    assert map_tasks(sum, tasks, executor="processes") == serial
    with ThreadPoolExecutor(2) as pool:
        assert map_tasks(sum, tasks, executor=pool) == serial


def test_cache_skips_finished_tasks_and_resumes(tmp_path) -> None:
    cache = ResultCache(tmp_path, "t")
    calls = []

    def counted(task):  # closures are fine for the serial executor
        calls.append(task)
        return task * 2

    map_tasks(counted, [1, 2], executor="serial", cache=cache)  # an "interrupted" run
    assert map_tasks(counted, [1, 2, 3], executor="serial", cache=cache) == [2, 4, 6]
    assert calls == [1, 2, 3], "finished tasks must not run again"


def test_config_keys_are_order_independent_and_exact() -> None:
    assert config_key({"a": 1.0, "b": [1, 2]}) == config_key({"b": [1, 2], "a": 1.0})
    assert config_key({"lr": 0.1}) != config_key({"lr": float(np.nextafter(0.1, 1.0))})
    prob = nn.Problem.paper()
    assert config_key(prob) == config_key(nn.Problem.paper())
    assert config_key(nn.Momentum(lr=0.1, beta=0.9)) != config_key(nn.Momentum(lr=0.1, beta=0.8))


def test_optimizers_and_problems_pickle_for_workers() -> None:
    opt = nn.Momentum(lr=np.array([0.1, 0.2]), beta=0.9, precond_power=0.5)
    back = pickle.loads(pickle.dumps(opt))
    assert type(back) is nn.Momentum and np.array_equal(back.lr, opt.lr) and float(back.precond_power) == 0.5
    prob = pickle.loads(pickle.dumps(nn.Problem.paper()))
    assert prob.initial_risk == nn.Problem.paper().initial_risk


def test_bad_executor_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="executor"):
        map_tasks(sum, [(1,)], executor="thread")


#: tasks that fail, and the tasks run, of :func:`_flaky` (the cache key names the function, so
#: the interrupted and the resumed run must use the same one)
FAILING: set[int] = set()
RAN: list[int] = []


def _flaky(x: int) -> int:
    RAN.append(x)
    if x in FAILING:
        raise ArithmeticError(f"task {x} failed")
    return x * 10


def test_a_failing_task_keeps_the_finished_ones_cached(tmp_path) -> None:
    cache = ResultCache(tmp_path, "t")
    FAILING.add(3)
    RAN.clear()
    with ThreadPoolExecutor(1) as pool, pytest.raises(ArithmeticError, match="task 3"):
        map_tasks(_flaky, [1, 2, 3, 4, 5], executor=pool, cache=cache)
    FAILING.clear()
    finished = [x for x in RAN if x != 3]
    assert 1 in finished and 2 in finished  # one worker: tasks 1 and 2 ran before 3 failed
    RAN.clear()
    assert map_tasks(_flaky, [1, 2, 3, 4, 5], executor="serial", cache=cache) == [10, 20, 30, 40, 50]
    assert sorted(RAN) == sorted({1, 2, 3, 4, 5} - set(finished)), "finished tasks must not run again"


def test_cache_and_executor_arguments() -> None:
    from nqm.numerics._parallel import resolve_cache, resolve_executor

    assert resolve_cache(None, "x") is None and resolve_cache(False, "x") is None
    assert resolve_cache(True, "x").directory == nn._parallel.default_cache_dir() / "x"
    given = ResultCache("/tmp", "y")
    assert resolve_cache(given, "x") is given
    with pytest.raises(ValueError, match="cache"):
        resolve_cache(1.5, "x")
    assert resolve_executor(None, 10, 100) == "serial"
    assert resolve_executor(None, 100, 100) == nn._parallel.LocalWorkers("threads", os.cpu_count() or 1)
    assert resolve_executor("serial", 1e9, 1) == "serial"


@pytest.mark.parametrize("executor", ["serial", 2, "processes"])
def test_progress_sees_the_index_of_each_task_that_runs_on_every_executor(tmp_path, executor) -> None:
    """The public ``nn.map_tasks``: the progress wrapper is handed task indices (not executor
    futures), one per task that runs, so a caller can name what finished; cached tasks are skipped."""
    cache = ResultCache(tmp_path, "progress")
    nn.map_tasks(sum, [(0, 1)], executor="serial", cache=cache)  # task 0 is then found in the cache
    seen: list[object] = []

    def progress(items, total):
        assert total == 3
        for item in items:
            yield item
            seen.append(item)  # after the yield: the task has finished

    tasks = [(0, 1), (1, 2), (2, 3), (3, 4)]
    assert nn.map_tasks(sum, tasks, executor=executor, cache=cache, progress=progress) == [1, 3, 5, 7]
    assert sorted(seen) == [1, 2, 3]


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True, 10**6])
def test_local_pools_refuse_a_bad_worker_count_before_starting(bad: object) -> None:
    """``LocalThreads(n)`` and ``local_pool(n)`` name ``max_workers`` and its range, 1 to MAX_WORKERS
    (before: 1.5, True and 10**6 made a pool, "2" raised a TypeError from the comparison)."""
    from nqm.numerics import MAX_WORKERS, LocalThreads, local_pool

    for make in (LocalThreads, local_pool):
        with pytest.raises(ValueError, match=rf"max_workers must be an integer from 1 to {MAX_WORKERS}; got"):
            make(bad)
