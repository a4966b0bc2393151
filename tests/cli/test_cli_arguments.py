"""One command-line pattern (issue 11, part 3): --optimizer everywhere, --version, exclusive formats,
--spec-file on figures, and a Monte Carlo that says which simulation ran."""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pytest
from conftest import USER_SPEC, assert_one_line_error, run

import nqm.numerics as nn


def test_version_prints_the_package_version() -> None:
    result = run("--version")
    assert result.exit_code == 0 and result.stdout == f"nqm {version('nqm-toolkit')}\n"


def test_derive_takes_optimizer_and_its_positional_form_alike() -> None:
    by_option = run("derive", "--optimizer", "sgd", "--json")
    by_name = run("derive", "sgd", "--json")
    assert by_option.exit_code == 0 and by_option.stdout == by_name.stdout
    assert json.loads(by_option.stdout)["optimizer"] == "sgd"


@pytest.mark.parametrize("args", [
    ("derive", "--optimizer", "sgd", "--latex", "--json"),
    ("derive", "sgd", "--json", "--latex"),
    ("derive", "sgd", "--optimizer", "momentum"),
    ("derive",),
    ("derive", "--optimizer", "sgd,momentum"),
    ("derive", "--optimizer", "adamw"),
    ("conformance",),
    ("conformance", "--optimizer", "adamw"),
    ("conformance", "--optimizer", "sgd", "--all"),
])
def test_misuse_is_one_line_with_status_2(args: tuple[str, ...]) -> None:
    assert_one_line_error(run(*args))


def test_latex_and_json_together_say_so() -> None:
    result = run("derive", "--optimizer", "sgd", "--latex", "--json")
    assert "--latex and --json exclude each other" in result.stderr


def test_conformance_takes_optimizer(tmp_path: Path) -> None:
    out = tmp_path / "c.json"
    result = run("conformance", "--optimizer", "sgd", "--property", "stable_for_small_lr", "--max-examples", "2", "--json", out)
    assert result.exit_code == 0, result.output
    assert [r["spec"] for r in json.loads(out.read_text())] == ["sgd"]


@pytest.mark.slow  # rendering and saving one figure (PNG and PDF) takes about 10-20 s
def test_figures_take_a_user_spec_from_a_file(spec_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nqm.proofs.figures._extra import SURFACE_GRID

    monkeypatch.setitem(SURFACE_GRID, "lr", np.logspace(-3, 0, 4))  # a small surface: the point is the argument
    monkeypatch.setitem(SURFACE_GRID, "second", np.array([0.0, 0.5]))
    result = run("figures", tmp_path / "figs", "--only", "steps_surface", "--spec-file", spec_file, "--optimizer", USER_SPEC)
    # the user spec's second hyperparameter wd is in [0, 1): its (lr, wd) surface is drawn
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "figs" / "steps_surface.json").read_text())
    assert USER_SPEC in json.dumps(data)


def test_figures_refuse_two_optimizers_for_one_surface(tmp_path: Path) -> None:
    result = run("figures", tmp_path / "figs", "--only", "steps_surface", "--optimizer", "momentum,ema")
    assert_one_line_error(result)
    assert "steps_surface draws one optimizer" in result.stderr and not (tmp_path / "figs").exists()


@pytest.mark.parametrize("option, simulate", [("per-bin", "per-bin"), ("per-coordinate", "per-coordinate"),
                                              ("auto", "per-coordinate"), (None, "per-coordinate")])
def test_montecarlo_says_which_simulation_ran(option: str | None, simulate: str, tmp_path: Path) -> None:
    """--simulate auto (the default, as in Python) is per-coordinate on the paper's problem (its weights are counts)."""
    weights = nn.Problem.paper().weights  # the paper's binned problem: some of its 100 log-spaced bins are empty
    coordinates = int(np.sum(weights > 0)) if simulate == "per-bin" else int(weights.sum())
    out = tmp_path / "mc.json"
    chosen = () if option is None else ("--simulate", option)
    result = run("montecarlo", "--optimizer", "sgd", "--hp", "lr=0.5", "--batch-size", "64", "--steps", "0:20:10",
                 "--runs", "20", *chosen, "--workers", "0", "--no-cache", "--output", out)
    assert result.exit_code == 0, result.output
    assert f"{simulate}: {coordinates:,} simulated coordinates" in " ".join(result.stdout.split())
    meta = json.loads(out.read_text())
    meta = meta.get("meta", meta)
    assert meta["simulate"] == simulate and meta["simulated_coordinates"] == coordinates


def test_critical_says_why_a_critical_batch_size_is_not_finite(tmp_path: Path) -> None:
    out = tmp_path / "crit.json"
    result = run("critical", "--optimizer", "sgd", "--batch-sizes", "4:8", "--target", "0.5", "--workers", "0", "--output", out)
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "2 batch sizes determine S_min and E_min exactly" in text and "2x perfect scaling: the steps stay within" in text
    (row,) = json.loads(out.read_text())["rows"]
    assert row["B_crit_perfect_scaling_2x"] == "inf" and "largest batch size given" in row["reason"]
