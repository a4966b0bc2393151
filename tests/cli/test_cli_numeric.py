"""``nqm sweep``, ``critical``, ``steps`` and ``montecarlo`` on the paper's problem, cross-checked
against the Python API (computed independently here: ``tune`` per batch size, ``steps_to_target``,
``expected_risk``, ``monte_carlo``)."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import USER_SPEC, run

import nqm.numerics as nn
from nqm.proofs.cli._values import parse_batch_sizes, parse_grid, parse_steps

PAPER = nn.Problem.paper()


def _ok(*args: object):
    result = run(*args)
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def test_batch_size_grid_and_steps_syntax() -> None:
    assert parse_batch_sizes("4:1048576").tolist() == [2.0**k for k in range(2, 21)]
    assert parse_batch_sizes("4:1048576:4").tolist() == [4.0**k for k in range(1, 11)]
    assert parse_batch_sizes("4:100").tolist() == [4.0, 8.0, 16.0, 32.0, 64.0]
    assert parse_batch_sizes("4, 64,1024").tolist() == [4.0, 64.0, 1024.0]
    name, axis = parse_grid("lr=1e-8:10:100")
    assert name == "lr" and axis.size == 100 and axis[0] == pytest.approx(1e-8) and axis[-1] == pytest.approx(10)
    assert np.allclose(np.diff(np.log(axis)), np.log(1e9) / 99)
    assert np.allclose(parse_grid("beta=1-log:1e-5:1:20")[1], 1 - np.logspace(-5, 0, 20))
    assert parse_grid("beta=lin:0:0.5:3")[1].tolist() == [0.0, 0.25, 0.5]
    assert parse_grid("beta=0,0.9")[1].tolist() == [0.0, 0.9]
    assert parse_steps("0:100:30").tolist() == [0, 30, 60, 90, 100]
    assert parse_steps("7").tolist() == [7]


def test_sweep_table_csv_and_json_match_tune(tmp_path: Path) -> None:
    Bs = [4.0, 256.0]
    out_csv, out_json = tmp_path / "sweep.csv", tmp_path / "sweep.json"
    result = _ok("sweep", "--optimizer", "sgd", "--precond-power", "0", "--precond-power", "0.5", "--batch-sizes", "4,256",
                 "--output", out_csv)
    assert "McCandlish" in result.stdout and "2x perfect scaling" in result.stdout
    rows = list(csv.DictReader(out_csv.open()))
    assert [(float(r["precond_power"]), float(r["batch_size"])) for r in rows] == [(0, 4), (0, 256), (0.5, 4), (0.5, 256)]
    for r in rows:
        tuned = nn.tune(PAPER, "sgd", batch_size=float(r["batch_size"]), target=0.01, precond_power=float(r["precond_power"]))
        assert float(r["steps"]) == tuned.steps
        assert float(r["lr"]) == tuned.hyperparameters["lr"]
        assert str(tuned.steps) in result.stdout
    _ok("sweep", "--optimizer", "sgd", "--batch-sizes", "4,256", "--output", out_json)
    doc = json.loads(out_json.read_text())
    (sweep,) = doc["sweeps"]
    assert sweep["optimizer"] == "sgd" and [r["batch_size"] for r in sweep["rows"]] == Bs
    expected = nn.critical_batch_sizes(Bs, [float(r["steps"]) for r in rows[:2]])
    assert sweep["critical_batch_size"]["B_crit_mccandlish"] == pytest.approx(expected.mccandlish.B_crit, rel=1e-12)


def test_sweep_with_grid_and_fixed_hyperparameter() -> None:
    result = _ok("sweep", "--optimizer", "momentum", "--grid", "lr=1e-3:1:7", "--hp", "beta=0.9", "--batch-sizes", "64",
                 "--quiet", "--no-cache")
    tuned = nn.tune(PAPER, "momentum", batch_size=64, target=0.01, grid={"lr": np.geomspace(1e-3, 1, 7)}, beta=0.9)
    assert str(tuned.steps) in result.stdout


def test_critical_json_matches_the_two_definitions(tmp_path: Path) -> None:
    out = tmp_path / "crit.json"
    result = _ok("critical", "--optimizer", "sgd", "--batch-sizes", "4:4096:4", "--output", out)
    assert "B_crit = E_min/S_min" in result.stdout and "S(B)*B = 2*S(B0)*B0" in result.stdout
    doc = json.loads(out.read_text())
    (row,) = doc["rows"]
    Bs = [4.0**k for k in range(1, 7)]
    steps = [nn.tune(PAPER, "sgd", batch_size=B, target=0.01).steps for B in Bs]
    fit = nn.mccandlish_fit(Bs, steps)
    assert row["B_crit_mccandlish"] == pytest.approx(fit.B_crit, rel=1e-12)
    assert row["S_min"] == pytest.approx(fit.S_min, rel=1e-12) and row["E_min"] == pytest.approx(fit.E_min, rel=1e-12)
    assert row["B_crit_perfect_scaling_2x"] == pytest.approx(nn.perfect_scaling_breakdown(Bs, steps), rel=1e-12)


def test_critical_batch_sizes_have_one_spelling_in_every_output(tmp_path: Path) -> None:
    """``nqm critical``'s CSV and JSON, ``nqm sweep``'s JSON and the Python tables share the column names (before:
    the CLI wrote fit_rms_relative_error and no target, the tables had no reason, the JSON definitions and Sweep JSON
    said mccandlish / perfect_scaling_2x, the network validation two_x)."""
    small = ("--optimizer", "sgd", "--batch-sizes", "4,16,64", "--grid", "lr=0.01:1:5", "--workers", "0", "--quiet")
    _ok("critical", *small, "--output", tmp_path / "c.csv")
    _ok("critical", *small, "--output", tmp_path / "c.json")
    _ok("sweep", *small, "--output", tmp_path / "s.json")
    with (tmp_path / "c.csv").open(newline="") as fh:
        (cli_csv,) = list(csv.DictReader(fh))
    cli_json = json.loads((tmp_path / "c.json").read_text())
    (sweep_json,) = json.loads((tmp_path / "s.json").read_text())["sweeps"]
    table = nn.sweeps(PAPER, ["sgd"], batch_sizes=[4, 16, 64], target=0.01, grid={"lr": np.geomspace(0.01, 1, 5)},
                      executor="serial")
    crit = table[0].critical_batch_sizes()
    mccandlish, two_x = "B_crit_mccandlish", "B_crit_perfect_scaling_2x"
    fit = ["S_min", "E_min", mccandlish, "rms_relative_error", two_x, "reason"]
    assert list(cli_csv) == list(cli_json["rows"][0]) == ["optimizer", "precond_power", "target", *fit]
    assert table.to_csv(table="critical").splitlines()[0] == ",".join(["optimizer", "precond_power", "target", *fit])
    assert crit.to_csv().splitlines()[0] == ",".join(fit) and list(sweep_json["critical_batch_size"]) == fit
    assert list(cli_json["definitions"]) == [mccandlish, two_x] == list(nn.CriticalBatchSizes.DEFINITIONS)
    assert float(cli_csv[mccandlish]) == pytest.approx(crit.mccandlish.B_crit, rel=1e-12)
    assert float(cli_json["rows"][0][two_x]) == pytest.approx(crit.perfect_scaling_2x, rel=1e-12)  # "inf" here


def test_steps_matches_steps_to_target(tmp_path: Path) -> None:
    out = tmp_path / "steps.json"
    _ok("steps", "--optimizer", "momentum", "--hp", "lr=0.1", "--hp", "beta=0.9", "--batch-size", "64,1024",
        "--output", out)
    rows = json.loads(out.read_text())["rows"]
    opt = nn.Momentum(lr=0.1, beta=0.9)
    for r, B in zip(rows, (64, 1024)):
        exact = nn.steps_to_target(PAPER, opt, batch_size=B, target=0.01)
        assert (r["steps"] == "inf") if math.isinf(exact) else (r["steps"] == exact)
        assert r["stationary_risk"] == pytest.approx(float(nn.stationary_risk(PAPER, opt, batch_size=B)), rel=1e-12)


def test_montecarlo_matches_the_engine_with_the_same_default_simulation(tmp_path: Path) -> None:
    """The command's default simulation is monte_carlo's (per-coordinate on the paper's problem): the same numbers
    (before: the command simulated one coordinate per bin by default, Python every coordinate)."""
    out = tmp_path / "mc.csv"
    result = _ok("montecarlo", "--optimizer", "sgd", "--hp", "lr=0.5", "--batch-size", "16", "--steps", "0:20:10",
                 "--runs", "4", "--seed", "3", "--output", out)
    assert "max |z|" in result.stdout
    rows = list(csv.DictReader(out.open()))
    steps = [int(r["step"]) for r in rows]
    assert steps == [0, 10, 20]
    opt = nn.SGD(lr=0.5)
    exact = nn.expected_risk(PAPER, opt, batch_size=16, steps=np.array(steps))
    mc = nn.monte_carlo(PAPER, opt, batch_size=16, steps=20, runs=4, seed=3)  # the defaults of both
    assert mc.simulate == "per-coordinate" and "per-coordinate: 10,000 simulated coordinates" in " ".join(result.stdout.split())
    # the cheaper simulation is named: one coordinate per non-empty bin of the paper's problem
    bins = int(np.count_nonzero(PAPER.weights))
    assert f"(--simulate per-bin: {bins}, the same expected risk, " in " ".join(result.stdout.split())
    for r, e, t in zip(rows, exact, steps):
        assert float(r["exact"]) == pytest.approx(e, rel=1e-12)
        assert float(r["mc_mean"]) == pytest.approx(mc.mean[t], rel=1e-12)
        assert float(r["mc_stderr"]) == pytest.approx(mc.stderr[t], rel=1e-12)


def test_user_spec_in_sweep_and_steps(spec_file: Path) -> None:
    # with wd = 0 the user spec is SGD; its own Python-API numbers are computed independently of the CLI
    result = _ok("sweep", "--spec-file", spec_file, "--optimizer", USER_SPEC, "--hp", "wd=0", "--grid", "lr=1e-3:1.9:30",
                 "--batch-sizes", "16")
    tuned = nn.tune(PAPER, "sgd", batch_size=16, target=0.01, grid={"lr": np.geomspace(1e-3, 1.9, 30)})
    assert str(tuned.steps) in result.stdout
    out = spec_file.parent / "steps.json"
    _ok("--spec-file", spec_file, "steps", "--optimizer", USER_SPEC, "--hp", "lr=0.5", "--hp", "wd=0.001",
        "--batch-size", "1024", "--output", out)
    (row,) = json.loads(out.read_text())["rows"]
    user = nn.optimizer(USER_SPEC, lr=0.5, wd=0.001)
    assert row["steps"] == nn.steps_to_target(PAPER, user, batch_size=1024, target=0.01)
