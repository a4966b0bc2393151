"""Result tables (numerics/_tables.py): to_pandas, to_xarray, _repr_html_, and the CSV/JSON writers.

Every value is compared with the result's own fields (never with a number the conversion produced),
on a 6-bin problem and small grids (the whole module takes a few seconds).
"""

from __future__ import annotations

import csv
import io
import json
import math
import sys

import numpy as np
import pytest

import nqm.numerics as nn
from nqm.numerics.io import INSTALL_TABLES, csv_cell, csv_text, html_table

PROB = nn.Problem.paper(d=200, bins=6)
LRS = np.geomspace(0.01, 1.9, 8)
BATCH_SIZES = [4.0, 64.0, 1024.0]
TARGET = 0.05


@pytest.fixture(scope="module")
def sweep() -> nn.Sweep:
    return nn.sweep(PROB, nn.SGD, batch_sizes=BATCH_SIZES, target=TARGET, grid={"lr": LRS})


@pytest.fixture(scope="module")
def sweeps() -> nn.SweepList:
    grid = {"lr": LRS, "beta": [0.0, 0.5, 0.9]}
    return nn.sweeps(PROB, [{"optimizer": nn.SGD, "grid": {"lr": LRS}}, {"optimizer": nn.Momentum, "grid": grid},
                            {"optimizer": nn.Momentum, "grid": grid, "precond_power": 0.5}],
                     batch_sizes=BATCH_SIZES, target=TARGET)


@pytest.fixture(scope="module")
def tuned() -> nn.TuneResult:
    return nn.tune(PROB, nn.Momentum, batch_size=64, target=TARGET, grid={"lr": LRS[:5], "beta": [0.0, 0.5, 0.9]},
                   grid_steps=True)


@pytest.fixture(scope="module")
def mc() -> nn.MonteCarloResult:
    return nn.monte_carlo(PROB, nn.SGD(lr=0.5), batch_size=8, steps=6, runs=5, seed=3, targets=[1.5, 0.5],
                          keep_curves=True, executor="serial")


@pytest.fixture(scope="module")
def schedules() -> nn.ScheduleSweep:
    return nn.schedule_sweep(PROB, "sgd", batch_sizes=[4.0, 64.0], target=TARGET, pieces=3,
                             constant_lrs=LRS, executor="serial")


# ---------------------------------------------------------------------- to_pandas
def test_sweep_to_pandas_has_one_row_per_batch_size_with_the_rows_values(sweep) -> None:
    pytest.importorskip("pandas")
    df = sweep.to_pandas()
    assert list(df.columns) == list(sweep.records()[0])
    assert len(df) == len(sweep.rows)
    assert df["batch_size"].tolist() == sweep.batch_sizes.tolist()
    assert df["steps"].tolist() == sweep.steps.tolist()
    assert df["lr"].tolist() == sweep.column("lr").tolist()
    assert df["information_bound"].tolist() == sweep.information_bounds.tolist()
    assert df.attrs == {"optimizer": "sgd", "precond_power": 0.0, "target": TARGET, "problem": PROB.name}


def test_sweep_list_is_a_list_and_joins_its_sweeps(sweeps) -> None:
    pytest.importorskip("pandas")
    assert isinstance(sweeps, list) and len(sweeps) == 3 and all(isinstance(s, nn.Sweep) for s in sweeps)
    df = sweeps.to_pandas()
    assert len(df) == 3 * len(BATCH_SIZES)
    assert df["steps"].tolist() == [x for s in sweeps for x in s.steps.tolist()]
    assert df["optimizer"].tolist() == [s.optimizer for s in sweeps for _ in s.rows]
    crit = sweeps.to_pandas("critical")
    assert len(crit) == 3
    for (_, row), s in zip(crit.iterrows(), sweeps):
        c = s.critical_batch_sizes()
        assert row["precond_power"] == s.precond_power
        assert row["B_crit_perfect_scaling_2x"] == c.perfect_scaling_2x or math.isnan(c.perfect_scaling_2x)
        assert row["B_crit_mccandlish"] == c.mccandlish.B_crit and row["S_min"] == c.mccandlish.S_min


def test_tune_result_tables_hold_the_optimum_and_every_grid_point(tuned) -> None:
    pytest.importorskip("pandas")
    row = tuned.to_pandas().iloc[0]
    assert len(tuned.to_pandas()) == 1
    assert row["steps"] == tuned.steps and row["grid_optimum"] == tuned.grid_optimum
    assert row["lr"] == tuned.hyperparameters["lr"] and row["beta"] == tuned.hyperparameters["beta"]
    assert row["optimizer"] == "momentum" and row["batch_size"] == 64.0 and row["at_edge"] == " ".join(tuned.at_edge)
    grid = tuned.to_pandas("grid")
    assert list(grid.columns) == ["lr", "beta", "steps"] and len(grid) == tuned.grid_steps.size
    for _, r in grid.iterrows():
        i, j = list(tuned.grid["lr"]).index(r["lr"]), list(tuned.grid["beta"]).index(r["beta"])
        assert r["steps"] == tuned.grid_steps[i, j]


def test_tune_result_without_grid_steps_has_no_grid_table() -> None:
    result = nn.tune(PROB, nn.SGD, batch_size=64, target=TARGET, grid={"lr": LRS})
    with pytest.raises(ValueError, match="table must be one of 'optimum'"):
        result.to_csv(table="grid")


def test_monte_carlo_tables_index_every_array_by_its_axes(mc) -> None:
    pytest.importorskip("pandas")
    risk = mc.to_pandas()
    assert risk["step"].tolist() == mc.steps.tolist() and risk["mean"].tolist() == mc.mean.tolist()
    assert risk["stderr"].tolist() == mc.stderr.tolist()
    assert risk.attrs["runs"] == 5 and risk.attrs["seed"] == 3
    curves = mc.to_pandas("curves")
    assert len(curves) == mc.curves.size
    for _, r in curves.iterrows():
        assert r["loss"] == mc.curves[int(r["run"]), int(r["step"])]
    hits = mc.to_pandas("first_hits")
    for _, r in hits.iterrows():
        assert r["first_hit"] == mc.first_hits[list(mc.targets).index(r["target"]), int(r["run"])]
    quant = mc.to_pandas("quantiles")
    assert len(quant) == mc.steps_quantiles.size
    for _, r in quant.iterrows():
        i, j = list(mc.targets).index(r["target"]), list(mc.quantile_levels).index(r["quantile"])
        assert r["steps"] == mc.steps_quantiles[i, j]


def test_schedule_sweep_tables(schedules) -> None:
    pytest.importorskip("pandas")
    steps = schedules.to_pandas()
    for k, v in schedules.steps_table().items():
        assert steps[k].tolist() == list(v)
    assert steps["final_lr"].tolist() == schedules.final_lr.tolist()
    pieces = schedules.to_pandas("pieces")
    assert len(pieces) == sum(len(s.lrs) for s in schedules.schedules)
    for B, s in zip(schedules.batch_sizes, schedules.schedules):
        mine = pieces[pieces["batch_size"] == B]
        assert mine["lr"].tolist() == list(s.lrs) and mine["length"].tolist() == list(s.lengths)
        assert mine["start"].tolist() == list(s.boundaries[:-1]) and mine["end"].tolist() == list(s.boundaries[1:])
        assert mine["risk_end"].tolist() == list(s.risk[1:])
    one = schedules.schedules[0].to_pandas()
    assert one["piece"].tolist() == [0, 1, 2] and one.attrs["steps"] == schedules.schedules[0].steps
    searched = schedules.schedules[0].to_pandas("searched")
    assert dict(zip(searched["total_steps"], searched["best_risk"])) == schedules.schedules[0].searched


def test_learning_rate_table_and_critical_batch_sizes(sweep) -> None:
    pytest.importorskip("pandas")
    table = nn.optimal_learning_rates(PROB, nn.SGD, batch_sizes=BATCH_SIZES, target=TARGET, grid={"lr": LRS})
    df = table.to_pandas()
    assert list(df.columns) == ["batch_size", "lr", "effective_lr", "steps"]
    assert df["lr"].tolist() == table.lr.tolist() and df["steps"].tolist() == table.steps.tolist()
    assert df.attrs == {"scaling_exponent": table.scaling_exponent}
    crit = nn.critical_batch_sizes([4, 16, 64, 256], [1000, 260, 80, 40])
    row = crit.to_pandas().iloc[0]
    assert row["B_crit_mccandlish"] == crit.mccandlish.B_crit and row["E_min"] == crit.mccandlish.E_min
    assert row["B_crit_perfect_scaling_2x"] == crit.perfect_scaling_2x
    fit = crit.mccandlish.to_pandas()
    assert fit.to_dict("records") == [{"S_min": crit.mccandlish.S_min, "E_min": crit.mccandlish.E_min,
                                        "B_crit": crit.mccandlish.B_crit,
                                        "rms_relative_error": crit.mccandlish.rms_relative_error}]
    none = nn.critical_batch_sizes([4, 16], [10, math.inf]).to_pandas()  # one finite row: no fit
    assert math.isnan(none["S_min"].iloc[0]) and math.isnan(none["B_crit_mccandlish"].iloc[0])


def test_an_unknown_table_is_a_value_error_naming_the_choices(sweep) -> None:
    with pytest.raises(ValueError, match=r"table must be one of 'rows' .*got 'nope'"):
        sweep.to_csv(table="nope")


# ---------------------------------------------------------------------- to_xarray
def test_sweep_list_to_xarray_has_optimizer_power_and_batch_size_axes(sweeps) -> None:
    pytest.importorskip("xarray")
    ds = sweeps.to_xarray()
    assert dict(ds.sizes) == {"optimizer": 2, "precond_power": 2, "batch_size": 3}
    assert ds.attrs["target"] == TARGET
    for s in sweeps:
        at = ds.sel(optimizer=s.optimizer, precond_power=s.precond_power)
        assert at["steps"].values.tolist() == s.steps.tolist()
        assert float(at["B_crit_mccandlish"]) == s.critical_batch_sizes().mccandlish.B_crit
    missing = ds.sel(optimizer="sgd", precond_power=0.5)  # not swept: NaN, not a made-up value
    assert np.isnan(missing["steps"].values).all()
    twice = nn.SweepList([sweeps[0], sweeps[0]])
    with pytest.raises(ValueError, match="use to_pandas"):
        twice.to_xarray()


def test_sweep_tune_and_schedule_datasets(sweep, tuned, schedules) -> None:
    pytest.importorskip("xarray")
    ds = sweep.to_xarray()
    assert list(ds.sizes) == ["batch_size"] and ds["batch_size"].values.tolist() == BATCH_SIZES
    assert ds["steps"].values.tolist() == sweep.steps.tolist() and ds.attrs["optimizer"] == "sgd"
    grid = tuned.to_xarray()
    assert grid["steps"].dims == ("lr", "beta")
    np.testing.assert_array_equal(grid["steps"].values, tuned.grid_steps)
    assert grid.attrs["grid_optimum"] == tuned.grid_optimum
    sched = schedules.to_xarray()
    assert dict(sched.sizes) == {"batch_size": 2, "piece": 3}
    np.testing.assert_array_equal(sched["lr"].values, np.array([s.lrs for s in schedules.schedules]))
    assert sched["schedule_steps"].values.tolist() == schedules.steps.tolist()


def test_monte_carlo_dataset(mc) -> None:
    pytest.importorskip("xarray")
    ds = mc.to_xarray()
    assert dict(ds.sizes) == {"step": 7, "run": 5, "target": 2, "quantile": mc.quantile_levels.size}
    np.testing.assert_array_equal(ds["loss"].transpose("run", "step").values, mc.curves)
    np.testing.assert_array_equal(ds["mean"].values, mc.mean)
    order = np.argsort(mc.targets)  # the target coordinate is sorted
    np.testing.assert_array_equal(ds["first_hit"].transpose("target", "run").values, mc.first_hits[order])


# ---------------------------------------------------------------------- CSV, JSON, HTML
def test_csv_cells_write_integral_numbers_as_integers() -> None:
    assert csv_cell(64.0) == 64 and isinstance(csv_cell(64.0), int)
    assert csv_cell(np.float64(3.0)) == 3 and csv_cell(np.int64(7)) == 7
    assert csv_cell(0.1) == 0.1 and csv_cell(math.inf) == "inf" and csv_cell(-math.inf) == "-inf"
    assert csv_cell(math.nan) == "nan" and csv_cell(True) is True and csv_cell("a") == "a"
    assert isinstance(csv_cell(2.0**53), float)  # beyond 2**53 an integral float need not be the integer written
    assert csv_text({"B": [64.0, 1e20], "steps": [math.inf, 12.0]}) == "B,steps\n64,inf\n1e+20,12\n"


def test_sweep_csv_has_integer_steps_and_batch_sizes_and_reads_back_exactly(sweep) -> None:
    text = sweep.to_csv()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["batch_size"] for r in rows] == ["4", "64", "1024"]  # was 4.0, 64.0, 1024.0
    assert [float(r["steps"]) for r in rows] == sweep.steps.tolist() and "." not in rows[0]["steps"]
    assert [float(r["lr"]) for r in rows] == sweep.column("lr").tolist()
    unreachable = nn.sweep(PROB, nn.SGD, batch_sizes=[1.0, 1e5], target=1e-3, grid={"lr": LRS})
    assert list(csv.DictReader(io.StringIO(unreachable.to_csv())))[0]["steps"] == "inf"


@pytest.mark.parametrize("method", ["to_csv", "to_json"])
def test_writers_give_the_same_text_to_a_path_a_stream_and_a_string(sweep, mc, tmp_path, method) -> None:
    for result in (sweep, mc):
        text = getattr(result, method)()
        assert isinstance(text, str) and text
        path = tmp_path / f"out.{method}"
        assert getattr(result, method)(path) == path and path.read_text() == text
        assert getattr(result, method)(str(path)) == path and path.read_text() == text
        stream = io.StringIO()
        assert getattr(result, method)(stream) is None and stream.getvalue() == text
    with pytest.raises(ValueError, match="path must be a file path, an open text stream or None"):
        sweep.to_csv(3)


def test_to_dict_is_the_json_document_as_plain_data(sweep, mc) -> None:
    """What the CLI embeds in its sweep file: equal to the JSON read back, strictly JSON-ready
    (the unreached target's steps as the string "inf"), and independent of the result object."""
    for result in (sweep, mc):
        doc = result.to_dict()
        assert doc == json.loads(result.to_json()) and json.dumps(doc, allow_nan=False)
    unreachable = nn.sweep(PROB, nn.SGD, batch_sizes=[1.0, 1e5], target=1e-3, grid={"lr": LRS}).to_dict()
    assert unreachable["rows"][0]["steps"] == "inf" and unreachable["grid"]["lr"] == LRS.tolist()


def test_json_is_strict_and_holds_every_table(mc) -> None:
    def refuse(token: str) -> None:
        raise AssertionError(f"non-standard JSON number {token}")

    doc = json.loads(mc.to_json(), parse_constant=refuse)
    assert doc["runs"] == 5 and [r["mean"] for r in doc["risk"]] == mc.mean.tolist()
    assert {"curves", "first_hits", "quantiles"} <= set(doc)
    assert [float(r["first_hit"]) for r in doc["first_hits"]] == mc.first_hits.ravel().tolist()
    assert "inf" in {r["first_hit"] for r in doc["first_hits"]}  # no run reaches 0.5 in 6 steps (the mean is above 1)


def test_repr_html_shows_the_table(sweep) -> None:
    pytest.importorskip("pandas")
    page = sweep._repr_html_()
    assert "<table" in page and "<th>information_bound</th>" in page and "Sweep (rows)" in page
    assert all(f"<td>{s:.1f}</td>" in page for s in sweep.steps)


def test_html_without_pandas_is_a_small_escaped_table(sweep, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    page = sweep._repr_html_()
    assert page.count("<tr>") == 1 + len(sweep.rows) and "<th>information_bound</th>" in page
    assert "<td>1024</td>" in page and all(f"<td>{int(x)}</td>" in page for x in sweep.steps)  # integers as integers
    hostile = html_table({"a<b": ["<script>", 1.5]}, "x & y")
    assert "<script>" not in hostile and "&lt;script&gt;" in hostile and "a&lt;b" in hostile and "x &amp; y" in hostile
    long = html_table({"step": list(range(1000))}, "long")
    assert long.count("<tr>") == 1 + 60 + 1 and "940 rows" in long and "<td>999</td>" in long


def test_missing_pandas_or_xarray_names_the_extra(sweep, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"Sweep\.to_pandas\(\) needs pandas") as info:
        sweep.to_pandas()
    assert INSTALL_TABLES in str(info.value) and INSTALL_TABLES == 'pip install "nqm-toolkit[tables]"'
    monkeypatch.setitem(sys.modules, "xarray", None)
    with pytest.raises(ImportError, match="nqm-toolkit\\[tables\\]"):
        sweep.to_xarray()
