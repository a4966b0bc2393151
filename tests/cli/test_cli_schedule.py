"""``nqm schedule risk`` and ``nqm schedule optimal``: the schedule syntax (a whitelist, never
evaluated), outputs equal to the Python API's on the paper's problem, and misuse in one line."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import USER_SPEC, assert_one_line_error, run

import nqm.numerics as nn
from nqm.numerics import schedules
from nqm.proofs.cli._schedule import ScheduleArg, parse_schedule
from nqm.proofs.cli._schedule_run import examples_at

PAPER = nn.Problem.paper()


def _ok(*args: object):
    result = run(*args)
    assert result.exit_code == 0, (result.output, result.exception)
    return result


# ---------------------------------------------------------------------- the syntax
def test_schedule_syntax() -> None:
    assert parse_schedule("lr=0.5") == ScheduleArg("lr", number=0.5)
    assert parse_schedule(" beta = 1e-1 ") == ScheduleArg("beta", number=0.1)
    assert parse_schedule("lr=wsd") == ScheduleArg("lr", preset="wsd")
    assert parse_schedule("lr=wsd:cooldown=0.2,shape=1-sqrt") == ScheduleArg(
        "lr", preset="wsd", keys=(("cooldown", 0.2), ("shape", "1-sqrt")))
    assert parse_schedule("batch_size=step:boundaries=1000/2000,factor=2") == ScheduleArg(
        "batch_size", preset="step", keys=(("boundaries", (1000.0, 2000.0)), ("factor", 2.0)))
    assert parse_schedule("lr=wsd:cooldown=0.2,shape=1-sqrt").text() == "lr=wsd:cooldown=0.2,shape=1-sqrt"


@pytest.mark.parametrize("text", [
    "lr", "lr=", "=wsd", "lr=wsd:", "lr=wsd:cooldown", "lr=wsd:cooldown=", "lr=wsd:a=1,a=2", "lr=wsd:a=1,,b=2",
    "lr=1+1", "lr=nan", "lr=inf", "lr=__import__('os').system('true')", "lr=wsd:a=(1)", "lr=wsd:a=1/x",
    "lr=wsd:a=inf", "l r=1", "lr=os.system",
])
def test_malformed_schedules_are_refused_by_the_parser(text: str) -> None:
    with pytest.raises(ValueError):
        parse_schedule(text)


def test_examples_are_the_sum_of_batch_sizes_before_each_step() -> None:
    sizes = [4.0, 4.0, 8.0, 8.0, 8.0, 32.0]
    steps = np.arange(7)
    expected = np.concatenate([[0.0], np.cumsum(sizes)])  # E(t) = sum of B_s for s < t, by definition
    assert examples_at(schedules.per_step(sizes), 6, steps).tolist() == expected.tolist()
    assert examples_at(schedules.piecewise([4, 8, 32], [2, 5]), 6, steps).tolist() == expected.tolist()
    assert examples_at(64.0, 6, steps).tolist() == (64.0 * steps).tolist()


# ---------------------------------------------------------------------- outputs equal the API's
def test_risk_under_wsd_and_a_batch_ramp_equals_scheduled_risk(tmp_path: Path) -> None:
    out = tmp_path / "risk.json"
    result = _ok("schedule", "risk", "--optimizer", "momentum", "--hp", "lr=0.3", "--hp", "beta=0.9",
                 "--schedule", "lr=wsd:cooldown=0.3,shape=1-sqrt", "--schedule", "batch_size=batch_doubling:factor=4",
                 "--batch-size", "64", "--steps", "1000", "--at", "0:1000:250", "-o", out)
    doc = json.loads(out.read_text())
    steps = np.array([0, 250, 500, 750, 1000])
    lr, batch = schedules.wsd(0.3, cooldown=0.3, shape="1-sqrt"), schedules.batch_doubling(64.0, factor=4.0)
    expected = nn.scheduled_risk(PAPER, nn.Momentum(lr=0.3, beta=0.9), steps=steps, horizon=1000,
                                 schedule={"lr": lr, "batch_size": batch})
    assert [row["step"] for row in doc["rows"]] == steps.tolist()
    assert [row["risk"] for row in doc["rows"]] == expected.tolist()
    sizes = batch.values(1000)  # 64 until 500, 256 until 750, 1024 after
    assert [row["examples"] for row in doc["rows"]] == [float(sizes[:t].sum()) for t in steps]
    assert f"{expected[-1]:.6g}" in result.stdout


def test_a_user_specs_own_hyperparameter_may_be_scheduled(spec_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "user.json"
    _ok("--spec-file", spec_file, "schedule", "risk", "--optimizer", USER_SPEC, "--hp", "lr=0.5",
        "--schedule", "wd=linear_decay:peak=0.01", "--batch-size", "64", "--steps", "200", "--at", "0:200:100",
        "-o", out)
    expected = nn.scheduled_risk(PAPER, nn.Optimizer(USER_SPEC, lr=0.5, wd=0.01), steps=[0, 100, 200],
                                 schedule={"wd": schedules.linear_decay(0.01)}, batch_size=64)
    assert [row["risk"] for row in json.loads(out.read_text())["rows"]] == expected.tolist()


def test_steps_and_examples_to_a_target_equal_scheduled_steps_to_target(tmp_path: Path) -> None:
    out = tmp_path / "hit.json"
    result = _ok("schedule", "risk", "--optimizer", "sgd", "--hp", "lr=0.5", "--schedule", "batch_size=batch_doubling",
                 "--batch-size", "64", "--steps", "3000", "--target", "0.5", "-o", out)
    hit = nn.scheduled_steps_to_target(PAPER, nn.SGD(lr=0.5), target=0.5, horizon=3000,
                                       schedule={"batch_size": schedules.batch_doubling(64.0)})
    doc = json.loads(out.read_text())
    assert math.isfinite(hit.steps) and (doc["steps_to_target"], doc["examples_to_target"]) == (hit.steps, hit.examples)
    assert f"first reached at step {hit.steps:,.0f}, after {hit.examples:,.0f} examples" in result.stdout
    never = _ok("schedule", "risk", "--optimizer", "sgd", "--hp", "lr=0.5", "--batch-size", "64", "--steps", "10",
                "--target", "1e-9")
    assert "never reached within 10 steps" in never.stdout


def test_constants_and_bare_preset_names_are_the_apis_forms() -> None:
    """``NAME=NUMBER`` is the constant hyperparameter or batch size; a bare preset name is that
    preset scaled by the ``--hp`` value (nn.schedules.as_schedule's convention)."""
    constant = _ok("schedule", "risk", "--optimizer", "sgd", "--schedule", "lr=0.5", "--schedule", "batch_size=32",
                   "--steps", "40", "--at", "40")
    expected = nn.expected_risk(PAPER, nn.SGD(lr=0.5), batch_size=32, steps=[40])[0]
    assert f"{expected:.6g}" in constant.stdout
    named = _ok("schedule", "risk", "--optimizer", "sgd", "--hp", "lr=0.5", "--schedule", "lr=cosine",
                "--batch-size", "32", "--steps", "40", "--at", "40")
    cosine = nn.scheduled_risk(PAPER, nn.SGD(lr=0.5), steps=[40], schedule={"lr": "cosine"}, batch_size=32)[0]
    assert f"{cosine:.6g}" in named.stdout


def test_optimal_for_a_total_equals_optimize_schedule(tmp_path: Path) -> None:
    out = tmp_path / "opt.json"
    result = _ok("schedule", "optimal", "--optimizer", "sgd", "--hp", "lr=1", "--batch-size", "64", "--pieces", "3",
                 "--steps", "300", "-o", out)
    doc = json.loads(out.read_text())
    ref = nn.optimize_schedule(PAPER, nn.SGD(lr=1.0), batch_size=64, steps=300, pieces=3)
    assert [row["lr"] for row in doc["pieces"]] == ref.lrs.tolist()
    assert [row["risk_end"] for row in doc["pieces"]] == ref.risk[1:].tolist()
    assert doc["final_risk"] == ref.final_risk
    assert f"{ref.final_risk:.6g}" in result.stdout


def test_tuned_presets_equal_tune_preset_and_the_optimum(tmp_path: Path) -> None:
    out = tmp_path / "tune.json"
    _ok("schedule", "tune", "--optimizer", "sgd", "--hp", "lr=1", "--batch-size", "4096", "--preset", "step",
        "--pieces", "3", "--steps", "300", "-o", out)
    rows = {row["schedule"]: row for row in json.loads(out.read_text())["rows"]}
    tuned = nn.tune_preset(PAPER, nn.SGD(lr=1.0), "step", batch_size=4096, steps=300)
    best = nn.optimize_schedule(PAPER, nn.SGD(lr=1.0), batch_size=4096, steps=300, pieces=3)
    assert (rows["step"]["final_risk"], rows["step"]["peak"], rows["step"]["factor"]) == (
        tuned.final_risk, tuned.parameters["peak"], tuned.parameters["factor"])
    assert (rows["constant"]["final_risk"], rows["constant"]["peak"]) == (tuned.constant_risk, tuned.constant_lr)
    assert rows["optimal, 3 equal pieces"]["final_risk"] == best.final_risk
    assert rows["step"]["vs_optimum"] == tuned.final_risk / best.final_risk


@pytest.mark.slow  # 2.5 s: the step search on the paper's problem
def test_a_target_reached_in_fewer_steps_than_pieces_has_one_step_per_piece(tmp_path: Path) -> None:
    """An easy target (half the initial risk at B = 10^6) is reached in fewer steps than the default 50
    pieces: every piece in the table and the JSON has one step, and the output says so (before: 50
    rows, the last ones of length 0)."""
    out = tmp_path / "pieces.json"
    result = _ok("schedule", "optimal", "--optimizer", "sgd", "--batch-size", "1000000",
                 "--target", f"{PAPER.initial_risk / 2:.6g}", "--output", str(out))
    doc = json.loads(out.read_text())
    T = int(doc["steps"])
    assert 0 < T < 50
    assert [row["length"] for row in doc["pieces"]] == [1] * T
    assert f"below --pieces 50: {T} pieces of one step" in " ".join(result.stdout.split())


def test_optimal_varies_several_hyperparameters(tmp_path: Path) -> None:
    out = tmp_path / "opt.json"
    _ok("schedule", "optimal", "--optimizer", "momentum", "--hp", "lr=0.1", "--hp", "beta=0.9", "--vary", "lr,beta",
        "--batch-size", "1024", "--pieces", "2", "--steps", "100", "-o", out)
    ref = nn.optimize_schedule(PAPER, nn.Momentum(lr=0.1, beta=0.9), batch_size=1024, steps=100, pieces=2,
                               vary=("lr", "beta"))
    doc = json.loads(out.read_text())
    assert doc["final_risk"] == ref.final_risk
    assert [row["beta"] for row in doc["pieces"]] == [row["beta"] for row in ref.to_dict()["pieces"]]


# ---------------------------------------------------------------------- misuse: one line, exit status 2
RISK = ("schedule", "risk", "--optimizer", "momentum", "--hp", "lr=0.1", "--hp", "beta=0.9", "--steps", "100")
OPTIMAL = ("schedule", "optimal", "--optimizer", "sgd", "--batch-size", "64")


@pytest.mark.parametrize(("args", "says"), [
    ((*RISK, "--batch-size", "8", "--schedule", "lr=no_such_preset"), "no schedule preset named 'no_such_preset'"),
    ((*RISK, "--batch-size", "8", "--schedule", "lr=no_such_preset:a=1"), "keys go with a preset function"),
    ((*RISK, "--batch-size", "8", "--schedule", "lr=as_schedule:value=1"), "keys go with a preset function"),
    ((*RISK, "--batch-size", "8", "--schedule", "lr=piecewise:boundaries=10"), "boundaries=10: values must be"),
    ((*RISK, "--batch-size", "8", "--schedule", "lr=piecewise:values=1"), "missing a required argument"),
    ((*RISK, "--batch-size", "8", "--schedule", "lr=constant:foo=1"), "has no key 'foo'"),
    ((*RISK, "--batch-size", "8", "--schedule", "lr=constant:value=fast"), "must be a number"),
    ((*RISK, "--batch-size", "8", "--schedule", "lr=constant:value=1/2"), "--schedule lr=constant:value=1/2: "),
    ((*RISK, "--batch-size", "8", "--schedule", "lr=wsd:cooldown=2"), "--schedule lr=wsd:cooldown=2: cooldown"),
    ((*RISK, "--batch-size", "8", "--schedule", "lr=wsd:shape=square"), "--schedule lr=wsd:shape=square: shape"),
    ((*RISK, "--batch-size", "8", "--schedule", "lr=wsd:cooldown=fast"), "cooldown must be a number; got 'fast'"),
    ((*RISK, "--batch-size", "8", "--schedule", "batch_size=batch_doubling:integer=maybe"),
     "must be a number or true/false"),
    ((*RISK, "--batch-size", "8", "--schedule", "beta=batch_doubling"), "beta"),
    ((*RISK[:-1], "1000000000", "--batch-size", "8", "--schedule", "lr=cosine", "--at", "10"), "steps"),
    ((*RISK, "--batch-size", "8", "--schedule", "gamma=0.5"), "'gamma' is not a hyperparameter that can vary"),
    ((*RISK, "--batch-size", "8", "--schedule", "precond_power=0.5"), "'precond_power' is not a hyperparameter"),
    ((*RISK, "--batch-size", "8", "--schedule", "lr=0.2"), "both give lr a constant"),
    ((*RISK, "--batch-size", "8", "--schedule", "batch_size=16"), "both give batch_size a constant"),
    ((*RISK, "--schedule", "batch_size=constant"), "needs its scale: give --batch-size"),
    ((*RISK,), "give the batch size"),
    ((*RISK, "--batch-size", "8", "--schedule", "lr=0.1", "--schedule", "lr=constant"), "lr given more than once"),
    ((*RISK, "--batch-size", "8", "--schedule", "lr=wsd:"), "nothing after ':'"),
    ((*RISK, "--batch-size", "8", "--schedule", "lr=exec('1')"), "neither a number nor a preset name"),
    ((*RISK, "--batch-size", "8", "--at", "0:200:10"), "beyond the horizon"),
    ((*RISK, "--batch-size", "8", "--at", "0:100000:1", "--steps", "100000"), "at most 10,000"),
    ((*RISK, "--batch-size", "0.5"), "--batch-size"),
    (("schedule", "risk", "--optimizer", "nope", "--batch-size", "8", "--steps", "10"), "nope"),
    ((*OPTIMAL, "--steps", "100", "--target", "0.01"), "give one of --steps"),
    ((*OPTIMAL,), "give one of --steps"),
    ((*OPTIMAL, "--steps", "100", "--vary", "beta"), "'beta' is not a hyperparameter of sgd"),
    (("schedule", "tune", "--optimizer", "sgd", "--batch-size", "64", "--steps", "10", "--preset", "nope"),
     "no preset family 'nope'"),
    (("schedule", "tune", "--optimizer", "sgd", "--batch-size", "64", "--steps", "10", "--preset", ","),
     "names no preset family"),
    (("schedule", "tune", "--optimizer", "sgd", "--batch-size", "64"), "give one of --steps"),
    ((*OPTIMAL, "--steps", "100", "--vary", ","), "names no hyperparameter"),
    ((*OPTIMAL, "--steps", "100", "--vary", "lr,lr"), "'lr' given more than once"),  # as vary=("lr", "lr") in Python
    (("schedule", "optimal", "--optimizer", "momentum", "--vary", "lr,beta", "--batch-size", "64", "--steps", "10"),
     "give --hp beta=VALUE: momentum needs every hyperparameter but lr (a varied one starts there)"),
    (("schedule", "tune", "--optimizer", "momentum", "--batch-size", "64", "--steps", "10"), "give --hp beta=VALUE"),
    ((*OPTIMAL, "--steps", "100", "--pieces", "0"), "--pieces"),
    # a piece without a step: the default 50 pieces at 10 steps, tune's default 10 at 5 (nn.optimize_schedule's rule)
    ((*OPTIMAL, "--steps", "10"), "--pieces must be from 1 to --steps (10), every piece at least one step; got 50"),
    (("schedule", "tune", "--optimizer", "sgd", "--batch-size", "64", "--steps", "5"),
     "--pieces must be from 0 to --steps (5), every piece at least one step; got 10"),
    (("schedule", "nope"), "No such command"),
])
def test_misuse_is_one_line_with_status_2(args: tuple[str, ...], says: str) -> None:
    result = run(*args)
    assert_one_line_error(result)
    assert says in result.stderr, result.stderr


def test_subcommand_help_loads_no_body() -> None:
    """``nqm schedule [risk|optimal|tune] --help`` import neither the body nor the engine."""
    probe = """
import json, sys
from nqm.proofs.cli._main import main
for args in (["schedule", "--help"], ["schedule", "risk", "--help"], ["schedule", "optimal", "--help"],
             ["schedule", "tune", "--help"]):
    try:
        main(args, prog_name="nqm")
    except SystemExit as exc:
        assert exc.code in (0, None), (args, exc.code)
print(json.dumps(sorted(m for m in sys.modules if m.startswith(("nqm.theory", "nqm.numerics", "sympy", "matplotlib"))
                        or m.endswith("_run"))))
"""
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == []
