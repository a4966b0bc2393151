"""``--unbinned`` and ``--paper-noise``: every command that builds the paper's problem says which one
it used, and offers the noise-preserving binning as one option (cross-checked against the Python API)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import assert_one_line_error, run

import nqm.numerics as nn

#: the numeric commands that build the paper's problem, with minimal arguments
COMMANDS = {
    "sweep": ["sweep", "--optimizer", "sgd", "--grid", "lr=0.01:1:5", "--batch-sizes", "64", "--quiet", "--no-cache"],
    "critical": ["critical", "--optimizer", "sgd", "--grid", "lr=0.01:1:5", "--batch-sizes", "4,64,1024", "--quiet", "--no-cache"],
    "steps": ["steps", "--optimizer", "sgd", "--hp", "lr=0.1", "--batch-size", "64"],
    "montecarlo": ["montecarlo", "--optimizer", "sgd", "--hp", "lr=0.5", "--batch-size", "16", "--steps", "0:4:2", "--runs", "2",
                   "--quiet", "--no-cache"],
}


@pytest.mark.parametrize("command", COMMANDS)
def test_help_documents_both_problem_options(command: str) -> None:
    result = run(command, "--help")
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert "--unbinned" in text and "--paper-noise [binned|bin-mean]" in text
    assert "C = H on the binned curvatures" in text and "true mean noise" in text


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("flags, problem", [
    ([], nn.Problem.paper()),
    (["--paper-noise", "binned"], nn.Problem.paper()),
    (["--paper-noise", "bin-mean"], nn.Problem.paper(noise="bin-mean")),
    (["--unbinned"], nn.Problem.paper(binned=False)),
], ids=["default", "binned", "bin-mean", "unbinned"])
def test_the_output_names_the_problem_used(command: str, flags: list[str], problem: nn.Problem) -> None:
    result = run(*COMMANDS[command], *flags)
    assert result.exit_code == 0, (result.output, result.exception)
    assert problem.name in " ".join(result.stdout.split())


def test_bin_mean_steps_match_the_python_api(tmp_path: Path) -> None:
    out = tmp_path / "steps.json"
    result = run("steps", "--optimizer", "ema", "--hp", "lr=0.43", "--hp", "gamma=0.992", "--precond-power", "0.5",
                 "--batch-size", "1024", "--paper-noise", "bin-mean", "--output", out)
    assert result.exit_code == 0, (result.output, result.exception)
    (row,) = json.loads(out.read_text())["rows"]
    opt = nn.EMA(lr=0.43, gamma=0.992, precond_power=0.5)
    bin_mean, authors = nn.Problem.paper(noise="bin-mean"), nn.Problem.paper()
    want = nn.steps_to_target(bin_mean, opt, batch_size=1024, target=0.01)
    assert isinstance(want, int) and row["steps"] == want
    assert want != nn.steps_to_target(authors, opt, batch_size=1024, target=0.01)  # the option changes the answer


@pytest.mark.parametrize("args", [
    ["--paper-noise", "mean"],
    ["--paper-noise", "bin-mean", "--unbinned"],
])
def test_bad_problem_options_are_one_line_errors(args: list[str]) -> None:
    assert_one_line_error(run(*COMMANDS["steps"], *args))
