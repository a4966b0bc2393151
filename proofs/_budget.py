"""Calling a function under a wall-clock budget, in a separate process that can be stopped.

sympy cannot be interrupted safely inside the calling thread (a signal only lands between
bytecodes, not in every context, and leaves caches half-updated), and the size of a
formula does not bound the cost of expanding or cancelling it. So :func:`call_with_budget`
sends the call to one worker process and waits at most ``seconds``; past that the worker is
killed, and the next call starts a fresh one.

The worker is a fresh interpreter running this module (``python -m nqm.proofs._budget``;
never a fork of the calling process, and unlike multiprocessing's ``spawn`` it does not
re-import the caller's main script). It is started on first use and then reused, so only the
first call pays its start (importing the package, about 3 s), which is not counted in the
budget. It holds only its own ends of two pipes, so it reads end-of-file and exits as soon
as this process ends, however it ends.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

__all__ = ["STARTUP_SECONDS", "call_with_budget"]

#: how long the worker may take to start (importing sympy and the package) before the call gives up
STARTUP_SECONDS = 120.0

_lock = threading.Lock()
_worker: tuple[subprocess.Popen, Connection, Connection] | None = None


def _serve(requests: Connection, answers: Connection) -> None:
    """Worker loop: answer ``(fn, args)`` with ``("done", fn(*args))`` or ``("error", message)``; stop at end-of-file."""
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
        process, requests, answers = _worker
        _worker = None
        requests.close()
        answers.close()
        process.kill()
        process.wait()


def _started() -> tuple[subprocess.Popen, Connection, Connection] | str:
    """The running worker, started if needed, or why it could not start."""
    global _worker
    if _worker is not None and _worker[0].poll() is None:
        return _worker
    _stop()
    child_reads, parent_writes = os.pipe()
    parent_reads, child_writes = os.pipe()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", __name__, str(child_reads), str(child_writes)],
            pass_fds=(child_reads, child_writes), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, cwd=os.path.dirname(os.path.abspath(__file__)),  # no caller's folder on its path
        )
    except OSError as exc:
        os.close(parent_writes)
        os.close(parent_reads)
        return f"no worker process ({exc})"
    finally:
        os.close(child_reads)
        os.close(child_writes)
    _worker = (process, Connection(parent_writes, readable=False), Connection(parent_reads, writable=False))
    answers = _worker[2]
    try:
        if not answers.poll(STARTUP_SECONDS):
            _stop()
            return f"the worker did not start within {STARTUP_SECONDS:g} s"
        answers.recv()
    except (EOFError, OSError):
        _stop()
        return "the worker exited while starting"
    return _worker


def call_with_budget(fn: Callable[..., Any], args: tuple[Any, ...], seconds: float) -> tuple[str, Any]:
    """``("done", fn(*args))``, ``("error", message)`` if it raised (or the worker could not run
    it), or ``("timeout", None)`` if it did not return within ``seconds`` (the worker is killed).

    ``fn`` must be a module-level function and ``args`` picklable.
    """
    with _lock:
        worker = _started()
        if isinstance(worker, str):
            return "error", worker
        _, requests, answers = worker
        try:
            requests.send((fn, args))
            if not answers.poll(seconds):
                _stop()
                return "timeout", None
            return answers.recv()
        except (pickle.PicklingError, TypeError, AttributeError) as exc:  # nothing was written to the pipe
            return "error", f"the call cannot be sent to the worker ({type(exc).__name__})"
        except (EOFError, OSError) as exc:
            _stop()
            return "error", f"the worker process ended ({type(exc).__name__})"

if __name__ == "__main__":
    _serve(Connection(int(sys.argv[1]), writable=False), Connection(int(sys.argv[2]), readable=False))
