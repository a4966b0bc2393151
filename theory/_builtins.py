r"""The built-in optimizer specs: the paper's three methods and two variants beyond it.

Each is written as update code (:meth:`OptimizerSpec.from_update`); the matrices are
derived from it, never typed by hand.

* ``sgd``: :math:`\theta \leftarrow \theta - \alpha \hat g(\theta)` (eq. 2).
* ``momentum``: heavy ball, :math:`m \leftarrow \beta m + \hat g(\theta)`,
  :math:`\theta \leftarrow \theta - \alpha m`, :math:`m(0) = 0` (eq. 5).
* ``ema``: SGD iterates averaged as :math:`\tilde\theta \leftarrow \gamma\tilde\theta +
  (1-\gamma)\theta`, evaluated at :math:`\tilde\theta`, :math:`\tilde\theta(0)=\theta(0)` (eq. 11).
* ``nesterov``: the gradient is queried at the look-ahead point
  :math:`\theta - \alpha\beta m` (Sutskever et al. 2013).
* ``qhm``: quasi-hyperbolic momentum (Ma & Yarats 2019),
  :math:`g_{\rm buf} \leftarrow \beta g_{\rm buf} + (1-\beta)\hat g`,
  :math:`\theta \leftarrow \theta - \alpha[(1-\nu)\hat g + \nu g_{\rm buf}]`.

Preconditioning with :math:`P = H^p` (eqs. 8–9) combines with any of them through
:meth:`OptimizerSpec.precondition`.
"""

from __future__ import annotations

import math
from dataclasses import replace

from ._spec import Hyperparameter, OptimizerSpec
from ._symbols import alpha, beta, gamma, nu

__all__ = ["LR", "BETA", "GAMMA", "NU", "sgd", "momentum", "ema", "nesterov", "qhm", "BUILTINS"]

LR = Hyperparameter("lr", alpha, 0.0, math.inf, False, False, "learning rate alpha")
BETA = Hyperparameter("beta", beta, 0.0, 1.0, True, False, "momentum beta")
GAMMA = Hyperparameter("gamma", gamma, 0.0, 1.0, True, False, "EMA coefficient gamma")
NU = Hyperparameter("nu", nu, 0.0, 1.0, True, True, "quasi-hyperbolic interpolation nu")


def _sgd(grad, theta, lr):
    return (theta - lr * grad(theta),)


def _momentum(grad, theta, m, lr, beta):
    m = beta * m + grad(theta)
    return theta - lr * m, m


def _ema(grad, theta, avg, lr, gamma):
    theta = theta - lr * grad(theta)
    return theta, gamma * avg + (1 - gamma) * theta


def _nesterov(grad, theta, m, lr, beta):
    m = beta * m + grad(theta - lr * beta * m)
    return theta - lr * m, m


def _qhm(grad, theta, buf, lr, beta, nu):
    g = grad(theta)
    buf = beta * buf + (1 - beta) * g
    return theta - lr * ((1 - nu) * g + nu * buf), buf


sgd = OptimizerSpec.from_update(
    "sgd", _sgd, state=("theta",), hyperparameters=(LR,),
    description="plain SGD", reference="eqs. 2-4", display_name="SGD",
)
momentum = OptimizerSpec.from_update(
    "momentum", _momentum, state=("theta", "m"), hyperparameters=(LR, BETA),
    description="heavy-ball momentum", reference="eq. 5, Theorem 1, Appendix B", display_name="momentum",
)
ema = OptimizerSpec.from_update(
    "ema", _ema, state=("theta", "theta_avg"), hyperparameters=(LR, GAMMA),
    init=(1, 1), out=(0, 1),
    description="SGD with an exponential moving average of the iterates",
    reference="eq. 11, Theorem 2, Appendix D", display_name="SGD + EMA",
)
nesterov = OptimizerSpec.from_update(
    "nesterov", _nesterov, state=("theta", "m"), hyperparameters=(LR, BETA),
    description="Nesterov momentum (gradient at the look-ahead point)",
    reference="beyond the paper (Sutskever et al. 2013)", display_name="Nesterov",
)
qhm = OptimizerSpec.from_update(
    # QHM's own default (Ma & Yarats' recommendation, used by tuning unless nu is given or on the grid);
    # NU itself carries none, so a user spec that reuses it gets no default
    "qhm", _qhm, state=("theta", "buf"), hyperparameters=(LR, BETA, replace(NU, default=0.7)),
    description="quasi-hyperbolic momentum", reference="beyond the paper (Ma & Yarats 2019)", display_name="QHM",
)

#: the built-in specs: sgd, momentum, ema, nesterov, qhm
BUILTINS: tuple[OptimizerSpec, ...] = (sgd, momentum, ema, nesterov, qhm)
