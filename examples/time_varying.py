r"""Worked example: a user's optimizer under WSD with a batch-size ramp, against a constant batch size.

The optimizer is heavy-ball momentum whose loss is read at an exponential moving average of its
iterates (three states per direction: the iterate, the velocity and the average; eqs. 5 and 11
composed):

.. math::

    m \leftarrow \beta m + \hat g(\theta),\qquad \theta \leftarrow \theta - \alpha m,\qquad
    \bar\theta \leftarrow \gamma\bar\theta + (1-\gamma)\theta .

Steps:

1. write the update as code (:meth:`nqm.theory.OptimizerSpec.from_update` derives the matrices);
2. its exact expected risk under a warmup-stable-decay learning rate (:func:`nqm.numerics.schedules.wsd`:
   the peak until the last 20% of the horizon, then linearly to 0) with the batch size doubled at
   50% and 75% of the horizon (:func:`nqm.numerics.schedules.batch_doubling`, Smith et al. 2018),
   against the same learning-rate schedule at the ramp's first and last batch sizes held constant
   (:func:`nqm.numerics.scheduled_risk`): the first step that reaches the target and the examples
   :math:`E = \sum_{t<S} B_t` used by then (:func:`nqm.numerics.scheduled_steps_to_target`);
3. read off the steps-versus-examples frontier of the tuned constant batch size
   (:func:`nqm.numerics.steps_examples`: at each B the hyperparameters tuned on a coarse grid, the
   exact steps S and examples E = BS, the Pareto frontier, McCandlish et al.'s fitted
   :math:`S_{\min}` and :math:`E_{\min}` and the residual of their relation
   :math:`S_{\min}/S + E_{\min}/E = 1`), and place the untuned run of step 2 against it.

The problem is the paper's spectrum with d = 1000 in 20 bins (:meth:`nqm.numerics.Problem.paper`),
so that every step runs in seconds. Run it: ``python examples/time_varying.py``.
"""

from __future__ import annotations

import numpy as np

import nqm.numerics as nn
from nqm.numerics import schedules
from nqm.theory import BETA, GAMMA, LR, OptimizerSpec


def ema_of_heavy_ball(grad, theta, m, avg, lr, beta, gamma):
    """One step: heavy ball on the iterate, then the average moves towards it."""
    m = beta * m + grad(theta)
    theta = theta - lr * m
    return theta, m, gamma * avg + (1 - gamma) * theta


SPEC = OptimizerSpec.from_update(
    "ema_heavy_ball", ema_of_heavy_ball, state=("theta", "m", "avg"), hyperparameters=(LR, BETA, GAMMA),
    init=(1, 0, 1), out=(0, 0, 1), description="heavy ball evaluated at an EMA of its iterates",
    reference="example (eqs. 5 and 11 composed)",
)
EmaHeavyBall = nn.from_spec(SPEC)

PROBLEM = nn.Problem.paper(d=1000, bins=20)
TARGET = 0.01
HORIZON = 1000
OPTIMIZER = EmaHeavyBall(lr=0.3, beta=0.9, gamma=0.9)
#: a coarse grid for the frontier (the paper's grids have 100 x 20 x 20 points; this one 19 x 7 x 9)
GRID = {"lr": np.logspace(-3, 0.6, 19), "beta": 1 - np.logspace(-3, 0, 7), "gamma": 1 - np.logspace(-4, 0, 9)}


def under_wsd(batch: schedules.Schedule | float) -> tuple[float, float, float]:
    """Final risk, steps to the target and examples used by then, under WSD with ``batch`` (schedule or constant)."""
    schedule = {"lr": "wsd", "batch_size": batch}
    risk = nn.scheduled_risk(PROBLEM, OPTIMIZER, steps=[HORIZON], schedule=schedule)[0]
    hit = nn.scheduled_steps_to_target(PROBLEM, OPTIMIZER, target=TARGET, horizon=HORIZON, schedule=schedule)
    return float(risk), hit.steps, hit.examples


def main() -> None:
    print(f"{SPEC.name} (lr = 0.3 under WSD, beta = gamma = 0.9) on {PROBLEM.name}, target {TARGET:g}, "
          f"horizon {HORIZON} steps")
    print(f"{'batch size':<40}{'final risk':>12}{'steps':>8}{'examples':>11}")
    runs = {}
    for label, batch in [("ramp 64 -> 128 -> 256 (x2 at 50%, 75%)", schedules.batch_doubling(64.0)),
                         ("constant 64", 64.0), ("constant 256", 256.0)]:
        risk, steps, examples = runs[label] = under_wsd(batch)
        print(f"{label:<40}{risk:>12.4g}{steps:>8g}{examples:>11g}")

    front = nn.steps_examples(PROBLEM, EmaHeavyBall, batch_sizes=[4, 32, 256, 2048], target=TARGET, grid=GRID)
    fit = front.fit
    print(f"\nsteps-versus-examples frontier, constant B, hyperparameters tuned at each B: S_min = {fit.S_min:.3g}, "
          f"E_min = {fit.E_min:.3g} (exact floors: {front.noise_free_steps:g} steps without noise, "
          f"{front.bayes_examples:g} examples for any method)")
    for B, S, E, on, r in zip(front.batch_sizes, front.steps, front.examples, front.pareto, front.residual):
        pareto = "  (Pareto)" if on else ""
        print(f"  B = {B:>5g}: S = {S:>6g}, E = {E:>7g}{pareto:<11} S_min/S + E_min/E - 1 = {r:+.2f}")
    _, S_run, E_run = runs["ramp 64 -> 128 -> 256 (x2 at 50%, 75%)"]
    points = zip(front.batch_sizes, front.steps, front.examples)
    better = [f"B = {B:g}" for B, S, E in points if S <= S_run and E <= E_run]
    print(f"the untuned WSD run with the ramp ({S_run:g} steps, {E_run:g} examples) is beaten in both costs by the "
          f"tuned constant {', '.join(better) or 'none'}")


if __name__ == "__main__":
    main()
