"""``nqm latex``: the LaTeX document of every derivation and the paper's results re-derived."""

from __future__ import annotations

from pathlib import Path

import click

from ._common import CONTEXT_SETTINGS, OutputPath, force_option, quiet_option, refuse_overwrite, spec_file_option, status, write_output


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
def latex(optimizers: tuple[str, ...], output: Path | None, force: bool, quiet: bool) -> None:
    """Write a LaTeX document (amsmath) of all derivations and the paper's results re-derived."""
    from nqm.theory import latex_document

    from ._values import optimizer_names

    names = optimizer_names(optimizers)
    refuse_overwrite([output], force)
    with status("deriving and checking every formula ...", quiet):
        text = latex_document(names or None)
    if output is None:
        click.echo(text, nl=False)
    else:
        write_output(output, text)
        click.echo(f"wrote {output}", err=True)
