"""The user specs several test modules share, written as a user writes them (``OptimizerSpec.from_update``).

``EMA_HB``: an EMA of heavy-ball iterates (three states; eqs. 5 and 11), the issue's example of a user
variant. ``EMA2_HB``: a second EMA (coefficient nu) of the first one's average (four states); at
nu = gamma its transition has a Jordan block at gamma in every direction. ``ema_of_heavy_ball`` is the
update itself, for specs that read another state (``out``).
"""

from __future__ import annotations

from nqm.theory import BETA, GAMMA, LR, NU, OptimizerSpec


def ema_of_heavy_ball(grad, theta, m, avg, lr, beta, gamma):
    """One heavy-ball step (eq. 5), then the EMA of its iterates (eq. 11)."""
    m = beta * m + grad(theta)
    theta = theta - lr * m
    return theta, m, gamma * avg + (1 - gamma) * theta


def ema_of_ema_of_heavy_ball(grad, theta, m, avg, avg2, lr, beta, gamma, nu):
    """:func:`ema_of_heavy_ball`, then an EMA (coefficient nu) of its average."""
    theta, m, avg = ema_of_heavy_ball(grad, theta, m, avg, lr, beta, gamma)
    return theta, m, avg, nu * avg2 + (1 - nu) * avg


EMA_HB = OptimizerSpec.from_update(
    "ema_hb_test", ema_of_heavy_ball, state=("theta", "m", "avg"), hyperparameters=(LR, BETA, GAMMA),
    init=(1, 0, 1), out=(0, 0, 1), description="EMA of heavy-ball iterates (test)", reference="eqs. 5, 11",
)
EMA2_HB = OptimizerSpec.from_update(
    "ema2_hb_test", ema_of_ema_of_heavy_ball, state=("theta", "m", "avg", "avg2"),
    hyperparameters=(LR, BETA, GAMMA, NU), init=(1, 0, 1, 1), out=(0, 0, 0, 1),
)
