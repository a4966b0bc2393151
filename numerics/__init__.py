"""nqm.numerics: the exact numeric engine of the noisy quadratic model."""

from ._optimizers import EMA, QHM, SGD, Momentum, Nesterov, Optimizer, from_spec, optimizer
from ._problem import Problem

__all__ = ["EMA", "QHM", "SGD", "Momentum", "Nesterov", "Optimizer", "Problem", "from_spec", "optimizer"]
