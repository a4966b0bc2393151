"""Users' three- and four-state specs against the built-ins, measured in the same run.

The user specs, written with ``OptimizerSpec.from_update`` and evaluated by exact doubling:

* ``ema_hb``, the issue's example: an EMA of heavy-ball iterates (states theta, m and the average;
  lr, beta, gamma), searched with the spectral bounds of ``nqm.numerics._spectral``;
* ``dema_hb``: a double EMA of heavy-ball iterates (four states; an EMA of the EMA, with the same
  gamma), whose transition has a Jordan block at gamma in every direction: no spectral expansion
  exists, so a search bounds its risk by the confluent expansion of ``nqm.numerics._confluent``.

The built-in baseline is momentum (two states, Chebyshev closed form). On the paper's problem
(100 bins) the script times, best of ``--repeats`` (interleaved, so that background load affects
both alike):

* one ``expected_risk`` call at three steps;
* ``steps_to_target`` for a reachable and an unreachable target;
* a search: ``tune`` over a grid (per grid point, since the grids differ in size);
* the conformance property ``permutation_invariance`` (``--examples`` examples);
* with ``--big``, the issue's sweep: the default 40,000-point grid at the batch sizes of
  ``4:1048576:16`` (serially, in this process; wall and CPU time), with and without the
  subgrid incumbents of ``nqm.numerics._sweep``, and of ``dema_hb``, against momentum's default
  2,000-point grid (several minutes).

It prints each time and the ratio user spec / built-in, and the machine's load average.

    python benchmarks/bench_user_spec.py [--repeats 3] [--examples 5] [--big] [--batch-sizes 5]
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable

import numpy as np

import nqm.numerics as nn
from _timing import interleaved, timed
from nqm.theory import BETA, GAMMA, LR, OptimizerSpec


def ema_of_heavy_ball(grad, theta, m, avg, lr, beta, gamma):
    """One heavy-ball step (eq. 5), then the EMA of its iterates (eq. 11)."""
    m = beta * m + grad(theta)
    theta = theta - lr * m
    return theta, m, gamma * avg + (1 - gamma) * theta


SPEC = OptimizerSpec.from_update(
    "ema_hb", ema_of_heavy_ball, state=("theta", "m", "avg"), hyperparameters=(LR, BETA, GAMMA),
    init=(1, 0, 1), out=(0, 0, 1), description="EMA of heavy-ball iterates", reference="eqs. 5, 11",
)
EmaHB = nn.from_spec(SPEC)


def double_ema_of_heavy_ball(grad, theta, m, avg, avg2, lr, beta, gamma):
    """One heavy-ball step (eq. 5), an EMA of its iterates and an EMA of that EMA (eq. 11, twice)."""
    theta, m, avg = ema_of_heavy_ball(grad, theta, m, avg, lr, beta, gamma)
    return theta, m, avg, gamma * avg2 + (1 - gamma) * avg


SPEC4 = OptimizerSpec.from_update(
    "dema_hb", double_ema_of_heavy_ball, state=("theta", "m", "avg", "avg2"), hyperparameters=(LR, BETA, GAMMA),
    init=(1, 0, 1, 1), out=(0, 0, 0, 1), description="double EMA of heavy-ball iterates", reference="eqs. 5, 11",
)
DemaHB = nn.from_spec(SPEC4)


def best_of(repeats: int, pair: tuple[Callable[[], object], Callable[[], object]]) -> tuple[float, float]:
    """Least wall time of each of the two calls over ``repeats`` interleaved rounds (after one warm-up each)."""
    t = interleaved({"user": pair[0], "builtin": pair[1]}, repeats, warmup=True)
    return t["user"].wall, t["builtin"].wall


def show(label: str, user: float, builtin: float, unit: str = "s") -> None:
    print(f"{label:<48} {user:10.4f} {unit}  {builtin:10.4f} {unit}  {user / builtin:8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--examples", type=int, default=5, help="conformance examples")
    parser.add_argument("--big", action="store_true", help="also time the default-grid sweeps (several minutes)")
    parser.add_argument("--batch-sizes", type=int, default=5, help="batch sizes 4 * 16**k of the big sweep "
                        "(5: the issue's 4:1048576:16)")
    args = parser.parse_args()

    problem = nn.Problem.paper()
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    builtin = nn.Momentum(lr=0.01, beta=0.9)
    steps = np.array([10, 1000, 100000])
    lrs, betas = np.logspace(-3, 0.5, 25), 1.0 - np.logspace(-3, 0, 8)
    user_grid = {"lr": lrs, "beta": betas, "gamma": np.array([0.0, 0.9, 0.99])}
    sizes = (lrs.size * betas.size * 3, lrs.size * betas.size)
    from nqm.proofs import check_conformance

    def conformance(spec: object) -> Callable[[], object]:
        return lambda: check_conformance(spec, max_examples=args.examples, properties=["permutation_invariance"])

    for spec, cls in ((SPEC, EmaHB), (SPEC4, DemaHB)):
        print(f"{'':<48} {spec.name:>12}  {'momentum':>12}  {'ratio':>8}")
        user = cls(lr=0.01, beta=0.9, gamma=0.99)
        show("expected_risk, 3 steps", *best_of(args.repeats, (
            lambda: nn.expected_risk(problem, user, batch_size=64, steps=steps),
            lambda: nn.expected_risk(problem, builtin, batch_size=64, steps=steps))))
        for label, target in (("steps_to_target, reachable (0.1)", 0.1), ("steps_to_target, unreachable (0.01)", 0.01)):
            show(label, *best_of(args.repeats, (
                lambda: nn.steps_to_target(problem, user, batch_size=64, target=target),
                lambda: nn.steps_to_target(problem, builtin, batch_size=64, target=target))))
        u, b = best_of(args.repeats, (
            lambda: nn.tune(problem, cls, batch_size=1024, target=0.01, grid=user_grid),
            lambda: nn.tune(problem, nn.Momentum, batch_size=1024, target=0.01, grid={"lr": lrs, "beta": betas})))
        show(f"tune at B = 1024, per grid point ({sizes[0]} / {sizes[1]})", 1e3 * u / sizes[0], 1e3 * b / sizes[1],
             "ms")
        show(f"conformance permutation_invariance, {args.examples} examples",
             *best_of(1, (conformance(spec), conformance("momentum"))))

    if args.big:
        from nqm.numerics import _sweep

        Bs = 4.0 * 16.0 ** np.arange(args.batch_sizes)  # the CLI's 4:1048576:16 for 5
        runs = [("ema_hb", EmaHB, None), ("ema_hb, no incumbents", EmaHB, 10**9), ("dema_hb", DemaHB, None),
                ("momentum", nn.Momentum, None)]
        wall, cpu = {}, {}
        for label, cls, min_tasks in runs:
            saved = _sweep.INCUMBENT_MIN_TASKS
            _sweep.INCUMBENT_MIN_TASKS = min_tasks or saved
            try:
                run = timed(lambda: nn.sweep(problem, cls, batch_sizes=Bs, target=0.01, executor="serial"), 1)
                wall[label], cpu[label] = run.wall, run.cpu
            finally:
                _sweep.INCUMBENT_MIN_TASKS = saved
        print(f"sweep, default grids (40000 / 2000 points), B = {', '.join(f'{B:g}' for B in Bs)}, serial:")
        for label in ("ema_hb", "ema_hb, no incumbents", "dema_hb"):
            show(f"  {label}: wall", wall[label], wall["momentum"])
            show(f"  {label}: CPU (independent of the load)", cpu[label], cpu["momentum"])
            show(f"  {label}: CPU per grid point", 1e3 * cpu[label] / 40000, 1e3 * cpu["momentum"] / 2000, "ms")
    print(f"load average at end:   {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
