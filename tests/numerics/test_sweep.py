"""Batch-size sweeps: each row is the exact grid optimum at its batch size; the table exports.

References: brute-force scans of the exact risk over every step and grid point at each
batch size (no warm start, no certificates), the information bound computed from its
definition, and closed-form effective learning rates.
"""

import csv
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nqm.numerics as nn

PROB = nn.Problem([1.0, 0.3, 0.05], c=[1.0, 0.3, 0.05], init_var=[1.0, 1.0, 2.0], weights=[1, 4, 20])
GRID = {"lr": np.geomspace(0.02, 2.5, 14), "beta": np.array([0.0, 0.5, 0.9, 0.97])}
BATCHES = np.array([1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 2.0**14])


def scan(prob, opt, B, target, horizon):
    risk = nn.expected_risk(prob, opt, batch_size=B, steps=np.arange(horizon + 1))
    below = risk <= target
    return np.where(below.any(axis=-1), np.argmax(below, axis=-1).astype(float), np.inf)


def scan_optimum(B, target, horizon=6000):
    mesh = np.meshgrid(GRID["lr"], GRID["beta"], indexing="ij")
    hits = scan(PROB, nn.Momentum(lr=mesh[0], beta=mesh[1]), B, target, horizon).ravel()
    best = hits.min()
    if not math.isfinite(best):
        return math.inf, {}
    i, j = np.unravel_index(np.argmax(hits == best), mesh[0].shape)
    return best, {"lr": float(GRID["lr"][i]), "beta": float(GRID["beta"][j])}


@pytest.fixture(scope="module")
def table():
    return nn.sweep(PROB, nn.Momentum, batch_sizes=BATCHES[::-1], target=0.02, grid=GRID)


def test_every_row_is_the_scanned_optimum(table) -> None:
    assert list(table.batch_sizes) == sorted(BATCHES)  # rows come in increasing B
    for row in table.rows:
        steps, hyper = scan_optimum(row.batch_size, 0.02)
        assert row.steps == steps and row.hyperparameters == hyper


def test_information_bound_and_effective_lr_columns(table) -> None:
    # 1/2 tr(H^-1 C) / (eps B) from its definition; alpha / (1 - beta) for heavy ball
    const = 0.5 * np.sum(PROB.weights * PROB.c / PROB.h)
    np.testing.assert_allclose(table.information_bounds, const / (0.02 * table.batch_sizes), rtol=1e-15)
    want = table.column("lr") / (1 - table.column("beta"))
    np.testing.assert_allclose(table.column("effective_lr"), want, rtol=1e-9)
    assert np.all(table.steps >= table.information_bounds)


def test_steps_never_increase_with_batch_size(table) -> None:
    assert np.all(np.diff(table.steps) <= 0)


def test_unreachable_rows_are_inf_and_skipped_by_the_warm_start() -> None:
    # at B = 1 the stationary risk of every grid point exceeds the target; later rows reach it
    t = nn.sweep(PROB, nn.SGD, batch_sizes=[1.0, 1e5], target=1e-3, grid={"lr": np.geomspace(0.01, 1.9, 12)})
    assert t.rows[0].steps == math.inf and t.rows[0].hyperparameters == {}
    lr = np.geomspace(0.01, 1.9, 12)
    assert t.rows[1].steps == scan(PROB, nn.SGD(lr=lr), 1e5, 1e-3, 20000).min()


def test_never_reached_rows_are_strict_json_and_read_back_as_inf(tmp_path) -> None:
    t = nn.sweep(PROB, nn.SGD, batch_sizes=[1.0, 1e5], target=1e-3, grid={"lr": np.geomspace(0.01, 1.9, 12)})

    def refuse(token: str) -> None:
        raise AssertionError(f"non-standard JSON number {token}")

    doc = json.loads(t.to_json(tmp_path / "s.json").read_text(), parse_constant=refuse)
    assert doc["rows"][0]["steps"] == "inf" and float(doc["rows"][0]["steps"]) == t.rows[0].steps
    assert doc["rows"][1]["steps"] == t.rows[1].steps


def test_csv_and_json_round_trip(table, tmp_path) -> None:
    with open(table.to_csv(tmp_path / "s.csv")) as fh:
        rows = list(csv.DictReader(fh))
    assert [float(r["steps"]) for r in rows] == list(table.steps)
    assert [float(r["beta"]) for r in rows] == list(table.column("beta"))
    doc = json.loads(table.to_json(tmp_path / "s.json").read_text())
    assert [r["batch_size"] for r in doc["rows"]] == list(table.batch_sizes)
    assert doc["grid"]["lr"] == list(GRID["lr"])
    crit = table.critical_batch_sizes()
    assert doc["critical_batch_size"]["B_crit_mccandlish"] == crit.mccandlish.B_crit
    assert doc["critical_batch_size"]["B_crit_perfect_scaling_2x"] == crit.perfect_scaling_2x


@pytest.mark.parametrize(
    "opt, want",
    [
        (nn.SGD(lr=0.3), 0.3),
        (nn.Momentum(lr=0.3, beta=0.9), 3.0),
        (nn.Nesterov(lr=0.3, beta=0.9), 3.0),
        (nn.EMA(lr=0.3, gamma=0.9), 0.3),
        (nn.Momentum(lr=0.3, beta=0.9, precond_power=0.5), 3.0),
    ],
)
def test_effective_learning_rate(opt, want) -> None:
    assert float(nn.effective_lr(opt)) == pytest.approx(want, rel=1e-9)


def test_effective_learning_rate_near_beta_one_on_the_paper_grid() -> None:
    """alpha/(1-beta) also where alpha h = 1e-12 is not << (1-beta)^2 (beta = 1 - 1e-6, lr = 1): the
    slope is read at a smaller probe curvature, to 1e-4."""
    assert float(nn.effective_lr(nn.Momentum(lr=1.0, beta=1 - 1e-6))) == pytest.approx(1e6, rel=1e-4)
    lr, beta = np.logspace(-8, 1, 100)[:, None], 1 - np.logspace(-5, 0, 20)[None, :]
    np.testing.assert_allclose(nn.effective_lr(nn.Momentum(lr=lr, beta=beta)), lr / (1 - beta), rtol=1e-4)


def test_optimal_learning_rate_table_scales_linearly_on_the_paper_problem() -> None:
    # Fig. 14's claim: the optimal learning rate grows about linearly with B below B_crit
    t = nn.optimal_learning_rates(nn.Problem.paper(), nn.SGD, batch_sizes=2.0 ** np.arange(2, 12, 2))
    assert np.all(np.diff(t.lr) >= 0)
    assert 0.8 < t.scaling_exponent < 1.2
    np.testing.assert_allclose(t.effective_lr, t.lr, rtol=1e-9)


@settings(deadline=None, max_examples=5)
@given(order=st.permutations(list(BATCHES[:5])))
def test_row_order_does_not_matter(order) -> None:
    a = nn.sweep(PROB, nn.Momentum, batch_sizes=order, target=0.05, grid=GRID)
    for row in a.rows:
        assert row.steps == scan_optimum(row.batch_size, 0.05)[0]


def test_papers_qualitative_claims_on_fig_3a() -> None:
    # momentum raises the critical batch size over SGD; preconditioning raises it further
    prob = nn.Problem.paper()
    crit = {}
    for name in ("sgd", "momentum"):
        for p in (0.0, 0.5):
            crit[name, p] = nn.sweep(prob, name, precond_power=p).critical_batch_sizes().perfect_scaling_2x
    assert crit["momentum", 0.0] > crit["sgd", 0.0]
    assert crit["sgd", 0.5] > crit["sgd", 0.0] and crit["momentum", 0.5] > crit["momentum", 0.0]


def test_sweep_jobs_state_the_size_of_each_config_before_any_work() -> None:
    """``nn.sweep_jobs``: per config, grid points (the product of the grid's axes), batch sizes and
    bins, and their product as searches; bad input is the ValueError that ``nn.sweeps`` raises."""
    grid = {"lr": GRID["lr"], "beta": GRID["beta"]}
    jobs = nn.sweep_jobs(PROB, [{"optimizer": "momentum", "grid": grid}, {"optimizer": "sgd", "grid": {"lr": GRID["lr"]},
                                                                          "precond_power": 0.5}], batch_sizes=BATCHES)
    assert [(j.optimizer, j.precond_power) for j in jobs] == [("momentum", 0.0), ("sgd", 0.5)]
    assert [j.grid_points for j in jobs] == [GRID["lr"].size * GRID["beta"].size, GRID["lr"].size]
    assert {j.batch_sizes for j in jobs} == {BATCHES.size} and {j.bins for j in jobs} == {PROB.size}
    assert [j.searches for j in jobs] == [j.grid_points * BATCHES.size * PROB.size for j in jobs]
    assert all(j.tasks >= 1 for j in jobs)
    for call in (nn.sweep_jobs, nn.sweeps):
        with pytest.raises(ValueError, match="every config needs an 'optimizer'"):
            call(PROB, [{"grid": grid}], batch_sizes=BATCHES)
        with pytest.raises(ValueError, match="target"):
            call(PROB, ["sgd"], batch_sizes=BATCHES, target=-1.0)
