"""nqm.numerics: the exact numeric engine of the noisy quadratic model.

Formulas come from :mod:`nqm.theory` (the committed generated forms for built-ins, or
compiled on first use for user specs); nothing optimizer-specific is typed here.
"""

from ._model import MAX_STEPS
from ._optimizers import EMA, QHM, SGD, Momentum, Nesterov, Optimizer, from_spec, optimizer
from ._problem import Problem
from ._risk import expected_risk, risk_components, risk_variance, stationary_risk
from ._schedule import piecewise_risk, piecewise_risk_gradient, scheduled_risk, split_steps
from ._schedule_opt import ScheduleResult, bayes_bound_steps, default_max_lr, optimal_schedule, optimize_schedule
from ._schedule_sweep import ScheduleSweep, schedule_sweep
from ._steps import steps_to_target

__all__ = [
    "EMA",
    "MAX_STEPS",
    "Momentum",
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
