"""The NQM figures: every registered figure draws what it promises (log axes, labels, legend,
the dashed information bound equal to Problem.information_bound), its data equal independent
recomputations through the public API (or closed forms from the paper), save_figure writes
PNG/PDF/CSV/JSON and refuses to overwrite, and ``nqm figures`` writes files.

A small power-law problem and short batch-size lists keep this fast.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from matplotlib.figure import Figure

import nqm.numerics as nn
from nqm.proofs import (
    DEFAULT_FIGURES,
    FIGURES,
    FigureResult,
    figure_2,
    figure_3a,
    figure_3b,
    figure_3c,
    figure_4,
    figure_11,
    figure_13,
    figure_14,
    figure_15,
    figure_batch_ramps,
    figure_critical_vs_power,
    figure_network_vs_nqm,
    figure_steps_surface,
    figure_steps_vs_examples,
    figure_training_curves,
    make_figures,
    save_figure,
)
from nqm.proofs.cli._figures import figures as figures_command

PROB = nn.Problem.power_law(400, bins=12)
BS = (1.0, 16.0, 256.0, 4096.0)
POWERS = (0.0, 0.5)
TARGET = 0.05
SCHED_BS = (4.0, 256.0)
PIECES = 4
SMALL = {
    "fig2": dict(betas=np.linspace(0.0, 0.99, 40)),
    "fig3a": dict(problem=PROB, batch_sizes=BS, powers=POWERS, target=TARGET),
    "fig4": dict(problem=PROB, batch_sizes=BS, powers=POWERS, target=TARGET),
    "fig3b": dict(problem=PROB, batch_sizes=SCHED_BS, target=TARGET, pieces=PIECES),
    "fig3c": dict(problem=PROB, batch_sizes=SCHED_BS, target=TARGET, pieces=PIECES),
    "fig15": dict(problem=PROB, batch_sizes=SCHED_BS, target=TARGET, pieces=PIECES),
    "fig11": dict(effective_lrs=(0.01,), betas=(0.5, 0.9), steps=300),
    "fig13": dict(problem=PROB, batch_sizes=BS, targets=(0.1, 0.05)),
    "fig14": dict(problem=PROB, batch_sizes=BS, powers=POWERS, target=TARGET),
    "steps_surface": dict(problem=PROB, batch_sizes=(16.0, 1024.0), lrs=np.logspace(-4, 0.5, 10),
                          seconds=1 - np.logspace(-3, 0, 6), target=TARGET),
    "critical_vs_power": dict(problem=PROB, powers=(0.0, 0.5), optimizers=("sgd", "momentum"), batch_sizes=BS, target=TARGET),
    "training_curves": dict(problem=PROB, lrs=(0.05, 0.5, 1.9), steps=3000, batch_size=4.0, points=60),
    "steps_vs_examples": dict(problem=PROB, optimizers=("sgd", "momentum"), batch_sizes=BS, target=TARGET),
    "batch_ramps": dict(problem=PROB, optimizers=("sgd", "momentum"), batch_sizes=BS[1:], target=TARGET),
    "presets_vs_optimum": dict(problem=PROB, batch_sizes=BS[2:], target=TARGET, pieces=4),
    "preset_curves": dict(problem=PROB, batch_size=256.0, target=TARGET, pieces=4),
}
#: figures whose every panel is log-log
LOG_LOG = {"fig2", "fig3a", "fig4", "fig3b", "fig13", "fig14", "fig15", "steps_surface", "training_curves", "batch_ramps", "presets_vs_optimum"}
#: figures computed on a problem (the others draw one direction)
ON_A_PROBLEM = {name for name, kwargs in SMALL.items() if "problem" in kwargs}
#: figures with the information bound
WITH_BOUND = {"fig3a": TARGET, "fig4": TARGET, "fig3b": TARGET, "fig13": None}


@pytest.fixture(scope="module")
def results() -> dict[str, FigureResult]:
    return {name: FIGURES[name](**SMALL[name]) for name in DEFAULT_FIGURES}


def _panels(fig: Figure) -> list:
    """Axes that are plot panels (not colorbars)."""
    return [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]


def _records(result: FigureResult, **match: object) -> list[dict]:
    return [r for r in result.data if all(r.get(k) == v for k, v in match.items())]


def test_registry_covers_the_paper_and_the_extras() -> None:
    assert set(DEFAULT_FIGURES) == set(SMALL)
    assert "network_vs_nqm" in FIGURES and "network_vs_nqm" not in DEFAULT_FIGURES


def test_the_papers_figures_come_first() -> None:
    """The report and ``nqm figures`` draw in DEFAULT_FIGURES' order: the paper's figures, then the
    toolkit's own (an import-order change once put the surfaces first)."""
    paper = {"fig2", "fig3a", "fig3b", "fig3c", "fig4", "fig11", "fig13", "fig14", "fig15"}
    assert set(DEFAULT_FIGURES[:len(paper)]) == paper
    assert DEFAULT_FIGURES[0] == "fig2"


@pytest.mark.parametrize("name", sorted(SMALL))
def test_every_figure_is_labelled(results: dict[str, FigureResult], name: str) -> None:
    result = results[name]
    assert isinstance(result, FigureResult) and result.name == name
    assert isinstance(result.figure, Figure)
    assert result.caption and len(result.data) > 0
    panels = _panels(result.figure)
    assert panels
    for ax in panels:
        assert ax.get_xlabel() and ax.get_ylabel()
        assert ax.get_title() or result.figure.get_suptitle()
        assert ax.get_legend() is not None
        assert ax.get_legend().get_texts()
        if name in LOG_LOG:
            assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    if name in ("fig3c", "fig11", "critical_vs_power"):
        assert all(ax.get_yscale() == "log" for ax in panels)
    if name == "steps_surface":
        assert any(ax.get_label() == "<colorbar>" for ax in result.figure.axes)


@pytest.mark.parametrize("name", sorted(WITH_BOUND))
def test_dashed_information_bound(results: dict[str, FigureResult], name: str) -> None:
    result = results[name]
    targets = [TARGET] if WITH_BOUND[name] else [0.1, 0.05]
    for ax in _panels(result.figure):
        lines = [ln for ln in ax.get_lines() if ln.get_gid() == "information_bound"]
        assert len(lines) == len(targets)
        for line, eps in zip(lines, targets):
            assert line.get_linestyle() == "--"
            B = np.asarray(line.get_xdata(), dtype=float)
            expected = 0.5 * np.sum(PROB.weights * PROB.c / PROB.h) / (eps * B)
            np.testing.assert_allclose(line.get_ydata(), expected, rtol=1e-12)
            np.testing.assert_allclose(line.get_ydata(), PROB.information_bound(eps, B), rtol=1e-14)


@pytest.mark.parametrize("name, second", [("fig3a", "momentum"), ("fig4", "ema")])
def test_steps_figures_match_tune(results: dict[str, FigureResult], name: str, second: str) -> None:
    result = results[name]
    for opt in ("sgd", second):
        for p in POWERS:
            rows = sorted(_records(result, series=f"{opt} p={p:g}"), key=lambda r: r["batch_size"])
            assert [r["batch_size"] for r in rows] == list(BS)
            for r in rows[::3]:
                tuned = nn.tune(PROB, opt, batch_size=r["batch_size"], target=TARGET, precond_power=p)
                assert r["steps"] == tuned.steps
    # the plotted line is the data
    ax = _panels(result.figure)[0]
    plotted = {ln.get_label(): ln for ln in ax.get_lines()}
    sgd0 = sorted(_records(result, series="sgd p=0"), key=lambda r: r["batch_size"])
    np.testing.assert_array_equal(plotted["SGD, $p=0$"].get_ydata(), [r["steps"] for r in sgd0])


@pytest.mark.parametrize("name", sorted(SMALL))
def test_every_figure_names_its_problem(results: dict[str, FigureResult], name: str, tmp_path: Path) -> None:
    result = results[name]
    if name in ON_A_PROBLEM:
        assert result.problem == PROB.name and PROB.name in result.caption
    else:
        assert result.problem is None
    json_path = save_figure(result, tmp_path)[3]
    assert json.loads(json_path.read_text())["problem"] == result.problem


def test_figures_default_to_the_authors_problem() -> None:
    import inspect

    from nqm.proofs.figures._core import problem_or_paper

    assert problem_or_paper(None).name == nn.Problem.paper().name
    assert "C = H on the bins" in nn.Problem.paper().name
    for name in ON_A_PROBLEM - {"training_curves"}:
        assert inspect.signature(FIGURES[name]).parameters["problem"].default is None


def test_training_curves_match_eq_4() -> None:
    """Per direction, SGD's E theta_t^2 = s* + (1 - lr h)^(2t) (v - s*), s* = lr c / (B h (2 - lr h)) (eq. 4):
    the closed form, summed in plain numpy, against the plotted data."""
    result = FIGURES["training_curves"](**SMALL["training_curves"])
    opts = SMALL["training_curves"]
    B = opts["batch_size"]
    for lr in opts["lrs"]:
        rows = sorted(_records(result, series="risk", lr=lr), key=lambda r: r["step"])
        t = np.array([r["step"] for r in rows], dtype=float)
        assert t[0] == 1 and t[-1] == opts["steps"] - 1 and np.all(np.diff(t) > 0)
        s_star = lr * PROB.c / (B * PROB.h * (2 - lr * PROB.h))
        second = s_star + (1 - lr * PROB.h) ** (2 * t[:, None]) * (PROB.init_var - s_star)
        want = np.sum(PROB.weights * 0.5 * PROB.h * second, axis=1)
        np.testing.assert_allclose([r["risk"] for r in rows], want, rtol=1e-10)
        (floor,) = _records(result, series="stationary", lr=lr)
        assert floor["risk"] == pytest.approx(np.sum(PROB.weights * 0.5 * PROB.h * s_star), rel=1e-12)
    # the trade-off the figure shows: a larger rate (below 1/h_max) is ahead at first, with a higher stationary risk
    first = [_records(result, series="risk", lr=lr, step=1)[0]["risk"] for lr in opts["lrs"]]
    floors = [_records(result, series="stationary", lr=lr)[0]["risk"] for lr in opts["lrs"]]
    assert first[1] < first[0] and floors[0] < floors[1] < floors[2]


def test_training_curves_default_is_the_notebooks_cell() -> None:
    """NUM_STEPS = 20000, NDIM = 5000 unbinned, sigma_sq = h (B = 1), rates 0.01 ... 1 (the notebook's cell)."""
    result = figure_training_curves(points=12)
    assert result.problem == nn.Problem.paper(binned=False, d=5000).name == "paper (exact, d=5000)"
    rows = _records(result, series="risk")
    assert sorted({r["lr"] for r in rows}) == [0.01, 0.03, 0.1, 0.3, 1.0]
    assert max(r["step"] for r in rows) == 19_999 and "B = 1" in result.caption
    h = 1.0 / np.arange(1, 5001)  # the notebook's h, sigma_sq = h, s_init = 1: eq. 4 per direction at the last step
    for r in (r for r in rows if r["step"] == 19_999):
        s_star = r["lr"] / (2 - r["lr"] * h)
        assert r["risk"] == pytest.approx(np.sum(0.5 * h * (s_star + (1 - r["lr"] * h) ** (2 * 19_999) * (1 - s_star))), rel=1e-10)
    ax = _panels(result.figure)[0]
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert "h_i = 1/i, C = H, theta(0) ~ N(0, I) as in the notebook" in result.caption


def test_training_curves_caption_claims_the_notebooks_problem_only_on_it(results: dict[str, FigureResult]) -> None:
    caption = results["training_curves"].caption  # computed on PROB, not the notebook's problem
    assert PROB.name in caption and "h_i = 1/i" not in caption and "as in the notebook" not in caption


def test_momentum_better_at_large_batch_on_fig3a(results: dict[str, FigureResult]) -> None:
    big = BS[-1]
    sgd = _records(results["fig3a"], series="sgd p=0", batch_size=big)[0]["steps"]
    mom = _records(results["fig3a"], series="momentum p=0", batch_size=big)[0]["steps"]
    assert mom < sgd


def test_fig2_matches_theorem_1() -> None:
    """Rate = larger root of z^2 - (1 - ah + b) z + b; stationary risk = Theorem 1's second term."""
    ah = 5e-4
    result = figure_2(alpha_h=ah, betas=np.array([0.0, 0.5, 0.9, 0.99, 0.999]))
    for r in result.data:
        b = r["beta"]
        roots = np.roots([1.0, -(1 - ah + b), b])
        assert r["rate"] == pytest.approx(np.max(np.abs(roots)), rel=1e-10)
        assert r["complex_roots"] == bool(np.any(np.abs(np.imag(roots)) > 0))
        theorem = (1 + b) * ah / (2 * (2 * b + 2 - ah) * (1 - b))
        assert r["stationary_risk"] == pytest.approx(theorem, rel=1e-9)
        eff = ah / (1 - b)
        assert r["effective_lr"] == pytest.approx(eff, rel=1e-9)
        assert r["stationary_risk_effective_sgd"] == pytest.approx(eff / (2 * (2 - eff)), rel=1e-9)


def test_fig11_matches_the_deterministic_recursion(results: dict[str, FigureResult]) -> None:
    result = results["fig11"]
    sgd = _records(result, series="sgd")
    for r in sgd[::37]:
        assert r["normalised_start_part"] == pytest.approx((1 - 0.01) ** (2 * r["step"]), rel=1e-9)
    for beta in (0.5, 0.9):
        rows = sorted(_records(result, series="momentum", beta=beta), key=lambda r: r["step"])
        alpha = 0.01 * (1 - beta)
        theta, m, path = 1.0, 0.0, {}
        for t in range(int(rows[-1]["step"]) + 1):
            path[t] = theta
            m = beta * m + theta  # h = 1, no noise
            theta = theta - alpha * m
        for r in rows[::23]:
            assert r["normalised_start_part"] == pytest.approx(path[int(r["step"])] ** 2, rel=1e-8)
        assert all(r["effective_lr"] == pytest.approx(0.01, rel=1e-9) for r in rows)


def test_fig13_thresholds_match_tune(results: dict[str, FigureResult]) -> None:
    for opt in ("sgd", "momentum"):
        for eps in (0.1, 0.05):
            rows = _records(results["fig13"], series=f"{opt} eps={eps:g}", batch_size=16.0)
            assert rows[0]["steps"] == nn.tune(PROB, opt, batch_size=16.0, target=eps).steps


def test_fig14_learning_rates_match_tune(results: dict[str, FigureResult]) -> None:
    for opt, p in (("sgd", 0.5), ("momentum", 0.0)):
        r = _records(results["fig14"], series=f"{opt} p={p:g}", batch_size=256.0)[0]
        tuned = nn.tune(PROB, opt, batch_size=256.0, target=TARGET, precond_power=p)
        assert r["lr"] == tuned.hyperparameters["lr"]
        assert r["effective_lr"] == pytest.approx(float(nn.effective_lr(tuned.optimizer)), rel=1e-12)
        if opt == "momentum":
            assert r["effective_lr"] == pytest.approx(r["lr"] / (1 - r["beta"]), rel=1e-6)


def test_schedule_figures_match_optimal_schedule(results: dict[str, FigureResult]) -> None:
    for B in SCHED_BS:
        ref = nn.optimal_schedule(PROB, batch_size=B, target=TARGET, pieces=PIECES)
        sched = _records(results["fig3b"], series="schedule", batch_size=B)[0]
        assert sched["steps"] == ref.steps
        const = _records(results["fig3b"], series="constant", batch_size=B)[0]
        assert sched["steps"] <= const["steps"]
        # the constant rate reaches the target at its steps and not one step earlier
        risk = nn.expected_risk(PROB, nn.SGD(const["lr"]), batch_size=B, steps=[const["steps"] - 1, const["steps"]])
        assert risk[1] <= TARGET < risk[0]
        shape = sorted(_records(results["fig3c"], batch_size=B), key=lambda r: r["piece"])
        np.testing.assert_allclose([r["lr"] for r in shape], ref.lrs, rtol=1e-12)
        assert shape[0]["start_fraction"] == 0 and shape[-1]["end_fraction"] == 1
        final = _records(results["fig15"], series="schedule final", batch_size=B)[0]
        assert final["lr"] == pytest.approx(ref.final_lr, rel=1e-12)


def test_surface_matches_steps_to_target_and_tune(results: dict[str, FigureResult]) -> None:
    opts = SMALL["steps_surface"]
    for B in opts["batch_sizes"]:
        best = _records(results["steps_surface"], batch_size=B, optimum=True)[0]
        tuned = nn.tune(PROB, "momentum", batch_size=B, target=TARGET, grid={"lr": opts["lrs"], "beta": opts["seconds"]})
        assert best["steps"] == tuned.steps
        assert best["lr"] == tuned.hyperparameters["lr"] and best["second"] == tuned.hyperparameters["beta"]
        grid = _records(results["steps_surface"], batch_size=B, optimum=False)
        assert len(grid) == opts["lrs"].size * opts["seconds"].size
        for r in grid[::7]:
            exact = nn.steps_to_target(PROB, nn.Momentum(r["lr"], r["second"]), batch_size=B, target=TARGET)
            assert r["steps"] == float(exact)


def test_critical_vs_power_matches_tuned_curves(results: dict[str, FigureResult]) -> None:
    for r in results["critical_vs_power"].data:
        steps = [nn.tune(PROB, r["optimizer"], batch_size=B, target=TARGET, precond_power=r["precond_power"]).steps for B in BS]
        crit = nn.critical_batch_sizes(BS, steps)
        two_x = r["B_crit_perfect_scaling_2x"]
        assert two_x == crit.perfect_scaling_2x or (math.isinf(two_x) and math.isinf(crit.perfect_scaling_2x))
        assert r["B_crit_mccandlish"] == pytest.approx(crit.mccandlish.B_crit, rel=1e-12)


def _fake_validation(folder: Path) -> None:
    folder.mkdir()
    with (folder / "digits_steps.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["source", "optimizer", "batch_size", "steps", "lr", "effective_lr", "second"])
        for source, scale in (("network", 1.0), ("nqm", 1.3)):
            for opt, floor in (("sgd", 40), ("momentum", 10)):
                for B in (1, 4, 16, 64):
                    w.writerow([source, opt, B, scale * (floor + 1000 / B), 0.1, 0.1, "nan"])
    with (folder / "critical_batch_sizes.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["optimizer", "definition", "network", "nqm"])
        w.writerows([["sgd", "B_crit_mccandlish", 25, 20], ["sgd", "B_crit_perfect_scaling_2x", 30, 27],
                    ["momentum", "B_crit_mccandlish", 100, "inf"]])


def test_network_vs_nqm_reads_the_validation_tables(tmp_path: Path) -> None:
    _fake_validation(tmp_path / "val")
    result = figure_network_vs_nqm(tmp_path / "val")
    steps = [r for r in result.data if r["kind"] == "steps"]
    assert len(steps) == 16
    nqm_mom = sorted((r for r in steps if r["source"] == "nqm" and r["optimizer"] == "momentum"), key=lambda r: r["batch_size"])
    np.testing.assert_allclose([r["steps"] for r in nqm_mom], [1.3 * (10 + 1000 / B) for B in (1, 4, 16, 64)])
    left, right = _panels(result.figure)
    assert left.get_xscale() == left.get_yscale() == "log"
    assert right.get_xscale() == right.get_yscale() == "log"
    assert left.get_legend() is not None and right.get_legend() is not None
    crit = [r for r in result.data if r["kind"] == "critical batch size"]
    assert len(crit) == 3 and math.isinf(crit[2]["nqm"])
    with pytest.raises(ValueError, match="validation"):
        figure_network_vs_nqm(tmp_path / "missing")


def test_bad_arguments_name_the_parameter() -> None:
    with pytest.raises(ValueError, match="powers"):
        figure_3a(problem=PROB, batch_sizes=BS, powers=(1.5,))
    with pytest.raises(ValueError, match="batch_sizes"):
        figure_4(problem=PROB, batch_sizes=(0.5, 4.0))
    with pytest.raises(ValueError, match="pieces"):
        figure_3b(problem=PROB, batch_sizes=SCHED_BS, pieces=0)
    with pytest.raises(ValueError, match="targets"):
        figure_13(problem=PROB, batch_sizes=BS, targets=(-1.0,))
    with pytest.raises(ValueError, match="betas"):
        figure_11(betas=(1.0,))
    with pytest.raises(ValueError, match="alpha_h"):
        figure_2(alpha_h=2.0)
    with pytest.raises(ValueError, match="optimizer must have lr and one more hyperparameter in"):
        figure_steps_surface(problem=PROB, optimizer="sgd")
    with pytest.raises(ValueError, match="optimizers must be an optimizer"):
        figure_13(problem=PROB, batch_sizes=BS, optimizers=("sgd", 3))
    with pytest.raises(ValueError, match="powers"):
        figure_critical_vs_power(problem=PROB, powers=(0.0,))
    with pytest.raises(ValueError, match="powers"):
        figure_14(problem=PROB, batch_sizes=BS, powers=())
    with pytest.raises(ValueError, match="batch_sizes"):
        figure_3c(problem=PROB, batch_sizes=(4.0,))
    with pytest.raises(ValueError, match="target"):
        figure_15(problem=PROB, batch_sizes=SCHED_BS, target=0.0)
    for kwargs, name in (({"lrs": ()}, "lrs"), ({"lrs": (0.1, -1.0)}, "lrs"), ({"lrs": "abc"}, "lrs"), ({"steps": 2}, "steps"), ({"steps": 10.5}, "steps"),
                         ({"points": 1}, "points"), ({"batch_size": 0.5}, "batch_size"), ({"batch_size": "four"}, "batch_size"),
                         ({"batch_size": (1.0, 2.0)}, "batch_size"), ({"steps": 10**30}, "steps"), ({"points": 10**10}, "points")):
        with pytest.raises(ValueError, match=f"^{name} must be"):
            figure_training_curves(problem=PROB, **kwargs)


def test_save_figure_writes_and_refuses_to_overwrite(results: dict[str, FigureResult], tmp_path: Path) -> None:
    result = results["fig3a"]
    paths = save_figure(result, tmp_path / "out")
    assert [p.suffix for p in paths] == [".png", ".pdf", ".csv", ".json"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert paths[1].read_bytes()[:5] == b"%PDF-"
    with paths[2].open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(result.data)
    assert float(rows[0]["steps"]) == result.data[0]["steps"]
    doc = json.loads(paths[3].read_text())
    assert doc["name"] == "fig3a" and doc["caption"] == result.caption and len(doc["data"]) == len(result.data)
    before = paths[0].stat().st_mtime_ns
    with pytest.raises(FileExistsError, match="fig3a.png"):
        save_figure(result, tmp_path / "out")
    assert paths[0].stat().st_mtime_ns == before
    assert save_figure(result, tmp_path / "out", force=True) == paths


def test_make_figures_subset_and_errors(tmp_path: Path) -> None:
    made = make_figures(tmp_path, ["fig2", "fig11"])
    assert [r.name for r in made] == ["fig2", "fig11"]
    assert (tmp_path / "fig11.pdf").exists() and (tmp_path / "fig2.json").exists()
    with pytest.raises(FileExistsError, match="fig2"):
        make_figures(tmp_path, ["fig2"])
    with pytest.raises(ValueError, match="names"):
        make_figures(tmp_path / "x", ["fig99"])
    with pytest.raises(ValueError, match="validation"):
        make_figures(tmp_path / "x", ["network_vs_nqm"])
    _fake_validation(tmp_path / "val")
    made = make_figures(tmp_path / "y", ["network_vs_nqm"], validation=tmp_path / "val")
    assert (tmp_path / "y" / "network_vs_nqm.png").exists()


def _cli_commands() -> list:
    from nqm.proofs.cli._main import main

    cmds = [figures_command]
    if "figures" in main.commands:  # registered by the lead in the group
        cmds.append(main)
    return cmds


@pytest.mark.parametrize("via_group", [False, True])
def test_cli_writes_figures_and_never_overwrites(tmp_path: Path, via_group: bool) -> None:
    cmds = _cli_commands()
    if via_group and len(cmds) < 2:
        pytest.skip("figures is not registered in the nqm group yet")
    cmd, prefix = (cmds[1], ["figures"]) if via_group else (cmds[0], [])
    out = tmp_path / "figs"
    runner = CliRunner()
    result = runner.invoke(cmd, prefix + [str(out), "--only", "fig2", "--only", "fig11", "--quiet"])
    assert result.exit_code == 0, result.output
    for name in ("fig2", "fig11"):
        for ext in ("png", "pdf", "csv", "json"):
            assert (out / f"{name}.{ext}").exists()
            assert f"{name}.{ext}" in result.output
    again = runner.invoke(cmd, prefix + [str(out), "--only", "fig2", "--quiet"])
    assert again.exit_code == 2 and "exists" in again.output and "Traceback" not in again.output
    forced = runner.invoke(cmd, prefix + [str(out), "--only", "fig2", "--quiet", "--force"])
    assert forced.exit_code == 0, forced.output
    bad = runner.invoke(cmd, prefix + [str(out), "--only", "fig99"])
    assert bad.exit_code == 2 and "fig99" in bad.output
    missing = runner.invoke(cmd, prefix + [str(tmp_path / "n"), "--only", "network_vs_nqm"])
    assert missing.exit_code == 2 and "--validation" in missing.output


def test_figures_draw_shared_sweeps_computed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fig. 3a and 4 share SGD's sweeps: their needs, computed together, take one ``nn.sweeps`` call
    with each distinct sweep once, and figures handed the results compute nothing more and draw
    what they draw when they compute their own."""
    from nqm.proofs.figures import FigureData, figure_needs
    from nqm.proofs.figures import _core

    calls: list[int] = []

    def counted(problem, configs, **kwargs):
        calls.append(len(configs))
        return nn.sweeps(problem, configs, **kwargs)

    monkeypatch.setattr(_core, "sweeps", counted)
    needs = figure_needs("fig3a", SMALL["fig3a"]) + figure_needs("fig4", SMALL["fig4"])
    assert len(needs) == 8 and len({n.key() for n in needs}) == 6  # SGD at each power, twice
    computed = FigureData().compute(needs, executor="serial")
    assert calls == [6]
    shared = [FIGURES[name](**SMALL[name], computed=computed) for name in ("fig3a", "fig4")]
    assert calls == [6], "figures handed the sweeps must not compute them again"
    alone = [FIGURES[name](**SMALL[name]) for name in ("fig3a", "fig4")]
    assert calls == [6, 4, 4]
    assert [r.data for r in shared] == [r.data for r in alone]
    own = FigureData()  # sweeps a user ran with nn.sweep, handed in
    for need in figure_needs("fig3a", SMALL["fig3a"]):
        own.add(need, nn.sweep(need.problem, need.optimizer, batch_sizes=need.batch_sizes, target=need.target,
                               precond_power=need.precond_power))
    assert FIGURES["fig3a"](**SMALL["fig3a"], computed=own).data == alone[0].data and calls == [6, 4, 4]


def test_steps_vs_examples_data_are_tuned_first_hits(results: dict[str, FigureResult]) -> None:
    """Each point is tune's fewest steps at its batch size, its examples B S; the fitted residual is
    McCandlish's S_min/S + E_min/E - 1 from the fit the data carry."""
    result = results["steps_vs_examples"]
    assert result is not None and figure_steps_vs_examples is FIGURES["steps_vs_examples"]
    for opt in ("sgd", "momentum"):
        rows = sorted(_records(result, optimizer=opt), key=lambda r: r["batch_size"])
        assert [r["batch_size"] for r in rows] == list(BS)
        for r in rows[::2]:
            assert r["steps"] == nn.tune(PROB, opt, batch_size=r["batch_size"], target=TARGET).steps
            assert r["examples"] == r["batch_size"] * r["steps"]
            assert r["residual"] == pytest.approx(r["S_min"] / r["steps"] + r["E_min"] / r["examples"] - 1, rel=1e-12)
            assert r["steps"] >= r["noise_free_steps"] and r["examples"] >= r["bayes_examples"]


def test_batch_ramps_data_against_tune_and_the_ramp_bound(results: dict[str, FigureResult]) -> None:
    """Constant rows are tune's fewest steps; a ramp to B never takes fewer steps than B at its best rate."""
    result = results["batch_ramps"]
    assert figure_batch_ramps is FIGURES["batch_ramps"]
    for opt in ("sgd", "momentum"):
        const = sorted(_records(result, optimizer=opt, family="constant B"), key=lambda r: r["batch_size"])
        ramp = sorted(_records(result, optimizer=opt, family="ramp to B"), key=lambda r: r["batch_size"])
        assert [r["batch_size"] for r in const] == [r["batch_size"] for r in ramp] == list(BS[1:])
        for c, r in zip(const, ramp):
            assert c["steps"] == nn.tune(PROB, opt, batch_size=c["batch_size"], target=TARGET).steps
            assert r["steps"] >= c["steps"] and r["examples"] < c["examples"]


def test_batch_ramps_caption_states_the_measured_ratios(results: dict[str, FigureResult]) -> None:
    """The caption gives the range of ramp/constant in steps and examples of its own data (before, it stated
    "a ramp never takes fewer steps than its final B" whatever the data: true only at the same learning rate)."""
    result = results["batch_ramps"]
    s, e = [], []
    for opt in ("sgd", "momentum"):
        const = sorted(_records(result, optimizer=opt, family="constant B"), key=lambda r: r["batch_size"])
        ramp = sorted(_records(result, optimizer=opt, family="ramp to B"), key=lambda r: r["batch_size"])
        s += [r["steps"] / c["steps"] for c, r in zip(const, ramp)]
        e += [r["examples"] / c["examples"] for c, r in zip(const, ramp)]
    assert "never takes fewer steps" not in result.caption
    assert (f"a ramp takes {min(s):.3g} to {max(s):.3g} times the steps of its final B and {min(e):.3g} to "
            f"{max(e):.3g} times its examples") in result.caption


def test_preset_curves_end_at_preset_gaps_final_risks(results: dict[str, FigureResult]) -> None:
    """The curves' last points are nn.preset_gaps' final risks (each a separate exact evaluation), and the
    constant curve is nn.expected_risk's."""
    result = results["preset_curves"]
    gaps = nn.preset_gaps(PROB, "sgd", batch_sizes=[256.0], target=TARGET, pieces=4)
    T = int(gaps.budgets[0])
    last = {r["run"]: r["risk"] for r in result.data if r["step"] == T}
    for run, key in (("constant", "constant"), ("cosine", "cosine"), ("WSD (20% cooldown)", "wsd"), ("optimum (4 pieces)", "optimum")):
        assert last[run] == pytest.approx(gaps.risks[key][0], rel=1e-10), run
    const = [r for r in result.data if r["run"] == "constant"]
    steps = [r["step"] for r in const]
    np.testing.assert_allclose([r["risk"] for r in const],
                               nn.expected_risk(PROB, nn.SGD(lr=gaps.peaks["constant"][0]), batch_size=256.0, steps=steps),
                               rtol=1e-10)
