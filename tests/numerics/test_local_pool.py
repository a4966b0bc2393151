"""The toolkit's process pool (``executor="processes"``) never forks the calling process.

A forked child of a process whose OpenMP runtime has run a parallel region (PyTorch's CPU
kernels, GNU libgomp) hangs in its first parallel tensor operation. That is how a CI run once
stalled: the report's validation task, on a pool forked from a pytest worker that had trained
torch models before. The check runs in a subprocess with a time limit, so that a regression fails
instead of hanging the suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import pytest

import nqm.numerics as nn

SCRIPT = textwrap.dedent(
    """
    import torch
    import nqm.numerics as nn

    def work(n):
        x = torch.ones(n, dtype=torch.float64)
        return float((x * x).sum())

    if __name__ == "__main__":
        torch.set_num_threads(2)
        assert work(1 << 22) == 1 << 22  # a parallel region in this process
        with nn.local_pool(1) as pool:
            print(pool.submit(work, 1 << 22).result(timeout=120))
    """
)


def test_local_pool_workers_survive_a_parent_that_ran_torch_threads(tmp_path) -> None:
    pytest.importorskip("torch")
    script = tmp_path / "parent.py"
    script.write_text(SCRIPT)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert float(done.stdout.strip()) == 1 << 22


def test_local_pool_runs_tasks_in_other_processes() -> None:
    with nn.local_pool(2) as pool:
        pids = set(pool.map(_pid_after_sleep, range(4)))
    assert os.getpid() not in pids and 1 <= len(pids) <= 2


def _pid_after_sleep(_: int) -> int:
    import time

    time.sleep(0.2)
    return os.getpid()


def _registered_names() -> tuple[str, ...]:
    from nqm.theory import registered_names

    return registered_names()


def _pool_user_update(grad, theta, lr):
    return (theta - lr * grad(theta),)


def test_local_pool_workers_evaluate_an_unregistered_spec_sent_as_an_object() -> None:
    """An optimizer pickles as its spec: a fresh worker rebuilds the forms from it, registering nothing
    there or here (pool workers get no registry from this process)."""
    from nqm.theory import LR, OptimizerSpec, registered_names

    spec = OptimizerSpec.from_update("pool_user_sgd", _pool_user_update, state=("theta",), hyperparameters=(LR,))
    here = registered_names()
    with nn.local_pool(1) as pool:
        names = pool.submit(_registered_names).result(timeout=120)
        risk = pool.submit(_risk, nn.Optimizer(spec, lr=0.5)).result(timeout=120)
        names_after = pool.submit(_registered_names).result(timeout=120)
    assert spec.name not in names and names_after == names and registered_names() == here
    assert risk == pytest.approx(float(nn.expected_risk(nn.Problem([1.0]), nn.SGD(lr=0.5), batch_size=1.0, steps=[3])[0]), rel=1e-14)


def _risk(opt: nn.Optimizer) -> float:
    return float(nn.expected_risk(nn.Problem([1.0]), opt, batch_size=1.0, steps=[3])[0])



@pytest.mark.parametrize("how", ["with", "finally"])
def test_an_interruption_stops_a_local_pool_at_once(how: str) -> None:
    """Ctrl-C (or SIGTERM, turned into SystemExit) while tasks run: leaving the ``with`` block or
    calling ``shutdown()`` in a ``finally`` clause neither starts the queued tasks nor waits for
    the running ones; the workers are gone."""
    psutil = pytest.importorskip("psutil")
    pool = nn.local_pool(2)
    pids = set(pool.map(_pid_after_sleep, range(2)))
    sleeping = [pool.submit(time.sleep, 60) for _ in range(6)]
    while not all(f.running() for f in sleeping[:2]):
        time.sleep(0.01)
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        if how == "with":
            with pool:
                raise KeyboardInterrupt
        else:
            try:
                raise KeyboardInterrupt
            finally:
                pool.shutdown()
    assert time.monotonic() - start < 10
    assert all(f.cancelled() or f.exception() is not None for f in sleeping)  # none ran to its end
    workers = [psutil.Process(pid) for pid in pids if psutil.pid_exists(pid)]
    assert not psutil.wait_procs(workers, timeout=5)[1]


def test_sigterm_raises_system_exit_only_while_a_pool_is_open_and_never_replaces_a_handler() -> None:
    import signal

    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        pytest.skip("this test process has its own SIGTERM handler")
    with nn.local_pool(1), nn.local_pool(1):
        handler = signal.getsignal(signal.SIGTERM)
        with pytest.raises(SystemExit) as exit_:
            handler(signal.SIGTERM, None)
        assert exit_.value.code == 128 + signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL

    def mine(signum, frame) -> None:
        pass

    previous = signal.signal(signal.SIGTERM, mine)
    try:
        with nn.local_pool(1):
            assert signal.getsignal(signal.SIGTERM) is mine
        assert signal.getsignal(signal.SIGTERM) is mine
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_a_pool_collected_without_shutdown_gives_sigterm_back() -> None:
    """A pool that is dropped without ``shutdown()`` (no ``with`` block) must not leave SIGTERM
    turned into ``SystemExit`` for the rest of the process."""
    import gc
    import signal

    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        pytest.skip("this test process has its own SIGTERM handler")
    pool = nn.local_pool(1)
    assert pool.submit(abs, -3).result(timeout=120) == 3
    assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL  # held while the pool is open
    del pool
    gc.collect()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
