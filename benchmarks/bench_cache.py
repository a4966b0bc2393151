"""Cost of the checked JSON result cache against computing, measured in the same run.

The largest cached results are Monte-Carlo tasks that keep every run's loss curve; the cache
costs most against the computing when the problem is small (cheap steps, as many curve values).
For such a simulation (a 10-direction problem, SGD, ``keep_curves=True``, serial) the script times the
uncached run, the first cached run (computes and stores every task: encoding, SHA-256, atomic
write) and a repeated cached run (reads, checks and decodes every task), and prints both cached
times as ratios to the uncached one, with the bytes stored.

    python benchmarks/bench_cache.py [--runs 5000] [--steps 1000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import numpy as np
from _timing import interleaved

import nqm.numerics as nn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5000)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    problem, opt = nn.Problem(np.logspace(0, -2, 10)), nn.SGD(lr=0.5)

    def simulate(cache: Path | None) -> None:
        nn.monte_carlo(problem, opt, batch_size=64, steps=args.steps, runs=args.runs, seed=0, keep_curves=True,
                       executor="serial", cache=cache)

    folder: list[Path] = []  # this round's empty cache folder

    def fresh_folder() -> None:
        if folder:
            shutil.rmtree(folder.pop())
        folder.append(Path(tempfile.mkdtemp()))

    try:  # interleaved, so that background load affects all alike
        timings = interleaved({"uncached": lambda: simulate(None), "compute and store": lambda: simulate(folder[0]),
                               "read from the cache": lambda: simulate(folder[0])}, args.repeats, before=fresh_folder)
        stored = sum(p.stat().st_size for p in folder[0].rglob("*.json"))
    finally:
        if folder:
            shutil.rmtree(folder[0])
    best = {name: timing.wall for name, timing in timings.items()}
    print(f"monte_carlo: {args.runs} runs x {args.steps + 1} steps, curves kept; {stored / 1e6:.1f} MB stored; best of {args.repeats}")
    for name, seconds in best.items():
        print(f"{name:<20} {seconds:8.3f} s  {seconds / best['uncached']:6.3f} x uncached")


if __name__ == "__main__":
    main()
