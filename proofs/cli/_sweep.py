r"""The ``nqm sweep``, ``nqm critical`` and ``nqm steps`` commands (exact engine, the paper's problem).

``sweep`` tunes each optimizer at every batch size (:func:`nqm.numerics.sweep`, the paper's
grids unless ``--grid``/``--hp``) and prints the steps-vs-B table of Fig. 3a/4 with both
critical batch sizes; ``critical`` prints only those; ``steps`` evaluates one hyperparameter
setting (:func:`nqm.numerics.steps_to_target`, :func:`nqm.numerics.stationary_risk`).

Critical batch size, two definitions (:mod:`nqm.numerics._critical`):

* McCandlish et al. (2018): fit :math:`S = S_{\min} + E_{\min}/B` to the tuned curve,
  :math:`B_{\rm crit} = E_{\min}/S_{\min}`;
* 2x perfect scaling: the first :math:`B` with :math:`S(B)\,B = 2\,S(B_0)\,B_0`
  (interpolated in log-log between rows; ``inf`` if not reached on the rows).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import numpy as np

from ._common import (
    CONTEXT_SETTINGS,
    force_option,
    progress_wrapper,
    quiet_option,
    refuse_overwrite,
    spec_file_option,
    write_output,
)
from ._values import (
    BATCH_SIZES,
    GRID,
    HYPERPARAMETER,
    TABLE_OUTPUT,
    cache_dir_option,
    console_for_tables,
    distinct_names,
    no_cache_option,
    optimizers_option,
    precond_powers_option,
    problem_option,
    result_cache,
    target_option,
    workers_option,
)

if TYPE_CHECKING:
    from nqm.numerics import SweepList

__all__ = ["SweepOptions", "critical", "steps", "sweep"]

MCCANDLISH = "McCandlish: fit S = S_min + E_min/B to the tuned curve, B_crit = E_min/S_min"
PERFECT_2X = "2x perfect scaling: first B with S(B)*B = 2*S(B0)*B0 (log-log interpolation)"

_SYNTAX = """\b
Batch sizes: a:b = a, 2a, 4a, ... up to b (4:1048576 = all powers of two from 2^2 to 2^20);
a:b:r uses ratio r (4:1048576:4 = the paper's 2^2, 2^4, ..., 2^20, the default); or 4,64,1024.
Grid axes: NAME=a:b:n (n log-spaced points), NAME=lin:a:b:n, NAME=1-log:a:b:n (1 - log-spaced,
the paper's momentum grid is beta=1-log:1e-5:1:20), or NAME=v1,v2,...; unset hyperparameters
use the paper's grids (lr log-spaced, beta/gamma 1 - log-spaced), or fix them with --hp NAME=VALUE.
"""


def _fmt(value: float, digits: int = 4) -> str:
    if isinstance(value, float) and math.isinf(value):
        return "∞"
    if isinstance(value, float) and math.isnan(value):
        return "-"
    return f"{value:.{digits}g}"


def _steps_text(value: float) -> str:
    return "∞" if math.isinf(value) else f"{int(value):d}"


def _sweep_options(func: Any) -> Any:
    for decorator in reversed([
        optimizers_option(("momentum",)),
        precond_powers_option(),
        click.option("--batch-sizes", type=BATCH_SIZES, default="4:1048576:4", show_default=True,
                     help="Batch sizes (syntax below)."),
        target_option,
        click.option("--grid", "grids", type=GRID, multiple=True, callback=distinct_names, help="A hyperparameter's grid axis, e.g. lr=1e-8:10:100 (repeatable)."),
        click.option("--hp", "fixed", type=HYPERPARAMETER, multiple=True, callback=distinct_names, help="Fix a hyperparameter, e.g. beta=0.9 (repeatable)."),
        click.option("--refine", is_flag=True, help="Refine each optimum past the grid (edge extension and local zoom)."),
        problem_option,
        workers_option,
        cache_dir_option,
        no_cache_option,
        quiet_option,
        spec_file_option,
    ]):
        func = decorator(func)
    return func


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
        from ._runtime import optimizer_names

        names = optimizer_names(self.optimizers)
        return [dict(optimizer=name, precond_power=p) for name in names for p in dict.fromkeys(self.precond_powers)]

    def common(self) -> dict[str, Any]:
        """The arguments of :func:`nqm.numerics.sweeps` shared by every config."""
        return dict(batch_sizes=self.batch_sizes, target=self.target, grid=dict(self.grids), refine=self.refine, **dict(self.fixed))


def _run_sweeps(options: SweepOptions) -> SweepList:
    """One :class:`~nqm.numerics.Sweep` per (optimizer, p), all tasks on one executor; unless ``quiet``,
    first one line per run on standard error with the size of its job."""
    from nqm.numerics import sweep_jobs, sweeps  # not at import: the command's help stays light

    from ._runtime import executor, paper_problem

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


def _critical_rows(result: Any) -> dict[str, Any]:
    crit = result.critical_batch_sizes()
    fit = crit.mccandlish
    return {
        "optimizer": result.optimizer,
        "precond_power": result.precond_power,
        "B_crit_mccandlish": math.nan if fit is None else fit.B_crit,
        "S_min": math.nan if fit is None else fit.S_min,
        "E_min": math.nan if fit is None else fit.E_min,
        "fit_rms_relative_error": math.nan if fit is None else fit.rms_relative_error,
        "B_crit_perfect_scaling_2x": crit.perfect_scaling_2x,
        "reason": crit.reason,
    }


def _print_critical(console: Any, results: Sequence[Any]) -> None:
    from rich.table import Table

    console.print("critical batch sizes" + (f" on {results[0].problem}" if results else ""), highlight=False)
    table = Table()
    for col in ("optimizer", "p", "B_crit (McCandlish)", "S_min", "E_min", "fit rms rel. err.", "B_crit (2x perfect scaling)"):
        table.add_column(col, justify="left" if col == "optimizer" else "right")
    for r in results:
        row = _critical_rows(r)
        table.add_row(row["optimizer"], _fmt(row["precond_power"], 3), _fmt(row["B_crit_mccandlish"]), _fmt(row["S_min"]),
                      _fmt(row["E_min"]), _fmt(row["fit_rms_relative_error"], 2), _fmt(row["B_crit_perfect_scaling_2x"]))
    console.print(table)
    for r in results:  # why a value is not a finite batch size
        reason = _critical_rows(r)["reason"]
        if reason:
            console.print(f"  {r.optimizer}, p = {_fmt(r.precond_power, 3)}: {reason}", highlight=False)
    console.print(f"  {MCCANDLISH}\n  {PERFECT_2X}", highlight=False)


def _print_sweep(console: Any, result: Any) -> None:
    from rich.table import Table

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


@click.command("sweep", context_settings=CONTEXT_SETTINGS, short_help="Tuned steps to target against batch size (Fig. 3a), with critical batch sizes.", epilog=_SYNTAX + """\b
Examples:
  nqm sweep --optimizer momentum --precond-power 0.5 --batch-sizes 4:1048576 --target 0.01
  nqm sweep --optimizer sgd,momentum --precond-power 0 --precond-power 0.5 --output fig4.csv
  nqm sweep --optimizer momentum --grid lr=1e-4:1:40 --hp beta=0.9 --batch-sizes 16,256,4096
""")
@_sweep_options
@click.option("--output", "-o", type=TABLE_OUTPUT, default=None,
              help="Write the rows to FILE.csv or FILE.json (JSON adds the grids and critical batch sizes).")
@force_option
def sweep(output: Path | None, force: bool, **options: Any) -> None:
    """Tuned steps to target against batch size (Fig. 3a, 4), exact, on the paper's problem.

    At every batch size each hyperparameter grid point's exact steps to the target are found and
    the fewest kept; prints per optimizer and p the table (B, steps, tuned hyperparameters,
    effective learning rate, information-theoretic bound tr(H^-1 C)/(2 target B)) and both
    critical batch sizes.
    """

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


@click.command("critical", context_settings=CONTEXT_SETTINGS, epilog=_SYNTAX + """\b
Examples:
  nqm critical --optimizer sgd,momentum --precond-power 0 --precond-power 0.5
  nqm critical --optimizer momentum --batch-sizes 4:1048576 --output crit.json
""")
@_sweep_options
@click.option("--output", "-o", type=TABLE_OUTPUT, default=None,
              help="Write the critical batch sizes to FILE.csv or FILE.json.")
@force_option
def critical(output: Path | None, force: bool, **options: Any) -> None:
    """Critical batch sizes of the tuned steps-vs-B curve, by both definitions.

    McCandlish et al. (2018): fit S = S_min + E_min/B to the tuned curve; B_crit = E_min/S_min.
    Perfect-scaling breakdown: the first B at which the steps are twice the perfect-scaling
    extrapolation S(B0) B0 / B from the smallest batch size (interpolated between rows).
    """
    from ._runtime import write_records

    refuse_overwrite([output], force)
    chosen = SweepOptions(**options)
    results = _run_sweeps(chosen)
    _print_critical(console_for_tables(), results)
    if output is not None:
        meta = {"problem": results[0].problem if results else None, "target": chosen.target,
                "batch_sizes": chosen.batch_sizes.tolist(),
                "definitions": {"mccandlish": MCCANDLISH, "perfect_scaling_2x": PERFECT_2X}}
        write_records(output, [_critical_rows(r) for r in results], meta)
        click.echo(f"wrote {output}", err=True)


@click.command("steps", context_settings=CONTEXT_SETTINGS, epilog="""\b
Batch sizes: a:b = a, 2a, 4a, ... up to b; a:b:r uses ratio r; or a comma list 4,64,1024.

\b
Examples:
  nqm steps --optimizer momentum --hp lr=0.1 --hp beta=0.9 --batch-size 64 --target 0.01
  nqm steps --optimizer sgd --hp lr=0.5 --precond-power 0.5 --batch-size 4:4096
""")
@optimizers_option(None)
@click.option("--hp", "hyper", type=HYPERPARAMETER, multiple=True, callback=distinct_names, metavar="NAME=VALUE",
              help="A hyperparameter of the optimizer, e.g. lr=0.1 (repeatable; every one is needed).")
@precond_powers_option(multiple=False)
@click.option("--batch-size", "batch_sizes", type=BATCH_SIZES, required=True, help="Batch size(s) (syntax below).")
@target_option
@problem_option
@click.option("--output", "-o", type=TABLE_OUTPUT, default=None,
              help="Write the table to FILE.csv or FILE.json.")
@force_option
@spec_file_option
def steps(optimizer: str, hyper: tuple[tuple[str, float], ...], precond_power: float, batch_sizes: np.ndarray, target: float,
          unbinned: bool, output: Path | None, force: bool) -> None:
    """Exact steps to the target, and the stationary risk, for one hyperparameter setting.

    The first step t with expected risk E L(t) <= target (exact even for oscillating curves;
    'never' if the stationary risk is above the target or the setting diverges).
    """
    from nqm.numerics import Optimizer, stationary_risk, steps_to_target

    from ._runtime import one_optimizer, paper_problem, write_records

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
    from rich.table import Table

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
