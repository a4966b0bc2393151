"""Optimal piecewise-constant schedules against the authors' protocol, measured in the same run.

Problem: the authors' (``Problem.paper()``: binned, C = H on the bins), SGD with P = H^p,
target 0.01, K equal pieces (K = 50; one of the paper's figures uses 10).

Ours: ``nn.optimal_schedule`` (certified multi-start optimisation per total, exact gradients,
a bracketing search over the totals: secant estimates, safeguarded by bisection), in two configurations:
  * ``default``: every total, pieces as equal as integers allow, cap 2/(h_max + h_min) - 1e-4;
  * ``authors``: ``equal_pieces=True, max_lr="authors"`` (totals multiples of K, cap
    2/(h_max + h_min + 1e-4)), the authors' search space exactly.
The authors' protocol: ``baseline_notebook.ttl_sched`` (their notebook's ``ttl_sched`` and
``optimize_lrates``: L-BFGS-B from log lr -5 with scipy's defaults on their loss, exact
gradients, bisection over the piece length from 1e8). Its answer is the first feasible total
of its search (K * high). ``--gradient autograd`` (the default when the ``autograd`` package
is installed) takes the gradients as the notebook does; ``--gradient hand`` uses the same
derivative written out in numpy, same answers, about 8-14x faster than autograd here.

"reached" is the *exact* risk (``nn.piecewise_risk``) of the returned schedule at the returned
total against the target: the notebook's loss has a ``1e-8`` in a denominator, so its own test
can differ from the exact one. Times are CPU time of this process (``time.process_time``: both
sides run single-threaded, so it is the work done, not how busy a shared machine is), one run
each (``--repeats`` for more, least kept). BLAS threads are pinned to one
(``OPENBLAS_NUM_THREADS=1`` unless set): scipy's L-BFGS-B calls BLAS on tiny vectors, and on a
loaded 2-core machine threads made each iteration slower; ``optimal_schedule`` limits them
itself, the protocol needs the variable.

    python benchmarks/bench_schedule.py                  # K = 10, 50 at B = 4, 64, 1024 (p = 0)
    python benchmarks/bench_schedule.py --compare-all    # B = 2^0..2^16, p in {0, 0.5}, K in {10, 50}
    python benchmarks/bench_schedule.py --scan 200 --batch-sizes 64 --pieces 10
        # tests every total in the 200 below each answer: none may reach the target
    python benchmarks/bench_schedule.py --at-protocol --batch-sizes 1 2 4 8 --powers 0 0.5
        # where the protocol's answer misses the target: the certified optimum at its total
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from _timing import timed  # noqa: E402

import baseline_notebook as nb  # noqa: E402
import nqm.numerics as nn  # noqa: E402

TARGET = 0.01
MODES = {"default": {}, "authors": {"equal_pieces": True, "max_lr": "authors"}}


def exact_final_risk(prob, opt, B: float, lrs: np.ndarray, total: float) -> float:
    """Exact risk of ``lrs`` on ``len(lrs)`` pieces splitting ``total`` (rates below 1e-300 clipped)."""
    if not math.isfinite(total):
        return math.inf
    lengths = nn.split_steps(int(total), lrs.size)
    return float(nn.piecewise_risk(prob, opt, batch_size=B, lrs=np.maximum(lrs, 1e-300), lengths=lengths)[-1])


def autograd_installed() -> bool:
    try:
        import autograd  # noqa: F401
    except ImportError:
        return False
    return True


def authors_protocol(prob, p: float, B: float, pieces: int, gradient: str):
    """``ttl_sched`` on the problem's arrays (the notebook's toy_problem for Problem.paper())."""
    h, counts = prob.h, prob.weights
    prec = h**-p
    used = counts > 0
    s_init = np.broadcast_to(prob.init_var, h.shape).astype(float)
    return nb.ttl_sched(h, prob.c / B, s_init, TARGET, counts, prec, pieces, nb.authors_max_llr(h[used], prec[used]),
                        gradient)


def compare(prob, p: float, B: float, pieces: int, modes: list[str], repeats: int, gradient: str) -> dict:
    opt = nn.SGD(lr=1.0, precond_power=p)
    row = {"K": pieces, "p": p, "B": B}
    protocol = timed(lambda: authors_protocol(prob, p, B, pieces, gradient), repeats)
    t_a, (T_a, lrs_a, _) = protocol.cpu, protocol.result
    risk_a = exact_final_risk(prob, opt, B, lrs_a, T_a)
    row["protocol"] = (T_a, t_a, risk_a <= TARGET)
    row["protocol_risk"] = risk_a
    for mode in modes:
        options = MODES[mode]
        run = timed(lambda: nn.optimal_schedule(prob, opt, batch_size=B, target=TARGET, pieces=pieces, **options),
                    repeats)
        row[mode] = (run.result.steps, run.cpu, run.result.final_risk <= TARGET)
    return row


def print_row(row: dict, modes: list[str]) -> None:
    T_a, t_a, ok_a = row["protocol"]
    parts = [f"K={row['K']:<3d} p={row['p']:<4g} B={row['B']:<8g} protocol T={T_a:>10,.0f} {t_a:7.2f}s "
             f"reached={ok_a!s:5} (exact risk {row['protocol_risk']:.7f})"]
    for mode in modes:
        T, t, ok = row[mode]
        verdict = "ok" if T <= T_a else ("WORSE" if ok_a else "more steps; the protocol's schedule misses the target")
        parts.append(f"{mode}: T={T:>10,.0f} {t:7.2f}s reached={ok!s:5} authors/ours CPU {t_a / t:6.2f}x "
                     f"steps ratio {T / T_a:.4f} {verdict}")
    print(" | ".join(parts), flush=True)


def scan(prob, p: float, B: float, pieces: int, width: int, mode: str) -> None:
    """Every total in [T - width, T - 1] optimised (certified, from the answer's schedule too)."""
    opt = nn.SGD(lr=1.0, precond_power=p)
    options = MODES[mode]
    res = nn.optimal_schedule(prob, opt, batch_size=B, target=TARGET, pieces=pieces, **options)
    T = int(res.steps)
    unit = pieces if options.get("equal_pieces") else 1
    cap = options.get("max_lr")
    below = range(T - unit, max(T - width - 1, 0), -unit)
    bad = []
    for total in below:
        r = nn.optimize_schedule(prob, opt, batch_size=B, steps=total, pieces=pieces, max_lr=cap,
                                 schedules=[res.lrs]).final_risk
        if r <= TARGET:
            bad.append((total, r))
    print(f"scan K={pieces} p={p:g} B={B:g} {mode}: answer {T}; {len(below)} totals below tested "
          f"(down to {below[-1] if len(below) else T}); reaching the target: {bad or 'none'}", flush=True)


def at_protocol(prob, p: float, B: float, pieces: int, gradient: str) -> None:
    """The protocol's answer, its schedule's exact risk there, and the certified optimum at that
    total (max_lr='authors', the protocol's schedule among the starts)."""
    opt = nn.SGD(lr=1.0, precond_power=p)
    T_a, lrs_a, _ = authors_protocol(prob, p, B, pieces, gradient)
    if not math.isfinite(T_a):
        print(f"at-protocol K={pieces} p={p:g} B={B:g}: the protocol found no total", flush=True)
        return
    best = nn.optimize_schedule(prob, opt, batch_size=B, steps=int(T_a), pieces=pieces, max_lr="authors",
                                schedules=[np.maximum(lrs_a, 1e-30)]).final_risk
    print(f"at-protocol K={pieces} p={p:g} B={B:g}: protocol total {T_a:,.0f}; its schedule's exact risk "
          f"{exact_final_risk(prob, opt, B, lrs_a, T_a):.7f}; certified optimum there {best:.7f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", type=float, nargs="+", default=None)
    parser.add_argument("--pieces", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--powers", type=float, nargs="+", default=None)
    parser.add_argument("--modes", nargs="+", default=["default", "authors"], choices=list(MODES))
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--gradient", choices=["autograd", "hand"], default="autograd" if autograd_installed() else "hand",
                        help="how the authors' protocol takes gradients (default: autograd when installed)")
    parser.add_argument("--compare-all", action="store_true", help="B = 2^0..2^16, p in {0, 0.5}")
    parser.add_argument("--scan", type=int, default=0, help="test every total this far below each answer")
    parser.add_argument("--at-protocol", action="store_true",
                        help="the certified optimum at the protocol's answer (is the target reachable there?)")
    args = parser.parse_args()
    prob = nn.Problem.paper()
    if args.compare_all:
        Bs, powers = args.batch_sizes or list(2.0 ** np.arange(17)), args.powers or [0.0, 0.5]
    else:
        Bs, powers = args.batch_sizes or [4.0, 64.0, 1024.0], args.powers or [0.0]
    print(f"problem: {prob.name}; target {TARGET}; protocol gradients: {args.gradient}; "
          f"OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}", flush=True)
    if args.at_protocol:
        for K in args.pieces:
            for p in powers:
                for B in Bs:
                    at_protocol(prob, p, B, K, args.gradient)
        return
    if args.scan:
        for K in args.pieces:
            for p in powers:
                for B in Bs:
                    for mode in args.modes:
                        scan(prob, p, B, K, args.scan, mode)
        return
    rows = []
    start = time.perf_counter()
    for K in args.pieces:
        for p in powers:
            for B in Bs:
                rows.append(compare(prob, p, B, K, args.modes, args.repeats, args.gradient))
                print_row(rows[-1], args.modes)
    print(f"\n{len(rows)} cases in {time.perf_counter() - start:.0f} s")
    for mode in args.modes:
        worse = [r for r in rows if r[mode][0] > r["protocol"][0] and r["protocol"][2]]
        unreached = [r for r in rows if not r[mode][2]]
        total_ours = sum(r[mode][1] for r in rows)
        total_auth = sum(r["protocol"][1] for r in rows)
        print(f"{mode}: more steps than a protocol schedule that reaches the target in {len(worse)} of {len(rows)} "
              f"cases; more steps than the protocol's (missing) answer in "
              f"{sum(r[mode][0] > r['protocol'][0] for r in rows)}; target not reached "
              f"in {len(unreached)}; total CPU ours {total_ours:.1f} s, authors' {total_auth:.1f} s "
              f"(authors/ours {total_auth / total_ours:.2f}x)")
    print(f"authors' answers whose exact risk misses the target: {sum(not r['protocol'][2] for r in rows)} of {len(rows)}")


if __name__ == "__main__":
    main()
