"""The digits trial sweep on an executor: identical searches to the serial run, cached by configuration."""

from __future__ import annotations

from concurrent.futures import Executor, Future

import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")

from nqm.numerics import local_pool
from nqm.proofs.networks._digits import SweepConfig, run_sweep  # noqa: E402

#: a few short searches (about a second serially)
TINY = SweepConfig(optimizers=("sgd", "momentum", "adam"), batch_sizes=(4, 64), trials=4, examples=2000,
                   min_steps=50, max_steps=200, target=0.5, torch_threads=1)


class Recorder(Executor):
    """Runs each task at submission in this thread and counts submissions."""

    def __init__(self) -> None:
        self.submitted = 0

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[override]
        self.submitted += 1
        fut: Future = Future()
        fut.set_result(fn(*args, **kwargs))
        return fut


def test_digits_sweep_on_a_process_pool_equals_serial_and_is_cached(tmp_path) -> None:
    serial = run_sweep(TINY, cache_dir=str(tmp_path / "serial"), progress=False, executor="serial")
    assert [(r.optimizer, r.batch_size) for r in serial] == [(o, b) for o in TINY.optimizers for b in TINY.batch_sizes]
    with local_pool(2) as pool:  # workers train with one torch thread each
        pooled = run_sweep(TINY, cache_dir=str(tmp_path / "pool"), progress=False, executor=pool)
    assert pooled == serial
    # the default kind of local workers: threads sharing this process's torch
    assert run_sweep(TINY, cache_dir=str(tmp_path / "threads"), progress=False, executor=2) == serial
    again = Recorder()
    assert run_sweep(TINY, cache_dir=str(tmp_path / "pool"), progress=False, executor=again) == serial
    assert again.submitted == 0
    # more batch sizes: only the new searches run (the cache key is per search, not per sweep)
    wider = Recorder()
    more = run_sweep(SweepConfig(**{**TINY.__dict__, "batch_sizes": (4, 16, 64)}), cache_dir=str(tmp_path / "pool"),
                     progress=False, executor=wider)
    assert wider.submitted == len(TINY.optimizers)
    assert [r for r in more if r.batch_size != 16] == serial
