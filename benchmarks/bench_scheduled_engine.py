"""The scheduled-risk engine's two evaluations, measured in the same run: where each is cheaper.

``nn.scheduled_risk`` evaluates each constant segment of a schedule either by the per-step
recursion or by its segment map (numerics/_schedule.py, ``MAP_COST``). This benchmark forces one or
the other (``MAP_COST`` = 0: maps everywhere; = inf: the recursion everywhere) on the paper's problem
(``Problem.paper()``, 100 bins, B = 64) for schedules of segments of equal length L, with

* ``curve``: every step 0..T evaluated;
* ``final``: step T alone,

and prints the CPU time of each (least of ``--repeats``), their ratio, the cost of one segment map
or evaluation in steps of the recursion (``(maps time / (K + E)) / (recursion time / T)``: the
measured ``MAP_COST``), the time of the automatic choice, and the largest relative difference
between the two exact evaluations.

    python benchmarks/bench_scheduled_engine.py                 # T = 4000, L in 1, 8, 64
    python benchmarks/bench_scheduled_engine.py --steps 20000 --lengths 1 100
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import math  # noqa: E402

import numpy as np  # noqa: E402
from _timing import timed  # noqa: E402

import nqm.numerics as nn  # noqa: E402
from nqm.numerics import _schedule  # noqa: E402

#: (label, optimizer, scheduled hyperparameter, its range)
CASES = [
    ("sgd", nn.SGD(lr=0.1), "lr", (0.01, 1.0)),
    ("momentum", nn.Momentum(lr=0.1, beta=0.9), "beta", (0.0, 0.95)),
    ("ema", nn.EMA(lr=0.1, gamma=0.9), "gamma", (0.0, 0.99)),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--lengths", type=int, nargs="+", default=[1, 8, 64])
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    prob = nn.Problem.paper()
    T = args.steps
    rng = np.random.default_rng(0)
    default = _schedule.MAP_COST
    print(f"{'case':10} {'L':>5} {'evals':>6} {'maps s':>8} {'steps s':>8} {'auto s':>8} {'map/step':>9} "
          f"{'MAP_COST':>9} {'max rel diff':>13}")
    for label, opt, name, (lo, hi) in CASES:
        for L in args.lengths:
            K = -(-T // L)
            sched = {name: np.repeat(rng.uniform(lo, hi, K), L)[:T]}
            for evals, steps in (("curve", T), ("final", [T])):
                def run(cost: float, steps=steps, sched=sched, opt=opt):
                    _schedule.MAP_COST = cost
                    try:
                        return nn.scheduled_risk(prob, opt, steps=steps, schedule=sched, batch_size=64)
                    finally:
                        _schedule.MAP_COST = default
                maps, steps_only = timed(lambda: run(0.0), args.repeats), timed(lambda: run(math.inf), args.repeats)
                (t_map, r_map), (t_step, r_step) = (maps.cpu, maps.result), (steps_only.cpu, steps_only.result)
                t_auto = timed(lambda: run(default), args.repeats).cpu
                E = T + 1 if evals == "curve" else 1
                cost = (t_map / (K + E)) / (t_step / T)
                diff = float(np.max(np.abs(r_map / r_step - 1)))
                print(f"{label:10} {L:5d} {evals:>6} {t_map:8.3f} {t_step:8.3f} {t_auto:8.3f} {t_map / t_step:9.2f} "
                      f"{cost:9.2f} {diff:13.2e}")


if __name__ == "__main__":
    main()
