"""The ``nqm proofs`` and ``nqm verify`` commands (registered on the ``nqm`` group in :mod:`._main`).

Exit codes:

* ``nqm proofs``: 0 if every proof passes, 1 if any fails, 2 on a usage error (bad flag,
  unknown optimizer, an output file that exists without ``--force``);
* ``nqm verify``: 0 equal, 1 not equal, 3 unknown, 2 on a usage error (bad flag, unknown
  optimizer or quantity, unparsable formula).

Usage errors print one line, ``error: ...``, on standard error (no traceback; see :mod:`._common`).
"""

from __future__ import annotations

from typing import Any

import click

from .._limits import (
    CONSTANT_NAMES,
    FUNCTION_NAMES,
    MAX_CHARS,
    MAX_DEPTH,
    MAX_EXPONENT,
    MAX_LATEX_CHARS,
    MAX_LITERAL_DIGITS,
    MAX_NODES,
    MAX_NUMBER_DIGITS,
    MAX_SAMPLES,
    MAX_SYMBOLIC_SECONDS,
    QUANTITY_NAMES,
    SYMBOLIC_SECONDS,
)
from ._common import CONTEXT_SETTINGS, OutputPath, call, force_option, quiet_option, spec_file_option

__all__ = ["proofs", "verify"]


@click.command("proofs", context_settings=CONTEXT_SETTINGS, epilog="""\b
Examples:
  nqm proofs
  nqm proofs --optimizer momentum --json proofs.json --latex appendix.tex
  nqm --spec-file my_opt.py proofs --optimizer lookahead
""")
@click.option("--json", "json_path", type=OutputPath(), default=None,
              help="Write the results as JSON to FILE.")
@click.option("--latex", "latex_path", type=OutputPath(), default=None,
              help="Write a LaTeX appendix (amsmath) to FILE.")
@click.option("--optimizer", "optimizers", multiple=True, metavar="NAME",
              help="Only proofs about these registered optimizers (repeatable or comma-separated); default: all.")
@force_option
@quiet_option
@spec_file_option
@click.pass_context
def proofs(ctx: click.Context, **options: Any) -> None:
    """Run every machine-checked proof: print a table, optionally write JSON and a LaTeX appendix.

    Exits 1 if any proof fails, 2 on a usage error.
    """
    ctx.exit(call("nqm.proofs.cli._proofs_run:proofs", **options))


_VERIFY_HELP = f"""Check that FORMULA equals a derived quantity: equal (exit 0), not equal with a counterexample (1), unknown (3).

FORMULA is sympy syntax or LaTeX; put it after `--` if it starts with a minus sign. It is
never executed, only read, and may hold only: numbers (0.1 is exactly 1/10); the symbols
(alpha, beta, gamma, nu, h, c, B, p, t, k, z, r1, r2, x = alpha*h, s0); {', '.join(CONSTANT_NAMES)};
+ - * / ** ^ and parentheses; the functions {' '.join(FUNCTION_NAMES)}. Bounds: {MAX_CHARS:,}
characters (LaTeX {MAX_LATEX_CHARS:,}), {MAX_NODES:,} nodes, {MAX_DEPTH} levels of nesting, literals
of {MAX_LITERAL_DIGITS} digits, numeric exponents p/q with |p|, q <= {MAX_EXPONENT}, exact numbers of
{MAX_NUMBER_DIGITS:,} digits. Outside them: one line, exit 2. The symbolic proof runs in a
worker process and stops at --symbolic-seconds (the random-point comparison always runs).
"""


@click.command("verify", context_settings=CONTEXT_SETTINGS, help=_VERIFY_HELP, epilog="""\b
Examples:
  nqm verify --optimizer momentum --quantity stationary_risk "(1+beta)*alpha*c/(2*B*(2*beta+2-alpha*h)*(1-beta))"
  nqm verify --optimizer sgd --quantity stationary_risk '\\frac{\\alpha c_i}{2B(2-\\alpha h_i)}'
""")
@click.argument("formula")
@click.option("--optimizer", required=True, metavar="NAME", help="A registered optimizer.")
@click.option("--quantity", required=True, type=click.Choice(QUANTITY_NAMES), help="The derived quantity.")
@click.option("--precondition", is_flag=True, help="Check the P = H^p preconditioned version (adds p).")
@click.option("--samples", type=click.IntRange(1, MAX_SAMPLES), default=20, show_default=True, help="Random points compared.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random points.")
@click.option("--syntax", type=click.Choice(["auto", "sympy", "latex"]), default="auto", show_default=True,
              help="How FORMULA is written (auto: LaTeX if it has a backslash or brace).")
@click.option("--symbolic-seconds", type=click.FloatRange(0, MAX_SYMBOLIC_SECONDS, min_open=True), default=SYMBOLIC_SECONDS,
              show_default=True, help="Time budget of the symbolic proof; past it the answer is unknown.")
@spec_file_option
@click.pass_context
def verify(ctx: click.Context, **options: Any) -> None:
    """``nqm verify`` (its help is :data:`_VERIFY_HELP`)."""
    ctx.exit(call("nqm.proofs.cli._proofs_run:verify", **options))
