r"""The ``nqm montecarlo`` command: simulated loss against the exact engine, step by step.

Runs :func:`nqm.numerics.monte_carlo` (the actual stochastic updates) and compares the mean
loss over runs with the exact expected risk :func:`nqm.numerics.expected_risk`. The standard
error of the mean is exact too: :math:`\sqrt{\mathrm{Var}\,\mathcal L(t)/R}` with
:math:`\mathrm{Var}` from :func:`nqm.numerics.risk_variance` on the simulated problem and
:math:`R` runs, so :math:`z(t) = (\bar{\mathcal L}(t) - \mathrm{E}\,\mathcal L(t))/\mathrm{se}(t)`
is approximately standard normal when the simulation and the moments agree.

``--simulate per-bin`` (the default) simulates one coordinate per bin carrying the bin's weight
(``monte_carlo(coordinates="scaled")``: 100 coordinates for the paper's binned problem),
``per-coordinate`` every coordinate of every bin (``"multiplicity"``: 10^4, about 100 times the
work). Both have exactly the problem's expected risk; the variance of one run differs
(:math:`2\sum_i\rho_i^2/m_i` with :math:`m_i` simulated coordinates in bin i), and the standard
error above is the exact one of the simulation that ran, so the z test keeps its false-alarm rate
for either; the output says which one ran. The verdict uses a
two-sided 1% false-alarm rate with a Bonferroni correction over the reported steps (conservative,
since the steps are positively correlated).
"""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from ._common import CONTEXT_SETTINGS, force_option, progress_wrapper, quiet_option, refuse_overwrite, spec_file_option
from ._values import (
    HYPERPARAMETER,
    distinct_names,
    STEPS,
    TABLE_OUTPUT,
    cache_dir_option,
    console_for_tables,
    executor,
    no_cache_option,
    one_optimizer,
    optimizers_option,
    paper_problem,
    precond_powers_option,
    problem_option,
    result_cache,
    workers_option,
    write_records,
)
from .._limits import MAX_MONTE_CARLO_WORK

__all__ = ["montecarlo"]

#: two-sided false-alarm rate of the agreement verdict (over all reported steps together)
FALSE_ALARM = 0.01


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
@click.option("--simulate", type=click.Choice(["per-bin", "per-coordinate"]), default="per-bin", show_default=True,
              help="per-bin: one weighted coordinate per bin; per-coordinate: every coordinate of every bin (same "
                   "expected risk, larger work; the exact standard error is that of the one that ran).")
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
def montecarlo(optimizer: str, hyper: tuple[tuple[str, float], ...], precond_power: float, batch_size: float,
               steps: np.ndarray, runs: int, simulate: str, seed: int, unbinned: bool, workers: int | None, cache_dir: Path | None,
               no_cache: bool, output: Path | None, force: bool, quiet: bool) -> None:
    """Monte-Carlo mean loss +- standard error against the exact expected risk, per step.

    Simulates RUNS independent runs of the optimizer's stochastic updates on the paper's problem
    (Gaussian start and gradient noise of variance c/B) and compares the mean loss with the exact
    engine; z = (MC mean - exact) / exact standard error of the mean.
    """
    from scipy.stats import norm

    from nqm.numerics import Optimizer, expected_risk, monte_carlo, risk_variance

    name = one_optimizer(None, optimizer)
    B = batch_size
    refuse_overwrite([output], force)
    problem = paper_problem(unbinned)
    opt = Optimizer(name, precond_power=precond_power, **dict(hyper))
    with executor(workers) as pool:
        result = monte_carlo(problem, opt, batch_size=B, steps=int(steps[-1]), runs=runs, seed=seed, executor=pool,
                             coordinates="scaled" if simulate == "per-bin" else "multiplicity",
                             cache=result_cache(cache_dir, no_cache), progress=progress_wrapper("simulating", quiet))
    exact = expected_risk(problem, opt, batch_size=B, steps=steps)
    se = np.sqrt(risk_variance(result.simulated_problem, opt, batch_size=B, steps=steps) / runs)
    mean, mc_se = result.mean[steps], result.stderr[steps]
    diverged = ~np.isfinite(exact)  # the exact risk is inf: the setting diverges
    with np.errstate(divide="ignore", invalid="ignore"):
        comparable = np.isfinite(mean) & ~diverged & (se > 0)
        z = np.where(comparable, (mean - exact) / se, np.where(mean == exact, 0.0, np.inf))
    # where both diverge there is nothing to compare (z undefined); one diverging alone is a disagreement
    both_diverged = diverged & ~np.isfinite(mean)
    threshold = float(norm.isf(FALSE_ALARM / (2 * steps.size)))
    records = [
        {"step": int(t), "mc_mean": float(m), "mc_stderr": float(s), "exact": float(e), "exact_stderr": float(x),
         "z": None if both else float(zz)}
        for t, m, s, e, x, zz, both in zip(steps, mean, mc_se, exact, se, z, both_diverged)
    ]
    from rich.table import Table

    setting = ", ".join(f"{k} = {v:g}" for k, v in hyper)
    console = console_for_tables()
    simulated = (f"{simulate}: {int(result.coordinates.sum()):,} simulated coordinates"
                 + (" (one per bin, weighted)" if simulate == "per-bin" else ""))
    console.print(f"{name} ({setting}), p = {precond_power:g}, B = {B:g}, {runs} runs, seed {seed}, on {problem.name}; "
                  f"{simulated}", highlight=False)
    table = Table()
    for col in ("step", "MC mean", "± stderr", "exact", "exact stderr", "z"):
        table.add_column(col, justify="right")
    for rec in records:
        table.add_row(str(rec["step"]), f"{rec['mc_mean']:.6g}", f"{rec['mc_stderr']:.3g}", f"{rec['exact']:.6g}",
                      f"{rec['exact_stderr']:.3g}", "-" if rec["z"] is None else f"{rec['z']:+.2f}")
    console.print(table)
    checked = np.abs(z[~both_diverged])
    worst = float(np.max(checked)) if checked.size else 0.0
    verdict = "agree" if worst <= threshold else "DISAGREE"
    if diverged.any():
        console.print(f"the setting diverges: the exact risk is inf from step {int(steps[np.argmax(diverged)])} on"
                      + ("; so does Monte Carlo" if np.array_equal(both_diverged, diverged) else ""), highlight=False)
    console.print(f"max |z| = {worst:.2f} over the steps with a finite exact risk; {verdict} at a {FALSE_ALARM:g} "
                  f"false-alarm rate (Bonferroni over {steps.size} steps: |z| <= {threshold:.2f})", highlight=False)
    if output is not None:
        meta = {"optimizer": name, "hyperparameters": dict(hyper), "precond_power": precond_power, "batch_size": B,
                "runs": runs, "seed": seed, "problem": problem.name, "simulate": simulate,
                "simulated_coordinates": int(result.coordinates.sum()), "max_abs_z": worst, "z_threshold": threshold,
                "verdict": verdict}
        write_records(output, records, meta)
        click.echo(f"wrote {output}", err=True)
