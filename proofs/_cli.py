"""The ``nqm`` command line."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """nqm-toolkit: theory, exact numerics and checks for the noisy quadratic model."""


@main.command()
def report() -> None:
    """Derive and print the paper's results for every built-in optimizer."""
    from nqm.theory import BUILTINS, derive

    for spec in BUILTINS:
        d = derive(spec)
        click.echo(f"{spec.name}: {spec.description} ({spec.reference})")
        click.echo(f"  characteristic polynomial: {d.characteristic_polynomial}")
        click.echo(f"  stationary risk:           {d.stationary_risk}")
        click.echo(f"  effective learning rate:   {d.effective_lr}")


@main.command()
@click.option(
    "--optimizer", "optimizers", multiple=True, metavar="NAME",
    help="A registered optimizer (repeatable); default: all of them.",
)
@click.option(
    "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Write the document to FILE instead of standard output.",
)
@click.option("--force", is_flag=True, help="Replace an existing --output file.")
def latex(optimizers: tuple[str, ...], output: Path | None, force: bool) -> None:
    """Write a LaTeX document (amsmath) of all derivations and the paper's results re-derived."""
    from nqm.theory import get_spec
    from nqm.theory._latex import latex_document

    for name in optimizers:
        try:
            get_spec(name)
        except KeyError as exc:
            raise click.BadParameter(exc.args[0], param_hint="--optimizer") from None
    if output is not None and output.exists() and not force:
        click.echo(f"error: {output} exists; pass --force to replace it", err=True)
        sys.exit(2)
    text = latex_document(list(optimizers) or None)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text)
        click.echo(f"wrote {output}", err=True)


@main.command()
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--reduced", is_flag=True, help="The small configuration the tests use (about 3 minutes).")
@click.option("--force", is_flag=True, help="Overwrite existing output files.")
@click.option("--cache-dir", type=click.Path(file_okay=False), default=None,
              help="Cache of finished digits searches (default: $NQM_CACHE_DIR/results).")
def validate(out_dir: Path, reduced: bool, force: bool, cache_dir: str | None) -> None:
    """Check the NQM against PyTorch networks; write CSV tables, PNG figures and report.md to OUT_DIR.

    Needs the torch extra. Finished digits searches are cached, so an interrupted run resumes.
    """
    from nqm.proofs._networks_validation import run_validation

    try:
        result = run_validation(out_dir, reduced=reduced, force=force, cache_dir=cache_dir)
    except (FileExistsError, ValueError, ImportError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    for claim in result.claims:
        click.echo(f"{claim['claim']}: network {claim['network']}, NQM {claim['nqm']}")
    click.echo(f"wrote {len(result.files)} files to {result.out_dir}")


from . import _cli_proofs  # noqa: E402

main.add_command(_cli_proofs.proofs)
main.add_command(_cli_proofs.verify)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
