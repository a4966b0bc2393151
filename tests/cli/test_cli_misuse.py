"""CLI misuse: every output option and every size is checked before any work, in one line, exit status 2.

Output places that fail for root too (the tests may run as root, which writes into read-only
folders): a folder that does not exist, a path under a regular file, a folder where a file is
expected (and a file where a folder is), and ``/proc`` (no new files there, whoever asks). The
error must be click's parse-time ``Invalid value`` (raised before the command's body runs, so
nothing was computed) and no output may appear.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import assert_one_line_error, run

from nqm.numerics.validation import MAX_BATCH_SIZES, MAX_GRID_POINTS, MAX_MONTE_CARLO_WORK
from nqm.proofs.cli._values import MAX_VALUES

TABLE = ("--batch-sizes", "4,16", "--grid", "lr=1e-3:1:5", "--no-cache", "--quiet")
MC_BASE = ("montecarlo", "--optimizer", "sgd", "--hp", "lr=0.1", "--batch-size", "4", "--steps", "10")
MC = (*MC_BASE, "--runs", "2", "--no-cache", "--quiet")

#: commands with an output FILE option; ``{}`` is replaced by the bad path
FILE_OUTPUTS = [
    ("latex", "--optimizer", "sgd", "--output", "{}"),
    ("derive", "sgd", "-o", "{}"),
    ("steps", "--optimizer", "sgd", "--hp", "lr=0.1", "--batch-size", "64", "-o", "{}"),
    ("sweep", "--optimizer", "sgd", *TABLE, "-o", "{}"),
    ("critical", "--optimizer", "sgd", *TABLE, "-o", "{}"),
    (*MC, "-o", "{}"),
    ("proofs", "--optimizer", "sgd", "--json", "{}"),
    ("proofs", "--optimizer", "sgd", "--latex", "{}"),
    ("conformance", "sgd", "--max-examples", "1", "--json", "{}"),
    ("schedule", "risk", "--optimizer", "sgd", "--hp", "lr=0.1", "--batch-size", "64", "--steps", "10", "-o", "{}"),
    ("schedule", "optimal", "--optimizer", "sgd", "--batch-size", "64", "--steps", "10", "-o", "{}"),
]
#: commands with an output FOLDER (created if missing)
DIR_OUTPUTS = [
    ("figures", "{}", "--only", "fig2"),
    ("validate", "{}", "--reduced"),
    ("report", "--out", "{}"),
    ("sweep", "--optimizer", "sgd", "--batch-sizes", "4,16", "--grid", "lr=1e-3:1:5", "--cache-dir", "{}"),
    (*MC_BASE, "--runs", "2", "--cache-dir", "{}"),
]


def _bad_files(tmp: Path) -> dict[str, Path]:
    regular = tmp / "regular.txt"
    regular.write_text("a file, not a folder\n")
    (tmp / "folder.csv").mkdir()
    bad = {"missing folder": tmp / "missing" / "x.csv", "under a file": regular / "x.csv", "a folder": tmp / "folder.csv"}
    if Path("/proc").is_dir():
        bad["no new files"] = Path("/proc/nqm-test-output.csv")
    return bad


def _bad_dirs(tmp: Path) -> dict[str, Path]:
    regular = tmp / "regular.txt"
    regular.write_text("a file, not a folder\n")
    bad = {"a file": regular, "under a file": regular / "sub" / "dir"}
    if Path("/proc").is_dir():
        bad["no new files"] = Path("/proc/nqm-test-output")
    return bad


def _fill(template: tuple[str, ...], path: Path) -> list[str]:
    return [str(path) if a == "{}" else a for a in template]


def _refused_at_parse_time(args: list[str]) -> str:
    result = run(*args)
    assert_one_line_error(result)
    assert "Invalid value for" in result.stderr, result.stderr  # a click parse error: the command body never ran
    return result.stderr


@pytest.mark.parametrize("template", FILE_OUTPUTS, ids=lambda t: " ".join(t[:2]) + " " + t[-2])
def test_unwritable_output_files_are_refused_before_any_work(template: tuple[str, ...], tmp_path: Path) -> None:
    for what, path in _bad_files(tmp_path).items():
        before = sorted(tmp_path.rglob("*"))
        message = _refused_at_parse_time(_fill(template, path))
        assert str(path.parent if what != "a folder" else path) in message, (what, message)
        assert sorted(tmp_path.rglob("*")) == before, what  # nothing written, no probe left behind
        assert what == "a folder" or not path.exists()


@pytest.mark.parametrize("template", DIR_OUTPUTS, ids=lambda t: " ".join(t[:2]))
def test_unwritable_output_folders_are_refused_before_any_work(template: tuple[str, ...], tmp_path: Path) -> None:
    for what, path in _bad_dirs(tmp_path).items():
        before = sorted(tmp_path.rglob("*"))
        _refused_at_parse_time(_fill(template, path))
        assert sorted(tmp_path.rglob("*")) == before, what


def test_a_table_output_needs_a_csv_or_json_name(tmp_path: Path) -> None:
    message = _refused_at_parse_time(["steps", "--optimizer", "sgd", "--hp", "lr=0.1", "--batch-size", "64",
                                      "-o", str(tmp_path / "table.txt")])
    assert "must end in .csv or .json" in message


def test_a_writable_output_is_accepted_and_leaves_only_the_output(tmp_path: Path) -> None:
    target = tmp_path / "steps.csv"
    result = run("steps", "--optimizer", "sgd", "--hp", "lr=0.1", "--batch-size", "64", "-o", str(target))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["steps.csv"]  # the write probe was removed


@pytest.mark.parametrize("value", [",,", ",", " , "])
@pytest.mark.parametrize("command", [("sweep", *TABLE), ("critical", *TABLE), ("latex",), ("proofs",)])
def test_an_optimizer_list_that_names_nothing_is_refused(command: tuple[str, ...], value: str) -> None:
    result = run(*command, "--optimizer", value)
    assert_one_line_error(result)
    assert "names no optimizer" in result.stderr


def test_a_grid_beyond_the_limit_is_refused_with_the_limit_stated() -> None:
    side = 10**6  # 10^12 points: a MemoryError traceback before the limit
    result = run("sweep", "--optimizer", "momentum", "--grid", f"lr=1e-8:10:{side}", "--grid", f"beta=1-log:1e-5:1:{side}",
                 "--batch-sizes", "4,16", "--no-cache")
    assert_one_line_error(result)
    assert f"{MAX_GRID_POINTS:,}" in result.stderr and "1,000,000,000,000 points" in result.stderr


@pytest.mark.parametrize("command", ["sweep", "critical"])
def test_too_many_batch_sizes_are_refused_with_the_limit_stated(command: str) -> None:
    """1:1e9:1.01 is 2,083 batch sizes, above MAX_BATCH_SIZES (before, the sweep ran them all)."""
    result = run(command, "--optimizer", "sgd", "--grid", "lr=0.1", "--batch-sizes", "1:1e9:1.01", "--no-cache")
    assert_one_line_error(result)
    assert f"batch_sizes must hold from 1 to {MAX_BATCH_SIZES:,} distinct numbers >= 1; got 2,083" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("sweep", "--grid", "lr=1e-8:10:1000000000000", "--batch-sizes", "4,16", "--no-cache"),
        ("sweep", "--batch-sizes", "1:1e12:1.0000001", "--no-cache"),
        ("montecarlo", "--optimizer", "sgd", "--hp", "lr=0.1", "--batch-size", "4", "--steps", "0:1000000000000:1"),
    ],
    ids=["grid axis", "batch sizes", "reported steps"],
)
def test_a_list_option_beyond_the_limit_is_refused_before_allocating(args: tuple[str, ...]) -> None:
    result = run(*args)
    assert_one_line_error(result)
    assert f"at most {MAX_VALUES:,}" in result.stderr


@pytest.mark.parametrize("runs", ["100000000000000000000", "1e20"])
def test_monte_carlo_runs_are_bounded(runs: str) -> None:
    result = run(*MC_BASE, "--runs", runs)
    assert_one_line_error(result)
    assert runs == "1e20" or f"at most {MAX_MONTE_CARLO_WORK:.0e}" in result.stderr


def test_outputs_are_written_whole_or_not_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from nqm.proofs.cli import _common as _cli_common

    target = tmp_path / "table.csv"
    _cli_common.write_output(target, "a,b\n1,2\n")
    mask = os.umask(0)
    os.umask(mask)
    assert target.read_text() == "a,b\n1,2\n" and target.stat().st_mode & 0o777 == 0o666 & ~mask
    target.chmod(0o640)  # replacing keeps the file's mode

    def interrupted(src: str, dst: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(_cli_common.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _cli_common.write_output(target, "new text")
    assert target.read_text() == "a,b\n1,2\n"  # the old file is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.csv"]  # and no partial file is left
    monkeypatch.undo()
    _cli_common.write_output(target, "new text")
    assert target.read_text() == "new text" and target.stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize(
    "args",
    [("sweep", "--batch-sizes", "4,16", "--no-cache", "--workers"), (*MC, "--workers"), ("figures", "{}", "--jobs")],
    ids=["sweep --workers", "montecarlo --workers", "figures --jobs"],
)
def test_worker_processes_are_bounded(args: tuple[str, ...], tmp_path: Path) -> None:
    from nqm.proofs.cli._common import MAX_WORKERS

    result = run(*_fill(args, tmp_path / "figs"), str(MAX_WORKERS + 1))
    assert_one_line_error(result)
    assert f"<={MAX_WORKERS}" in result.stderr
    assert not (tmp_path / "figs").exists()


@pytest.mark.parametrize(
    "args",
    [
        ("sweep", "--grid", "lr=1e-3:1:inf", "--batch-sizes", "4,16", "--no-cache"),
        (*MC_BASE[:-2], "--steps", "inf"),
        (*MC_BASE[:-2], "--steps", "0:inf:1"),
        (*MC_BASE[:-2], "--steps", "0:10:inf"),
    ],
    ids=["grid points", "steps", "steps range end", "steps interval"],
)
def test_infinite_counts_are_one_line_errors(args: tuple[str, ...]) -> None:
    result = run(*args)
    assert_one_line_error(result)
    assert "inf" in result.stderr


def test_step_digits_are_read_exactly() -> None:
    from nqm.proofs.cli._values import parse_steps

    assert parse_steps(str(2**53 + 1)).tolist() == [2**53 + 1]  # not 2**53
