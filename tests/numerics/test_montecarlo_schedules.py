r"""nqm.numerics.monte_carlo under schedules of the learning rate, momentum and the batch size.

The exact reference is written out here for heavy-ball momentum (paper, Section 3.2), shared with
neither the engine nor the spec's forms: per coordinate, state :math:`x = (\theta, m)` with

.. math::

    m_{t+1} = \beta_t m_t + g_t,\quad \theta_{t+1} = \theta_t - \alpha_t m_{t+1},\quad
    g_t = h\theta_t + \xi_t,\ \ E\xi_t^2 = c/B_t,

i.e. :math:`A_t = \begin{pmatrix}1-\alpha_th & -\alpha_t\beta_t\\ h & \beta_t\end{pmatrix}`,
:math:`b_t = (-\alpha_t, 1)`, and the second moment :math:`P_{t+1} = A_tP_tA_t^\top + \frac{c}{B_t}b_tb_t^\top`,
:math:`P_0 = \mathrm{diag}(v, 0)`, iterated in float64. A coordinate's risk is
:math:`\rho(t) = \tfrac12 h P_t[0, 0]`. With Gaussian noise and start each coordinate's output is a
centred Gaussian, so one run's loss has the exact variance :math:`2\sum_i m_i\rho_i(t)^2` (i.i.d.
coordinates, ``docs/math/montecarlo.md``); the Monte-Carlo mean is compared at every step with
Laurent-Massart tolerances from that variance (``nqm.proofs.monte_carlo_tolerances``) at a
family-wise false-failure rate of 1e-6 per test, with fixed seeds.
"""

import numpy as np
import pytest

import nqm.numerics as nn
from nqm.numerics import _montecarlo, schedules
from nqm.proofs import monte_carlo_tolerances

PROBLEM = nn.Problem([2.0, 0.5, 0.05], c=[1.0, 0.3, 0.2], init_var=[1.0, 2.0, 4.0], weights=[1, 3, 2])
STEPS = 60
RUNS = 4000


def momentum_risks(problem: nn.Problem, lr: np.ndarray, beta: np.ndarray, batch: np.ndarray) -> np.ndarray:
    """Exact risk of one coordinate of each bin at steps 0..T, shape ``(bins, T + 1)`` (module docstring)."""
    h, c, v = problem.h, problem.c, problem.init_var
    P = np.zeros((h.size, 2, 2))
    P[:, 0, 0] = v
    risks = [0.5 * h * P[:, 0, 0]]
    for a, b_, B in zip(lr, beta, batch):
        A = np.zeros((h.size, 2, 2))
        A[:, 0, 0], A[:, 0, 1], A[:, 1, 0], A[:, 1, 1] = 1 - a * h, -a * b_, h, b_
        noise = np.array([[a * a, -a], [-a, 1.0]])
        P = A @ P @ A.transpose(0, 2, 1) + (c / B)[:, None, None] * noise
        risks.append(0.5 * h * P[:, 0, 0])
    return np.array(risks).T


def assert_matches(mc: nn.MonteCarloResult, per: np.ndarray) -> None:
    """The Monte-Carlo mean at every step within the exact-variance tolerances of the exact risk."""
    m = PROBLEM.weights[:, None]
    exact = np.sum(m * per, axis=0)
    variance = 2.0 * np.sum(m * per**2, axis=0)
    below, above = monte_carlo_tolerances(variance, per.max(axis=0), mc.runs, exact.size)
    dev = mc.mean - exact
    assert np.all(np.isfinite(mc.mean))
    assert np.all(dev <= above) and np.all(dev >= -below), (dev / below).tolist()


def test_per_step_schedules_of_lr_beta_and_batch_size_match_the_exact_moments() -> None:
    rng = np.random.default_rng(20261205)  # a drawn schedule, fixed
    lr = rng.uniform(0.05, 0.6, STEPS)
    beta = rng.uniform(0.0, 0.8, STEPS)
    batch = rng.integers(1, 17, STEPS).astype(float)
    mc = nn.monte_carlo(PROBLEM, nn.Momentum(lr=0.1, beta=0.5), steps=STEPS, runs=RUNS, seed=11,
                        schedule={"lr": lr, "beta": beta, "batch_size": batch})
    assert_matches(mc, momentum_risks(PROBLEM, lr, beta, batch))


def test_piecewise_and_callable_schedules_match_the_exact_moments() -> None:
    lr = schedules.piecewise([0.6, 0.2, 0.05], [20, 45])
    beta = lambda t: 0.9 - 0.6 * t / STEPS  # noqa: E731  (a vectorised callable of the step)
    batch = schedules.piecewise([1.0, 4.0, 16.0], [10, 30])
    mc = nn.monte_carlo(PROBLEM, nn.Momentum(lr=0.3, beta=0.5), steps=STEPS, runs=RUNS, seed=5,
                        schedule={"lr": lr, "beta": beta, "batch_size": batch})
    t = np.arange(STEPS)
    per = momentum_risks(PROBLEM, np.repeat([0.6, 0.2, 0.05], [20, 25, 15]), 0.9 - 0.6 * t / STEPS,
                         np.repeat([1.0, 4.0, 16.0], [10, 20, 30]))
    assert_matches(mc, per)


def test_a_scheduled_batch_size_changes_the_noise_only() -> None:
    """The reference distinguishes B_t from a constant B: larger batches late give a lower floor."""
    constant = momentum_risks(PROBLEM, np.full(STEPS, 0.3), np.full(STEPS, 0.5), np.full(STEPS, 1.0))
    ramped = momentum_risks(PROBLEM, np.full(STEPS, 0.3), np.full(STEPS, 0.5), np.geomspace(1, 64, STEPS))
    assert np.all(ramped[:, 1] == constant[:, 1]) and np.all(ramped[:, -1] < constant[:, -1])
    mc = nn.monte_carlo(PROBLEM, nn.Momentum(lr=0.3, beta=0.5), steps=STEPS, runs=RUNS, seed=3,
                        schedule={"batch_size": np.geomspace(1, 64, STEPS)})
    assert_matches(mc, ramped)


def test_constant_schedules_are_the_constant_run_bit_for_bit() -> None:
    opt = nn.Momentum(lr=0.3, beta=0.8, precond_power=0.5)
    kw = dict(steps=40, runs=50, seed=7, keep_curves=True)
    plain = nn.monte_carlo(PROBLEM, opt, batch_size=8, **kw)
    for schedule in ({"batch_size": 8.0, "lr": "constant"}, {"batch_size": [8] * 40, "beta": np.full(40, 0.8)},
                     {"batch_size": schedules.piecewise([8, 8], [20]), "lr": lambda t: 0.3 + 0 * t}):
        scheduled = nn.monte_carlo(PROBLEM, opt, schedule=schedule, **kw)
        np.testing.assert_array_equal(scheduled.curves, plain.curves)


def test_segments_evaluated_in_chunks_give_the_same_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """A per-step schedule spans many chunks of segment tables; the chunk size changes nothing."""
    lr = np.linspace(0.5, 0.05, 40)
    kw = dict(steps=40, runs=30, seed=2, keep_curves=True, schedule={"lr": lr, "batch_size": np.arange(1.0, 41.0)})
    whole = nn.monte_carlo(PROBLEM, nn.Nesterov(lr=0.1, beta=0.6), **kw)
    monkeypatch.setattr(_montecarlo, "_TABLE_ENTRIES", 1)  # one segment per chunk
    chunked = nn.monte_carlo(PROBLEM, nn.Nesterov(lr=0.1, beta=0.6), **kw)
    np.testing.assert_array_equal(chunked.curves, whole.curves)


def test_statistics_first_hits_and_quantiles_follow_the_scheduled_curves() -> None:
    targets = [0.5, 0.05]
    mc = nn.monte_carlo(PROBLEM, nn.SGD(lr=0.4), steps=80, runs=51, seed=2, keep_curves=True, targets=targets,
                        quantiles=[0.0, 0.5, 1.0],
                        schedule={"lr": schedules.piecewise([0.4, 0.1], [40]), "batch_size": np.arange(1.0, 81.0)})
    np.testing.assert_allclose(mc.mean, mc.curves.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(mc.stderr, mc.curves.std(axis=0, ddof=1) / np.sqrt(mc.runs), rtol=1e-9)
    for k, target in enumerate(targets):
        below = mc.curves <= target
        hits = np.where(below.any(axis=1), below.argmax(axis=1), np.inf)
        np.testing.assert_array_equal(mc.first_hits[k], hits)
        ordered = np.sort(hits)  # inverted-CDF quantiles at 0, 1/2 and 1 of 51 runs
        np.testing.assert_array_equal(mc.steps_quantiles[k], [ordered[0], ordered[25], ordered[50]])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"schedule": {"gamma": 0.5}}, r"schedule\['gamma'\]: momentum has no hyperparameter of that name"),
        ({"schedule": {"precond_power": 0.5}}, r"schedule\['precond_power'\]: the preconditioning power cannot vary"),
        ({"schedule": {"beta": [0.5, 1.0, 0.5]}}, r"schedule\['beta'\] must be a finite number in \[0, 1\); got 1.0"),
        ({"schedule": {"lr": [0.1, 0.1]}}, r"schedule\['lr'\]: a per-step schedule of 2 values cannot span 3 steps"),
        ({"schedule": {"lr": "no-such-preset"}}, r"schedule\['lr'\]: no schedule preset named 'no-such-preset'"),
        ({"schedule": {"lr": lambda t: np.where(t > 1, np.nan, 0.1)}}, r"schedule\['lr'\] must be finite"),
        ({"schedule": {"batch_size": [1, 0.5, 2]}, "batch_size": None},
         r"schedule\['batch_size'\] must be a finite number in \[1, inf\)"),
        ({"schedule": {"batch_size": 4}}, "batch_size: give a constant batch_size= or a schedule\\['batch_size'\\], not both"),
        ({"schedule": {"lr": 0.1}, "batch_size": None}, "batch_size: give a constant batch_size="),
        ({"schedule": {"lr": 0.1}, "steps": 0}, "steps: a schedule needs at least one update"),
        ({"schedule": [0.1, 0.1, 0.1]}, "schedule must be a mapping"),
        ({"schedule": {"lr": 0.1}, "lr_schedule": [0.1] * 3}, "give lr_schedule or schedule, not both"),
    ],
)
def test_bad_schedules_name_the_entry(kwargs: dict, match: str) -> None:
    args = {"batch_size": 1, "steps": 3, "runs": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        nn.monte_carlo(PROBLEM, nn.Momentum(lr=0.1, beta=0.5), **args)


def test_the_work_limit_is_checked_before_a_schedule_is_evaluated() -> None:
    calls = []
    with pytest.raises(ValueError, match="must be at most 1e\\+12"):
        nn.monte_carlo(PROBLEM, nn.SGD(lr=0.1), steps=1000, runs=10**12, schedule={"lr": calls.append,
                                                                                     "batch_size": calls.append})
    assert calls == []


def test_presets_match_the_exact_engine() -> None:
    """A preset by name (WSD, scaled by the optimizer's lr) and a batch-size ramp, EMA with preconditioning:
    Monte Carlo against nn.scheduled_risk, the exact variance from its per-coordinate risks."""
    opt = nn.EMA(lr=0.5, gamma=0.8, precond_power=0.5)
    schedule = {"lr": "wsd", "batch_size": schedules.batch_geometric_ramp(1, 64)}
    mc = nn.monte_carlo(PROBLEM, opt, steps=STEPS, runs=RUNS, seed=9, schedule=schedule)
    sim = mc.simulated_problem
    per = np.array([nn.scheduled_risk(nn.Problem(sim.h[i], sim.c[i], sim.init_var[i]), opt, steps=STEPS,
                                      schedule=schedule) for i in range(sim.size)])
    np.testing.assert_allclose(np.sum(sim.weights[:, None] * per, axis=0),
                               nn.scheduled_risk(PROBLEM, opt, steps=STEPS, schedule=schedule), rtol=1e-12)
    assert_matches(mc, per)
