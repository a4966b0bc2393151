"""Conventions of every ``nqm`` subcommand: useful --help, one-line usage errors with exit status 2,
no silent overwrite, --spec-file loading, and a progress bar only for long work."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from conftest import USER_SPEC, assert_one_line_error, run

from nqm.proofs.cli import _common as _cli_common
from nqm.proofs.cli._main import main
from nqm.proofs.cli._common import progress_wrapper
from nqm.proofs.cli._specfile import load_spec_file
from nqm.theory import get_spec

#: subcommands written to the conventions, with an Examples section in their help
DOCUMENTED = ("derive", "sweep", "critical", "steps", "montecarlo", "proofs", "verify", "latex", "validate", "schedule")


@pytest.mark.parametrize("name", sorted(main.commands))
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_on_every_subcommand(name: str, flag: str) -> None:
    result = run(name, flag)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Usage: main {name}") or result.stdout.startswith(f"Usage: nqm {name}")
    if name in DOCUMENTED:
        assert "Examples:" in result.stdout and f"nqm {name}" in result.stdout


def test_group_help_lists_the_commands() -> None:
    result = run("--help")
    assert result.exit_code == 0
    for name in DOCUMENTED:
        assert name in result.stdout


SMALL = ("--batch-sizes", "4,16", "--no-cache")
BAD_USAGE = [
    ("nope",),
    ("--bogus",),
    ("derive",),
    ("derive", "nope"),
    ("derive", "sgd", "--bogus"),
    ("derive", "sgd", "--latex", "--output"),
    ("sweep", "--optimizer", "nope", *SMALL),
    ("sweep", "--batch-sizes", "8:4"),
    ("sweep", "--batch-sizes", "0,4"),
    ("sweep", "--batch-sizes", "4,x"),
    ("sweep", "--grid", "lr=1:0:0", *SMALL),
    ("sweep", "--grid", "lr", *SMALL),
    ("sweep", "--grid", "lr=0:1:5", *SMALL),
    ("sweep", "--hp", "foo=1", *SMALL),  # unknown hyperparameter: ValueError from the Python API
    ("sweep", "--target", "-1", *SMALL),  # ValueError from the Python API
    ("sweep", "--target", "x", *SMALL),
    ("sweep", "--output", "table.txt", *SMALL),
    ("sweep", "--workers", "-1", *SMALL),
    ("critical", "--precond-power", "2", *SMALL),  # ValueError from the Python API
    ("critical", "--optimizer", "sgd,nope", *SMALL),
    ("steps", "--optimizer", "sgd", "--hp", "lr=0.1"),
    ("steps", "--optimizer", "sgd", "--hp", "lr=abc", "--batch-size", "4"),
    ("steps", "--optimizer", "momentum", "--hp", "lr=0.1", "--batch-size", "64"),  # missing beta
    ("steps", "--optimizer", "momentum", "--hp", "lr=0.1", "--hp", "beta=1.5", "--batch-size", "64"),
    ("steps", "--hp", "lr=0.1", "--batch-size", "64"),
    ("montecarlo", "--optimizer", "sgd", "--hp", "lr=0.1", "--batch-size", "0.5"),
    ("montecarlo", "--optimizer", "sgd", "--hp", "lr=0.1", "--batch-size", "4", "--runs", "1"),
    ("montecarlo", "--optimizer", "sgd", "--hp", "lr=0.1", "--batch-size", "4", "--steps", "5:1:1"),
    ("montecarlo", "--optimizer", "sgd", "--hp", "lr=0.1", "--batch-size", "4", "--seed", "-3"),
    ("proofs", "--bogus"),
    ("proofs", "--optimizer", "nope"),
    ("verify", "--optimizer", "momentum", "--quantity", "stationary_risk"),
    ("latex", "--optimizer", "nope"),
    ("validate",),
    ("--spec-file", "/nonexistent/spec.py", "derive", "sgd"),
]


@pytest.mark.parametrize("args", BAD_USAGE, ids=" ".join)
def test_bad_flags_and_values_are_one_line_exit_2(args: tuple[str, ...]) -> None:
    assert_one_line_error(run(*args))


def test_usage_errors_point_at_the_subcommand_help() -> None:
    result = run("sweep", "--bogus")
    assert "try 'nqm sweep --help'" in result.stderr or "try 'main sweep --help'" in result.stderr


OUTPUTS = [
    ("derive", "sgd", "--json", "--output", "{path}.json"),
    ("sweep", "--optimizer", "sgd", *SMALL, "--output", "{path}.csv"),
    ("critical", "--optimizer", "sgd", *SMALL, "--output", "{path}.json"),
    ("steps", "--optimizer", "sgd", "--hp", "lr=0.1", "--batch-size", "16", "--output", "{path}.csv"),
    ("montecarlo", "--optimizer", "sgd", "--hp", "lr=0.1", "--batch-size", "16", "--steps", "3", "--runs", "2",
     "--output", "{path}.json"),
    ("latex", "--optimizer", "sgd", "--output", "{path}.tex"),
    ("proofs", "--optimizer", "sgd", "--json", "{path}.json"),
]


@pytest.mark.parametrize("template", OUTPUTS, ids=lambda t: t[0])
def test_outputs_are_never_silently_overwritten(template: tuple[str, ...], tmp_path: Path) -> None:
    args = [a.format(path=tmp_path / "out") for a in template]
    target = Path(args[-1])
    target.write_text("keep me")
    refused = run(*args)
    assert_one_line_error(refused)
    assert "--force" in refused.stderr and str(target) in refused.stderr
    assert target.read_text() == "keep me"
    forced = run(*args, "--force")
    assert forced.exit_code == 0, forced.output
    assert target.read_text() != "keep me"


def test_spec_file_problems_are_one_line_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("this is not python\n")
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    for path in (broken, empty):
        result = run("--spec-file", path, "derive", "sgd")
        assert_one_line_error(result)
        assert path.name in result.stderr


def test_spec_file_is_idempotent_and_refuses_a_different_spec_of_the_same_name(spec_file: Path, tmp_path: Path) -> None:
    assert load_spec_file(spec_file) == [USER_SPEC]
    assert load_spec_file(spec_file) == [USER_SPEC]  # the same file again: no error
    spec = get_spec(USER_SPEC)
    assert spec.hyperparameters[1].name == "wd"
    other = tmp_path / "other.py"
    other.write_text(spec_file.read_text().replace("(1 - wd) * theta", "(1 - 2 * wd) * theta"))
    with pytest.raises(ValueError, match="already registered"):
        load_spec_file(other)


def test_spec_file_with_a_specs_list(tmp_path: Path, spec_file: Path) -> None:
    listed = tmp_path / "listed.py"
    listed.write_text(spec_file.read_text().replace("\ndecay = ", "\nSPECS = [") + "]\n")
    listed.write_text(listed.read_text().replace('optimum")\n]', 'optimum")]'))
    assert load_spec_file(listed) == [USER_SPEC]


def test_progress_wrapper_is_silent_when_quiet() -> None:
    assert progress_wrapper("work", quiet=True) is None  # off a terminal it prints lines: tests/proofs/test_style_progress.py


def test_progress_wrapper_shows_a_bar_on_a_terminal_and_passes_items_through(monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.console import Console

    sink = io.StringIO()
    monkeypatch.setattr(_cli_common, "_stderr_console", lambda: Console(file=sink, force_terminal=True, width=80))
    monkeypatch.setattr(_cli_common, "PROGRESS_DELAY", 0.0)
    wrap = progress_wrapper("work", quiet=False)
    assert wrap is not None
    import time

    items = []
    for item in wrap(range(5), 5):
        items.append(item)
        for _ in range(500):  # wait (up to 5 s) for the display thread to draw
            if sink.getvalue():
                break
            time.sleep(0.01)
    assert items == list(range(5))
    assert "work" in sink.getvalue()
    assert progress_wrapper("work", quiet=True) is None
