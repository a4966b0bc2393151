r"""Writers for proof results: a rich table, JSON, a LaTeX appendix (amsmath), and tables for notebooks.

Every writer takes the list of :class:`~nqm.proofs.ProofResult` from
:func:`~nqm.proofs.run_all` (a :class:`ProofReport`, which also converts to a pandas DataFrame
and displays as an HTML table in Jupyter). The appendix gives each proof its claim in words and as a
display (``gather*``), its method, reference, assumptions and domain, its outcome and run
time, and the steps of the check; it needs only ``amsmath`` (and ``fontenc`` for ``<``/``>`` in
text).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from nqm.numerics.io import json_ready

from .._tables import html_table, to_dataframe

__all__ = ["ProofReport", "ProofResult", "latex_appendix", "proof_table", "results_to_json", "summary", "write_json", "write_latex"]

@dataclass(frozen=True)
class ProofResult:
    """The outcome of one proof.

    ``name``, ``claim`` (words, inline LaTeX allowed), ``latex`` (display math; lines joined by
    ``\\\\``), ``method`` (from :data:`METHODS`), ``ok``, ``outcome`` (``passed``, ``failed`` or
    ``error``), ``details`` (the steps, each marked ``[ok]``/``[FAIL]``), ``reference``,
    ``assumptions``, ``domain``, ``optimizers`` (the registered names it concerns),
    ``seconds`` (wall time of the check), ``data`` (figures such as a fitted slope) and
    ``statements`` (the names of the theory statements the proof holds).
    """

    name: str
    claim: str
    latex: str
    method: str
    ok: bool
    outcome: str
    details: tuple[str, ...]
    reference: str
    assumptions: tuple[str, ...]
    domain: str
    optimizers: tuple[str, ...]
    seconds: float
    data: Mapping[str, Any] = field(default_factory=dict)
    statements: tuple[str, ...] = ()



#: the columns of :meth:`ProofReport.to_pandas`
COLUMNS = ("proof", "outcome", "method", "seconds", "optimizers", "reference", "claim", "details")


class ProofReport(list):
    """The :class:`~nqm.proofs.ProofResult` records of :func:`~nqm.proofs.run_all` (a list), with
    a tidy table: one row per proof, columns :data:`COLUMNS` (``details``: the proof's steps, one
    line each)."""

    def records(self) -> list[dict[str, object]]:
        """One dict per proof (keys :data:`COLUMNS`)."""
        return [
            {"proof": r.name, "outcome": r.outcome, "method": r.method, "seconds": r.seconds,
             "optimizers": ", ".join(r.optimizers), "reference": r.reference, "claim": r.claim,
             "details": "\n".join(r.details)}
            for r in self
        ]

    def to_pandas(self) -> Any:
        """A ``pandas.DataFrame``, one row per proof. Needs the ``tables`` extra (pandas), imported here on demand."""
        return to_dataframe(self.records(), COLUMNS)

    def _repr_html_(self) -> str:
        """An HTML table of the proofs (Jupyter); needs no pandas."""
        return html_table(self.records(), COLUMNS, summary(self))


def summary(results: Sequence[ProofResult]) -> str:
    """One line: how many proofs passed and failed, and the total run time."""
    failed = [r.name for r in results if not r.ok]
    total = sum(r.seconds for r in results)
    text = f"{len(results)} proofs: {len(results) - len(failed)} passed, {len(failed)} failed ({total:.1f} s)"
    return text + (f"; failed: {', '.join(failed)}" if failed else "")


def proof_table(results: Sequence[ProofResult]) -> Table:
    """A rich table: proof, method, outcome, seconds (failures in red)."""
    table = Table(title="nqm-toolkit proofs", show_lines=False)
    table.add_column("proof", no_wrap=True)
    table.add_column("method", overflow="fold")
    table.add_column("outcome")
    table.add_column("s", justify="right")
    for r in results:
        style = "green" if r.ok else "bold red"
        table.add_row(escape(r.name), escape(r.method), f"[{style}]{r.outcome}[/{style}]", f"{r.seconds:.2f}")
    return table


# ---------------------------------------------------------------------- JSON
def results_to_json(results: Sequence[ProofResult]) -> dict[str, Any]:
    """The results as a JSON-ready dict: ``ok``, counts, total seconds, and one record per proof."""
    records = [
        {
            "name": r.name,
            "claim": r.claim,
            "latex": r.latex,
            "method": r.method,
            "ok": r.ok,
            "outcome": r.outcome,
            "seconds": r.seconds,
            "reference": r.reference,
            "assumptions": list(r.assumptions),
            "domain": r.domain,
            "optimizers": list(r.optimizers),
            "statements": list(r.statements),
            "details": list(r.details),
            "data": r.data,
        }
        for r in results
    ]
    return json_ready({
        "ok": all(r.ok for r in results),
        "passed": sum(r.ok for r in results),
        "failed": sum(not r.ok for r in results),
        "seconds": sum(r.seconds for r in results),
        "proofs": records,
    })


def _target(path: str | Path, overwrite: bool) -> Path:
    target = Path(path)
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} exists; pass overwrite=True (--force) to replace it")
    return target


def write_json(results: Sequence[ProofResult], path: str | Path, *, overwrite: bool = False) -> Path:
    """Write :func:`results_to_json` to ``path`` (``FileExistsError`` if it exists, unless ``overwrite``)."""
    target = _target(path, overwrite)
    target.write_text(json.dumps(results_to_json(results), indent=2) + "\n")
    return target


# ---------------------------------------------------------------------- LaTeX
_TEXT_SPECIALS = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\^{}",
}


def _text(s: str) -> str:
    """Plain text with LaTeX's special characters escaped."""
    return "".join(_TEXT_SPECIALS.get(ch, ch) for ch in s)


def _mixed(s: str) -> str:
    """Text with inline ``$...$`` math: the math kept, the text between escaped."""
    parts = re.split(r"(\$[^$]*\$)", s)
    return "".join(p if p.startswith("$") and p.endswith("$") and len(p) > 1 else _text(p) for p in parts)


_PREAMBLE = r"""\documentclass{article}
\usepackage[T1]{fontenc}
\usepackage{amsmath}
\allowdisplaybreaks
\sloppy
\begin{document}
\section*{Appendix: machine-checked proofs}
Generated by nqm-toolkit (\texttt{nqm proofs}) for the noisy quadratic model of Zhang et al.\ (2019),
\emph{Which Algorithmic Choices Matter at Which Batch Sizes?}. Notation per eigen-direction $i$: learning rate
$\alpha$, momentum $\beta$, EMA coefficient $\gamma$, curvature $h_i$, gradient-noise variance $c_i$, batch size $B$,
preconditioning power $p$, start moment $s_0 = \mathrm{E}\,\theta_i(0)^2$, roots $r_1, r_2$, $x = \alpha h_i$.
Methods: symbolic identity, series expansion, sign or factorisation argument under the stated assumptions,
numerical with the exact engine (exact integer steps), or a dense sampled check with mpmath at 50 digits
(used only where no symbolic route exists, and reported as such).
"""


def latex_appendix(results: Sequence[ProofResult]) -> str:
    """A complete LaTeX document (amsmath): for each proof its claim, method, outcome and steps."""
    parts = [_PREAMBLE, f"\n\\noindent {_text(summary(results))}.\n"]
    for r in results:
        verdict = {"passed": "passed", "failed": "FAILED", "error": "FAILED (the check raised an error)"}.get(r.outcome, r.outcome)
        parts.append(f"\n\\subsection*{{{_text(r.name)}}}\n")
        parts.append(f"\\textbf{{Claim.}} {_mixed(r.claim)}.\n")
        if r.latex:
            parts.append(f"\\begin{{gather*}}\n{r.latex}\n\\end{{gather*}}\n")
        parts.append(f"\\textbf{{Method.}} {_text(r.method)}. ")
        if r.reference:
            parts.append(f"\\textbf{{Reference.}} {_mixed(r.reference)}. ")
        if r.assumptions:
            parts.append(f"\\textbf{{Assumptions.}} {'; '.join(_mixed(a) for a in r.assumptions)}. ")
        if r.domain:
            parts.append(f"\\textbf{{Domain.}} {_mixed(r.domain)}. ")
        if r.statements:
            parts.append(f"\\textbf{{Wraps the theory statements}} {', '.join(_text(s) for s in r.statements)}. ")
        parts.append(f"\\textbf{{Outcome.}} {verdict} in {r.seconds:.2f}\\,s.\n")
        if r.details:
            items = "\n".join(f"  \\item \\texttt{{{_text(d)}}}" for d in r.details)
            parts.append(f"\\begin{{itemize}}\n{items}\n\\end{{itemize}}\n")
    parts.append("\\end{document}\n")
    return "".join(parts)


def write_latex(results: Sequence[ProofResult], path: str | Path, *, overwrite: bool = False) -> Path:
    """Write :func:`latex_appendix` to ``path`` (``FileExistsError`` if it exists, unless ``overwrite``)."""
    target = _target(path, overwrite)
    target.write_text(latex_appendix(results))
    return target
