"""Each command declared in ``cli/_<name>.py`` runs in ``cli/_<name>_run.py`` (``cli._common.call``): the
declaration's options must be exactly the body's parameters, or the command fails only when run.
A command group (``nqm schedule``) is checked subcommand by subcommand."""

from __future__ import annotations

import dataclasses
import inspect

import click
import pytest

from nqm.proofs.cli._common import resolve
from nqm.proofs.cli._main import COMMANDS
from nqm.proofs.cli._sweep_run import SweepOptions


def _commands() -> list[tuple[str, click.Command]]:
    """(module of the declaration, command) of every command, a group's subcommands in its place."""
    out = []
    for name in sorted(COMMANDS):
        command = resolve(COMMANDS[name])
        module, _ = COMMANDS[name].split(":")
        subs = command.commands.values() if isinstance(command, click.Group) else [command]
        out += [(module, sub) for sub in subs]
    return out


@pytest.mark.parametrize(("module", "command"), _commands(), ids=lambda x: getattr(x, "name", None) or x)
def test_the_body_takes_exactly_the_declared_options(module: str, command: click.Command) -> None:
    assert isinstance(command, click.Command) and command.callback is not None
    body = resolve(f"{module}_run:{command.callback.__name__}")
    declared = {p.name for p in command.params if p.expose_value}
    parameters = inspect.signature(body).parameters
    taken = {n for n, p in parameters.items() if p.kind is not p.VAR_KEYWORD}
    if len(taken) < len(parameters):  # sweep and critical hand the rest on whole, as SweepOptions(**options)
        taken |= {field.name for field in dataclasses.fields(SweepOptions)}
    assert declared == taken
