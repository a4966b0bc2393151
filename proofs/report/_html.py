"""Plain HTML and Markdown for the report: a page skeleton with its own CSS, tables, and the
derivations page (formulas drawn as SVG files beside their LaTeX source).

Everything is readable offline: no script, no web font, no external stylesheet.
"""

from __future__ import annotations

import hashlib
import html
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ._math import Drawing, Piece, RenderedBlock, RenderedFormula, render_text

__all__ = ["derivations_page", "fmt", "link", "markdown_table", "page", "table", "texts_with_math"]

CSS = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d1d1f;
       max-width: 1100px; margin: 2em auto; padding: 0 1.2em; }
h1 { font-size: 1.7em; margin-bottom: .2em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2em; margin-top: 2em; }
h3 { margin-top: 1.6em; } h4 { margin: 1.2em 0 .4em; }
a { color: #0b5cad; } code, pre, .src { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .85em; }
table { border-collapse: collapse; margin: .6em 0 1.2em; font-size: .88em; }
th, td { border: 1px solid #d8d8d8; padding: .25em .55em; text-align: left; vertical-align: top; }
th { background: #f3f4f6; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.ok { color: #137333; font-weight: 600; } .bad { color: #b3261e; font-weight: 700; }
.note { background: #f6f8fa; border-left: 4px solid #0b5cad; padding: .5em .9em; margin: 1em 0; }
.warn { background: #fff4e5; border-left: 4px solid #e37400; padding: .5em .9em; margin: 1em 0; }
figure { margin: 1.2em 0 2em; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: .88em; color: #444; max-width: 900px; }
.formula { margin: .5em 0 .9em; padding: .3em .6em; border-left: 3px solid #e5e7eb; }
.formula .math { overflow-x: auto; } .formula .math img { display: block; margin: .15em 0; max-width: none; }
.formula details { margin-top: .2em; } .formula summary { cursor: pointer; color: #666; font-size: .8em; }
.src { white-space: pre-wrap; word-break: break-all; background: #f6f8fa; padding: .3em .5em; display: block; }
.matrix { display: inline-table; border-left: 2px solid #333; border-right: 2px solid #333; border-radius: 6px;
          margin: .2em 0 .2em 2em; } .matrix td { border: none; padding: .2em .7em; vertical-align: middle; }
.failed { color: #b3261e; }
img.inline { vertical-align: middle; }
nav.toc { columns: 2; font-size: .92em; } nav.toc ul { margin: 0; }
"""


def page(title: str, body: str, *, subtitle: str = "") -> str:
    """A complete HTML5 page with the report's CSS."""
    sub = f"<p>{subtitle}</p>" if subtitle else ""
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>{html.escape(title)}</title>\n'
        f"<style>{CSS}</style>\n</head>\n<body>\n<h1>{html.escape(title)}</h1>\n{sub}\n{body}\n</body>\n</html>\n"
    )


def fmt(value: Any, digits: int = 6) -> str:
    """A number for a table: integers exact, floats to ``digits`` significant digits, ``inf``/``nan`` spelled."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int,)) or (isinstance(value, float) and value.is_integer() and abs(value) < 1e15):
        return str(int(value))
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return f"{value:.{digits}g}"
    if hasattr(value, "item"):
        return fmt(value.item(), digits)
    return str(value)


def _cell(value: Any) -> str:
    if isinstance(value, tuple) and value[:1] == ("html",):
        return f"<td>{value[1]}</td>"
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool) or hasattr(value, "item")
    return f'<td class="num">{fmt(value)}</td>' if numeric else f"<td>{html.escape(fmt(value))}</td>"


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """An HTML table of ``rows`` (dicts); a cell ``("html", markup)`` or ``("html", markup, markdown)``
    is inserted verbatim."""
    if not rows:
        return "<p><em>(no rows)</em></p>"
    cols = list(columns or dict.fromkeys(k for r in rows for k in r))
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "\n".join("<tr>" + "".join(_cell(r.get(c, "")) for c in cols) + "</tr>" for r in rows)
    return f"<table>\n<tr>{head}</tr>\n{body}\n</table>"


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """A GitHub-flavoured Markdown table of ``rows`` (``("html", markup)`` cells as their text,
    ``("html", markup, markdown)`` cells as ``markdown``)."""
    if not rows:
        return "_(no rows)_"
    cols = list(columns or dict.fromkeys(k for r in rows for k in r))

    def text(v: Any) -> str:
        if isinstance(v, tuple) and v[:1] == ("html",):
            v = v[2] if len(v) == 3 else re.sub(r"<[^>]+>", "", v[1])
        return fmt(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(text(r.get(c, "")) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def link(href: str | Path, text: str | None = None) -> str:
    """An ``<a>`` element (href relative to the page, slashes as in URLs)."""
    ref = Path(href).as_posix()
    return f'<a href="{html.escape(ref)}">{html.escape(text or ref)}</a>'


# ---------------------------------------------------------------------- derivations
_TEXT_MACROS = (("--", "\u2013"), (r"\_", "_"), (r"\&", "&"), (r"\%", "%"), (r"\#", "#"), (r"\^{}", "^"), ("~", "\u00a0"))


def latex_text(text: str) -> str:
    """Running LaTeX text as plain text (dashes, escaped specials, ``\\emph``/``\\textbf`` dropped)."""
    for a, b in _TEXT_MACROS:
        text = text.replace(a, b)
    return re.sub(r"\\(?:emph|textbf|textit|texttt)\{([^{}]*)\}", r"\1", text)


class _Images:
    """SVG drawings written once each into ``folder`` (named by content hash); counts what it wrote."""

    def __init__(self, folder: Path, prefix: str) -> None:
        self.folder, self.prefix, self.written = folder, prefix, 0
        folder.mkdir(parents=True, exist_ok=True)

    def img(self, piece: Piece, css: str = "") -> str:
        if piece.drawing is None:
            return f'<code class="failed" title="mathtext could not draw this">{html.escape(piece.text)}</code>'
        d: Drawing = piece.drawing
        name = hashlib.sha1(d.svg.encode()).hexdigest()[:16] + ".svg"
        path = self.folder / name
        if not path.exists():
            path.write_text(d.svg)
            self.written += 1
        style = f' style="vertical-align:-{d.depth:.1f}pt"' if css == "inline" else ""
        cls = f' class="{css}"' if css else ""
        return f'<img{cls}{style} src="{self.prefix}/{name}" alt="{html.escape(piece.text)}">'


def _formula_html(f: RenderedFormula, images: _Images) -> str:
    rows = "".join(images.img(p) for p in f.lines)
    if f.matrix is not None:
        cells = "".join("<tr>" + "".join(f"<td>{images.img(p)}</td>" for p in row) + "</tr>" for row in f.matrix)
        rows += f'<table class="matrix">{cells}</table>'
    note = ""
    if f.failures:
        note = f'<div class="failed">mathtext could not draw {len(f.failures)} part(s); the LaTeX source below is exact.</div>'
    return (
        f'<div class="formula"><div class="math">{rows}</div>{note}'
        f'<details><summary>LaTeX</summary><code class="src">{html.escape(f.source)}</code></details></div>'
    )


def _text_html(pieces: Iterable[Piece], images: _Images) -> str:
    return "".join(images.img(p, "inline") if p.math else html.escape(latex_text(p.text)) for p in pieces)


def texts_with_math(texts: Sequence[str], folder: Path, prefix: str) -> list[str]:
    """Each of ``texts`` (running text with inline ``$...$``) as HTML, its formulas drawn by mathtext
    as SVG files in ``folder`` and linked as ``prefix/<name>.svg`` (a formula mathtext cannot
    draw stays as its LaTeX source)."""
    images = _Images(folder, prefix)
    memo: dict[str, Drawing | None] = {}
    return [_text_html(render_text(t, memo, []), images) for t in texts]


def _block_html(b: RenderedBlock, images: _Images) -> str:
    text = _text_html(b.text, images)
    formulas = "\n".join(_formula_html(f, images) for f in b.formulas)
    return f"<h4>{html.escape(latex_text(b.heading))}</h4>\n<p>{text}</p>\n{formulas}"


def _anchor(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def derivations_page(sections: Iterable[tuple[str, Sequence[RenderedBlock]]], folder: Path, *, intro: str) -> tuple[str, int, int]:
    """The derivations page (HTML), with its drawings written into ``folder/math``.

    Returns ``(html, formulas, failures)``: the number of display formulas and of mathtext
    failures (sources that are shown as LaTeX only).
    """
    images = _Images(folder / "math", "math")
    sections = list(sections)
    toc = "".join(f'<li><a href="#{_anchor(t)}">{html.escape(t)}</a></li>' for t, _ in sections)
    parts = [intro, f'<nav class="toc"><ul>{toc}</ul></nav>']
    formulas = failures = 0
    for title, blocks in sections:
        parts.append(f'<h2 id="{_anchor(title)}">{html.escape(title)}</h2>')
        for b in blocks:
            parts.append(_block_html(b, images))
            formulas += len(b.formulas)
            failures += len(b.failures)
    return "\n".join(parts), formulas, failures
