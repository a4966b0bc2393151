"""Which local executor should ``executor=None`` use? Serial, threads and processes, timed in one run.

Workloads (the three kinds of parallel work of the toolkit):

* ``fig3a``: the Fig. 3a sweeps in one ``nn.sweeps`` call (SGD and momentum at p in
  {0, .25, .5, .75}, B = 2^2, 2^4, ..., 2^20, the paper's grids, target 0.01, ``nn.Problem.paper()``);
* ``montecarlo``: ``nn.monte_carlo`` of SGD (lr 0.5, B = 16) on 8 directions
  (``nn.Problem.paper(binned=False, d=8)``), 20,000 runs, 300 steps;
* ``schedule``: ``nn.schedule_sweep`` of SGD, 10 pieces, at B = 2^4, 2^8, 2^12, 2^16 on the paper's problem.

Executors, each given to the call as ``executor=``: ``"serial"`` (the baseline: this process),
``ThreadPoolExecutor(--workers)`` (new on every call: threads start in microseconds), a new
``nn.local_pool(--workers)`` on every call (what a default process pool costs: its fork server
and workers start and import the engine), and a warm ``nn.local_pool(--workers)`` kept across
repeats. Each time is the best of ``--repeats`` wall-clock runs, the executors interleaved so
background load affects all alike; every result is checked identical to the serial one.
Ratios are serial time / executor time (> 1: faster than serial).

    python benchmarks/bench_executors.py [--repeats 3] [--workers 2] [--only fig3a,montecarlo,schedule]

Measured when threads became the default (2 CPUs shared with other jobs, load 6-8; serial, threads,
new pool, warm pool): fig3a 5.40, 5.71, 6.90, 5.88 s; montecarlo 1.43, 1.29, 1.88, 1.34 s; schedule
1.48, 1.49, 7.08, 1.65 s. No core was free, so no kind gained; ``bench_gil.py`` shows what threads
can gain on free cores.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from _timing import interleaved

import nqm.numerics as nn

POWERS = (0.0, 0.25, 0.5, 0.75)


def workloads() -> dict[str, Callable[[object], object]]:
    paper = nn.Problem.paper()
    small = nn.Problem.paper(binned=False, d=8)
    fig3a = [{"optimizer": o, "precond_power": p} for o in ("sgd", "momentum") for p in POWERS]
    return {
        "fig3a": lambda ex: [s.rows for s in nn.sweeps(paper, fig3a, batch_sizes=2.0 ** np.arange(2, 21, 2),
                                                      target=0.01, executor=ex)],
        "montecarlo": lambda ex: nn.monte_carlo(small, nn.SGD(lr=0.5), batch_size=16, steps=300, runs=20_000,
                                                executor=ex).mean.tolist(),
        "schedule": lambda ex: nn.schedule_sweep(paper, "sgd", batch_sizes=[2**4, 2**8, 2**12, 2**16], pieces=10,
                                                 executor=ex).steps.tolist(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--only", default="fig3a,montecarlo,schedule")
    args = parser.parse_args()
    chosen = args.only.split(",")
    print(f"{os.cpu_count()} CPUs, {args.workers} workers, best of {args.repeats}")
    for name, run in workloads().items():
        if name not in chosen:
            continue
        ref = run("serial")  # warm up imports and compiled forms
        with nn.local_pool(args.workers) as warm:
            run(warm)  # warm up the workers
            kinds: dict[str, Callable[[], object]] = {
                "serial": lambda: run("serial"),
                "threads": lambda: _with(ThreadPoolExecutor(args.workers), run),
                "new pool": lambda: _with(nn.local_pool(args.workers), run),
                "warm pool": lambda: run(warm),
            }
            differ: list[str] = []
            timings = interleaved(kinds, args.repeats, each=lambda kind, got, ref=ref, differ=differ:
                                  differ.append(kind) if repr(got) != repr(ref) else None)
            same = not differ
        best = {kind: timing.wall for kind, timing in timings.items()}
        cells = " | ".join(f"{k} {t:6.2f} s (x{best['serial'] / t:.2f})" for k, t in best.items())
        print(f"{name:10s} {cells} | identical to serial: {same}")


def _with(pool, run: Callable[[object], object]) -> object:
    with pool as ex:
        return run(ex)


if __name__ == "__main__":
    main()
