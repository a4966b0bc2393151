r"""The paper's NQM figures (Zhang et al. 2019): Fig. 2, 3a, 3b, 3c, 4, 11, 13, 14 and 15.

Every number comes from the exact engine (:mod:`nqm.numerics`): tuned sweeps
(:func:`~nqm.numerics.sweep`, the paper's grids), optimised piecewise-constant schedules
(:func:`~nqm.numerics.schedule_sweep`), stationary risks and risk components. Defaults are the
paper's protocol (docs/math/protocol.md) on :meth:`Problem.paper() <nqm.numerics.Problem.paper>`, the
authors' binned problem (C = H on the binned curvatures; every caption names the problem), except the schedule figures (3b, 3c, 15), which by default optimise at every third power of
two, :data:`SCHEDULE_BATCH_SIZES` (7 batch sizes instead of 10, to keep the default report
within its time budget; pass ``batch_sizes=PAPER_BATCH_SIZES`` for the paper's grid).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from nqm.numerics import (
    PAPER_BATCH_SIZES,
    SGD,
    ExecutorArg,
    Momentum,
    Problem,
    Progress,
    build_model,
    effective_lr,
    risk_components,
    stationary_risk,
)
from nqm.numerics.validation import validate_positive

from ._core import (
    FigureData,
    FigureResult,
    Records,
    ScheduleNeed,
    SweepNeed,
    batch_label,
    batch_size_axis,
    batch_sizes_in_order,
    figure_data,
    figure_optimizers,
    new_figure,
    optimizer_key,
    optimizer_label,
    plot_bound,
    power_label,
    problem_or_paper,
    register_figure,
    sequential_colormap,
    slope_one_guide,
    steps_axes,
    sweep_records,
)

__all__ = [
    "figure_2",
    "figure_3a",
    "figure_3b",
    "figure_3c",
    "figure_4",
    "figure_11",
    "figure_13",
    "figure_14",
    "figure_15",
    "PAPER_POWERS",
    "PAPER_TARGETS",
    "SCHEDULE_BATCH_SIZES",
    "WIDE_BATCH_SIZES",
]

#: preconditioning powers of Fig. 3a, 4 and 14
PAPER_POWERS = (0.0, 0.25, 0.5, 0.75)
#: loss thresholds of Fig. 13 (Appendix E.5)
PAPER_TARGETS = (0.1, 0.03, 0.01, 0.003, 0.001)
#: batch sizes 2^0..2^21 of Fig. 13 and 14
WIDE_BATCH_SIZES = tuple(2.0 ** np.arange(0, 22))
#: default batch sizes of the schedule figures: 2^2, 2^5, ..., 2^20
SCHEDULE_BATCH_SIZES = tuple(2.0 ** np.arange(2, 21, 3))

_BOUNDS_LABEL = r"dashed: information bound of each $\varepsilon$"
#: line style and marker of the two optimizers of Fig. 3a and 4 (the first is SGD)
_OPT_STYLE = (("-", "o"), (":", "s"))


def _validate_powers(powers: Sequence[float]) -> tuple[float, ...]:
    ps = tuple(float(p) for p in powers)
    if not ps or any(not (0.0 <= p <= 1.0) for p in ps):
        raise ValueError(f"powers must be a non-empty list of preconditioning powers in [0, 1]; got {list(powers)!r}")
    return ps


# ---------------------------------------------------------------------- Fig. 2
def _transition_eigenvalues(opt: object, h: float) -> np.ndarray:
    """Eigenvalues of the per-direction transition A (= I + D) at curvature ``h``, per grid point."""
    model = build_model(Problem([h], c=[0.0]), opt, 1.0, method="doubling")  # type: ignore[arg-type]
    D = model.inv["D"][..., 0, :, :]
    return np.linalg.eigvals(np.eye(D.shape[-1]) + D)


@register_figure("fig2")
def figure_2(*, alpha_h: float = 5e-4, betas: Sequence[float] | None = None) -> FigureResult:
    r"""Fig. 2: one direction of heavy-ball momentum (eq. 5) with :math:`\alpha h` fixed, against β.

    Left: the convergence rate of the mean, :math:`|r_1|` = the spectral radius of the
    transition (Theorem 1's roots), plotted as :math:`1-|r_1|`, against the effective-rate
    prediction :math:`1-(1-\alpha_{\rm eff}h)` with :math:`\alpha_{\rm eff}=\alpha/(1-\beta)`
    (eq. 7), i.e. plain SGD's rate at the effective learning rate. Right: the exact stationary
    risk (Theorem 1's second term) against SGD's at :math:`\alpha_{\rm eff}` (h = c = B = 1).
    The dotted line marks critical damping (where the roots become complex).
    """
    if not (np.isfinite(alpha_h) and 0 < alpha_h < 1):
        raise ValueError(f"alpha_h must be a number in (0, 1); got {alpha_h!r}")
    beta = np.asarray(1.0 - np.logspace(-2.3, 0, 300)[::-1] if betas is None else betas, dtype=float)
    if beta.ndim != 1 or beta.size < 2 or np.any((beta < 0) | (beta >= 1)):
        raise ValueError(f"betas must be at least 2 numbers in [0, 1); got {betas!r}")
    beta = np.sort(beta)
    h, lr = 1.0, float(alpha_h)
    mom = Momentum(np.full_like(beta, lr), beta)
    lr_eff = np.asarray(effective_lr(mom))
    sgd_eff = SGD(lr_eff)
    eig = _transition_eigenvalues(mom, h)
    rate = np.max(np.abs(eig), axis=-1)
    rate_eff = np.max(np.abs(_transition_eigenvalues(sgd_eff, h)), axis=-1)
    complex_roots = np.any(np.abs(eig.imag) > 0, axis=-1)
    one = Problem([h], c=[1.0])
    risk = np.asarray(stationary_risk(one, mom, batch_size=1.0))
    risk_eff = np.asarray(stationary_risk(one, sgd_eff, batch_size=1.0))
    risk_sgd = float(stationary_risk(one, SGD(lr), batch_size=1.0))

    fig, axes = new_figure(2, width=9.2)
    a, b = axes[0]
    a.plot(1 - beta, 1 - rate, "-", color="C0", label=r"momentum: $1-|r_1|$ (exact)")
    a.plot(1 - beta, 1 - rate_eff, "--", color="C1", label=r"SGD at $\alpha_{\rm eff}=\alpha/(1-\beta)$: $\alpha_{\rm eff}h$")
    b.plot(1 - beta, risk, "-", color="C0", label="momentum (exact stationary risk)")
    b.plot(1 - beta, risk_eff, "--", color="C1", label=r"SGD at $\alpha_{\rm eff}=\alpha/(1-\beta)$")
    b.axhline(risk_sgd, color="0.5", lw=1, ls="-.", label=r"SGD at $\alpha$ ($\beta=0$)")
    crit = beta[np.argmax(complex_roots)] if complex_roots.any() else None
    for ax in (a, b):
        ax.set_xscale("log")
        ax.invert_xaxis()
        ax.set_yscale("log")
        ax.set_xlabel(r"$1-\beta$ (momentum $\beta$ grows to the right)")
        if crit is not None:
            ax.axvline(1 - crit, color="0.4", ls=":", lw=1, label=rf"critical damping $\beta\approx{crit:.4f}$")
        ax.legend(loc="upper left")
    a.set(ylabel=r"convergence rate $1-|r_1|$ per step", title=rf"Fig. 2(a): convergence rate, $\alpha h={lr:g}$")
    b.set(ylabel=r"stationary risk ($h=c=B=1$)", title=rf"Fig. 2(b): steady-state risk, $\alpha h={lr:g}$")
    data = [
        dict(beta=float(be), alpha_h=lr, effective_lr=float(le), rate=float(r), rate_effective_sgd=float(re),
             complex_roots=bool(cr), stationary_risk=float(s), stationary_risk_effective_sgd=float(se))
        for be, le, r, re, cr, s, se in zip(beta, lr_eff, rate, rate_eff, complex_roots, risk, risk_eff)
    ]
    caption = (
        f"Fig. 2 — one direction of heavy-ball momentum with alpha*h = {lr:g} (h = c = B = 1), against beta (logit axis). "
        "(a) Convergence rate of the mean: 1 - |r_1| with |r_1| the spectral radius of the exact transition, beside SGD's "
        "1 - (1 - alpha_eff h) at the effective learning rate alpha_eff = alpha/(1 - beta) (eq. 7). (b) Exact stationary "
        "risk of momentum beside SGD's at alpha_eff (and at alpha). They agree while the roots are real; the dotted line "
        "marks critical damping, above which |r_1| = sqrt(beta)."
    )
    return FigureResult("fig2", fig, data, caption)


# ---------------------------------------------------------------------- Fig. 3a and 4
def _steps_by_power_needs(
    second: str, problem: Problem | None, batch_sizes: Sequence[float], powers: Sequence[float], target: float,
) -> list[SweepNeed]:
    """The sweeps of Fig. 3a (``second`` momentum) or 4 (EMA): SGD and ``second`` at each power, optimizer-major."""
    prob = problem_or_paper(problem)
    Bs = batch_sizes_in_order("batch_sizes", batch_sizes)
    ps = _validate_powers(powers)
    eps = validate_positive("target", target)
    return [SweepNeed(prob, o, p, Bs, eps) for o in ("sgd", second) for p in ps]


def _steps_by_power(
    name: str, second: str, title: str, caption: str, problem: Problem | None, batch_sizes: Sequence[float],
    powers: Sequence[float], target: float, executor: ExecutorArg, progress: Progress | None, computed: FigureData | None,
) -> FigureResult:
    needs = _steps_by_power_needs(second, problem, batch_sizes, powers, target)
    prob, Bs, eps = needs[0].problem, needs[0].batch_sizes, needs[0].target
    ps = _validate_powers(powers)
    pair = ("sgd", second)
    sweeps = figure_data(computed, needs, executor, progress)
    fig, axes = new_figure(1, width=5.4, height=4.2)
    ax = axes[0, 0]
    records: Records = []
    for need, s in zip(needs, sweeps):
        opt, p = need.optimizer, need.precond_power
        ls, marker = _OPT_STYLE[pair.index(opt)]
        i = ps.index(p)
        ax.plot(s.batch_sizes, s.steps, ls=ls, marker=marker, color=f"C{i}", mfc="white" if opt != "sgd" else None,
                label=f"{optimizer_label(opt)}, {power_label(p)}")
        records += sweep_records(s, series=f"{opt} p={p:g}")
    records += plot_bound(ax, prob, eps, Bs)
    steps_axes(ax, title)
    ax.legend(ncol=2, loc="lower left")
    return FigureResult(name, fig, records, caption.format(target=eps, problem=prob.name), problem=prob.name)


@register_figure("fig3a", needs=lambda *, problem, batch_sizes, powers, target, **_: _steps_by_power_needs(
    "momentum", problem, batch_sizes, powers, target))
def figure_3a(
    *, problem: Problem | None = None, batch_sizes: Sequence[float] = tuple(PAPER_BATCH_SIZES),
    powers: Sequence[float] = PAPER_POWERS, target: float = 0.01, executor: ExecutorArg = None,
    progress: Progress | None = None, computed: FigureData | None = None,
) -> FigureResult:
    r"""Fig. 3a: tuned steps to target against B for SGD and heavy-ball momentum with
    :math:`P = H^p` (eq. 8), on the paper's grids, with the information bound dashed."""
    return _steps_by_power(
        "fig3a", "momentum", "Fig. 3(a): momentum and preconditioning", (
            "Fig. 3(a) — steps to reach risk {target:g} against batch size B ({problem}), tuned on the paper's grids at every B: "
            "SGD (solid) and heavy-ball momentum (dotted) with preconditioner P = H^p. Dashed black: the information-theoretic "
            "lower bound tr(H^-1 C)/(2 eps B) (Section 3.6). Momentum matches SGD at small B and extends perfect scaling; "
            "preconditioning extends it further."
        ), problem, batch_sizes, powers, target, executor, progress, computed,
    )


@register_figure("fig4", needs=lambda *, problem, batch_sizes, powers, target, **_: _steps_by_power_needs(
    "ema", problem, batch_sizes, powers, target))
def figure_4(
    *, problem: Problem | None = None, batch_sizes: Sequence[float] = tuple(PAPER_BATCH_SIZES),
    powers: Sequence[float] = PAPER_POWERS, target: float = 0.01, executor: ExecutorArg = None,
    progress: Progress | None = None, computed: FigureData | None = None,
) -> FigureResult:
    r"""Fig. 4: tuned steps to target against B for SGD and SGD with an exponential moving
    average of the iterates (eq. 11, Theorem 2) at each preconditioning power."""
    return _steps_by_power(
        "fig4", "ema", "Fig. 4: exponential moving average", (
            "Fig. 4 — steps to reach risk {target:g} against batch size B ({problem}): SGD (solid) and SGD with an exponential "
            "moving average of the iterates (dotted, eq. 11), both tuned on the paper's grids, with preconditioner P = H^p. "
            "Dashed black: the information bound tr(H^-1 C)/(2 eps B). EMA helps at small B and lowers the critical batch size."
        ), problem, batch_sizes, powers, target, executor, progress, computed,
    )


# ---------------------------------------------------------------------- Fig. 3b, 3c, 15
def _schedule_needs(*, problem: Problem | None, batch_sizes: Sequence[float], target: float, pieces: int, **_: object) -> list[ScheduleNeed]:
    """The one schedule sweep of Fig. 3b, 3c and 15."""
    prob = problem_or_paper(problem)
    Bs = batch_sizes_in_order("batch_sizes", batch_sizes)
    if not isinstance(pieces, (int, np.integer)) or pieces < 1:
        raise ValueError(f"pieces must be an integer >= 1; got {pieces!r}")
    eps = validate_positive("target", target)
    return [ScheduleNeed(prob, Bs, eps, int(pieces))]


def _schedules(
    problem: Problem | None, batch_sizes: Sequence[float], target: float, pieces: int, executor: ExecutorArg,
    progress: Progress | None, computed: FigureData | None,
) -> tuple[Problem, Any]:
    """The problem and the schedule sweep of Fig. 3b, 3c and 15."""
    needs = _schedule_needs(problem=problem, batch_sizes=batch_sizes, target=target, pieces=pieces)
    return needs[0].problem, figure_data(computed, needs, executor, progress)[0]


@register_figure("fig3b", needs=_schedule_needs)
def figure_3b(
    *, problem: Problem | None = None, batch_sizes: Sequence[float] = SCHEDULE_BATCH_SIZES, target: float = 0.01,
    pieces: int = 50, executor: ExecutorArg = None, progress: Progress | None = None, computed: FigureData | None = None,
) -> FigureResult:
    r"""Fig. 3b: steps to target of the optimised piecewise-constant SGD schedule
    (:func:`~nqm.numerics.optimal_schedule`, ``pieces`` equal pieces) and of the best constant
    learning rate, against B, with the information bound dashed."""
    prob, ss = _schedules(problem, batch_sizes, target, pieces, executor, progress, computed)
    t = ss.steps_table()
    fig, axes = new_figure(1, width=5.2, height=4.0)
    ax = axes[0, 0]
    ax.plot(t["batch_size"], t["constant_steps"], "-o", color="C0", label="SGD, best constant learning rate")
    ax.plot(t["batch_size"], t["schedule_steps"], "-s", color="C3", mfc="white", label=f"SGD, optimised schedule ({ss.pieces} pieces)")
    data: Records = [
        dict(series="constant", batch_size=float(b), steps=float(s), lr=float(lr))
        for b, s, lr in zip(t["batch_size"], t["constant_steps"], t["constant_lr"])
    ]
    data += [dict(series="schedule", batch_size=float(b), steps=float(s), final_lr=float(r.final_lr))
             for b, s, r in zip(t["batch_size"], t["schedule_steps"], ss.schedules)]
    data += plot_bound(ax, prob, ss.target, ss.batch_sizes)
    steps_axes(ax, "Fig. 3(b): optimised learning-rate schedules")
    ax.legend(loc="lower left")
    caption = (
        f"Fig. 3(b) — steps to reach risk {ss.target:g} against batch size B ({prob.name}) for SGD with the best constant "
        f"learning rate (paper grid logspace(-5, 0.5, 100)) and with an optimised {ss.pieces}-piece piecewise-constant schedule "
        "(exact risk and gradient; at each total, bounded L-BFGS-B on the log learning rates from several starts — the "
        "authors' log alpha = -5, the best constant rate at that total, a decaying shape, the optima of the nearest totals "
        "tested — then polished, so the schedule is never worse than the best constant rate, than the authors' start or than "
        "their L-BFGS-B run from it; learning rates capped at 2/(h_max + h_min) - 1e-4; totals not restricted to multiples of "
        "the pieces; the steps are the fewest total the search tested that reaches the target, one step fewer tested and "
        "failing, never more than the best constant rate's). Dashed black: the information bound tr(H^-1 C)/(2 eps B). Schedules nearly reach the bound at small B and do "
        f"not help at large B. Batch sizes: {', '.join(f'{b:g}' for b in ss.batch_sizes)}."
    )
    return FigureResult("fig3b", fig, data, caption, problem=prob.name)


@register_figure("fig3c", needs=_schedule_needs)
def figure_3c(
    *, problem: Problem | None = None, batch_sizes: Sequence[float] = SCHEDULE_BATCH_SIZES, target: float = 0.01,
    pieces: int = 50, executor: ExecutorArg = None, progress: Progress | None = None, computed: FigureData | None = None,
) -> FigureResult:
    r"""Fig. 3c: the shapes of the optimised schedules: learning rate of each piece against the
    fraction of training, one line per batch size."""
    prob, ss = _schedules(problem, batch_sizes, target, pieces, executor, progress, computed)
    shapes = ss.shapes()
    fig, axes = new_figure(1, width=6.6, height=4.0)
    ax = axes[0, 0]
    cmap = sequential_colormap()
    data: Records = []
    n = len(ss.batch_sizes)
    for i, (B, edges, lrs, res) in enumerate(zip(shapes["batch_size"], shapes["edges"], shapes["lrs"], ss.schedules)):
        color = cmap(i / max(n - 1, 1))
        ax.stairs(lrs, edges, color=color, lw=1.4, baseline=None, label=f"{batch_label(B)}: {res.steps:,.0f} steps")
        data += [dict(batch_size=float(B), piece=k, start_fraction=float(edges[k]), end_fraction=float(edges[k + 1]), lr=float(lr),
                      total_steps=float(res.steps)) for k, lr in enumerate(lrs)]
    ax.set_yscale("log")
    ax.set(xlabel="fraction of training $t/T$", ylabel=r"learning rate $\alpha$", xlim=(0, 1),
           title=f"Fig. 3(c): optimised schedules ({ss.pieces} pieces)")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), title="batch size: total steps")
    caption = (
        f"Fig. 3(c) — optimised {ss.pieces}-piece SGD learning-rate schedules ({prob.name}, target {ss.target:g}), learning rate "
        "of each piece against the fraction of the total steps T, one line per batch size. They keep a large rate, then decay "
        "roughly exponentially; the final rate grows with B (Fig. 15)."
    )
    return FigureResult("fig3c", fig, data, caption, problem=prob.name)


@register_figure("fig15", needs=_schedule_needs)
def figure_15(
    *, problem: Problem | None = None, batch_sizes: Sequence[float] = SCHEDULE_BATCH_SIZES, target: float = 0.01,
    pieces: int = 50, executor: ExecutorArg = None, progress: Progress | None = None, computed: FigureData | None = None,
) -> FigureResult:
    r"""Fig. 15: the final learning rate of the optimised schedule against B (log–log), with the
    best constant learning rate and a slope-1 guide (linear scaling)."""
    prob, ss = _schedules(problem, batch_sizes, target, pieces, executor, progress, computed)
    t = ss.final_lr_table()
    fig, axes = new_figure(1, width=5.0, height=3.9)
    ax = axes[0, 0]
    ax.plot(t["batch_size"], t["final_lr"], "-s", color="C3", label=f"final learning rate ({ss.pieces}-piece schedule)")
    ax.plot(ss.batch_sizes, ss.constant_lr, "-o", color="C0", mfc="white", label="best constant learning rate")
    slope_one_guide(ax, t["batch_size"], t["final_lr"])
    batch_size_axis(ax)
    ax.set_yscale("log")
    ax.set(ylabel=r"learning rate $\alpha$", title="Fig. 15: final learning rate of the optimised schedule")
    ax.legend(loc="upper left")
    slopes = np.append(np.nan, t["local_slope"])
    data: Records = [dict(series="schedule final", batch_size=float(b), lr=float(lr), local_slope=float(s))
                     for b, lr, s in zip(t["batch_size"], t["final_lr"], slopes)]
    data += [dict(series="constant", batch_size=float(b), lr=float(lr), local_slope=float("nan"))
             for b, lr in zip(ss.batch_sizes, ss.constant_lr)]
    caption = (
        f"Fig. 15 — learning rate of the last piece of the optimised {ss.pieces}-piece SGD schedule against batch size B "
        f"({prob.name}, target {ss.target:g}), beside the best constant learning rate; dotted grey: slope 1 (linear scaling). "
        "The final learning rate scales about linearly with B below the critical batch size."
    )
    return FigureResult("fig15", fig, data, caption, problem=prob.name)


# ---------------------------------------------------------------------- Fig. 11
@register_figure("fig11")
def figure_11(
    *, effective_lrs: Sequence[float] = (1e-3, 1e-2), betas: Sequence[float] = (0.5, 0.8, 0.9, 0.95), steps: int | None = None,
) -> FigureResult:
    r"""Fig. 11 (Appendix E.3): the first term of eq. 6 — the decaying start part of the risk
    (:func:`~nqm.numerics.risk_components`) — of heavy-ball momentum with :math:`(\alpha,\beta)`
    against SGD at the same effective learning rate :math:`\alpha_{\rm eff}=\alpha/(1-\beta)`,
    one direction with h = 1, normalised by its initial value. One panel per
    :math:`\alpha_{\rm eff}h`; ``steps`` defaults to :math:`12/(\alpha_{\rm eff}h)`."""
    effs = [float(e) for e in effective_lrs]
    bs = [float(b) for b in betas]
    if not effs or any(not (0 < e < 1) for e in effs):
        raise ValueError(f"effective_lrs must be numbers in (0, 1); got {list(effective_lrs)!r}")
    if not bs or any(not (0 <= b < 1) for b in bs):
        raise ValueError(f"betas must be numbers in [0, 1); got {list(betas)!r}")
    if steps is not None and (not isinstance(steps, (int, np.integer)) or steps < 1):
        raise ValueError(f"steps must be an integer >= 1; got {steps!r}")
    one = Problem([1.0], c=[1.0])
    fig, axes = new_figure(len(effs), width=4.6 * len(effs), height=3.7)
    data: Records = []
    cmap = sequential_colormap()
    for ax, eff in zip(axes[0], effs):
        T = int(steps or np.ceil(12 / eff))
        t = np.unique(np.linspace(0, T, 400).round())
        sgd_start, _ = risk_components(one, SGD(eff), batch_size=1.0, steps=t)
        ax.plot(t, sgd_start / sgd_start[0], "-", color="k", lw=2.2, alpha=0.5, label=rf"SGD, $\alpha={eff:g}$")
        data += [dict(series="sgd", effective_lr=eff, beta=0.0, lr=eff, step=float(s), normalised_start_part=float(v))
                 for s, v in zip(t, sgd_start / sgd_start[0])]
        for i, beta in enumerate(bs):
            lr = eff * (1 - beta)
            mom = Momentum(lr, beta)
            check = float(effective_lr(mom))
            start, _ = risk_components(one, mom, batch_size=1.0, steps=t)
            norm = start / start[0]
            ax.plot(t, norm, "--", color=cmap(i / max(len(bs) - 1, 1)), label=rf"momentum $\beta={beta:g}$, $\alpha={lr:.3g}$")
            data += [dict(series="momentum", effective_lr=check, beta=beta, lr=lr, step=float(s), normalised_start_part=float(v))
                     for s, v in zip(t, norm)]
        ax.set_yscale("log")
        ax.set(xlabel="step $t$", ylabel="first term of eq. (6), normalised", xlim=(0, T),
               title=rf"Fig. 11: $\alpha_{{\rm eff}}h = {eff:g}$")
        ax.legend(loc="lower left")
    caption = (
        "Fig. 11 (Appendix E.3) — the first (start) term of eq. 6 for one direction (h = 1), normalised by its value at t = 0, "
        "for heavy-ball momentum with (alpha, beta) and for SGD at the same effective learning rate alpha_eff = alpha/(1 - beta); "
        "one panel per alpha_eff * h. The convergence of momentum closely matches SGD's at the effective learning rate."
    )
    return FigureResult("fig11", fig, data, caption)


# ---------------------------------------------------------------------- Fig. 13
def _fig13_needs(
    *, problem: Problem | None, batch_sizes: Sequence[float], targets: Sequence[float], optimizers: Sequence[object], **_: object,
) -> list[SweepNeed]:
    """The sweeps of Fig. 13: each optimizer (p = 0) at each threshold, optimizer-major."""
    prob = problem_or_paper(problem)
    Bs = batch_sizes_in_order("batch_sizes", batch_sizes)
    eps = [validate_positive("targets", e) for e in targets]
    if not eps:
        raise ValueError("targets must hold at least one loss threshold")
    return [SweepNeed(prob, o, 0.0, Bs, e) for o in figure_optimizers("optimizers", optimizers) for e in eps]


@register_figure("fig13", needs=_fig13_needs)
def figure_13(
    *, problem: Problem | None = None, batch_sizes: Sequence[float] = WIDE_BATCH_SIZES, targets: Sequence[float] = PAPER_TARGETS,
    optimizers: Sequence[object] = ("sgd", "momentum"), executor: ExecutorArg = None, progress: Progress | None = None,
    computed: FigureData | None = None,
) -> FigureResult:
    r"""Fig. 13 (Appendix E.5): tuned steps against B at several loss thresholds, one panel per
    optimizer, each threshold with its information bound (dashed, same colour). ``optimizers``: any
    forms :func:`~nqm.numerics.as_optimizer_spec` accepts (user specs included; an instance's values
    are used as :func:`~nqm.numerics.sweep` uses them: scalars fixed, 1-D arrays grid axes)."""
    needs = _fig13_needs(problem=problem, batch_sizes=batch_sizes, targets=targets, optimizers=optimizers)
    prob, Bs = needs[0].problem, needs[0].batch_sizes
    opts = [n.optimizer for n in needs[:: len(targets)]]  # one panel each
    eps = [n.target for n in needs[: len(targets)]]
    sweeps = figure_data(computed, needs, executor, progress)
    fig, axes = new_figure(len(opts), width=4.8 * len(opts), height=4.2)
    cmap = sequential_colormap()
    data: Records = []
    for j, (ax, opt) in enumerate(zip(axes[0], opts)):
        for i, e in enumerate(eps):
            s = sweeps[j * len(eps) + i]
            color = cmap(i / max(len(eps) - 1, 1))
            ax.plot(s.batch_sizes, s.steps, "-o", color=color, ms=3, label=rf"$\varepsilon={e:g}$")
            data += sweep_records(s, series=f"{optimizer_key(opt)} eps={e:g}")
            data += plot_bound(ax, prob, e, Bs, color=color, label=_BOUNDS_LABEL if i == len(eps) - 1 else None)
        steps_axes(ax, f"Fig. 13: loss thresholds, {optimizer_label(opt)}", ylabel="steps to target")
        ax.legend(loc="lower left", ncol=2)
    caption = (
        f"Fig. 13 (Appendix E.5) — tuned steps to reach each loss threshold eps against batch size B ({prob.name}), "
        "one panel per optimizer (paper grids at every B). Dashed lines (same colour): the information bound "
        "tr(H^-1 C)/(2 eps B) of each threshold. The curves keep their shape; the critical batch size grows for harder thresholds."
    )
    return FigureResult("fig13", fig, data, caption, problem=prob.name)


# ---------------------------------------------------------------------- Fig. 14
def _fig14_needs(
    *, problem: Problem | None, batch_sizes: Sequence[float], powers: Sequence[float], target: float, **_: object,
) -> list[SweepNeed]:
    """The sweeps of Fig. 14: SGD and momentum at each power, optimizer-major."""
    prob = problem_or_paper(problem)
    Bs = batch_sizes_in_order("batch_sizes", batch_sizes)
    ps = _validate_powers(powers)
    eps = validate_positive("target", target)
    return [SweepNeed(prob, o, p, Bs, eps) for o in ("sgd", "momentum") for p in ps]


@register_figure("fig14", needs=_fig14_needs)
def figure_14(
    *, problem: Problem | None = None, batch_sizes: Sequence[float] = WIDE_BATCH_SIZES, powers: Sequence[float] = PAPER_POWERS,
    target: float = 0.01, executor: ExecutorArg = None, progress: Progress | None = None, computed: FigureData | None = None,
) -> FigureResult:
    r"""Fig. 14 (Appendix E.6): the tuned learning rate against B. (a) SGD's optimal
    :math:`\alpha` with :math:`P = H^p`; (b) momentum's optimal effective learning rate
    :math:`\alpha/(1-\beta)` (:func:`~nqm.numerics.effective_lr`), with SGD's (p = 0) in grey."""
    needs = _fig14_needs(problem=problem, batch_sizes=batch_sizes, powers=powers, target=target)
    prob, eps = needs[0].problem, needs[0].target
    ps = _validate_powers(powers)
    sweeps = figure_data(computed, needs, executor, progress)
    fig, axes = new_figure(2, width=9.4, height=4.0)
    data: Records = []
    for need, s in zip(needs, sweeps):
        opt, p = need.optimizer, need.precond_power
        ax = axes[0, 0 if opt == "sgd" else 1]
        i = ps.index(p)
        ax.plot(s.batch_sizes, s.column("effective_lr"), "-o", ms=3, color=f"C{i}", label=power_label(p))
        data += sweep_records(s, series=f"{opt} p={p:g}")
    sgd0 = sweeps[0]
    axes[0, 1].plot(sgd0.batch_sizes, sgd0.column("lr"), "-", color="0.6", lw=2.5, alpha=0.6, zorder=0,
                    label=f"SGD, {power_label(ps[0])}")
    for ax, title, ylabel in (
        (axes[0, 0], "Fig. 14(a): SGD, optimal learning rate", r"optimal learning rate $\alpha$"),
        (axes[0, 1], "Fig. 14(b): momentum, optimal effective learning rate", r"optimal $\alpha_{\rm eff}=\alpha/(1-\beta)$"),
    ):
        slope_one_guide(ax, sgd0.batch_sizes, sgd0.column("lr"))
        batch_size_axis(ax)
        ax.set_yscale("log")
        ax.set(ylabel=ylabel, title=title)
        ax.legend(loc="upper left")
    caption = (
        f"Fig. 14 (Appendix E.6) — tuned learning rate against batch size B ({prob.name}, target {eps:g}, paper grids). "
        "(a) SGD with preconditioner P = H^p; (b) heavy-ball momentum's effective learning rate alpha/(1 - beta), with SGD's "
        "(p = 0) in grey. Dotted grey: slope 1. The optimal (effective) learning rate scales linearly with B up to the "
        "critical batch size; at small B momentum's effective rate matches SGD's."
    )
    return FigureResult("fig14", fig, data, caption, problem=prob.name)
