"""Cost of the double-double elements of the doubling engine (eigenvalue near -1), measured in one run.

``expected_risk(method="doubling")`` of the paper problem on bench_engine's 100 x 20 momentum
grid (lr = 1e-8 ... 10, beta = 1 - 1e-5 ... 0), best of ``--repeats``, with the engine as is
and with the double-double elements switched off (``NEAR_EDGE = 0``: every element in float,
the engine before the near -1 fix) alternately in the same process; also the count of
double-double elements and their largest change of the risk. Then a grid where every element
is near the edge (lr h = 2 (1 + beta)(1 - 1e-9)), to show the per-element cost of double-double.

    python benchmarks/bench_doubling_edge.py [--repeats 5]
"""

from __future__ import annotations

import argparse

import numpy as np
from _timing import interleaved

import nqm.numerics as nn
import nqm.numerics._doubling as doubling


def _risk(prob: nn.Problem, opt, steps: list[int], near_edge: float) -> np.ndarray:
    """The doubling engine's risk with ``doubling.NEAR_EDGE`` set to ``near_edge`` (restored after)."""
    saved, doubling.NEAR_EDGE = doubling.NEAR_EDGE, near_edge
    try:
        return np.asarray(nn.expected_risk(prob, opt, batch_size=4096, steps=steps, method="doubling"))
    finally:
        doubling.NEAR_EDGE = saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    paper = nn.Problem.paper()
    beta = (1 - np.logspace(-5, 0, 20))[None, :]
    cases = [
        ("paper, momentum grid 100x20", paper, nn.Momentum(lr=np.logspace(-8, 1, 100)[:, None], beta=beta)),
        ("h = 1, all 2000 points near the edge", nn.Problem([1.0], c=[1.0], init_var=[1.0]),
         nn.Momentum(lr=2.0 * (1.0 + beta) * (1.0 - 1e-9) * np.ones((100, 1)), beta=beta)),
    ]
    flagged = []
    original = doubling._near_minus_one

    def counting(D: np.ndarray) -> np.ndarray:
        near = original(D)
        flagged.append(int(near.sum()))
        return near

    doubling._near_minus_one = counting
    print(f"{'case':<38} {'steps':>8} {'float s':>8} {'as is s':>8} {'ratio':>6} {'dd elements':>12} {'max rel change':>15}")
    for label, prob, opt in cases:
        for steps in ([200], [10**6]):
            timings = interleaved({"float": lambda p=prob, o=opt, s=steps: _risk(p, o, s, 0.0),
                                   "as is": lambda p=prob, o=opt, s=steps: _risk(p, o, s, doubling.NEAR_EDGE)},
                                  args.repeats)
            (base, old), (now, new) = ((t.wall, t.result) for t in timings.values())
            finite = np.isfinite(old) & np.isfinite(new) & (old > 0)
            change = float(np.max(np.abs(new[finite] - old[finite]) / old[finite], initial=0.0))
            print(f"{label:<38} {steps[0]:>8} {base:>8.3f} {now:>8.3f} {now / base:>6.2f} "
                  f"{flagged[-1]:>12} {change:>15.2e}")


if __name__ == "__main__":
    main()
