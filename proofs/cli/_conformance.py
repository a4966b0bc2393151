"""``nqm conformance``: the registry-driven property suite, run on chosen optimizers from the shell."""

from __future__ import annotations

from typing import Any

import click

from ._common import CONTEXT_SETTINGS, OutputPath, call, force_option, quiet_option, spec_file_option


@click.command(context_settings=CONTEXT_SETTINGS, epilog="""\b
Examples:
  nqm conformance --optimizer momentum
  nqm conformance --optimizer my_variant --spec-file my_variant.py --max-examples 50
  nqm conformance --all --property engine_matches_recursion --json conformance.json

\b
The positional form 'nqm conformance momentum' is the same as --optimizer momentum.
""")
@click.argument("positional", nargs=-1, metavar="[NAME]...")
@click.option("--optimizer", "optimizers", multiple=True, metavar="NAME",
              help="A registered optimizer (repeatable or comma-separated); or give them as NAMEs.")
@click.option("--all", "all_", is_flag=True, help="Every registered optimizer (built-ins, entry points, --spec-file).")
@click.option("--property", "properties", multiple=True, metavar="NAME",
              help="Only these properties (repeatable); default: all of them.")
@click.option("--max-examples", type=click.IntRange(min=1), default=20, show_default=True,
              help="Hypothesis examples per property.")
@click.option("--seed", type=int, default=0, show_default=True, help="Hypothesis seed (runs are reproducible).")
@click.option("--json", "json_path", type=OutputPath(), default=None, metavar="FILE",
              help="Write every report (with shrunk counterexamples) as JSON to FILE.")
@spec_file_option
@force_option
@quiet_option
def conformance(**options: Any) -> None:
    """Property-test optimizers against the whole conformance suite.

    Checks each NAME (a registered optimizer; use --spec-file for your own) against the engine's
    independent moment recursion, Monte Carlo at a stated false-failure rate, stationary limits,
    stability, declared reductions, metamorphic invariances and the information bound, and prints
    each property's verdict: PASSED (with the examples checked and what was checked), FAILED (with
    the shrunk counterexample and both sides' values) or NOT APPLICABLE (nothing to check, and why).
    Exits 1 if any fails.
    """
    call("nqm.proofs.cli._conformance_run:conformance", **options)
