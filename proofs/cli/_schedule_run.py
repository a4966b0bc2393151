"""The bodies of ``nqm schedule risk``, ``optimal`` and ``tune`` (declared in :mod:`._schedule`).

A ``--schedule`` is resolved here against a whitelist, through the public API of
:mod:`nqm.numerics.schedules`: with keys, the preset must be one of its public functions that make
a Schedule (:func:`preset_functions`), every key a parameter of that function
(:func:`inspect.signature`), every value a number, numbers (a list), or a word for a parameter
annotated ``str`` (passed as a string, which the preset checks) or ``bool`` (true/false); without
keys, any preset name :func:`~nqm.numerics.schedules.as_schedule` knows. Nothing the user wrote
is evaluated or looked up anywhere else.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import click
import numpy as np
from rich.table import Table

from nqm.numerics import (
    PRESET_FAMILIES,
    Optimizer,
    optimal_schedule,
    optimize_schedule,
    scheduled_risk,
    scheduled_steps_to_target,
    tune_preset,
)
from nqm.numerics import schedules as sched
from nqm.numerics import tune as tune_constant
from nqm.theory import get_spec

from ._common import fail, refuse_overwrite, write_output
from ._runtime import one_optimizer, paper_problem, write_records
from ._schedule import ScheduleArg
from ._values import console_for_tables

__all__ = ["MAX_REPORTED_STEPS", "examples_at", "hyperparameter_names", "optimal", "preset_functions",
           "resolve_schedules", "risk", "tune"]

#: most steps ``nqm schedule risk`` reports (rows of its table)
MAX_REPORTED_STEPS = 10_000
#: rows ``--at`` reports by default: every T/10 steps
_DEFAULT_ROWS = 10


#: public functions of :mod:`nqm.numerics.schedules` that return a Schedule but are no preset
_NOT_PRESETS = ("as_schedule",)  # it converts the other forms


def preset_functions() -> dict[str, Callable[..., sched.Schedule]]:
    """The public functions of :mod:`nqm.numerics.schedules` that make a :class:`~nqm.numerics.schedules.Schedule`
    (the presets, and the forms ``constant``, ``piecewise`` and ``per_step``), by name: what a schedule
    with keys may name. Each one's first parameter is its scale."""
    out = {}
    for name in sched.__all__:
        fn = getattr(sched, name)
        if (inspect.isfunction(fn) and name not in _NOT_PRESETS
                and inspect.signature(fn).return_annotation in ("Schedule", sched.Schedule)):
            out[name] = fn
    return out


def _key_value(arg: ScheduleArg, param: inspect.Parameter, value: float | tuple[float, ...] | str) -> Any:
    """A key's value for the preset's parameter ``param``: numbers as given (several as a list); a word only
    for a parameter annotated ``str`` (passed as the string, which the preset checks) or ``bool``
    (``true``/``false``)."""
    if not isinstance(value, str):
        return list(value) if isinstance(value, tuple) else value
    annotation = str(param.annotation)
    if "bool" in annotation and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if "str" in annotation:
        return value
    fail(f"--schedule {arg.text()}: {param.name} must be a number" + (" or true/false" if "bool" in annotation else "")
         + f"; got {value!r}")


def _preset(arg: ScheduleArg, scale: float | None) -> sched.Schedule:
    """The schedule ``arg`` names: a preset function with its keys (its first parameter ``scale``
    unless a key gives it), or, without keys, any preset name of :func:`~nqm.numerics.schedules.as_schedule`
    scaled by ``scale``."""
    functions = preset_functions()
    what = "--batch-size B" if arg.name == sched.BATCH_SIZE else f"--hp {arg.name}=VALUE"
    fn = functions.get(arg.preset or "")
    if fn is None:
        if arg.keys:
            fail(f"--schedule {arg.text()}: keys go with a preset function: {', '.join(sorted(functions))}")
        if scale is None:
            fail(f"--schedule {arg.text()}: the preset needs its scale: give {what}")
        return sched.as_schedule(arg.preset, name=f"--schedule {arg.text()}", base=scale)
    params = {p.name: p for p in inspect.signature(fn).parameters.values()
              if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    kwargs: dict[str, Any] = {}
    for key, value in arg.keys:
        if key not in params:
            fail(f"--schedule {arg.text()}: {arg.preset} has no key {key!r}; keys: {', '.join(params)}")
        kwargs[key] = _key_value(arg, params[key], value)
    first = next(iter(params))
    if first not in kwargs:
        if scale is None:
            fail(f"--schedule {arg.text()}: the preset needs its scale: give {what} or {arg.preset}:{first}=VALUE")
        kwargs[first] = scale
    try:
        inspect.signature(fn).bind(**kwargs)
        return fn(**kwargs)
    except (TypeError, ValueError) as exc:  # a missing key, a list where one number is taken, a value out of range
        fail(f"--schedule {arg.text()}: {exc}")


def _first_value(schedule: sched.Schedule, horizon: int) -> float:
    """The value of ``schedule`` at step 0 over ``horizon`` steps (from its pieces when it has them)."""
    pieces = schedule.pieces(horizon)
    return float(pieces[0][0] if pieces is not None else schedule.values(horizon)[0])


def resolve_schedules(args: Sequence[ScheduleArg], names: Sequence[str], hyper: Mapping[str, float],
                      batch_size: float | None, horizon: int
                      ) -> tuple[dict[str, float], float | None, dict[str, sched.Schedule]]:
    """``(values, batch_size, schedules)`` from the ``--hp``, ``--batch-size`` and ``--schedule`` options.

    ``NAME=NUMBER`` is a constant: the hyperparameter's value (or the constant batch size), not a
    schedule. A preset is made by :func:`_preset`, its scale the quantity's ``--hp`` value
    (``--batch-size`` for the batch size) unless a key gives it; a scheduled hyperparameter's
    value in ``values`` only completes the optimizer (its ``--hp`` value, else the schedule's
    first value over ``horizon`` steps; the engine uses the schedule), and a scheduled batch
    size makes ``batch_size`` ``None`` (the engine takes one or the other). Giving a quantity a
    constant twice fails in one line, so does a quantity not in ``names`` (the spec's
    hyperparameters) nor the batch size."""
    values = dict(hyper)
    constant_b = batch_size
    out: dict[str, sched.Schedule] = {}
    for arg in args:
        if arg.name not in (*names, sched.BATCH_SIZE):
            fail(f"--schedule {arg.text()}: {arg.name!r} is not a hyperparameter that can vary; schedule one of "
                 f"{', '.join((*names, sched.BATCH_SIZE))}")
        is_batch = arg.name == sched.BATCH_SIZE
        given = batch_size if is_batch else hyper.get(arg.name)
        if arg.number is not None:
            if given is not None:
                fail(f"--schedule {arg.text()} and {'--batch-size' if is_batch else '--hp ' + arg.name} both give "
                     f"{arg.name} a constant; give one")
            if is_batch:
                constant_b = arg.number
            else:
                values[arg.name] = arg.number
            continue
        out[arg.name] = _preset(arg, given)
        if is_batch:
            constant_b = None
        elif arg.name not in values:
            values[arg.name] = _first_value(out[arg.name], horizon)
    if constant_b is None and sched.BATCH_SIZE not in out:
        fail("give the batch size: --batch-size B or --schedule batch_size=...")
    return values, constant_b, out


def examples_at(batch: sched.Schedule | float | None, horizon: int, steps: np.ndarray) -> np.ndarray:
    r"""The examples used before each of ``steps``, :math:`E(t) = \sum_{s<t} B_s` (a constant ``batch``
    B gives :math:`Bt`), from the constant segments of the batch size (no per-step array for
    piecewise-constant schedules)."""
    if batch is None:
        raise ValueError("examples_at needs the batch size: a schedule or a number")
    if not isinstance(batch, sched.Schedule):
        return float(batch) * steps.astype(float)
    seg = sched.segments({sched.BATCH_SIZE: batch}, horizon)
    starts, B = seg.starts, seg.values[sched.BATCH_SIZE]
    before = np.concatenate([[0.0], np.cumsum(B * seg.lengths)])  # examples before each segment's start
    k = np.searchsorted(starts, steps, side="right") - 1
    return before[k] + B[k] * (steps - starts[k])


def _reported_steps(at: np.ndarray | None, horizon: int) -> np.ndarray:
    if at is None:
        return np.unique(np.linspace(0, horizon, _DEFAULT_ROWS + 1).round().astype(np.int64))
    if at.size > MAX_REPORTED_STEPS:
        fail(f"--at: {at.size:,} steps; at most {MAX_REPORTED_STEPS:,} are reported")
    if at.max() > horizon:
        fail(f"--at: step {int(at.max())} is beyond the horizon --steps {horizon}")
    return at.astype(np.int64)


def hyperparameter_names(name: str) -> tuple[str, ...]:
    """The hyperparameters of the registered optimizer ``name`` (``precond_power`` is not one: it never varies)."""
    return tuple(h.name for h in get_spec(name).hyperparameters)


def _optimizer(name: str, precond_power: float, values: Mapping[str, float]) -> Optimizer:
    return Optimizer(name, precond_power=precond_power, **values)


def _setting(name: str, values: Mapping[str, float], scheduled: Sequence[str]) -> str:
    """``name (k = v, ...)`` with the hyperparameters that stay constant."""
    fixed = ", ".join(f"{k} = {v:g}" for k, v in values.items() if k not in scheduled)
    return f"{name} ({fixed})" if fixed else name


def risk(optimizer: str, hyper: tuple[tuple[str, float], ...], precond_power: float, unbinned: bool,
         schedules: tuple[ScheduleArg, ...], batch_size: float | None, horizon: int, at: np.ndarray | None,
         target: float | None, output: Path | None, force: bool) -> None:
    """The body of ``nqm schedule risk`` (its help: :func:`._schedule.risk`)."""
    name = one_optimizer(None, optimizer)
    refuse_overwrite([output], force)
    steps = _reported_steps(at, horizon)
    values, constant_b, schedule = resolve_schedules(schedules, hyperparameter_names(name), dict(hyper), batch_size,
                                                     horizon)
    opt = _optimizer(name, precond_power, values)
    problem = paper_problem(unbinned)
    curve = scheduled_risk(problem, opt, steps=steps, horizon=horizon, schedule=schedule, batch_size=constant_b)
    examples = examples_at(schedule.get(sched.BATCH_SIZE, constant_b), horizon, steps)
    hit = None if target is None else scheduled_steps_to_target(problem, opt, target=target, horizon=horizon,
                                                                  schedule=schedule, batch_size=constant_b)
    records = [{"step": int(t), "risk": float(r), "examples": float(e)} for t, r, e in zip(steps, curve, examples)]
    console = console_for_tables()
    shown = ", ".join(a.text() for a in schedules) or "none"
    scaled = " (a preset scaled by the value above)" if any(a.preset is not None for a in schedules) else ""
    console.print(f"{_setting(name, values, ())}, p = {precond_power:g}"
                  + (f", B = {batch_size:g}" if batch_size is not None else "")
                  + f"; schedules: {shown}{scaled}; horizon {horizon:,} on {problem.name}", highlight=False)
    table = Table()
    for col in ("step", "risk", "examples"):
        table.add_column(col, justify="right")
    for rec in records:
        table.add_row(f"{rec['step']:d}", f"{rec['risk']:.6g}", f"{rec['examples']:.6g}")
    console.print(table)
    if hit is not None:
        console.print(f"target {target:g}: " + (f"never reached within {horizon:,} steps" if math.isinf(hit.steps) else
                      f"first reached at step {hit.steps:,.0f}, after {hit.examples:,.0f} examples"), highlight=False)
    if output is not None:
        meta = {"optimizer": name, "hyperparameters": values, "precond_power": precond_power,
                "batch_size": constant_b, "schedules": [a.text() for a in schedules], "horizon": horizon,
                "problem": problem.name, "target": target, "steps_to_target": None if hit is None else hit.steps,
                "examples_to_target": None if hit is None else hit.examples}
        write_records(output, records, meta)
        click.echo(f"wrote {output}", err=True)


def _vary(text: str, name: str) -> tuple[str, ...]:
    """The hyperparameters ``--vary`` names, each one of the optimizer ``name``'s (fails in one line otherwise)."""
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        fail(f"--vary: {text!r} names no hyperparameter")
    twice = [n for i, n in enumerate(names) if n in names[:i]]
    if twice:
        fail(f"--vary: {twice[0]!r} given more than once")
    known = hyperparameter_names(name)
    unknown = [n for n in names if n not in known]
    if unknown:
        fail(f"--vary: {unknown[0]!r} is not a hyperparameter of {name}; it has {', '.join(known)}")
    return names


def _varied_optimizer(name: str, precond_power: float, hyper: tuple[tuple[str, float], ...], varied: Sequence[str],
                      total: int | None, target: float | None) -> tuple[dict[str, float], Optimizer]:
    """The optimizer of ``optimal`` and ``tune``: the ``--hp`` values; a varied learning rate (the
    optimiser's to choose) may be left out and is then 1.0, every other hyperparameter is needed
    (varied ones start there). One of ``total`` and ``target`` must be given. Fails in one line."""
    if (total is None) == (target is None):
        fail("give one of --steps T (the lowest risk after T steps) or --target X (the fewest steps to X)")
    values = dict(hyper)
    if "lr" in varied:
        values.setdefault("lr", 1.0)
    missing = [n for n in hyperparameter_names(name) if n not in values]
    if missing:
        fail(f"give --hp {missing[0]}=VALUE: {name} needs every hyperparameter but lr"
             + (" (a varied one starts there)" if missing[0] in varied else ""))
    return values, _optimizer(name, precond_power, values)


def _check_pieces(pieces: int, total: int | None, lowest: int) -> None:
    """Fails in one line if ``--pieces`` exceeds ``--steps``: every piece has at least one step (as
    :func:`~nqm.numerics.optimize_schedule` requires), checked before any work."""
    if total is not None and pieces > total:
        fail(f"--pieces must be from {lowest} to --steps ({total:,}), every piece at least one step; got {pieces}")


def _optimum(problem: Any, opt: Optimizer, batch_size: float, total: int | None, target: float | None,
             pieces: int, vary: tuple[str, ...] = ("lr",)) -> Any:
    """The optimal ``pieces``-piece schedule of the ``vary`` hyperparameters: after ``total`` steps, or the
    fewest steps to ``target``."""
    if total is not None:
        return optimize_schedule(problem, opt, batch_size=batch_size, steps=total, pieces=pieces, vary=vary)
    return optimal_schedule(problem, opt, batch_size=batch_size, target=target, pieces=pieces, vary=vary)


def _goal(total: int | None, target: float | None) -> str:
    return f"the risk after {total:,} steps" if total is not None else f"the fewest steps to risk {target:g}"


def optimal(optimizer: str, hyper: tuple[tuple[str, float], ...], precond_power: float, unbinned: bool, vary: str,
            pieces: int, batch_size: float, total: int | None, target: float | None, output: Path | None,
            force: bool) -> None:
    """The body of ``nqm schedule optimal`` (its help: :func:`._schedule.optimal`)."""
    name = one_optimizer(None, optimizer)
    varied = _vary(vary, name)
    values, opt = _varied_optimizer(name, precond_power, hyper, varied, total, target)
    _check_pieces(pieces, total, 1)
    refuse_overwrite([output], force)
    problem = paper_problem(unbinned)
    result = _optimum(problem, opt, batch_size, total, target, pieces, varied)
    goal = _goal(total, target)
    if total is not None:
        certificate = f"its final risk is never above the best constant {', '.join(varied)}'s at {total:,} steps"
    else:
        certificate = f"its steps are never more than the best constant {', '.join(varied)}'s"
    doc = result.to_dict()
    console = console_for_tables()
    console.print(f"{_setting(name, values, varied)}, p = {precond_power:g}, B = {batch_size:g}, {pieces} pieces "
                  f"varying {', '.join(varied)}, minimising {goal} on {problem.name}", highlight=False)
    rows = doc["pieces"]
    table = Table()
    for col in rows[0] if rows else ():
        table.add_column(col, justify="right")
    for row in rows:
        table.add_row(*(_cell(v) for v in row.values()))
    console.print(table)
    steps = "never (within the searched totals)" if math.isinf(result.steps) else f"{result.steps:,.0f}"
    console.print(f"steps: {steps}; final risk {result.final_risk:.6g}; {result.evaluations} risk-and-gradient "
                  f"evaluations; certified: {certificate}", highlight=False)
    if 0 < result.steps < pieces:
        console.print(f"the fewest steps are below --pieces {pieces}: {len(rows)} pieces of one step "
                      "(nqm.numerics.optimal_schedule leaves out pieces without a step)", highlight=False)
    if output is not None:
        write_output(output, result.to_json() if output.suffix.lower() == ".json" else result.to_csv())
        click.echo(f"wrote {output}", err=True)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.6g}"
    return str(value)


def _preset_names(presets: str | None) -> list[str]:
    """The families ``--preset`` names (default: all of :data:`nqm.numerics.PRESET_FAMILIES`), each checked."""
    if presets is None:
        return list(PRESET_FAMILIES)
    names = list(dict.fromkeys(n.strip() for n in presets.split(",") if n.strip()))
    if not names:
        fail(f"--preset: {presets!r} names no preset family")
    unknown = [n for n in names if n not in PRESET_FAMILIES]
    if unknown:
        fail(f"--preset: no preset family {unknown[0]!r}; families: {', '.join(PRESET_FAMILIES)}")
    return names


def tune(optimizer: str, hyper: tuple[tuple[str, float], ...], precond_power: float, unbinned: bool,
         presets: str | None, pieces: int, batch_size: float, total: int | None, target: float | None,
         output: Path | None, force: bool) -> None:
    """The body of ``nqm schedule tune`` (its help: :func:`._schedule.tune`).

    One row per tuned preset family (:func:`~nqm.numerics.tune_preset`), then the best constant
    learning rate (at a total: the tuned presets' own reference, ``constant_lr``/``constant_risk``;
    for a target: :func:`~nqm.numerics.tune` over the learning rate, the other hyperparameters at
    their ``--hp`` values) and the optimal schedule of ``pieces`` pieces; ``vs_optimum`` is each
    row's final risk (at a total) or steps (for a target) over the optimum's."""
    name = one_optimizer(None, optimizer)
    families = _preset_names(presets)
    values, opt = _varied_optimizer(name, precond_power, hyper, ("lr",), total, target)
    _check_pieces(pieces, total, 0)
    refuse_overwrite([output], force)
    problem = paper_problem(unbinned)
    goal = dict(steps=total) if total is not None else dict(target=target)
    tuned = [tune_preset(problem, opt, family, batch_size=batch_size, **goal) for family in families]
    rows: list[dict[str, Any]] = [
        {"schedule": r.preset, "steps": r.steps, "final_risk": r.final_risk, **r.parameters} for r in tuned
    ]
    if total is not None:
        rows.append({"schedule": "constant", "steps": float(total), "final_risk": tuned[0].constant_risk,
                     "peak": tuned[0].constant_lr})
    else:
        fixed = {k: v for k, v in values.items() if k != "lr"}
        best = tune_constant(problem, name, batch_size=batch_size, target=target, precond_power=precond_power, **fixed)
        rows.append({"schedule": "constant", "steps": float(best.steps), "final_risk": math.nan,
                     "peak": best.hyperparameters.get("lr", math.nan)})
    if pieces:
        best_schedule = _optimum(problem, opt, batch_size, total, target, pieces)
        rows.append({"schedule": f"optimal, {pieces} equal pieces", "steps": best_schedule.steps,
                     "final_risk": best_schedule.final_risk})
        key = "final_risk" if total is not None else "steps"
        for row in rows:
            row["vs_optimum"] = row[key] / rows[-1][key]
    console = console_for_tables()
    console.print(f"{_setting(name, values, ('lr',))}, p = {precond_power:g}, B = {batch_size:g}: tuned presets for "
                  f"{_goal(total, target)} on {problem.name}", highlight=False)
    columns = sorted(dict.fromkeys(k for row in rows for k in row), key=lambda k: k == "vs_optimum")
    table = Table()
    for col in columns:
        table.add_column(col, justify="left" if col == "schedule" else "right")
    for row in rows:
        table.add_row(*(_cell(row.get(col, math.nan)) for col in columns))
    console.print(table)
    if pieces:
        console.print(f"the optimum is over {pieces} equal pieces of constant learning rate; a preset with a per-step "
                      "part (cosine, the WSD cooldown) can do better than it", highlight=False)
    if output is not None:
        write_records(output, rows, {"optimizer": name, "hyperparameters": values, "precond_power": precond_power,
                                     "batch_size": batch_size, "steps": total, "target": target,
                                     "problem": problem.name})
        click.echo(f"wrote {output}", err=True)
