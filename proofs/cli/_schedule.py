r"""The ``nqm schedule`` commands: time-varying hyperparameters and batch size (exact engine).

* ``nqm schedule risk`` — the exact expected risk :math:`\mathbb E\mathcal L(t)` under schedules
  of any hyperparameter and of the batch size (:func:`nqm.numerics.scheduled_risk`), with the
  examples consumed so far, :math:`E(t) = \sum_{s<t} B_s`;
* ``nqm schedule optimal`` — the optimal piecewise-constant schedule
  of any subset of the hyperparameters (``--vary lr,beta``; :func:`nqm.numerics.optimize_schedule`
  for a total of steps, :func:`nqm.numerics.optimal_schedule` for the fewest steps to a target),
  with its certificate against the best constant setting;
* ``nqm schedule tune`` — the best member of each preset family of learning-rate schedules
  (:func:`nqm.numerics.tune_preset`: cosine, WSD, step decay, ...) beside the best constant
  learning rate and the optimal schedule, at a total of steps or for the fewest steps to a target.

A schedule on the command line (``--schedule``) is ``NAME=NUMBER`` (a constant) or
``NAME=PRESET[:KEY=VALUE,...]``: a preset of :mod:`nqm.numerics.schedules` by name, its keys the
preset function's parameters, each value a number (or numbers joined by ``/`` for a parameter
that takes several, e.g. boundaries). Nothing the user writes is evaluated: the preset name and
every key are looked up in the presets' table and signatures (:mod:`._schedule_run`) and the
values are read as numbers. A preset's scale (its first parameter: the peak learning rate, the
starting batch size, ...) is the quantity's ``--hp NAME=VALUE`` (``--batch-size`` for the
batch size) unless given as a key.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

from ._common import CONTEXT_SETTINGS, call, force_option, spec_file_option
from ._values import (
    HYPERPARAMETER,
    STEPS,
    TABLE_OUTPUT,
    distinct_names,
    optimizers_option,
    precond_powers_option,
    problem_option,
)

__all__ = ["ScheduleArg", "optimal", "parse_schedule", "risk", "schedule", "tune"]

#: a quantity's, a preset's or a key's name
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
#: a word value (a choice such as the cooldown shape ``1-sqrt``): letters, digits, ``_`` and ``-``
_CHOICE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*\Z")


@dataclass(frozen=True)
class ScheduleArg:
    """One ``--schedule`` as parsed (syntax only; :mod:`._schedule_run` resolves it against the
    presets): ``name`` the quantity, and either ``number`` (a constant) or ``preset`` with its
    ``keys`` (key, value) in the order given; a value is a float, a tuple of floats or a word."""

    name: str
    number: float | None = None
    preset: str | None = None
    keys: tuple[tuple[str, float | tuple[float, ...] | str], ...] = ()

    def text(self) -> str:
        """The schedule as the user wrote it (normalised)."""
        if self.preset is None:
            return f"{self.name}={self.number:g}"
        shown = ",".join(f"{k}={_shown(v)}" for k, v in self.keys)
        return f"{self.name}={self.preset}" + (f":{shown}" if shown else "")


def _shown(value: float | tuple[float, ...] | str) -> str:
    if isinstance(value, tuple):
        return "/".join(f"{x:g}" for x in value)
    return f"{value:g}" if isinstance(value, float) else value


def _value(text: str, where: str) -> float | tuple[float, ...] | str:
    """A key's value: a number, numbers joined by ``/``, or a word (a choice such as a cooldown shape)."""
    if "/" in text:
        return tuple(_finite(x, where) for x in text.split("/"))
    if not _is_number(text) and _CHOICE.match(text):
        return text
    return _finite(text, where)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _finite(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{where}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{where}: {text!r} is not a finite number")
    return value


def parse_schedule(text: str) -> ScheduleArg:
    """``NAME=NUMBER`` or ``NAME=PRESET[:KEY=VALUE,...]`` (module docstring); ``ValueError`` naming the part."""
    name, sep, rest = (part.strip() for part in text.partition("="))
    if not sep or not name or not rest:
        raise ValueError(f"{text!r} is not NAME=NUMBER or NAME=PRESET[:KEY=VALUE,...]")
    if not _WORD.match(name):
        raise ValueError(f"{name!r} is not a hyperparameter name")
    if _is_number(rest):
        return ScheduleArg(name, number=_finite(rest, name))
    preset, colon, options = (part.strip() for part in rest.partition(":"))
    if not _WORD.match(preset):
        raise ValueError(f"{name}: {preset!r} is neither a number nor a preset name")
    if colon and not options:
        raise ValueError(f"{text!r}: nothing after ':' (give KEY=VALUE,... or drop the ':')")
    keys: list[tuple[str, float | tuple[float, ...] | str]] = []
    for item in (x.strip() for x in options.split(",")) if options else ():
        key, eq, value = (part.strip() for part in item.partition("="))
        if not eq or not _WORD.match(key) or not value:
            raise ValueError(f"{name}={preset}: {item!r} is not KEY=VALUE")
        if key in dict(keys):
            raise ValueError(f"{name}={preset}: {key} given more than once")
        keys.append((key, _value(value, f"{name}={preset}:{key}")))
    return ScheduleArg(name, preset=preset, keys=tuple(keys))


class _ScheduleType(click.ParamType):
    name = "NAME=SCHEDULE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, ScheduleArg):
            return value
        try:
            return parse_schedule(str(value).strip())
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


SCHEDULE = _ScheduleType()


def _distinct_schedules(ctx: click.Context, param: click.Parameter,
                        values: tuple[ScheduleArg, ...]) -> tuple[ScheduleArg, ...]:
    """Click callback of ``--schedule``: each quantity at most once."""
    distinct_names(ctx, param, tuple((s.name, s) for s in values))
    return values


_SYNTAX = """\b
Schedules: NAME=NUMBER (a constant) or NAME=PRESET[:KEY=VALUE,...], NAME a hyperparameter of the
optimizer or batch_size, PRESET a preset of nqm.numerics.schedules (its keys: the preset function's
parameters; values are numbers, several joined by '/', e.g. boundaries=1000/2000). The preset's scale
(its first parameter) is the --hp value of NAME (--batch-size for batch_size) unless given as a key.
Nothing is evaluated: names and keys are looked up, values read as numbers.
"""


def _stacked(*decorators: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """One decorator applying ``decorators`` (their options in the help in this order)."""
    def apply(func: Any) -> Any:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func
    return apply


#: the options every ``nqm schedule`` command starts with
_common_options = _stacked(
    optimizers_option(None),
    click.option("--hp", "hyper", type=HYPERPARAMETER, multiple=True, callback=distinct_names,
                 metavar="NAME=VALUE",
                 help="A hyperparameter of the optimizer (repeatable): its constant value, or its preset's scale."),
    precond_powers_option(multiple=False),
    problem_option,
)


def _output_options(written: str) -> Callable[[Any], Any]:
    """The options every ``nqm schedule`` command ends with: ``--output`` (writing ``written``), ``--force``
    and ``--spec-file``."""
    return _stacked(
        click.option("--output", "-o", type=TABLE_OUTPUT, default=None,
                     help=f"Write {written} to FILE.csv or FILE.json."),
        force_option,
        spec_file_option,
    )


def _goal_options(steps: str, target: str, written: str) -> Callable[[Any], Any]:
    """The options ``optimal`` and ``tune`` end with, declared once: ``--batch-size`` (required), the goal
    ``--steps`` T or ``--target`` X (helps ``steps`` and ``target``) and :func:`_output_options`."""
    return _stacked(
        click.option("--batch-size", type=click.FloatRange(min=1), required=True, help="The batch size B (>= 1)."),
        click.option("--steps", "total", type=click.IntRange(min=1), default=None, help=steps),
        click.option("--target", type=click.FloatRange(min=0, min_open=True), default=None, help=target),
        _output_options(written),
    )


@click.group("schedule", context_settings=CONTEXT_SETTINGS,
             short_help="Risk under time-varying hyperparameters and batch size; optimal and tuned schedules.",
             epilog="""\b
Examples:
  nqm schedule risk --optimizer sgd --hp lr=1 --schedule lr=cosine --batch-size 64 --steps 5000
  nqm schedule optimal --optimizer momentum --hp beta=0.9 --batch-size 256 --pieces 10 --target 0.01
  nqm schedule tune --optimizer sgd --batch-size 1024 --preset wsd,step --steps 5000
""")
@spec_file_option
def schedule() -> None:
    """Time-varying training, exact: the risk under schedules of any hyperparameter and of the
    batch size, optimal piecewise-constant schedules and tuned presets. Run 'nqm schedule COMMAND --help'."""


@schedule.command("risk", context_settings=CONTEXT_SETTINGS, epilog=_SYNTAX + """\b
Steps reported (--at): a:T:k is every k-th step from a to T (and T), or one step T.

\b
Examples:
  nqm schedule risk --optimizer momentum --hp lr=0.3 --hp beta=0.9 --schedule lr=wsd --batch-size 64 --steps 10000
  nqm schedule risk --optimizer sgd --hp lr=1 --schedule lr=cosine --batch-size 256 --steps 1000 --at 0:1000:100
  nqm schedule risk --optimizer sgd --hp lr=0.5 --schedule batch_size=batch_doubling:every=0.25 --batch-size 64 \\
      --steps 20000 --target 0.3
""")
@_common_options
@click.option("--schedule", "schedules", type=SCHEDULE, multiple=True, callback=_distinct_schedules,
              help="A hyperparameter's or the batch size's schedule (syntax below; repeatable).")
@click.option("--batch-size", type=click.FloatRange(min=1), default=None,
              help="The batch size B (>= 1): constant, or the scale of a batch_size preset.")
@click.option("--steps", "horizon", type=click.IntRange(min=1), required=True,
              help="The horizon T (schedules span steps 0..T-1).")
@click.option("--at", "at", type=STEPS, default=None, help="Steps reported (default: 0:T:T/10).")
@click.option("--target", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Also the first step whose risk reaches this target, and the examples used before it.")
@_output_options("the table")
def risk(**options: Any) -> None:
    """The exact expected risk under schedules, at the reported steps, with the examples used so far.

    E L(t) at each reported step t (nqm.numerics.scheduled_risk: piecewise-constant schedules
    through the segment maps in O(pieces), others by the exact per-step recursion), and the
    examples E(t) = sum of B_s over s < t. With --target, the first step t <= T whose risk reaches
    it (nqm.numerics.scheduled_steps_to_target: every step checked, the toolkit's tie rule) and E(t).
    """
    call("nqm.proofs.cli._schedule_run:risk", **options)


@schedule.command("optimal", context_settings=CONTEXT_SETTINGS, epilog="""\b
Examples:
  nqm schedule optimal --optimizer sgd --hp lr=1 --batch-size 64 --pieces 10 --steps 2000
  nqm schedule optimal --optimizer momentum --hp lr=0.1 --hp beta=0.9 --vary lr,beta --batch-size 1024 --steps 2000
""")
@_common_options
@click.option("--vary", default="lr", show_default=True, metavar="NAMES",
              help="The hyperparameters that vary by piece, comma-separated (the others stay at their --hp value).")
@click.option("--pieces", type=click.IntRange(min=1, max=1000), default=50, show_default=True,
              help="Pieces of (as nearly as integers allow) equal length.")
@_goal_options(steps="Minimise the risk after this many steps.",
               target="Or: the fewest steps for which an optimised schedule reaches this risk.", written="the pieces")
def optimal(**options: Any) -> None:
    """The optimal piecewise-constant schedule for a total of steps (--steps) or a target (--target).

    Certified: its exact final risk is never above that of the best constant setting (and, for a
    target, its steps never above the best constant's); the table gives each piece's values and
    the exact risk at its end.
    """
    call("nqm.proofs.cli._schedule_run:optimal", **options)


@schedule.command("tune", context_settings=CONTEXT_SETTINGS, epilog="""\b
Examples:
  nqm schedule tune --optimizer sgd --hp lr=1 --batch-size 1024 --steps 5000
  nqm schedule tune --optimizer momentum --hp lr=0.1 --hp beta=0.9 --preset wsd,cosine --batch-size 256 --target 0.01
""")
@_common_options
@click.option("--preset", "presets", default=None, metavar="NAMES",
              help="Preset families to tune, comma-separated (default: every family of nqm.numerics.PRESET_FAMILIES).")
@click.option("--pieces", type=click.IntRange(min=0, max=1000), default=10, show_default=True,
              help="Pieces of the optimal schedule they are compared with (0: no optimum).")
@_goal_options(steps="Tune for the lowest risk after this many steps.",
               target="Or: tune for the fewest steps to this risk.", written="the comparison")
def tune(**options: Any) -> None:
    """Tuned preset schedules (peak learning rate and shape) against the best constant rate and the optimum.

    Each preset family is tuned by nqm.numerics.tune_preset at the batch size, the other
    hyperparameters at their --hp values; the table gives each one's steps (for --target) or
    final risk (for --steps) and its ratio to the optimal piecewise-constant schedule's.
    """
    call("nqm.proofs.cli._schedule_run:tune", **options)
