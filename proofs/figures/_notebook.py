r"""The authors' remaining figure: the fixed-learning-rate training curves of their notebook.

The notebook (gd-zhang/noisy-quadratic-model, ``nqm.ipynb``, cell "Training curves") plots the
expected loss of SGD against the step for five fixed learning rates on the *unbinned* problem
``NDIM = 5000`` (:math:`h_i = 1/i`, ``sigma_sq = h``, i.e. :math:`C = H` at batch size
:math:`B = 1`, ``s_init = 1``) over ``NUM_STEPS = 20000`` steps, to show the trade-off of Section
3.1 (eq. 4): a larger rate converges faster to a higher stationary risk. Here every curve is the
exact engine's :func:`~nqm.numerics.expected_risk` on
``Problem.paper(binned=False, d=5000)``, beside each rate's :func:`~nqm.numerics.stationary_risk`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from nqm.numerics import MAX_STEPS, SGD, Problem, expected_risk, stationary_risk
from nqm.numerics.validation import validate_batch_size, validate_hyperparameter

from ._core import FigureResult, Records, new_figure, register_figure, sequential_colormap

__all__ = ["figure_training_curves", "NOTEBOOK_LRS", "NOTEBOOK_STEPS", "NOTEBOOK_DIMENSION"]

#: learning rates of the notebook's training-curves cell
NOTEBOOK_LRS = (1e-2, 3e-2, 1e-1, 3e-1, 1.0)
#: its ``NUM_STEPS``: the curves cover t = 0, ..., NUM_STEPS - 1
NOTEBOOK_STEPS = 20_000
#: its ``NDIM``: the unbinned problem h_i = 1/i, i = 1..5000
NOTEBOOK_DIMENSION = 5000
#: most points on each curve (a line plot; the notebook's own curves have NUM_STEPS points)
MAX_POINTS = 100_000


@register_figure("training_curves")
def figure_training_curves(
    *, problem: Problem | None = None, lrs: Sequence[float] = NOTEBOOK_LRS, steps: int = NOTEBOOK_STEPS,
    batch_size: float = 1.0, points: int = 300,
) -> FigureResult:
    r"""The notebook's training curves: exact expected risk :math:`E\mathcal L(t)` of SGD at fixed
    learning rates against the step t (log–log), with each rate's stationary risk dotted.

    Defaults are the notebook's: ``Problem.paper(binned=False, d=5000)``, rates
    :data:`NOTEBOOK_LRS`, batch size 1, steps 1 to ``steps - 1`` (the notebook's curves start at
    t = 0, which a log axis cannot show; :math:`E\mathcal L(0)` is in the caption), at ``points``
    log-spaced integer steps (the notebook evaluates every step and plots linear axes);
    ``steps`` at most 2**62 and ``points`` at most :data:`MAX_POINTS`. The caption states the
    notebook's problem only when ``problem`` is left at its default.
    """
    prob = Problem.paper(binned=False, d=NOTEBOOK_DIMENSION) if problem is None else problem
    rates = validate_hyperparameter("lrs", lrs, (0.0, math.inf, False, False))
    if rates.ndim != 1 or rates.size < 1:
        raise ValueError(f"lrs must be a non-empty list of learning rates in (0, inf); got {lrs!r}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not 3 <= steps <= MAX_STEPS:
        raise ValueError(f"steps must be an integer in [3, 2**62]; got {steps!r}")
    if isinstance(points, bool) or not isinstance(points, (int, np.integer)) or not 2 <= points <= MAX_POINTS:
        raise ValueError(f"points must be an integer in [2, {MAX_POINTS}]; got {points!r}")
    B = validate_batch_size(batch_size)
    if B.ndim:
        raise ValueError(f"batch_size must be a single number in [1, inf); got {batch_size!r}")
    batch_size = float(B)
    t = np.unique(np.geomspace(1, steps - 1, points).round()).astype(np.int64)
    opt = SGD(lr=rates)
    risk = np.asarray(expected_risk(prob, opt, batch_size=batch_size, steps=t))
    plateau = np.asarray(stationary_risk(prob, opt, batch_size=batch_size))

    fig, axes = new_figure(1, width=6.6, height=4.2)
    ax = axes[0, 0]
    cmap = sequential_colormap()
    data: Records = []
    for i, (lr, curve, floor) in enumerate(zip(rates, risk, plateau)):
        color = cmap(i / max(rates.size - 1, 1))
        ax.plot(t, curve, "-", color=color, label=rf"$\alpha={lr:g}$")
        if np.isfinite(floor):
            ax.axhline(floor, color=color, ls=":", lw=1.0)
        data += [dict(series="risk", lr=float(lr), step=int(s), risk=float(r)) for s, r in zip(t, curve)]
        data.append(dict(series="stationary", lr=float(lr), risk=float(floor)))
    ax.plot([], [], ":", color="0.4", lw=1.0, label="stationary risk")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set(xlabel="step $t$", ylabel=r"expected risk $E\,\mathcal{L}(t)$",
           title="The authors' training curves: SGD at fixed learning rates")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), title="learning rate")
    caption = (
        f"The authors' notebook figure 'Training curves' (gd-zhang/noisy-quadratic-model, nqm.ipynb) — exact expected risk of "
        f"SGD at fixed learning rates {', '.join(f'{lr:g}' for lr in rates)} against the step t ({prob.name}"
        f"{'; h_i = 1/i, C = H, theta(0) ~ N(0, I) as in the notebook' if problem is None else ''}), "
        f"batch size B = {batch_size:g}, at {t.size} log-spaced steps from 1 "
        f"to {steps - 1:,} (E L(0) = {prob.initial_risk:.4g}); log–log axes, where the notebook plots linear ones. Dotted, "
        "same colour: each rate's stationary risk. A larger learning rate converges faster but to a higher stationary risk "
        "(Section 3.1, eq. 4)."
    )
    return FigureResult("training_curves", fig, data, caption, problem=prob.name)
