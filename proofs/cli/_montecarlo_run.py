"""The body of ``nqm montecarlo`` (declared in :mod:`._montecarlo`, whose docstring states the comparison)."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np
from rich.table import Table
from scipy.stats import norm

from nqm.numerics import Optimizer, expected_risk, monte_carlo, risk_variance

from ._common import progress_wrapper, refuse_overwrite
from ._runtime import executor, one_optimizer, paper_problem, write_records
from ._values import console_for_tables, result_cache

#: two-sided false-alarm rate of the agreement verdict (over all reported steps together)
FALSE_ALARM = 0.01


def montecarlo(optimizer: str, hyper: tuple[tuple[str, float], ...], precond_power: float, batch_size: float,
               steps: np.ndarray, runs: int, simulate: str, seed: int, unbinned: bool, workers: int | None, cache_dir: Path | None,
               no_cache: bool, output: Path | None, force: bool, quiet: bool) -> None:
    """Monte-Carlo mean loss +- standard error against the exact expected risk, per step.

    Simulates RUNS independent runs of the optimizer's stochastic updates on the paper's problem
    (Gaussian start and gradient noise of variance c/B) and compares the mean loss with the exact
    engine; z = (MC mean - exact) / exact standard error of the mean.
    """
    name = one_optimizer(None, optimizer)
    B = batch_size
    refuse_overwrite([output], force)
    problem = paper_problem(unbinned)
    opt = Optimizer(name, precond_power=precond_power, **dict(hyper))
    with executor(workers) as pool:
        result = monte_carlo(problem, opt, batch_size=B, steps=int(steps[-1]), runs=runs, seed=seed, executor=pool,
                             simulate=simulate,
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
    setting = ", ".join(f"{k} = {v:g}" for k, v in hyper)
    console = console_for_tables()
    simulated = (f"{result.simulate}: {int(result.coordinates.sum()):,} simulated coordinates"
                 + (" (one per bin, weighted)" if result.simulate == "per-bin" else ""))
    bins = int(np.count_nonzero(result.coordinates))
    if result.simulate == "per-coordinate" and bins < result.coordinates.sum():
        simulated += (f" (--simulate per-bin: {bins:,}, the same expected risk, "
                      f"{result.coordinates.sum() / bins:.0f}x less work)")
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
                "runs": runs, "seed": seed, "problem": problem.name, "simulate": result.simulate,
                "simulated_coordinates": int(result.coordinates.sum()), "max_abs_z": worst, "z_threshold": threshold,
                "verdict": verdict}
        write_records(output, records, meta)
        click.echo(f"wrote {output}", err=True)
