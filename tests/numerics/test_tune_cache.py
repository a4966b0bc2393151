"""``tune`` keeps a grid's batch-size-free work between calls: never at the cost of a result.

References: ``sweep`` (one warm-started loop over the batch sizes, built once) and ``tune`` on a
freshly cleared cache (nothing kept: every call builds and searches from scratch). The keeping
must change nothing, in any call order, for any change of problem, spec, grid or fixed value.
"""

import dataclasses
import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import nqm.numerics as nn
from nqm.numerics import _steps, _tune
from nqm.numerics import build_model

PROB = nn.Problem.paper(d=1000, bins=8)
GRID = {"lr": np.geomspace(1e-3, 1.5, 16), "beta": np.array([0.0, 0.5, 0.9, 0.99])}
BATCH_SIZES = 4.0 ** np.arange(1, 7)
TARGET = 0.05


@pytest.fixture(autouse=True)
def empty_cache():
    nn.clear_tune_cache()
    yield
    nn.clear_tune_cache()


def fresh(problem, optimizer, B, **kwargs):
    """``tune`` with nothing kept from earlier calls."""
    nn.clear_tune_cache()
    return nn.tune(problem, optimizer, batch_size=B, target=TARGET, **kwargs)


def outcome(result):
    return result.steps, result.index, result.hyperparameters


@pytest.mark.parametrize("optimizer, p", [("sgd", 0.0), ("momentum", 0.5), ("ema", 0.25)])
def test_a_tune_loop_in_any_order_equals_the_sweep(optimizer, p) -> None:
    grid = {"lr": GRID["lr"]} if optimizer == "sgd" else {"lr": GRID["lr"], ("gamma" if optimizer == "ema" else "beta"): GRID["beta"]}
    table = nn.sweep(PROB, optimizer, batch_sizes=BATCH_SIZES, target=TARGET, grid=grid, precond_power=p, executor="serial")
    want = {row.batch_size: (row.steps, row.hyperparameters) for row in table.rows}
    assert sum(math.isfinite(s) for s, _ in want.values()) >= 3  # the comparison is about real optima
    cold = {float(B): outcome(fresh(PROB, optimizer, B, grid=grid, precond_power=p)) for B in BATCH_SIZES}
    nn.clear_tune_cache()
    rng = np.random.default_rng(0)
    for order in (BATCH_SIZES, BATCH_SIZES[::-1], rng.permutation(BATCH_SIZES), BATCH_SIZES):
        for B in order:
            got = nn.tune(PROB, optimizer, batch_size=B, target=TARGET, grid=grid, precond_power=p)
            assert (got.steps, got.hyperparameters) == want[float(B)], (order, B)
            assert outcome(got) == cold[float(B)]


def test_a_second_call_builds_nothing(monkeypatch) -> None:
    built, build = [], _tune.build_model
    monkeypatch.setattr(_tune, "build_model", lambda *a, **k: built.append(1) or build(*a, **k))
    nn.tune(PROB, nn.Momentum, batch_size=16, target=TARGET, grid=GRID)
    first = len(built)
    nn.tune(PROB, nn.Momentum, batch_size=64, target=TARGET, grid=GRID)
    nn.tune(PROB, nn.Momentum, batch_size=4, target=TARGET, grid=GRID)
    assert first >= 1 and len(built) == first


def test_another_problem_of_the_same_shape_is_never_served_the_kept_work() -> None:
    other = nn.Problem(PROB.h, c=0.5 * PROB.c, init_var=PROB.init_var, weights=PROB.weights, name=PROB.name)
    for problem in (PROB, other, PROB):
        got = nn.tune(problem, nn.Momentum, batch_size=64, target=TARGET, grid=GRID)
        assert outcome(got) == outcome(fresh(problem, nn.Momentum, 64, grid=GRID))
    assert nn.tune(PROB, nn.Momentum, batch_size=64, target=TARGET, grid=GRID).steps != nn.tune(
        other, nn.Momentum, batch_size=64, target=TARGET, grid=GRID).steps  # the check above can fail


def test_a_problem_changed_in_place_is_searched_anew() -> None:
    problem = nn.Problem(PROB.h, c=PROB.c, init_var=PROB.init_var, weights=PROB.weights)
    before = nn.tune(problem, nn.Momentum, batch_size=64, target=TARGET, grid=GRID)
    problem.init_var.setflags(write=True)  # a user defeating the read-only arrays
    problem.init_var[:] *= 4.0
    after = nn.tune(problem, nn.Momentum, batch_size=64, target=TARGET, grid=GRID)
    assert outcome(after) == outcome(fresh(problem, nn.Momentum, 64, grid=GRID))
    assert after.steps != before.steps


LR = {"lr": GRID["lr"]}


@pytest.mark.parametrize("first, then", [
    ({"grid": GRID}, {"grid": {"lr": GRID["lr"] * (1 + 2.0**-50), "beta": GRID["beta"]}}),  # same shape, other values
    ({"grid": GRID}, {"grid": LR, "beta": 0.5}),  # a fixed value instead of an axis
    ({"grid": LR, "beta": 0.5}, {"grid": LR, "beta": 0.9}),  # another fixed value
    ({"grid": GRID}, {"grid": GRID, "precond_power": 0.5}),
])
def test_grid_fixed_values_and_precond_power_are_part_of_the_key(first, then) -> None:
    nn.tune(PROB, nn.Momentum, batch_size=64, target=TARGET, **first)
    kept = nn.tune(PROB, nn.Momentum, batch_size=64, target=TARGET, **then)
    assert outcome(kept) == outcome(fresh(PROB, nn.Momentum, 64, **then))


def test_a_user_spec_registered_again_under_its_name_is_searched_anew() -> None:
    from nqm.theory import momentum, nesterov, register, unregister

    register(dataclasses.replace(momentum, name="kept_spec_check"))
    try:
        first = nn.tune(PROB, "kept_spec_check", batch_size=64, target=TARGET, grid=GRID)
        assert outcome(first) == outcome(nn.tune(PROB, "momentum", batch_size=64, target=TARGET, grid=GRID))
        register(dataclasses.replace(nesterov, name="kept_spec_check"), overwrite=True)
        second = nn.tune(PROB, "kept_spec_check", batch_size=64, target=TARGET, grid=GRID)
        assert outcome(second) == outcome(nn.tune(PROB, "nesterov", batch_size=64, target=TARGET, grid=GRID))
        assert second.steps != first.steps
    finally:
        unregister("kept_spec_check")


def test_the_kept_work_is_bounded(monkeypatch) -> None:
    nn.tune(PROB, nn.Momentum, batch_size=64, target=TARGET, grid=GRID)
    one = _tune._SEARCHES.total_size
    assert len(_tune._SEARCHES) == 1 and one > 0
    monkeypatch.setattr(_tune._SEARCHES, "max_size", int(2.5 * one))
    for p in (0.25, 0.5, 0.75):
        nn.tune(PROB, nn.Momentum, batch_size=64, target=TARGET, grid=GRID, precond_power=p)
        assert _tune._SEARCHES.total_size <= 2.5 * one
    assert len(_tune._SEARCHES) == 2  # the two most recent
    kept = list(_tune._SEARCHES._values)
    # a grid too large to keep on its own is not kept, and the grids kept before stay
    monkeypatch.setattr(_tune._SEARCHES, "max_size", int(2.5 * one) - 1)
    monkeypatch.setattr(_tune._SEARCHES, "_size", lambda search: int(2.5 * one))
    got = nn.tune(PROB, nn.Momentum, batch_size=16, target=TARGET, grid=GRID)
    assert list(_tune._SEARCHES._values) == kept
    assert outcome(got) == outcome(fresh(PROB, nn.Momentum, 16, grid=GRID))


def test_grids_too_large_to_keep_models_still_count_their_flattened_points(monkeypatch) -> None:
    monkeypatch.setattr(_tune, "_CACHE_ELEMENTS", 1)  # no models kept
    nn.tune(PROB, nn.Momentum, batch_size=64, target=TARGET, grid=GRID)
    points = GRID["lr"].size * GRID["beta"].size
    assert _tune._SEARCHES.total_size >= 2 * 8 * points  # lr and beta of every point


def test_calls_from_threads_agree_with_serial_calls() -> None:
    want = {B: outcome(fresh(PROB, nn.Momentum, B, grid=GRID)) for B in BATCH_SIZES}
    nn.clear_tune_cache()
    jobs = [B for B in BATCH_SIZES for _ in range(3)]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda B: outcome(nn.tune(PROB, nn.Momentum, batch_size=B, target=TARGET, grid=GRID)), jobs))
    assert got == [want[B] for B in jobs]


def test_certificates_at_one_batch_size_leave_the_kept_modal_data_unchanged() -> None:
    # near-repeated roots (beta = (1 - sqrt(lr h))^2): ill-conditioned modal expansions, not "ok" at
    # any batch size; making the certificates once used to clear those bins in the kept units too
    prob = nn.Problem([1.0, 0.25], c=[1.0, 1.0], init_var=1.0)
    model = build_model(prob, nn.Momentum(lr=np.array([0.01, 0.04, 0.01]), beta=np.array([0.81, 0.64, 0.5])), 1.0).flatten()
    kept = {k: v.copy() for k, v in _steps._modal_units(model).items()}
    model.cache["modal"] = _steps._modal_units(model)
    cert = _steps._Certificates(model.with_batch_size(64.0))
    assert not cert.modal.all()  # the case in question
    for k, v in kept.items():
        np.testing.assert_array_equal(model.cache["modal"][k], v)
