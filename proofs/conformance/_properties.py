r"""The conformance properties: named checks that every registered optimizer must pass.

Each :class:`Property` pairs a hypothesis strategy of examples (built for one spec) with a
check that raises :class:`ConformanceError` on a violation. They only use a spec through
the registry and the public engine (:mod:`nqm.numerics`), so they apply to any spec:

``engine_matches_recursion``
    The engine's exact risk equals the independent second-moment recursion
    (:func:`~nqm.proofs.moment_recursion_risk`, preconditioned through
    :meth:`~nqm.theory.OptimizerSpec.precondition`) to a relative 1e-10 (above an absolute
    floor of 1e-13 of the initial plus stationary risk, see :data:`ABSOLUTE_ACCURACY`).
``engine_matches_monte_carlo``
    The mean loss of simulated runs (:func:`nqm.numerics.monte_carlo`) matches the exact
    risk at every step, within tolerances from the exact variance at a family-wise false-failure
    rate of 1e-6 (see :func:`monte_carlo_tolerances`).
``engine_matches_recursion_under_schedules``
    Under drawn schedules (:func:`~nqm.proofs.scheduled_setups`: piecewise or per-step values of any
    subset of the spec's hyperparameters, every step a stable setting, and of the batch size, in
    every form :mod:`nqm.numerics.schedules` accepts), :func:`nqm.numerics.scheduled_risk` equals the
    recursion with per-step :math:`A_t, b_t, B_t` to a relative 1e-10, above an absolute floor of
    1e-13 of the initial risk plus the largest stationary risk of the steps' settings.
``monte_carlo_matches_recursion_under_schedules``
    Under drawn schedules, the mean loss of simulated runs (:func:`nqm.numerics.monte_carlo` with
    ``schedule=``) matches the per-step recursion at every step, with the tolerances of
    ``engine_matches_monte_carlo`` from the exact per-coordinate risks of the recursion.
``stationary_risk_is_limit``
    The derived stationary risk (:attr:`~nqm.theory.Derivation.stationary_risk`), the
    engine's :func:`~nqm.numerics.stationary_risk` and the engine's risk at a step where every
    transient has decayed below :math:`e^{-60}` agree to 1e-9.
``stability_region``
    The derived Jury conditions agree with the spectral radius of :math:`A`; outside the region
    Monte Carlo diverges (its mean reaches :math:`10^{-6}` of an exact risk grown
    :math:`10^{14}`-fold), and inside it stays below the exact risk's upper tolerance at the
    horizon where the slowest mode has decayed :math:`10^{16}`-fold.
``stable_for_small_lr``
    For every value of the other hyperparameters some learning rate is stable (the method
    descends).
``reductions``
    Every declared :class:`~nqm.proofs.Reduction` holds: both sides' risk curves agree to 1e-10
    (above the absolute floor), and so do their stationary risks where both sides are stable. A
    counterexample is a point where the two sides differ numerically. Not applicable to a spec
    without declared reductions.
``precondition_at_zero``
    :math:`p = 0` is unpreconditioned: :meth:`~nqm.theory.OptimizerSpec.precondition` at
    :math:`p = 0` is the spec itself, and the engine at :math:`p = 0` equals the recursion of
    the unpreconditioned spec.
``permutation_invariance``, ``bin_splitting_invariance``
    Reordering the eigen-directions, or splitting a bin of weight :math:`w` into two of
    :math:`w/2`, leaves the risk curve, its variance, the stationary risk and the steps to a
    target unchanged (the variance :math:`2\sum_i\rho_i^2/w_i` is additive over bins).
``scale_symmetry``
    Derived in :func:`check_scale_symmetry` (``PROPERTIES["scale_symmetry"].check``).
``information_bound``
    See :meth:`nqm.numerics.Problem.bayes_risk_bound`: no setting (drawn, or the best of a learning-rate grid) beats it,
    neither on the risk curve nor in steps x B to a target.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import sympy as sp
from hypothesis import assume
from hypothesis import strategies as st

import nqm.numerics as nn
from nqm.theory import OptimizerSpec, derive, get_spec
from nqm.theory.codegen import hyperparameter_ranges
from nqm.theory.symbols import B, c, h

from ._recursion import moment_recursion_risk
from ._reductions import Reduction, declared_reductions
from ._scheduled import ScheduledSetup, scheduled_setups
from ._strategies import (
    Setup,
    _in_range,
    _log_uniform,
    batch_sizes,
    derived_stable,
    hyperparameters,
    precond_powers,
    problems,
    setups,
    spectral_radius,
    stable_lr_limit,
    step_lists,
    unstable_hyperparameters,
)

__all__ = [
    "ABSOLUTE_ACCURACY",
    "PROPERTIES",
    "ConformanceError",
    "Property",
    "bayes_risk_bound",
    "monte_carlo_tolerances",
    "per_coordinate_risk",
]

#: family-wise false-failure rate of every Monte-Carlo comparison
FALSE_FAILURE_RATE = 1e-6


class ConformanceError(AssertionError):
    """A conformance property is violated; the message states the quantities compared."""


@dataclass(frozen=True)
class Property:
    """A named conformance check: ``check(spec, example)`` for examples from ``strategy(spec)``.

    ``skip_reason(spec)`` returns why the property does not apply to a spec (nothing to check),
    or ``None``; ``scope(spec)`` what exactly is checked for that spec beyond the ``statement``
    (e.g. which reductions), or ``""``; ``fields`` names the parts of a tuple example in reports.
    """

    name: str
    statement: str
    strategy: Callable[[OptimizerSpec], st.SearchStrategy[Any]]
    check: Callable[[OptimizerSpec, Any], None]
    skip_reason: Callable[[OptimizerSpec], str | None] = lambda spec: None
    scope: Callable[[OptimizerSpec], str] = lambda spec: ""
    fields: tuple[str, ...] = ()


# ---------------------------------------------------------------------- helpers
def _assert_close(actual: object, expected: object, rtol: float, what: str, atol: float = 0.0,
                  steps: np.ndarray | None = None) -> None:
    """``|actual - expected| <= rtol |expected| + atol`` elementwise (equal infinities pass).

    The error names the first violation: where (the step, if ``steps`` gives the step of each
    entry), both values, and the difference as a multiple of the tolerance there.
    """
    a = np.atleast_1d(np.asarray(actual, dtype=float))
    e = np.atleast_1d(np.asarray(expected, dtype=float))
    with np.errstate(invalid="ignore"):
        ok = (a == e) | (np.abs(a - e) <= rtol * np.abs(e) + atol)
    if not np.all(ok):
        i = int(np.argmin(ok))
        where = f" at step t = {int(np.ravel(steps)[i])}" if steps is not None else (f" at index {i}" if a.size > 1 else "")
        raise ConformanceError(f"{what}{where}: {_versus(float(a[i]), float(e[i]), rtol * abs(float(e[i])) + atol)}")


def _versus(a: float, b: float, tolerance: float) -> str:
    """``a vs b``, their difference, and that difference as a multiple of ``tolerance``."""
    diff = abs(a - b)
    ratio = f"{diff / tolerance:.3g} x the tolerance {tolerance:.3g}" if tolerance > 0 else "the tolerance is 0"
    return f"{a!r} vs {b!r} (difference {diff:.3g}; {ratio})"


#: the absolute part of the engine's accuracy contract, relative to :func:`_scale`
ABSOLUTE_ACCURACY = 1e-13


def _scale(s: Setup) -> float:
    r"""The natural scale of a setting's risk: the initial plus the stationary risk.

    A closed form in double precision combines terms of that size, so once a part of the risk has
    decayed far below them (a start part beside a mode the output does not see, as in QHM with
    :math:`\nu = 0`, or :math:`I + E_t` in the doubling method) only an absolute accuracy of
    :data:`ABSOLUTE_ACCURACY` times this scale is attainable; above it every comparison is relative.
    """
    return s.problem.initial_risk + float(nn.stationary_risk(s.problem, s.optimizer, batch_size=s.batch_size))


def _same_steps(a: Setup, b: Setup, target: float, what: str) -> None:
    """Equal steps-to-target, or a tie: the risk at the earlier hit is within 1e-9 of the target."""
    steps = [nn.steps_to_target(x.problem, x.optimizer, batch_size=x.batch_size, target=target) for x in (a, b)]
    if steps[0] == steps[1]:
        return
    first = min(steps)
    risks = [float(nn.expected_risk(x.problem, x.optimizer, batch_size=x.batch_size, steps=[first])[0]) for x in (a, b)]
    if all(abs(r - target) <= 1e-9 * target for r in risks):
        return
    raise ConformanceError(
        f"{what}: steps to target {target!r} differ: {steps[0]} vs {steps[1]} (risks at step {first}: {risks[0]!r} vs "
        f"{risks[1]!r})"
    )


def per_coordinate_risk(problem: nn.Problem, opt: nn.Optimizer, batch_size: float, steps: np.ndarray) -> np.ndarray:
    """Exact expected risk of one coordinate of each bin, shape ``(bins, steps)`` (engine, bin by bin)."""
    return np.array([
        nn.expected_risk(nn.Problem(problem.h[i], problem.c[i], problem.init_var[i]), opt, batch_size=batch_size, steps=steps)
        for i in range(problem.size)
    ])


def monte_carlo_tolerances(
    variance: np.ndarray, largest: np.ndarray, runs: int, comparisons: int, rate: float = FALSE_FAILURE_RATE
) -> tuple[np.ndarray, np.ndarray]:
    r"""``(below, above)``: allowed deviations of a Monte-Carlo mean loss from the exact risk.

    With Gaussian noise and start every coordinate's output is a centred Gaussian, so the
    mean loss of ``runs`` runs is :math:`E + \frac1N\sum_j a_j(Z_j^2 - 1)` with :math:`Z_j`
    i.i.d. standard normal and :math:`a_j` the per-coordinate expected risks. Laurent and
    Massart's inequality (2000, Lemma 1) gives, for :math:`X = \sum_j a_j(Z_j^2-1)`, exactly
    (no normal approximation)

    .. math::

        P\bigl(X \ge 2\|a\|_2\sqrt x + 2\|a\|_\infty x\bigr) \le e^{-x},\qquad
        P\bigl(X \le -2\|a\|_2\sqrt x\bigr) \le e^{-x},

    with :math:`2\|a\|_2^2 = N\,\mathrm{Var}` (``variance``: one run's exact variance, as
    :func:`nqm.numerics.risk_variance` gives it) and :math:`\|a\|_\infty` = ``largest`` (the largest
    per-coordinate risk). Both tolerances are linear in a common unit of ``sqrt(variance)`` and
    ``largest``, so both may be given in any unit (the suite uses the largest risk, because
    squares of risks below ~1e-154 underflow). Choosing :math:`x = \ln(2\,\text{comparisons}/\text{rate})` and a
    union bound makes the probability that any of ``comparisons`` two-sided checks fails at
    most ``rate``.
    """
    x = math.log(2 * comparisons / rate)
    below = np.sqrt(2.0 * variance * x / runs)
    return below, below + 2.0 * x * largest / runs


def _compare_with_monte_carlo(mc: nn.MonteCarloResult, exact: np.ndarray, per: np.ndarray, steps: np.ndarray) -> None:
    """The Monte-Carlo mean within :func:`monte_carlo_tolerances` of ``exact`` at ``steps``; ``per`` holds the
    exact risk of one simulated coordinate of each bin of ``mc.simulated_problem``, shape ``(bins, steps)``."""
    largest = per.max(axis=0)
    # one run's exact variance 2 sum_i m_i a_i^2 (what risk_variance(simulated_problem) gives) in
    # units of the largest a_i: squares of risks below ~1e-154 underflow to 0, which would make the
    # tolerance 0; the tolerances are linear in that unit
    unit = np.where(largest > 0, largest, 1.0)
    variance = 2.0 * np.sum(mc.simulated_problem.weights[:, None] * (per / unit) ** 2, axis=0)
    below, above = monte_carlo_tolerances(variance, largest / unit, mc.runs, steps.size)
    below, above = below * unit, above * unit
    mean = mc.mean[steps.astype(int)]
    dev = mean - exact
    bad = ~np.isfinite(mean) | (dev > above) | (dev < -below)
    if np.any(bad):
        i = int(np.argmax(bad))
        raise ConformanceError(
            f"Monte-Carlo mean {mean[i]:.10g} at step {int(steps[i])} vs exact risk {exact[i]:.10g}: deviation {dev[i]:.4g} "
            f"outside [-{below[i]:.4g}, {above[i]:.4g}] (runs={mc.runs}, seed={mc.seed}, family-wise false-failure "
            f"rate {FALSE_FAILURE_RATE:g} over {steps.size} steps)"
        )


def _has_lr(spec: OptimizerSpec) -> str | None:
    return None if any(hp.name == "lr" for hp in spec.hyperparameters) else "the spec has no hyperparameter 'lr'"


def _seeds() -> st.SearchStrategy[int]:
    return st.integers(0, 2**32 - 1)


def _target_fractions() -> st.SearchStrategy[float]:
    return _log_uniform(1e-4, 1.0)


# ---------------------------------------------------------------------- engine vs recursion
def _check_recursion(spec: OptimizerSpec, ex: Setup) -> None:
    reference = moment_recursion_risk(
        spec.precondition(), ex.problem, {**ex.hyperparameters, "precond_power": ex.precond_power},
        batch_size=ex.batch_size, steps=ex.steps,
    )
    engine = nn.expected_risk(ex.problem, ex.optimizer, batch_size=ex.batch_size, steps=ex.steps)
    _assert_close(engine, reference, 1e-10, "engine expected_risk vs moment recursion",
                  ABSOLUTE_ACCURACY * _scale(ex), ex.steps)


# ---------------------------------------------------------------------- engine vs Monte Carlo
def _monte_carlo_examples(spec: OptimizerSpec) -> st.SearchStrategy[tuple[Setup, int, int]]:
    setup = st.booleans().flatmap(
        lambda integer: setups(spec, max_bins=4, max_steps=150, max_coordinates=32, integer_weights=integer)
    )
    return st.tuples(setup, st.sampled_from([256, 512]), _seeds())


def _check_monte_carlo(spec: OptimizerSpec, ex: tuple[Setup, int, int]) -> None:
    setup, runs, seed = ex
    T = int(setup.steps.max())
    steps = np.arange(T + 1, dtype=float)
    mc = nn.monte_carlo(setup.problem, setup.optimizer, batch_size=setup.batch_size, steps=T, runs=runs, seed=seed)
    exact = nn.expected_risk(setup.problem, setup.optimizer, batch_size=setup.batch_size, steps=steps)
    per = per_coordinate_risk(mc.simulated_problem, setup.optimizer, setup.batch_size, steps)  # a_i per bin and step
    _compare_with_monte_carlo(mc, exact, per, steps)


# ---------------------------------------------------------------------- schedules
def _schedule_reference(spec: OptimizerSpec, ex: ScheduledSetup, problem: nn.Problem, steps: np.ndarray) -> np.ndarray:
    """The independent recursion under the schedule's per-step values."""
    s = ex.setup
    return moment_recursion_risk(spec.precondition(), problem, {**ex.hyperparameters, "precond_power": s.precond_power},
                                 batch_size=ex.batch_size, steps=steps)


def _schedule_scale(spec: OptimizerSpec, ex: ScheduledSetup) -> float:
    """:func:`_scale` under a schedule: the initial risk plus the largest stationary risk of the steps' settings
    (the stationary risk is proportional to :math:`1/B`, so the steps' settings form one grid evaluated at B = 1)."""
    s, T = ex.setup, ex.horizon
    grid = {k: np.broadcast_to(np.asarray(v, dtype=float), (T,)) for k, v in ex.hyperparameters.items()}
    at_one = nn.stationary_risk(s.problem, nn.Optimizer(spec, precond_power=s.precond_power, **grid), batch_size=1.0)
    stationary = at_one / np.broadcast_to(np.asarray(ex.batch_size, dtype=float), (T,))
    return s.problem.initial_risk + float(np.max(stationary, initial=0.0, where=np.isfinite(stationary)))


def _check_scheduled_recursion(spec: OptimizerSpec, ex: ScheduledSetup) -> None:
    s = ex.setup
    reference = _schedule_reference(spec, ex, s.problem, s.steps)
    where = {"steps": ex.horizon} if ex.every_step else {"steps": s.steps, "horizon": ex.horizon}
    engine = nn.scheduled_risk(s.problem, s.optimizer, **where, **ex.engine_arguments())
    _assert_close(engine, reference, 1e-10, "engine scheduled_risk vs moment recursion under the schedule",
                  ABSOLUTE_ACCURACY * _schedule_scale(spec, ex), s.steps)


def _scheduled_monte_carlo_examples(spec: OptimizerSpec) -> st.SearchStrategy[tuple[ScheduledSetup, int, int]]:
    setup = st.booleans().flatmap(
        lambda integer: scheduled_setups(spec, max_bins=4, max_steps=100, max_coordinates=32, integer_weights=integer,
                                         every_step=True)
    )
    return st.tuples(setup, st.sampled_from([256, 512]), _seeds())


def _check_scheduled_monte_carlo(spec: OptimizerSpec, ex: tuple[ScheduledSetup, int, int]) -> None:
    sched, runs, seed = ex
    s = sched.setup
    steps = np.arange(sched.horizon + 1, dtype=float)
    mc = nn.monte_carlo(s.problem, s.optimizer, steps=sched.horizon, runs=runs, seed=seed, **sched.engine_arguments())
    sim = mc.simulated_problem
    per = np.array([_schedule_reference(spec, sched, nn.Problem(sim.h[i], sim.c[i], sim.init_var[i]), steps)
                    for i in range(sim.size)])  # one coordinate of each simulated bin
    _compare_with_monte_carlo(mc, _schedule_reference(spec, sched, s.problem, steps), per, steps)


# ---------------------------------------------------------------------- stationary risk
@lru_cache(maxsize=None)
def _stationary_function(spec: OptimizerSpec):
    return sp.lambdify([h, c, B, *spec.symbols], derive(spec).stationary_risk, "numpy")


def _check_stationary(spec: OptimizerSpec, ex: Setup) -> None:
    prob, opt = ex.problem, ex.optimizer
    h_, c_, _ = prob.preconditioned(ex.precond_power)
    values = [ex.hyperparameters[hp.name] for hp in spec.hyperparameters]
    with np.errstate(all="ignore"):
        derived = float(np.sum(prob.weights * _stationary_function(spec)(h_, c_, ex.batch_size, *values)))
    engine = float(nn.stationary_risk(prob, opt, batch_size=ex.batch_size))
    scale = max(engine, 1e-30 * prob.initial_risk)
    rate = -math.log(float(spectral_radius(opt.spec, prob, ex.hyperparameters, ex.precond_power)))
    horizon = math.ceil(2.0 * (math.log(max(prob.initial_risk / scale, 1.0)) + 30.0) / rate)
    assume(horizon <= nn.MAX_STEPS)
    limit = float(nn.expected_risk(prob, opt, batch_size=ex.batch_size, steps=[horizon])[0])
    if not abs(derived - engine) <= 1e-9 * scale:
        raise ConformanceError(f"derived vs engine stationary risk: {_versus(derived, engine, 1e-9 * scale)}")
    if not abs(limit - engine) <= 1e-9 * scale:
        raise ConformanceError(f"engine risk at t = {horizon} vs stationary risk: {_versus(limit, engine, 1e-9 * scale)}")


# ---------------------------------------------------------------------- stability region
@dataclass(frozen=True, eq=False)
class _StabilityExample:
    setup: Setup
    outside: bool
    seed: int


#: runs of the Monte-Carlo stability checks
_STABILITY_RUNS = 16
#: longest horizon simulated by the stability checks
_STABILITY_HORIZON = 20_000


def _stability_examples(spec: OptimizerSpec) -> st.SearchStrategy[_StabilityExample]:
    has_lr = _has_lr(spec) is None

    @st.composite
    def draw_example(draw: st.DrawFn) -> _StabilityExample:
        problem = draw(problems(max_bins=4, max_condition=100.0, max_coordinates=32))
        p = draw(precond_powers())
        outside = draw(st.booleans()) if has_lr else False
        if outside:
            values = draw(unstable_hyperparameters(spec, problem, precond_power=p, min_radius=1.001))
        else:
            values = draw(
                hyperparameters(spec, problem, precond_power=p, min_lr_fraction=0.05, max_radius=0.999, derived=False)
            )
        opt = nn.Optimizer(spec, precond_power=p, **values)
        B_ = draw(batch_sizes())
        # the slowest mode decays, or the fastest grows, 1e16-fold by this horizon
        radius = float(spectral_radius(spec, problem, values, p))
        horizon = math.ceil(math.log(1e16) / (2.0 * abs(math.log(radius))))
        if outside:  # ... and the exact risk has grown 1e14-fold (an output that barely sees the mode needs longer)
            while horizon <= _STABILITY_HORIZON and not (
                float(nn.expected_risk(problem, opt, batch_size=B_, steps=[horizon])[0]) >= 1e14 * problem.initial_risk
            ):
                horizon *= 2
        assume(horizon <= _STABILITY_HORIZON)
        return _StabilityExample(Setup(problem, opt, B_, np.array([float(horizon)])), outside, draw(_seeds()))

    return draw_example()


def _check_stability(spec: OptimizerSpec, ex: _StabilityExample) -> None:
    r"""Outside, the Monte-Carlo mean at the horizon is at least :math:`10^{-6}` of the exact risk
    (itself :math:`\ge 10^{14}` times the initial risk). One run's loss is a sum of
    :math:`d` scaled :math:`\chi^2_1` variables whose largest weight is at least the mean over
    :math:`d`, so a mean of :math:`N` runs below :math:`\delta E` needs every run below
    :math:`N\delta E`, which has probability at most :math:`(2N\delta d/\pi)^{N/2}`
    (:math:`< 10^{-20}` here). Inside, it stays below the exact risk's Laurent–Massart upper
    tolerance (:func:`monte_carlo_tolerances`)."""
    s = ex.setup
    radius = float(spectral_radius(spec, s.problem, s.hyperparameters, s.precond_power))
    derived = bool(np.all(derived_stable(spec, s.problem.preconditioned(s.precond_power)[0], s.hyperparameters)))
    if derived != (radius < 1.0):
        raise ConformanceError(
            f"the derived stability conditions say {'stable' if derived else 'unstable'} but the spectral radius "
            f"of A is {radius!r}"
        )
    T = int(s.steps[0])
    mc = nn.monte_carlo(s.problem, s.optimizer, batch_size=s.batch_size, steps=T, runs=_STABILITY_RUNS, seed=ex.seed)
    exact = nn.expected_risk(s.problem, s.optimizer, batch_size=s.batch_size, steps=s.steps)
    if ex.outside:
        final, delta = float(mc.mean[-1]), 1e-6
        assert (2 * _STABILITY_RUNS * delta * int(mc.coordinates.sum()) / math.pi) ** (_STABILITY_RUNS / 2) < 1e-20
        if not final >= delta * float(exact[0]):
            raise ConformanceError(
                f"outside the stability region (spectral radius {radius!r}) Monte Carlo did not diverge: mean loss "
                f"{final!r} after {T} steps, exact risk {float(exact[0])!r}, initial risk {s.problem.initial_risk!r}"
            )
        return
    at = np.array([float(T)])
    _compare_with_monte_carlo(mc, exact, per_coordinate_risk(mc.simulated_problem, s.optimizer, s.batch_size, at), at)


# ---------------------------------------------------------------------- small learning rates
def _small_lr_examples(spec: OptimizerSpec) -> st.SearchStrategy[tuple[nn.Problem, float, dict[str, float]]]:
    @st.composite
    def draw_example(draw: st.DrawFn) -> tuple[nn.Problem, float, dict[str, float]]:
        problem = draw(problems())
        p = draw(precond_powers())
        return problem, p, {k: draw(_in_range(r)) for k, r in hyperparameter_ranges(spec).items() if k != "lr"}

    return draw_example()


def _check_small_lr(spec: OptimizerSpec, ex: tuple[nn.Problem, float, dict[str, float]]) -> None:
    problem, p, others = ex
    if not stable_lr_limit(spec, problem, others, p) > 0:
        values = ", ".join(f"{k} = {v!r}" for k, v in others.items())
        raise ConformanceError(f"no learning rate near 0 is stable at {values or 'no other hyperparameters'} "
                               f"(precond_power = {p!r})")


# ---------------------------------------------------------------------- reductions
@dataclass(frozen=True, eq=False)
class _ReductionExample:
    """One point of a declared reduction: the source (with the fixed values) and the target setting."""

    reduction: Reduction
    source: Setup
    target: Setup

    def describe(self) -> dict[str, object]:
        """Plain data for reports: the claim, the problem and both optimizers at the point."""
        s = self.source.describe()
        return {
            "claim": str(self.reduction),
            "problem": s["problem"],
            self.source.optimizer.name: s["hyperparameters"],
            self.target.optimizer.name: self.target.hyperparameters,
            "precond_power": s["precond_power"],
            "batch_size": s["batch_size"],
            "steps": s["steps"],
        }


def _no_reductions(spec: OptimizerSpec) -> str | None:
    if declared_reductions(spec.name):
        return None
    return f"no reductions are declared for {spec.name!r} (declare one with nqm.proofs.declare_reduction)"


def _reduction_examples(spec: OptimizerSpec) -> st.SearchStrategy[_ReductionExample]:
    @st.composite
    def draw_example(draw: st.DrawFn) -> _ReductionExample:
        reduction = draw(st.sampled_from(declared_reductions(spec.name)))
        target = get_spec(reduction.target)
        problem = draw(problems())
        p = draw(precond_powers())
        values = draw(hyperparameters(target, problem, precond_power=p))
        free = {k: draw(_in_range(r)) for k, r in hyperparameter_ranges(spec).items() if k not in reduction.fixed and k not in values}
        B_, steps = draw(batch_sizes()), draw(step_lists(max_steps=1000))
        source = nn.Optimizer(spec, precond_power=p, **{k: values[k] for k in values if k in hyperparameter_ranges(spec)},
                              **free, **reduction.fixed)
        target_opt = nn.Optimizer(target, precond_power=p, **values)
        return _ReductionExample(reduction, Setup(problem, source, B_, steps), Setup(problem, target_opt, B_, steps))

    return draw_example()


def _check_reduction(spec: OptimizerSpec, ex: _ReductionExample) -> None:
    """The two sides' risk curves agree at the drawn steps (1e-10 relative, above the absolute floor),
    and so do their stationary risks (derived, as the engine evaluates them) where both are stable.

    Only a point where the two sides differ numerically fails: that point is the counterexample.
    """
    source, target = ex.source, ex.target
    risks = [nn.expected_risk(s.problem, s.optimizer, batch_size=s.batch_size, steps=s.steps) for s in (source, target)]
    floor = ABSOLUTE_ACCURACY * _scale(target)
    _assert_close(risks[0], risks[1], 1e-10, f"{ex.reduction}: expected risk, left vs right side", floor, source.steps)
    if all(float(spectral_radius(s.optimizer.spec, s.problem, s.hyperparameters, s.precond_power)) < 1.0 for s in (source, target)):
        _assert_close(*(nn.stationary_risk(s.problem, s.optimizer, batch_size=s.batch_size) for s in (source, target)),
                      1e-10, f"{ex.reduction}: stationary risk, left vs right side", floor)


# ---------------------------------------------------------------------- p = 0
@lru_cache(maxsize=None)
def _preconditioning_at_zero_changes(spec: OptimizerSpec) -> tuple[str, ...]:
    """The matrices of ``spec.precondition()`` at p = 0 that differ from the spec's own."""
    at_zero = spec.precondition().fix(precond_power=0)
    return tuple(
        label for label in ("A", "b", "init", "out")
        if any(sp.simplify(e) != 0 for e in getattr(at_zero, label) - getattr(spec, label))
    )


def _check_precondition_at_zero(spec: OptimizerSpec, ex: Setup) -> None:
    changed = _preconditioning_at_zero_changes(spec)
    if changed:
        raise ConformanceError(f"precondition() at p = 0 changes {', '.join(changed)}")
    reference = moment_recursion_risk(spec, ex.problem, ex.hyperparameters, batch_size=ex.batch_size, steps=ex.steps)
    engine = nn.expected_risk(ex.problem, ex.optimizer, batch_size=ex.batch_size, steps=ex.steps)
    _assert_close(engine, reference, 1e-10, "engine at p = 0 vs recursion of the unpreconditioned spec",
                  ABSOLUTE_ACCURACY * _scale(ex), ex.steps)


# ---------------------------------------------------------------------- metamorphic invariances
def _compare_settings(a: Setup, b: Setup, rtol: float, what: str, target_fraction: float, scale: float = 0.0) -> None:
    """Equal risk curve, variance, stationary risk and steps-to-target for two settings, to ``rtol``
    plus the absolute accuracy at ``scale`` (:func:`_scale`; the variance, a sum of squared
    risks, to four times that accuracy times the scale)."""
    atol = ABSOLUTE_ACCURACY * scale
    for name, fn, floor in (("expected_risk", nn.expected_risk, atol), ("risk_variance", nn.risk_variance, 4 * atol * scale)):
        _assert_close(fn(b.problem, b.optimizer, batch_size=b.batch_size, steps=b.steps),
                      fn(a.problem, a.optimizer, batch_size=a.batch_size, steps=a.steps), rtol, f"{what}: {name}", floor, b.steps)
    _assert_close(nn.stationary_risk(b.problem, b.optimizer, batch_size=b.batch_size),
                  nn.stationary_risk(a.problem, a.optimizer, batch_size=a.batch_size), rtol, f"{what}: stationary_risk")
    _same_steps(a, b, target_fraction * a.problem.initial_risk, what)


def _check_permutation(spec: OptimizerSpec, ex: tuple[Setup, list[int], float]) -> None:
    s, perm, fraction = ex
    p = s.problem
    idx = np.array(perm)
    permuted = nn.Problem(p.h[idx], p.c[idx], p.init_var[idx], p.weights[idx])
    _compare_settings(s, Setup(permuted, s.optimizer, s.batch_size, s.steps), 1e-12, f"permutation {perm}", fraction)


def _check_split(spec: OptimizerSpec, ex: tuple[Setup, int, int, float]) -> None:
    s, j, position, fraction = ex
    p = s.problem
    order = [i for i in range(p.size) if i != j]
    order[position:position] = [j, j]
    idx = np.array(order)
    weights = p.weights[idx] / np.where(idx == j, 2.0, 1.0)
    split = nn.Problem(p.h[idx], p.c[idx], p.init_var[idx], weights)
    _compare_settings(s, Setup(split, s.optimizer, s.batch_size, s.steps), 1e-12, f"splitting bin {j}", fraction)


def check_scale_symmetry(spec: OptimizerSpec, ex: tuple[Setup, float, float]) -> None:
    r"""The scale symmetry :math:`(h, c, \alpha) \to (sh, sc, \alpha/s)`, derived.

    Per direction the gradient query is :math:`h\theta + \xi`, :math:`E\xi^2 = c/B`. A
    dimensionally consistent method depends on :math:`h` and :math:`\alpha` only through
    :math:`\alpha h` (which the map preserves) and injects the noise through
    :math:`\alpha\xi`, whose variance :math:`\alpha^2c/B` the map divides by :math:`s`. Hence
    :math:`E\theta_t^2 = v\,m_t^2 + N_t/s` with the mean path :math:`m_t` and the noise
    accumulation :math:`N_t` of the original, and the loss :math:`\tfrac12 sh\,E\theta_t^2`:

    * with the start :math:`v` fixed, the start part of the risk scales by :math:`s`, the noise
      part and the stationary risk are invariant;
    * with :math:`v \to v/s` as well (:math:`\theta \to \theta/\sqrt s`, the map of the whole
      quadratic), the risk curve, its variance, the stationary risk and the steps to any target
      are invariant.

    With preconditioning :math:`P = H^p` the method sees :math:`\tilde h = h^{1-p}`,
    :math:`\tilde c = ch^{-p}`, :math:`\tilde v = vh^p` (eq. 9), which scale by
    :math:`s^{1-p}, s^{1-p}, s^{p}`; the map is then :math:`\alpha \to \alpha/s^{1-p}`, with the
    same conclusions. The check assumes ``lr`` is the spec's only hyperparameter with units
    (of inverse curvature); a spec that forgets a learning rate somewhere fails it.
    """
    s, scale, fraction = ex
    p = s.problem
    q = scale ** (1.0 - s.precond_power)
    opt = s.optimizer.replace(lr=float(s.optimizer.lr) / q)
    whole = nn.Problem(scale * p.h, scale * p.c, p.init_var / scale, p.weights)
    _compare_settings(s, Setup(whole, opt, s.batch_size, s.steps), 1e-9, f"(h, c, v, lr) scaled by s={scale!r}", fraction,
                      _scale(s))
    start, noise = nn.risk_components(p, s.optimizer, batch_size=s.batch_size, steps=s.steps)
    start_s, noise_s = nn.risk_components(nn.Problem(scale * p.h, scale * p.c, p.init_var, p.weights), opt,
                                          batch_size=s.batch_size, steps=s.steps)
    atol = ABSOLUTE_ACCURACY * _scale(s)
    _assert_close(start_s, scale * start, 1e-9, f"start part with (h, c, lr) scaled by s={scale!r}", scale * atol,
                  s.steps)
    _assert_close(noise_s, noise, 1e-9, f"noise part with (h, c, lr) scaled by s={scale!r}", atol, s.steps)


# ---------------------------------------------------------------------- information bound
def bayes_risk_bound(problem: nn.Problem, examples: object) -> np.ndarray:
    """:meth:`nqm.numerics.Problem.bayes_risk_bound` as a function (``nqm.proofs.bayes_risk_bound``)."""
    return problem.bayes_risk_bound(examples)


def _check_information_bound(spec: OptimizerSpec, ex: tuple[Setup, float]) -> None:
    r""":math:`E\mathcal L(t) \ge` :meth:`~nqm.numerics.Problem.bayes_risk_bound` :math:`(tB)` at the drawn steps and at
    :math:`t = 2^k \le 2^{40}`, for the drawn setting and for the best of a 24-point learning-rate
    grid at each t (the tuned optimum); and, in the headline form, the exact first step with risk
    :math:`\le \varepsilon` is at least :meth:`~nqm.numerics.Problem.bayes_bound_steps` (from the full risk
    curve when the target is reached within 1024 steps; for the drawn setting this also checks
    :func:`nqm.numerics.steps_to_target` against that curve).
    """
    s, fraction = ex
    prob, B_ = s.problem, s.batch_size
    steps = np.unique(np.concatenate([s.steps, 2.0 ** np.arange(41)]))
    bound = prob.bayes_risk_bound(steps * B_)
    settings = [("drawn", s.optimizer)]
    if _has_lr(spec) is None:
        others = {k: v for k, v in s.hyperparameters.items() if k != "lr"}
        limit = stable_lr_limit(spec, prob, others, s.precond_power)
        lrs = np.geomspace(1e-3, 0.99, 24) * (limit if math.isfinite(limit) else 1.0 / prob.h.max())
        settings.append(("tuned", nn.Optimizer(spec, precond_power=s.precond_power, **others, lr=lrs)))
    target = fraction * prob.initial_risk
    for label, opt in settings:
        best = nn.expected_risk(prob, opt, batch_size=B_, steps=steps).reshape(-1, steps.size).min(axis=0)
        beaten = best < bound * (1 - 1e-12)
        if np.any(beaten):
            i = int(np.argmax(beaten))
            raise ConformanceError(
                f"{label} setting: risk {float(best[i])!r} at step {int(steps[i])} beats the Bayes bound {float(bound[i])!r}"
            )
        reached = steps[nn.reaches(best, target)]
        if not reached.size or reached[0] > 1024:
            continue
        dense = np.arange(reached[0] + 1.0)
        curve = nn.expected_risk(prob, opt, batch_size=B_, steps=dense).reshape(-1, dense.size).min(axis=0)
        first = int(np.argmax(nn.reaches(curve, target)))
        needed = prob.bayes_bound_steps(target, B_)
        if first < needed:
            raise ConformanceError(
                f"{label} setting reached target {target!r} after {first} steps at B={B_:g}; the information "
                f"bound needs {needed:g} steps"
            )
        engine_steps = nn.steps_to_target(prob, opt, batch_size=B_, target=target) if label == "drawn" else first
        if engine_steps != first and abs(curve[first] - target) > 1e-9 * target:
            raise ConformanceError(f"steps_to_target gives {engine_steps}, the risk curve first reaches {target!r} at {first}")


# ---------------------------------------------------------------------- the list
def _invariance_examples(spec: OptimizerSpec, min_bins: int = 1) -> st.SearchStrategy[Setup]:
    return setups(spec, min_bins=min_bins, max_steps=2000)


#: name -> a property of the conformance suite (:func:`check_conformance`)
PROPERTIES: dict[str, Property] = {
    prop.name: prop
    for prop in (
        Property(
            "engine_matches_recursion",
            "the engine's exact risk equals the independent second-moment recursion to 1e-10 relative, above "
            "1e-13 of the initial + stationary risk (any p)",
            lambda spec: setups(spec),
            _check_recursion,
        ),
        Property(
            "engine_matches_monte_carlo",
            "simulated runs match the exact risk at every step (Laurent-Massart tolerances from the exact "
            "variance, family-wise false-failure rate 1e-6)",
            _monte_carlo_examples,
            _check_monte_carlo,
            fields=("setting", "runs", "seed"),
        ),
        Property(
            "engine_matches_recursion_under_schedules",
            "under drawn piecewise and per-step schedules of the spec's hyperparameters (each step a stable setting) "
            "and of the batch size, in every schedule form, the engine's scheduled_risk equals the independent "
            "per-step recursion to 1e-10 relative, above 1e-13 of the initial + largest stationary risk",
            lambda spec: scheduled_setups(spec),
            _check_scheduled_recursion,
        ),
        Property(
            "monte_carlo_matches_recursion_under_schedules",
            "under drawn schedules of the hyperparameters and the batch size, simulated runs match the independent "
            "per-step recursion at every step (Laurent-Massart tolerances from the exact variance, family-wise "
            "false-failure rate 1e-6)",
            _scheduled_monte_carlo_examples,
            _check_scheduled_monte_carlo,
            fields=("setting", "runs", "seed"),
        ),
        Property(
            "stationary_risk_is_limit",
            "derived stationary risk = engine stationary_risk = the t -> infinity limit of the risk (1e-9)",
            lambda spec: setups(spec, max_steps=1),
            _check_stationary,
        ),
        Property(
            "stability_region",
            "derived stability conditions = spectral radius < 1; outside, Monte Carlo diverges with the exact "
            "risk; inside, it stays bounded by it",
            _stability_examples,
            _check_stability,
        ),
        Property(
            "stable_for_small_lr",
            "every setting of the other hyperparameters has a stable learning rate near 0",
            _small_lr_examples,
            _check_small_lr,
            _has_lr,
            fields=("problem", "precond_power", "hyperparameters"),
        ),
        Property(
            "reductions",
            "each declared reduction holds: both sides' risk curves agree to 1e-10 relative (above 1e-13 of the "
            "initial + stationary risk), and their stationary risks where both are stable",
            _reduction_examples,
            _check_reduction,
            _no_reductions,
            lambda spec: "declared: " + "; ".join(str(r) for r in declared_reductions(spec.name)),
        ),
        Property(
            "precondition_at_zero",
            "p = 0 is unpreconditioned: precondition() at p = 0 is the spec itself, and the engine at p = 0 equals "
            "the recursion of the unpreconditioned spec to 1e-10",
            lambda spec: setups(spec, precondition=False),
            _check_precondition_at_zero,
        ),
        Property(
            "permutation_invariance",
            "permuting the eigen-directions changes nothing (1e-12)",
            lambda spec: _invariance_examples(spec, 2).flatmap(
                lambda s: st.tuples(st.just(s), st.permutations(range(s.problem.size)), _target_fractions())
            ),
            _check_permutation,
            fields=("setting", "permutation", "target_fraction"),
        ),
        Property(
            "bin_splitting_invariance",
            "splitting a bin into two half-weight bins changes nothing (1e-12)",
            lambda spec: _invariance_examples(spec).flatmap(
                lambda s: st.tuples(st.just(s), st.integers(0, s.problem.size - 1), st.integers(0, s.problem.size - 1),
                                    _target_fractions())
            ),
            _check_split,
            fields=("setting", "bin", "position", "target_fraction"),
        ),
        Property(
            "scale_symmetry",
            "(h, c, lr) -> (s h, s c, lr/s^(1-p)): start part x s, noise part invariant; with v -> v/s the whole "
            "risk curve, variance, stationary risk and steps are invariant (1e-9)",
            lambda spec: st.tuples(_invariance_examples(spec), _log_uniform(1e-3, 1e3), _target_fractions()),
            check_scale_symmetry,
            _has_lr,
            fields=("setting", "scale", "target_fraction"),
        ),
        Property(
            "information_bound",
            "no setting, drawn or the best of a learning-rate grid, beats the Bayes information bound",
            lambda spec: st.tuples(_invariance_examples(spec), _target_fractions()),
            _check_information_bound,
            fields=("setting", "target_fraction"),
        ),
    )
}
