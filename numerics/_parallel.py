"""Scale-out and resumability: picklable tasks on any ``concurrent.futures.Executor``.

:func:`map_tasks` runs ``fn(task)`` for every task and returns the results in order. It
accepts any standard executor — the default is a local process pool; a cluster user
passes e.g. ``dask.distributed.Client(...).get_executor()`` or a Ray equivalent and
nothing else changes. With a :class:`ResultCache`, each finished task is stored on disk
under a key derived from its full configuration, so re-running costs nothing and an
interrupted run resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import pickle
import sys
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from contextlib import nullcontext
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from ._generated import FORMS, FORMS_VERSION

__all__ = ["ResultCache", "local_pool", "map_tasks", "default_cache_dir", "config_key", "resolve_cache", "resolve_executor"]

T = TypeVar("T")
R = TypeVar("R")

#: bump to invalidate every cached result after a change in numerical behaviour
CACHE_VERSION = 1


def default_cache_dir() -> Path:
    """``$NQM_CACHE_DIR`` or ``~/.cache/nqm-toolkit``, subfolder ``results``."""
    return Path(os.environ.get("NQM_CACHE_DIR", Path.home() / ".cache" / "nqm-toolkit")) / "results"


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


class ResultCache:
    """Pickled results on disk, one file per configuration key, written atomically."""

    def __init__(self, directory: str | os.PathLike[str] | None = None, namespace: str = "default") -> None:
        self.directory = Path(directory) if directory is not None else default_cache_dir()
        self.directory = self.directory / namespace

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.pkl"

    def get(self, key: str) -> tuple[bool, Any]:
        """``(True, value)`` if cached, else ``(False, None)``; unreadable entries count as missing."""
        try:
            with open(self._path(key), "rb") as fh:
                return True, pickle.load(fh)
        except (OSError, EOFError, pickle.UnpicklingError):
            return False, None

    def put(self, key: str, value: Any) -> None:
        """Store ``value`` under ``key`` (write to a temporary file, then rename)."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)


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


def local_pool(max_workers: int | None = None) -> ProcessPoolExecutor:
    """The toolkit's local process pool (the default executor): ``max_workers`` processes (default
    ``os.cpu_count()``) started by a fork server, never by forking the calling process.

    Forking a process whose OpenMP runtime has run a parallel region (PyTorch's CPU kernels use
    GNU libgomp) leaves the child's thread pool locked: the child's first parallel tensor
    operation hangs forever. The fork server is a fresh, single-threaded interpreter started once
    per session, so its children are safe whatever this process has run. As with any
    ``spawn``/``forkserver`` pool (Python 3.14's default on Linux), workers re-import the main
    module, so a script that starts a pool needs an ``if __name__ == "__main__":`` guard.
    """
    if max_workers is not None and max_workers < 1:
        raise ValueError(f"max_workers must be a positive integer; got {max_workers!r}")
    return ProcessPoolExecutor(max_workers=max_workers or os.cpu_count() or 1,
                               mp_context=multiprocessing.get_context("forkserver"),
                               initializer=_register_specs, initargs=(_user_specs(),))


def _user_specs() -> tuple[Any, ...]:
    """The optimizer specs registered in this process beyond the built-ins (none if
    :mod:`nqm.theory`, where specs are registered, was never imported)."""
    theory = sys.modules.get("nqm.theory")
    if theory is None:
        return ()
    return tuple(spec for spec in theory.registered_specs() if spec.name not in FORMS)


def _register_specs(specs: tuple[Any, ...]) -> None:
    """Pool initializer: the parent's user specs, registered in a fresh worker (as a fork
    would have inherited them), so that tasks may name them."""
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
        are stored, and the first error is re-raised: a re-run resumes from there.
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
    failure: BaseException | None = None
    with ctx as ex:
        futures = {ex.submit(fn, tasks[i]): i for i in missing}
        for fut in wrap(as_completed(futures), len(futures)):
            i = futures[fut]
            try:
                results[i] = fut.result()
            except BaseException as err:  # keep the tasks that still finish, then re-raise
                if failure is None:
                    failure = err
                    for other in futures:
                        other.cancel()
                continue
            if cache is not None:
                cache.put(keys[i], results[i])
    if failure is not None:
        raise failure
    return results
