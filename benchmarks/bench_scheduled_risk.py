"""Scheduled risk against a plain per-step loop, measured in the same run.

Problem: the authors' (``Problem.paper()``: 100 bins, C = H on the bins, theta(0) ~ N(0, I)).

Baseline: the authors' "dynamic programming with eqn. (3)" written plainly: numpy over the bins,
one Python iteration per step, the exact second moments of a zero-mean start, with the step's
learning rate and batch size (noise c / B_t). For SGD the state is E theta^2 (eq. 3):

    s <- (1 - a_t h)^2 s + a_t^2 c / B_t;

for heavy-ball momentum (m <- beta m + g, theta <- theta - a m, m(0) = 0) it is
(E theta^2, E m^2, E theta m), from m' = beta m + h theta + eps, theta' = (1 - a h) theta - a beta m - a eps:

    E m'^2          = beta^2 E m^2 + h^2 E theta^2 + 2 beta h E theta m + c/B
    E theta'^2      = (1 - a h)^2 E theta^2 + a^2 beta^2 E m^2 - 2 (1 - a h) a beta E theta m + a^2 c/B
    E theta' m'     = (1 - a h) h E theta^2 + beta (1 - 2 a h) E theta m - a beta^2 E m^2 - a c/B

(the state (theta, m) rather than the notebook's (theta, -a m), which assumes a constant a). The
risk is sum_i w_i h_i E theta_i^2 / 2 at every step.

Ours: ``nn.scheduled_risk(problem, optimizer, steps=..., schedule=...)``, for

  * ``curve``: every step 0..T (``steps=T``): the output alone is O(T);
  * ``final``: step T alone (``steps=[T]``), where piecewise-constant schedules cost O(pieces);

on
  * ``step``: a step decay of the learning rate (three pieces; the engine's O(pieces) path),
  * ``step+doubling``: the same with the batch size doubled at 0.5 T and 0.75 T (three pieces),
  * ``wsd``: WSD with a 10% linear cooldown (one stable piece, the cooldown per step),
  * ``cosine``: a cosine learning rate (per step: the engine's O(T) path).

Times are CPU time of this process (``time.process_time``), the median of ``--repeats`` runs
after one untimed run of each (``ratio`` = loop time / ours: above 1, ours is faster; the
untimed run keeps one-time costs out of the rows: the first use of a code path imports
``scipy.special``, about 0.13 s, which made the first row to reach it look slow),
BLAS pinned to one thread. The loop computes the whole curve either way (one Python iteration
per step is what it is); its time is measured once per row. Every answer is checked against the
loop's: the largest relative difference must be below 1e-10 (exit status 1 otherwise).

    python benchmarks/bench_scheduled_risk.py                      # T = 1e4 and 1e5 (about 1 CPU minute)
    python benchmarks/bench_scheduled_risk.py --steps 20000 --repeats 5
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402
from _timing import timed  # noqa: E402

import nqm.numerics as nn  # noqa: E402
from nqm.numerics import schedules as S  # noqa: E402

BATCH = 256.0
TOLERANCE = 1e-10
#: (label, optimizer): the optimizer's lr is the schedules' peak; momentum's effective rate lr/(1 - beta) = 1 as SGD's
OPTIMIZERS = [("sgd", nn.SGD(lr=1.0)), ("momentum", nn.Momentum(lr=0.1, beta=0.9))]
SCHEDULES = {
    "step": lambda lr: {"lr": S.step_decay(lr, 0.1)},
    "step+doubling": lambda lr: {"lr": S.step_decay(lr, 0.1), S.BATCH_SIZE: S.batch_doubling(BATCH)},
    "wsd": lambda lr: {"lr": S.wsd(lr, cooldown=0.1)},
    "cosine": lambda lr: {"lr": S.cosine(lr)},
}


def loop_sgd(prob: nn.Problem, lrs: np.ndarray, batch: np.ndarray) -> np.ndarray:
    """Exact risk at steps 0..T by the second-moment recursion of SGD, one iteration per step."""
    h, c, w = prob.h, prob.c, prob.weights
    s = prob.init_var.astype(float).copy()
    out = np.empty(lrs.size + 1)
    out[0] = 0.5 * np.sum(w * h * s)
    for t in range(lrs.size):
        a = lrs[t]
        s = (1 - a * h) ** 2 * s + a * a * c / batch[t]
        out[t + 1] = 0.5 * np.sum(w * h * s)
    return out


def loop_momentum(prob: nn.Problem, beta: float, lrs: np.ndarray, batch: np.ndarray) -> np.ndarray:
    """Exact risk at steps 0..T by the second moments of (theta, m) under heavy-ball momentum."""
    h, c, w = prob.h, prob.c, prob.weights
    tt, mm, tm = prob.init_var.astype(float).copy(), np.zeros_like(h), np.zeros_like(h)
    out = np.empty(lrs.size + 1)
    out[0] = 0.5 * np.sum(w * h * tt)
    for t in range(lrs.size):
        a, noise = lrs[t], c / batch[t]
        r = 1 - a * h
        tt, mm, tm = (
            r * r * tt + (a * beta) ** 2 * mm - 2 * r * a * beta * tm + a * a * noise,
            beta * beta * mm + h * h * tt + 2 * beta * h * tm + noise,
            r * h * tt + beta * (1 - 2 * a * h) * tm - a * beta * beta * mm - a * noise,
        )
        out[t + 1] = 0.5 * np.sum(w * h * tt)
    return out


def median_time(repeats: int, fn, *args, **kwargs):
    """Median CPU time of this process over ``repeats`` runs of ``fn(*args, **kwargs)`` after an untimed
    one (:func:`_timing.timed`), and its output."""
    timing = timed(lambda: fn(*args, **kwargs), repeats, warmup=True)
    return timing.median_cpu, timing.result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--schedules", nargs="+", default=list(SCHEDULES), choices=list(SCHEDULES))
    args = parser.parse_args()
    prob = nn.Problem.paper()
    print(f"Problem.paper() ({prob.size} bins), B = {BATCH:g}; CPU seconds, median of {args.repeats}")
    print(f"{'optimizer':>9} {'schedule':>14} {'T':>7} {'segments':>8} {'loop s':>8} {'curve s':>8} "
          f"{'ratio':>6} {'final s':>8} {'ratio':>6} {'max rel diff':>12}")
    worst = 0.0
    for T in args.steps:
        for label, opt in OPTIMIZERS:
            for name in args.schedules:
                schedule = SCHEDULES[name](float(opt.lr))
                seg = S.segments(schedule, T, bases={S.BATCH_SIZE: BATCH})
                lrs = seg.at_steps("lr")
                batch = seg.at_steps(S.BATCH_SIZE) if S.BATCH_SIZE in seg.values else np.full(T, BATCH)
                if label == "sgd":
                    loop_s, ref = median_time(args.repeats, loop_sgd, prob, lrs, batch)
                else:
                    loop_s, ref = median_time(args.repeats, loop_momentum, prob, float(opt.beta), lrs, batch)
                const = {} if S.BATCH_SIZE in schedule else {"batch_size": BATCH}
                run = dict(schedule=schedule, **const)
                curve_s, curve = median_time(args.repeats, nn.scheduled_risk, prob, opt, steps=T, **run)
                final_s, final = median_time(args.repeats, nn.scheduled_risk, prob, opt, steps=[T], **run)
                diff = max(float(np.max(np.abs(curve / ref - 1))), abs(float(final[0]) / ref[-1] - 1))
                worst = max(worst, diff)
                print(f"{label:>9} {name:>14} {T:>7} {seg.lengths.size:>8} {loop_s:>8.3f} {curve_s:>8.3f} "
                      f"{loop_s / curve_s:>6.2f} {final_s:>8.3f} {loop_s / final_s:>6.1f} {diff:>12.1e}")
    if not worst < TOLERANCE:
        sys.exit(f"the engine and the loop differ by {worst:.1e} relative, above {TOLERANCE:g}")


if __name__ == "__main__":
    main()
