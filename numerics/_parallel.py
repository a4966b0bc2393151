"""Scale-out and resumability: picklable tasks on any ``concurrent.futures.Executor``.

:func:`map_tasks` runs ``fn(task)`` for every task and returns the results in order. It
accepts any standard executor — the default is a local process pool; a cluster user
passes e.g. ``dask.distributed.Client(...).get_executor()`` or a Ray equivalent and
nothing else changes. With a :class:`ResultCache` (:mod:`nqm.numerics._cache`: checked JSON,
never pickles), each finished task is stored on disk under a key derived from its full
configuration, so re-running costs nothing and an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import signal
import sys
import threading
import weakref
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from contextlib import nullcontext
from typing import Any, TypeVar

import numpy as np

from ._cache import ResultCache, default_cache_dir
from ._generated import FORMS, FORMS_VERSION

__all__ = ["LocalPool", "ResultCache", "config_key", "default_cache_dir", "local_pool", "map_tasks", "resolve_cache",
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


class LocalPool(ProcessPoolExecutor):
    """A process pool that an interruption stops at once, leaving no process behind.

    Leaving its ``with`` block by ``KeyboardInterrupt`` or ``SystemExit`` (SIGINT, or SIGTERM
    while the pool is open: see :func:`local_pool`), or calling ``shutdown()`` while one of them
    is being handled (a ``finally`` clause or ``except`` block), calls :meth:`terminate` instead of
    waiting for the queued and running tasks, whose results nobody would read. Otherwise (leaving
    normally, or by an ordinary exception) it waits as ``ProcessPoolExecutor`` does.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # released by shutdown(), or when the pool is collected without one (a finalizer runs once)
        self._sigterm = weakref.finalize(self, _release_sigterm) if _hold_sigterm() else None

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
        if wait and isinstance(sys.exc_info()[1], _INTERRUPTIONS):
            self.terminate()  # shuts down without waiting
            return
        super().shutdown(wait=wait, cancel_futures=cancel_futures)
        if self._sigterm is not None:
            self._sigterm()


def local_pool(max_workers: int | None = None) -> LocalPool:
    """The toolkit's local process pool (the default executor): ``max_workers`` processes (default
    ``os.cpu_count()``) started by a fork server, never by forking the calling process.

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
    if max_workers is not None and max_workers < 1:
        raise ValueError(f"max_workers must be a positive integer; got {max_workers!r}")
    return LocalPool(max_workers=max_workers or os.cpu_count() or 1,
                     mp_context=multiprocessing.get_context("forkserver"),
                     initializer=_init_worker, initargs=(_user_specs(),))


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


def _user_specs() -> tuple[Any, ...]:
    """The optimizer specs registered in this process beyond the built-ins (none if
    :mod:`nqm.theory`, where specs are registered, was never imported)."""
    theory = sys.modules.get("nqm.theory")
    if theory is None:
        return ()
    return tuple(spec for spec in theory.registered_specs() if spec.name not in FORMS)


def _init_worker(specs: tuple[Any, ...]) -> None:
    """Pool initializer: ignore SIGINT (a Ctrl-C reaches the whole process group; the parent
    stops the pool) and register the parent's user specs, as a fork would have inherited them,
    so that tasks may name them."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if specs:
        from nqm.theory import register

        for spec in specs:
            register(spec, overwrite=True)


def resolve_executor(executor: Executor | str | None, work: float, threshold: float) -> Executor | str | None:
    """``executor=None`` means a local process pool only for work worth spawning one.

    ``work`` is the caller's estimate of the total work and ``threshold`` the amount below which a
    pool costs more than it saves (each caller documents both): below it ``None`` becomes
    ``"serial"``. Any other value is returned unchanged (and checked by :func:`map_tasks`).
    """
    return "serial" if executor is None and work < threshold else executor


def map_tasks(
    fn: Callable[[T], R],
    tasks: Sequence[T],
    *,
    executor: Executor | str | None = None,
    cache: ResultCache | None = None,
    progress: Callable[[Iterable[Any], int], Iterable[Any]] | None = None,
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
        any ``concurrent.futures.Executor``; ``None`` (default) uses a local process pool
        sized to the machine, ``"serial"`` runs in this process.
    cache:
        a :class:`ResultCache`; finished tasks are stored as soon as they complete. If a
        task fails, the pending ones are cancelled, those already running still finish and
        are stored, and the first error is re-raised: a re-run resumes from there. An
        interruption (``KeyboardInterrupt``, or ``SystemExit`` from SIGTERM: see
        :func:`local_pool`) cancels the pending tasks at once and stops a :class:`LocalPool`'s
        workers; the results stored so far stay.
    progress:
        optional wrapper ``progress(iterable, total)`` around completions (e.g. a rich bar).
    """
    if executor is not None and executor != "serial" and not isinstance(executor, Executor):
        raise ValueError(f"executor must be a concurrent.futures.Executor, 'serial' or None; got {executor!r}")
    results: list[Any] = [None] * len(tasks)
    keys = [config_key((getattr(fn, "__module__", ""), getattr(fn, "__qualname__", ""), task)) for task in tasks] if cache else []
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
    if executor == "serial" or len(missing) == 1 and executor is None:
        for i in wrap(missing, len(missing)):
            results[i] = fn(tasks[i])
            if cache is not None:
                cache.put(keys[i], results[i])
        return results
    pool = executor if isinstance(executor, Executor) else None
    ctx = nullcontext(pool) if pool is not None else local_pool(min(len(missing), os.cpu_count() or 1))
    failure: Exception | None = None
    with ctx as ex:
        futures: dict[Any, int] = {}
        try:
            for i in missing:
                futures[ex.submit(fn, tasks[i])] = i
            for fut in wrap(as_completed(futures), len(futures)):
                i = futures[fut]
                try:
                    results[i] = fut.result()
                except Exception as err:  # keep the tasks that still finish, then re-raise
                    if failure is None:
                        failure = err
                        for other in futures:
                            other.cancel()
                    continue
                if cache is not None:
                    cache.put(keys[i], results[i])
        except BaseException:  # interrupted: nothing queued may start (a LocalPool also stops its workers)
            for fut in futures:
                fut.cancel()
            raise
    if failure is not None:
        raise failure
    return results
