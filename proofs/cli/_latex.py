"""``nqm latex``: the LaTeX document of every derivation and the paper's results re-derived."""

from __future__ import annotations

from typing import Any

import click

from ._common import CONTEXT_SETTINGS, OutputPath, call, force_option, quiet_option, spec_file_option


@click.command(context_settings=CONTEXT_SETTINGS, epilog="""\b
Examples:
  nqm latex --output derivations.tex
  nqm latex --optimizer sgd,momentum
""")
@click.option(
    "--optimizer", "optimizers", multiple=True, metavar="NAME",
    help="A registered optimizer (repeatable or comma-separated); default: all of them.",
)
@click.option(
    "--output", "-o", type=OutputPath(), default=None,
    help="Write the document to FILE instead of standard output.",
)
@force_option
@quiet_option
@spec_file_option
def latex(**options: Any) -> None:
    """Write a LaTeX document (amsmath) of all derivations and the paper's results re-derived."""
    call("nqm.proofs.cli._latex_run:latex", **options)
