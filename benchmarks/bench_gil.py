"""How much of the time the engine holds the GIL: what a thread pool can gain, independent of machine load.

For each workload of ``bench_executors.py`` (Fig. 3a's sweeps, the 8-direction Monte Carlo, a
schedule sweep), run serially in a child process, py-spy samples the main thread at ``--rate`` Hz
twice: every sample, then only samples holding the GIL (``py-spy record --gil``). Only samples
inside the timed loop count (after a warm-up run). With a GIL share g, two threads take at least
max(1/2, g) of the serial time (Amdahl), so the bound on their speed-up is min(2, 1/g) on two
free cores; load from other processes slows every kind alike. Needs py-spy (``pip install py-spy``),
which is not a dependency of the toolkit.

    python benchmarks/bench_gil.py [--rate 50] [--only fig3a,montecarlo,schedule]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def child(name: str, repeats: int) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_executors import workloads

    run = workloads()[name]
    run("serial")  # warm-up: imports and compiled forms, not counted
    timed(run, repeats)


def timed(run, repeats: int) -> None:  # noqa: ANN001 - its frame name marks the counted samples
    for _ in range(repeats):
        run("serial")


def samples(path: Path) -> int:
    """Samples (py-spy raw format: ``frames count`` per line) whose stack passes through :func:`timed`."""
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if "timed (bench_gil.py" in stack:
            total += int(count)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=int, default=50)
    parser.add_argument("--only", default="fig3a,montecarlo,schedule")
    parser.add_argument("--child", nargs=2, metavar=("NAME", "REPEATS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return
    spy = shutil.which("py-spy")
    if spy is None:
        raise SystemExit("needs py-spy: pip install py-spy")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only.split(","):
            counts = []
            for flags in ([], ["--gil"]):
                out = Path(tmp) / f"{name}{len(flags)}.txt"
                subprocess.run([spy, "record", "-r", str(args.rate), *flags, "-f", "raw", "-o", str(out), "--",
                                sys.executable, __file__, "--child", name, "2"], check=True, capture_output=True)
                counts.append(samples(out))
            share = counts[1] / counts[0]
            print(f"{name:10s} GIL held {share:5.1%} of the time ({counts[1]} of {counts[0]} samples): "
                  f"two threads at most x{min(2.0, 1.0 / share):.2f} faster than serial")


if __name__ == "__main__":
    main()
