"""Worst relative error of ``nn.scheduled_risk`` against the 30-digit per-step reference, per spec.

For each spec (SGD, momentum, EMA, Nesterov, QHM, and a three-state user spec: an EMA of heavy-ball
iterates) ``--draws`` random runs on a three-bin problem (h = 1, 0.05, 1e-3), each of T in [1, 64]
steps with every hyperparameter and the batch size scheduled: each quantity is, with equal
probability, a constant, a per-step array or piecewise constant (up to four pieces); values uniform
in the ranges of tests/numerics/test_scheduled_risk.py (lr in [1e-3, 1]), batch sizes from
{1, 2.5, 16, 1024}. Prints the worst relative error over all steps of all runs, and the counts of
NaN and negative values. The reference (tests/numerics/_schedule_reference.py) iterates the
spec's sympy matrices in mpmath and shares no code with the engine.

    python benchmarks/scan_scheduled_exactness.py [--draws 40] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

import nqm.numerics as nn
from nqm.numerics.schedules import piecewise

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "numerics"))
from _schedule_reference import per_step_risk  # noqa: E402
from test_scheduled_risk import BATCH_SIZES, SMALL, SPECS  # noqa: E402


def draw(rng: np.random.Generator, T: int, values) -> tuple[object, np.ndarray]:
    """One schedule form over T steps and its per-step values."""
    kind = rng.integers(3)
    if kind == 0:
        v = values(1)[0]
        return float(v), np.full(T, v)
    if kind == 1:
        per = values(T)
        return per, per
    cuts = np.unique(rng.integers(1, T, size=rng.integers(0, 4))) if T > 1 else np.zeros(0, dtype=int)
    levels = values(cuts.size + 1)
    return piecewise(levels.tolist(), cuts.tolist()), np.repeat(levels, np.diff(np.r_[0, cuts, T]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    print(f"{'spec':10} {'runs':>5} {'steps':>6} {'worst rel err':>14} {'NaN':>4} {'negative':>9}")
    for name, (spec, bounds) in SPECS.items():
        worst, steps, nans, negative = 0.0, 0, 0, 0
        for _ in range(args.draws):
            T = int(rng.integers(1, 65))
            schedule, per_step = {}, {}
            for q, (lo, hi) in bounds.items():
                schedule[q], per_step[q] = draw(rng, T, lambda k, lo=lo, hi=hi: rng.uniform(lo, hi, k))
            schedule["batch_size"], per_step["batch_size"] = draw(rng, T, lambda k: rng.choice(BATCH_SIZES, k))
            opt = nn.Optimizer(spec, **{q: v[0] for q, v in per_step.items() if q != "batch_size"})
            got = nn.scheduled_risk(SMALL, opt, steps=T, schedule=schedule)
            want = per_step_risk(spec, SMALL, per_step)
            worst = max(worst, float(np.max(np.abs(got / want - 1))))
            steps += T + 1
            nans += int(np.isnan(got).sum())
            negative += int((got < 0).sum())
        print(f"{name:10} {args.draws:5d} {steps:6d} {worst:14.2e} {nans:4d} {negative:9d}")


if __name__ == "__main__":
    main()
