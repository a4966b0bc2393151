r"""The LaTeX document of the derivations: one section per optimizer, then the paper's statements.

:func:`latex_document` writes one complete ``amsmath`` document (with ``geometry`` for 2 cm
margins) of every derivation for the chosen specs (state-space form, eq. 22's characteristic
polynomial, roots and Vieta's relations, the second-moment system of Appendices B/D, the
stationary covariance and risk, Jury's stability conditions, effective learning rates, the
Z-transform closed forms of Appendix C, the preconditioned steady state of eqs. 8–9) and of
the paper's statements re-derived from the specs (:data:`~nqm.theory.STATEMENTS`). Every
display line is a :class:`~nqm.theory.Formula`, printed, broken into rows and parsed back by
the LaTeX layer below this module.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ._closed_form import root_values
from ._derive import derive
from ._latex import _CHARACTERISTIC, _STATIONARY, Formula, _stability_formulas, _state_space_formulas, to_latex
from ._moments import vech_basis
from ._paper import STATEMENTS
from ._registry import get_spec, registered_specs
from ._spec import PRECONDITIONED_PROBLEM, OptimizerSpec, SpecError

__all__ = [
    "DocumentBlock",
    "PARTIAL_SUM_STATES",
    "derivation_latex",
    "document_formulas",
    "document_sections",
    "latex_document",
    "select_specs",
]


@dataclass(frozen=True)
class DocumentBlock:
    """One subsection of the LaTeX document: its heading, running text and display formulas."""

    heading: str
    text: str
    formulas: tuple[Formula, ...]


def _escape(text: str) -> str:
    return re.sub(r"([_&%#$])", r"\\\1", text).replace("^", r"\^{}")


def _vech_label(spec: OptimizerSpec) -> str:
    r"""The second moments :math:`\mathrm{E}[\theta^2], \mathrm{E}[\theta\,m], \dots` in vech order."""
    names = [
        rf"\mathrm{{E}}[{_state_tex(spec, i)}^2]"
        if i == j
        else rf"\mathrm{{E}}[{_state_tex(spec, i)}\,{_state_tex(spec, j)}]"
        for i, j in vech_basis(spec.n)
    ]
    return ", ".join(names)


_GREEK = {"alpha", "beta", "gamma", "theta", "nu", "xi"}


def _state_tex(spec: OptimizerSpec, i: int) -> str:
    r"""A state component's name: Greek names as letters, others upright; a suffix after ``_``
    becomes an upright subscript (``theta_avg`` -> :math:`\theta_{\mathrm{avg}}`)."""
    name, _, suffix = spec.state[i].partition("_")
    base = f"\\{name}" if name in _GREEK else rf"\mathrm{{{_escape(name)}}}"
    return base + (rf"_{{\mathrm{{{_escape(suffix)}}}}}" if suffix else "")


def derivation_latex(spec: OptimizerSpec) -> str:
    r"""The main results of :func:`~nqm.theory.derive` for ``spec`` as :func:`latex_document` writes
    them: the state-space form, the characteristic polynomial (eq. 22), the stationary risk and
    Jury's stability conditions, in one display (``Derivation._repr_latex_``)."""
    return derive(spec)._repr_latex_()


#: specs with more states get no partial noise sum in the document (see _spec_blocks) nor in
#: ``nqm derive``: its symbolic self-check is too slow
PARTIAL_SUM_STATES = 2


def _spec_blocks(spec: OptimizerSpec) -> list[DocumentBlock]:
    """Every derivation of one spec, as document blocks."""
    d = derive(spec)
    cf = d.closed_form
    blocks = [
        DocumentBlock(
            "State-space form",
            rf"{_escape(spec.description[:1].upper() + spec.description[1:])} "
            rf"({_escape(spec.reference) or 'user spec'}). Per eigen-direction, "
            r"$x_{t+1} = A x_t + b\,\xi_t$ with $\mathrm{E}\,\xi_t^2 = c_i/B$, $x_0 = \mathrm{init}\,\theta_i(0)$, "
            r"evaluated iterate $y_t = \mathrm{out}\,x_t$, state $("
            + ", ".join(_state_tex(spec, i) for i in range(spec.n))
            + ")$.",
            _state_space_formulas(spec),
        )
    ]
    roots: list[Formula] = [Formula(_CHARACTERISTIC, d.characteristic_polynomial)]
    if cf.named:
        try:
            values = root_values(spec)
        except SpecError:
            values = ()
        roots += [Formula(to_latex(r), v) for r, v in zip(cf.roots, values)]
        roots += [Formula(to_latex(rel.lhs), rel.rhs) for rel in cf.vieta]
    blocks.append(
        DocumentBlock(
            "Mean dynamics",
            r"Characteristic polynomial of the mean dynamics (eq. 22); for $n \ge 2$ states the closed forms below are "
            r"written in its named roots $r_1, r_2, \dots$ (Theorems 1 and 2), tied to the hyperparameters by "
            r"Vieta's relations.",
            tuple(roots),
        )
    )
    M, q = d.second_moment
    S = d.stationary_covariance
    blocks.append(
        DocumentBlock(
            "Second moments",
            rf"Second-moment dynamics $s_{{t+1}} = M s_t + q$ on $s = ({_vech_label(spec)})$ (Appendices B and D); "
            r"stationary second moment $\frac{c_i}{B}\bar S$ with $\bar S = A\bar SA^\top + bb^\top$ "
            r"(discrete Lyapunov equation), and the stationary risk "
            r"$\tfrac12 h_i\frac{c_i}{B}\,\mathrm{out}\,\bar S\,\mathrm{out}^\top$.",
            (
                Formula("M", M),
                Formula("q", q),
                Formula(r"\bar S", S),
                Formula(_STATIONARY, d.stationary_risk),
            ),
        )
    )
    blocks.append(
        DocumentBlock(
            "Stability",
            r"Jury (Schur--Cohn) conditions: all eigenvalues of $A$ strictly inside the unit circle.",
            _stability_formulas(d.stability_conditions),
        )
    )
    if any(hp.name == "lr" for hp in spec.hyperparameters):
        small: tuple[Formula, ...]
        try:
            small = (
                Formula(r"\alpha_{\mathrm{eff}}", d.effective_lr),
                Formula(r"\alpha_{\mathrm{eff}}^{\mathrm{steady}}", d.effective_lr_steady_state),
                Formula(r"\lambda_{\mathrm{slow}}", d.slow_eigenvalue_series),
            )
        except SpecError:
            small = ()
        if small:
            blocks.append(
                DocumentBlock(
                    "Small steps",
                    r"Effective learning rate from the slow eigenvalue "
                    r"$\lambda \approx 1 - \alpha_{\mathrm{eff}} h_i$ and "
                    r"from the small-$\alpha$ steady state (Section 3.2, eq. 7), and the slow eigenvalue to first "
                    r"order in $x = \alpha h_i$.",
                    small,
                )
            )
    closed = [
        Formula("m_{t}", cf.mean_path),
        Formula("g_{k}", cf.impulse_response),
        Formula(r"\sum_{k\ge0} g_{k}^{2}", cf.noise_sum),
    ]
    text = (
        r"Mean path $m_t = \mathrm{out}\,A^t\,\mathrm{init}$, impulse response $g_k = \mathrm{out}\,A^k b$, "
        r"the stationary sum $\sum_{k\ge0} g_k^2$ (Parseval, Appendix C, eqs. 30--31)"
    )
    if spec.n <= PARTIAL_SUM_STATES:
        closed += [
            Formula(r"\sum_{k<t} g_{k}^{2}", cf.partial_noise_sum),
            Formula(r"\mathrm{E}\,\ell_{i}(t)", cf.expected_risk),
        ]
        text += (
            r", the partial sum $\sum_{k<t} g_k^2$ and the exact risk "
            r"$\mathrm{E}\,\ell_i(t) = \tfrac{h_i}{2}\bigl[s_0 m_t^2 + "
            r"\tfrac{c_i}{B}\sum_{k<t} g_k^2\bigr]$ with $s_0 = \mathrm{E}\,\theta_i(0)^2$ "
            r"(the generic form substitutes the roots above)."
        )
    else:
        text += (
            rf". The partial sum $\sum_{{k<t}} g_k^2$ of a spec with more than {PARTIAL_SUM_STATES} states "
            r"is left out: "
            r"its symbolic self-check is too slow; the numeric engine evaluates the risk at step $t$ exactly."
        )
    blocks.append(DocumentBlock("Closed forms via the Z-transform", text, tuple(closed)))
    if not spec.preconditioned:
        blocks.append(
            DocumentBlock(
                "Preconditioning",
                r"With $P = H^p$ (eqs. 8--9) the method runs on the NQM $h_i \to h_i^{1-p}$, $c_i \to c_i h_i^{-p}$, "
                r"$s_0 \to s_0 h_i^{p}$; its stationary risk is",
                (
                    Formula(
                        r"\mathrm{E}\,\ell_{i}(\infty)\big|_{P = H^p}",
                        d.stationary_risk.xreplace(PRECONDITIONED_PROBLEM),
                    ),
                ),
            )
        )
    return blocks


def _paper_blocks(names: set[str]) -> list[DocumentBlock]:
    """The paper's statements that concern only the chosen specs, with their derivations."""
    blocks = []
    for st in STATEMENTS:
        if not set(st.specs) <= names:
            continue
        result = st.check()
        verdict = (
            "Derived from the specs and equal to the statement (checked symbolically)."
            if result.equal
            else "Derived from the specs: the statement is refuted (the derivation differs)."
        )
        kind = "Statement" if st.correct else "Public restatement (known error)"
        text = (
            rf"{kind}: {st.title} ({_escape(st.reference)}). "
            + (f"Assumptions: {'; '.join(st.assumptions)}. " if st.assumptions else "")
            + verdict
        )
        formulas = st.formulas(derived=result.derived)
        blocks.append(DocumentBlock(st.heading, text, formulas))
    return blocks


def select_specs(specs: Sequence[OptimizerSpec | str] | None) -> list[OptimizerSpec]:
    """The specs named (or given) in ``specs``; ``None`` means every registered optimizer."""
    if specs is None:
        return list(registered_specs())
    chosen = [get_spec(s) if isinstance(s, str) else s for s in specs]
    if not chosen:
        raise ValueError("specs must name at least one optimizer (or be None for all)")
    return chosen


def document_sections(specs: Sequence[OptimizerSpec | str] | None) -> list[tuple[str, list[DocumentBlock]]]:
    """The document of :func:`latex_document` as ``(section title, blocks)``: one section per
    optimizer, then the paper's results re-derived for the chosen ones."""
    chosen = select_specs(specs)
    sections = [(f"Optimizer {spec.name}", _spec_blocks(spec)) for spec in chosen]
    paper = _paper_blocks({spec.name for spec in chosen})
    if paper:
        sections.append(("The paper's results, re-derived from the specs", paper))
    return sections


def document_formulas(specs: Sequence[OptimizerSpec | str] | None = None) -> list[Formula]:
    """Every formula of :func:`latex_document` for ``specs``, in document order."""
    return [f for _, blocks in document_sections(specs) for block in blocks for f in block.formulas]


_PREAMBLE = r"""\documentclass{article}
\usepackage{amsmath}
\usepackage[a4paper, margin=2cm]{geometry}
\allowdisplaybreaks
\begin{document}
\section*{Derivations on the noisy quadratic model}
Zhang et al.\ (2019), \emph{Which Algorithmic Choices Matter at Which Batch Sizes?}. Everything below is
derived by nqm-toolkit from the optimizers' state-space specs, per eigen-direction $i$: learning rate $\alpha$,
momentum $\beta$, EMA coefficient $\gamma$, curvature $h_i$, gradient-noise variance $c_i$, batch size $B$,
preconditioning power $p$, start moment $s_0 = \mathrm{E}\,\theta_i(0)^2$ (so $\mathrm{E}\,\ell_i(0) = h_i s_0/2$),
roots $r_1, r_2$ and $x = \alpha h_i$. Equation numbers are the paper's.
"""


def latex_document(
    specs: Sequence[OptimizerSpec | str] | None = None, path: str | Path | None = None, *, overwrite: bool = False
) -> str:
    """A complete LaTeX document (amsmath only) of all derivations for ``specs`` (None: every registered spec).

    ``specs`` holds specs or registered names. With ``path`` the document is also written
    there; an existing file is replaced only with ``overwrite=True`` (else
    :class:`FileExistsError`).
    """
    parts = [_PREAMBLE]
    for title, blocks in document_sections(specs):
        parts.append(f"\n\\section{{{_escape(title)}}}\n")
        for block in blocks:
            parts.append(f"\\subsection*{{{_escape(block.heading)}}}\n{block.text}\n")
            if block.formulas:
                lines = " \\\\\n".join(f.line for f in block.formulas)
                parts.append(f"\\begin{{align*}}\n{lines}\n\\end{{align*}}\n")
    parts.append("\\end{document}\n")
    text = "".join(parts)
    if path is not None:
        target = Path(path)
        if target.exists() and not overwrite:
            raise FileExistsError(f"{target} exists; pass overwrite=True to replace it")
        target.write_text(text)
    return text
