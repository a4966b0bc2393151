"""The bodies of ``nqm proofs`` and ``nqm verify`` (declared in :mod:`._proofs`); each returns the exit status."""

from __future__ import annotations

from pathlib import Path

import click

from nqm.proofs.claims import proof_table, run_all, summary, write_json, write_latex
from nqm.proofs.formulas import verify_formula

from ._common import fail, refuse_overwrite, status
from ._runtime import optimizer_names
from ._values import console_for_tables

#: exit status of ``nqm verify`` per verdict
_VERDICT_EXIT = {"equal": 0, "not equal": 1, "unknown": 3}


def proofs(json_path: Path | None, latex_path: Path | None, optimizers: tuple[str, ...], force: bool, quiet: bool) -> int:
    """Run the proofs about ``optimizers`` (default: all), print the table, write JSON / LaTeX if asked;
    0 if every proof passes, else 1."""
    names = optimizer_names(optimizers)
    if json_path is not None and latex_path is not None and json_path.resolve() == latex_path.resolve():
        fail("--json and --latex must name different files")
    refuse_overwrite([json_path, latex_path], force)
    with status("running proofs ...", quiet) as update:
        results = run_all(names or None, progress=lambda r: update(f"{r.name}: {r.outcome}"))
    console_for_tables().print(proof_table(results))
    click.echo(summary(results))
    if json_path is not None:
        click.echo(f"wrote {write_json(results, json_path, overwrite=force)}", err=True)
    if latex_path is not None:
        click.echo(f"wrote {write_latex(results, latex_path, overwrite=force)}", err=True)
    return 0 if all(r.ok for r in results) else 1


def verify(formula: str, optimizer: str, quantity: str, precondition: bool, samples: int, seed: int, syntax: str,
           symbolic_seconds: float) -> int:
    """:func:`nqm.proofs.formulas.verify_formula`, printed; the exit status of its verdict (:data:`_VERDICT_EXIT`)."""
    optimizer_names([optimizer])
    try:
        result = verify_formula(formula, optimizer=optimizer, quantity=quantity, precondition=precondition,
                                samples=samples, seed=seed, syntax=syntax, symbolic_seconds=symbolic_seconds)
    except ValueError as exc:
        fail(str(exc).splitlines()[0])
    click.echo(str(result))
    return _VERDICT_EXIT[result.verdict]
