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
* ``schedules/`` — time-varying training: at a few batch sizes, the final risk of the tuned
  constant setting against the optimal learning-rate schedule on the same budget
  (:mod:`._schedules`);
* ``monte_carlo/`` — simulated mean loss against the exact risk, with exact tolerances
  (:mod:`._tasks`), as CSV and PNG;
* ``validation/`` — the PyTorch check, when the ``torch`` extra is installed
  (:data:`VALIDATION_MODES`).

Everything runs by one executor convention (:func:`~nqm.numerics.resolve_executor`) and one
task-mapping function (:func:`~nqm.numerics.map_tasks`). The sweeps of the sweeps section and of
every figure are computed once, in one :func:`~nqm.numerics.sweeps` call, and the figures are drawn
from them (:class:`~nqm.proofs.figures.FigureData`). The independent sections (derivations, proofs,
Monte Carlo, validation; then one drawing per derivation section) run on the executor beside them
when it runs tasks in other processes (``nqm report`` uses a local process pool) or on a cluster.
With threads (the default) they run one after the other in this process, since matplotlib is
not thread-safe, and the threads run the numeric work.
"""

from __future__ import annotations

import platform
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from nqm.numerics import (
    MAX_WORKERS,
    PAPER_BATCH_SIZES,
    ExecutorArg,
    Problem,
    Progress,
    map_tasks,
    open_executor,
    resolve_executor,
)
from nqm.theory import get_spec, registered_specs, select_specs

from .._limits import VALIDATION_MODES  # the CLI's help shows them
from ..figures import DEFAULT_FIGURES, FIGURES, FigureData, SweepNeed, figure_needs, make_figures, save_figure
from ._pages import write_pages
from ._schedules import DEFAULT_SCHEDULE_COMPARISONS, ScheduleComparison, schedules_task
from ._tasks import (
    DEFAULT_MONTE_CARLO,
    MonteCarloOutcome,
    MonteCarloSetting,
    derivation_task,
    monte_carlo_task,
    proofs_task,
    validation_task,
)

__all__ = ["MonteCarloSetting", "ReportConfig", "SECTIONS", "VALIDATION_MODES", "build_report", "resolve_validation"]

#: the report's sections, in page order
SECTIONS = ("derivations", "proofs", "figures", "sweeps", "schedules", "monte_carlo", "validation")

@dataclass(frozen=True)
class ReportConfig:
    """What the report computes. The default is the paper's protocol (docs/math/protocol.md).

    ``problem``: the NQM (default :meth:`Problem.paper() <nqm.numerics.Problem.paper>`, the authors'
    binned problem: C = H on the binned curvatures; the header names it); ``batch_sizes``, ``powers``, ``target``,
    ``sweep_optimizers``: the sweeps (paper grids); ``optimizers``: the derivations (None: every
    registered optimizer); ``proof_specs``: :func:`~nqm.proofs.run_all`'s argument (None: the
    whole catalogue); ``figures``: figure names (None: every default figure);
    ``schedules``: the rows of the time-varying training section (:mod:`._schedules`);
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
    schedules: tuple[ScheduleComparison, ...] = DEFAULT_SCHEDULE_COMPARISONS
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
            schedules=(ScheduleComparison("sgd", 4.0, pieces=3), ScheduleComparison("momentum", 64.0, pieces=3)),
            monte_carlo=(
                MonteCarloSetting("SGD", "sgd", {"lr": 0.5}, 8.0, steps=(0, 5, 20), runs=200),
                MonteCarloSetting("momentum", "momentum", {"lr": 0.1, "beta": 0.8}, 8.0, steps=(0, 5, 20), runs=200),
            ),
        )

    def sweep_configs(self) -> list[tuple[str, float]]:
        """The (optimizer, p) of every sweep, optimizer-major."""
        return [(name, float(p)) for name in self.sweep_optimizers for p in self.powers]

    def sweep_needs(self) -> list[SweepNeed]:
        """The sweeps of the sweeps section (paper grids), in :meth:`sweep_configs` order."""
        Bs = tuple(float(b) for b in self.batch_sizes)
        return [SweepNeed(self.problem, name, p, Bs, float(self.target)) for name, p in self.sweep_configs()]

    def sweeps_in_figures(self) -> list[str]:
        """The figures that draw some of these very sweeps (computed once for both): those whose
        needs (:func:`~nqm.proofs.figures.figure_needs`, default arguments) share a sweep with
        :meth:`sweep_needs`; Fig. 3a and 4 on the default configuration."""
        ours = {need.key() for need in self.sweep_needs()}
        names = DEFAULT_FIGURES if self.figures is None else self.figures
        return [name for name in names if any(need.key() in ours for need in figure_needs(name, {}))]


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
    """Per-section wall clock (start to the section's last result) and summed task seconds."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.wall: dict[str, float] = {}
        self.task: dict[str, float] = {}

    def finished(self, section: str) -> None:
        """A result of ``section`` has just come."""
        self.wall[section] = time.perf_counter() - self.start

    def spent(self, section: str, seconds: float) -> None:
        """A task of ``section`` ran for ``seconds``."""
        self.task[section] = self.task.get(section, 0.0) + seconds


@dataclass
class _Results:
    derivations: tuple[str, list[Any]] | None = None
    rendered: list[Any] = field(default_factory=list)
    proofs: list[Any] | None = None
    sweeps: list[Any] | None = None
    schedules: list[dict[str, Any]] | None = None
    figures: list[tuple[Any, list[Path]]] = field(default_factory=list)
    monte_carlo: list[MonteCarloOutcome] = field(default_factory=list)
    validation: dict[str, Any] | None = None


@dataclass(frozen=True)
class _Task:
    """One of the report's tasks for :func:`~nqm.numerics.map_tasks`: ``fn(arg)``, which returns
    ``(result, seconds)``, a unit of ``section`` named ``label`` in the progress."""

    section: str
    label: str
    fn: Callable[[Any], tuple[Any, float]]
    arg: Any


def _call(task: _Task) -> tuple[Any, float]:
    """Run one :class:`_Task` (module level: it travels to worker processes)."""
    return task.fn(task.arg)


def _mapped(tasks: Sequence[_Task], executor: ExecutorArg, progress: Progress | None, timer: _Timer) -> list[Any]:
    """The results of ``tasks`` by :func:`~nqm.numerics.map_tasks` on ``executor``; ``progress`` shows each
    task's label as it finishes, and the timer notes each section's last result and task seconds."""

    def watch(indices: Iterable[int], total: int) -> Iterator[int]:
        last: list[int] = []

        def labels() -> Iterator[str]:
            for i in indices:
                last.append(i)
                yield tasks[i].label

        for _ in labels() if progress is None else progress(labels(), total):
            yield last[-1]
            timer.finished(tasks[last[-1]].section)  # resumed: the task has finished

    done = map_tasks(_call, tasks, executor=executor, progress=watch)
    for task, (_, seconds) in zip(tasks, done):
        timer.spent(task.section, seconds)
    return [result for result, _ in done]


def _section_tasks(config: ReportConfig, out: Path, sections: Sequence[str], validation: str, force: bool) -> list[_Task]:
    """The report's independent tasks: the derivations, the proofs, the validation, the schedule comparisons
    and each Monte-Carlo setting."""
    tasks = []
    # spec objects, not names: a worker need not share this process's registry (spawned or remote)
    if "derivations" in sections:
        tasks.append(_Task("derivations", "derivations: derived and drawn", derivation_task, tuple(select_specs(config.optimizers))))
    if "proofs" in sections:
        registered = tuple(registered_specs())
        chosen = registered if config.proof_specs is None else tuple(get_spec(name) for name in config.proof_specs)
        tasks.append(_Task("proofs", "proofs: run", proofs_task, (chosen, registered)))
    if "validation" in sections and validation != "none":
        tasks.append(_Task("validation", "validation: done", validation_task, (validation, str(out / "validation"), force)))
    if "schedules" in sections:
        tasks.append(_Task("schedules", "time-varying training: compared", schedules_task,
                           (config.problem, config.schedules, float(config.target))))
    if "monte_carlo" in sections:
        tasks += [_Task("monte_carlo", f"Monte Carlo: {s.label}", monte_carlo_task, (config.problem, s)) for s in config.monte_carlo]
    return tasks


def _figures_and_sweeps(config: ReportConfig, out: Path, sections: Sequence[str], force: bool, executor: ExecutorArg,
                        drawing: ExecutorArg, res: _Results, timer: _Timer, computed_event: threading.Event) -> Iterator[str]:
    """The sweeps of the sweeps section and of every figure in one :func:`~nqm.numerics.sweeps` call
    (:class:`~nqm.proofs.figures.FigureData`) on ``executor``, then each figure drawn from them (what
    a figure still computes itself, the surfaces, on ``drawing``); yields what finished.
    ``computed_event`` is set once the sweeps are computed."""
    ours = config.sweep_needs() if "sweeps" in sections else []
    names = [] if "figures" not in sections else list(DEFAULT_FIGURES if config.figures is None else config.figures)
    clock = time.perf_counter()
    try:
        computed = FigureData().compute(ours + [n for name in names for n in figure_needs(name, {})], executor=executor)
    finally:
        computed_event.set()
    res.sweeps = [computed[n] for n in ours]
    timer.finished("sweeps")
    timer.spent("sweeps", time.perf_counter() - clock)
    yield "sweeps: tuned"
    for name in names:
        (result,) = make_figures(out / "figures", [name], force=force, executor=drawing, computed=computed,
                                 on_saved=lambda result, paths: res.figures.append((result, paths)))
        timer.finished("figures")
        timer.spent("figures", result.seconds)
        yield f"figures: {name}"


def _run(config: ReportConfig, out: Path, sections: Sequence[str], validation: str, force: bool,
         executor: ExecutorArg, progress: Progress | None, timer: _Timer) -> _Results:
    """Compute everything the report shows, by one executor convention.

    The numeric work (sweeps, schedules, surfaces) runs on ``executor`` (``None``: each call's
    automatic pool). The sections' tasks (:func:`_section_tasks`) run there too when it runs tasks
    in other processes (a process pool, a cluster): they are mapped from a second thread once this
    one has computed the sweeps (many small tasks, which keep every worker busy);
    then this thread draws the figures (the surfaces' few tasks here) while the workers run the
    sections. Threads share this process, whose matplotlib (figures, formula drawings, the
    validation's plots) is not thread-safe: with threads the sections run here, one after the other.
    """
    res = _Results()
    tasks = _section_tasks(config, out, sections, validation, force)
    chain = "figures" in sections or "sweeps" in sections
    with open_executor("serial" if executor is None else resolve_executor(executor), MAX_WORKERS) as opened:
        numeric = None if executor is None else opened or "serial"
        here = numeric is None or numeric == "serial" or isinstance(numeric, ThreadPoolExecutor)
        outcome: dict[str, Any] = {}
        computed = threading.Event()  # the sweeps are computed: the sections' tasks may use the executor
        if not chain:
            computed.set()

        def sections_apart() -> None:
            try:
                computed.wait()
                outcome["done"] = _mapped(tasks, numeric, None, timer)
            except BaseException as exc:  # noqa: BLE001 - re-raised in this thread
                outcome["error"] = exc

        apart = None if here or not tasks else threading.Thread(target=sections_apart, daemon=True)
        if apart is not None:
            apart.start()
        try:
            if chain:
                units = 1 + len(DEFAULT_FIGURES if config.figures is None else config.figures) * ("figures" in sections)
                # the pool is busy with the sections by the time figures draw: their own few tasks run here
                chained = _figures_and_sweeps(config, out, sections, force, numeric, numeric if here else "serial", res,
                                              timer, computed)
                for _ in (progress or (lambda it, n: it))(chained, units):
                    pass
        finally:
            computed.set()  # also on an error, so that the second thread ends
        if apart is None:
            done = _mapped(tasks, "serial", progress, timer)
        else:
            apart.join()
            if "error" in outcome:
                raise outcome["error"]
            done = outcome["done"]
        for task, result in zip(tasks, done):
            _collect(task.section, result, res)
    return res


def _collect(section: str, result: Any, res: _Results) -> None:
    """Store the result of one section task."""
    if section == "derivations":
        res.derivations, res.rendered = result
    elif section == "proofs":
        res.proofs = result
    elif section == "schedules":
        res.schedules = result
    elif section == "monte_carlo":
        res.monte_carlo.append(result)
    elif section == "validation":
        res.validation = result


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
    :data:`VALIDATION_MODES`. ``executor``: where the work runs, by the toolkit's convention
    (:func:`~nqm.numerics.resolve_executor`): with processes or a cluster the sections run side by
    side with the sweeps; with threads (``None``, the default, an integer, ``"threads"``) one after
    the other in this process, the threads running the sweeps; ``"processes"`` is faster but needs
    a guarded script. ``progress``: a ``wrapper(iterable, total)`` (as for
    :func:`~nqm.numerics.map_tasks`) advanced once per finished unit of work, called once per
    stage (the sweeps and figures; the sections, when they run in this process; the formula
    drawings); its items name the unit, headed by its section (``"figures: fig3a"``,
    ``"Monte Carlo: SGD"``).
    ``config``: what to compute (default: the paper's protocol, :class:`ReportConfig`);
    ``sections``: a subset of :data:`SECTIONS`; ``command``: the command line to print in
    the header (default: this process's).
    """
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
        clock = time.perf_counter()
        result = FIGURES["network_vs_nqm"](out / "validation")
        res.figures.append((result, save_figure(result, out / "figures", force=force)))
        timer.finished("figures")
        timer.spent("figures", time.perf_counter() - clock)
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

