r"""LaTeX export in the paper's notation, with a parse-back round trip for every formula.

Symbols print with :data:`nqm.theory.LATEX_NAMES` (:math:`\alpha, \beta, \gamma, h_i, c_i, B,
p, r_1, r_2`), except the start moment :math:`v_0 = \mathrm{E}\,\theta_i(0)^2`, whose name in
LATEX_NAMES does not parse back; it prints as :math:`s_0`, Appendix D's name for it
(:data:`PRINT_NAMES`). Products whose next factor opens a parenthesis get an explicit
``\cdot``: sympy's ``parse_latex`` reads ``B \left(2 - x\right)`` as a call of a function B.

:func:`latex_document` writes one complete ``amsmath`` document of every derivation for
the chosen specs (state-space form, eq. 22's characteristic polynomial, roots and Vieta's
relations, the second-moment system of Appendices B/D, the stationary covariance and risk,
Jury's stability conditions, effective learning rates, the Z-transform closed forms of
Appendix C, the preconditioned steady state of eqs. 8–9) and of the paper's statements
re-derived by :mod:`nqm.theory._paper`. Every display line is ``label & formula``; the
formula (after an optional ``=``) is what :func:`roundtrip` parses back with
``sympy.parsing.latex.parse_latex`` and compares with its source symbolically.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import sympy as sp

from ._derive import derive
from ._moments import vech_basis
from ._spec import PRECONDITIONED_PROBLEM, OptimizerSpec, SpecError
from ._symbols import LATEX_NAMES, v0

__all__ = [
    "DocumentBlock",
    "Formula",
    "PRINT_NAMES",
    "document_formulas",
    "document_sections",
    "formula_lines",
    "latex_document",
    "parse_formula",
    "roundtrip",
    "select_specs",
    "to_latex",
]

#: the names used in print: LATEX_NAMES, with v0 as Appendix D's s_0 (see the module docstring)
PRINT_NAMES: dict[sp.Symbol, str] = {**LATEX_NAMES, v0: "s_{0}"}

# a factor that ends in a letter, digit, brace or parenthesis, followed by an opening \left(
_JUXTAPOSED_PAREN = re.compile(r"(?<=[A-Za-z0-9}\)])\s*(?=\\left\()")
_MATRIX = re.compile(r"^\\begin\{pmatrix\}(.*)\\end\{pmatrix\}$", re.S)
_RELATIONS = {"<": sp.StrictLessThan, ">": sp.StrictGreaterThan, r"\leq": sp.LessThan, r"\geq": sp.GreaterThan}


def _signed_factor(e: sp.Expr) -> tuple[int, sp.Expr]:
    """``(sign, factor)`` with ``sign * factor == e``: a sum (or an integer power of one) that can
    extract a minus sign is written the other way round."""
    base, exp = e.as_base_exp()
    if base.is_Add and exp.is_Integer and base.could_extract_minus_sign():
        return (-1 if int(exp) % 2 else 1), sp.Pow(-base, exp)
    return 1, e


def _canonical_signs(expr: sp.Expr) -> sp.Expr:
    r"""``expr`` with every sum that is a factor written with one canonical sign.

    :math:`1/(r_2 - r_1)` and :math:`-1/(r_1 - r_2)` are the same number, and which one a
    derivation ends with can depend on the order in which sympy met its terms (which varies
    between processes). Choosing, for each such sum :math:`s`, the one of :math:`\pm s` that
    cannot extract a minus sign makes the printed formula the same in every run.
    """

    def fix(e: sp.Expr) -> sp.Expr:
        parts = [_signed_factor(a) for a in (e.args if e.is_Mul else (e,))]
        sign = 1
        for s, _ in parts:
            sign *= s
        return sign * sp.Mul(*(f for _, f in parts))

    return expr.replace(lambda e: e.is_Mul or e.is_Pow, fix)


def _expr_latex(expr: sp.Expr) -> str:
    return _JUXTAPOSED_PAREN.sub(r" \\cdot ", sp.latex(_canonical_signs(expr), symbol_names=PRINT_NAMES))


def to_latex(obj: object) -> str:
    r"""LaTeX of a derived object in the paper's notation.

    Expressions, relations (``<``, ``>``, ``\leq``, ``\geq``), matrices (``pmatrix``),
    sequences (comma-separated), dicts such as ``Derivation.eigenvalues`` (``value`` with
    its multiplicity) and conjunctions (``\;\wedge\;``) all render. The result of an
    expression, a relation or a matrix parses back with :func:`parse_formula`.
    """
    if isinstance(obj, sp.MatrixBase):
        rows = [" & ".join(_expr_latex(e) for e in obj.row(i)) for i in range(obj.rows)]
        return r"\begin{pmatrix} " + r" \\ ".join(rows) + r" \end{pmatrix}"
    if isinstance(obj, sp.Rel):
        op = {sp.StrictLessThan: "<", sp.StrictGreaterThan: ">", sp.LessThan: r"\leq", sp.GreaterThan: r"\geq"}.get(type(obj))
        if op is None:
            return f"{_expr_latex(obj.lhs)} = {_expr_latex(obj.rhs)}"
        return f"{_expr_latex(obj.lhs)} {op} {_expr_latex(obj.rhs)}"
    if isinstance(obj, sp.And):
        return r" \;\wedge\; ".join(to_latex(a) for a in obj.args)
    if isinstance(obj, dict):
        return r",\quad ".join(
            to_latex(key) + (rf" \ (\times {m})" if m != 1 else "") for key, m in sorted(obj.items(), key=lambda kv: sp.default_sort_key(kv[0]))
        )
    if isinstance(obj, (tuple, list)):
        return ", ".join(to_latex(e) for e in obj)
    return _expr_latex(sp.sympify(obj))


# --------------------------------------------------------------------------- parsing back
@lru_cache(maxsize=1)
def _symbol_map() -> dict[sp.Symbol, sp.Symbol]:
    """Parsed symbol (e.g. ``Symbol('h_{i}')``) -> canonical :mod:`nqm.theory` symbol."""
    from sympy.parsing.latex import parse_latex

    table = {}
    for sym, name in PRINT_NAMES.items():
        parsed = parse_latex(name)
        if isinstance(parsed, sp.Symbol):
            table[parsed] = sym
    return table


def parse_formula(tex: str, symbols: Iterable[sp.Symbol] = ()) -> sp.Basic:
    """Parse a formula written by :func:`to_latex` back to sympy, in the canonical symbols.

    ``symbols`` adds further symbols (beyond :data:`PRINT_NAMES`) to map back by their
    printed name, e.g. a statement's own ``N`` or ``d``.
    """
    from sympy.parsing.latex import parse_latex

    symbols = tuple(symbols)
    table = dict(_symbol_map())
    for sym in symbols:
        table[parse_latex(sp.latex(sym))] = sym
    tex = tex.strip()
    matrix = _MATRIX.match(tex)
    if matrix:
        rows = [r for r in (row.strip() for row in matrix.group(1).split(r"\\")) if r]
        return sp.Matrix([[parse_formula(cell, symbols) for cell in row.split("&")] for row in rows])
    for op, cls in _RELATIONS.items():
        parts = re.split(rf"\s{re.escape(op)}\s", tex)
        if len(parts) == 2:
            return cls(parse_formula(parts[0], symbols), parse_formula(parts[1], symbols), evaluate=False)
    return parse_latex(tex).xreplace(table)


def roundtrip(tex: str, source: sp.Basic) -> bool:
    """True if ``tex`` parses back (:func:`parse_formula`) to an expression equal to ``source``.

    Symbols of ``source`` outside :data:`PRINT_NAMES` (e.g. the information bound's N and d)
    are mapped back by their printed names. Equality is symbolic: entrywise for matrices,
    by relation type and :math:`lhs - rhs` for relations, and for expressions by
    expansion/cancellation with powers in :math:`t, k` compared as sequences
    (:func:`nqm.theory._closed_form.same_closed_form`).
    """
    from ._closed_form import same_closed_form

    parsed = parse_formula(tex, [s for s in sp.sympify(source).free_symbols if s not in PRINT_NAMES])
    return _equal(parsed, sp.sympify(source), same_closed_form)


def _equal(parsed: sp.Basic, source: sp.Basic, same) -> bool:
    if isinstance(source, sp.MatrixBase):
        return isinstance(parsed, sp.MatrixBase) and parsed.shape == source.shape and all(
            same(a, b) for a, b in zip(parsed, source)
        )
    if isinstance(source, sp.Rel):
        return type(parsed) is type(source) and same(parsed.lhs - parsed.rhs, source.lhs - source.rhs)
    return not isinstance(parsed, (sp.MatrixBase, sp.Rel)) and same(parsed, source)


# --------------------------------------------------------------------------- document
@dataclass(frozen=True)
class Formula:
    r"""One display line ``label & formula`` of the document.

    ``label`` is LaTeX for the left-hand side (not parsed); ``source`` the sympy object, or
    eigenvalues with their multiplicities (printed by :func:`to_latex`); ``relation`` marks a
    condition line (no ``=``).
    """

    label: str
    source: sp.Basic | dict[sp.Expr, int]
    relation: bool = False

    @property
    def tex(self) -> str:
        """The right-hand side, as written in the document."""
        return to_latex(self.source)

    @property
    def line(self) -> str:
        """The align line (without the trailing ``\\\\``)."""
        return f"{self.label} & {self.tex}" if self.relation else f"{self.label} &= {self.tex}"


@dataclass(frozen=True)
class DocumentBlock:
    """One subsection of the LaTeX document: its heading, running text and display formulas."""

    heading: str
    text: str
    formulas: tuple[Formula, ...]


def _escape(text: str) -> str:
    return re.sub(r"([_&%#$])", r"\\\1", text).replace("^", r"\^{}")


def _vech_label(spec: OptimizerSpec) -> str:
    names = [rf"\mathrm{{E}}\,{_state_tex(spec, i)}{_state_tex(spec, j)}" for i, j in vech_basis(spec.n)]
    return ", ".join(names)


_GREEK = {"alpha", "beta", "gamma", "theta", "nu", "xi"}


def _state_tex(spec: OptimizerSpec, i: int) -> str:
    """A state component's name: Greek names as letters, others upright."""
    name = spec.state[i]
    return f"\\{name}" if name in _GREEK else rf"\mathrm{{{_escape(name)}}}"


#: specs with more states get no partial noise sum in the document (see _spec_blocks)
_PARTIAL_SUM_STATES = 2


def _spec_blocks(spec: OptimizerSpec) -> list[DocumentBlock]:
    """Every derivation of one spec, as document blocks."""
    d = derive(spec)
    cf = d.closed_form
    blocks = [
        DocumentBlock(
            "State-space form",
            rf"{_escape(spec.description[:1].upper() + spec.description[1:])} ({_escape(spec.reference) or 'user spec'}). Per eigen-direction, "
            r"$x_{t+1} = A x_t + b\,\xi_t$ with $\mathrm{E}\,\xi_t^2 = c_i/B$, $x_0 = \mathrm{init}\,\theta_i(0)$, "
            r"evaluated iterate $y_t = \mathrm{out}\,x_t$, state $("
            + ", ".join(_state_tex(spec, i) for i in range(spec.n))
            + ")$.",
            (Formula("A", spec.A), Formula("b", spec.b), Formula(r"\mathrm{init}", spec.init), Formula(r"\mathrm{out}", spec.out)),
        )
    ]
    roots: list[Formula] = [Formula(r"\det(zI - A)", d.characteristic_polynomial)]
    if cf.named:
        from ._closed_form import root_values

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
            r"written in its named roots $r_1, r_2, \dots$ (Theorems 1 and 2), tied to the hyperparameters by Vieta's relations.",
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
            r"(discrete Lyapunov equation), and the stationary risk $\tfrac12 h_i\frac{c_i}{B}\,\mathrm{out}\,\bar S\,\mathrm{out}^\top$.",
            (
                Formula("M", M),
                Formula("q", q),
                Formula(r"\bar S", S),
                Formula(r"\mathrm{E}\,\ell_{i}(\infty)", d.stationary_risk),
            ),
        )
    )
    blocks.append(
        DocumentBlock(
            "Stability",
            r"Jury (Schur--Cohn) conditions: all eigenvalues of $A$ strictly inside the unit circle.",
            tuple(Formula(rf"\text{{(J{i})}}\quad", cond, relation=True) for i, cond in enumerate(d.stability_conditions, 1)),
        )
    )
    if any(hp.name == "lr" for hp in spec.hyperparameters):
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
                    r"Effective learning rate from the slow eigenvalue $\lambda \approx 1 - \alpha_{\mathrm{eff}} h_i$ and "
                    r"from the small-$\alpha$ steady state (Section 3.2, eq. 7), and the slow eigenvalue to first order in $x = \alpha h_i$.",
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
    if spec.n <= _PARTIAL_SUM_STATES:
        closed += [
            Formula(r"\sum_{k<t} g_{k}^{2}", cf.partial_noise_sum),
            Formula(r"\mathrm{E}\,\ell_{i}(t)", cf.expected_risk),
        ]
        text += (
            r", the partial sum $\sum_{k<t} g_k^2$ and the exact risk $\mathrm{E}\,\ell_i(t) = \tfrac{h_i}{2}\bigl[s_0 m_t^2 + "
            r"\tfrac{c_i}{B}\sum_{k<t} g_k^2\bigr]$ with $s_0 = \mathrm{E}\,\theta_i(0)^2$ (the generic form substitutes the roots above)."
        )
    else:
        text += (
            rf". The partial sum $\sum_{{k<t}} g_k^2$ of a spec with more than {_PARTIAL_SUM_STATES} states is left out: "
            r"its symbolic self-check is too slow; the numeric engine evaluates the risk at step $t$ exactly."
        )
    blocks.append(DocumentBlock("Closed forms via the Z-transform", text, tuple(closed)))
    if not spec.preconditioned:
        blocks.append(
            DocumentBlock(
                "Preconditioning",
                r"With $P = H^p$ (eqs. 8--9) the method runs on the NQM $h_i \to h_i^{1-p}$, $c_i \to c_i h_i^{-p}$, "
                r"$s_0 \to s_0 h_i^{p}$; its stationary risk is",
                (Formula(r"\mathrm{E}\,\ell_{i}(\infty)\big|_{P = H^p}", d.stationary_risk.xreplace(PRECONDITIONED_PROBLEM)),),
            )
        )
    return blocks


def _paper_blocks(names: set[str]) -> list[DocumentBlock]:
    """The paper's statements that concern only the chosen specs, with their derivations."""
    from ._paper import STATEMENTS

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
        blocks.append(DocumentBlock(f"{st.reference}: {st.name}", text, formulas))
    return blocks


def select_specs(specs: Sequence[OptimizerSpec | str] | None) -> list[OptimizerSpec]:
    """The specs named (or given) in ``specs``; ``None`` means every registered optimizer."""
    from ._registry import get_spec, registered_specs

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


def formula_lines(document: str) -> list[str]:
    r"""The formulas of a document written by :func:`latex_document`: the right-hand side
    of every line of every ``align*`` block (the text after ``&`` and an optional ``=``)."""
    out = []
    for block in re.findall(r"\\begin\{align\*\}\n(.*?)\n\\end\{align\*\}", document, re.S):
        for line in re.split(r" \\\\\n", block):
            rhs = line.split("&", 1)[1].strip()
            out.append(rhs[1:].strip() if rhs.startswith("=") else rhs)
    return out
