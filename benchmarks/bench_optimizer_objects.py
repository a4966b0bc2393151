"""What passing an optimizer as an object costs: resolution at an entry point and the trip to a worker.

Every entry point resolves its optimizer argument once (``nn.as_optimizer``: a name through the
registry, a spec object through the per-spec cache of compiled forms, an instance as it is), and an
optimizer pickles as its spec (a built-in as its name) to reach a worker process. In one run, for
heavy-ball momentum as a built-in and as an equal user spec (compiled from the spec), this prints,
best of ``--repeats`` rounds of ``--calls`` calls:

* ``nn.as_optimizer(argument, values)`` for each accepted form of the argument;
* a pickle round trip of an instance (what a task carries to a worker), with its size;
* one ``expected_risk`` call at three steps on the paper's problem (the work that the above precedes);

each with its ratio to that expected-risk call (measured in the same run).

    python benchmarks/bench_optimizer_objects.py [--repeats 7] [--calls 2000]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import pickle
import timeit
from collections.abc import Callable

import numpy as np

import nqm.numerics as nn
from nqm.theory import momentum

USER = dataclasses.replace(momentum, name="bench_user_momentum", display_name="")
HYPER = {"lr": 0.1, "beta": 0.9}


def best(fn: Callable[[], object], calls: int, repeats: int) -> float:
    """Best seconds per call over ``repeats`` rounds of ``calls`` calls (after one warm-up call)."""
    fn()
    return min(timeit.repeat(fn, number=calls, repeat=repeats)) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    user_instance = nn.from_spec(USER)(**HYPER)
    forms: dict[str, tuple[object, dict[str, float] | None]] = {
        "built-in instance": (nn.Momentum(**HYPER), None),
        "built-in name": ("momentum", HYPER),
        "built-in spec object": (momentum, HYPER),
        "user spec object": (USER, HYPER),
        "user instance": (user_instance, None),
    }
    times = {label: best(lambda o=o, k=k: nn.as_optimizer(o, k), args.calls, args.repeats) for label, (o, k) in forms.items()}
    problem, steps = nn.Problem.paper(), np.array([10, 1000, 100000])
    risk = best(lambda: nn.expected_risk(problem, nn.Momentum(**HYPER), batch_size=64, steps=steps), 20, args.repeats)
    print(f"{'':<44} {'us':>10}  {'/ risk call':>11}")
    for label, seconds in times.items():
        print(f"{'as_optimizer, ' + label:<44} {seconds * 1e6:10.1f}  {seconds / risk:11.2e}")
    for label, opt in (("built-in", nn.Momentum(**HYPER)), ("user", user_instance)):
        blob = pickle.dumps(opt)
        seconds = best(lambda opt=opt: pickle.loads(pickle.dumps(opt)), args.calls // 10, args.repeats)
        print(f"{f'pickle round trip, {label} ({len(blob)} bytes)':<44} {seconds * 1e6:10.1f}  {seconds / risk:11.2e}")
    print(f"{'expected_risk, 3 steps, paper problem':<44} {risk * 1e6:10.1f}  {1.0:11.2e}")
    print(f"load average at end:   {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
