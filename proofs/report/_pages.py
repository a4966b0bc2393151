"""Writing the report folder: data files, the derivations and sweeps pages, ``index.html`` and ``index.md``.

:func:`write_pages` takes what :func:`~._build.build_report` computed and writes every file;
the index links each of them (paths relative to the folder).
"""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from nqm.numerics.io import records_csv, write_text

from ..claims import summary, write_json, write_latex
from ._html import (
    derivations_page,
    fmt,
    link,
    markdown_table,
    page,
    table,
    texts_with_math,
)
from ._schedules import TIME_VARYING_CLAIMS, TIME_VARYING_FIGURES
from ._tasks import monte_carlo_rows

__all__ = ["write_pages"]

_TITLE = "nqm-toolkit report"
_SECTION_TITLES = {
    "derivations": "Derivations",
    "proofs": "Proofs",
    "figures": "Figures",
    "sweeps": "Sweeps and critical batch sizes",
    "schedules": "Time-varying training",
    "monte_carlo": "Monte-Carlo agreement",
    "validation": "PyTorch validation",
}


def _write_csv(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    """``rows`` as CSV (integral numbers as integers, :func:`~nqm.numerics.io.records_csv`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(records_csv(rows), path)
    return path


class _Index:
    """The index page's sections, in HTML and Markdown side by side."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.html: list[str] = []
        self.md: list[str] = []

    def rel(self, path: Path) -> str:
        return path.relative_to(self.out).as_posix()

    def heading(self, key: str, title: str) -> None:
        self.html.append(f'<h2 id="{key}">{html.escape(title)}</h2>')
        self.md.append(f"\n## {title}\n")

    def subheading(self, key: str, title: str) -> None:
        self.html.append(f'<h3 id="{key}">{html.escape(title)}</h3>')
        self.md.append(f"\n### {title}\n")

    def para(self, text_html: str, text_md: str | None = None) -> None:
        self.html.append(f"<p>{text_html}</p>")
        self.md.append((text_md if text_md is not None else _strip(text_html)) + "\n")

    def note(self, text_html: str, cls: str = "note") -> None:
        self.html.append(f'<div class="{cls}">{text_html}</div>')
        self.md.append("> " + _strip(text_html) + "\n")

    def table(self, rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> None:
        self.html.append(table(rows, columns))
        self.md.append(markdown_table(rows, columns) + "\n")

    def files(self, paths: Sequence[Path], label: str = "Files") -> None:
        self.html.append(f"<p>{label}: " + ", ".join(link(self.rel(p)) for p in paths) + "</p>")
        self.md.append(f"{label}: " + ", ".join(f"[{self.rel(p)}]({self.rel(p)})" for p in paths) + "\n")

    def image(self, path: Path, caption: str, extra: Sequence[Path] = ()) -> None:
        rel = self.rel(path)
        more = " ".join(link(self.rel(p), p.suffix.lstrip(".").upper()) for p in extra)
        self.html.append(f'<figure><a href="{rel}"><img src="{rel}" alt="{html.escape(path.stem)}"></a>'
                         f"<figcaption><strong>{html.escape(path.stem)}</strong> — {html.escape(caption)} {more}</figcaption></figure>")
        links = " ".join(f"[{p.suffix.lstrip('.').upper()}]({self.rel(p)})" for p in extra)
        self.md.append(f"![{path.stem}]({rel})\n\n*{path.stem}* — {caption} {links}\n")


def _strip(text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", text))


# ---------------------------------------------------------------------- sections
def _derivations(idx: _Index, results: Any) -> dict[str, Any]:
    out = idx.out
    document, plain = results.derivations
    tex = out / "derivations.tex"
    tex.write_text(document)
    rendered = results.rendered
    intro = (
        "<p>Every formula below is derived by nqm-toolkit from the optimizers' state-space specs (per eigen-direction "
        "<i>i</i>; equation numbers are the paper's) and drawn with matplotlib's mathtext. Open <em>LaTeX</em> under "
        f"a formula for its source; the whole document is {link('derivations.tex')}. Back to the {link('index.html', 'index')}.</p>"
    )
    body, n_formulas, failures = derivations_page(rendered, out, intro=intro)
    (out / "derivations.html").write_text(page("Derivations on the noisy quadratic model", body))
    idx.heading("derivations", _SECTION_TITLES["derivations"])
    titles = [t for t, _ in rendered]
    idx.para(
        f"{n_formulas} display formulas in {len(titles)} sections ({', '.join(html.escape(t) for t in titles)}): state-space "
        "form, characteristic polynomial with roots and Vieta's relations, second-moment system and its eigenvalues, "
        "stationary covariance and risk, Jury stability conditions, effective learning rates, Z-transform closed forms, "
        "the preconditioned steady state, and the paper's statements re-derived. "
        f"Rendered with matplotlib mathtext; {failures} formula part(s) could not be drawn and are shown as LaTeX source."
    )
    idx.files([out / "derivations.html", out / "derivations.tex"])
    return {"formulas": n_formulas, "mathtext_failures": failures, "sections": titles}


def _proofs(idx: _Index, results: Any) -> dict[str, Any]:
    out = idx.out / "proofs"
    out.mkdir(exist_ok=True)
    proofs = results.proofs
    # build_report checked the folder (empty, or force) before any work
    paths = [write_json(proofs, out / "proofs.json", overwrite=True), write_latex(proofs, out / "proofs.tex", overwrite=True)]
    idx.heading("proofs", _SECTION_TITLES["proofs"])
    failed = [r for r in proofs if not r.ok]
    idx.note(html.escape(summary(proofs)), "warn" if failed else "note")
    claims = texts_with_math([r.claim for r in proofs], out / "math", "proofs/math")
    rows = [
        dict(proof=r.name, method=r.method,
             outcome=("html", f'<span class="{"ok" if r.ok else "bad"}">{html.escape(r.outcome)}</span>'),
             seconds=round(r.seconds, 2), claim=("html", claim, r.claim))
        for r, claim in zip(proofs, claims, strict=True)
    ]
    idx.table(rows, ["proof", "method", "outcome", "seconds", "claim"])
    idx.files(paths, "JSON and the LaTeX appendix")
    return {"proofs": len(proofs), "failed": [r.name for r in failed]}


def _sweeps(idx: _Index, config: Any, results: Any) -> dict[str, Any]:
    out = idx.out / "sweeps"
    out.mkdir(exist_ok=True)
    crit_rows, csvs, parts = [], [], []
    for (name, p), s in zip(config.sweep_configs(), results.sweeps):
        path = s.to_csv(out / f"{name}_p{p:g}.csv")
        csvs.append(path)
        crit_rows.append(dict(
            optimizer=name, precond_power=p, **s.critical_batch_sizes().record(),
            steps_smallest_B=float(s.steps[0]), steps_largest_B=float(s.steps[-1]),
        ))
        records = s.records()
        cols = [k for k in records[0] if k not in ("optimizer", "precond_power", "target")] if records else None
        parts.append(f'<h3 id="{name}-p{p:g}">{html.escape(name)}, p = {p:g}</h3>{link(idx.rel(path), path.name)}'
                     + table(records, cols))
    crit = _write_csv(out / "critical_batch_sizes.csv", crit_rows)
    intro = (
        f"<p>Tuned steps to reach risk {config.target:g} at each batch size ({html.escape(config.problem.name)}), on the "
        "paper's grids (SGD: α ∈ logspace(−5, 0.5, 100); momentum and EMA: α ∈ logspace(−8, 1, 100) × 1 − logspace(−5, 0, 20)), "
        "with the information bound ½tr(H⁻¹C)/(εB). <code>at_edge</code> names a hyperparameter whose optimum lies at an end "
        f"of its grid. Back to the {link('index.html', 'index')}.</p>"
    )
    (idx.out / "sweeps.html").write_text(page("Batch-size sweeps", intro + "\n".join(parts)))
    idx.heading("sweeps", _SECTION_TITLES["sweeps"])
    idx.para(
        f"Fig. 3a/4 configuration: {', '.join(config.sweep_optimizers)} at p ∈ {{{', '.join(f'{p:g}' for p in config.powers)}}}, "
        f"batch sizes {', '.join(f'{b:g}' for b in config.batch_sizes)}, target {config.target:g}, paper grids"
        + (f" (the same sweeps are drawn in {' and '.join(config.sweeps_in_figures())}, computed once). "
           if config.sweeps_in_figures() else ". ") + "Critical batch size, two definitions: "
        "McCandlish et al. (2018) fit S = S<sub>min</sub> + E<sub>min</sub>/B, B<sub>crit</sub> = E<sub>min</sub>/S<sub>min</sub>; "
        "and the batch size where the steps exceed perfect scaling (S(B) B = const from the smallest B) by a factor of 2."
    )
    idx.table(crit_rows)
    idx.files([idx.out / "sweeps.html", crit, *csvs], "Tables (HTML, CSV)")
    return {"sweeps": len(csvs)}


#: figures introduced under a sub-heading of their own: name -> (title, paragraph)
_FIGURE_SECTIONS = {
    "training_curves": (
        "The authors' training curves",
        "The one figure of the authors' notebook (gd-zhang/noisy-quadratic-model, nqm.ipynb, cell “Training curves”) that "
        "the paper does not print: SGD at the fixed learning rates 0.01, 0.03, 0.1, 0.3 and 1 on the <em>unbinned</em> "
        "d = 5000 problem (h<sub>i</sub> = 1/i, C = H, batch size 1), 20,000 steps, here from the exact engine on log–log "
        "axes with each rate's stationary risk. It shows the trade-off of Section 3.1: a larger rate converges faster to "
        "a higher stationary risk, which is why reaching a low target needs a small rate, a schedule or a larger batch.",
    ),
}


def _figures(idx: _Index, results: Any) -> dict[str, Any]:
    idx.heading("figures", _SECTION_TITLES["figures"])
    idx.para("The paper's NQM figures, the authors' notebook figure and additions, each as PNG, PDF and the plotted data "
             "(CSV, JSON). Each caption, and the JSON's <code>problem</code>, names the problem it was computed on; the "
             "paper's figures default to the authors' binned problem (C = H on the binned curvatures).")
    names = []
    for result, paths in results.figures:
        if result.name in _FIGURE_SECTIONS:
            title, text = _FIGURE_SECTIONS[result.name]
            idx.subheading(f"figure-{result.name}", title)
            idx.para(text)
        png = next(p for p in paths if p.suffix == ".png")
        idx.image(png, result.caption, [p for p in paths if p.suffix != ".png"])
        names.append(result.name)
    return {"figures": names}


def _schedules(idx: _Index, config: Any, results: Any) -> dict[str, Any]:
    rows = results.schedules or []
    path = _write_csv(idx.out / "schedules" / "schedules_vs_constant.csv", rows)
    idx.heading("schedules", _SECTION_TITLES["schedules"])
    idx.para(
        f"On {html.escape(config.problem.name)}: for each optimizer and batch size B, the budget T is the fewest steps in "
        f"which the best constant setting on the paper's grid reaches risk {config.target:g} (nqm.numerics.tune), "
        "and E = BT the examples it uses. On that same budget, <code>risk_constant</code> is the exact final risk of the "
        "tuned constant setting; <code>risk_wsd</code>, <code>risk_cosine</code> and <code>risk_step</code> those of the "
        "presets of nqm.numerics.schedules in their default shapes over T (WSD: linear cooldown over the last 20%; "
        "cosine to 0; step decay: ×0.1 at 50% and 75%) with the tuned constant learning rate as their peak, not "
        "re-tuned (<code>nqm schedule tune</code> tunes peak and shape); <code>risk_optimal</code> that of the optimal "
        "piecewise-constant learning-rate schedule (<code>pieces</code> equal pieces, the other hyperparameters at "
        "their tuned values; nqm.numerics.optimize_schedule, certified never above the best constant learning rate "
        "at T). "
        "The risk curves under presets, the steps-versus-examples frontier and the claims about them are in the "
        "figures and proofs sections; <code>nqm schedule optimal</code> computes a row's schedule."
    )
    keys = list(dict.fromkeys(k for r in rows for k in r))
    idx.table(rows, sorted(keys, key=lambda k: (keys.index(k) if not k.startswith("constant_") else
                                                keys.index("constant_lr"))))
    idx.files([path], "Table (CSV)")
    claims = [r for r in results.proofs or () if r.name in TIME_VARYING_CLAIMS]
    if claims:
        idx.subheading("schedules-claims", "Steps against examples: what the model says")
        idx.para("The catalogue's claims about time-varying training, as the proofs section ran them (each computed "
                 "by the exact engine at run time; <em>numbers</em> are the checks' own lines).")
        idx.table([dict(proof=r.name, outcome=("html", f'<span class="{"ok" if r.ok else "bad"}">'
                                                        f"{html.escape(r.outcome)}</span>", r.outcome),
                        claim=r.claim, numbers=("html", "<br>".join(html.escape(d) for d in r.details),
                                                "; ".join(r.details)))
                   for r in claims])
    drawn = [(result, paths) for result, paths in results.figures if result.name in TIME_VARYING_FIGURES]
    if drawn:
        idx.files([next(p for p in paths if p.suffix == ".png") for _, paths in drawn],
                  "Figures (captions in the figures section)")
    return {"rows": len(rows), "claims": {r.name: r.outcome for r in claims}}


def _monte_carlo(idx: _Index, config: Any, results: Any) -> dict[str, Any]:
    out = idx.out / "monte_carlo"
    out.mkdir(exist_ok=True)
    order = {s.label: i for i, s in enumerate(config.monte_carlo)}
    outcomes = sorted(results.monte_carlo, key=lambda o: order.get(o.setting.label, 0))
    rows = monte_carlo_rows(outcomes, config.false_failure_rate)
    path = _write_csv(out / "monte_carlo.csv", rows)
    png = out / "monte_carlo.png"
    _monte_carlo_figure(outcomes, png)
    idx.heading("monte_carlo", _SECTION_TITLES["monte_carlo"])
    bad = [r for r in rows if not r["agrees"]]
    idx.para(
        f"Mean loss of simulated runs (nqm.numerics.monte_carlo: the actual stochastic updates, one coordinate per bin of "
        f"{html.escape(config.problem.name)}, so each run's loss has the exact variance of that simulated problem) against the "
        "exact expected risk (nqm.numerics.expected_risk). z = (mean − exact)/√(Var/R) with the exact variance Var of one "
        "run's loss (nqm.numerics.risk_variance). Tolerance: the mean must lie in [exact − below, exact + above] from "
        "nqm.proofs.monte_carlo_tolerances (Laurent–Massart, exact for Gaussian noise and start) at a family-wise "
        f"false-failure rate of {config.false_failure_rate:g} over all {len(rows)} comparisons."
    )
    idx.note(f"{len(rows) - len(bad)} of {len(rows)} comparisons agree" + (f"; disagreeing: {len(bad)}" if bad else "."),
             "warn" if bad else "note")
    cols = ["setting", "batch_size", "runs", "step", "exact", "mc_mean", "mc_stderr", "z", "allowed_below", "allowed_above", "agrees"]
    idx.table(rows, cols)
    idx.image(png, "exact expected risk (line) against the Monte-Carlo mean ± 3 standard errors (band), per setting.", [path])
    return {"comparisons": len(rows), "disagree": len(bad)}


def _monte_carlo_figure(outcomes: Sequence[Any], path: Path) -> None:
    n = max(len(outcomes), 1)
    fig = Figure(figsize=(3.4 * n, 3.0), layout="constrained")
    axes = fig.subplots(1, n, squeeze=False)[0]
    for ax, o in zip(axes, outcomes):
        t = np.arange(o.mean.size)
        ax.fill_between(t[1:], (o.mean - 3 * o.stderr)[1:], (o.mean + 3 * o.stderr)[1:], color="0.8", label="MC mean ± 3 s.e.")
        ax.plot(t[1:], o.mean[1:], color="0.35", lw=0.8, label=f"MC mean ({o.setting.runs} runs)")
        ax.plot(t[1:], o.exact[1:], "C0--", lw=1.3, label="exact risk")
        ax.plot(o.setting.steps[1:], o.exact[list(o.setting.steps[1:])], "C3o", ms=3.5, label="checked steps")
        ax.set(xscale="log", yscale="log", xlabel="step t", ylabel="loss", title=f"{o.setting.label}, B={o.setting.batch_size:g}")
        ax.title.set_fontsize(9)
        ax.legend(fontsize=6.5)
    fig.savefig(path, dpi=130)


def _validation(idx: _Index, results: Any, validation: tuple[str, str]) -> dict[str, Any]:
    mode, why = validation
    idx.heading("validation", _SECTION_TITLES["validation"])
    idx.note(why)
    if results.validation is None:
        return {"mode": mode}
    out = idx.out / "validation"
    linear = results.validation["linear"]
    idx.para("Linear regression h<sub>i</sub> = 1/i trained with PyTorch: max |z| of the PyTorch mean against each model, "
             "over all steps; agreement means max |z| ≤ the threshold (two-sided, 10<sup>−3</sup> false-failure rate over all steps). "
             "Far from the optimum the gradient noise of linear regression grows with the distance (multiplicative), so "
             "the constant-noise NQM is expected to be rejected there; the exact multiplicative model should agree everywhere.")
    idx.table(linear)
    idx.image(out / "linear_noise_models.png", "PyTorch mean excess loss beside the constant-noise NQM and the exact "
              "multiplicative-noise model.", [out / "linear_noise_models.csv"])
    report = results.validation["report"]
    if report is not None:
        idx.table(report.claims, ["claim", "network", "nqm", "network_detail", "nqm_detail"])
        idx.table(report.critical)
        for name in ("digits_steps.png", "digits_lr.png", "digits_c_vs_h.png"):
            idx.image(out / name, name.removesuffix(".png").replace("_", " "))
        idx.files([out / "report.md", *[out / f for f in ("digits_steps.csv", "critical_batch_sizes.csv", "claims.csv", "digits_spectrum.csv")]])
    return {"mode": mode, "linear": linear}


# ---------------------------------------------------------------------- header and index
def _header(config: Any, versions: dict[str, str], command: str, timer: Any, sections: Sequence[str], total: float,
            validation: tuple[str, str]) -> tuple[str, str]:
    prob = config.problem
    problem_rows = [
        dict(item="problem", value=prob.name),
        dict(item="dimension d (sum of bin weights)", value=fmt(float(prob.dimension))),
        dict(item="bins", value=f"{prob.size}" + (f" ({np.count_nonzero(prob.weights)} non-empty)" if np.any(prob.weights == 0) else "")),
        dict(item="noise", value="C = H" if np.allclose(prob.c, prob.h) else "C given per bin"),
        dict(item="initial risk", value=fmt(float(prob.initial_risk))),
        dict(item="information constant ½tr(H⁻¹C)", value=fmt(float(prob.information_constant))),
        dict(item="target risk ε", value=fmt(config.target)),
        dict(item="batch sizes", value=", ".join(f"{b:g}" for b in config.batch_sizes)),
        dict(item="preconditioning powers p (P = H^p)", value=", ".join(f"{p:g}" for p in config.powers)),
    ]
    timing = [dict(section=_SECTION_TITLES[s], finished_after_s=round(timer.wall[s], 1) if s in timer.wall else "skipped",
                   task_seconds=round(timer.task[s], 1) if s in timer.task else "") for s in sections]
    timing.append(dict(section="total (wall clock)", finished_after_s=round(total, 1), task_seconds=""))
    nav = " · ".join(f'<a href="#{s}">{_SECTION_TITLES[s]}</a>' for s in sections)
    html_part = (
        f"<p>The noisy quadratic model (NQM) of Zhang et al. 2019, <em>Which Algorithmic Choices Matter at Which Batch "
        f"Sizes?</em>: per eigen-direction i, loss ½h<sub>i</sub>θ<sub>i</sub>², mini-batch gradient noise of variance "
        f"c<sub>i</sub>/B. Generated {time.strftime('%Y-%m-%d %H:%M:%S %Z')} by</p><pre>{html.escape(command)}</pre>"
        f"<nav>{nav}</nav><h2 id=\"header\">Problem</h2>{table(problem_rows)}"
        f"<h2>Time per section</h2><p>Sections run side by side on a process pool or a cluster (as <code>nqm report</code> runs them) and one after the other on threads; <em>finished after</em> is the wall clock "
        f"from the start to the section's last result, <em>task seconds</em> the summed run time of its tasks (for the "
        f"sweeps and figures: of their calls, including waits for a free worker). Validation mode: "
        f"<strong>{validation[0]}</strong>.</p>{table(timing)}"
        f"<h2>Versions</h2>{table([dict(package=k, version=v) for k, v in versions.items()])}"
    )
    md_part = (
        f"Generated {time.strftime('%Y-%m-%d %H:%M:%S %Z')} by `{command}`. HTML version: [index.html](index.html).\n\n"
        f"## Problem\n\n{markdown_table(problem_rows)}\n\n## Time per section (validation mode: {validation[0]})\n\n"
        f"{markdown_table(timing)}\n\n## Versions\n\n{markdown_table([dict(package=k, version=v) for k, v in versions.items()])}\n"
    )
    return html_part, md_part


def write_pages(out: Path, *, config: Any, sections: Sequence[str], results: Any, timer: Any, validation: tuple[str, str],
                command: str, versions: dict[str, str]) -> Path:
    """Write every file of the report into ``out``; returns ``out/index.html``."""
    idx = _Index(out)
    summary: dict[str, Any] = {}
    if "derivations" in sections:
        summary["derivations"] = _derivations(idx, results)
    if "proofs" in sections:
        summary["proofs"] = _proofs(idx, results)
    if "figures" in sections:
        summary["figures"] = _figures(idx, results)
    if "sweeps" in sections:
        summary["sweeps"] = _sweeps(idx, config, results)
    if "schedules" in sections:
        summary["schedules"] = _schedules(idx, config, results)
    if "monte_carlo" in sections:
        summary["monte_carlo"] = _monte_carlo(idx, config, results)
    if "validation" in sections:
        summary["validation"] = _validation(idx, results, validation)
    total = time.perf_counter() - timer.start
    head_html, head_md = _header(config, versions, command, timer, sections, total, validation)
    index = out / "index.html"
    index.write_text(page(_TITLE, head_html + "\n".join(idx.html)))
    (out / "index.md").write_text(f"# {_TITLE}\n\n{head_md}\n" + "\n".join(idx.md))
    meta = dict(command=command, versions=versions, validation=validation[0], total_seconds=total,
                sections={s: dict(finished_after_s=timer.wall.get(s), task_seconds=timer.task.get(s)) for s in sections},
                summary=summary)
    (out / "report.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
    return index
