"""Cost of the formula verifier's safety: the symbolic worker, the time budget, hostile input.

(a) Worker start: the worker interpreter (``proofs/formulas/_budget.py`` run as a script) is started
    as verify_formula starts it, importing ``nqm.theory._closed_form``; the time until it
    answers a first call is timed alone (verify_formula overlaps it with the numeric check).
(b) Per-call overhead against the baseline of the same run: the README's true formula
    (momentum's stationary risk), ``same_closed_form`` called in this process (the
    baseline, what the verifier did before) and through the warm worker
    (``call_with_budget``), best of ``--repeats``; the ratio is the worker's overhead.
(c) The budget holds: a formula that is equal but whose expansion takes far longer is
    checked with ``symbolic_seconds=1``; the symbolic stage's wall time is printed.
(d) Hostile strings (the issue's: towers, factorial, N(pi, 10**8), LaTeX towers, a
    3000-term sum, chr-built eval payloads) and formulas at the size limits (about 100,000
    characters in Python syntax, 2,000 in LaTeX, where sympy's parser is slowest): the wall
    time of each whole verify_formula call (parse, 20 points, symbolic check if reached).

    python benchmarks/bench_verify.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import time

from _timing import timed

HOSTILE = [
    "10**10**10",
    "factorial(10**10)",
    "N(pi, 10**8)",
    r"10^{10^{10}}",
    "+".join(["alpha"] * 3000),
    "eval(" + "+".join(f"chr({ord(ch)})" for ch in "__import__('os').getcwd()") + ")",
    r"\operatorname{eval}(x)",
    "exp(exp(exp(exp(10))))*alpha",
    "-" * 5000 + "alpha",
    # at the size limits: 100,000 characters of Python, 2,000 of LaTeX
    "*".join(["(alpha+beta)"] * 7600),
    " + ".join(f"{i}*alpha*beta**{i % 5}/(h + {i})" for i in range(3000)),
    "x^" * 666 + "x",
    "1+" * 666 + "1",
]
README_TRUE = "alpha*c*(1 + beta)/(2*B*(1 - beta)*(2 + 2*beta - alpha*h))"
THEOREM1 = "(1+beta)*alpha*c/(2*B*(2*beta+2-alpha*h)*(1-beta))"
POWER = "(alpha+beta+1/(1+h)+1/(1+B)+1/(1+c))**40"
SLOW_EQUAL = f"{THEOREM1} + {POWER}*(1+beta) - {POWER} - beta*{POWER}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    from nqm.proofs import verify_formula
    from nqm.proofs.formulas._budget import call_with_budget, prestart
    from nqm.proofs.formulas._verify import _in_lr, parse_user_formula
    from nqm.theory import derive, get_spec, same_closed_form

    spec = get_spec("momentum")
    user = _in_lr(parse_user_formula(README_TRUE, spec), spec)
    derived = _in_lr(derive(spec).stationary_risk, spec)

    start = time.perf_counter()
    prestart((same_closed_form.__module__,))
    assert call_with_budget(pow, (2, 3), 600) == ("done", 8)
    print(f"(a) worker start, importing {same_closed_form.__module__}: {time.perf_counter() - start:.2f} s")

    baseline = timed(lambda: same_closed_form(user, derived), args.repeats).wall
    worker = timed(lambda: call_with_budget(same_closed_form, (user, derived), 600), args.repeats).wall
    print(f"(b) same_closed_form on the README formula: in process {1e3 * baseline:.1f} ms (baseline), "
          f"via the worker {1e3 * worker:.1f} ms, ratio {worker / baseline:.2f}")

    start = time.perf_counter()
    result = verify_formula(SLOW_EQUAL, optimizer="momentum", quantity="stationary_risk", samples=4, symbolic_seconds=1)
    total = time.perf_counter() - start
    print(f"(c) symbolic_seconds=1 on an expensive identity: verdict {result.verdict!r}, whole call {total:.2f} s "
          f"(parsing, 4 sample points and the 1 s budget); tried: {result.tried[-1]}")
    start = time.perf_counter()
    assert call_with_budget(pow, (2, 3), 600) == ("done", 8)
    print(f"    the next call restarts the killed worker: {time.perf_counter() - start:.2f} s")

    worst = 0.0
    for formula in HOSTILE:
        start = time.perf_counter()
        try:
            syntax = "latex" if formula.startswith(("x^", "1+")) else "auto"
            answer = verify_formula(formula, optimizer="momentum", quantity="stationary_risk", syntax=syntax).verdict
        except ValueError as exc:
            answer = "ValueError: " + str(exc)[:70]
        elapsed = time.perf_counter() - start
        worst = max(worst, elapsed)
        print(f"(d) {elapsed:6.3f} s  {formula[:40]!r:44} {answer}")
    print(f"(d) slowest hostile answer: {worst:.3f} s")


if __name__ == "__main__":
    main()
