"""Start-up time of the ``nqm`` command line and of the packages, against the interpreter's own.

Each case runs in a fresh process (``subprocess.run``, output discarded), all cases interleaved
``--repeats`` times so that background load affects all alike; the script prints each case's
median wall time, its minimum (the run least disturbed by other processes) and the median CPU
time (user + system of the child: on a loaded machine the wall time is mostly waiting for a
core), their ratios to the baseline ``python -c pass`` measured in
the same run, and the goal (``nqm --help`` and every ``nqm COMMAND --help`` within 0.3 s, ``import nqm.numerics``
within 0.5 s). The CLI cases run the installed ``nqm`` console script next to this interpreter
(or, without one, the same entry point through ``python -c``).

    python benchmarks/bench_startup.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import click

from nqm.proofs.cli._main import main as nqm_main

#: goals of the issue (seconds): the command line's help, and ``import nqm.numerics``
HELP_GOAL = 0.3
NUMERICS_GOAL = 0.5


def _nqm_command() -> list[str]:
    script = Path(sys.executable).with_name("nqm")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from nqm.proofs.cli._main import main; sys.exit(main(prog_name='nqm'))"]


def cases() -> dict[str, tuple[list[str], float | None]]:
    """name -> (command, goal in seconds or None); the first is the baseline."""
    py = sys.executable
    nqm = _nqm_command()
    out: dict[str, tuple[list[str], float | None]] = {"python -c pass (baseline)": ([py, "-c", "pass"], None)}
    for module, goal in (("nqm.numerics", NUMERICS_GOAL), ("nqm.theory", None), ("nqm.proofs", None)):
        out[f"import {module}"] = ([py, "-c", f"import {module}"], goal)
    out["nqm --help"] = (nqm + ["--help"], HELP_GOAL)
    for name in nqm_main.list_commands(click.Context(nqm_main)):  # the lazy subcommands too
        out[f"nqm {name} --help"] = (nqm + [name, "--help"], HELP_GOAL)
    return out


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _seconds(command: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one fresh process running ``command``."""
    cpu, start = _child_cpu(), time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start, _child_cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    todo = cases()
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in todo}
    for _ in range(args.repeats):
        for name, (command, _goal) in todo.items():
            times[name].append(_seconds(command))
    wall = {name: statistics.median(w for w, _ in values) for name, values in times.items()}
    fastest = {name: min(w for w, _ in values) for name, values in times.items()}
    cpu = {name: statistics.median(c for _, c in values) for name, values in times.items()}
    base = "python -c pass (baseline)"

    print(f"start-up, median of {args.repeats} fresh processes each ({_nqm_command()[0]})")
    print(f"{'case':<30} {'wall s':>7} {'x base':>7} {'min s':>7} {'CPU s':>7} {'x base':>7}  goal (median wall)")
    for name, (_command, goal) in todo.items():
        verdict = "" if goal is None else f"<= {goal:.1f} s: {'met' if wall[name] <= goal else 'NOT met'}"
        print(f"{name:<30} {wall[name]:>7.3f} {wall[name] / wall[base]:>7.2f} {fastest[name]:>7.3f} {cpu[name]:>7.3f} "
              f"{cpu[name] / cpu[base]:>7.2f}  {verdict}")
    slowest = max((name for name in todo if name.startswith("nqm ")), key=wall.__getitem__)
    print(f"slowest help: {slowest}, {wall[slowest]:.3f} s wall ({wall[slowest] / wall[base]:.2f}x the baseline), "
          f"{cpu[slowest]:.3f} s CPU")


if __name__ == "__main__":
    main()
