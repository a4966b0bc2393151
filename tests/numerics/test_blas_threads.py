"""The schedule search's one-BLAS-thread limit (threadpoolctl, process-wide) under calls that
overlap in threads, as a schedule sweep on the default thread pool runs them: the limit holds
while any call runs and the caller's limits come back when the last one returns.

Run in a fresh interpreter: once scipy has loaded its second OpenBLAS, the thread counts that
threadpoolctl reads in a worker thread depend on what ran before in the process."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from threadpoolctl import threadpool_info

from nqm.numerics._schedule_search import one_blas_thread


def _blas_threads() -> set[int]:
    return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}


def _overlapping_calls_keep_the_limit_and_restore_it() -> None:
    before = _blas_threads()
    if not before or before == {1}:
        pytest.skip("no multi-threaded BLAS library that threadpoolctl can limit")
    inside: list[set[int]] = []
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()

    @one_blas_thread
    def first() -> None:
        first_in.set()
        second_in.wait(10)
        inside.append(_blas_threads())

    @one_blas_thread
    def second() -> None:
        second_in.set()
        first_out.wait(10)  # still running after the first call returned
        inside.append(_blas_threads())

    a = threading.Thread(target=first)
    a.start()
    first_in.wait(10)
    b = threading.Thread(target=second)
    b.start()
    a.join(10)
    first_out.set()
    b.join(10)
    assert inside == [{1}, {1}]
    assert _blas_threads() == before


def test_overlapping_calls_keep_the_limit_and_restore_it() -> None:
    code = "import sys; sys.path.insert(0, sys.argv[1]); import test_blas_threads as t; t._overlapping_calls_keep_the_limit_and_restore_it()"
    run = subprocess.run([sys.executable, "-c", code, str(Path(__file__).parent)], capture_output=True, text=True, timeout=120)
    if "no multi-threaded BLAS" in run.stderr:
        pytest.skip("no multi-threaded BLAS library that threadpoolctl can limit")
    assert run.returncode == 0, run.stderr[-2000:]
