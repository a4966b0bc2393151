"""Engine throughput and the memory of the unbinned d = 10^6 problem, measured in one run.

* ``expected_risk`` throughput in elements x steps per second (an element is one grid
  point in one non-empty bin): the paper's 2000-point momentum grid (84 non-empty of its 100
  bins; the engine drops the empty ones) at 200 steps, one
  optimizer on the unbinned d = 10^6 problem at 20 steps, and, side by side, the
  notebook's momentum evaluation (``simulate_momentum_dynamics``: one grid point, 100 bins,
  one step per call; benchmarks/baseline_notebook.py).
* Peak memory of the unbinned d = 10^6 problem (h_i = 1/i, C = H), each operation in a
  fresh subprocess: tracemalloc's peak of traced allocations (numpy's arrays included) and
  the process's peak resident set (``ru_maxrss``, which includes the interpreter and
  libraries). Goal: < 2 GB.

    python benchmarks/bench_engine.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import numpy as np
from rich.console import Console
from rich.table import Table

import nqm.numerics as nn

import baseline_notebook as bl
from _timing import timed

console = Console()

MEMORY_CASES = {
    "expected_risk, momentum, 4 steps up to 1e6": "nn.expected_risk(prob, nn.Momentum(lr=0.5, beta=0.9), batch_size=4096, steps=[0, 10, 1000, 10**6])",
    "risk_variance, momentum, 4 steps": "nn.risk_variance(prob, nn.Momentum(lr=0.5, beta=0.9), batch_size=4096, steps=[0, 10, 1000, 10**6])",
    "steps_to_target, momentum": "nn.steps_to_target(prob, nn.Momentum(lr=0.5, beta=0.9), batch_size=4096, target=0.01)",
    "tune, SGD, 8 learning rates": "nn.tune(prob, nn.SGD, batch_size=4096, target=0.01, grid={'lr': np.geomspace(0.1, 1.9, 8)}).steps",
}

CHILD = """
import json, resource, sys, time, tracemalloc
import numpy as np
import nqm.numerics as nn
prob = nn.Problem.paper(binned=False, d=1_000_000)
tracemalloc.start()
start = time.perf_counter()
value = {expr}
seconds = time.perf_counter() - start
print(json.dumps(dict(seconds=seconds, traced=tracemalloc.get_traced_memory()[1], rss=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)))
"""


def throughput(repeats: int) -> Table:
    table = Table(title="expected_risk throughput (elements x steps per second)")
    for col in ("case", "elements", "steps", "seconds", "rate"):
        table.add_column(col, justify="right")
    paper = nn.Problem.paper()
    grid = nn.Momentum(lr=np.logspace(-8, 1, 100)[:, None], beta=(1 - np.logspace(-5, 0, 20))[None, :])
    cases = [
        ("paper, momentum grid 100x20", paper, grid, np.arange(200)),
        ("paper, one momentum optimizer", paper, nn.Momentum(lr=0.5, beta=0.9), np.arange(200_000)),
        ("unbinned d=1e6, one momentum optimizer", nn.Problem.paper(binned=False, d=1_000_000), nn.Momentum(lr=0.5, beta=0.9), np.arange(20)),
    ]
    for label, prob, opt, steps in cases:
        elements = int(np.prod(opt.shape)) * int(np.count_nonzero(prob.weights))
        sec = timed(lambda: nn.expected_risk(prob, opt, batch_size=4096, steps=steps), repeats).wall
        table.add_row(label, f"{elements:,}", f"{steps.size:,}", f"{sec:.3f}", f"{elements * steps.size / sec:.3e}")
    # the notebook: one grid point (100 bins) at one step per call
    h, counts = bl.toy_problem()
    calls = 200
    sec = timed(lambda: [bl.simulate_momentum_dynamics(h, h / 4096, np.ones_like(h), 0.5, k, 0.9, np.ones_like(h))
                         for k in range(calls)], repeats).wall
    table.add_row("notebook simulate_momentum_dynamics (baseline)", f"{h.size}", f"{calls}", f"{sec:.3f}", f"{h.size * calls / sec:.3e}")
    return table


def memory() -> Table:
    table = Table(title="unbinned d = 10^6 problem: time and peak memory (each in a fresh process)")
    for col in ("operation", "seconds", "traced peak", "peak RSS", "< 2 GB"):
        table.add_column(col, justify="right")
    for label, expr in MEMORY_CASES.items():
        out = subprocess.run([sys.executable, "-c", CHILD.format(expr=expr)], capture_output=True, text=True, check=True)
        res = json.loads(out.stdout.strip().splitlines()[-1])
        peak = max(res["traced"], res["rss"])
        table.add_row(label, f"{res['seconds']:.2f}", f"{res['traced'] / 2**20:.0f} MiB", f"{res['rss'] / 2**20:.0f} MiB", "yes" if peak < 2 * 2**30 else "NO")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    console.print(throughput(args.repeats))
    console.print(memory())


if __name__ == "__main__":
    main()
