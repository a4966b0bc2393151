"""Speed of the symbolic core: cold derivation of every built-in, and a warm import of the numeric forms.

(a) Cold derivation (goal <= 20 s in total): a fresh Python process imports nqm.theory and
    derives everything the numeric engine and the LaTeX export need for every built-in spec:
    the generated numeric forms (``generated_module_source(BUILTINS)``, the text of
    numerics/_generated.py) and the complete LaTeX document (``latex_document(BUILTINS)``:
    every derivation, the Z-transform closed forms and the paper's statements re-derived and
    checked). Nothing is cached across processes (sympy caches in memory only); the forms'
    disk cache is pointed at an empty temporary directory.
(b) Warm import (goal <= 1 s): a fresh process runs ``import nqm.numerics`` and one exact
    evaluation (``expected_risk`` of SGD on the paper's binned problem), with the bytecode
    already compiled by a warm-up run; it must not import sympy.

Both are wall-clock times measured inside the child process, best of ``--repeats``
(interpreter start-up excluded; it is printed as the baseline of the same run, together
with ``import numpy`` alone, which any numeric import pays).

    python benchmarks/bench_theory.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

COLD = """
import time
start = time.perf_counter()
from nqm.theory import BUILTINS, latex_document
from nqm.theory.codegen import generated_module_source
forms = generated_module_source(BUILTINS)
document = latex_document(BUILTINS)
print(time.perf_counter() - start, len(forms), len(document))
"""

WARM = """
import time
start = time.perf_counter()
import nqm.numerics as nn
risk = nn.expected_risk(nn.Problem.paper(), nn.SGD(lr=0.5), batch_size=16, steps=[100])[0]
elapsed = time.perf_counter() - start
import sys
print(elapsed, float(risk), "sympy" in sys.modules)
"""

NUMPY = """
import time
start = time.perf_counter()
import numpy
print(time.perf_counter() - start)
"""

GOAL_COLD = 20.0
GOAL_WARM = 1.0


def run(code: str, env: dict[str, str]) -> list[str]:
    """Run ``code`` in a fresh interpreter and return the fields it prints."""
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True)
    return out.stdout.split()


def startup(env: dict[str, str]) -> float:
    """Wall-clock time of ``python -c pass`` (the interpreter's own start-up)."""
    import time

    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], env=env, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NQM_CACHE_DIR": cache}
        run(WARM, env)  # compiles bytecode: the warm import measures a warm installation
        cold = [run(COLD, env) for _ in range(args.repeats)]
        warm = [run(WARM, env) for _ in range(args.repeats)]
        numpy_import = min(float(run(NUMPY, env)[0]) for _ in range(args.repeats))
        python_start = min(startup(env) for _ in range(args.repeats))

    cold_best = min(float(r[0]) for r in cold)
    warm_best = min(float(r[0]) for r in warm)
    if any(r[2] == "True" for r in warm):
        raise SystemExit("import nqm.numerics imported sympy: the warm path is not sympy-free")
    print(f"python {sys.version.split()[0]}, best of {args.repeats} fresh processes")
    print(f"baseline: interpreter start-up {python_start:.3f} s, `import numpy` {numpy_import:.3f} s")
    print(
        f"(a) cold derivation of all built-ins (forms {cold[0][1]} chars, LaTeX {cold[0][2]} chars): "
        f"{cold_best:.2f} s; goal {GOAL_COLD:.0f} s; ratio {cold_best / GOAL_COLD:.2f}"
    )
    print(
        f"(b) warm import of nqm.numerics + first evaluation: {warm_best:.3f} s; goal {GOAL_WARM:.0f} s; "
        f"ratio {warm_best / GOAL_WARM:.2f} (numpy alone: {numpy_import / warm_best:.2f} of it)"
    )


if __name__ == "__main__":
    main()
