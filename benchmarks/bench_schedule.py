"""Speed of optimal piecewise-constant schedules against the authors' protocol, same run.

Paper problem (binned, SGD, C = H, target 0.01), K = 50 equal pieces, log(lr) from -5,
learning rates capped at 2/(h_max + h_min) - 1e-4 (Section 3.7.2, Figs. 3b/3c).

Engine (nqm.numerics): exact piecewise risk in O(K) closed-form pieces, exact gradient by
reverse accumulation, L-BFGS-B on log(risk); step search between certified ends.

Baselines, plain implementations written here (loops as the authors wrote them):

A. the protocol as the paper states it (footnote 2, and the brief of this benchmark):
   the risk of a schedule by per-step dynamic programming with eq. 3,
   s <- (1 - lr h)^2 s + lr^2 c / B over every step (vectorised over bins), and scipy's
   L-BFGS-B with numerical (2-point) gradients, K + 1 risk evaluations per gradient.
B. the authors' notebook (gd-zhang/noisy-quadratic-model, ``optimize_lrates`` and
   ``ttl_sched``): the same optimiser on the per-piece closed form
   ``s* + beta^k (s - s*)`` with its ``1 - beta + 1e-8`` denominator, and the step search
   as a bisection over the per-piece length from ``high = 1e8``. The notebook takes exact
   gradients with ``autograd``, which is not installed here; this baseline uses 2-point
   numerical gradients instead (so it is slower than the notebook by about the cost ratio
   of K + 1 evaluations to one reverse pass).

Timings are wall-clock, best of ``--repeats`` for the engine and baseline B. Baseline A is
measured in full at the cheapest case only (``--full`` measures every case); elsewhere it is
extrapolated as (time of one A risk evaluation, best of 3) x (the number of risk evaluations
baseline B's L-BFGS-B needed at the same T): the same optimiser on the same objective up
to the notebook's ``1e-8``. The cheapest case prints the measured time next to the rule's
value, and the table says which numbers are extrapolated.

BLAS threads are pinned to one (``OPENBLAS_NUM_THREADS=1`` unless set): scipy's L-BFGS-B
calls BLAS on tiny matrices, and on a loaded 2-core machine threaded BLAS made each
L-BFGS-B iteration ~1 ms slower; this helps the baselines as much as the engine.

    python benchmarks/bench_schedule.py [--batch-sizes 4 256 16384] [--repeats 3] [--full]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import scipy.optimize  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

import nqm.numerics as nn  # noqa: E402

PIECES = 50
TARGET = 0.01


# ---------------------------------------------------------------- baselines (authors' protocol)
def dp_risk(h, c, counts, B, log_lrs, lengths) -> float:
    """Eq. 3 step by step: s <- (1 - lr h)^2 s + lr^2 c / B; loss 1/2 sum h s counts."""
    s = np.ones_like(h)
    noise = c / B
    for lr, k in zip(np.exp(log_lrs), lengths):
        a2 = (1.0 - lr * h) ** 2
        q = lr * lr * noise
        for _ in range(int(k)):
            s = a2 * s + q
    return float(0.5 * np.sum(h * s * counts))


def notebook_risk(h, c, counts, B, log_lrs, lengths) -> float:
    """The notebook's per-piece closed form, including its ``+ 1e-8``."""
    s = np.ones_like(h)
    sigma_sq = c / B
    for lr, k in zip(np.exp(log_lrs), lengths):
        beta = (1.0 - lr * h) ** 2
        s_star = lr**2 * sigma_sq / (1.0 - beta + 1e-8)
        s = s_star + beta**k * (s - s_star)
    return float(0.5 * np.sum(h * s * counts))


def baseline_optimise(risk_fn, prob, B, lengths, max_lr) -> tuple[np.ndarray, float, int]:
    """scipy.optimize.minimize(risk, -5, bounds=(-inf, log max_lr)): L-BFGS-B, 2-point gradients."""
    fn = lambda y: risk_fn(prob.h, prob.c, prob.weights, B, y, lengths)  # noqa: E731
    bounds = scipy.optimize.Bounds(-np.inf, math.log(max_lr))
    res = scipy.optimize.minimize(fn, -5.0 * np.ones(len(lengths)), bounds=bounds, method="L-BFGS-B")
    return res.x, float(res.fun), int(res.nfev)


def notebook_search(prob, B, max_lr) -> tuple[int, int]:
    """``ttl_sched``: bisection over the per-piece length (total = K * mid), high = 1e8.

    Returns (first feasible per-piece length, optimisations run); the notebook itself returns
    ``low``, one per-piece length (K steps) less than the first feasible one.
    """
    low, high, runs = 0, 100_000_000, 0
    while low < high - 1:
        mid = (low + high) // 2
        ks = np.full(PIECES, mid)
        y, _, _ = baseline_optimise(notebook_risk, prob, B, ks, max_lr)
        runs += 1
        if notebook_risk(prob.h, prob.c, prob.weights, B, y, ks) < TARGET:
            high = mid
        else:
            low = mid
    return high, runs


def best_of(fn, repeats: int) -> tuple[float, object]:
    best, out = math.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", type=float, nargs="+", default=[4.0, 256.0, 16384.0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--full", action="store_true", help="run baseline A in full at every batch size")
    args = parser.parse_args()
    console = Console(width=200)
    prob = nn.Problem.paper()
    cap = nn.default_max_lr(prob, "sgd")
    console.print(f"paper problem: {prob}; cap {cap:.6f}; K = {PIECES}; target {TARGET}; "
                  f"OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}")

    opt_table = Table(title="one 50-piece schedule optimisation at the optimal T")
    for col in ("B", "T", "engine s", "evals", "B: notebook+FD s", "evals", "A: DP+FD s", "A/engine", "B/engine", "risk engine", "risk B"):
        opt_table.add_column(col, justify="right")
    search_table = Table(title="steps search (smallest T reaching the target)")
    for col in ("B", "engine T", "engine s", "notebook T (first feasible)", "notebook s", "notebook/engine", "A: DP search"):
        search_table.add_column(col, justify="right")

    cheapest = max(args.batch_sizes)
    for B in args.batch_sizes:
        t_search, res = best_of(lambda: nn.optimal_schedule(prob, "sgd", batch_size=B, target=TARGET), args.repeats)
        T = int(res.steps)
        lengths = res.lengths
        t_opt, one = best_of(lambda: nn.optimize_schedule(prob, "sgd", batch_size=B, steps=T), args.repeats)
        # baseline B at the same T (the notebook's pieces are equal; ours differ by at most one step)
        t_B, (yB, fB, nB) = best_of(lambda: baseline_optimise(notebook_risk, prob, B, lengths, cap), args.repeats)
        # baseline A: one risk evaluation measured; the optimisation in full at the cheapest case
        t_evalA, _ = best_of(lambda: dp_risk(prob.h, prob.c, prob.weights, B, -5.0 * np.ones(PIECES), lengths), 3)
        extrapolated = t_evalA * nB  # as many evaluations as baseline B needed
        if args.full or B == cheapest:
            t0 = time.perf_counter()
            _, _, nA = baseline_optimise(dp_risk, prob, B, lengths, cap)
            t_A, note = time.perf_counter() - t0, ""
            console.print(
                f"B={B:g}: baseline A measured {t_A:.1f} s with {nA} evaluations; the extrapolation rule "
                f"(one evaluation x baseline B's {nB} evaluations) would give {extrapolated:.1f} s"
            )
        else:
            t_A, note = extrapolated, " (extrap.)"
        opt_table.add_row(
            f"{B:g}", f"{T}", f"{t_opt:.3f}", f"{one.evaluations}", f"{t_B:.2f}", f"{nB}", f"{t_A:.1f}{note}",
            f"{t_A / t_opt:,.0f}x", f"{t_B / t_opt:,.0f}x", f"{one.final_risk:.6g}", f"{fB:.6g}",
        )
        # steps search: the notebook's bisection in full; baseline A's first level extrapolated
        t0 = time.perf_counter()
        mid, runs = notebook_search(prob, B, cap)
        t_nb = time.perf_counter() - t0
        first_level = t_evalA / lengths.sum() * (PIECES * 50_000_000)  # one DP evaluation at T = 50 * 5e7
        search_table.add_row(
            f"{B:g}", f"{T}", f"{t_search:.2f}", f"{PIECES * mid} ({runs} optimisations)", f"{t_nb:.1f}",
            f"{t_nb / t_search:,.0f}x", f">= {first_level:,.0f} s for one risk evaluation at the first level",
        )
    console.print(opt_table)
    console.print(search_table)
    console.print(
        "engine T is exact to one step with pieces split as evenly as integers allow; the notebook's T is a "
        "multiple of 50 and its returned value is one piece length below the first feasible one."
    )


if __name__ == "__main__":
    main()
