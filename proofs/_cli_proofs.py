"""The ``nqm proofs`` and ``nqm verify`` commands (registered on the ``nqm`` group in :mod:`._cli`).

Exit codes:

* ``nqm proofs``: 0 if every proof passes, 1 if any fails, 2 on a usage error (bad flag,
  unknown optimizer, an output file that exists without ``--force``);
* ``nqm verify``: 0 equal, 1 not equal, 3 unknown, 2 on a usage error (bad flag, unknown
  optimizer or quantity, unparsable formula).

Usage errors print one line, ``error: ...``, on standard error (no traceback).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ._formula import QUANTITIES

__all__ = ["proofs", "verify"]


class UsageLine(click.ClickException):
    """A usage error shown as one line on standard error, exit status 2."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


class OneLineCommand(click.Command):
    """A command whose parsing errors (unknown flag, missing or invalid value) are one line, exit 2."""

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any) -> click.Context:
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as exc:
            raise UsageLine(exc.format_message()) from None


def _optimizer_names(values: tuple[str, ...]) -> list[str]:
    from nqm.theory import get_spec

    names = [n.strip() for v in values for n in v.split(",") if n.strip()]
    for name in names:
        try:
            get_spec(name)
        except KeyError as err:
            raise UsageLine(f"--optimizer: {err.args[0]}") from None
    return names


@click.command("proofs", cls=OneLineCommand)
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the results as JSON to FILE.")
@click.option("--latex", "latex_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write a LaTeX appendix (amsmath) to FILE.")
@click.option("--optimizer", "optimizers", multiple=True, metavar="NAME",
              help="Only proofs about these registered optimizers (repeatable or comma-separated); default: all.")
@click.option("--force", is_flag=True, help="Replace existing output files.")
@click.pass_context
def proofs(ctx: click.Context, json_path: Path | None, latex_path: Path | None, optimizers: tuple[str, ...], force: bool) -> None:
    """Run every machine-checked proof: print a table, optionally write JSON and a LaTeX appendix.

    Exits 1 if any proof fails, 2 on a usage error.
    """
    from rich.console import Console

    from ._proof_report import proof_table, summary, write_json, write_latex
    from ._prover import run_all

    names = _optimizer_names(optimizers)
    if json_path is not None and latex_path is not None and json_path.resolve() == latex_path.resolve():
        raise UsageLine("--json and --latex must name different files")
    for flag, path in (("--json", json_path), ("--latex", latex_path)):
        if path is not None and path.exists() and not force:
            raise UsageLine(f"{flag}: {path} exists; pass --force to replace it")
    console = Console()
    if not console.is_terminal:  # files and pipes get a table wide enough for the proof names
        console = Console(width=max(console.width, 120))
    with console.status("running proofs ...") as status:
        results = run_all(names or None, progress=lambda r: status.update(f"{r.name}: {r.outcome}"))
    console.print(proof_table(results))
    click.echo(summary(results))
    if json_path is not None:
        click.echo(f"wrote {write_json(results, json_path, overwrite=force)}", err=True)
    if latex_path is not None:
        click.echo(f"wrote {write_latex(results, latex_path, overwrite=force)}", err=True)
    ctx.exit(0 if all(r.ok for r in results) else 1)


_VERDICT_EXIT = {"equal": 0, "not equal": 1, "unknown": 3}


@click.command("verify", cls=OneLineCommand)
@click.argument("formula")
@click.option("--optimizer", required=True, metavar="NAME", help="A registered optimizer.")
@click.option("--quantity", required=True, type=click.Choice(list(QUANTITIES)), help="The derived quantity.")
@click.option("--precondition", is_flag=True, help="Check the P = H^p preconditioned version (adds p).")
@click.option("--samples", type=click.IntRange(min=1), default=20, show_default=True, help="Random points compared.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random points.")
@click.option("--syntax", type=click.Choice(["auto", "sympy", "latex"]), default="auto", show_default=True,
              help="How FORMULA is written (auto: LaTeX if it has a backslash or brace).")
@click.pass_context
def verify(ctx: click.Context, formula: str, optimizer: str, quantity: str, precondition: bool, samples: int, seed: int,
           syntax: str) -> None:
    """Check that FORMULA equals a derived quantity: equal (exit 0), not equal with a counterexample (1), unknown (3).

    FORMULA is sympy syntax (alpha, beta, gamma, nu, h, c, B, p, t, k, z, r1, r2, x = alpha*h, s0)
    or LaTeX; put it after `--` if it starts with a minus sign. Exit 2 on a usage error.
    """
    from nqm.theory import get_spec

    from ._formula import verify_formula

    try:
        get_spec(optimizer)
    except KeyError as err:
        raise UsageLine(f"--optimizer: {err.args[0]}") from None
    try:
        result = verify_formula(formula, optimizer=optimizer, quantity=quantity, precondition=precondition,
                                samples=samples, seed=seed, syntax=syntax)
    except ValueError as exc:
        raise UsageLine(str(exc).splitlines()[0]) from None
    click.echo(str(result))
    ctx.exit(_VERDICT_EXIT[result.verdict])
