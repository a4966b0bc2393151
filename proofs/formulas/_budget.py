"""Calling a function under a wall-clock budget, in a separate process that can be stopped.

sympy cannot be interrupted safely inside the calling thread (a signal only lands between
bytecodes, not in every context, and leaves caches half-updated), and the size of a
formula does not bound the cost of expanding or cancelling it. So :func:`call_with_budget`
sends the call to one worker process and waits at most ``seconds``; past that the worker is
killed, and the next call starts a fresh one.

The worker is a fresh interpreter running this file as a script (never a fork of the calling
process; unlike multiprocessing's ``spawn`` it does not re-import the caller's main script,
and it imports neither this package nor anything but the standard library until a call or
:func:`prestart` names a module). :func:`prestart` launches it without waiting, so that its
start-up (about 1 s with sympy) overlaps the caller's own work; it is then reused. Waiting for
it to start is not counted in the budget. It holds only its own ends of two pipes, so it reads
end-of-file and exits as soon as this process ends, however it ends.
"""

from __future__ import annotations

import importlib
import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

__all__ = ["STARTUP_SECONDS", "call_with_budget", "prestart"]

#: how long the worker may take to start (importing sympy and the package) before the call gives up
STARTUP_SECONDS = 120.0

_HERE = os.path.dirname(os.path.abspath(__file__))


@dataclass
class _Worker:
    process: subprocess.Popen
    requests: Connection
    answers: Connection
    ready: bool = False


_lock = threading.Lock()
_worker: _Worker | None = None
_preload: tuple[str, ...] = ()  # what the last prestart asked for; a restarted worker imports it too


def _serve(requests: Connection, answers: Connection, modules: Iterable[str]) -> None:
    """Worker loop: import ``modules``, report ready, then answer ``(fn, args)`` with
    ``("done", fn(*args))`` or ``("error", message)``; stop at end-of-file."""
    for module in modules:
        importlib.import_module(module)
    answers.send(("ready", None))
    while True:
        try:
            fn, args = requests.recv()
        except (EOFError, OSError):
            return
        try:
            answer: tuple[str, Any] = ("done", fn(*args))
        except Exception as exc:  # noqa: BLE001 - reported to the caller as what went wrong
            answer = ("error", f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
        answers.send(answer)


def _stop() -> None:
    global _worker
    if _worker is not None:
        worker, _worker = _worker, None
        worker.requests.close()
        worker.answers.close()
        worker.process.kill()
        worker.process.wait()


def _launch(modules: tuple[str, ...]) -> str | None:
    """Start a worker unless one is running; None, or why it could not start."""
    global _worker
    if _worker is not None and _worker.process.poll() is None:
        return None
    _stop()
    child_reads, parent_writes = os.pipe()
    parent_reads, child_writes = os.pipe()
    try:
        process = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), str(child_reads), str(child_writes), *modules],
            pass_fds=(child_reads, child_writes), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, cwd=_HERE,
        )
    except (OSError, ValueError) as exc:  # ValueError: no pass_fds on this platform
        os.close(parent_writes)
        os.close(parent_reads)
        return f"no worker process ({exc})"
    finally:
        os.close(child_reads)
        os.close(child_writes)
    _worker = _Worker(process, Connection(parent_writes, readable=False), Connection(parent_reads, writable=False))
    return None


def _ready() -> _Worker | str:
    """The running worker once it has reported ready (started if needed), or why there is none."""
    problem = _launch(_preload)
    if problem is not None:
        return problem
    assert _worker is not None
    worker = _worker
    if not worker.ready:
        try:
            if not worker.answers.poll(STARTUP_SECONDS):
                _stop()
                return f"the worker did not start within {STARTUP_SECONDS:g} s"
            worker.answers.recv()
        except (EOFError, OSError):
            _stop()
            return "the worker exited while starting"
        worker.ready = True
    return worker


def prestart(modules: tuple[str, ...] = ()) -> None:
    """Start the worker now, if none is running, importing ``modules`` (names from this
    package's code, never user text) before it reports ready; returns at once."""
    global _preload
    with _lock:
        _preload = modules
        _launch(modules)


def call_with_budget(fn: Callable[..., Any], args: tuple[Any, ...], seconds: float) -> tuple[str, Any]:
    """``("done", fn(*args))``, ``("error", message)`` if it raised (or the worker could not run
    it), or ``("timeout", None)`` if it did not return within ``seconds`` (the worker is killed).

    ``fn`` must be a module-level function and ``args`` picklable.
    """
    with _lock:
        worker = _ready()
        if isinstance(worker, str):
            return "error", worker
        try:
            worker.requests.send((fn, args))
            if not worker.answers.poll(seconds):
                _stop()
                return "timeout", None
            return worker.answers.recv()
        except (pickle.PicklingError, TypeError, AttributeError) as exc:  # nothing was written to the pipe
            return "error", f"the call cannot be sent to the worker ({type(exc).__name__})"
        except (EOFError, OSError) as exc:
            _stop()
            return "error", f"the worker process ended ({type(exc).__name__})"


if __name__ == "__main__":
    # run as a script: this folder is sys.path[0]; drop it, so that only installed modules import
    sys.path[:] = [p for p in sys.path[1:] if os.path.abspath(p or ".") != _HERE]
    _serve(Connection(int(sys.argv[1]), writable=False), Connection(int(sys.argv[2]), readable=False), sys.argv[3:])
