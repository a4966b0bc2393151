"""``nqm validate``: the NQM against PyTorch networks (the torch extra)."""

from __future__ import annotations

from pathlib import Path

import click

from ._common import CONTEXT_SETTINGS, OutputPath, fail, force_option, quiet_option


@click.command(context_settings=CONTEXT_SETTINGS, epilog="""\b
Examples:
  nqm validate results/ --reduced
  nqm validate results/ --force
""")
@click.argument("out_dir", type=OutputPath("dir"))
@click.option("--reduced", is_flag=True, help="The small configuration the tests use (under a minute on two cores; the full sweep takes about 4 minutes).")
@force_option
@click.option("--cache-dir", type=OutputPath("dir"), default=None,
              help="Cache of finished digits searches (default: $NQM_CACHE_DIR/results).")
@quiet_option
def validate(out_dir: Path, reduced: bool, force: bool, cache_dir: Path | None, quiet: bool) -> None:
    """Check the NQM against PyTorch networks; write CSV tables, PNG figures and report.md to OUT_DIR.

    Needs the torch extra. Finished digits searches are cached, so an interrupted run resumes.
    """
    from nqm.proofs.networks import run_validation

    try:
        result = run_validation(out_dir, reduced=reduced, force=force, cache_dir=cache_dir, progress=not quiet)
    except (FileExistsError, ImportError) as exc:
        fail(str(exc))
    for claim in result.claims:
        click.echo(f"{claim['claim']}: network {claim['network']}, NQM {claim['nqm']}")
    click.echo(f"wrote {len(result.files)} files to {result.out_dir}")
