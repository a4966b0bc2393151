"""Hostile formulas: ``verify_formula`` / ``nqm verify`` never run code and never hang.

Each payload would create a marker file if any part of it were executed; the marker must
never appear. Each bounded-work case must answer with a ``ValueError`` (``nqm verify``: one
line, exit 2) or a verdict. The ``timeout`` markers and subprocess timeouts are hang guards
only (a hang fails the test instead of stalling the run); nothing here asserts a speed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sympy as sp
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nqm.proofs import verify_formula
from nqm.proofs.formulas._budget import call_with_budget
from nqm.proofs.cli._main import main
from nqm.proofs.formulas._verify import parse_user_formula
from nqm.proofs.formulas._parse import MAX_DEPTH, MAX_EXPONENT, MAX_LATEX_CHARS, MAX_LITERAL_DIGITS
from nqm.theory import get_spec
from nqm.theory.symbols import alpha

THEOREM1 = "(1+beta)*alpha*c/(2*B*(2*beta+2-alpha*h)*(1-beta))"


def _chars(text: str) -> str:
    """``text`` spelled as a sum of ``chr`` calls (no string literal), as in the reported payload."""
    return "+".join(f"chr({ord(ch)})" for ch in text)


def _payloads(marker: Path) -> list[str]:
    """Formulas that create ``marker`` if any part of them runs (Python syntax and LaTeX)."""
    shell = f"touch {marker}"
    system = f"__import__('os').system('{shell}')"
    return [
        f"eval({_chars(system)})",
        f"exec({_chars(system)})",
        f"alpha*eval({_chars(system)})",
        system,
        f"getattr(__import__(chr(111)+chr(115)), chr(115)+chr(121)+chr(115)+chr(116)+chr(101)+chr(109))({_chars(shell)})",
        f"open({_chars(str(marker))}, chr(119))",
        f"(lambda: {system})()",
        f"[{system} for _ in (1,)][0]",
        f"alpha.__class__.__init__.__globals__['__builtins__']['eval']({_chars(system)})",
        f"__builtins__.eval({_chars(system)})",
        f"sympify({_chars(system)})",
        f"S({_chars(system)})",
        f"parse_expr({_chars(system)})",
        f"Function({_chars(system)})(alpha)",
        f"breakpoint() or {system}",
        f"alpha + {system}",
        f"alpha if {system} else beta",
        f"(alpha := {system})",
        f"f'{{{system}}}'",
        rf"\operatorname{{eval}}({_chars(system)})",
        r"\mathrm{exec}(\alpha)",
        r"\operatorname{open}(x) + \alpha",
        r"\frac{\operatorname{eval}(x)}{2}",
        r"\mathrm{__import__}(os)",
    ]


@pytest.mark.timeout(120)
def test_payloads_are_refused_and_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    for payload in _payloads(marker):
        with pytest.raises(ValueError, match="formula"):
            verify_formula(payload, optimizer="momentum", quantity="stationary_risk")
        assert not marker.exists(), payload


@pytest.mark.timeout(120)
@pytest.mark.parametrize("formula, match", ids=lambda v: v[:40] if isinstance(v, str) else None, argvalues=[
    ("10**10**10", "exponent"),
    ("alpha**10**10", "exponent"),
    (r"10^{10^{10}}", "exponent"),
    (r"\alpha^{10^{10}}", "exponent"),
    (f"alpha**{MAX_EXPONENT + 1}", "exponent"),
    (f"alpha**(1/{MAX_EXPONENT + 1})", "exponent"),
    ("factorial(10**10)", "factorial"),
    ("N(pi, 10**8)", "'N'"),
    ("gamma(10**10)", "gamma"),  # a product with EMA's gamma (not the Gamma function), which momentum lacks
    ("(10**100)**100", "digits"),
    ("(10*alpha)**1000 * (10*beta)**1000 * (10*h)**1000 * (10*c)**1000 * (10*B)**1000", "digits"),  # 10**5000
    ("1e-300*alpha", "digits"),
    ("9" * (MAX_LITERAL_DIGITS + 1), "digits"),
    ("-" * 5000 + "alpha", "nested"),
    ("(" * 1000 + "alpha" + ")" * 1000, "nested"),
    ("sqrt(" * 500 + "alpha" + ")" * 500, "nested"),
    ("sqrt(" * (MAX_DEPTH + 1) + "alpha" + ")" * (MAX_DEPTH + 1), "nested"),
    ("+".join(["alpha"] * 60_000), "too long"),
    (r"\frac{" * 150 + "1" + "}{2}" * 150, "nested"),
    (r"\alpha" + r"+\alpha" * MAX_LATEX_CHARS, "too long"),
    ("x!", "parse"),
    (r"\binom{10}{3}", "binomial"),
    (r"\int x dx", "Integral"),
    (r"\lim_{x \to 0} x", "Limit"),
    ("1/0", "not finite"),
])
def test_unbounded_work_is_refused_with_a_clear_error(formula: str, match: str) -> None:
    """Each case is refused before the work starts (the timeout marker is the hang guard)."""
    with pytest.raises(ValueError, match=match):
        verify_formula(formula, optimizer="momentum", quantity="stationary_risk")


def test_deep_latex_is_refused_whatever_the_recursion_limit() -> None:
    """With a high recursion limit (as another library may set) sympy's parser read 150 nested
    fractions into one evaluated rational, and the formula was not refused (seen in an xdist worker)."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(100_000)
    try:
        with pytest.raises(ValueError, match="nested too deeply"):
            verify_formula(r"\frac{" * 150 + "1" + "}{2}" * 150, optimizer="momentum", quantity="stationary_risk")
    finally:
        sys.setrecursionlimit(old)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("formula, verdict", ids=lambda v: v[:40] if isinstance(v, str) else None, argvalues=[
    # a flat 3001-term sum (the terms cancel as they are added): no RecursionError
    (THEOREM1 + "".join(f" + {i}*alpha*beta - {i}*beta*alpha" for i in range(1500)), "equal"),
    ("(" + " + ".join(["1/3000"] * 3000) + f")*{THEOREM1}", "equal"),  # a long sum inside parentheses
    (f"alpha**{MAX_EXPONENT} + {THEOREM1}", "not equal"),
    ("sqrt(" * 20 + "alpha" + ")" * 20, "not equal"),
    ("alpha**alpha**alpha**alpha", "not equal"),
    ("sin(10**100)*alpha", "not equal"),
    # e^(e^(e^(e^10))) is beyond what is evaluated (2**4096 bits of argument): no point is defined
    ("exp(exp(exp(exp(10))))*alpha", "unknown"),
])
def test_large_but_bounded_formulas_are_answered(formula: str, verdict: str) -> None:
    result = verify_formula(formula, optimizer="momentum", quantity="stationary_risk", samples=4, symbolic_seconds=60)
    assert result.verdict == verdict, str(result)


@pytest.mark.timeout(300)
def test_symbolic_check_past_its_budget_answers_unknown_with_what_was_tried() -> None:
    """Equal by expansion, but expanding a 5-variable 40th power takes far longer than 1 s."""
    power = "(alpha+beta+1/(1+h)+1/(1+B)+1/(1+c))**40"
    formula = f"{THEOREM1} + {power}*(1+beta) - {power} - beta*{power}"
    result = verify_formula(formula, optimizer="momentum", quantity="stationary_risk", samples=4, symbolic_seconds=1)
    assert result.verdict == "unknown", str(result)
    assert any("agree" in s for s in result.tried)
    assert any("time budget of 1 s" in s for s in result.tried), result.tried


def test_documented_bounds_are_the_enforced_ones() -> None:
    """The numbers in verify_formula's docstring and in ``nqm verify --help`` are the constants."""
    from nqm.proofs.formulas import _evaluate as _safe_eval
    from nqm.proofs.formulas import _parse as _safe_parse

    help_text = CliRunner().invoke(main, ["verify", "--help"]).output
    doc = " ".join(verify_formula.__doc__.split())
    for value in (_safe_parse.MAX_CHARS, _safe_parse.MAX_LATEX_CHARS, _safe_parse.MAX_NODES,
                  _safe_parse.MAX_NUMBER_DIGITS):
        assert f"{value:,}" in doc and f"{value:,}" in " ".join(help_text.split()), value
    for value in (MAX_DEPTH, MAX_LITERAL_DIGITS, MAX_EXPONENT):
        assert f"{value}" in doc and f"{value}" in help_text, value
    assert f"2^{{{_safe_eval.MAX_ARGUMENT_BITS}}}" in doc
    for name in _safe_parse.FUNCTIONS:
        assert name in help_text


def test_decimals_are_exact_and_constants_are_known() -> None:
    spec = get_spec("momentum")
    assert parse_user_formula("0.1", spec) == sp.Rational(1, 10)
    assert parse_user_formula("1.00000000000000000001", spec) == 1 + sp.Rational(1, 10**20)
    assert parse_user_formula("2.5e-3*alpha", spec) == sp.Rational(1, 400) * alpha
    assert parse_user_formula("pi + E + I", spec) == sp.pi + sp.E + sp.I
    assert parse_user_formula("alpha^2", spec) == alpha**2


@pytest.mark.parametrize("expr", [sp.factorial(alpha), sp.Integral(alpha, alpha), sp.Function("eval")(alpha),
                                  sp.Symbol("__import__") * alpha, sp.oo * alpha])
def test_sympy_input_goes_through_the_same_whitelist(expr: sp.Expr) -> None:
    with pytest.raises(ValueError, match="formula"):
        parse_user_formula(expr, get_spec("momentum"))


_TOKENS = ["alpha", "beta", "h", "c", "B", "1", "10", "0.5", "+", "-", "*", "/", "**", "^", "(", ")", ",", "[", "]",
           ".", "'", "=", "<", "lambda", ":", "_", "__import__", "chr", "eval", "exp", "sqrt", "log", "\\frac", "{", "}",
           "\\alpha", "\\operatorname", "!", " ", "\n", "1e308", "9" * 120]


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(st.lists(st.sampled_from(_TOKENS), max_size=25))
def test_random_token_soup_parses_or_raises_value_error(tokens: list[str]) -> None:
    """Whatever the text, the parser returns a sympy expression or raises ValueError, nothing else."""
    try:
        expr = parse_user_formula("".join(tokens), get_spec("momentum"))
    except ValueError:
        return
    assert isinstance(expr, sp.Expr)


# ---------------------------------------------------------------------- the command line
def _one_line_error(output: str) -> None:
    lines = [ln for ln in output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), output
    assert "Traceback" not in output


@pytest.mark.timeout(300)
def test_cli_refuses_payloads_with_one_line_and_status_2(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    for payload in [*_payloads(marker), "10**10**10", r"10^{10^{10}}", "factorial(10**10)"]:
        result = CliRunner().invoke(main, ["verify", "--optimizer", "sgd", "--quantity", "stationary_risk", "--", payload])
        assert result.exit_code == 2, (payload, result.output)
        assert isinstance(result.exception, SystemExit), (payload, result.exception)
        _one_line_error(result.stderr)
        assert not marker.exists(), payload


def test_cli_process_prints_no_traceback(tmp_path: Path) -> None:
    """A real process running the console script's entry point (not click's test runner): one
    line on stderr, status 2, no marker."""
    marker = tmp_path / "marker"
    for payload in (_payloads(marker)[0], "10**10**10"):
        done = subprocess.run([sys.executable, "-m", "nqm.proofs.cli", "verify", "--optimizer", "sgd", "--quantity",
                               "stationary_risk", "--", payload], capture_output=True, text=True, timeout=300)
        assert done.returncode == 2, done.stderr
        _one_line_error(done.stderr)
        assert not marker.exists()


# ---------------------------------------------------------------------- the worker of the symbolic checks
@pytest.mark.timeout(300)
def test_call_with_budget_answers_fails_and_stops() -> None:
    assert call_with_budget(pow, (2, 10), 60) == ("done", 1024)
    status, message = call_with_budget(int, ("x",), 60)
    assert status == "error" and message.startswith("ValueError")
    assert call_with_budget(time.sleep, (600,), 1) == ("timeout", None)
    assert call_with_budget(pow, (3, 2), 60) == ("done", 9)  # a fresh worker after the killed one


_ORPHAN_SCRIPT = """
import os, signal, sys
from nqm.proofs.formulas import _budget as _budget
assert _budget.call_with_budget(pow, (2, 3), 120) == ("done", 8)
print(_budget._worker.process.pid, flush=True)
os.kill(os.getpid(), getattr(signal, sys.argv[1]))
"""


@pytest.mark.timeout(300)
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGKILL"])
def test_worker_exits_when_its_caller_dies(tmp_path: Path, sig: str) -> None:
    script = tmp_path / "caller.py"
    script.write_text(_ORPHAN_SCRIPT)
    done = subprocess.run([sys.executable, str(script), sig], capture_output=True, text=True, timeout=300)
    assert done.returncode == -getattr(signal, sig), done.stderr
    pid = int(done.stdout.split()[0])
    for _ in range(600):  # hang guard only: the worker reads end-of-file at once
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    pytest.fail(f"worker {pid} still alive after its caller died of {sig}")


def test_a_formula_with_a_foreign_symbol_starts_no_symbolic_worker() -> None:
    """The worker (a fresh interpreter importing sympy, about 1 s of CPU) is started only once the
    formula has passed every check, not for a call that then raises."""
    from nqm.proofs.formulas import _budget as _budget

    _budget._stop()
    with pytest.raises(ValueError, match="cannot depend on"):
        verify_formula("alpha*gamma", optimizer="sgd", quantity="stationary_risk")
    assert _budget._worker is None


def test_sample_work_is_checked_before_it_starts() -> None:
    long_sum = " + ".join(f"{i}*alpha*beta**{i % 5}/(h + {i})" for i in range(3000))
    with pytest.raises(ValueError, match="samples"):
        verify_formula(long_sum, optimizer="momentum", quantity="stationary_risk", samples=10_000)


@pytest.mark.timeout(300)
def test_values_that_never_settle_are_not_a_counterexample() -> None:
    """X**1000 (1 + beta) - X**1000 - beta X**1000 = 0 cancels up to thousands of digits."""
    power = "(alpha+beta+h+c+B)**1000"
    formula = f"{THEOREM1} + {power}*(1+beta) - {power} - beta*{power}"
    result = verify_formula(formula, optimizer="momentum", quantity="stationary_risk", symbolic_seconds=1)
    assert result.verdict == "unknown", str(result)
    assert any("settle" in s for s in result.tried), result.tried


@pytest.mark.parametrize("formula", ["atan(I*alpha)", "asin(I*alpha)", "acos(I*alpha)"])
def test_calls_that_sympy_rewrites_into_other_functions_are_still_evaluated(formula: str) -> None:
    """sympy turns allowed calls into functions that cannot be called by name (atan(I x) = I atanh(x),
    asin(I x) = I asinh(x), acos(I x) = pi/2 - I asinh(x)); the evaluator
    knows them, so these formulas are compared at the points ("not equal" with a counterexample),
    not skipped as undefined at every point ("unknown")."""
    result = verify_formula(formula, optimizer="sgd", quantity="stationary_risk", samples=3, symbolic_seconds=5)
    assert result.verdict == "not equal", result


def test_every_allowed_call_parses_to_something_the_evaluator_knows() -> None:
    """Each allowed function of a real, imaginary, negative, complex or nested argument: the rebuilt
    formula is either refused (ValueError) or holds only functions the evaluator evaluates."""
    import mpmath as mp

    from nqm.proofs.formulas._evaluate import evaluate
    from nqm.proofs.formulas._parse import FUNCTIONS

    spec = get_spec("momentum")
    point = {s: mp.mpf(1) / (k + 3) for k, s in enumerate(sp.symbols("alpha beta h c B z", real=True))}
    for name in FUNCTIONS:
        for arg in ("alpha", "I*alpha", "-alpha", "alpha + I*h", "exp(I*z)", "I*exp(z)", "z*I - 2"):
            try:
                expr = parse_user_formula(f"{name}({arg})", spec)
            except ValueError:
                continue
            values = {s: point.get(sp.Symbol(s.name, real=True), mp.mpf(1) / 7) for s in expr.free_symbols}
            with mp.workdps(30):
                try:
                    evaluate(expr, values)
                except (ValueError, ZeroDivisionError):
                    pass  # undefined at this point; a TypeError (an unknown function) fails the test
