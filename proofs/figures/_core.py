r"""The figure registry and the plotting helpers shared by every NQM figure.

Every figure is a function returning a :class:`FigureResult`: the matplotlib
:class:`~matplotlib.figure.Figure` (object API, no pyplot state, Agg backend) and the numbers
it plots as tidy records (one dict per plotted point), so that users can restyle it.
:data:`FIGURES` maps a figure's name to its function; :func:`save_figure` writes PNG, PDF,
CSV and JSON; :func:`make_figures` renders a set of figures into a folder.

Conventions of the steps figures (the paper's axes): log–log steps to target against the
batch size B, and the information-theoretic lower bound of Section 3.6,
:math:`\tfrac12\operatorname{tr}(H^{-1}C)/(\varepsilon B)`
(:meth:`~nqm.numerics.Problem.information_bound`), as a dashed black line (``gid``
``"information_bound"``).

``executor`` follows the toolkit's convention (:func:`~nqm.numerics.resolve_executor`): with the
default ``None`` a figure's sweeps run one after the other, each on the engine's automatic pool;
any other value distributes the independent sweeps with :func:`~nqm.numerics._parallel.map_tasks`
(each then runs in its worker). Inside one :func:`make_figures` call, identical
sweeps are computed once and shared between figures (Fig. 3b, 3c and 15 share one
schedule sweep).
"""

from __future__ import annotations

import base64
import functools
import html
import io
import inspect
import json
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import matplotlib.style
import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colors import Colormap, ListedColormap
from matplotlib.figure import Figure
from matplotlib.ticker import LogLocator
from nqm.numerics import Problem, ScheduleSweep, Sweep, as_optimizer_spec, schedule_sweep, sweep
from nqm.numerics._forms import validate_batch_sizes
from nqm.numerics._jsonio import json_ready
from nqm.numerics._parallel import MAX_WORKERS, ExecutorArg, config_key, map_tasks, open_executor, resolve_executor
from nqm.numerics._tables import records_csv, write_text

__all__ = [
    "FigureResult",
    "FIGURES",
    "DEFAULT_FIGURES",
    "save_figure",
    "make_figures",
    "register_figure",
    "STYLE",
]

Progress = Callable[[Iterable[Any], int], Iterable[Any]]
Records = list[dict[str, Any]]

#: the house style file (shipped with the package), applied while a figure is built; apply it
#: to your own plots with ``plt.style.use(nqm.proofs.STYLE)``
STYLE = str(Path(__file__).with_name("nqm.mplstyle"))
#: PNG resolution
DPI = 150
#: gid of every information-bound line
BOUND_GID = "information_bound"
BOUND_LABEL = r"information bound $\frac{1}{2}\mathrm{tr}(H^{-1}C)/(\varepsilon B)$"


@dataclass(frozen=True)
class FigureResult:
    """One rendered figure.

    ``name``: registry name (``"fig3a"``, ...); ``figure``: the matplotlib Figure;
    ``data``: the plotted numbers, as tidy records (one dict per point) or named arrays;
    ``caption``: what is shown, which paper figure, and the definitions used;
    ``seconds``: wall time of building it; ``problem``: the name of the NQM it was computed on
    (:attr:`Problem.name <nqm.numerics.Problem.name>`; None for one-direction illustrations).
    """

    name: str
    figure: Figure
    data: Records | dict[str, np.ndarray]
    caption: str
    seconds: float = field(default=0.0, compare=False)
    problem: str | None = None

    def _repr_png_(self) -> bytes:
        """The figure as PNG at :data:`DPI` (how Jupyter shows a returned result)."""
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png", dpi=DPI)
        return buffer.getvalue()

    def _html(self, png: bytes) -> str:
        image = base64.b64encode(png).decode("ascii")
        return (f'<figure><img src="data:image/png;base64,{image}" alt="{html.escape(self.name)}"/>'
                f"<figcaption>{html.escape(self.caption)}</figcaption></figure>")

    def _repr_html_(self) -> str:
        """The figure (PNG) above its caption."""
        return self._html(self._repr_png_())

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """PNG and HTML from one rendering (Jupyter asks for every format at once)."""
        png = self._repr_png_()
        return {"image/png": png, "text/html": self._html(png), "text/plain": f"FigureResult({self.name!r})"}


#: name -> figure function (keyword-only arguments; returns a FigureResult)
FIGURES: dict[str, Callable[..., FigureResult]] = {}
#: names rendered by :func:`make_figures` when none are given (every figure that needs no
#: external input; ``network_vs_nqm`` needs the output of the PyTorch validation)
DEFAULT_FIGURES: list[str] = []


def register_figure(name: str, *, default: bool = True) -> Callable[[Callable[..., FigureResult]], Callable[..., FigureResult]]:
    """Decorator: build the figure under the style file :data:`STYLE`, time it, and register it as ``name``."""

    def wrap(fn: Callable[..., FigureResult]) -> Callable[..., FigureResult]:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> FigureResult:
            clock = time.perf_counter()
            with matplotlib.style.context(STYLE):
                result = fn(*args, **kwargs)
            return replace(result, seconds=time.perf_counter() - clock)

        FIGURES[name] = run
        if default:
            DEFAULT_FIGURES.append(name)
        return run

    return wrap


# ---------------------------------------------------------------------- layout helpers
def new_figure(ncols: int = 1, nrows: int = 1, *, width: float | None = None, height: float = 3.6) -> tuple[Figure, np.ndarray]:
    """A constrained-layout Figure and its axes as a ``(nrows, ncols)`` array."""
    fig = Figure(figsize=(width or 4.6 * ncols, height * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def batch_size_axis(ax: Axes, *, label: str = "batch size $B$") -> None:
    """Log base-2 x axis for batch sizes, ticks at even powers of 2."""
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_locator(LogLocator(base=4))
    ax.set_xlabel(label)


def steps_axes(ax: Axes, title: str, *, ylabel: str = r"steps to target $\varepsilon$") -> None:
    """The paper's axes: log–log steps against batch size."""
    batch_size_axis(ax)
    ax.set_yscale("log")
    ax.set_ylabel(ylabel)
    ax.set_title(title)


def plot_bound(ax: Axes, problem: Problem, target: float, batch_sizes: Sequence[float], *, label: str | None = BOUND_LABEL, color: str = "k") -> Records:
    """Draw the information bound (dashed, ``gid`` :data:`BOUND_GID`); return its records."""
    B = np.asarray(batch_sizes, dtype=float)
    bound = np.asarray(problem.information_bound(target, B), dtype=float)
    (line,) = ax.plot(B, bound, "--", color=color, lw=1.1, label=label, zorder=1)
    line.set_gid(BOUND_GID)
    return [dict(series="information bound", target=float(target), batch_size=float(b), steps=float(s)) for b, s in zip(B, bound)]


def slope_one_guide(ax: Axes, x: np.ndarray, y: np.ndarray, *, label: str = r"slope 1 (linear scaling)") -> None:
    """A grey dotted line of slope 1 through the first finite point (log–log), drawn up to 3x
    the largest value of ``y``."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(y) & (y > 0)
    if not ok.any():
        return
    x0, y0 = x[ok][0], y[ok][0]
    guide = y0 * x / x0
    keep = guide <= 3 * y[ok].max()
    ax.plot(x[keep], guide[keep], ":", color="0.5", lw=1, label=label, zorder=0)


def sequential_colormap() -> Colormap:
    """The colormap of ordered series (batch sizes, targets, momenta): viridis without its
    pale yellow end, so every line stays visible on white."""
    return ListedColormap(colormaps["viridis"](np.linspace(0.0, 0.85, 256)))


def power_label(p: float) -> str:
    """Legend text of a preconditioning power."""
    return f"$p={p:g}$"


def batch_label(B: float) -> str:
    """``$B=2^{k}$`` for powers of two, else ``$B=...$``."""
    k = math.log2(B)
    return f"$B=2^{{{int(k)}}}$" if k == int(k) else f"$B={B:g}$"


# ---------------------------------------------------------------------- computing
_memo: dict[str, Any] | None = None


@contextmanager
def shared_results() -> Iterator[None]:
    """Within this context identical tasks (same function and configuration) run once."""
    global _memo
    outer = _memo
    _memo = {} if outer is None else outer
    try:
        yield
    finally:
        _memo = outer


def run_tasks(fn: Callable[[Any, ExecutorArg], Any], tasks: Sequence[Any], executor: ExecutorArg,
              progress: Progress | None) -> list[Any]:
    """``[fn(t, inner) for t in tasks]``, reusing results inside :func:`shared_results`.

    ``executor=None`` (automatic) runs the tasks here, one after the other, with ``inner=None``
    (each parallel inside, on the engine's automatic pool); any other value
    (:func:`~nqm.numerics.resolve_executor`) distributes them with :func:`map_tasks`, with
    ``inner="serial"`` (no pool inside a worker)."""
    where = resolve_executor(executor)
    inner = None if executor is None else "serial"
    keys = [config_key((fn.__qualname__, task)) for task in tasks]
    memo = _memo if _memo is not None else {}
    todo = [i for i, k in enumerate(keys) if k not in memo]
    done = map_tasks(fn, [(tasks[i], inner) for i in todo], executor="serial" if executor is None else where,
                     progress=progress)
    for i, value in zip(todo, done):
        memo[keys[i]] = value
    return [memo[k] for k in keys]


def sweep_task(job: tuple[tuple[Problem, object, float, tuple[float, ...], float, dict[str, np.ndarray] | None], ExecutorArg]) -> Sweep:
    """One tuned batch-size sweep (module level, picklable): ``((problem, optimizer, p, batch sizes, target, grid), executor)``
    with the optimizer as :func:`figure_optimizers` gives it."""
    (problem, name, power, batch_sizes, target, grid), executor = job
    return sweep(problem, name, batch_sizes=np.asarray(batch_sizes), target=target, grid=grid, precond_power=power,
                 executor=executor)


def figure_optimizers(name: str, optimizers: object) -> list[object]:
    """The optimizers of a figure, each in a form that travels to worker processes: an instance as
    given (its values are used as :func:`~nqm.numerics.sweep` uses them; it pickles as its spec), a
    built-in's class, spec or name as its name (its generated forms exist in every process, and a
    sweep another figure also runs by name is then computed once, :func:`shared_results`), any other
    spec as its :class:`~nqm.numerics.OptimizerRef` (pickled as the spec). One optimizer may be given
    alone; ``ValueError`` naming ``name`` otherwise."""
    items = [optimizers] if isinstance(optimizers, str) or not isinstance(optimizers, Iterable) else list(optimizers)
    if not items:
        raise ValueError(f"{name} must hold at least one optimizer")
    refs = [as_optimizer_spec(o, name) for o in items]
    return [o if ref.is_instance else ref.name if ref.forms.builtin else ref for o, ref in zip(items, refs)]


def optimizer_key(optimizer: object) -> str:
    """The spec name of a figure's optimizer (data records and series names)."""
    return as_optimizer_spec(optimizer).name


def optimizer_label(optimizer: object) -> str:
    """The legend text of a figure's optimizer: its own spec's :attr:`~nqm.theory.OptimizerSpec.label`."""
    return as_optimizer_spec(optimizer).spec.label


def run_sweeps(
    problem: Problem,
    configs: Sequence[tuple[object, float]],
    *,
    batch_sizes: Sequence[float],
    target: float = 0.01,
    grid: dict[str, np.ndarray] | None = None,
    executor: ExecutorArg = None,
    progress: Progress | None = None,
    targets: Sequence[float] | None = None,
) -> list[Sweep]:
    """Sweeps for each ``(optimizer, p)`` (and each of ``targets`` if given, config-major);
    ``executor`` as for :func:`run_tasks`."""
    Bs = tuple(float(b) for b in batch_sizes)
    eps = [target] if targets is None else list(targets)
    tasks = [(problem, name, float(p), Bs, float(e), grid) for name, p in configs for e in eps]
    return run_tasks(sweep_task, tasks, executor, progress)


def schedule_task(job: tuple[tuple[Problem, float, float, int], ExecutorArg]) -> ScheduleSweep:
    """Optimised SGD schedule at one batch size: ``((problem, B, target, pieces), executor)``."""
    (problem, B, target, pieces), executor = job
    return schedule_sweep(problem, "sgd", batch_sizes=[B], target=target, pieces=pieces, executor=executor)


def run_schedules(
    problem: Problem, batch_sizes: Sequence[float], *, target: float, pieces: int, executor: ExecutorArg, progress: Progress | None
) -> ScheduleSweep:
    """:func:`~nqm.numerics.schedule_sweep` split into one task per batch size, then joined."""
    parts = run_tasks(schedule_task, [(problem, float(B), float(target), int(pieces)) for B in batch_sizes], executor, progress)
    return ScheduleSweep(
        batch_sizes=np.concatenate([s.batch_sizes for s in parts]),
        target=float(target),
        pieces=int(pieces),
        steps=np.concatenate([s.steps for s in parts]),
        constant_steps=np.concatenate([s.constant_steps for s in parts]),
        constant_lr=np.concatenate([s.constant_lr for s in parts]),
        information_bound=np.concatenate([s.information_bound for s in parts]),
        schedules=[r for s in parts for r in s.schedules],
    )


def sweep_records(s: Sweep, **extra: Any) -> Records:
    """The sweep's rows as tidy records (:meth:`Sweep.records`) plus ``extra`` columns."""
    return [dict(extra, **rec) for rec in s.records()]


def problem_or_paper(problem: Problem | None) -> Problem:
    """``problem``, or :meth:`Problem.paper() <nqm.numerics.Problem.paper>`: the authors' binned problem
    (C = H on the binned curvatures, their notebook's arrays)."""
    return Problem.paper() if problem is None else problem


def batch_sizes_in_order(name: str, values: Iterable[float], at_least: int = 2) -> tuple[float, ...]:
    """At least ``at_least`` distinct batch sizes >= 1 in increasing order (the engine's
    :func:`~nqm.numerics._forms.validate_batch_sizes`); ``ValueError`` naming ``name`` otherwise."""
    return tuple(float(b) for b in np.sort(validate_batch_sizes(list(values), name, at_least)))


# ---------------------------------------------------------------------- saving
def _flat_records(data: Records | dict[str, np.ndarray]) -> Records:
    if isinstance(data, list):
        return data
    arrays = {k: np.asarray(v) for k, v in data.items()}
    n = max((a.shape[0] for a in arrays.values() if a.ndim), default=0)
    return [{k: (a[i].tolist() if a.ndim else a.item()) for k, a in arrays.items()} for i in range(n)]


def figure_paths(name: str, folder: Path) -> list[Path]:
    """The files :func:`save_figure` writes for ``name``: PNG, PDF, CSV, JSON."""
    return [Path(folder) / f"{name}.{ext}" for ext in ("png", "pdf", "csv", "json")]


def save_figure(result: FigureResult, folder: str | Path, *, force: bool = False) -> list[Path]:
    """Write ``<name>.png`` (150 dpi), ``.pdf``, ``.csv`` (the records; integral numbers as integers) and ``.json``
    (name, caption, problem, records) into ``folder`` (created if missing).

    Raises ``FileExistsError`` naming the first existing file unless ``force``.
    """
    folder = Path(folder)
    paths = figure_paths(result.name, folder)
    if not force:
        for p in paths:
            if p.exists():
                raise FileExistsError(f"{p} exists; pass force=True (--force) to overwrite")
    folder.mkdir(parents=True, exist_ok=True)
    png, pdf, csv_path, json_path = paths
    result.figure.savefig(png, dpi=DPI)
    result.figure.savefig(pdf)
    records = _flat_records(result.data)
    write_text(records_csv(records), csv_path)
    doc = {"name": result.name, "caption": result.caption, "problem": result.problem, "seconds": result.seconds, "data": records}
    json_path.write_text(json.dumps(json_ready(doc), indent=1))
    return paths


def make_figures(
    folder: str | Path,
    names: Sequence[str] | None = None,
    *,
    force: bool = False,
    executor: ExecutorArg = None,
    progress: Progress | None = None,
    validation: str | Path | None = None,
    on_saved: Callable[[FigureResult, list[Path]], None] | None = None,
    optimizers: Sequence[object] | None = None,
) -> list[FigureResult]:
    """Render figures ``names`` (default :data:`DEFAULT_FIGURES`, plus ``network_vs_nqm`` when
    ``validation`` — a folder written by :func:`~nqm.proofs.run_validation` — is given) and save
    each into ``folder`` (:func:`save_figure`). Existing files are refused before any work
    unless ``force``. Identical sweeps are shared between figures. ``executor``: the toolkit's
    convention (:func:`~nqm.numerics.resolve_executor`; with ``None`` each sweep is parallel
    inside, otherwise the independent sweeps are distributed). ``on_saved(result, paths)`` is
    called after each figure is written. ``optimizers`` (any forms, user specs included) replace
    the default optimizers of the figures that take ``optimizers`` (fig13, critical_vs_power) and,
    when there is one, the ``optimizer`` of steps_surface; the paper's other figures draw fixed ones.
    """
    chosen = list(DEFAULT_FIGURES) + (["network_vs_nqm"] if validation is not None else []) if names is None else list(names)
    unknown = [n for n in chosen if n not in FIGURES]
    if unknown:
        raise ValueError(f"names must be figure names from {sorted(FIGURES)}; got {unknown[0]!r}")
    if "network_vs_nqm" in chosen and validation is None:
        raise ValueError("validation must name the output folder of the PyTorch validation to draw network_vs_nqm")
    chosen_optimizers = None if optimizers is None else figure_optimizers("optimizers", optimizers)
    if chosen_optimizers is not None and len(chosen_optimizers) > 1 and "steps_surface" in chosen:
        raise ValueError("optimizers: steps_surface draws one optimizer; give one, or leave steps_surface out")
    if not force:
        for name in chosen:
            for p in figure_paths(name, Path(folder)):
                if p.exists():
                    raise FileExistsError(f"{p} exists; pass force=True (--force) to overwrite")
    where = resolve_executor(executor)  # a bad value fails before any work
    results = []
    # one pool for all figures; None stays automatic (run_tasks)
    with open_executor("serial" if executor is None else where, len(chosen) * MAX_WORKERS) as pool, shared_results():
        if executor is not None:
            executor = pool or "serial"
        for name in chosen:
            if name == "network_vs_nqm":
                result = FIGURES[name](validation)
            else:
                accepted = inspect.signature(FIGURES[name]).parameters
                given = [("executor", executor), ("progress", progress)]
                if chosen_optimizers is not None:
                    given += [("optimizers", chosen_optimizers), ("optimizer", chosen_optimizers[0])]
                options = {k: v for k, v in given if k in accepted}
                result = FIGURES[name](**options)
            paths = save_figure(result, folder, force=force)
            if on_saved is not None:
                on_saved(result, paths)
            results.append(result)
    return results

