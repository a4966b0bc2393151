r"""Values and options shared by the numeric ``nqm`` subcommands (sweep, steps, critical, montecarlo).

Syntax (documented in every command's help):

* batch sizes: ``a:b`` is :math:`a, 2a, 4a, \dots \le b` (powers of two for ``4:1048576``),
  ``a:b:r`` uses the ratio ``r``; or a comma list ``4,64,1024``; or one number.
* grid axes (``--grid NAME=AXIS``): ``a:b:n`` is ``n`` log-spaced points from ``a`` to ``b``,
  ``lin:a:b:n`` linearly spaced, ``1-log:a:b:n`` is :math:`1 - ` log-spaced (the paper's
  momentum grid is ``beta=1-log:1e-5:1:20``); or a comma list.
* hyperparameters (``--hp NAME=VALUE``): any hyperparameter of the spec, by name.
* steps (``--steps``): ``T``, or ``0:T:k`` for every ``k``-th step up to ``T``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import numpy as np

from ._common import MAX_WORKERS, OutputPath, fail, write_output

__all__ = [
    "BATCH_SIZES",
    "cache_dir_option",
    "executor",
    "no_cache_option",
    "result_cache",
    "workers_option",
    "GRID",
    "HYPERPARAMETER",
    "distinct_names",
    "STEPS",
    "TABLE_OUTPUT",
    "console_for_tables",
    "one_optimizer",
    "optimizer_names",
    "optimizers_option",
    "paper_problem",
    "parse_batch_sizes",
    "parse_grid",
    "parse_hyperparameter",
    "parse_steps",
    "precond_powers_option",
    "problem_option",
    "target_option",
    "write_records",
]


#: most values one list option (batch sizes, a grid axis, reported steps) expands to; the whole
#: hyperparameter grid is bounded by :data:`nqm.numerics._tune.MAX_GRID_POINTS`
MAX_VALUES = 10**7


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{what}: {text!r} is not a number") from None
    if math.isnan(value):
        raise ValueError(f"{what}: NaN is not allowed")
    return value


def _count(text: str, what: str) -> int:
    value = _number(text, what)
    if not math.isfinite(value) or value != int(value) or value < 1:
        raise ValueError(f"{what}: {text!r} is not a positive integer")
    return _listed(int(value), what)


def _listed(n: int, what: str) -> int:
    """``n``, the length of a list a value expands to, unless it exceeds :data:`MAX_VALUES` (checked before allocating)."""
    if n > MAX_VALUES:
        raise ValueError(f"{what}: {n:,} values; at most {MAX_VALUES:,} are allowed")
    return n


class _Parsed(click.ParamType):
    """A click type from a function ``parse(text) -> value`` that raises ValueError with the reason."""

    def __init__(self, name: str, parse: Callable[[str], Any]) -> None:
        self.name = name
        self._parse = parse

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return self._parse(value.strip())
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def parse_batch_sizes(text: str) -> np.ndarray:
    """``a:b[:r]`` (geometric, ratio 2 by default, both ends inclusive), ``a,b,c`` or ``a``; every value >= 1."""
    if ":" in text:
        parts = text.split(":")
        if len(parts) not in (2, 3):
            raise ValueError(f"{text!r} is not a:b or a:b:ratio")
        a, b = (_number(x, "batch size") for x in parts[:2])
        ratio = _number(parts[2], "ratio") if len(parts) == 3 else 2.0
        if not (1 <= a <= b < math.inf) or not 1 < ratio < math.inf:
            raise ValueError(f"{text!r}: need 1 <= a <= b (finite) and ratio > 1")
        n = _listed(int(math.floor(math.log(b / a) / math.log(ratio) * (1 + 1e-12))) + 1, "batch sizes")
        values = a * ratio ** np.arange(n)
    else:
        values = np.array([_number(x, "batch size") for x in text.split(",") if x.strip()])
    if values.size == 0 or np.any(values < 1) or not np.all(np.isfinite(values)):
        raise ValueError(f"{text!r}: batch sizes must be finite numbers >= 1")
    if np.unique(values).size != values.size:
        raise ValueError(f"{text!r}: batch sizes must be distinct")
    return values


def parse_grid(text: str) -> tuple[str, np.ndarray]:
    """``NAME=a:b:n`` (log-spaced), ``NAME=lin:a:b:n``, ``NAME=1-log:a:b:n`` or ``NAME=v1,v2,...``."""
    name, axis = _pair(text)
    parts = axis.split(":")
    if len(parts) == 1:
        values = np.array([_number(x, name) for x in axis.split(",") if x.strip()])
        if values.size == 0:
            raise ValueError(f"{text!r}: empty axis")
        return name, values
    kind = parts.pop(0) if parts[0] in ("lin", "log", "1-log") else "log"
    if len(parts) != 3:
        raise ValueError(f"{text!r} is not NAME=a:b:n, NAME=lin:a:b:n, NAME=1-log:a:b:n or NAME=v1,v2,...")
    a, b = (_number(x, name) for x in parts[:2])
    n = _count(parts[2], f"{name} points")
    if kind == "lin":
        return name, np.linspace(a, b, n)
    if not (0 < a < math.inf and 0 < b < math.inf):
        raise ValueError(f"{text!r}: log-spaced ends must be positive and finite")
    values = np.geomspace(a, b, n)
    return name, 1.0 - values if kind == "1-log" else values


def parse_hyperparameter(text: str) -> tuple[str, float]:
    """``NAME=VALUE``."""
    name, value = _pair(text)
    return name, _number(value, name)


def parse_steps(text: str) -> np.ndarray:
    """``T`` (steps 0..T... reported at T only) or ``a:T:k`` (every k-th step from a to T inclusive)."""
    parts = text.split(":")
    if len(parts) == 1:
        return np.array([_steps_value(parts[0])])
    if len(parts) != 3:
        raise ValueError(f"{text!r} is not T or a:T:k")
    a, T = _steps_value(parts[0]), _steps_value(parts[1])
    k = _count(parts[2], "step interval")
    if a > T:
        raise ValueError(f"{text!r}: need a <= T")
    _listed((T - a) // k + 1, "steps")
    values = np.arange(a, T + 1, k)
    return values if values[-1] == T else np.append(values, T)


def _steps_value(text: str) -> int:
    """An integer step count; digits are read exactly (a float would turn 2**53 + 1 into 2**53)."""
    if text.strip().isdigit():
        return int(text)
    value = _number(text, "steps")
    if not math.isfinite(value) or value != int(value) or value < 0:
        raise ValueError(f"steps: {text!r} is not an integer >= 0")
    return int(value)


def _pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise ValueError(f"{text!r} is not NAME=VALUE")
    return name.strip(), value.strip()


def distinct_names(ctx: click.Context, param: click.Parameter, pairs: tuple[tuple[str, Any], ...]) -> tuple[tuple[str, Any], ...]:
    """Click callback of repeatable ``NAME=...`` options: each NAME at most once."""
    names = [name for name, _ in pairs]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise click.BadParameter(f"{', '.join(repeated)} given more than once", ctx=ctx, param=param)
    return pairs


BATCH_SIZES = _Parsed("BATCH_SIZES", parse_batch_sizes)
GRID = _Parsed("NAME=AXIS", parse_grid)
HYPERPARAMETER = _Parsed("NAME=VALUE", parse_hyperparameter)
STEPS = _Parsed("STEPS", parse_steps)
#: an output table, FILE.csv or FILE.json (checked before any work, :class:`OutputPath`)
TABLE_OUTPUT = OutputPath(suffixes=(".csv", ".json"))


def optimizer_names(values: Sequence[str]) -> list[str]:
    """Registered optimizer names from repeatable, comma-separated values (each checked; fails in one line).

    No values at all is ``[]`` (the command's default); values that name nothing (``,,``) are refused."""
    from nqm.theory import get_spec

    names = [n.strip() for v in values for n in v.split(",") if n.strip()]
    if values and not names:
        fail(f"--optimizer: {','.join(values)!r} names no optimizer")
    for name in names:
        try:
            get_spec(name)
        except KeyError as exc:
            fail(f"--optimizer: {exc.args[0]}")
    return list(dict.fromkeys(names))


def one_optimizer(positional: str | None, option: str | None) -> str:
    """The one registered optimizer a command was given, as ``--optimizer NAME`` or as the positional
    NAME (the older form of ``derive``); fails in one line on none, both or an unknown name."""
    if positional is not None and option is not None:
        fail(f"give the optimizer once: --optimizer {option} or NAME {positional}, not both")
    if positional is None and option is None:
        fail("give an optimizer: --optimizer NAME")
    names = optimizer_names([positional if option is None else option])
    if len(names) != 1:
        fail(f"give one optimizer; got {', '.join(names)}")
    return names[0]


def optimizers_option(default: tuple[str, ...] | None) -> Callable[[Any], Any]:
    """``--optimizer NAME``: one, required (``default`` None), or repeatable and comma-separated with ``default``."""
    what = "A registered optimizer (built-in, entry point or --spec-file)"
    if default is None:
        return click.option("--optimizer", "optimizer", metavar="NAME", required=True, help=what + ".")
    return click.option("--optimizer", "optimizers", multiple=True, metavar="NAME", default=default,
                        show_default=True, help=what + "; repeatable or comma-separated, one run each.")


def precond_powers_option(multiple: bool = True) -> Callable[[Any], Any]:
    """``--precond-power P``: the preconditioner P = H^p (eqs. 8-9)."""
    return click.option("--precond-power", "precond_powers" if multiple else "precond_power", type=float,
                        multiple=multiple, default=(0.0,) if multiple else 0.0, show_default=True,
                        help="Preconditioner power p of P = H^p (eqs. 8-9), in [0, 1]"
                             + ("; repeatable, one run each." if multiple else "."))


target_option = click.option("--target", type=float, default=0.01, show_default=True,
                             help="Target expected risk (the paper's 0.01).")
#: ``ctx.meta`` key under which ``--paper-noise`` leaves its choice for :func:`paper_problem`
PAPER_NOISE_KEY = "nqm.paper_noise"


def _remember_paper_noise(ctx: click.Context, _param: click.Parameter, value: str) -> str:
    ctx.meta[PAPER_NOISE_KEY] = value
    return value


_unbinned_option = click.option(
    "--unbinned", is_flag=True,
    help="The exact paper problem, all 10^4 eigenvalues h_i = 1/i with C = H, instead of the authors' 100 bins (slower).")
_paper_noise_option = click.option(
    "--paper-noise", type=click.Choice(["binned", "bin-mean"]), default="binned", show_default=True,
    expose_value=False, callback=_remember_paper_noise,
    help="Noise of the binned paper problem. binned: the authors' (C = H on the binned curvatures, a bin's noise is "
         "its rounded-down h, as in their notebook and every number of the paper); bin-mean: each bin keeps its "
         "members' true mean noise, to see how much of a result is due to the binning (Problem.paper(noise=...)).")


def problem_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--unbinned`` and ``--paper-noise``: which paper problem :func:`paper_problem` builds."""
    return _unbinned_option(_paper_noise_option(func))


workers_option = click.option(
    "--workers", type=click.IntRange(min=0, max=MAX_WORKERS), default=None,
    help="Worker threads (0 or 1: run here; default: automatic, threads when the work is large).")
cache_dir_option = click.option(
    "--cache-dir", type=OutputPath("dir"), default=None,
    help="Cache finished tasks here (default: $NQM_CACHE_DIR or ~/.cache/nqm-toolkit/results).")
no_cache_option = click.option("--no-cache", is_flag=True, help="Do not read or write the result cache.")


def result_cache(cache_dir: Path | None, no_cache: bool) -> Path | bool:
    """The ``cache=`` argument of the numerics for ``--cache-dir``/``--no-cache`` (default: the default directory)."""
    return False if no_cache else (cache_dir if cache_dir is not None else True)


@contextmanager
def executor(workers: int | None) -> Iterator[Any]:
    """The ``executor=`` argument for ``--workers``: the count itself, by the toolkit's convention
    (:func:`nqm.numerics.resolve_executor`; ``None``, automatic, when not given), opened here
    so that every task of the command shares one pool."""
    from nqm.numerics import open_executor, resolve_executor

    if workers is None:
        yield None
        return
    with open_executor(resolve_executor(workers), MAX_WORKERS) as pool:
        yield pool or "serial"


def paper_problem(unbinned: bool) -> Any:
    """The paper's problem (Section 3.1: h_i = 1/i, C = H, d = 10^4): :meth:`Problem.paper
    <nqm.numerics.Problem.paper>`, binned as the authors did unless ``unbinned``, with the bin noise
    that ``--paper-noise`` chose (read from the click context, where :func:`problem_option` left it)."""
    from nqm.numerics import Problem

    ctx = click.get_current_context(silent=True)
    noise = ctx.meta.get(PAPER_NOISE_KEY, "binned") if ctx is not None else "binned"
    if unbinned and noise != "binned":
        fail("--paper-noise chooses the noise of the binned problem; drop it or --unbinned")
    return Problem.paper(binned=not unbinned, noise=noise)


def console_for_tables() -> Any:
    """A rich console on standard output, at least 120 columns wide when it is a file or pipe."""
    from rich.console import Console

    console = Console()
    return console if console.is_terminal else Console(width=max(console.width, 120))


def write_records(path: Path, records: list[dict[str, Any]], meta: Mapping[str, Any]) -> None:
    """Write ``records`` by the file's extension: ``.csv`` (columns = the union of keys, in order;
    integral numbers as integers, :func:`~nqm.numerics._tables.records_csv`)
    or ``.json`` (``{**meta, "rows": records}``, non-finite numbers as strings)."""
    from nqm.numerics._jsonio import json_ready

    from nqm.numerics._tables import records_csv

    suffix = path.suffix.lower()
    if suffix == ".csv":
        write_output(path, records_csv(records))
    elif suffix == ".json":
        write_output(path, json.dumps(json_ready({**meta, "rows": records}), indent=2) + "\n")
    else:
        raise ValueError(f"--output: {path} must end in .csv or .json")  # TABLE_OUTPUT refuses it at parse time
