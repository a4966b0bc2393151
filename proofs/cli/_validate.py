"""``nqm validate``: the NQM against PyTorch networks (the torch extra)."""

from __future__ import annotations

from typing import Any

import click

from ._common import CONTEXT_SETTINGS, OutputPath, call, force_option, quiet_option


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
def validate(**options: Any) -> None:
    """Check the NQM against PyTorch networks; write CSV tables, PNG figures and report.md to OUT_DIR.

    Needs the torch extra. Finished digits searches are cached, so an interrupted run resumes.
    """
    call("nqm.proofs.cli._validate_run:validate", **options)
