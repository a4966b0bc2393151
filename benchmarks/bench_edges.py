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

import numpy as np
from _timing import timed

import nqm.numerics as nn
import nqm.numerics._model as model
from nqm.numerics import _optimizers


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
        new = timed(lambda call=call: call(exact), args.repeats, warmup=True)
        saved = (model.CANCELLATION, model.NEAR_EDGE, _optimizers.Optimizer.forms)
        try:
            model.CANCELLATION, model.NEAR_EDGE = np.inf, -np.inf
            _optimizers.Optimizer.forms = property(lambda self: plain_forms)
            old = timed(lambda call=call: call(exact), args.repeats, warmup=True)
        finally:
            model.CANCELLATION, model.NEAR_EDGE, _optimizers.Optimizer.forms = saved
        print(f"{label:<28}{new.wall:>14.3f}{old.wall:>12.3f}{new.wall / old.wall:>8.2f}{new.cpu:>9.3f}{old.cpu:>12.3f}"
              f"{new.cpu / old.cpu:>11.2f}")


if __name__ == "__main__":
    main()
