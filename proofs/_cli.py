"""The ``nqm`` command line: the click group ``main`` (console script ``nqm``) and its subcommands.

Conventions (:mod:`._cli_common`): defaults are the paper's problem; ``--help``/``-h`` on every
subcommand; usage errors are one line ``error: ...`` with exit status 2; work longer than about
2 s shows a progress bar on standard error (``--quiet`` silences it); output files are never
silently overwritten (``--force``) and are written whole or not at all; output paths (:class:`._cli_common.OutputPath`)
and sizes (list options, grids, Monte-Carlo work, workers) are checked before any work;
``--spec-file FILE`` registers user optimizers (entry points in the ``nqm.optimizers`` group are
registered automatically); every subcommand that takes an optimizer takes ``--optimizer NAME``
(``derive`` and ``conformance`` also take it as a positional NAME, the older form); ``nqm --version``
prints the package version.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ._cli_common import (
    CONTEXT_SETTINGS,
    NqmGroup,
    OutputPath,
    fail,
    force_option,
    quiet_option,
    refuse_overwrite,
    spec_file_option,
    status,
    write_output,
)


@click.group(cls=NqmGroup, context_settings=CONTEXT_SETTINGS, epilog="""\b
Examples:
  nqm derive --optimizer momentum --latex
  nqm sweep --optimizer momentum --precond-power 0.5 --batch-sizes 4:1048576 --target 0.01
  nqm steps --optimizer momentum --hp lr=0.1 --hp beta=0.9 --batch-size 64
  nqm --spec-file my_opt.py derive --optimizer lookahead
Run 'nqm COMMAND --help' for a command's options.
""")
@click.version_option(package_name="nqm-toolkit", prog_name="nqm", message="%(prog)s %(version)s")
@spec_file_option
def main() -> None:
    """nqm-toolkit: theory, exact numerics and checks for the noisy quadratic model (Zhang et al. 2019)."""


@main.command(context_settings=CONTEXT_SETTINGS, epilog="""\b
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
    from nqm.theory._latex import latex_document

    from ._cli_values import optimizer_names

    names = optimizer_names(optimizers)
    refuse_overwrite([output], force)
    with status("deriving and checking every formula ...", quiet):
        text = latex_document(names or None)
    if output is None:
        click.echo(text, nl=False)
    else:
        write_output(output, text)
        click.echo(f"wrote {output}", err=True)


@main.command(context_settings=CONTEXT_SETTINGS, epilog="""\b
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
    from nqm.proofs._networks_validation import run_validation

    try:
        result = run_validation(out_dir, reduced=reduced, force=force, cache_dir=cache_dir, progress=not quiet)
    except (FileExistsError, ImportError) as exc:
        fail(str(exc))
    for claim in result.claims:
        click.echo(f"{claim['claim']}: network {claim['network']}, NQM {claim['nqm']}")
    click.echo(f"wrote {len(result.files)} files to {result.out_dir}")


from . import (  # noqa: E402
    _cli_conformance,
    _cli_derive,
    _cli_figures,
    _cli_montecarlo,
    _cli_proofs,
    _cli_report,
    _cli_sweep,
)

main.add_command(_cli_report.report)
main.add_command(_cli_derive.derive)
main.add_command(_cli_sweep.sweep)
main.add_command(_cli_sweep.critical)
main.add_command(_cli_sweep.steps)
main.add_command(_cli_montecarlo.montecarlo)
main.add_command(_cli_proofs.proofs)
main.add_command(_cli_proofs.verify)
main.add_command(_cli_conformance.conformance)
main.add_command(_cli_figures.figures)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
