"""Start-up: the command line's help and ``import nqm.numerics`` load no heavy library.

``nqm --help`` and every ``nqm COMMAND --help`` must not import sympy, matplotlib, hypothesis or
torch (they are loaded by the command bodies that need them, and :mod:`nqm.proofs` re-exports its
public names lazily, PEP 562); ``import nqm.numerics`` must not either. Each check runs in a fresh
interpreter and inspects ``sys.modules``. How long start-up takes is measured in
``benchmarks/bench_startup.py``, never asserted here.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import nqm.proofs
from nqm.proofs import _limits
from nqm.proofs.cli._main import COMMANDS as LAZY_COMMANDS

HEAVY = ("sympy", "matplotlib", "hypothesis", "torch")

#: every subcommand of ``nqm``, read from the click group (so a new command is covered too)
COMMANDS = sorted(LAZY_COMMANDS)


def _heavy_modules_after(code: str) -> list[str]:
    """The :data:`HEAVY` top-level packages in ``sys.modules`` after ``code`` ran in a fresh interpreter."""
    probe = f"""
import json, sys
{code}
print(json.dumps(sorted({{name.partition(".")[0] for name in sys.modules}} & {set(HEAVY)!r})))
"""
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def _help_code(args: list[list[str]]) -> str:
    """Code that runs ``nqm ARGS`` for each of ``args`` (all ``--help``) as the console script does."""
    return f"""
from nqm.proofs.cli._main import main
for args in {args!r}:
    try:
        main(args, prog_name="nqm")
    except SystemExit as exc:
        assert exc.code in (0, None), (args, exc.code)
"""


def test_commands_are_listed() -> None:
    assert {"derive", "latex", "report", "sweep", "critical", "steps", "montecarlo", "proofs", "verify",
            "conformance", "figures", "validate"} <= set(COMMANDS)


def test_help_imports_no_heavy_library() -> None:
    """``nqm --help``, ``nqm -h`` and ``nqm COMMAND --help`` for every command, in one fresh interpreter."""
    args = [["--help"], ["-h"]] + [[name, "--help"] for name in COMMANDS]
    assert _heavy_modules_after(_help_code(args)) == []


def test_help_loads_declarations_only() -> None:
    """Help loads each command's declaration, never its body (``cli._<command>_run``, ``cli._runtime``),
    the theory or the engine: those load when a command runs (``cli._common.call``)."""
    probe = _help_code([["--help"]] + [[name, "--help"] for name in COMMANDS]) + """
import json, sys
print(json.dumps(sorted(m for m in sys.modules if m.startswith(("nqm.theory", "nqm.numerics"))
                        or m.endswith("_run") or m == "nqm.proofs.cli._runtime")))
"""
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == []


@pytest.mark.parametrize("module", ["nqm.numerics", "nqm.proofs"])
def test_import_loads_no_heavy_library(module: str) -> None:
    assert _heavy_modules_after(f"import {module}") == []


def test_lazy_public_api_is_complete() -> None:
    """``from nqm.proofs import *`` binds every name of ``__all__`` (in a fresh interpreter, where nothing
    is loaded yet), to the object the defining submodule holds; other names raise AttributeError."""
    probe = """
import importlib, json
from nqm.proofs import *
import nqm.proofs
print(json.dumps([n for n in nqm.proofs.__all__
                  if globals().get(n, nqm) is not getattr(importlib.import_module("nqm.proofs." + nqm.proofs._EXPORTS[n]), n)]))
"""
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == []
    assert set(nqm.proofs.__all__) <= set(dir(nqm.proofs))
    with pytest.raises(AttributeError, match="no_such_name"):
        nqm.proofs.no_such_name  # noqa: B018


def test_help_limits_are_the_enforced_ones() -> None:
    """The names and bounds the help takes from :mod:`nqm.proofs._limits` are those the code enforces."""
    from nqm.numerics.validation import MAX_MONTE_CARLO_WORK
    from nqm.proofs.formulas import _verify as _formula
    from nqm.proofs.formulas import _parse as _safe_parse

    assert _limits.CONSTANT_NAMES == tuple(_safe_parse.CONSTANTS)
    assert _limits.FUNCTION_NAMES == tuple(_safe_parse.FUNCTIONS)
    assert _limits.QUANTITY_NAMES == tuple(_formula.QUANTITIES)
    assert _limits.MAX_MONTE_CARLO_WORK == MAX_MONTE_CARLO_WORK
