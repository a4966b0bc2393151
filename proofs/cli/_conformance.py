"""``nqm conformance``: the registry-driven property suite, run on chosen optimizers from the shell."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

import click

from ._common import (
    CONTEXT_SETTINGS,
    OutputPath,
    fail,
    force_option,
    quiet_option,
    refuse_overwrite,
    spec_file_option,
    status,
    write_output,
)


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
def conformance(positional: tuple[str, ...], optimizers: tuple[str, ...], all_: bool, properties: tuple[str, ...], max_examples: int, seed: int,
                json_path: Path | None, force: bool, quiet: bool) -> None:
    """Property-test optimizers against the whole conformance suite.

    Checks each NAME (a registered optimizer; use --spec-file for your own) against the engine's
    independent moment recursion, Monte Carlo at a stated false-failure rate, stationary limits,
    stability, declared reductions, metamorphic invariances and the information bound, and prints
    each property's verdict: PASSED (with the examples checked and what was checked), FAILED (with
    the shrunk counterexample and both sides' values) or NOT APPLICABLE (nothing to check, and why).
    Exits 1 if any fails.
    """
    from nqm.proofs import PROPERTIES, check_conformance
    from nqm.theory import get_spec, registered_specs

    from ._values import optimizer_names

    names = optimizer_names(positional + optimizers)

    if all_ and names:
        fail("give --optimizer NAMEs or --all, not both")
    if not all_ and not names:
        fail("give --optimizer NAMEs or --all")
    unknown = [p for p in properties if p not in PROPERTIES]
    if unknown:
        fail(f"--property: unknown {', '.join(unknown)}; available: {', '.join(PROPERTIES)}")
    refuse_overwrite([json_path], force)
    specs = [s for s in registered_specs() if not s.preconditioned] if all_ else [get_spec(n) for n in names]
    reports = []
    for spec in specs:
        with status(f"conformance of {spec.name}", quiet):
            report = check_conformance(spec, max_examples=max_examples, seed=seed, properties=properties or None)
        click.echo(str(report))
        reports.append(report)
    if json_path is not None:
        write_output(json_path, json.dumps([asdict(r) | {"ok": r.ok} for r in reports], indent=2, default=str))
        click.echo(f"wrote {json_path}", err=True)
    if not all(r.ok for r in reports):
        sys.exit(1)
