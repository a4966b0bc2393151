"""The ``nqm`` command line."""

from __future__ import annotations

import sys

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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
