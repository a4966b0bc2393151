"""The conformance suite under schedules: the strategy, the per-step recursion, and the verdicts.

The recursion (nqm.proofs.moment_recursion_risk with per-step values) is checked against the
30-digit mpmath reference; the strategy against itself only in that the engine's forms and the
reference's per-step values describe the same schedule; the Monte-Carlo property against a
simulator that ignores the batch-size schedule.
"""

import _moment_reference as ref
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import nqm.numerics as nn
from nqm.numerics import _montecarlo
from nqm.numerics.schedules import BATCH_SIZE, segments
from nqm.proofs import check_conformance, moment_recursion_risk, scheduled_setups
from nqm.theory import get_spec

#: qhm (three hyperparameters) in the quick run, the others slow
SPECS = [pytest.param(name, marks=pytest.mark.slow) for name in ("sgd", "momentum", "ema", "nesterov")] + ["qhm"]


@pytest.mark.parametrize("name", SPECS)
def test_per_step_recursion_matches_mpmath(name: str) -> None:
    """Per-step values of every hyperparameter and of the batch size, 1e-12 against 30 digits."""
    spec = get_spec(name)

    @settings(max_examples=2, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(scheduled_setups(name, max_bins=2, max_steps=10, precondition=False))
    def run(ex) -> None:
        s, T = ex.setup, ex.horizon
        hyper = {k: np.broadcast_to(np.asarray(v, dtype=float), (T,)).tolist() for k, v in ex.hyperparameters.items()}
        batch = np.broadcast_to(np.asarray(ex.batch_size, dtype=float), (T,)).tolist()
        lrs = hyper.pop("lr", [None] * T)
        per = ref.per_coordinate_risks(spec, s.problem, hyper, 0.0, batch, lrs)
        reference = np.array([float(sum(w * r[t] for w, r in zip(s.problem.weights, per))) for t in range(T + 1)])
        public = moment_recursion_risk(spec, s.problem, ex.hyperparameters, batch_size=ex.batch_size,
                                       steps=np.arange(T + 1))
        np.testing.assert_allclose(public, reference, rtol=1e-12, atol=0)

    run()


@settings(max_examples=6, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(scheduled_setups("momentum", max_steps=30))
def test_the_engine_and_the_reference_receive_the_same_schedule(ex) -> None:
    base = {k: float(v) for k, v in ex.setup.hyperparameters.items()}
    joined = segments(ex.schedule, ex.horizon, bases=base)
    assert set(joined.values) == set(ex.per_step) and ex.per_step
    for key, values in ex.per_step.items():
        assert values.shape == (ex.horizon,)
        np.testing.assert_array_equal(joined.at_steps(key), values)
    assert (BATCH_SIZE in ex.schedule) == ("batch_size" not in ex.engine_arguments())


def test_the_recursion_refuses_too_short_schedules() -> None:
    with pytest.raises(ValueError, match="lr must be a number or a 1-D array of at least 5 per-step values"):
        moment_recursion_risk(get_spec("sgd"), nn.Problem([1.0]), {"lr": [0.1] * 4}, batch_size=1.0, steps=[5])


def test_monte_carlo_property_catches_a_simulator_ignoring_the_batch_size_schedule(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A mutant that simulates every step with the largest batch size of the schedule."""
    monkeypatch.setattr(_montecarlo, "_noise_std", lambda c, batch_size: np.sqrt(c / np.max(batch_size)))
    prop = "monte_carlo_matches_recursion_under_schedules"
    report = check_conformance("sgd", properties=[prop], max_examples=20, shrink_seconds=0.0)
    assert report.failed == (prop,), str(report)
    assert "Monte-Carlo mean" in report[prop].message
    assert "batch_size = " in str(report) and "{" not in str(report)


def test_engine_property_catches_a_schedule_read_one_step_late(monkeypatch: pytest.MonkeyPatch) -> None:
    """A mutant engine that applies step t's values to the update from t + 1 (the first step's twice)."""
    exact = nn.scheduled_risk

    def late(problem, optimizer, *, steps, schedule, horizon=None, **kwargs):
        T = int(horizon if horizon is not None else np.max(steps))
        base = {k: float(v) for k, v in optimizer.hyperparameters.items()}
        joined = segments(schedule, T, bases=base)
        shifted = {k: np.concatenate([joined.at_steps(k)[:1], joined.at_steps(k)[:-1]]) for k in joined.values}
        return exact(problem, optimizer, steps=steps, schedule=shifted, horizon=horizon, **kwargs)

    monkeypatch.setattr(nn, "scheduled_risk", late)
    prop = "engine_matches_recursion_under_schedules"
    report = check_conformance("momentum", properties=[prop], max_examples=20, shrink_seconds=0.0)
    assert report.failed == (prop,), str(report)
    assert "engine scheduled_risk vs moment recursion under the schedule at step t =" in report[prop].message
    assert "schedule: " in str(report) and " x " in str(report) and "{" not in str(report)
