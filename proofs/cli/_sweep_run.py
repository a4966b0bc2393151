"""The bodies of ``nqm sweep``, ``nqm critical`` and ``nqm steps`` (declared in :mod:`._sweep`)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import numpy as np
from rich.table import Table

from nqm.numerics import CriticalBatchSizes, Optimizer, SweepList, stationary_risk, steps_to_target, sweep_jobs, sweeps

from ._common import progress_wrapper, refuse_overwrite, write_output
from ._runtime import executor, one_optimizer, optimizer_names, paper_problem, write_records
from ._values import console_for_tables, result_cache

__all__ = ["SweepOptions", "critical", "steps", "sweep"]

MCCANDLISH = "McCandlish: fit S = S_min + E_min/B to the tuned curve, B_crit = E_min/S_min"
PERFECT_2X = "2x perfect scaling: first B with S(B)*B = 2*S(B0)*B0 (log-log interpolation)"

def _fmt(value: float, digits: int = 4) -> str:
    if isinstance(value, float) and math.isinf(value):
        return "∞"
    if isinstance(value, float) and math.isnan(value):
        return "-"
    return f"{value:.{digits}g}"


def _steps_text(value: float) -> str:
    return "∞" if math.isinf(value) else f"{int(value):d}"


@dataclass(frozen=True)
class SweepOptions:
    """The options of ``nqm sweep`` and ``nqm critical`` (:func:`_sweep_options`), one field each."""

    optimizers: tuple[str, ...]
    precond_powers: tuple[float, ...]
    batch_sizes: np.ndarray
    target: float
    grids: tuple[tuple[str, np.ndarray], ...]
    fixed: tuple[tuple[str, float], ...]
    refine: bool
    unbinned: bool
    workers: int | None
    cache_dir: Path | None
    no_cache: bool
    quiet: bool

    def configs(self) -> list[dict[str, Any]]:
        """One config of :func:`nqm.numerics.sweeps` per (optimizer, p), optimizer-major (names checked; fails in one line)."""
        names = optimizer_names(self.optimizers)
        return [dict(optimizer=name, precond_power=p) for name in names for p in dict.fromkeys(self.precond_powers)]

    def common(self) -> dict[str, Any]:
        """The arguments of :func:`nqm.numerics.sweeps` shared by every config."""
        return dict(batch_sizes=self.batch_sizes, target=self.target, grid=dict(self.grids), refine=self.refine, **dict(self.fixed))


def _run_sweeps(options: SweepOptions) -> SweepList:
    """One :class:`~nqm.numerics.Sweep` per (optimizer, p), all tasks on one executor; unless ``quiet``,
    first one line per run on standard error with the size of its job."""
    configs, common = options.configs(), options.common()
    problem = paper_problem(options.unbinned)
    jobs = sweep_jobs(problem, configs, **common)  # bad input fails here, before any output
    with executor(options.workers) as pool:
        for job in jobs:
            if not options.quiet:
                click.echo(f"{job.optimizer}, p = {job.precond_power:g}: {job.grid_points:,} grid points x "
                           f"{job.batch_sizes} batch sizes x {job.bins} bins = {job.searches:,.0f} searches "
                           f"in {job.tasks} task{'s' * (job.tasks != 1)}", err=True)
        return sweeps(problem, configs, executor=pool, cache=result_cache(options.cache_dir, options.no_cache),
                      progress=progress_wrapper("sweeping", options.quiet), **common)


#: the console's columns of SweepList.critical_records() (headed by their names, as in the CSV and JSON), with digits
_CRITICAL_SHOWN = {"S_min": 4, "E_min": 4, CriticalBatchSizes.DEFINITIONS[0]: 4, "rms_relative_error": 2,
                   CriticalBatchSizes.DEFINITIONS[1]: 4}


def _print_critical(console: Any, results: SweepList) -> None:
    console.print("critical batch sizes" + (f" on {results[0].problem}" if results else ""), highlight=False)
    table = Table()
    for col in ("optimizer", "p", *_CRITICAL_SHOWN):
        table.add_column(col, justify="left" if col == "optimizer" else "right")
    rows = results.critical_records()
    for row in rows:
        table.add_row(row["optimizer"], _fmt(row["precond_power"], 3), *(_fmt(row[k], d) for k, d in _CRITICAL_SHOWN.items()))
    console.print(table)
    for row in rows:  # why a value is not a finite batch size
        if row["reason"]:
            console.print(f"  {row['optimizer']}, p = {_fmt(row['precond_power'], 3)}: {row['reason']}", highlight=False)
    console.print(f"  {MCCANDLISH}\n  {PERFECT_2X}", highlight=False)


def _print_sweep(console: Any, result: Any) -> None:
    names = list(dict.fromkeys(k for row in result.rows for k in row.hyperparameters))
    console.print(f"{result.optimizer}, p = {result.precond_power:g}, target {result.target:g} on {result.problem}",
                  highlight=False)
    table = Table()
    for col in ("B", "steps", *names, "effective lr", "info bound", "at edge"):
        table.add_column(col, justify="left" if col == "at edge" else "right")
    for row in result.rows:
        table.add_row(_fmt(row.batch_size, 8), _steps_text(row.steps), *(_fmt(row.hyperparameters.get(n, math.nan), 6) for n in names),
                      _fmt(row.effective_lr), _fmt(row.information_bound), " ".join(row.at_edge) + (" (refined)" if row.refined else ""))
    console.print(table)


def sweep(output: Path | None, force: bool, **options: Any) -> None:
    """The body of ``nqm sweep`` (its help: :func:`._sweep.sweep`)."""
    refuse_overwrite([output], force)
    results = _run_sweeps(SweepOptions(**options))
    console = console_for_tables()
    for result in results:
        _print_sweep(console, result)
    _print_critical(console, results)
    if output is not None:
        if output.suffix.lower() == ".json":  # every sweep's document (Sweep.to_json), under "sweeps"
            write_output(output, json.dumps({"sweeps": [result.to_dict() for result in results]}, indent=2) + "\n")
        else:
            write_output(output, results.to_csv())
        click.echo(f"wrote {output}", err=True)



def critical(output: Path | None, force: bool, **options: Any) -> None:
    """The body of ``nqm critical`` (its help: :func:`._sweep.critical`)."""
    refuse_overwrite([output], force)
    chosen = SweepOptions(**options)
    results = _run_sweeps(chosen)
    _print_critical(console_for_tables(), results)
    if output is not None:
        meta = {"problem": results[0].problem if results else None, "target": chosen.target,
                "batch_sizes": chosen.batch_sizes.tolist(),
                "definitions": dict(zip(CriticalBatchSizes.DEFINITIONS, (MCCANDLISH, PERFECT_2X), strict=True))}
        write_records(output, results.critical_records(), meta)
        click.echo(f"wrote {output}", err=True)



def steps(optimizer: str, hyper: tuple[tuple[str, float], ...], precond_power: float, batch_sizes: np.ndarray, target: float,
          unbinned: bool, output: Path | None, force: bool) -> None:
    """The body of ``nqm steps`` (its help: :func:`._sweep.steps`)."""
    name = one_optimizer(None, optimizer)
    refuse_overwrite([output], force)
    problem = paper_problem(unbinned)
    opt = Optimizer(name, precond_power=precond_power, **dict(hyper))
    records = []
    for B in batch_sizes:
        records.append({
            "optimizer": name, "precond_power": precond_power, **dict(hyper), "batch_size": float(B), "target": target,
            "steps": float(steps_to_target(problem, opt, batch_size=B, target=target)),
            "stationary_risk": float(stationary_risk(problem, opt, batch_size=B)),
            "information_bound": float(problem.information_bound(target, B)),
        })
    setting = ", ".join(f"{k} = {v:g}" for k, v in hyper)
    console = console_for_tables()
    console.print(f"{name} ({setting}), p = {precond_power:g}, target {target:g} on {problem.name}", highlight=False)
    table = Table()
    for col in ("B", "steps", "stationary risk", "info bound"):
        table.add_column(col, justify="right")
    for rec in records:
        table.add_row(_fmt(rec["batch_size"], 8), "never" if math.isinf(rec["steps"]) else _steps_text(rec["steps"]),
                      _fmt(rec["stationary_risk"]), _fmt(rec["information_bound"]))
    console.print(table)
    if output is not None:
        write_records(output, records, {"problem": problem.name})
        click.echo(f"wrote {output}", err=True)
