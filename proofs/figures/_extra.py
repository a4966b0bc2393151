r"""Figures the paper lacks: steps-to-target surfaces over (α, β), the critical batch size
against the preconditioning power p, and the network against the NQM (from the PyTorch
validation's tables).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.colors import LogNorm

from nqm.numerics import (
    CriticalBatchSizes,
    ExecutorArg,
    OptimizerRef,
    Problem,
    Progress,
    as_optimizer_spec,
    map_tasks,
    steps_to_target,
)

from ._core import (
    FigureData,
    FigureResult,
    Records,
    SweepNeed,
    batch_label,
    batch_sizes_in_order,
    figure_data,
    figure_optimizers,
    new_figure,
    optimizer_key,
    optimizer_label,
    problem_or_paper,
    register_figure,
    steps_axes,
)

__all__ = ["figure_steps_surface", "figure_critical_vs_power", "figure_network_vs_nqm", "SURFACE_GRID", "CRITICAL_POWERS"]

#: default powers of the critical-batch-size figure: 0, 1/8, ..., 7/8. p = 1 is allowed (and fast: every
#: curvature becomes 1 and the engine merges the bins), but there the critical batch size leaves the
#: swept range B <= 2^20: SGD still scales perfectly at 2^20 (fitted S_min = 0, so both definitions
#: give inf) and EMA's McCandlish fit extrapolates to 2.2e7.
CRITICAL_POWERS = tuple(np.arange(8) / 8)

#: default (α, β) grid of the surfaces: α = logspace(-8, 1, 46) (5 per decade, the paper's range),
#: β = 1 - logspace(-5, 0, 20) (the paper's momentum axis)
SURFACE_GRID = {"lr": np.logspace(-8, 1, 46), "second": 1 - np.logspace(-5, 0, 20)}


def surface_axis(spec: object) -> tuple[str, str]:
    """``(hyperparameter, LaTeX symbol)`` of the second axis of a steps surface of ``spec`` (an
    :class:`~nqm.theory.OptimizerSpec`): its one hyperparameter besides ``lr``, with range [0, 1)
    (momentum's beta, EMA's gamma, or a user spec's); ``ValueError`` naming ``optimizer`` for any other spec."""
    import sympy as sp

    others = [hp for hp in spec.hyperparameters if hp.name != "lr"]
    if len(spec.hyperparameters) != 2 or len(others) != 1 or (others[0].lower, others[0].upper) != (0.0, 1.0):
        raise ValueError(f"optimizer must have lr and one more hyperparameter in [0, 1) for a steps surface; "
                         f"{spec.name} has {', '.join(hp.name for hp in spec.hyperparameters)}")
    return others[0].name, sp.latex(others[0].symbol)


def surface_task(job: tuple[Problem, OptimizerRef, str, np.ndarray, np.ndarray, float, float, float]) -> np.ndarray:
    """Exact steps to target on an (α, ``second``) grid at one batch size (module level, picklable;
    one vectorised call): ``(problem, optimizer, second, lrs, seconds, p, B, target)``."""
    problem, spec, second, lrs, seconds, power, B, target = job
    lr, sec = np.meshgrid(lrs, seconds, indexing="ij")
    opt = spec(lr=lr, precond_power=power, **{second: sec})
    return np.asarray(steps_to_target(problem, opt, batch_size=B, target=target), dtype=float)


@register_figure("steps_surface")
def figure_steps_surface(
    *, problem: Problem | None = None, batch_sizes: Sequence[float] = (16.0, 1024.0, 65536.0), optimizer: object = "momentum",
    lrs: Sequence[float] | None = None, seconds: Sequence[float] | None = None, precond_power: float = 0.0, target: float = 0.01,
    executor: ExecutorArg = None, progress: Progress | None = None,
) -> FigureResult:
    r"""Exact steps to target over the (α, β) grid (momentum; γ for EMA) at a few batch sizes.

    ``optimizer``: a class, ``OptimizerSpec``, name or instance (only its spec is drawn: the grid
    sets the values) of any spec with ``lr`` and one hyperparameter in [0, 1) (:func:`surface_axis`).

    One heatmap per B: log α against :math:`1-\beta` (log), colour = steps (log scale, one
    colorbar shared by all panels), white = never reaches the target (unstable or a stationary
    risk above it). The star marks the grid optimum, i.e. what :func:`~nqm.numerics.tune`
    returns on this grid. Default grid: :data:`SURFACE_GRID` (coarser in α than the paper's
    100 points; pass ``lrs`` for more).
    """
    prob = problem_or_paper(problem)
    spec = OptimizerRef(as_optimizer_spec(optimizer).forms)  # only the spec: the grid sets the values
    optimizer_name = spec.name
    second, sym = surface_axis(spec.spec)
    Bs = np.asarray(batch_sizes_in_order("batch_sizes", batch_sizes, at_least=1))
    a = np.asarray(SURFACE_GRID["lr"] if lrs is None else lrs, dtype=float)
    s = np.asarray(SURFACE_GRID["second"] if seconds is None else seconds, dtype=float)
    if a.ndim != 1 or a.size < 2 or np.any(a <= 0):
        raise ValueError(f"lrs must be at least 2 positive learning rates; got {lrs!r}")
    if s.ndim != 1 or s.size < 2 or np.any((s < 0) | (s >= 1)):
        raise ValueError(f"seconds must be at least 2 numbers in [0, 1); got {seconds!r}")
    a, s = np.sort(a), np.sort(s)
    surfaces = map_tasks(surface_task, [(prob, spec, second, a, s, float(precond_power), float(B), float(target)) for B in Bs],
                         executor=executor, progress=progress)
    finite = np.concatenate([S[np.isfinite(S)] for S in surfaces])
    norm = LogNorm(vmin=max(finite.min(), 1), vmax=finite.max()) if finite.size else None
    fig, axes = new_figure(len(Bs), width=3.9 * len(Bs) + 1.0, height=3.8)
    data: Records = []
    mesh = None
    for ax, B, S in zip(axes[0], Bs, surfaces):
        masked = np.ma.masked_invalid(np.where(np.isfinite(S), S, np.nan))
        mesh = ax.pcolormesh(a, 1 - s, masked.T, norm=norm, cmap="viridis", shading="nearest", rasterized=True)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.grid(False)
        label = batch_label(B)
        title = f"{label}: target never reached"
        if np.isfinite(S).any():
            i, j = np.unravel_index(np.argmin(np.where(np.isfinite(S), S, np.inf)), S.shape)
            ax.plot(a[i], 1 - s[j], marker="*", color="red", mec="white", ms=12, ls="none",
                    label=rf"grid optimum: $\alpha={a[i]:.3g}$, $1-{sym}={1 - s[j]:.2g}$")
            ax.plot([], [], "s", color="white", mec="0.5", label="white: never reaches the target")
            ax.legend(loc="upper right", fontsize=6.5)
            title = f"{label}: fewest steps {S[i, j]:,.0f}"
            data.append(dict(batch_size=float(B), lr=float(a[i]), second=float(s[j]), steps=float(S[i, j]), optimum=True))
        ax.set(xlabel=r"learning rate $\alpha$", ylabel=rf"$1-{sym}$", title=title)
        data += [dict(batch_size=float(B), lr=float(x), second=float(y), steps=float(S[k, m]), optimum=False)
                 for k, x in enumerate(a) for m, y in enumerate(s)]
    if mesh is not None and norm is not None:
        fig.colorbar(mesh, ax=list(axes[0]), label=r"steps to target $\varepsilon$", shrink=0.9)
    fig.suptitle(f"Steps to target over $(\\alpha, {sym})$: {optimizer_label(spec)}, $p={precond_power:g}$, "
                 f"$\\varepsilon={target:g}$", fontsize=10)
    caption = (
        f"Exact steps to reach risk {target:g} ({prob.name}) for {optimizer_name} with P = H^{precond_power:g} over the grid of "
        f"learning rate alpha (log) and 1 - {second} (log), one panel per batch size; colour: steps (log scale, shared), white: the "
        "target is never reached (divergent, or the stationary risk is above the target). Red star: the grid optimum "
        "(the tuned setting of nqm.numerics.tune on this grid). Not in the paper. Rows with optimum=True in the data are the stars."
    )
    return FigureResult("steps_surface", fig, data, caption, problem=prob.name)


def _critical_needs(
    *, problem: Problem | None, powers: Sequence[float], optimizers: Sequence[object], batch_sizes: Sequence[float],
    target: float, **_: object,
) -> list[SweepNeed]:
    """The sweeps of the critical-batch-size figure: each optimizer at each power, optimizer-major."""
    prob = problem_or_paper(problem)
    Bs = batch_sizes_in_order("batch_sizes", batch_sizes)
    ps = tuple(float(p) for p in powers)
    if len(ps) < 2 or any(not (0 <= p <= 1) for p in ps):
        raise ValueError(f"powers must hold at least 2 preconditioning powers in [0, 1]; got {list(powers)!r}")
    return [SweepNeed(prob, o, p, Bs, target) for o in figure_optimizers("optimizers", optimizers) for p in ps]


@register_figure("critical_vs_power", needs=_critical_needs)
def figure_critical_vs_power(
    *, problem: Problem | None = None, powers: Sequence[float] = CRITICAL_POWERS,
    optimizers: Sequence[object] = ("sgd", "momentum", "ema"), batch_sizes: Sequence[float] = tuple(2.0 ** np.arange(0, 22)),
    target: float = 0.01, executor: ExecutorArg = None, progress: Progress | None = None, computed: FigureData | None = None,
) -> FigureResult:
    r"""Critical batch size against the preconditioning power p, both definitions
    (:func:`~nqm.numerics.critical_batch_sizes`): McCandlish's fit
    :math:`S = S_{\min}+E_{\min}/B`, :math:`B_{\rm crit}=E_{\min}/S_{\min}` (solid), and the
    batch size where the steps exceed perfect scaling by 2x (dashed), for each optimizer
    (tuned sweeps on the paper's grids; ``optimizers`` in any form, as for
    :func:`~nqm.proofs.figure_13`). Not in the paper."""
    needs = _critical_needs(problem=problem, powers=powers, optimizers=optimizers, batch_sizes=batch_sizes, target=target)
    prob, Bs = needs[0].problem, needs[0].batch_sizes
    k = len(powers)  # sweeps per optimizer
    sweeps = figure_data(computed, needs, executor, progress)
    fig, axes = new_figure(1, width=5.4, height=4.0)
    ax = axes[0, 0]
    data: Records = []
    for i in range(len(needs) // k):
        o = needs[i * k].optimizer
        rows = []
        for need, s in zip(needs[i * k : (i + 1) * k], sweeps[i * k : (i + 1) * k]):
            p = need.precond_power
            rows.append(dict(optimizer=optimizer_key(o), precond_power=p, **s.critical_batch_sizes().record()))
        x = [r["precond_power"] for r in rows]
        label = optimizer_label(o)
        mccandlish, two_x = CriticalBatchSizes.DEFINITIONS
        ax.plot(x, [r[mccandlish] for r in rows], "-o", color=f"C{i}", label=f"{label}: McCandlish $E_{{\\min}}/S_{{\\min}}$")
        ax.plot(x, [r[two_x] for r in rows], "--s", color=f"C{i}", mfc="white", label=f"{label}: 2x perfect scaling")
        data += rows
    ax.set_yscale("log", base=2)
    ax.set(xlabel=r"preconditioning power $p$ ($P=H^p$)", ylabel=r"critical batch size $B_{\rm crit}$",
           title=f"Critical batch size against $p$ ($\\varepsilon={target:g}$)")
    ax.legend(loc="upper left", fontsize=6.8)
    caption = (
        f"Critical batch size against the preconditioning power p ({prob.name}, target {target:g}), from tuned sweeps over "
        f"B = {Bs[0]:g}..{Bs[-1]:g} (paper grids): McCandlish's fit S = S_min + E_min/B, B_crit = E_min/S_min (solid), and the "
        "batch size at which the steps exceed perfect scaling from the smallest B by 2x (dashed; infinite if not reached). "
        "Not in the paper."
    )
    return FigureResult("critical_vs_power", fig, data, caption, problem=prob.name)


#: the validation's optimizers, in its order (``nqm.proofs.networks``)
_NET_ORDER = ("sgd", "momentum", "adam", "ema", "kfac")
#: network optimizers without a spec (their NQM stand-ins are momentum with P = H^0.5 and P = H)
_NETWORK_ONLY = {"adam": "Adam", "kfac": "K-FAC"}


def _net_label(name: str) -> str:
    """Legend text of a validation optimizer: a spec's own label, else the network optimizer's
    name (or the name as written in the table)."""
    if name in _NETWORK_ONLY:
        return _NETWORK_ONLY[name]
    try:
        return optimizer_label(name)
    except ValueError:  # not a registered spec
        return name


def _read_csv(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        raise ValueError(f"validation must be a folder written by nqm.proofs.run_validation; {path} is missing")
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


@register_figure("network_vs_nqm", default=False)
def figure_network_vs_nqm(validation: object) -> FigureResult:
    r"""The network against its fitted NQM, from the PyTorch validation's tables.

    ``validation``: the output folder of :func:`~nqm.proofs.run_validation` (``nqm validate``)
    or its :class:`~nqm.proofs.ValidationReport`. Reads ``digits_steps.csv`` (steps to target
    against B, per optimizer and source) and ``critical_batch_sizes.csv`` (both definitions).
    Left: steps against B, network solid, NQM dashed, same colour per optimizer. Right: critical
    batch size of the NQM against the network's (both definitions), with the diagonal.
    """
    folder = Path(getattr(validation, "out_dir", validation))  # type: ignore[arg-type]
    steps = _read_csv(folder / "digits_steps.csv")
    critical = _read_csv(folder / "critical_batch_sizes.csv")
    fig, axes = new_figure(2, width=9.6, height=4.1)
    left, right = axes[0]
    opts = [o for o in _NET_ORDER if any(r["optimizer"] == o for r in steps)]
    opts += sorted({r["optimizer"] for r in steps} - set(opts))
    data: Records = []
    for i, o in enumerate(opts):
        for source, ls, marker in (("network", "-", "o"), ("nqm", "--", "s")):
            rows = sorted((r for r in steps if r["optimizer"] == o and r["source"] == source), key=lambda r: float(r["batch_size"]))
            B = np.array([float(r["batch_size"]) for r in rows])
            S = np.array([float(r["steps"]) for r in rows])
            ok = np.isfinite(S)
            if ok.any():
                left.plot(B[ok], S[ok], ls=ls, marker=marker, color=f"C{i}", mfc="white" if source == "nqm" else None,
                          label=f"{_net_label(o)} ({'network' if source == 'network' else 'NQM'})")
            data += [dict(kind="steps", optimizer=o, source=source, batch_size=float(b), steps=float(s)) for b, s in zip(B, S)]
    steps_axes(left, "Network (solid) against fitted NQM (dashed)")
    left.legend(ncol=2, fontsize=6.5, loc="lower left")
    markers = dict(zip(CriticalBatchSizes.DEFINITIONS, "os", strict=True))
    vals = []
    for r in critical:
        net, nqm = float(r["network"]), float(r["nqm"])
        data.append(dict(kind="critical batch size", optimizer=r["optimizer"], definition=r["definition"], network=net, nqm=nqm))
        if not (math.isfinite(net) and math.isfinite(nqm)):
            continue
        vals += [net, nqm]
        i = opts.index(r["optimizer"]) if r["optimizer"] in opts else len(opts)
        right.plot(net, nqm, ls="none", marker=markers.get(r["definition"], "^"), color=f"C{i}", ms=7,
                   mfc="white" if r["definition"] == CriticalBatchSizes.DEFINITIONS[1] else None)
    if vals:
        lim = [min(vals) / 1.5, max(vals) * 1.5]
        right.plot(lim, lim, "k:", lw=1, label="NQM = network")
        right.set(xlim=lim, ylim=lim)
    for i, o in enumerate(opts):
        right.plot([], [], "o", color=f"C{i}", label=_net_label(o))
    right.plot([], [], "o", color="0.3", label="McCandlish fit")
    right.plot([], [], "s", color="0.3", mfc="white", label="2x perfect scaling")
    right.set_xscale("log", base=2)
    right.set_yscale("log", base=2)
    right.set(xlabel=r"network $B_{\rm crit}$", ylabel=r"NQM $B_{\rm crit}$", title="Critical batch sizes")
    right.legend(fontsize=6.5, loc="upper left")
    caption = (
        f"Network against NQM (from {folder}): steps to the target against batch size for each optimizer on the PyTorch digits "
        "MLP (solid) and on the NQM fitted to its measured curvature and gradient noise (dashed; Adam and K-FAC stand-ins are "
        "momentum with P = H^0.5 and P = H); right: the NQM's critical batch size against the network's under both definitions "
        "(McCandlish fit, filled; 2x perfect-scaling breakdown, open), with the diagonal. Not in the paper; needs `nqm validate`."
    )
    return FigureResult("network_vs_nqm", fig, data, caption)

