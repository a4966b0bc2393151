"""nqm.numerics.monte_carlo: reproducibility, schedules, weights, statistics, divergence, bad input.

Statistical checks compare with exact moments at a stated false-failure rate (Laurent-Massart
tolerances, nqm.proofs.monte_carlo_tolerances, rate 1e-6 over all steps) with fixed seeds;
the exact moments come from the engine or, for schedules, from the 30-digit reference.
"""

import math

import numpy as np
import pytest

import _moment_reference as ref
import nqm.numerics as nn
from nqm.proofs import monte_carlo_tolerances
from nqm.theory import get_spec

PROBLEM = nn.Problem([2.0, 0.5, 0.05], c=[1.0, 0.3, 0.2], init_var=[1.0, 2.0, 4.0], weights=[1, 3, 2])


def assert_consistent(mc: nn.MonteCarloResult, exact: np.ndarray, variance: np.ndarray, largest: np.ndarray) -> None:
    below, above = monte_carlo_tolerances(variance, largest, mc.runs, exact.size)
    dev = mc.mean - exact
    assert np.all(np.isfinite(mc.mean))
    assert np.all(dev <= above) and np.all(dev >= -below), (dev / below).tolist()


def test_same_seed_same_result_whatever_the_chunking() -> None:
    opt = nn.Momentum(lr=0.3, beta=0.8, precond_power=0.5)
    runs = [
        nn.monte_carlo(PROBLEM, opt, batch_size=8, steps=40, runs=50, seed=7, keep_curves=True, chunk_bytes=b)
        for b in (1, 1000, 1 << 25)
    ]
    for r in runs[1:]:
        np.testing.assert_array_equal(r.curves, runs[0].curves)
        np.testing.assert_array_equal(r.mean, runs[0].mean)
        np.testing.assert_array_equal(r.stderr, runs[0].stderr)
    other = nn.monte_carlo(PROBLEM, opt, batch_size=8, steps=40, runs=50, seed=8)
    assert not np.array_equal(other.mean, runs[0].mean)


def test_run_blocks_are_merged_exactly() -> None:
    """Many runs (several run blocks): mean and standard error equal those of the kept curves."""
    problem = nn.Problem.paper(d=3000, bins=10)
    mc = nn.monte_carlo(problem, nn.SGD(lr=0.5), batch_size=4, steps=5, runs=30, seed=1, keep_curves=True)
    np.testing.assert_allclose(mc.mean, mc.curves.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(mc.stderr, mc.curves.std(axis=0, ddof=1) / math.sqrt(30), rtol=1e-9)


def test_constant_schedule_is_the_constant_learning_rate() -> None:
    opt = nn.EMA(lr=0.4, gamma=0.9)
    plain = nn.monte_carlo(PROBLEM, opt, batch_size=2, steps=30, runs=40, seed=3)
    scheduled = nn.monte_carlo(PROBLEM, opt.replace(lr=123.0), batch_size=2, steps=30, runs=40, seed=3,
                               lr_schedule=np.full(30, 0.4))
    np.testing.assert_array_equal(plain.mean, scheduled.mean)


def test_schedule_matches_the_reference_moments() -> None:
    spec = get_spec("momentum")
    steps = 60
    lrs = np.where(np.arange(steps) < 30, 0.6, 0.15)
    lrs[45:] = 0.02
    opt = nn.Momentum(lr=0.6, beta=0.7, precond_power=0.25)
    mc = nn.monte_carlo(PROBLEM, opt, batch_size=4, steps=steps, runs=4000, seed=11, lr_schedule=lrs)
    per = np.array([[float(r) for r in row] for row in ref.per_coordinate_risks(
        spec, PROBLEM, {"beta": 0.7}, 0.25, 4.0, list(lrs))])  # (bins, steps + 1), one coordinate each
    m = PROBLEM.weights[:, None]
    exact = np.sum(m * per, axis=0)
    variance = 2.0 * np.sum(m * per**2, axis=0)  # i.i.d. coordinates: 2 sum_i m_i rho_i^2
    assert_consistent(mc, exact, variance, per.max(axis=0))


@pytest.mark.parametrize("simulate", ["per-coordinate", "per-bin"])
def test_weights_as_multiplicities_or_scales(simulate: str) -> None:
    """Each simulation against the exact variance of its own simulated problem (per-bin's is larger)."""
    problem = nn.Problem([1.0, 0.2], c=[0.5, 0.5], init_var=[1.0, 3.0], weights=[4, 2])
    opt = nn.Nesterov(lr=0.5, beta=0.6)
    steps = np.arange(41)
    mc = nn.monte_carlo(problem, opt, batch_size=3, steps=40, runs=3000, seed=5, simulate=simulate)
    assert mc.simulate == simulate
    sim = mc.simulated_problem
    exact = nn.expected_risk(problem, opt, batch_size=3, steps=steps)
    np.testing.assert_allclose(nn.expected_risk(sim, opt, batch_size=3, steps=steps), exact, rtol=1e-13)
    variance = nn.risk_variance(sim, opt, batch_size=3, steps=steps)
    model_variance = nn.risk_variance(problem, opt, batch_size=3, steps=steps)  # weights as multiplicities
    if simulate == "per-coordinate":
        assert mc.coordinates.tolist() == [4, 2]
        np.testing.assert_allclose(variance, model_variance, rtol=1e-13)
    else:
        assert mc.coordinates.tolist() == [1, 1]
        assert np.all(variance > model_variance)  # 2 sum w_i^2 rho_i^2 against 2 sum w_i rho_i^2
    per = np.array([nn.expected_risk(nn.Problem(sim.h[i], sim.c[i], sim.init_var[i]), opt, batch_size=3, steps=steps)
                    for i in range(sim.size)])
    assert_consistent(mc, exact, variance, per.max(axis=0))


def test_the_default_simulates_every_coordinate_of_integer_weights_and_one_per_bin_otherwise() -> None:
    problem = nn.Problem([1.0, 0.1], weights=[2.5, 0.0])
    mc = nn.monte_carlo(problem, nn.SGD(lr=0.1), batch_size=1, steps=3, runs=2)
    assert mc.coordinates.tolist() == [1, 0] and mc.simulate == "per-bin"
    with pytest.raises(ValueError, match="simulate='per-coordinate' needs integer"):
        nn.monte_carlo(problem, nn.SGD(lr=0.1), batch_size=1, steps=3, runs=2, simulate="per-coordinate")
    counts = nn.monte_carlo(PROBLEM, nn.SGD(lr=0.1), batch_size=1, steps=3, runs=2)
    assert counts.coordinates.tolist() == [1, 3, 2] and counts.simulate == "per-coordinate"
    assert counts.to_dict()["simulate"] == "per-coordinate"  # the JSON document (and the tables' attrs) say so


@pytest.mark.parametrize("coordinates, simulate", [("multiplicity", "per-coordinate"), ("scaled", "per-bin"),
                                                   ("auto", "per-coordinate")])
def test_the_earlier_spelling_coordinates_still_chooses_the_simulation(coordinates: str, simulate: str) -> None:
    old = nn.monte_carlo(PROBLEM, nn.SGD(lr=0.1), batch_size=1, steps=3, runs=2, coordinates=coordinates)
    new = nn.monte_carlo(PROBLEM, nn.SGD(lr=0.1), batch_size=1, steps=3, runs=2, simulate=simulate)
    assert old.simulate == simulate
    np.testing.assert_array_equal(old.mean, new.mean)


def test_a_bad_simulation_names_the_parameter_and_the_choices() -> None:
    run = lambda **k: nn.monte_carlo(PROBLEM, nn.SGD(lr=0.1), batch_size=1, steps=3, runs=2, **k)  # noqa: E731
    with pytest.raises(ValueError, match=r"simulate must be 'auto', 'per-coordinate' or 'per-bin'; got 'scaled'"):
        run(simulate="scaled")
    with pytest.raises(ValueError, match=r"coordinates must be 'auto', 'multiplicity' or 'scaled'; got 'per-bin'"):
        run(coordinates="per-bin")
    with pytest.raises(ValueError, match="give simulate= or its earlier spelling coordinates=, not both"):
        run(simulate="per-bin", coordinates="scaled")


def test_first_hits_and_quantiles_follow_the_curves() -> None:
    targets = [0.5, 0.05, 1e-9]
    mc = nn.monte_carlo(PROBLEM, nn.SGD(lr=0.4), batch_size=16, steps=80, runs=101, seed=2, keep_curves=True,
                        targets=targets, quantiles=[0.0, 0.25, 0.5, 1.0])
    for k, target in enumerate(targets):
        below = mc.curves <= target
        expected = np.where(below.any(axis=1), below.argmax(axis=1), np.inf)
        np.testing.assert_array_equal(mc.first_hits[k], expected)
        ordered = np.sort(expected)
        # inverted-CDF quantile: the smallest value whose empirical CDF reaches q
        for j, q in enumerate(mc.quantile_levels):
            assert mc.steps_quantiles[k, j] == ordered[max(0, math.ceil(q * mc.runs) - 1)]
    assert np.all(np.isinf(mc.first_hits[2]))  # the noise floor is far above 1e-9


def test_divergent_settings_give_inf_never_nan() -> None:
    mc = nn.monte_carlo(PROBLEM, nn.SGD(lr=5.0), batch_size=1, steps=2000, runs=4, seed=0, targets=[1.0])
    assert not np.any(np.isnan(mc.mean)) and not np.any(np.isnan(mc.stderr))
    assert np.isinf(mc.mean[-1]) and np.isinf(mc.stderr[-1])
    assert mc.mean[10] > 1e6 * PROBLEM.initial_risk


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"runs": 1}, "runs must be an integer >= 2"),
        ({"steps": -1}, "steps must be"),
        ({"steps": 2.5}, "steps must be"),
        ({"batch_size": 0.5}, r"batch_size must be a finite number in \[1, inf\)"),
        ({"seed": -3}, "seed must be an integer >= 0"),
        ({"targets": [0.0]}, r"targets must be .* in \(0, inf\)"),
        ({"quantiles": [1.5]}, r"quantiles must be .* in \[0, 1\]"),
        ({"lr_schedule": [0.1, 0.1]}, r"lr_schedule must have shape \(steps,\)"),
        ({"lr_schedule": [0.1, 0.1, -0.1]}, r"lr_schedule must be a finite number in \(0, inf\)"),
        ({"coordinates": "all"}, "coordinates must be"),
        ({"chunk_bytes": 0}, "chunk_bytes must be an integer >= 1"),
    ],
)
def test_bad_input_names_the_parameter(kwargs: dict, match: str) -> None:
    args = {"batch_size": 1, "steps": 3, "runs": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        nn.monte_carlo(PROBLEM, nn.SGD(lr=0.1), **args)


def test_a_grid_is_not_simulated() -> None:
    with pytest.raises(ValueError, match="opt must be a single optimizer"):
        nn.monte_carlo(PROBLEM, nn.SGD(lr=[0.1, 0.2]), batch_size=1, steps=3, runs=2)


@pytest.mark.slow
@pytest.mark.parametrize("opt", [nn.Momentum(lr=0.5, beta=0.9), nn.EMA(lr=1.0, gamma=0.99, precond_power=0.5)],
                         ids=["momentum", "ema-precond"])
def test_paper_problem_matches_the_engine(opt: nn.Optimizer) -> None:
    """Ten thousand coordinates, 300 runs, 400 steps against the exact risk and variance."""
    problem = nn.Problem.paper()
    steps = np.arange(401)
    mc = nn.monte_carlo(problem, opt, batch_size=64, steps=400, runs=300, seed=2024)
    exact = nn.expected_risk(problem, opt, batch_size=64, steps=steps)
    variance = nn.risk_variance(problem, opt, batch_size=64, steps=steps)
    per = np.array([nn.expected_risk(nn.Problem(problem.h[i], problem.c[i], problem.init_var[i]), opt,
                                     batch_size=64, steps=steps) for i in range(problem.size)])
    assert_consistent(mc, exact, variance, per.max(axis=0))
