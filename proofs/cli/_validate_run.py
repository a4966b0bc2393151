"""The body of ``nqm validate`` (declared in :mod:`._validate`)."""

from __future__ import annotations

from pathlib import Path

import click

from nqm.proofs.networks import run_validation

from ._common import fail


def validate(out_dir: Path, reduced: bool, force: bool, cache_dir: Path | None, quiet: bool) -> None:
    """Run :func:`nqm.proofs.networks.run_validation` into ``out_dir`` and print each claim's verdict."""
    try:
        result = run_validation(out_dir, reduced=reduced, force=force, cache_dir=cache_dir, progress=not quiet)
    except (FileExistsError, ImportError) as exc:
        fail(str(exc))
    for claim in result.claims:
        click.echo(f"{claim['claim']}: network {claim['network']}, NQM {claim['nqm']}")
    click.echo(f"wrote {len(result.files)} files to {result.out_dir}")
