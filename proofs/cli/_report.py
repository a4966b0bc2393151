"""``nqm report``: the main job — one folder with every derivation, proof, figure, sweep and check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .._limits import VALIDATION_MODES
from ._common import CONTEXT_SETTINGS, OutputPath, call, force_option, quiet_option, spec_file_option

__all__ = ["report"]


@click.command(context_settings=CONTEXT_SETTINGS)
@click.option("--out", "out_dir", type=OutputPath("dir"), default=Path("nqm-report"),
              show_default=True, help="The report folder (refused if it exists and is not empty, unless --force).")
@click.option("--validation", type=click.Choice(VALIDATION_MODES), default="auto", show_default=True,
              help="PyTorch check: quick = linear regression against both noise models (seconds); reduced / full = "
                   "the network validation, reduced (about a minute) or full (minutes); auto = reduced if PyTorch "
                   "is installed, else none.")
@force_option
@quiet_option
@spec_file_option
def report(**options: Any) -> None:
    """Build the report on the paper's problem: derivations (LaTeX and rendered), the proof table,
    every figure, the batch-size sweeps with critical batch sizes, the Monte-Carlo agreement and
    the PyTorch validation, linked from OUT/index.html (and index.md).

    The default report takes about a minute on two cores, plus about two minutes for the reduced network
    validation when PyTorch is installed.
    """
    call("nqm.proofs.cli._report_run:report", **options)
