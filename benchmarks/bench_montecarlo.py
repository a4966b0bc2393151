"""Monte-Carlo throughput against the machine's own limit, measured in the same run.

The limit is the rate at which numpy draws standard normal variates (``Generator.standard_normal``
into a preallocated buffer, PCG64), because every coordinate-update needs one fresh variate.
For each optimizer the script times ``nqm.numerics.monte_carlo`` on the paper's binned problem
(10^4 coordinates, each bin simulated with its multiplicity) and prints coordinate-updates per
second, the draw-only rate for the same number of variates, and their ratio (goal >= 0.5).

A second table times momentum under schedules against the same run with constant values, in the
same run: a piecewise schedule (lr and batch size in three pieces) and per-step schedules
(lr, beta and batch size changing at every step, so the coefficients change at every step).

    python benchmarks/bench_montecarlo.py [--runs 8] [--steps 500] [--repeats 3]
"""

from __future__ import annotations

import argparse

import numpy as np
from _timing import interleaved

import nqm.numerics as nn


def draw_only(count: int, block: int = 1 << 22) -> None:
    """Draw ``count`` standard normals in blocks, as fast as numpy can."""
    rng = np.random.default_rng(0)
    buf = np.empty(block)
    for start in range(0, count, block):
        rng.standard_normal(out=buf[: min(block, count - start)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    problem = nn.Problem.paper()
    optimizers = [
        nn.SGD(lr=0.5),
        nn.Momentum(lr=0.1, beta=0.9),
        nn.EMA(lr=0.5, gamma=0.9),
        nn.QHM(lr=0.5, beta=0.9, nu=0.7, precond_power=0.5),
    ]
    updates = args.runs * int(problem.dimension) * args.steps
    print(f"problem: {problem!r}")
    print(f"runs={args.runs} steps={args.steps}: {updates:.3g} coordinate-updates per optimizer, best of {args.repeats}")
    print(f"{'optimizer':<10} {'updates/s':>12} {'draws/s':>12} {'ratio':>7}")
    for opt in optimizers:
        timings = interleaved({  # interleaved, so that background load affects both alike
            "monte_carlo": lambda opt=opt: nn.monte_carlo(problem, opt, batch_size=64, steps=args.steps,
                                                          runs=args.runs, seed=0),
            "draws": lambda: draw_only(updates),
        }, args.repeats)
        t_mc, t_draw = timings["monte_carlo"].wall, timings["draws"].wall
        print(f"{opt.name:<10} {updates / t_mc:12.4g} {updates / t_draw:12.4g} {t_draw / t_mc:7.2f}")
    schedules(problem, args)


def schedules(problem: nn.Problem, args: argparse.Namespace) -> None:
    """Momentum under a piecewise and a per-step schedule, as time ratios against constant values."""
    T = args.steps
    t = np.arange(T)
    cases = {
        "constant": {"lr": 0.1, "beta": 0.9, "batch_size": 64.0},
        "piecewise": {"lr": nn.schedules.piecewise([0.1, 0.03, 0.01], [T // 2, 3 * T // 4]),
                      "batch_size": nn.schedules.piecewise([64.0, 128.0, 256.0], [T // 3, 2 * T // 3])},
        "per-step": {"lr": 0.1 * 0.5 * (1 + np.cos(np.pi * t / T)) + 1e-3, "beta": 0.5 + 0.4 * t / T,
                     "batch_size": np.round(np.geomspace(16, 256, T))},
    }
    opt = nn.Momentum(lr=0.1, beta=0.9)
    timings = interleaved(
        {name: lambda s=s: nn.monte_carlo(problem, opt, steps=T, runs=args.runs, seed=0, schedule=s)
         for name, s in cases.items()},
        args.repeats,
    )
    print(f"momentum under schedules: seconds (best of {args.repeats}) and ratio to constant values")
    for name, timing in timings.items():
        print(f"{name:<10} {timing.wall:10.3f} s {timing.wall / timings['constant'].wall:7.2f}")


if __name__ == "__main__":
    main()
