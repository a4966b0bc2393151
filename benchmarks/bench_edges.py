"""Cost of the edge-exact numerics on the paper's momentum grid, against the same engine without them.

The grid: 100 learning rates logspace(-8, 1) x 20 betas 1 - logspace(-5, 0) on Problem.paper()
(2000 points x bins), B = 64. Measured in one run, best of ``--repeats`` (wall clock and CPU time):

* ``expected_risk`` at 200 log-spaced steps in [1, 1e6], ``stationary_risk``, ``steps_to_target(0.01)``,
  and ``build_model`` as a tuning grid builds it (merged bins, batch size 1; the model tuning reuses at
  every batch size);
* the baseline switches off, in the same process, what the edge fixes added: the double-double
  invariants (``Forms.exact_terms = None``: the generated double values) and the Gram sums of the
  noise part (``CANCELLATION = inf``, ``NEAR_EDGE = -inf``: the closed form everywhere).

    python benchmarks/bench_edges.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Callable

import numpy as np

import nqm.numerics as nn
import nqm.numerics._model as model
from nqm.numerics import _optimizers


def best_of(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Best wall-clock and best CPU (process) time of ``repeats`` calls after a warm-up call."""
    fn()
    walls, cpus = [], []
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    prob = nn.Problem.paper()
    lr = np.logspace(-8, 1, 100)[:, None]
    beta = (1 - np.logspace(-5, 0, 20))[None, :]
    steps = np.unique(np.round(np.logspace(0, 6, 200)))
    exact = nn.Momentum(lr=lr, beta=beta)
    plain_forms = dataclasses.replace(exact.forms, exact_terms=None)
    calls = {
        "expected_risk (200 steps)": lambda opt: nn.expected_risk(prob, opt, batch_size=64, steps=steps),
        "stationary_risk": lambda opt: nn.stationary_risk(prob, opt, batch_size=64),
        "steps_to_target(0.01)": lambda opt: nn.steps_to_target(prob, opt, batch_size=64, target=0.01),
        "build_model (merged bins)": lambda opt: nn.build_model(prob, opt, 1.0, merge_bins=True),
    }
    print(f"{'operation':<28}{'edge-exact s':>14}{'baseline s':>12}{'ratio':>8}{'CPU s':>9}{'base CPU s':>12}{'CPU ratio':>11}")
    for label, call in calls.items():
        new = best_of(lambda call=call: call(exact), args.repeats)
        saved = (model.CANCELLATION, model.NEAR_EDGE, _optimizers.Optimizer.forms)
        try:
            model.CANCELLATION, model.NEAR_EDGE = np.inf, -np.inf
            _optimizers.Optimizer.forms = property(lambda self: plain_forms)
            old = best_of(lambda call=call: call(exact), args.repeats)
        finally:
            model.CANCELLATION, model.NEAR_EDGE, _optimizers.Optimizer.forms = saved
        print(f"{label:<28}{new[0]:>14.3f}{old[0]:>12.3f}{new[0] / old[0]:>8.2f}{new[1]:>9.3f}{old[1]:>12.3f}{new[1] / old[1]:>11.2f}")


if __name__ == "__main__":
    main()
