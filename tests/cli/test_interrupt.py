"""SIGTERM and SIGINT stop a run on a local pool (processes or the default threads) within
seconds, leave no process behind (workers, fork server, resource tracker) and keep the finished
results in the cache.

Each case starts a real run in a subprocess, waits until its first result is cached, records
the whole process tree, sends the signal and times the exit; a rerun must reuse every cached
result.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

psutil = pytest.importorskip("psutil")

#: seconds a signalled run may take to exit (termination itself takes well under one; the rest
#: is headroom for a loaded machine)
EXIT_WITHIN = 10.0

SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    from nqm.numerics import ResultCache, map_tasks

    def slow(x):
        time.sleep(float(os.environ["TASK_SECONDS"]))
        return x * x

    def counted(iterable, total):
        print("computing", total, flush=True)
        return iterable

    if __name__ == "__main__":
        n = int(sys.argv[2])
        out = map_tasks(slow, list(range(n)), executor=sys.argv[3], cache=ResultCache(sys.argv[1], "interrupt"),
                        progress=counted)
        print("done", sum(out), flush=True)
    """
)
TASKS = 200  # at 0.5 s each on 2 workers: about 50 s if the remaining tasks were computed


def _cached(directory: Path) -> list[Path]:
    """The finished entries (any file but a temporary one being written)."""
    return sorted(p for p in directory.rglob("*") if p.is_file() and p.suffix != ".tmp")


def _interrupt(cmd: list[str], cache: Path, signum: int, *, group: bool, env: dict[str, str],
               processes: bool = True) -> tuple[int, int]:
    """Start ``cmd``, signal it once a result is cached; ``(exit status, results cached)``.
    Fails if it takes longer than ``EXIT_WITHIN`` to exit or leaves a process of its tree behind
    (which is then killed, as is everything else it started). Its output goes to files, which
    a leftover process cannot hold open as it could a pipe."""
    log = cache.parent / "output.txt"
    with open(log, "w") as out:
        run = subprocess.Popen(cmd, stdout=out, stderr=out, env=env, start_new_session=True)
    tree: list = []
    took = alive = None
    try:
        deadline = time.monotonic() + 300
        while not _cached(cache):
            assert run.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "no result was cached"
            time.sleep(0.05)
        tree = psutil.Process(run.pid).children(recursive=True)
        if processes:
            assert len(tree) >= 3, "expected the fork server, the resource tracker and the workers"
        sent = time.monotonic()
        if group:  # a Ctrl-C at a terminal reaches the whole foreground process group
            os.killpg(run.pid, signum)
        else:
            run.send_signal(signum)
        with contextlib.suppress(subprocess.TimeoutExpired):
            run.wait(timeout=EXIT_WITHIN)
            took = time.monotonic() - sent
            _, alive = psutil.wait_procs(tree, timeout=5)
    finally:
        for proc in [*tree, psutil.Process(run.pid)] if run.poll() is None else tree:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
        run.wait()
    assert took is not None, f"still running {EXIT_WITHIN} s after the signal"
    assert not alive, f"left behind: {len(alive)} of {len(tree)} processes"
    return run.returncode, len(_cached(cache))


@pytest.mark.parametrize("kind", ["processes", "threads"])
@pytest.mark.parametrize(("signum", "group"), [(signal.SIGTERM, False), (signal.SIGINT, False), (signal.SIGINT, True)],
                         ids=["SIGTERM", "SIGINT", "SIGINT-to-group"])
def test_map_tasks_pool_stops_at_once_and_keeps_finished_results(tmp_path: Path, signum: int, group: bool, kind: str) -> None:
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    cache = tmp_path / "cache"
    cmd = [sys.executable, str(script), str(cache), str(TASKS), kind]
    status, cached = _interrupt(cmd, cache, signum, group=group, env={**os.environ, "TASK_SECONDS": "0.5"},
                                processes=kind == "processes")
    assert status == (143 if signum == signal.SIGTERM else -signal.SIGINT)
    assert 1 <= cached < TASKS
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ, "TASK_SECONDS": "0"})
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stdout.split() == ["computing", str(TASKS - cached), "done", str(sum(x * x for x in range(TASKS)))]
    assert "CacheWarning" not in rerun.stderr


#: a sweep of well over a minute on two workers (137 grid tasks) whose first tasks finish within seconds
SWEEP = ["sweep", "--optimizer", "momentum", "--batch-sizes", "4,64,1024", "--grid", "lr=1e-8:10:300",
         "--grid", "beta=1-log:1e-5:1:300", "--workers", "2", "-q"]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_nqm_sweep_stops_at_once_and_keeps_intact_results(tmp_path: Path, signum: int) -> None:
    """The CLI's pool (``--workers 2``: threads, opened by the command and passed to the sweep)
    stops the same way; every file left in the cache is an intact entry for its key (the resume
    itself is checked above)."""
    from nqm.numerics._cache import decode_entry

    nqm = Path(sys.executable).with_name("nqm")
    cache = tmp_path / "cache"
    status, cached = _interrupt([str(nqm), *SWEEP, "--cache-dir", str(cache)], cache, signum, group=False,
                                env=dict(os.environ), processes=False)
    assert status == (143 if signum == signal.SIGTERM else 1)  # SIGINT: click's "Aborted!"
    assert cached >= 1
    for path in _cached(cache):
        decode_entry(path.stem, path.read_bytes())
    assert not list(cache.rglob("*.tmp"))
