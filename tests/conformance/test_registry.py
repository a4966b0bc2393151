"""The conformance suite over every registered optimizer, plus the engine against 30-digit mpmath.

The parameter list is the registry at collection time: the built-ins and the user spec
registered below (optimistic gradient descent), exactly as a user's own spec would be.
Every property runs with a fixed seed, so the examples (and Monte-Carlo draws) are
reproducible; the slow variants explore many more examples.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import _moment_reference as ref
import nqm.numerics as nn
from nqm.proofs import ABSOLUTE_ACCURACY, PROPERTIES, check_conformance, moment_recursion_risk, setups
from nqm.theory import LR, OptimizerSpec, get_spec, register, registered_names


def _optimistic(grad, theta, g_prev, lr):
    g = grad(theta)
    return theta - lr * (2 * g - g_prev), g


OPTIMISTIC = OptimizerSpec.from_update(
    "optimistic_gd",
    _optimistic,
    state=("theta", "g_prev"),
    hyperparameters=(LR,),
    description="optimistic gradient descent, theta <- theta - lr (2 g_t - g_(t-1))",
    reference="Popov 1980; Daskalakis et al. 2018",
)
if OPTIMISTIC.name not in registered_names():
    register(OPTIMISTIC)

NAMES = registered_names()

#: examples per property in the quick run (6 unless listed): the schedule properties draw up to
#: three stable settings per example, so they get fewer (the slow run below gives them 60)
EXAMPLES = {"engine_matches_recursion_under_schedules": 2, "monte_carlo_matches_recursion_under_schedules": 2}


@pytest.mark.parametrize("prop", list(PROPERTIES))
@pytest.mark.parametrize("name", NAMES)
def test_property_holds(name: str, prop: str) -> None:
    report = check_conformance(name, properties=[prop], max_examples=EXAMPLES.get(prop, 6), seed=0, shrink_seconds=5.0)
    assert report.ok, str(report)
    assert report[prop].status in ("passed", "not applicable")


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("name", NAMES)
def test_all_properties_many_examples(name: str, seed: int) -> None:
    report = check_conformance(name, max_examples=60, seed=seed, shrink_seconds=30.0)
    assert report.ok, str(report)


@pytest.mark.parametrize("name", NAMES)
def test_engine_and_public_recursion_match_mpmath(name: str) -> None:
    """The engine to 1e-10 (above its absolute floor) and nqm.proofs.moment_recursion_risk to 1e-12
    against the 30-digit reference."""
    spec = get_spec(name)

    @settings(max_examples=6, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(setups(name, max_bins=3, max_steps=60))
    def run(s) -> None:
        reference = np.array(
            [float(r) for r in ref.expected_risk(spec, s.problem, s.hyperparameters, s.precond_power, s.batch_size, s.steps)]
        )
        engine = nn.expected_risk(s.problem, s.optimizer, batch_size=s.batch_size, steps=s.steps)
        public = moment_recursion_risk(
            spec.precondition(), s.problem, {**s.hyperparameters, "precond_power": s.precond_power},
            batch_size=s.batch_size, steps=s.steps,
        )
        scale = s.problem.initial_risk + float(nn.stationary_risk(s.problem, s.optimizer, batch_size=s.batch_size))
        np.testing.assert_allclose(engine, reference, rtol=1e-10, atol=ABSOLUTE_ACCURACY * scale)
        np.testing.assert_allclose(public, reference, rtol=1e-12, atol=0)

    run()


def test_qhm_large_step_matches_reference() -> None:
    """Regression: the counterexample the scale-symmetry property once shrank to for QHM (one
    direction, nu = 1, beta = 0.999, lr h at 99% of the stability limit). The generated forms
    cancelled catastrophically until nu, closed at 1, was also carried as its complement 1 - nu."""
    spec = get_spec("qhm")
    problem = nn.Problem([1.0], c=[0.75], init_var=[1.0], weights=[2.0])
    hyper = {"lr": 3958.02, "beta": 0.999, "nu": 1.0}
    steps = [1, 2, 10]
    reference = [float(r) for r in ref.expected_risk(spec, problem, hyper, 0.0, 1.0, steps)]
    engine = nn.expected_risk(problem, nn.QHM(**hyper), batch_size=1.0, steps=steps)
    np.testing.assert_allclose(engine, reference, rtol=1e-10)
