r"""Worked example: a new optimizer variant, property-tested and read off, in one file.

The variant is a *linear lookahead*: Lookahead (Zhang et al. 2019) with one inner step and a
partial pull-back. Each step takes an SGD step with the fast weights, moves the slow weights
towards them, and pulls the fast weights a fraction :math:`\nu` back towards the slow ones;
the loss is evaluated at the slow weights:

.. math::

    \theta_{\rm fast} = \theta - \alpha\hat g(\theta),\qquad
    \phi \leftarrow \gamma\phi + (1-\gamma)\theta_{\rm fast},\qquad
    \theta \leftarrow \theta_{\rm fast} + \nu(\phi - \theta_{\rm fast}).

With :math:`\nu = 0` it is SGD evaluated at an EMA of its iterates (eq. 11), and with
:math:`\gamma = 0` it is plain SGD; we declare both reductions so the suite checks them.

Steps:

1. write the update as code (:meth:`nqm.theory.OptimizerSpec.from_update` derives the
   matrices and rejects non-linear updates);
2. property-test it against the whole conformance suite (:func:`nqm.proofs.check_conformance`);
3. read off its derived stationary risk, stability region and effective learning rate
   (:func:`nqm.theory.derive`);
4. read off its critical batch size on the paper's problem: :func:`nqm.numerics.sweep` tunes
   the hyperparameters on a grid for the exact fewest steps to the target at each batch size,
   and :meth:`~nqm.numerics.Sweep.critical_batch_sizes` fits McCandlish et al.'s
   :math:`S = S_{\min} + E_{\min}/B`, whose critical batch size is :math:`E_{\min}/S_{\min}`.

Run it: ``python examples/custom_variant.py``.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

import nqm.numerics as nn
from nqm.proofs import check_conformance, declare_reduction
from nqm.theory import GAMMA, LR, NU, OptimizerSpec, derive


def linear_lookahead(grad, theta, slow, lr, gamma, nu):
    """One step: SGD on the fast weights, EMA of the slow weights, pull-back of the fast ones."""
    fast = theta - lr * grad(theta)
    slow = gamma * slow + (1 - gamma) * fast
    return fast + nu * (slow - fast), slow


SPEC = OptimizerSpec.from_update(
    "linear_lookahead",
    linear_lookahead,
    state=("theta", "slow"),
    hyperparameters=(LR, GAMMA, NU),
    init=(1, 1),
    out=(0, 1),
    description="Lookahead with one inner step and pull-back nu, evaluated at the slow weights",
    reference="example (Zhang et al. 2019, Lookahead, with k = 1)",
)
LinearLookahead = nn.from_spec(SPEC)
declare_reduction("linear_lookahead", "ema", nu=0.0)
declare_reduction("linear_lookahead", "sgd", gamma=0.0)


def main(*, max_examples: int = 20, seed: int = 0, batch_sizes: np.ndarray | None = None) -> dict[str, object]:
    """Run the worked example; returns what it printed, for tests."""
    report = check_conformance(SPEC, max_examples=max_examples, seed=seed)
    print(report)

    d = derive(SPEC)
    print("\nderived stationary risk per direction:")
    print("  ", sp.latex(d.stationary_risk))
    print("stability conditions:", d.stability_conditions)
    print("effective learning rate (from the rate):", d.effective_lr)

    problem = nn.Problem.paper()
    target = 0.01
    bs = 4.0 ** np.arange(0, 9) if batch_sizes is None else np.asarray(batch_sizes, dtype=float)
    lrs = np.logspace(-5, 0.5, 100)  # the paper's SGD grid (Section 3.7)
    grid = {"lr": lrs, "gamma": 1.0 - np.logspace(-5, 0, 16), "nu": np.array([0.0, 0.5, 0.9])}  # gamma = 0 is SGD
    lookahead = nn.sweep(problem, LinearLookahead, batch_sizes=bs, target=target, grid=grid)
    sgd = nn.sweep(problem, nn.SGD, batch_sizes=bs, target=target, grid={"lr": lrs})
    b_crit = lookahead.critical_batch_sizes().mccandlish.B_crit
    sgd_crit = sgd.critical_batch_sizes().mccandlish.B_crit
    print(f"\nsteps to risk {target} on {problem.name} (tuned on a grid):")
    print(f"  {'B':>8} {'lookahead':>12} {'SGD':>12}")
    for B, s_la, s_sgd in zip(bs, lookahead.steps, sgd.steps):
        print(f"  {B:8.0f} {s_la:12.0f} {s_sgd:12.0f}")
    print(f"critical batch size (E_min/S_min fit): lookahead {b_crit:.4g}, SGD {sgd_crit:.4g}")
    return {
        "report": report,
        "stationary_risk": d.stationary_risk,
        "batch_sizes": bs,
        "steps": lookahead.steps,
        "critical_batch_size": b_crit,
        "sgd_steps": sgd.steps,
        "sgd_critical_batch_size": sgd_crit,
    }


if __name__ == "__main__":
    main()
