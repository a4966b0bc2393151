r"""Figures of time-varying training (not in the paper): steps against examples with
McCandlish's relation, and batch-size ramps against a constant batch size.

``steps_vs_examples``: the tuned cost of reaching the target at each constant batch size, in steps
S and examples E = BS (:func:`~nqm.numerics.steps_examples`), with McCandlish et al.'s fitted
hyperbola :math:`S = S_{\min}E/(E - E_{\min})`, the exact noise-free floor of the steps and the Bayes
floor of the examples; and the relation's residual against B, fitted and anchored at the exact ends.

``batch_ramps``: steps and examples to the target against the (final) batch size, for a constant batch
size and for a batch-size ramp up to it (:class:`~nqm.numerics.BatchRamp`), each tuned.

``preset_curves``: risk curves and learning rates of the constant run, tuned step decay, cosine and WSD and
the optimal schedule at one batch size and budget.

``presets_vs_optimum``: at each batch size's budget, the final risk of tuned cosine, tuned WSD and the
optimal piecewise-constant schedule (:func:`~nqm.numerics.preset_gaps`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nqm.numerics import BatchRamp, Problem, as_optimizer, preset_gaps, scheduled_risk, schedules, steps_examples, tune_preset

from ._core import (
    FigureResult,
    Records,
    batch_size_axis,
    figure_optimizers,
    new_figure,
    optimizer_key,
    optimizer_label,
    problem_or_paper,
    register_figure,
)

__all__ = ["figure_batch_ramps", "figure_preset_curves", "figure_presets_vs_optimum", "figure_steps_vs_examples", "FRONTIER_BATCH_SIZES",
           "PRESET_FIGURE_BATCH_SIZES", "RAMP_FIGURE_BATCH_SIZES", "ramp_problem"]

#: default batch sizes of the frontier figure: 2^0, 2^2, ..., 2^22 (both ends of the trade-off)
FRONTIER_BATCH_SIZES = tuple(2.0 ** np.arange(0, 23, 2))
#: default batch sizes of the ramp figure: 2^2, 2^4, ..., 2^16
RAMP_FIGURE_BATCH_SIZES = tuple(2.0 ** np.arange(2, 17, 2))
#: default batch sizes of the presets figure: 2^8, 2^10, ..., 2^14 (the small ones cost seconds each: the
#: budget, and so the per-step cosine, grows as 1/B)
PRESET_FIGURE_BATCH_SIZES = tuple(2.0 ** np.arange(8, 15, 2))


def ramp_problem() -> Problem:
    """Default problem of the ramp figure: the paper's spectrum and binning with d = 1000 in 20 bins (the
    figure takes about 0.8 s; on the paper's d = 10^4 in 100 bins about 3 s, measured on a loaded 2-core machine)."""
    return Problem.paper(d=1000, bins=20)


@register_figure("steps_vs_examples")
def figure_steps_vs_examples(
    *, problem: Problem | None = None, optimizers: Sequence[object] = ("sgd", "momentum"),
    batch_sizes: Sequence[float] = FRONTIER_BATCH_SIZES, precond_power: float = 0.0, target: float = 0.01,
) -> FigureResult:
    r"""Steps against examples to ``target`` at each constant batch size (tuned per B on the paper's grids).

    Left (log–log): examples :math:`E = BS` against steps S per optimizer; filled markers are on the
    Pareto frontier, open ones are dominated; dashed: McCandlish's fitted hyperbola
    :math:`(S/S_{\min}-1)(E/E_{\min}-1) = 1`; dotted: the exact noise-free steps (no batch size does
    better) and the Bayes bound in examples (no method does better). Right: the relation's residual
    :math:`S_{\min}/S + E_{\min}/E - 1` against B, fitted (solid) and anchored at the exact noise-free
    steps and the fewest examples seen (dashed); 0 where the relation holds.
    """
    prob = problem_or_paper(problem)
    opts = figure_optimizers("optimizers", optimizers)
    results = [steps_examples(prob, o, batch_sizes=batch_sizes, target=target, precond_power=precond_power) for o in opts]
    fig, axes = new_figure(2, width=10.0, height=4.2)
    left, right = axes[0]
    data: Records = []
    for i, (o, r) in enumerate(zip(opts, results)):
        color, label = f"C{i}", optimizer_label(o)
        front = r.pareto
        ok = np.isfinite(r.steps)
        left.plot(r.steps[ok], r.examples[ok], "-", color=color, lw=0.8, alpha=0.6)
        left.plot(r.steps[front], r.examples[front], "o", color=color, label=f"{label}: Pareto frontier")
        if (ok & ~front).any():
            left.plot(r.steps[ok & ~front], r.examples[ok & ~front], "o", color=color, mfc="white", label=f"{label}: dominated")
        left.axvline(r.noise_free_steps, color=color, ls=":", lw=1, label=f"{label}: noise-free steps {r.noise_free_steps:g}")
        if r.fit is not None and r.fit.S_min > 0 and r.fit.E_min > 0:
            S = r.fit.S_min * np.geomspace(1.0005, 2e3, 200)
            left.plot(S, r.fit.E_min * S / (S - r.fit.S_min), "--", color=color, lw=1,
                      label=f"{label}: McCandlish fit $S_{{\\min}}={r.fit.S_min:.3g}$, $E_{{\\min}}={r.fit.E_min:.3g}$")
        right.plot(r.batch_sizes, r.residual, "-o", color=color, label=f"{label}: fitted")
        right.plot(r.batch_sizes, r.anchored_residual, "--s", color=color, mfc="white", label=f"{label}: anchored")
        data += [dict(optimizer=optimizer_key(o), precond_power=r.precond_power, batch_size=float(b), steps=float(s),
                      examples=float(e), pareto=bool(p), residual=float(res), anchored_residual=float(a),
                      S_min=r.fit.S_min if r.fit else np.nan, E_min=r.fit.E_min if r.fit else np.nan,
                      noise_free_steps=r.noise_free_steps, bayes_examples=r.bayes_examples)
                 for b, s, e, p, res, a in zip(r.batch_sizes, r.steps, r.examples, front, r.residual, r.anchored_residual)]
    left.axhline(results[0].bayes_examples, color="k", ls=":", lw=1, label=f"Bayes bound {results[0].bayes_examples:.3g} examples")
    left.set_ylim(bottom=results[0].bayes_examples / 30)
    left.set_xscale("log")
    left.set_yscale("log")
    left.set(xlabel=r"steps $S$ to target", ylabel=r"examples $E=\sum_t B_t$", title=f"Steps against examples ($\\varepsilon={target:g}$)")
    left.legend(fontsize=6.2, loc="lower left")
    right.axhline(0.0, color="k", lw=0.8)
    batch_size_axis(right)
    right.set(ylabel=r"$S_{\min}/S + E_{\min}/E - 1$", title="McCandlish's relation: residual (0 where it holds)")
    right.legend(fontsize=6.5, loc="upper left")
    caption = (
        f"Steps and examples to reach risk {target:g} ({prob.name}, P = H^{precond_power:g}) at constant batch sizes "
        f"B = {results[0].batch_sizes[0]:g}..{results[0].batch_sizes[-1]:g}, hyperparameters tuned per B on the paper's grids "
        "(nqm.numerics.steps_examples). Left: examples E = BS against steps S; filled: the Pareto frontier; dashed: "
        "McCandlish et al.'s (2018) relation (S/S_min - 1)(E/E_min - 1) = 1 fitted to the points; dotted: the exact "
        "noise-free steps (a floor for every B) and the Bayes bound on examples (a floor for any method). Right: the "
        "relation's residual S_min/S + E_min/E - 1 against B, fitted (solid) and anchored at the noise-free steps and the "
        "fewest examples (dashed): positive at the knee, where the NQM costs less than the hyperbola. Not in the paper."
    )
    return FigureResult("steps_vs_examples", fig, data, caption, problem=prob.name)


def _ramp_ratio_text(ratios: np.ndarray) -> str:
    """The caption's measured range of ramp/constant in steps and examples (``ratios``: 2 x points), over the
    points where both reach the target."""
    both = ratios[:, np.all(np.isfinite(ratios), axis=0)]
    if not both.size:
        return "No batch size reaches the target with both."
    (s_lo, e_lo), (s_hi, e_hi) = both.min(axis=1), both.max(axis=1)
    return (f"Where both reach the target, a ramp takes {s_lo:.3g} to {s_hi:.3g} times the steps of its final B "
            f"and {e_lo:.3g} to {e_hi:.3g} times its examples.")


@register_figure("batch_ramps")
def figure_batch_ramps(
    *, problem: Problem | None = None, optimizers: Sequence[object] = ("sgd", "momentum"),
    batch_sizes: Sequence[float] = RAMP_FIGURE_BATCH_SIZES, ramp: BatchRamp | None = None, precond_power: float = 0.0,
    target: float = 0.01,
) -> FigureResult:
    r"""Steps (left) and examples (right) to ``target`` against the batch size: constant B (solid, tuned per B)
    and a batch-size ramp up to B (dashed; ``ramp``, default :class:`~nqm.numerics.BatchRamp()`, lr re-tuned),
    per optimizer (:func:`~nqm.numerics.steps_examples`). Default problem: :func:`ramp_problem`."""
    prob = ramp_problem() if problem is None else problem
    ramp = BatchRamp() if ramp is None else ramp
    opts = figure_optimizers("optimizers", optimizers)
    fig, axes = new_figure(2, width=9.6, height=4.0)
    left, right = axes[0]
    data: Records = []
    ratios: list[np.ndarray] = []  # per optimizer: ramp over constant, (steps, examples) x batch sizes
    for i, o in enumerate(opts):
        args = dict(batch_sizes=batch_sizes, target=target, precond_power=precond_power)
        const, ramped = steps_examples(prob, o, **args), steps_examples(prob, o, ramp=ramp, **args)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratios.append(np.array([ramped.steps / const.steps, ramped.examples / const.examples]))
        label = optimizer_label(o)
        for r, ls, marker, kind in ((const, "-", "o", "constant B"), (ramped, "--", "s", "ramp to B")):
            mfc = "white" if r is ramped else None
            left.plot(r.batch_sizes, r.steps, ls=ls, marker=marker, mfc=mfc, color=f"C{i}", label=f"{label}: {kind}")
            right.plot(r.batch_sizes, r.examples, ls=ls, marker=marker, mfc=mfc, color=f"C{i}", label=f"{label}: {kind}")
            data += [dict(optimizer=optimizer_key(o), family=kind, batch_size=float(b), steps=float(s), examples=float(e),
                          lr=h.get("lr", np.nan)) for b, s, e, h in zip(r.batch_sizes, r.steps, r.examples, r.hyperparameters)]
    for ax, what in ((left, r"steps $S$ to target"), (right, r"examples $E=\sum_t B_t$")):
        batch_size_axis(ax, label="batch size $B$ (final $B$ of a ramp)")
        ax.set_yscale("log")
        ax.set_ylabel(what)
        ax.legend(fontsize=6.8)
    left.set_title(f"Steps ($\\varepsilon={target:g}$)")
    right.set_title("Examples")
    caption = (
        f"Steps (left) and examples (right) to reach risk {target:g} ({prob.name}, P = H^{precond_power:g}) against the batch "
        f"size: constant B tuned per B on the paper's grids (solid) and a batch-size ramp to B (dashed; {ramp.describe()}, "
        "learning rate re-tuned on 21 values over two decades around the constant-B optimum, other hyperparameters at it). "
        f"Exact first hits (nqm.numerics.steps_examples). {_ramp_ratio_text(np.concatenate(ratios, axis=1))} At the "
        "same learning rate a ramp cannot take fewer steps than its final B (the risk is non-increasing in every B_t); "
        "the two rates here are tuned separately. Not in the paper."
    )
    return FigureResult("batch_ramps", fig, data, caption, problem=prob.name)


@register_figure("presets_vs_optimum")
def figure_presets_vs_optimum(
    *, problem: Problem | None = None, optimizer: object = "sgd",
    batch_sizes: Sequence[float] = PRESET_FIGURE_BATCH_SIZES, target: float = 0.01, pieces: int = 20,
) -> FigureResult:
    r"""Final risk at each batch size's budget (the tuned constant run's steps to ``target``) of the constant
    run, tuned cosine, tuned WSD (20 % cooldown) and the optimal ``pieces``-piece schedule
    (:func:`~nqm.numerics.preset_gaps`), left; the ratios WSD/optimum and cosine/WSD, right. Default
    problem: :func:`ramp_problem`."""
    prob = ramp_problem() if problem is None else problem
    g = preset_gaps(prob, optimizer, batch_sizes=batch_sizes, target=target, pieces=pieces)
    fig, axes = new_figure(2, width=9.6, height=4.0)
    left, right = axes[0]
    styles = {"constant": ("k", "o"), "cosine": ("C0", "s"), "wsd": ("C1", "^"), "optimum": ("C2", "D")}
    labels = {"constant": "constant (budget's own)", "cosine": "cosine, peak tuned",
              "wsd": "WSD (20% cooldown), peak tuned", "optimum": f"optimum ({pieces} pieces)"}
    for run, (color, marker) in styles.items():
        left.plot(g.batch_sizes, g.risks[run], "-", marker=marker, color=color, label=labels[run])
    left.axhline(target, color="k", ls=":", lw=1, label=f"target {target:g}")
    right.plot(g.batch_sizes, g.ratio("wsd", "optimum"), "-^", color="C1", label="WSD / optimum")
    right.plot(g.batch_sizes, g.ratio("cosine", "wsd"), "-s", color="C0", label="cosine / WSD")
    right.axhline(1.0, color="k", lw=0.8)
    for ax in (left, right):
        batch_size_axis(ax)
        ax.set_yscale("log")
        ax.legend(fontsize=6.8)
    left.set(ylabel=r"final risk $\mathbb{E}\mathcal{L}(T)$",
             title=f"Final risk at the constant run's budget ({optimizer_label(optimizer)})")
    right.set(ylabel="ratio of final risks", title="How much WSD loses to the optimum, cosine to WSD")
    data: Records = [dict(optimizer=g.optimizer, batch_size=float(b), budget=float(T),
                          **{f"{r}_risk": float(g.risks[r][i]) for r in styles},
                          **{f"{r}_peak": float(g.peaks[r][i]) for r in styles})
                     for i, (b, T) in enumerate(zip(g.batch_sizes, g.budgets))]
    caption = (
        f"Learning-rate schedules against batch size ({prob.name}, {g.optimizer}, target {target:g}): at each B the budget T is "
        "the tuned constant run's steps to the target; left, the exact final risk at T of the constant run, cosine decay "
        "(Loshchilov & Hutter 2017) and WSD with a linear cooldown over the last 20% (Hägele et al. 2024), each with its peak "
        f"tuned (nqm.numerics.tune_preset), and the optimal {pieces}-piece schedule (nqm.numerics.optimize_schedule); right, "
        "WSD over the optimum and cosine over WSD (nqm.numerics.preset_gaps). The WSD cooldown is fixed, so WSD (like cosine) "
        "may end above the constant run. Not in the paper."
    )
    return FigureResult("presets_vs_optimum", fig, data, caption, problem=prob.name)


@register_figure("preset_curves")
def figure_preset_curves(
    *, problem: Problem | None = None, optimizer: object = "sgd", batch_size: float = 256.0, target: float = 0.01,
    pieces: int = 20,
) -> FigureResult:
    r"""Risk curves (left, log–log) and learning rates (right) at one batch size over the budget T, the tuned
    constant run's steps to ``target``: the constant run, step decay (factor tuned, He et al. 2016's boundaries
    0.5 T and 0.75 T), cosine and WSD (20 % cooldown), each with its peak tuned (:func:`~nqm.numerics.tune_preset`,
    :func:`~nqm.numerics.preset_gaps`), and the optimal ``pieces``-piece schedule. Each curve is the exact
    :func:`~nqm.numerics.scheduled_risk` of the schedule drawn on the right. Default problem: :func:`ramp_problem`."""
    prob = ramp_problem() if problem is None else problem
    g = preset_gaps(prob, optimizer, batch_sizes=[batch_size], target=target, pieces=pieces)
    T, B = int(g.budgets[0]), float(g.batch_sizes[0])
    base = as_optimizer(optimizer, {"lr": g.peaks["constant"][0]}) if isinstance(optimizer, str) else optimizer
    step = tune_preset(prob, base, "step", batch_size=B, steps=T)
    runs = {"constant": g.schedules["constant"][0], "step decay": (step.lrs, step.lengths),
            "cosine": g.schedules["cosine"][0], "WSD (20% cooldown)": g.schedules["wsd"][0],
            f"optimum ({pieces} pieces)": g.schedules["optimum"][0]}
    fig, axes = new_figure(2, width=9.6, height=4.0)
    left, right = axes[0]
    data: Records = []
    t = np.arange(T + 1)
    for i, (name, (lrs, lengths)) in enumerate(runs.items()):
        per_step = np.repeat(lrs, lengths)
        risk = scheduled_risk(prob, base, steps=T, batch_size=B, schedule={"lr": schedules.per_step(per_step)})
        color = "k" if name == "constant" else f"C{i - 1}"
        left.plot(t[1:], risk[1:], color=color, lw=1.2, label=f"{name}: final {risk[-1]:.3g}")
        right.plot(t[:-1] + 1, per_step, color=color, lw=1.2, label=name)
        data += [dict(run=name, step=int(k), risk=float(risk[k]), lr=float(per_step[k]) if k < T else np.nan)
                 for k in np.unique(np.geomspace(1, T, 200).astype(int))]
    left.axhline(target, color="k", ls=":", lw=1, label=f"target {target:g}")
    left.set_xscale("log")
    left.set_yscale("log")
    left.set(xlabel="step $t$", ylabel=r"expected risk $\mathbb{E}\mathcal{L}(t)$",
             title=f"Risk under schedules, $B={B:g}$, budget $T={T}$")
    right.set_xscale("log")
    right.set(xlabel="step $t$ (update $t-1 \\to t$)", ylabel=r"learning rate $\alpha_t$", title="The schedules")
    left.legend(fontsize=6.8, loc="lower left")
    right.legend(fontsize=6.8, loc="lower left")
    caption = (
        f"Exact risk curves ({prob.name}, {g.optimizer}, B = {B:g}) over the budget T = {T}, the tuned constant run's steps "
        f"to risk {target:g}: the constant run, step decay (factor tuned; boundaries 0.5 T, 0.75 T), cosine and WSD with a "
        "linear cooldown over the last 20%, each with its peak tuned (nqm.numerics.tune_preset), and the optimal "
        f"{pieces}-piece schedule (nqm.numerics.optimize_schedule); right, the learning rates. Not in the paper."
    )
    return FigureResult("preset_curves", fig, data, caption, problem=prob.name)
