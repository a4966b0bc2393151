"""Shared helpers of the ``nqm`` command-line tests: a runner, the one-line-error check, a user spec file."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from nqm.proofs.cli._main import main
from nqm.theory import registered_names, unregister

#: the user spec written by :func:`spec_file`: SGD with weight decay ``wd`` towards the optimum,
#: theta' = (1 - wd) theta - lr (h theta + xi); with wd = 0 it is SGD
USER_SPEC = "cli_test_decay"


def run(*args: str) -> Result:
    """``nqm ARGS`` in-process (standard error kept apart)."""
    return CliRunner().invoke(main, [str(a) for a in args])


def assert_one_line_error(result: Result) -> None:
    """Exit status 2, exactly one non-empty line ``error: ...`` on standard error, no traceback."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output and result.stdout == ""
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test gets its own result cache and leaves no user spec registered."""
    monkeypatch.setenv("NQM_CACHE_DIR", str(tmp_path / "cache"))
    before = set(registered_names())
    yield
    for name in set(registered_names()) - before:
        unregister(name)


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    """A Python file defining one OptimizerSpec with a hyperparameter name no built-in has."""
    path = tmp_path / "decay.py"
    path.write_text(textwrap.dedent(f'''
        import sympy as sp
        from nqm.theory import LR, Hyperparameter, OptimizerSpec

        WD = Hyperparameter("wd", sp.Symbol("omega", real=True), 0.0, 1.0, True, False, "weight decay")


        def _update(grad, theta, lr, wd):
            return ((1 - wd) * theta - lr * grad(theta),)


        decay = OptimizerSpec.from_update("{USER_SPEC}", _update, state=("theta",), hyperparameters=(LR, WD),
                                          description="SGD with weight decay towards the optimum")
    '''))
    return path
