"""Scale-out and resumability: picklable tasks on any ``concurrent.futures.Executor``.

:func:`map_tasks` runs ``fn(task)`` for every task and returns the results in order. Every
entry point of the toolkit reads its ``executor=`` argument with :func:`resolve_executor`
(the executor convention: automatic by default, a local thread pool for large work, which
never re-imports ``__main__``); a cluster user passes e.g. a ``dask.distributed.Client`` or a
Ray executor and nothing else changes. With a :class:`ResultCache` (:mod:`nqm.numerics._cache`: checked JSON,
never pickles), each finished task is stored on disk under a key derived from its full
configuration, so re-running costs nothing and an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import math
import multiprocessing
import os
import signal
import sys
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from ._cache import ResultCache, default_cache_dir
from ._forms import validate_count
from ._generated import FORMS_VERSION

__all__ = ["ExecutorArg", "LocalPool", "LocalThreads", "LocalWorkers", "MAX_WORKERS", "Progress", "ResultCache",
           "config_key", "default_cache_dir", "local_pool", "map_tasks", "open_executor", "resolve_cache",
           "resolve_executor"]

T = TypeVar("T")
R = TypeVar("R")

#: bump to invalidate every cached result after a change in numerical behaviour
CACHE_VERSION = 1


def _canonical(value: Any) -> Any:
    """A JSON-serialisable, order-independent form of a task configuration."""
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, np.ndarray):
        return {"__array__": [_canonical(v) for v in value.ravel().tolist()], "shape": list(value.shape)}
    if isinstance(value, (np.floating, float)):
        return repr(float(value))
    if isinstance(value, (np.integer, int, bool, str)) or value is None:
        return value.item() if isinstance(value, np.generic) else value
    if hasattr(value, "cache_config"):
        return _canonical(value.cache_config())
    raise TypeError(f"cannot derive a cache key from {type(value).__name__}; give it a cache_config() method")


def config_key(config: Any) -> str:
    """Stable hash of a configuration (floats by exact repr, dict keys sorted)."""
    payload = json.dumps([CACHE_VERSION, FORMS_VERSION, _canonical(config)], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def resolve_cache(cache: ResultCache | str | os.PathLike[str] | bool | None, namespace: str) -> ResultCache | None:
    """The ``cache=`` argument of the sweeps: ``None``/``False`` (no cache), ``True`` (the default
    directory, :func:`default_cache_dir`), a directory, or a :class:`ResultCache` (used as given)."""
    if cache is None or cache is False:
        return None
    if isinstance(cache, ResultCache):
        return cache
    if cache is True:
        return ResultCache(None, namespace)
    if isinstance(cache, (str, os.PathLike)):
        return ResultCache(cache, namespace)
    raise ValueError(f"cache must be None, True, a directory or a ResultCache; got {cache!r}")


#: seconds a terminated worker gets to exit before it is killed
_GRACE = 2.0
#: what stops a :class:`LocalPool` at once: Ctrl-C, and SIGTERM as turned into ``SystemExit``
_INTERRUPTIONS = (KeyboardInterrupt, SystemExit)


def _interrupted() -> bool:
    """Whether an interruption (:data:`_INTERRUPTIONS`) is being handled right now."""
    return isinstance(sys.exc_info()[1], _INTERRUPTIONS)


class _HoldsSigterm:
    """A local pool holds SIGTERM (:func:`_hold_sigterm`) from its creation to its shutdown, or to
    its collection without one (a finalizer runs once)."""

    def _hold(self) -> None:
        self._sigterm = weakref.finalize(self, _release_sigterm) if _hold_sigterm() else None

    def _release(self) -> None:
        if self._sigterm is not None:
            self._sigterm()


class LocalPool(_HoldsSigterm, ProcessPoolExecutor):
    """A process pool that an interruption stops at once, leaving no process behind.

    Leaving its ``with`` block by ``KeyboardInterrupt`` or ``SystemExit`` (SIGINT, or SIGTERM
    while the pool is open: see :func:`local_pool`), or calling ``shutdown()`` while one of them
    is being handled (a ``finally`` clause or ``except`` block), calls :meth:`terminate` instead of
    waiting for the queued and running tasks, whose results nobody would read. Otherwise (leaving
    normally, or by an ordinary exception) it waits as ``ProcessPoolExecutor`` does.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._hold()

    def terminate(self) -> None:
        """Cancel the pending tasks, stop the workers now (SIGTERM, SIGKILL after
        ``_GRACE`` seconds) and shut the pool down. Results of tasks already returned are
        unaffected; tasks still running are lost."""
        processes = list((self._processes or {}).values())  # ProcessPoolExecutor's worker table
        manager: threading.Thread | None = getattr(self, "_executor_manager_thread", None)
        self.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(_GRACE)
            if process.is_alive():
                process.kill()
                process.join()
        if manager is not None:  # it sees the workers gone, fails their futures and ends
            manager.join(_GRACE)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """As ``ProcessPoolExecutor.shutdown``, but :meth:`terminate` while an interruption is
        being handled (this includes leaving a ``with`` block by one)."""
        if wait and _interrupted():
            self.terminate()  # shuts down without waiting
            return
        super().shutdown(wait=wait, cancel_futures=cancel_futures)
        self._release()


class LocalThreads(_HoldsSigterm, ThreadPoolExecutor):
    """The default local pool (:func:`resolve_executor`): ``max_workers`` threads that an
    interruption releases at once.

    Leaving its ``with`` block by ``KeyboardInterrupt`` or ``SystemExit``, or calling ``shutdown()``
    while one is being handled, cancels the queued tasks and returns without waiting. A thread
    cannot be stopped: each running task (at most one per thread) finishes in the background, and
    the interpreter waits for them at exit. While the pool is open, SIGTERM raises
    ``SystemExit(143)`` in the main thread as for :class:`LocalPool` (:func:`local_pool`).
    """

    def __init__(self, max_workers: int) -> None:
        super().__init__(validate_count("max_workers", max_workers, 1, MAX_WORKERS), thread_name_prefix="nqm-worker")
        self._hold()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """As ``ThreadPoolExecutor.shutdown``, but neither waiting nor starting queued tasks while
        an interruption is being handled."""
        if wait and _interrupted():
            wait, cancel_futures = False, True
        super().shutdown(wait=wait, cancel_futures=cancel_futures)
        self._release()


def local_pool(max_workers: int | None = None) -> LocalPool:
    """The toolkit's local process pool (``executor="processes"``, :func:`resolve_executor`):
    ``max_workers`` processes (default ``os.cpu_count()``) started by a fork server, never by
    forking the calling process.

    Forking a process whose OpenMP runtime has run a parallel region (PyTorch's CPU kernels use
    GNU libgomp) leaves the child's thread pool locked: the child's first parallel tensor
    operation hangs forever. The fork server is a fresh, single-threaded interpreter started once
    per session, so its children are safe whatever this process has run. As with any
    ``spawn``/``forkserver`` pool (Python 3.14's default on Linux), workers re-import the main
    module, so a script that starts a pool needs an ``if __name__ == "__main__":`` guard.

    Interruption: workers ignore SIGINT (the parent handles it); while a pool is open, SIGTERM
    to this process raises ``SystemExit(143)`` in the main thread if no other SIGTERM handler
    was installed, so that leaving the ``with`` block terminates the workers (see
    :class:`LocalPool`). The fork server and multiprocessing's resource tracker are
    per-process helpers that exit when this process does.
    """
    workers = os.cpu_count() or 1 if max_workers is None else validate_count("max_workers", max_workers, 1, MAX_WORKERS)
    return LocalPool(max_workers=workers,
                     mp_context=multiprocessing.get_context("forkserver"),
                     initializer=_ignore_sigint)


def _raise_system_exit(signum: int, frame: Any) -> None:
    """SIGTERM handler: exit by ``SystemExit`` (status 128 + 15), so ``with`` blocks and ``finally``
    clauses run (and a :class:`LocalPool` terminates its workers) instead of dying at once."""
    raise SystemExit(128 + signum)


_sigterm_lock = threading.Lock()
_sigterm_holders = 0


def _hold_sigterm() -> bool:
    """Install :func:`_raise_system_exit` for SIGTERM while at least one pool holds it. Only from
    the main thread and only over the default handler (a handler of the caller stays); ``False``
    if nothing was held."""
    global _sigterm_holders
    if threading.current_thread() is not threading.main_thread():
        return False
    with _sigterm_lock:
        if _sigterm_holders == 0:
            if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
                return False
            signal.signal(signal.SIGTERM, _raise_system_exit)
        _sigterm_holders += 1
        return True


def _release_sigterm() -> None:
    """Undo one :func:`_hold_sigterm`; the last one restores the default handler."""
    global _sigterm_holders
    with _sigterm_lock:
        _sigterm_holders -= 1
        if _sigterm_holders == 0 and threading.current_thread() is threading.main_thread() \
                and signal.getsignal(signal.SIGTERM) is _raise_system_exit:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _ignore_sigint() -> None:
    """Pool initializer: ignore SIGINT (a Ctrl-C reaches the whole process group; the parent
    stops the pool). Tasks need no other set-up: an optimizer pickles as its spec."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


#: most local workers an ``executor=`` count may ask for (4 per CPU), checked before any work
MAX_WORKERS = 4 * (os.cpu_count() or 1)
#: the kinds of local workers ``executor=`` may name; the first is the default kind
LOCAL_KINDS = ("threads", "processes")


@dataclass(frozen=True)
class LocalWorkers:
    """A local pool to open for one run: ``workers`` threads or processes (``kind``)."""

    kind: str
    workers: int

    def open(self, tasks: int) -> Executor | None:
        """The pool for ``tasks`` tasks (never more workers than tasks); ``None`` when one worker would do."""
        n = min(self.workers, tasks)
        if n <= 1:
            return None
        return LocalThreads(n) if self.kind == "threads" else local_pool(n)


#: the ``progress=`` argument of every entry point: a wrapper ``progress(iterable, total)`` that yields
#: each item it is given (e.g. a rich bar); :func:`map_tasks` says what its items are
Progress = Callable[[Iterable[Any], int], Iterable[Any]]
#: the ``executor=`` argument of every entry point (:func:`resolve_executor`; a dask ``Client`` is also accepted)
ExecutorArg = Executor | str | int | None
#: what every ``executor=`` argument is resolved to: run here, a pool to open, or the caller's executor
Resolved = str | LocalWorkers | Executor


def resolve_executor(executor: object, work: float = math.inf, threshold: float = 0.0) -> Resolved:
    """The one reading of the ``executor=`` argument of every entry point of the toolkit.

    **The executor convention.** ``executor`` says where independent tasks run; every value gives
    the same result, bit for bit:

    * ``None`` (default): automatic. Work below the entry point's threshold runs in this process;
      larger work on a pool of ``os.cpu_count()`` *threads* (numpy releases the GIL in the heavy
      kernels). Threads never re-import ``__main__``, so the default works alike in a guarded or
      unguarded script, ``python -c``, ``python -`` and a Jupyter kernel.
    * ``"serial"``, ``0`` or ``1``: this process, one task after the other.
    * an integer ``n`` from 2 to :data:`MAX_WORKERS`: ``n`` worker threads.
    * ``"threads"`` or ``"processes"``: ``os.cpu_count()`` workers of that kind. Processes
      (:func:`local_pool`: a fork server, interruptible) pay off for GIL-bound work, but their
      workers re-import the main module, so the script needs an ``if __name__ == "__main__":`` guard.
    * any ``concurrent.futures.Executor`` (used as given, never shut down here), or a
      ``dask.distributed.Client`` (its ``get_executor()``).

    The command line's ``--workers N`` means the integer ``N`` (default: automatic).

    Why threads: sampled with py-spy (``benchmarks/bench_gil.py``), the engine holds the GIL about
    3 % of the time in Monte Carlo and 20-30 % in the Fig. 3a sweeps, so two threads can run nearly
    in parallel; schedule sweeps hold it about 80 %, and gain from ``"processes"`` instead. Serial,
    threads and process pools are timed side by side by ``benchmarks/bench_executors.py``.

    Returns ``"serial"``, a :class:`LocalWorkers` to open per run, or the given ``Executor``. ``work``
    is the caller's estimate of the total work and ``threshold`` the amount below which ``None``
    becomes ``"serial"`` (each caller documents both). Anything else is a ``ValueError`` naming
    ``executor`` and the values allowed.
    """
    if executor is None:
        return "serial" if work < threshold else LocalWorkers(LOCAL_KINDS[0], os.cpu_count() or 1)
    if isinstance(executor, Executor):
        return executor
    if isinstance(executor, str) and executor in ("serial", *LOCAL_KINDS):
        return "serial" if executor == "serial" else LocalWorkers(executor, os.cpu_count() or 1)
    if isinstance(executor, (int, np.integer)) and not isinstance(executor, (bool, np.bool_)) \
            and 0 <= executor <= MAX_WORKERS:
        return "serial" if executor <= 1 else LocalWorkers(LOCAL_KINDS[0], int(executor))
    get_executor = getattr(executor, "get_executor", None)
    if callable(get_executor) and type(executor).__module__.split(".")[0] == "distributed":
        return get_executor()
    raise ValueError(
        "executor must be None (automatic), 'serial', 'threads', 'processes', a worker count from 0 to "
        f"{MAX_WORKERS}, a concurrent.futures.Executor or a dask.distributed.Client; got {executor!r}"
    )


@contextmanager
def open_executor(resolved: Resolved, tasks: int) -> Iterator[Executor | None]:
    """The executor for ``tasks`` tasks of a :func:`resolve_executor` result: ``None`` to run them in
    this process; a local pool is opened here and shut down on leaving (at once on an interruption)."""
    if isinstance(resolved, Executor):
        yield resolved
        return
    pool = resolved.open(tasks) if isinstance(resolved, LocalWorkers) else None
    if pool is None:
        yield None
        return
    try:
        yield pool
    except BaseException:
        pool.shutdown(cancel_futures=True)  # queued tasks never start; an interruption stops the pool at once
        raise
    pool.shutdown()


def map_tasks(
    fn: Callable[[T], R],
    tasks: Sequence[T],
    *,
    executor: object = None,
    cache: ResultCache | None = None,
    progress: Progress | None = None,
) -> list[R]:
    """``[fn(task) for task in tasks]``, distributed, cached and resumable.

    Parameters
    ----------
    fn:
        a module-level (picklable) function.
    tasks:
        picklable task configurations; with a cache they must also be hashable by
        :func:`config_key` (plain data, numpy arrays, or objects with ``cache_config()``).
    executor:
        where the tasks run: the executor convention of :func:`resolve_executor` (``None``:
        a local thread pool when there is more than one task), or its result.
    cache:
        a :class:`ResultCache`; finished tasks are stored as soon as they complete. If a
        task fails, the pending ones are cancelled, those already running still finish and
        are stored, and the first error is re-raised: a re-run resumes from there. An
        interruption (``KeyboardInterrupt``, or ``SystemExit`` from SIGTERM: see
        :func:`local_pool`) cancels the pending tasks at once and stops a :class:`LocalPool`'s
        workers; the results stored so far stay.
    progress:
        optional wrapper ``progress(iterable, total)`` around completions (e.g. a rich bar). Whatever
        the executor, its items are the indices in ``tasks`` of the tasks that run (not of those
        found in the cache); it must yield each one, and that task has finished when the wrapper
        resumes after the yield (where a bar advances).
    """
    resolved = executor if isinstance(executor, LocalWorkers) else resolve_executor(executor)
    results: list[Any] = [None] * len(tasks)
    fn_name = (getattr(fn, "__module__", ""), getattr(fn, "__qualname__", ""))
    keys = [config_key((*fn_name, task)) for task in tasks] if cache else []
    missing = []
    for i in range(len(tasks)):
        if cache is not None:
            found, value = cache.get(keys[i])
            if found:
                results[i] = value
                continue
        missing.append(i)
    wrap = progress or (lambda it, total: it)
    if not missing:
        return results
    failure: Exception | None = None
    with open_executor(resolved, len(missing)) as ex:
        if ex is None:
            for i in wrap(missing, len(missing)):
                results[i] = fn(tasks[i])
                if cache is not None:
                    cache.put(keys[i], results[i])
            return results
        futures: dict[Any, int] = {}
        try:
            for i in missing:
                futures[ex.submit(fn, tasks[i])] = i
            submitted = {i: fut for fut, i in futures.items()}
            for i in wrap((futures[fut] for fut in as_completed(futures)), len(futures)):
                try:
                    results[i] = submitted[i].result()
                except Exception as err:  # keep the tasks that still finish, then re-raise
                    if failure is None:
                        failure = err
                        for other in futures:
                            other.cancel()
                    continue
                if cache is not None:
                    cache.put(keys[i], results[i])
        except BaseException:  # interrupted: nothing queued may start (a local pool also stops at once)
            for fut in futures:
                fut.cancel()
            raise
    if failure is not None:
        raise failure
    return results
