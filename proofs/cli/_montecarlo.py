r"""The ``nqm montecarlo`` command: simulated loss against the exact engine, step by step.

Runs :func:`nqm.numerics.monte_carlo` (the actual stochastic updates) and compares the mean
loss over runs with the exact expected risk :func:`nqm.numerics.expected_risk`. The standard
error of the mean is exact too: :math:`\sqrt{\mathrm{Var}\,\mathcal L(t)/R}` with
:math:`\mathrm{Var}` from :func:`nqm.numerics.risk_variance` on the simulated problem and
:math:`R` runs, so :math:`z(t) = (\bar{\mathcal L}(t) - \mathrm{E}\,\mathcal L(t))/\mathrm{se}(t)`
is approximately standard normal when the simulation and the moments agree.

``--simulate`` has the choices and the default of ``monte_carlo(simulate=...)``: ``auto`` (the
default) is ``per-coordinate`` on the paper's problem, binned or not (its weights are coordinate
counts): every coordinate of the model, 10^4 of them; ``per-bin`` simulates one coordinate per
bin carrying the bin's weight (84 coordinates for the binned problem, one per non-empty bin; about a
tenth of the time).
Both have exactly the problem's expected risk; the variance of one run differs
(:math:`2\sum_i w_i^2\rho_i^2/m_i` with :math:`m_i` simulated coordinates in bin i of weight
:math:`w_i`), and the standard error above is the exact one of the simulation that ran, so the z
test keeps its false-alarm rate for either; the output says which one ran. The verdict uses a
two-sided 1% false-alarm rate with a Bonferroni correction over the reported steps (conservative,
since the steps are positively correlated).
"""

from __future__ import annotations

from typing import Any

import click

from .._limits import MAX_MONTE_CARLO_WORK
from ._common import CONTEXT_SETTINGS, call, force_option, quiet_option, spec_file_option
from ._values import (
    HYPERPARAMETER,
    STEPS,
    TABLE_OUTPUT,
    cache_dir_option,
    distinct_names,
    no_cache_option,
    optimizers_option,
    precond_powers_option,
    problem_option,
    workers_option,
)

__all__ = ["montecarlo"]


@click.command("montecarlo", context_settings=CONTEXT_SETTINGS, epilog="""\b
Steps: T reports step T only (Python: steps=[T]); a:T:k reports every k-th step from a to T (and T).

\b
Examples:
  nqm montecarlo --optimizer momentum --hp lr=0.01 --hp beta=0.9 --batch-size 64 --steps 0:1000:50 --runs 1000
  nqm montecarlo --optimizer sgd --hp lr=0.5 --batch-size 256 --steps 0:200:20 --output mc.csv
""")
@optimizers_option(None)
@click.option("--hp", "hyper", type=HYPERPARAMETER, multiple=True, callback=distinct_names, metavar="NAME=VALUE",
              help="A hyperparameter of the optimizer, e.g. lr=0.1 (repeatable; every one is needed).")
@precond_powers_option(multiple=False)
@click.option("--batch-size", type=click.FloatRange(min=1), required=True, help="The batch size B (>= 1).")
@click.option("--steps", "steps", type=STEPS, default="0:1000:100", show_default=True, help="Steps reported (syntax below).")
@click.option("--runs", type=click.IntRange(min=2), default=100, show_default=True, help=f"Independent simulated runs (runs x simulated coordinates x (steps + 1) at most {MAX_MONTE_CARLO_WORK:.0e}).")
@click.option("--simulate", type=click.Choice(["auto", "per-coordinate", "per-bin"]), default="auto", show_default=True,
              help="per-coordinate: every coordinate of the model; per-bin: one weighted coordinate per bin (same "
                   "expected risk, less work, a larger variance of one run; the exact standard error is that of the "
                   "one that ran); auto: per-coordinate where the weights are counts (the paper's problem), as in Python.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed (results are reproducible).")
@problem_option
@workers_option
@cache_dir_option
@no_cache_option
@click.option("--output", "-o", type=TABLE_OUTPUT, default=None,
              help="Write the per-step table to FILE.csv or FILE.json.")
@force_option
@quiet_option
@spec_file_option
def montecarlo(**options: Any) -> None:
    """Monte-Carlo mean loss +- standard error against the exact expected risk, per step.

    Simulates RUNS independent runs of the optimizer's stochastic updates on the paper's problem
    (Gaussian start and gradient noise of variance c/B) and compares the mean loss with the exact
    engine; z = (MC mean - exact) / exact standard error of the mean.
    """
    call("nqm.proofs.cli._montecarlo_run:montecarlo", **options)
