"""The body of ``nqm latex`` (declared in :mod:`._latex`)."""

from __future__ import annotations

from pathlib import Path

import click

from nqm.theory import latex_document

from ._common import refuse_overwrite, status, write_output
from ._runtime import optimizer_names


def latex(optimizers: tuple[str, ...], output: Path | None, force: bool, quiet: bool) -> None:
    """Write :func:`nqm.theory.latex_document` of ``optimizers`` (default: all) to ``output`` or standard output."""
    names = optimizer_names(optimizers)
    refuse_overwrite([output], force)
    with status("deriving and checking every formula ...", quiet):
        text = latex_document(names or None)
    if output is None:
        click.echo(text, nl=False)
    else:
        write_output(output, text)
        click.echo(f"wrote {output}", err=True)
