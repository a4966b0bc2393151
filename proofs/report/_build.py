r"""``nqm report``: one folder with everything the toolkit derives, proves and computes on the
paper's problem, linked from an index page.

:func:`build_report` writes into ``out_dir``

* ``index.html`` and ``index.md`` — header (versions, the problem, the command, the time of
  each section) and every section below, linked;
* ``derivations.html`` (formulas drawn with matplotlib's mathtext as SVG in ``math/``, LaTeX
  source beside each) and ``derivations.tex`` (:func:`~nqm.theory.latex_document`);
* ``proofs/proofs.json``, ``proofs/proofs.tex`` (:func:`~nqm.proofs.run_all` with the writers
  of :mod:`nqm.proofs.claims._results`) and the proof table;
* ``figures/`` — every default figure of :mod:`nqm.proofs.figures._core` (PNG, PDF, CSV, JSON);
* ``sweeps/`` — one CSV per (optimizer, p) of the paper's Fig. 3a/4 configuration (tuned on
  the paper's grids, target 0.01) and ``critical_batch_sizes.csv`` (McCandlish's
  :math:`\mathcal B_{\rm crit} = E_{\min}/S_{\min}` and the 2x perfect-scaling breakdown);
  the same sweeps feed Fig. 3a and 4 (computed once);
* ``monte_carlo/`` — simulated mean loss against the exact risk, with exact tolerances
  (:mod:`._tasks`), as CSV and PNG;
* ``validation/`` — the PyTorch check, when the ``torch`` extra is installed
  (:data:`VALIDATION_MODES`).

Independent sections run as tasks on the executor of the toolkit's convention
(:func:`~nqm.numerics.resolve_executor`) when it runs them in other processes (``nqm report``
uses a local process pool) or on a cluster; the symbolic derivations run in this process
meanwhile. With threads (the default) the sections run one after the other in this process, since
matplotlib is not thread-safe, and the threads run the sweeps inside them.
"""

from __future__ import annotations

import platform
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any

from nqm.numerics import Problem
from nqm.numerics._parallel import MAX_WORKERS, ExecutorArg, LocalWorkers, open_executor, resolve_executor
from nqm.numerics._sweep import PAPER_BATCH_SIZES

from .._limits import VALIDATION_MODES  # the CLI's help shows them
from ._tasks import (
    DEFAULT_MONTE_CARLO,
    MonteCarloOutcome,
    MonteCarloSetting,
    derivation_task,
    monte_carlo_task,
    proofs_task,
    render_task,
    validation_task,
)

__all__ = ["MonteCarloSetting", "ReportConfig", "SECTIONS", "VALIDATION_MODES", "build_report", "resolve_validation"]

#: the report's sections, in page order
SECTIONS = ("derivations", "proofs", "figures", "sweeps", "monte_carlo", "validation")

Progress = Callable[[Iterable[Any], int], Iterable[Any]]


@dataclass(frozen=True)
class ReportConfig:
    """What the report computes. The default is the paper's protocol (docs/math/protocol.md).

    ``problem``: the NQM (default :meth:`Problem.paper() <nqm.numerics.Problem.paper>`, the authors'
    binned problem: C = H on the binned curvatures; the header names it); ``batch_sizes``, ``powers``, ``target``,
    ``sweep_optimizers``: the sweeps (paper grids); ``optimizers``: the derivations (None: every
    registered optimizer); ``proof_specs``: :func:`~nqm.proofs.run_all`'s argument (None: the
    whole catalogue); ``figures``: figure names (None: every default figure);
    ``monte_carlo``: the Monte-Carlo settings; ``false_failure_rate``: the family-wise rate of
    the Monte-Carlo table's tolerances.
    """

    problem: Problem = field(default_factory=Problem.paper)
    batch_sizes: tuple[float, ...] = tuple(float(b) for b in PAPER_BATCH_SIZES)
    powers: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75)
    target: float = 0.01
    sweep_optimizers: tuple[str, ...] = ("sgd", "momentum", "ema")
    optimizers: tuple[str, ...] | None = None
    proof_specs: tuple[str, ...] | None = None
    figures: tuple[str, ...] | None = None
    monte_carlo: tuple[MonteCarloSetting, ...] = DEFAULT_MONTE_CARLO
    false_failure_rate: float = 1e-6

    @classmethod
    def quick(cls) -> ReportConfig:
        """A small configuration for tests: a 12-bin power-law problem, three batch sizes, two
        powers, the cheap figures (and the notebook's training curves, a few seconds), the SGD
        proofs, short Monte-Carlo runs."""
        problem = Problem.power_law(200, bins=12)
        return cls(
            problem=problem,
            batch_sizes=(4.0, 64.0, 1024.0),
            powers=(0.0, 0.5),
            target=0.05,
            proof_specs=("sgd",),
            figures=("fig2", "fig11", "training_curves"),
            monte_carlo=(
                MonteCarloSetting("SGD", "sgd", {"lr": 0.5}, 8.0, steps=(0, 5, 20), runs=200),
                MonteCarloSetting("momentum", "momentum", {"lr": 0.1, "beta": 0.8}, 8.0, steps=(0, 5, 20), runs=200),
            ),
        )

    def sweep_configs(self) -> list[tuple[str, float]]:
        """The (optimizer, p) of every sweep, optimizer-major."""
        return [(name, float(p)) for name in self.sweep_optimizers for p in self.powers]

    def sweeps_in_figures(self) -> list[str]:
        """The figures that draw these very sweeps (so they are computed once): Fig. 3a and 4 when
        the problem, batch sizes, powers and target are the figures' defaults."""
        from nqm.numerics._parallel import config_key

        from ..figures._core import DEFAULT_FIGURES
        from ..figures._paper import PAPER_POWERS

        names = DEFAULT_FIGURES if self.figures is None else self.figures
        same = (config_key(self.problem) == config_key(Problem.paper()) and self.powers == PAPER_POWERS
                and self.batch_sizes == tuple(float(b) for b in PAPER_BATCH_SIZES) and self.target == 0.01)
        return [n for n in ("fig3a", "fig4") if same and n in names]


# ---------------------------------------------------------------------- validation mode
def _torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_validation(mode: str) -> tuple[str, str]:
    """``(mode, explanation)`` for a ``--validation`` choice (``ValueError`` for an unknown one,
    ``ImportError`` when a PyTorch mode is asked for without PyTorch)."""
    if mode not in VALIDATION_MODES:
        raise ValueError(f"validation must be one of {', '.join(VALIDATION_MODES)}; got {mode!r}")
    have = _torch_available()
    if mode in ("quick", "reduced", "full") and not have:
        raise ImportError("the PyTorch validation needs the torch extra: pip install 'nqm-toolkit[torch]'")
    if mode == "auto":
        mode = "reduced" if have else "none"
    why = {
        "none": ("PyTorch validation skipped (--validation none). Run " if have else
                 "PyTorch validation skipped (PyTorch is not installed). Install the extra with "
                 "<code>pip install 'nqm-toolkit[torch]'</code> and run ")
        + "<code>nqm report --validation reduced</code> (the network check, reduced: about a minute) or "
        "<code>--validation full</code> / <code>nqm validate OUT</code> (the full sweep, minutes).",
        "quick": "Quick PyTorch validation: linear regression trained with PyTorch against the constant-noise NQM and the "
        "exact multiplicative-noise model, without the digits-network sweep (<code>--validation reduced</code> or "
        "<code>--validation full</code> / <code>nqm validate OUT</code> add it).",
        "reduced": "Reduced PyTorch validation (run_validation(reduced=True)): linear regression and the digits MLP "
        "against its fitted NQM. The full sweep: <code>--validation full</code>.",
        "full": "Full PyTorch validation (run_validation(reduced=False)).",
    }[mode]
    return mode, why


# ---------------------------------------------------------------------- running the tasks
class _Timer:
    """Per-section wall clock (first start to last finish) and summed task seconds."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.wall: dict[str, float] = {}
        self.task: dict[str, float] = {}

    def done(self, section: str, seconds: float) -> None:
        self.wall[section] = time.perf_counter() - self.start
        self.task[section] = self.task.get(section, 0.0) + seconds


class _Serial(Executor):
    """Runs each task when it is submitted (``executor="serial"``)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:  # type: ignore[override]
        fut: Future = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller through the future
            fut.set_exception(exc)
        return fut


@dataclass
class _Results:
    derivations: tuple[str, list[Any]] | None = None
    rendered: dict[int, Any] = field(default_factory=dict)
    proofs: list[Any] | None = None
    sweeps: list[Any] | None = None
    figures: list[tuple[Any, list[Path]]] = field(default_factory=list)
    monte_carlo: list[MonteCarloOutcome] = field(default_factory=list)
    validation: dict[str, Any] | None = None


def _figures_and_sweeps(config: ReportConfig, out: Path, force: bool, executor: ExecutorArg, events: queue.Queue) -> None:
    """Sweeps, then the figures, sharing identical sweeps (:func:`~nqm.proofs.figures._core.shared_results`)."""
    from ..figures._core import make_figures, run_sweeps, shared_results

    try:
        with shared_results():
            clock = time.perf_counter()
            sweeps = run_sweeps(config.problem, config.sweep_configs(), batch_sizes=config.batch_sizes,
                                target=config.target, executor=executor)
            events.put(("sweeps", sweeps, time.perf_counter() - clock))
            make_figures(out / "figures", list(config.figures) if config.figures is not None else None, force=force,
                         executor=executor, on_saved=lambda result, paths: events.put(("figure", (result, paths), result.seconds)))
        events.put(("figures-done", None, 0.0))
    except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
        events.put(("error", exc, 0.0))


def _run(config: ReportConfig, out: Path, sections: Sequence[str], validation: str, force: bool,
         executor: ExecutorArg, progress: Progress | None, timer: _Timer) -> _Results:
    """Processes or a cluster run the sections side by side. Threads share this process, whose
    matplotlib (figures, formula drawings, the validation's plots) is not thread-safe: the sections
    then run one after the other here and the threads run the numeric tasks inside them (the
    sweeps; ``None``: each sweep's own automatic pool)."""
    where = resolve_executor(executor)
    threads = isinstance(where, ThreadPoolExecutor) or isinstance(where, LocalWorkers) and where.kind == "threads"
    with open_executor("serial" if executor is None and threads else where, MAX_WORKERS) as opened:
        if threads or opened is None:
            numeric = None if executor is None else opened or "serial"
            return _run_on(config, out, sections, validation, force, _Serial(), numeric, progress, timer)
        return _run_on(config, out, sections, validation, force, opened, opened, progress, timer)


def _run_on(config: ReportConfig, out: Path, sections: Sequence[str], validation: str, force: bool,
            pool: Executor, numeric: ExecutorArg, progress: Progress | None, timer: _Timer) -> _Results:
    """:func:`_run` with the sections on ``pool`` and the sweeps on ``numeric`` (a local pool is
    shut down by the caller, at once on an interruption)."""
    from nqm.theory import select_specs

    from ..figures._core import DEFAULT_FIGURES

    res = _Results()
    events: queue.Queue = queue.Queue()
    pending = 0

    def submit(kind: str, fn: Callable[[Any], Any], arg: Any) -> None:
        nonlocal pending
        pending += 1
        fut = pool.submit(fn, arg)
        fut.add_done_callback(lambda f: events.put((kind, f, None)))

    chain = "figures" in sections or "sweeps" in sections
    if chain and "figures" not in sections:
        config = replace(config, figures=())
    n_figures = len(config.figures if config.figures is not None else DEFAULT_FIGURES)
    # units of progress: the sweeps, each figure and the chain's end; the derivations and one
    # drawing per section; the proofs; the validation; each Monte-Carlo setting
    total = (n_figures + 2) * chain
    total += (1 + _section_count(config.optimizers)) * ("derivations" in sections)
    total += ("proofs" in sections) + ("validation" in sections and validation != "none")
    total += len(config.monte_carlo) * ("monte_carlo" in sections)
    thread = None
    # the figures' chain first (its sweeps head the queue), then the derivations (their drawings
    # are submitted as they finish), then the independent sections
    if chain:
        pending += 1
        args = (config, out, force, numeric, events)
        if isinstance(pool, _Serial):
            _figures_and_sweeps(*args)
        else:
            thread = threading.Thread(target=_figures_and_sweeps, args=args, daemon=True)
            thread.start()
    # spec objects, not names: a worker need not share this process's registry (spawned or remote)
    if "derivations" in sections:
        submit("derivations", derivation_task, tuple(select_specs(config.optimizers)))
    if "proofs" in sections:
        submit("proofs", proofs_task, config.proof_specs)
    if "validation" in sections and validation != "none":
        submit("validation", validation_task, (validation, str(out / "validation"), force))
    if "monte_carlo" in sections:
        for setting in config.monte_carlo:
            submit("monte_carlo", monte_carlo_task, (config.problem, setting))

    def stream() -> Iterator[str]:
        nonlocal pending
        while pending:
            kind, payload, seconds = events.get()
            if kind == "error":
                raise payload
            if kind == "figures-done":
                pending -= 1
                yield _label(kind, payload, res)
                continue
            if isinstance(payload, Future):
                pending -= 1
                payload, seconds = payload.result()
            _collect(kind, payload, seconds, res, timer, submit)
            yield _label(kind, payload, res)

    for _ in (progress or (lambda it, n: it))(stream(), total):
        pass
    if thread is not None:
        thread.join()
    return res


def _section_count(specs: Sequence[str] | None) -> int:
    """How many sections the derivations have: one per optimizer, plus the paper's statements if any concern them."""
    from nqm.theory import STATEMENTS, select_specs

    names = {s.name for s in select_specs(specs)}
    return len(names) + any(set(st.specs) <= names for st in STATEMENTS)


def _collect(kind: str, payload: Any, seconds: float, res: _Results, timer: _Timer,
             submit: Callable[[str, Callable[[Any], Any], Any], None]) -> None:
    """Store one finished unit; a finished derivation submits its drawing tasks."""
    if kind == "derivations":
        res.derivations = payload
        timer.done("derivations", seconds)
        # one drawing task per section (each optimizer, the paper's statements)
        for i, section in enumerate(payload[1]):
            submit(f"render:{i}", render_task, section)
    elif kind.startswith("render:"):
        res.rendered[int(kind.split(":")[1])] = payload
        timer.done("derivations", seconds)
    elif kind == "proofs":
        res.proofs = payload
        timer.done("proofs", seconds)
    elif kind == "sweeps":
        res.sweeps = payload
        timer.done("sweeps", seconds)
    elif kind == "figure":
        res.figures.append(payload)
        timer.done("figures", seconds)
    elif kind == "monte_carlo":
        res.monte_carlo.append(payload)
        timer.done("monte_carlo", seconds)
    elif kind == "validation":
        res.validation = payload
        timer.done("validation", seconds)


def _label(kind: str, payload: Any, res: _Results) -> str:
    """What a finished unit was, headed by its section (the items ``progress`` sees)."""
    if kind.startswith("render:"):
        return f"derivations: drew {res.derivations[1][int(kind.split(':')[1])][0]}"  # type: ignore[index]
    if kind == "figure":
        return f"figures: {payload[0].name}"
    if kind == "monte_carlo":
        return f"Monte Carlo: {payload.setting.label}"
    return {"derivations": "derivations: derived", "sweeps": "sweeps: tuned", "figures-done": "figures: all written",
            "proofs": "proofs: run", "validation": "validation: done"}[kind]


# ---------------------------------------------------------------------- the public entry
def build_report(
    out_dir: str | Path = "nqm-report",
    *,
    force: bool = False,
    validation: str = "auto",
    executor: ExecutorArg = None,
    progress: Progress | None = None,
    config: ReportConfig | None = None,
    sections: Sequence[str] | None = None,
    command: str | None = None,
) -> Path:
    """Build the report folder ``out_dir`` and return the path of its ``index.html``.

    ``force``: write into an existing non-empty folder (else ``FileExistsError``; files of the
    report are replaced, other files are left alone). ``validation``: one of
    :data:`VALIDATION_MODES`. ``executor``: where the sections run, by the toolkit's convention
    (:func:`~nqm.numerics.resolve_executor`): with processes or a cluster the sections run side by
    side; with threads (``None``, the default, an integer, ``"threads"``) one after the other in
    this process, the threads running the sweeps inside them; ``"processes"`` is faster but needs a
    guarded script. ``progress``: a ``wrapper(iterable, total)`` (as for
    :func:`~nqm.numerics._parallel.map_tasks`) advanced once per finished unit of work; its items
    name the unit, headed by its section (``"figures: fig3a"``, ``"Monte Carlo: SGD"``).
    ``config``: what to compute (default: the paper's protocol, :class:`ReportConfig`);
    ``sections``: a subset of :data:`SECTIONS`; ``command``: the command line to print in
    the header (default: this process's).
    """
    from ._pages import write_pages

    out = Path(out_dir)
    chosen = tuple(SECTIONS if sections is None else sections)
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown:
        raise ValueError(f"sections must be a subset of {', '.join(SECTIONS)}; got {unknown[0]!r}")
    mode, why = resolve_validation(validation)
    resolve_executor(executor)  # a bad value fails before any work
    if out.exists() and not out.is_dir():
        raise ValueError(f"out_dir must be a folder; {out} is a file")
    if out.exists() and any(out.iterdir()) and not force:
        raise FileExistsError(f"{out} exists and is not empty; pass force=True (--force) to overwrite")
    out.mkdir(parents=True, exist_ok=True)
    config = config or ReportConfig()
    timer = _Timer()
    res = _run(config, out, chosen, mode, force, executor, progress, timer)
    if res.validation is not None and res.validation["report"] is not None and "figures" in chosen:
        from ..figures._core import FIGURES, save_figure

        clock = time.perf_counter()
        result = FIGURES["network_vs_nqm"](out / "validation")
        res.figures.append((result, save_figure(result, out / "figures", force=force)))
        timer.done("figures", time.perf_counter() - clock)
    return write_pages(
        out, config=config, sections=chosen, results=res, timer=timer, validation=(mode, why),
        command=command or f"nqm.proofs.build_report({str(out)!r}, force={force}, validation={validation!r})",
        versions=_versions(),
    )


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "platform": platform.platform()}
    for name in ("nqm-toolkit", "numpy", "scipy", "sympy", "mpmath", "matplotlib", "torch"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out

