"""Each command declared in ``cli/_<name>.py`` runs in ``cli/_<name>_run.py`` (``cli._common.call``): the
declaration's options must be exactly the body's parameters, or the command fails only when run."""

from __future__ import annotations

import inspect

import click
import pytest

from nqm.proofs.cli._common import resolve
from nqm.proofs.cli._main import COMMANDS

#: commands whose bodies still sit beside their declarations (cli/_sweep.py)
UNSPLIT = {"sweep", "critical", "steps"}


@pytest.mark.parametrize("name", sorted(set(COMMANDS) - UNSPLIT))
def test_the_body_takes_exactly_the_declared_options(name: str) -> None:
    command = resolve(COMMANDS[name])
    assert isinstance(command, click.Command)
    module, _ = COMMANDS[name].split(":")
    body = resolve(f"{module}_run:{command.callback.__name__}")
    declared = {p.name for p in command.params if p.expose_value}
    assert declared == set(inspect.signature(body).parameters)
