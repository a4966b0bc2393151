"""Sweeps that scale out: the same call on a local process pool, a dask cluster, and from the disk cache.

Every (optimizer, p) curve of Fig. 3a is one batch of picklable tasks. Any
``concurrent.futures.Executor`` runs them: here a dask ``LocalCluster``'s executor (on a real
cluster, ``Client("scheduler-address").get_executor()``), with results identical to the serial
run. ``cache=`` stores finished tasks by configuration, so the second call computes nothing and
an interrupted sweep resumes where it stopped.

Run it: ``python examples/scale_out.py`` (needs ``dask[distributed]``, in the ``test`` extra).
"""

from __future__ import annotations

import tempfile
import time

from dask.distributed import Client, LocalCluster

import nqm.numerics as nn

CONFIGS = [{"optimizer": name, "precond_power": p} for name in ("sgd", "momentum") for p in (0.0, 0.5)]


def main() -> None:
    problem = nn.Problem.paper()
    serial = nn.sweeps(problem, CONFIGS, executor="serial")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True) as cluster, Client(cluster) as client:
        on_cluster = nn.sweeps(problem, CONFIGS, executor=client.get_executor())
    assert [s.rows for s in on_cluster] == [s.rows for s in serial], "cluster and serial sweeps differ"
    with tempfile.TemporaryDirectory() as cache:
        nn.sweeps(problem, CONFIGS, cache=cache)
        start = time.perf_counter()
        cached = nn.sweeps(problem, CONFIGS, cache=cache)
        print(f"from the cache: {time.perf_counter() - start:.3f} s")
    assert [s.rows for s in cached] == [s.rows for s in serial]
    for s in serial:
        crit = s.critical_batch_sizes()
        print(f"{s.optimizer:>8} p={s.precond_power:<4} B_crit (McCandlish) = {crit.mccandlish.B_crit:10.0f}"
              f"   2x perfect scaling = {crit.perfect_scaling_2x:10.0f}")


if __name__ == "__main__":
    main()
