"""nqm.numerics: the exact numeric engine of the noisy quadratic model.

Formulas come from :mod:`nqm.theory` (the committed generated forms for built-ins, or
compiled on first use for user specs); nothing optimizer-specific is typed here.
"""

from ._model import MAX_STEPS
from ._optimizers import EMA, QHM, SGD, Momentum, Nesterov, Optimizer, from_spec, optimizer
from ._problem import Problem
from ._risk import expected_risk, risk_components, risk_variance, stationary_risk
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
    "expected_risk",
    "from_spec",
    "optimizer",
    "risk_components",
    "risk_variance",
    "stationary_risk",
    "steps_to_target",
]
