"""The benchmarks' one timing helper: repeated calls timed in wall-clock and CPU seconds.

Every ``bench_*.py`` that times repeated calls uses :func:`timed` (one call, ``repeats`` times) or
:func:`interleaved` (several calls, one after the other in each of ``repeats`` rounds, so that
background load on a shared machine affects all of them alike) and reports what it always did
from the :class:`Timing`: the least wall-clock time (``wall``), the least CPU time of this process
(``cpu``; less disturbed by other processes) or the median CPU time (``median_cpu``).

Scripts run from this folder (e.g. ``python benchmarks/bench_schedule.py``), so ``from _timing import timed`` finds it.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Timing:
    """The seconds of each timed call: wall clock (``time.perf_counter``) and CPU of this process
    (``time.process_time``), and the last call's output."""

    walls: tuple[float, ...]
    cpus: tuple[float, ...]
    result: Any

    @property
    def wall(self) -> float:
        """The least wall-clock seconds."""
        return min(self.walls)

    @property
    def cpu(self) -> float:
        """The least CPU seconds."""
        return min(self.cpus)

    @property
    def median_cpu(self) -> float:
        """The median CPU seconds."""
        return statistics.median(self.cpus)


def interleaved(calls: Mapping[str, Callable[[], Any]], repeats: int, *, warmup: bool = False,
                before: Callable[[], object] | None = None,
                each: Callable[[str, Any], object] | None = None) -> dict[str, Timing]:
    """Each of ``calls`` timed once per round, in order, for ``repeats`` rounds.

    ``warmup``: one untimed call of each first (imports, compiled forms, caches of the first call);
    ``before()``: untimed, before each round (e.g. emptying a cache or making a fresh folder);
    ``each(name, output)``: untimed, after each timed call (e.g. checking the output)."""
    if warmup:
        for fn in calls.values():
            fn()
    walls: dict[str, list[float]] = {name: [] for name in calls}
    cpus: dict[str, list[float]] = {name: [] for name in calls}
    results: dict[str, Any] = dict.fromkeys(calls)
    for _ in range(repeats):
        if before is not None:
            before()
        for name, fn in calls.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            results[name] = fn()
            walls[name].append(time.perf_counter() - start)
            cpus[name].append(time.process_time() - start_cpu)
            if each is not None:
                each(name, results[name])
    return {name: Timing(tuple(walls[name]), tuple(cpus[name]), results[name]) for name in calls}


def timed(fn: Callable[[], Any], repeats: int, *, warmup: bool = False,
          before: Callable[[], object] | None = None) -> Timing:
    """``fn`` timed ``repeats`` times (:func:`interleaved` with one call; ``warmup`` and ``before`` as there)."""
    return interleaved({"": fn}, repeats, warmup=warmup, before=before)[""]
