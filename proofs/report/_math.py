r"""Formulas for the report: the derivations of :mod:`nqm.theory` (its LaTeX document), rendered without LaTeX.

The machine that runs ``nqm report`` has no TeX installation, so every formula is drawn with
matplotlib's mathtext (Computer Modern glyphs as SVG paths) and shown beside its LaTeX source.
mathtext knows a subset of LaTeX; :func:`mathtext_source` rewrites the few constructs the
document uses that it lacks (``\tfrac``, ``\ge``, ``\big|``, ``\textstyle``), a
``pmatrix`` becomes a grid of separately rendered entries, and a long formula is drawn in
the rows the LaTeX document breaks it into (:attr:`nqm.theory.Formula.rows`, before
top-level ``+``, ``-`` and between eigenvalues). A formula that mathtext still cannot parse
keeps its source and is counted as a failure (:attr:`RenderedFormula.failures`).

The symbolic work (:func:`derivation_sections`) and the rendering (:func:`render_sections`)
are separate module-level functions so that the report can run them as picklable tasks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from matplotlib.path import Path

from nqm.theory import DocumentBlock, Formula, derive, document_sections, latex_document, select_specs

__all__ = [
    "Drawing",
    "Piece",
    "RenderedBlock",
    "RenderedFormula",
    "derivation_sections",
    "mathtext_source",
    "render_sections",
    "render_text",
    "render_svg",
]

_TOKEN = r"(\\[A-Za-z]+|[A-Za-z0-9])"
_REWRITES = (
    (re.compile(r"\\([td]?frac)\s*" + _TOKEN + r"\s*" + _TOKEN), r"\\\1{\2}{\3}"),
    (re.compile(r"\\sqrt\s*" + _TOKEN), r"\\sqrt{\1}"),
    (re.compile(r"\\[td]frac(?![A-Za-z])"), r"\\frac"),
    (re.compile(r"\\ge(?![A-Za-z])"), r"\\geq"),
    (re.compile(r"\\le(?![A-Za-z])"), r"\\leq"),
    (re.compile(r"\\(?:big|Big|bigg|Bigg)[lr]?(?![A-Za-z])"), ""),
    (re.compile(r"\\(?:textstyle|displaystyle)(?![A-Za-z])"), ""),
)
_MATRIX = re.compile(r"\\begin\{pmatrix\}(.*?)\\end\{pmatrix\}", re.S)


def mathtext_source(tex: str) -> str:
    r"""``tex`` rewritten into the LaTeX subset that matplotlib's mathtext parses.

    Unbraced arguments get braces (``\frac12`` -> ``\frac{1}{2}``, ``\sqrt\beta`` -> ``\sqrt{\beta}``),
    ``\tfrac``/``\dfrac`` become ``\frac``, ``\ge``/``\le`` become ``\geq``/``\leq``, and the
    size commands ``\big`` (and relatives) and ``\textstyle``/``\displaystyle`` are dropped;
    the mathematics is unchanged.
    """
    for pattern, repl in _REWRITES:
        tex = pattern.sub(repl, tex)
    return tex


@dataclass(frozen=True)
class Drawing:
    """A formula drawn as an SVG document (glyphs as paths); ``depth``: points below the baseline."""

    svg: str
    depth: float


#: font size of the drawings (points) and the margin around them
_SIZE, _PAD = 13.0, 1.0
_SVG_CODES = {Path.MOVETO: "M", Path.LINETO: "L", Path.CURVE3: "Q", Path.CURVE4: "C"}


def render_svg(tex: str) -> Drawing | None:
    r"""``$tex$`` drawn by mathtext (Computer Modern) as a self-contained SVG, or ``None`` if it cannot parse it.

    The glyph outlines come from :class:`matplotlib.textpath.TextPath` (one mathtext parse)
    and are written as one SVG path, so the drawing needs no font on the reader's side.
    """
    import matplotlib
    from matplotlib.textpath import TextPath

    try:
        with matplotlib.rc_context({"mathtext.fontset": "cm"}):
            path = TextPath((0, 0), f"${tex}$", size=_SIZE)
    except (ValueError, RuntimeError):
        return None
    ext = path.get_extents()
    left, top = ext.x0 - _PAD, ext.y1 + _PAD
    parts = []
    for vertices, code in path.iter_segments(simplify=False, curves=True):
        if code == Path.CLOSEPOLY:
            parts.append("Z")
            continue
        xy = vertices.reshape(-1, 2)
        parts.append(_SVG_CODES[code] + " ".join(f"{x - left:.1f} {top - y:.1f}" for x, y in xy))
    width, height = ext.width + 2 * _PAD, ext.height + 2 * _PAD
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.1f}pt" height="{height:.1f}pt" '
        f'viewBox="0 0 {width:.1f} {height:.1f}"><path d="{"".join(parts)}"/></svg>\n'
    )
    return Drawing(svg, max(0.0, -ext.y0) + _PAD)


# ---------------------------------------------------------------------- the document's formulas
def derivation_sections(specs: Sequence[object] | None = None) -> tuple[str, list[tuple[str, list[DocumentBlock]]]]:
    r"""``(document, sections)``: :func:`~nqm.theory.latex_document` for ``specs`` (None:
    every registered optimizer) and its content, :func:`~nqm.theory.document_sections`:
    one ``(title, blocks)`` per optimizer (plus the paper's re-derived statements).

    Each optimizer's section also lists the eigenvalues of its second-moment transition
    :math:`M` (Appendix B), which the document leaves implicit in :math:`M`.
    """
    document = latex_document(specs)
    chosen = {spec.name: spec for spec in select_specs(specs)}
    sections = document_sections(specs)
    for title, blocks in sections:
        spec = chosen.get(title.removeprefix("Optimizer ")) if title.startswith("Optimizer ") else None
        if spec is not None:
            eig = derive(spec).second_moment_eigenvalues
            at = next(i for i, b in enumerate(blocks) if b.heading == "Second moments") + 1
            blocks.insert(at, DocumentBlock(
                "Second-moment eigenvalues",
                r"Eigenvalues of $M$ with their multiplicities: the rates at which the second moments, and so the "
                r"expected risk, approach the stationary value (Appendix B).",
                (Formula(r"\operatorname{eig} M", eig),),
            ))
    return document, sections


# ---------------------------------------------------------------------- rendering
@dataclass(frozen=True)
class Piece:
    """Running text (``math=False``), or a formula's mathtext source ``text`` with its
    ``drawing`` (``None`` where mathtext could not parse it)."""

    text: str
    drawing: Drawing | None = None
    math: bool = False


@dataclass(frozen=True)
class RenderedFormula:
    r"""A display line with its drawings.

    ``source``: the LaTeX line as written in ``derivations.tex`` (without the alignment ``&``);
    ``lines``: the drawn rows (the first holds the label; a long right-hand side continues on
    further rows, :attr:`~nqm.theory.Formula.rows`); ``matrix``: for a ``pmatrix`` right-hand side, its
    entries drawn one by one (rows of pieces), else ``None``; ``failures``: the mathtext sources
    that could not be drawn (shown as source in the page).
    """

    source: str
    lines: tuple[Piece, ...]
    matrix: tuple[tuple[Piece, ...], ...] | None
    failures: tuple[str, ...]


@dataclass(frozen=True)
class RenderedBlock:
    """A :class:`~nqm.theory.DocumentBlock` with the inline formulas of its running text and
    its display lines drawn."""

    heading: str
    text: tuple[Piece, ...]
    formulas: tuple[RenderedFormula, ...]
    failures: tuple[str, ...]


def _draw(tex: str, memo: dict[str, Drawing | None], failures: list[str]) -> Piece:
    src = mathtext_source(tex)
    if src not in memo:
        memo[src] = render_svg(src)
    if memo[src] is None:
        failures.append(src)
    return Piece(src, memo[src], math=True)


def _render_formula(formula: Formula, memo: dict[str, Drawing | None]) -> RenderedFormula:
    failures: list[str] = []
    tex = formula.tex
    head = formula.label if formula.relation else f"{formula.label} ="
    source = f"{head} {tex}"
    found = _MATRIX.fullmatch(tex.strip())
    if found:
        cells = [[c.strip() for c in row.split("&")] for row in found.group(1).split(r"\\") if row.strip()]
        lines = (_draw(head, memo, failures),)
        matrix = tuple(tuple(_draw(c, memo, failures) for c in row) for row in cells)
        return RenderedFormula(source, lines, matrix, tuple(failures))
    rows = formula.rows
    lines = (_draw(f"{head} {rows[0]}", memo, failures),) + tuple(_draw(r"\quad " + row, memo, failures) for row in rows[1:])
    return RenderedFormula(source, lines, None, tuple(failures))


_INLINE = re.compile(r"\$([^$]+)\$")


def render_text(text: str, memo: dict[str, Drawing | None], failures: list[str]) -> tuple[Piece, ...]:
    """Running text with inline ``$...$`` formulas drawn (``memo``: drawings by source, shared between
    calls; the sources mathtext cannot parse are appended to ``failures``)."""
    parts: list[Piece] = []
    pos = 0
    for m in _INLINE.finditer(text):
        parts.append(Piece(text[pos : m.start()]))
        parts.append(_draw(m.group(1), memo, failures))
        pos = m.end()
    parts.append(Piece(text[pos:]))
    return tuple(p for p in parts if p.math or p.text)


def render_sections(sections: Sequence[tuple[str, Sequence[DocumentBlock]]]) -> list[tuple[str, list[RenderedBlock]]]:
    """Draw every display line and inline formula of ``sections`` (identical sources are drawn once)."""
    memo: dict[str, Drawing | None] = {}
    out = []
    for title, blocks in sections:
        rendered = []
        for b in blocks:
            failures: list[str] = []
            text = render_text(b.text, memo, failures)
            formulas = tuple(_render_formula(formula, memo) for formula in b.formulas)
            rendered.append(RenderedBlock(b.heading, text, formulas, tuple(failures) + tuple(f for r in formulas for f in r.failures)))
        out.append((title, rendered))
    return out
