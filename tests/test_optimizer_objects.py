"""Optimizers are passed as objects end to end; the registry is a catalogue of names, not plumbing.

A spec (``nqm.theory.OptimizerSpec``), an instance or ``nn.from_spec`` of a spec goes into every
entry point and pickles itself to worker processes as its spec; nothing is registered on the way
(each test checks the registry is unchanged). User specs here are built-ins under another name, so
their results are known: the built-in's, to the engine's exactness (1e-10 relative, README) since the
user spec's forms are compiled from the spec and the built-in's are generated ahead of time.
"""

from __future__ import annotations

import dataclasses
import pickle

import numpy as np
import pytest

import nqm.numerics as nn
from nqm.theory import momentum, nesterov, register, registered_names, sgd, unregister

PROB = nn.Problem.paper(d=200, bins=4)
BS = [4.0, 64.0]
TARGET = 0.5 * PROB.initial_risk
GRID = {"lr": np.logspace(-2, 0.3, 6)}
#: the engine's exactness on both paths (README, tests/numerics/test_exactness.py)
RTOL = 1e-10

USER_SGD = dataclasses.replace(sgd, name="objects_user_sgd", display_name="user SGD")
USER_MOMENTUM = dataclasses.replace(momentum, name="objects_user_momentum", display_name="")


@pytest.fixture(autouse=True)
def _registry_unchanged():
    """No entry point registers anything (before the change, passing a spec registered it)."""
    before = registered_names()
    yield
    assert registered_names() == before


def test_nothing_is_registered_and_the_object_pickles_as_its_spec() -> None:
    factory = nn.from_spec(USER_MOMENTUM)
    opt = factory(lr=0.1, beta=0.9)
    assert USER_MOMENTUM.name not in registered_names()
    back = pickle.loads(pickle.dumps(opt))
    assert back.spec == USER_MOMENTUM and back.forms.source == USER_MOMENTUM and not back.forms.builtin
    assert pickle.loads(pickle.dumps(nn.Momentum(lr=0.1, beta=0.9))).forms.builtin  # a built-in stays generated
    got = nn.expected_risk(PROB, back, batch_size=8, steps=[0, 10, 1000])
    want = nn.expected_risk(PROB, nn.Momentum(lr=0.1, beta=0.9), batch_size=8, steps=[0, 10, 1000])
    np.testing.assert_allclose(got, want, rtol=RTOL)


def test_an_object_is_itself_even_where_its_name_is_registered_to_another_spec() -> None:
    """The registry resolves names only: a spec object is evaluated as the spec it is."""
    mine = dataclasses.replace(momentum, name="objects_twin")
    register(dataclasses.replace(nesterov, name="objects_twin"))
    try:
        hyper = dict(lr=0.3, beta=0.6, batch_size=8, steps=[5, 50])
        by_object = nn.expected_risk(PROB, mine, **hyper)
        by_name = nn.expected_risk(PROB, "objects_twin", **hyper)
        np.testing.assert_allclose(by_object, nn.expected_risk(PROB, "momentum", **hyper), rtol=RTOL)
        np.testing.assert_allclose(by_name, nn.expected_risk(PROB, "nesterov", **hyper), rtol=RTOL)
        assert not np.allclose(by_object, by_name)
        from nqm.proofs import check_conformance

        report = check_conformance(mine, max_examples=2, properties=["engine_matches_recursion"], shrink_seconds=0)
        assert report.ok and report.spec == "objects_twin"
    finally:
        unregister("objects_twin")


def test_an_unregistered_spec_runs_on_process_pools() -> None:
    """Sweeps (two configurations: two tasks, so a pool of worker processes) and Monte Carlo on a
    fresh worker process give the serial result for a spec no process has registered."""
    configs = [USER_SGD, {"optimizer": USER_SGD, "precond_power": 0.5}]
    kw = dict(batch_sizes=BS, target=TARGET, grid=GRID)
    pooled = nn.sweeps(PROB, configs, executor="processes", **kw)
    serial = nn.sweeps(PROB, configs, executor="serial", **kw)
    assert [s.records() for s in pooled] == [s.records() for s in serial]
    builtin = nn.sweeps(PROB, ["sgd", {"optimizer": "sgd", "precond_power": 0.5}], executor="serial", **kw)
    for user, own in zip(serial, builtin):
        assert user.optimizer == USER_SGD.name
        np.testing.assert_array_equal(user.steps, own.steps)
    mc = dict(batch_size=8, steps=[0, 5, 20], runs=40, seed=3)
    with nn.local_pool(1) as pool:
        in_worker = nn.monte_carlo(PROB, USER_MOMENTUM, lr=0.2, beta=0.5, executor=pool, **mc)
    here = nn.monte_carlo(PROB, USER_MOMENTUM, lr=0.2, beta=0.5, executor="serial", **mc)
    np.testing.assert_array_equal(in_worker.mean, here.mean)


def test_a_figure_takes_an_unregistered_spec_and_labels_it_by_the_spec() -> None:
    from nqm.proofs import figure_13, figure_steps_surface

    fig = figure_13(optimizers=[USER_SGD], problem=PROB, batch_sizes=BS, targets=(TARGET,), executor="serial")
    assert fig.figure.axes[0].get_title().endswith("user SGD")  # the spec's own display name
    assert {r["optimizer"] for r in fig.data if "optimizer" in r} == {USER_SGD.name}
    surface = dict(problem=PROB, batch_sizes=(64.0,), lrs=np.logspace(-2, 0.3, 4), seconds=[0.0, 0.5, 0.9])
    with nn.local_pool(1) as pool:  # the surface's task runs in a fresh worker process
        user = figure_steps_surface(optimizer=USER_MOMENTUM, executor=pool, **surface)
    own = figure_steps_surface(optimizer="momentum", executor="serial", **surface)
    assert [r["steps"] for r in user.data] == [r["steps"] for r in own.data]
    assert USER_MOMENTUM.name in user.figure.texts[0].get_text()  # no display name: the spec's name
