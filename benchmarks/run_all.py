"""Run every speed benchmark of this folder in one go, one after the other.

Each ``bench_*.py`` here (Fig. 3a against the notebook's protocol, engine throughput and
memory, schedules, Monte-Carlo, theory, ... whichever exist) runs as its own process with
default arguments, so its timings are not disturbed by the others' memory; its output is
printed under a header, followed by its wall time.

    python benchmarks/run_all.py [--only fig3a engine schedule]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", default=None, help="names after bench_, e.g. fig3a schedule")
    args = parser.parse_args()
    scripts = sorted(HERE.glob("bench_*.py"))
    if args.only:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in args.only]
    failed = []
    for script in scripts:
        print(f"\n===== {script.name} =====", flush=True)
        start = time.perf_counter()
        code = subprocess.call([sys.executable, str(script)], cwd=HERE)
        print(f"===== {script.name}: exit {code}, {time.perf_counter() - start:.1f} s =====", flush=True)
        if code:
            failed.append(script.name)
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
