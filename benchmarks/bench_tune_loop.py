"""Fig. 3a one ``tune`` call at a time against one ``sweeps`` call and the authors' protocol, in one run.

The figure (as in bench_fig3a.py): SGD and heavy-ball momentum, p in {0, .25, .5, .75},
B = 4^1 .. 4^10, the paper's grids, target 0.01, ``nn.Problem.paper()``: 80 cells.

* ``sweeps``: one call for the 8 curves, in this process (``executor="serial"``: each grid is
  searched whole, as ``tune`` searches it), once more on a pool of one thread (the grid split into
  blocks of rows, one task each, as pools and caches run it, and as the serial path ran it before
  it searched small grids whole), and with the default executor (a thread pool when the work pays for one).
* ``tune`` loop: 80 separate ``nn.tune`` calls, as a user writes the figure by hand
  (``for p: for B: tune(...)``, B increasing), in this process, starting from an empty tune
  cache (``nn.clear_tune_cache()``), so the time includes building every grid's models. The
  same loop with the batch size outermost is timed too.
* Both must give the same steps and the same winning grid points in every cell (checked).
* Protocol: the authors' notebook tuning code run plainly (benchmarks/baseline_notebook.py,
  via bench_fig3a.time_baseline): SGD on the full grid; momentum on every ``--stride``-th grid
  point of every cell, extrapolated by the number of points (said so in the output).
* EMA against momentum: the same tune loop for EMA and for momentum (p in {0, .5}, the 10
  batch sizes, paper grids), per cell; and a single call on an empty cache (p = .5, B = 64).

Timings are the best of ``--repeats`` runs, wall clock and CPU time of this process; ratios are
between times of this run. On a shared machine, wall-clock times of every path (the protocol's
too) stretch with the load; the CPU-time ratios are printed as well.

    python benchmarks/bench_tune_loop.py [--repeats 2] [--stride 50]
"""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor

import nqm.numerics as nn

from _timing import timed
from bench_fig3a import BATCH_SIZES, POWERS, TARGET, authors_problem, momentum_points, time_baseline

OPTIMIZERS = ("sgd", "momentum")


def best_of(repeats: int, run: Callable[[], object]) -> tuple[float, float, object]:
    """Best wall-clock and best CPU seconds of ``repeats`` runs (:func:`_timing.timed`, each from an empty
    tune cache) and the last result (CPU time is less disturbed by other processes on a shared machine)."""
    timing = timed(run, repeats, before=nn.clear_tune_cache)
    return timing.wall, timing.cpu, timing.result


def by_sweeps(executor: str | Executor | None = "serial") -> dict[tuple[str, float, float], tuple[float, dict]]:
    configs = [{"optimizer": name, "precond_power": p} for name in OPTIMIZERS for p in POWERS]
    tables = nn.sweeps(authors_problem(), configs, batch_sizes=BATCH_SIZES, target=TARGET, executor=executor)
    return {(c["optimizer"], c["precond_power"], r.batch_size): (r.steps, r.hyperparameters)
            for c, t in zip(configs, tables, strict=True) for r in t.rows}


def by_tune(names: tuple[str, ...] = OPTIMIZERS, powers: tuple[float, ...] = POWERS, batch_outer: bool = False) -> dict:
    cells = [(n, p, float(B)) for n in names for p in powers for B in BATCH_SIZES]
    if batch_outer:
        cells.sort(key=lambda cell: cell[2])
    out = {}
    for name, p, B in cells:
        r = nn.tune(authors_problem(), name, batch_size=B, target=TARGET, precond_power=p)
        out[(name, p, B)] = (float(r.steps), r.hyperparameters)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--stride", type=int, default=50, help="time the momentum protocol on every k-th grid point")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")  # the notebook's arithmetic overflows for divergent grid points
    cells = len(OPTIMIZERS) * len(POWERS) * len(BATCH_SIZES)

    by_sweeps()  # warm-up: imports and first-use allocations
    t_sweeps, c_sweeps, swept = best_of(args.repeats, by_sweeps)
    t_loop, c_loop, looped = best_of(args.repeats, by_tune)
    t_outer, c_outer, outer = best_of(1, lambda: by_tune(batch_outer=True))
    print(f"Fig. 3a, {cells} cells, paper grids, this process (serial), best of {args.repeats} (wall, CPU):")
    print(f"  one sweeps call:                          {t_sweeps:7.3f} s, {c_sweeps:7.3f} s CPU")
    print(f"  {cells} tune calls (p outer, B increasing): {t_loop:7.3f} s, {c_loop:7.3f} s CPU; same steps and "
          f"grid points as sweeps: {looped == swept}")
    print(f"  {cells} tune calls (B outer), one run:      {t_outer:7.3f} s, {c_outer:7.3f} s CPU; same: {outer == swept}")

    with ThreadPoolExecutor(max_workers=1) as one:
        t_blocks, c_blocks, blocked = best_of(args.repeats, lambda: by_sweeps(one))
    print(f"  one sweeps call, grid blocks as tasks on 1 thread: {t_blocks:7.3f} s, {c_blocks:7.3f} s CPU; "
          f"same: {blocked == swept}; serial / blocks CPU time {c_sweeps / c_blocks:.2f}")

    t_pool, c_pool, pooled = best_of(args.repeats, lambda: by_sweeps(None))
    print(f"  one sweeps call, default executor:         {t_pool:7.3f} s, {c_pool:7.3f} s CPU in this process; "
          f"same: {pooled == swept}")

    baseline = timed(lambda: time_baseline(args.stride), 1)
    sgd, mom, per_point, same = baseline.result
    cpu_share = baseline.cpu / baseline.wall
    protocol = sgd + mom
    points = momentum_points().shape[0] * len(POWERS) * len(BATCH_SIZES)
    print(f"authors' protocol (notebook loops): {protocol:.1f} s = SGD {sgd:.2f} s measured on the full grid + momentum "
          f"{mom:.1f} s, measured on {len(per_point)} of {points} grid points (every {args.stride}th) and scaled "
          f"x{points / len(per_point):.0f}; loops == vectorised transcription there: {same}")
    print("ratios:")
    print(f"  tune loop / sweeps:     {t_loop / t_sweeps:6.2f}   (goal <= 1.5; CPU time {c_loop / c_sweeps:.2f})")
    print(f"  protocol / sweeps:      {protocol / t_sweeps:6.0f}x  (goal >= 500x)")
    print(f"  protocol / tune loop:   {protocol / t_loop:6.0f}x  (goal >= 500x)")
    print(f"  protocol / default-executor sweeps: {protocol / t_pool:6.0f}x")
    print(f"  in CPU time (the protocol's estimated as its wall time x the CPU share {cpu_share:.2f} of its timed "
          f"run): protocol / sweeps {protocol * cpu_share / c_sweeps:.0f}x, protocol / tune loop "
          f"{protocol * cpu_share / c_loop:.0f}x")

    powers = (0.0, 0.5)
    per_cell = len(powers) * len(BATCH_SIZES)
    t_mom, c_mom, _ = best_of(args.repeats, lambda: by_tune(("momentum",), powers))
    t_ema, c_ema, _ = best_of(args.repeats, lambda: by_tune(("ema",), powers))
    one = {}
    for name in ("momentum", "ema"):
        one[name] = best_of(args.repeats, lambda n=name: nn.tune(authors_problem(), n, batch_size=64, target=TARGET,
                                                                    precond_power=0.5))[:2]
    print(f"EMA vs momentum, tune loop over p in {powers} x {len(BATCH_SIZES)} batch sizes (paper grids, empty cache first):")
    print(f"  momentum {t_mom / per_cell * 1e3:6.1f} ms per cell ({c_mom / per_cell * 1e3:.1f} CPU), EMA "
          f"{t_ema / per_cell * 1e3:6.1f} ms per cell ({c_ema / per_cell * 1e3:.1f} CPU), EMA / momentum "
          f"{t_ema / t_mom:.2f} (CPU {c_ema / c_mom:.2f})")
    (w_mom, u_mom), (w_ema, u_ema) = one["momentum"], one["ema"]
    print(f"  one call on an empty cache (p = 0.5, B = 64): momentum {w_mom:.3f} s ({u_mom:.3f} CPU), EMA {w_ema:.3f} s "
          f"({u_ema:.3f} CPU), EMA / momentum {w_ema / w_mom:.2f} (CPU {u_ema / u_mom:.2f})")


if __name__ == "__main__":
    main()
