"""The body of ``nqm conformance`` (declared in :mod:`._conformance`)."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

import click

from nqm.proofs.conformance import PROPERTIES, check_conformance
from nqm.theory import get_spec, registered_specs

from ._common import fail, refuse_overwrite, status, write_output
from ._runtime import optimizer_names


def conformance(positional: tuple[str, ...], optimizers: tuple[str, ...], all_: bool, properties: tuple[str, ...], max_examples: int, seed: int,
                json_path: Path | None, force: bool, quiet: bool) -> None:
    """Run :func:`nqm.proofs.conformance.check_conformance` on each chosen optimizer, print the
    verdicts, optionally write them as JSON; exit status 1 if any property fails."""
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
