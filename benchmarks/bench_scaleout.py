"""Scaling out: the paper's sweeps in this process, on a local process pool and on dask, timed in one run.

Workloads (paper problem, paper grids, B = 2^2..2^20, target 0.01):

* ``momentum``: one momentum sweep (20 x 100 grid, 10 batch sizes);
* ``fig4``: momentum at p in {0, 0.25, 0.5, 0.75, 1} and SGD at the same powers (10 sweeps,
  all tasks given to the executor together through ``nn.sweeps``).

Executors: ``"serial"`` (baseline; the same tasks in this process), ``nn.local_pool`` with
``--workers`` processes kept warm across repeats, the default ``executor=None`` (automatic: a
new thread pool sized to the machine on every call above the threshold ``POOL_MIN_WORK``), and a dask ``LocalCluster`` with
``--workers`` single-threaded processes (cluster start-up excluded, timed separately). Each
time is the best of ``--repeats``; every result is checked identical to the serial one.
Ratios are serial time / executor time (> 1: faster than serial). Dask's worker processes
run with its default ``distributed.nanny.pre-spawn-environ`` (``MALLOC_TRIM_THRESHOLD_=65536``,
which alone about doubles the time of one sweep task in a plain process here: the engine
allocates large temporaries), so on a 2-core machine dask is about exactness and
resumability, not speed; its benefit is more machines.

    python benchmarks/bench_scaleout.py [--repeats 3] [--workers 2]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from _timing import timed

import nqm.numerics as nn
from nqm.numerics._sweep import POOL_MIN_WORK


def best_of(repeats: int, fn: Callable[[], object]) -> tuple[float, object]:
    """The least wall-clock seconds of ``repeats`` calls (:func:`_timing.timed`) and the last output."""
    timing = timed(fn, repeats)
    return timing.wall, timing.result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    prob = nn.Problem.paper()
    powers = (0.0, 0.25, 0.5, 0.75, 1.0)
    workloads: dict[str, Callable[[object], list[nn.Sweep]]] = {
        "momentum": lambda ex: [nn.sweep(prob, nn.Momentum, executor=ex)],
        "fig4": lambda ex: nn.sweeps(
            prob, [{"optimizer": o, "precond_power": p} for o in ("momentum", "sgd") for p in powers], executor=ex
        ),
    }
    nn.sweep(prob, nn.Momentum, executor="serial")  # warm up compiled forms and imports
    print(f"POOL_MIN_WORK = {POOL_MIN_WORK:g} (grid points x bins x batch sizes)")
    # the local pools first: starting a dask cluster sets dask's worker environment
    # (MALLOC_TRIM_THRESHOLD_) in this process, which a fork server started later would inherit
    local: dict[str, tuple] = {}
    for name, run in workloads.items():
        t_serial, ref = best_of(args.repeats, lambda: run("serial"))
        with nn.local_pool(args.workers) as pool:
            t_pool, got_pool = best_of(args.repeats, lambda: run(pool))
        t_default, got_default = best_of(args.repeats, lambda: run(None))
        same = all(repr([s.rows for s in got]) == repr([s.rows for s in ref]) for got in (got_pool, got_default))
        local[name] = (t_serial, t_pool, t_default, same, ref)
    from dask.distributed import Client, LocalCluster

    start = time.perf_counter()
    cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(cluster)
    print(f"dask LocalCluster({args.workers} workers) start-up: {time.perf_counter() - start:.2f} s")
    try:
        for name, run in workloads.items():
            t_serial, t_pool, t_default, same, ref = local[name]
            t_dask, got_dask = best_of(args.repeats, lambda: run(client.get_executor(pure=False)))  # pure=False: no reuse of earlier results
            same = same and repr([s.rows for s in got_dask]) == repr([s.rows for s in ref])
            print(f"{name:9s} serial {t_serial:6.2f} s | pool({args.workers}) {t_pool:6.2f} s "
                  f"(x{t_serial / t_pool:.2f}) | default {t_default:6.2f} s (x{t_serial / t_default:.2f}) "
                  f"| dask({args.workers}) {t_dask:6.2f} s (x{t_serial / t_dask:.2f}) | identical to serial: {same}")
    finally:
        client.close()
        cluster.close()

if __name__ == "__main__":
    main()
