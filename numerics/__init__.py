"""nqm.numerics: the exact numeric engine of the noisy quadratic model.

Formulas come from :mod:`nqm.theory` (the committed generated forms for built-ins, or
compiled on first use for user specs); nothing optimizer-specific is typed here.
"""

from ._model import MAX_STEPS
from ._montecarlo import MonteCarloResult, monte_carlo
from ._multiplicative import MAX_MULTIPLICATIVE_STEPS, multiplicative_expected_risk
from ._optimizers import EMA, QHM, SGD, Momentum, Nesterov, Optimizer, from_spec, optimizer
from ._problem import Problem
from ._risk import expected_risk, risk_components, risk_variance, stationary_risk
from ._schedule import piecewise_risk, piecewise_risk_gradient, scheduled_risk, split_steps
from ._schedule_opt import ScheduleResult, bayes_bound_steps, default_max_lr, optimal_schedule, optimize_schedule
from ._schedule_sweep import ScheduleSweep, schedule_sweep
from ._steps import steps_to_target

__all__ = [
    "EMA",
    "MAX_MULTIPLICATIVE_STEPS",
    "MAX_STEPS",
    "Momentum",
    "MonteCarloResult",
    "Nesterov",
    "Optimizer",
    "Problem",
    "QHM",
    "SGD",
    "ScheduleResult",
    "ScheduleSweep",
    "bayes_bound_steps",
    "default_max_lr",
    "expected_risk",
    "from_spec",
    "monte_carlo",
    "multiplicative_expected_risk",
    "optimal_schedule",
    "optimize_schedule",
    "optimizer",
    "piecewise_risk",
    "piecewise_risk_gradient",
    "risk_components",
    "risk_variance",
    "schedule_sweep",
    "scheduled_risk",
    "split_steps",
    "stationary_risk",
    "steps_to_target",
]
