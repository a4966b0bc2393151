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

The figures that draw tuned sweeps or schedule sweeps declare them (:data:`FIGURE_NEEDS`:
:class:`SweepNeed`, :class:`ScheduleNeed`) and draw them from a :class:`FigureData`: results of
:func:`~nqm.numerics.sweeps` and :func:`~nqm.numerics.schedule_sweep`, each computed once.
:func:`make_figures` computes the needs of every chosen figure before drawing any (one
:func:`~nqm.numerics.sweeps` call); a figure called alone computes its own. ``executor`` follows
the toolkit's convention (:func:`~nqm.numerics.resolve_executor`) and goes to those calls.
"""

from __future__ import annotations

import base64
import functools
import html
import inspect
import io
import json
import math
import time
from collections.abc import Callable, Iterable, Sequence
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

from nqm.numerics import (
    MAX_WORKERS,
    ExecutorArg,
    Problem,
    Progress,
    Sweep,
    as_optimizer_spec,
    config_key,
    open_executor,
    resolve_executor,
    schedule_sweep,
    sweeps,
)
from nqm.numerics.io import json_ready, records_csv, write_text
from nqm.numerics.validation import validate_batch_sizes

__all__ = [
    "FigureResult",
    "FIGURES",
    "DEFAULT_FIGURES",
    "save_figure",
    "make_figures",
    "register_figure",
    "STYLE",
]

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


#: name -> what the figure computes from shared results: a function of the figure's keyword
#: arguments (all of them, defaults applied) returning its :class:`SweepNeed` and :class:`ScheduleNeed`
FIGURE_NEEDS: dict[str, Callable[..., list[Any]]] = {}


def register_figure(
    name: str, *, default: bool = True, needs: Callable[..., list[Any]] | None = None,
) -> Callable[[Callable[..., FigureResult]], Callable[..., FigureResult]]:
    """Decorator: build the figure under the style file :data:`STYLE`, time it, and register it as
    ``name``; ``needs`` (:data:`FIGURE_NEEDS`) says which sweeps it draws, so that
    :func:`make_figures` computes them for all figures at once."""

    def wrap(fn: Callable[..., FigureResult]) -> Callable[..., FigureResult]:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> FigureResult:
            clock = time.perf_counter()
            with matplotlib.style.context(STYLE):
                result = fn(*args, **kwargs)
            return replace(result, seconds=time.perf_counter() - clock)

        FIGURES[name] = run
        if needs is not None:
            FIGURE_NEEDS[name] = needs
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
@dataclass(frozen=True)
class SweepNeed:
    """One tuned batch-size sweep a figure draws: one config of :func:`~nqm.numerics.sweeps` on
    ``problem`` (the paper's grids), the optimizer as :func:`figure_optimizers` gives it."""

    problem: Problem
    optimizer: object
    precond_power: float
    batch_sizes: tuple[float, ...]
    target: float

    def key(self) -> str:
        """The need's identity: a hash of its whole configuration (:func:`~nqm.numerics.config_key`)."""
        return config_key(("sweep", self.problem, self.optimizer, self.precond_power, self.batch_sizes, self.target))

    def config(self) -> dict[str, object]:
        """The config of :func:`~nqm.numerics.sweeps` (the problem is the call's)."""
        return {"optimizer": self.optimizer, "precond_power": self.precond_power,
                "batch_sizes": np.asarray(self.batch_sizes), "target": self.target}


@dataclass(frozen=True)
class ScheduleNeed:
    """One sweep of optimised piecewise-constant SGD schedules a figure draws
    (:func:`~nqm.numerics.schedule_sweep` with ``pieces`` pieces)."""

    problem: Problem
    batch_sizes: tuple[float, ...]
    target: float
    pieces: int

    def key(self) -> str:
        """The need's identity (:func:`~nqm.numerics.config_key`)."""
        return config_key(("schedules", self.problem, self.batch_sizes, self.target, self.pieces))


Need = SweepNeed | ScheduleNeed


class FigureData:
    """What figures draw, computed once and shared: tuned sweeps and schedule sweeps, each held
    under its need (:class:`SweepNeed`, :class:`ScheduleNeed`).

    :meth:`compute` adds the needs not held yet: every sweep with one :func:`~nqm.numerics.sweeps`
    call per problem (all their tasks on one executor), each schedule sweep with
    :func:`~nqm.numerics.schedule_sweep`. :func:`make_figures` computes the needs of every chosen
    figure before drawing any (the report adds its own sweeps to the same call); results computed
    elsewhere are handed in with :meth:`add`. A figure function given ``computed`` computes only
    what it lacks.
    """

    def __init__(self) -> None:
        self._held: dict[str, Any] = {}

    def __contains__(self, need: Need) -> bool:
        return need.key() in self._held

    def __getitem__(self, need: Need) -> Any:
        """The :class:`~nqm.numerics.Sweep` or :class:`~nqm.numerics.ScheduleSweep` of ``need``."""
        return self._held[need.key()]

    def add(self, need: Need, result: Any) -> None:
        """Hold ``result``, computed elsewhere for exactly ``need``."""
        self._held[need.key()] = result

    def compute(self, needs: Sequence[Need], *, executor: ExecutorArg = None, progress: Progress | None = None) -> FigureData:
        """Compute the needs not held yet (each distinct one once) and return ``self``;
        ``executor`` and ``progress`` as for :func:`~nqm.numerics.sweeps`."""
        missing = list({n.key(): n for n in needs if n not in self}.values())
        sweep_needs = [n for n in missing if isinstance(n, SweepNeed)]
        by_problem: dict[str, list[SweepNeed]] = {}
        for need in sweep_needs:
            by_problem.setdefault(config_key(need.problem), []).append(need)
        for group in by_problem.values():
            found = sweeps(group[0].problem, [n.config() for n in group], executor=executor, progress=progress)
            for need, result in zip(group, found, strict=True):
                self.add(need, result)
        for need in missing:
            if isinstance(need, ScheduleNeed):
                self.add(need, schedule_sweep(need.problem, "sgd", batch_sizes=np.asarray(need.batch_sizes), target=need.target,
                                              pieces=need.pieces, executor=executor, progress=progress))
        return self

    def results(self, needs: Sequence[Need], *, executor: ExecutorArg = None, progress: Progress | None = None) -> list[Any]:
        """The result of each of ``needs``, computing the missing ones first (:meth:`compute`)."""
        self.compute(needs, executor=executor, progress=progress)
        return [self[n] for n in needs]


def figure_data(computed: FigureData | None, needs: Sequence[Need], executor: ExecutorArg, progress: Progress | None) -> list[Any]:
    """A figure's results: from ``computed`` (computing what it lacks) or, without it, computed here."""
    return (FigureData() if computed is None else computed).results(needs, executor=executor, progress=progress)


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


def sweep_records(s: Sweep, **extra: Any) -> Records:
    """The sweep's rows as tidy records (:meth:`Sweep.records`) plus ``extra`` columns."""
    return [dict(extra, **rec) for rec in s.records()]


def problem_or_paper(problem: Problem | None) -> Problem:
    """``problem``, or :meth:`Problem.paper() <nqm.numerics.Problem.paper>`: the authors' binned problem
    (C = H on the binned curvatures, their notebook's arrays)."""
    return Problem.paper() if problem is None else problem


def batch_sizes_in_order(name: str, values: Iterable[float], at_least: int = 2) -> tuple[float, ...]:
    """At least ``at_least`` distinct batch sizes >= 1 in increasing order (the engine's
    :func:`~nqm.numerics.validation.validate_batch_sizes`); ``ValueError`` naming ``name`` otherwise."""
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


def figure_needs(name: str, options: dict[str, Any]) -> list[Any]:
    """The needs of figure ``name`` called with ``options`` (:data:`FIGURE_NEEDS`; none for a figure
    that shares nothing); bad arguments fail here, before any work."""
    if name not in FIGURE_NEEDS:
        return []
    bound = inspect.signature(FIGURES[name]).bind(**options)
    bound.apply_defaults()
    return FIGURE_NEEDS[name](**bound.arguments)


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
    computed: FigureData | None = None,
) -> list[FigureResult]:
    """Render figures ``names`` (default :data:`DEFAULT_FIGURES`, plus ``network_vs_nqm`` when
    ``validation`` — a folder written by :func:`~nqm.proofs.run_validation` — is given) and save
    each into ``folder`` (:func:`save_figure`). Existing files are refused before any work
    unless ``force``.

    The sweeps of all chosen figures are computed first, each distinct one once, in one
    :func:`~nqm.numerics.sweeps` call (:class:`FigureData`; Fig. 3b, 3c and 15 share one schedule
    sweep); ``computed`` holds results computed beforehand (e.g. by the report), which are not
    computed again. ``executor``: the toolkit's convention (:func:`~nqm.numerics.resolve_executor`;
    a local pool is opened once for all figures). ``on_saved(result, paths)`` is called after each
    figure is written. ``optimizers`` (any forms, user specs included) replace the default
    optimizers of the figures that take ``optimizers`` (fig13, critical_vs_power) and, when there
    is one, the ``optimizer`` of steps_surface; the paper's other figures draw fixed ones.
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
    computed = FigureData() if computed is None else computed
    given: dict[str, dict[str, Any]] = {}
    for name in chosen:
        if name != "network_vs_nqm":
            accepted = inspect.signature(FIGURES[name]).parameters
            offered = [("optimizers", chosen_optimizers), ("optimizer", None if chosen_optimizers is None else chosen_optimizers[0])]
            given[name] = {k: v for k, v in offered if v is not None and k in accepted}
    needs = [need for name, options in given.items() for need in figure_needs(name, options)]
    results = []
    with open_executor("serial" if executor is None else where, len(chosen) * MAX_WORKERS) as pool:
        shared = None if executor is None else pool or "serial"  # one pool for all figures; None stays automatic
        computed.compute(needs, executor=shared, progress=progress)
        for name in chosen:
            if name == "network_vs_nqm":
                result = FIGURES[name](validation)
            else:
                accepted = inspect.signature(FIGURES[name]).parameters
                extra = {k: v for k, v in (("executor", shared), ("progress", progress), ("computed", computed)) if k in accepted}
                result = FIGURES[name](**given[name], **extra)
            paths = save_figure(result, folder, force=force)
            if on_saved is not None:
                on_saved(result, paths)
            results.append(result)
    return results
