"""What the bodies of the ``nqm`` subcommands share: optimizer names checked against the registry,
the paper's problem, the executor of ``--workers``, and result tables written as CSV or JSON.

The option declarations these come from are in :mod:`._values` (light, for ``--help``); this
module imports the theory and the engine, and only command bodies import it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from nqm.numerics import Problem, open_executor, resolve_executor
from nqm.numerics.io import json_ready, records_csv
from nqm.theory import get_spec

from ._common import MAX_WORKERS, fail, write_output
from ._values import PAPER_NOISE_KEY

__all__ = ["executor", "one_optimizer", "optimizer_names", "paper_problem", "write_records"]


def optimizer_names(values: Sequence[str]) -> list[str]:
    """Registered optimizer names from repeatable, comma-separated values (each checked; fails in one line).

    No values at all is ``[]`` (the command's default); values that name nothing (``,,``) are refused."""
    names = [n.strip() for v in values for n in v.split(",") if n.strip()]
    if values and not names:
        fail(f"--optimizer: {','.join(values)!r} names no optimizer")
    for name in names:
        try:
            get_spec(name)
        except KeyError as exc:
            fail(f"--optimizer: {exc.args[0]}")
    return list(dict.fromkeys(names))


def one_optimizer(positional: str | None, option: str | None) -> str:
    """The one registered optimizer a command was given, as ``--optimizer NAME`` or as the positional
    NAME (the older form of ``derive``); fails in one line on none, both or an unknown name."""
    if positional is not None and option is not None:
        fail(f"give the optimizer once: --optimizer {option} or NAME {positional}, not both")
    if positional is None and option is None:
        fail("give an optimizer: --optimizer NAME")
    names = optimizer_names([positional if option is None else option])
    if len(names) != 1:
        fail(f"give one optimizer; got {', '.join(names)}")
    return names[0]


@contextmanager
def executor(workers: int | None) -> Iterator[Any]:
    """The ``executor=`` argument for ``--workers``: the count itself, by the toolkit's convention
    (:func:`nqm.numerics.resolve_executor`; ``None``, automatic, when not given), opened here
    so that every task of the command shares one pool."""
    if workers is None:
        yield None
        return
    with open_executor(resolve_executor(workers), MAX_WORKERS) as pool:
        yield pool or "serial"


def paper_problem(unbinned: bool) -> Problem:
    """The paper's problem (Section 3.1: h_i = 1/i, C = H, d = 10^4): :meth:`Problem.paper
    <nqm.numerics.Problem.paper>`, binned as the authors did unless ``unbinned``, with the bin noise
    that ``--paper-noise`` chose (read from the click context, where :func:`problem_option` left it)."""
    ctx = click.get_current_context(silent=True)
    noise = ctx.meta.get(PAPER_NOISE_KEY, "binned") if ctx is not None else "binned"
    if unbinned and noise != "binned":
        fail("--paper-noise chooses the noise of the binned problem; drop it or --unbinned")
    return Problem.paper(binned=not unbinned, noise=noise)


def write_records(path: Path, records: list[dict[str, Any]], meta: Mapping[str, Any]) -> None:
    """Write ``records`` by the file's extension: ``.csv`` (columns = the union of keys, in order;
    integral numbers as integers, :func:`~nqm.numerics.io.records_csv`)
    or ``.json`` (``{**meta, "rows": records}``, non-finite numbers as strings)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        write_output(path, records_csv(records))
    elif suffix == ".json":
        write_output(path, json.dumps(json_ready({**meta, "rows": records}), indent=2) + "\n")
    else:
        raise ValueError(f"--output: {path} must end in .csv or .json")  # TABLE_OUTPUT refuses it at parse time
