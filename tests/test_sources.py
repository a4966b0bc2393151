"""Every Python source of the repository compiles without a warning.

An invalid escape such as ``"\\m"`` in a docstring that is not a raw string is a
``DeprecationWarning`` at compile time on Python 3.11 and a ``SyntaxWarning``, printed on the
user's first import, from 3.12 on; the LaTeX in docstrings makes it an easy slip.
"""

from __future__ import annotations

import ast
import re
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("theory", "numerics", "proofs", "tests", "benchmarks", "examples")
SOURCES = sorted(p for folder in FOLDERS for p in (ROOT / folder).rglob("*.py"))


def test_the_sources_are_found() -> None:
    assert (ROOT / "numerics" / "__init__.py") in SOURCES and len(SOURCES) > 50


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_source_compiles_without_warnings(path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compile(path.read_text(encoding="utf-8"), str(path), "exec", dont_inherit=True)


#: a backslash that Python reads as an escape where LaTeX meant a command: \alpha, \beta, \frac, \nu, \rho,
#: \tfrac, \varepsilon (a bell, a backspace, a form feed, a newline, ... in the docstring)
LATEX_AS_ESCAPE = re.compile(r"(?<!\\)\\[abfnrtv][A-Za-z]")


def _docstring_literals(tree: ast.AST) -> list[ast.Constant]:
    return [node.body[0].value for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body
            and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)
            and isinstance(node.body[0].value.value, str)]


def test_docstrings_with_latex_are_raw() -> None:
    """``:math:`\\nu``` in a plain docstring is a newline and ``u`` (compiles without a warning)."""
    bad = []
    for path in SOURCES:
        source = path.read_text(encoding="utf-8")
        for literal in _docstring_literals(ast.parse(source)):
            text = ast.get_source_segment(source, literal) or ""
            if text[:1] not in "rR" and (match := LATEX_AS_ESCAPE.search(text)):
                bad.append(f"{path.relative_to(ROOT)}:{literal.lineno}: {match.group()}")
    assert not bad, f"make these docstrings raw (r\"\"\"): {bad}"


#: the reference files the maintainers work from, which users do not have (spelled in two parts so
#: that this file does not cite them either)
OUTSIDE = ("nqm-math" + ".md", "paper" + ".txt", "anchors" + ".md")
DOCUMENTS = sorted({*SOURCES, ROOT / "README.md", ROOT / "pyproject.toml",
                    *(p for p in (ROOT / "docs").rglob("*") if p.suffix in (".md", ".py", ".rst") and "_build" not in p.parts),
                    *(p for p in (ROOT / ".ci").glob("*") if p.is_file())})
#: a cited path of the repository: anything under docs/, or a Python or Markdown file of another folder
CITED_PATH = re.compile(r"(?<![\w./-])(?:docs/[\w./-]*\w|(?:theory|numerics|proofs|tests|benchmarks|examples)/[\w/.-]*\.(?:py|md)\b)")


def test_no_file_cites_a_reference_outside_the_repository() -> None:
    cited = {f"{p.relative_to(ROOT)}: {name}" for p in DOCUMENTS for name in OUTSIDE if name in p.read_text(encoding="utf-8")}
    assert not cited, f"cite docs/math instead of files users do not have: {sorted(cited)}"


def test_every_cited_repository_path_exists() -> None:
    cited = {(str(p.relative_to(ROOT)), m) for p in DOCUMENTS for m in CITED_PATH.findall(p.read_text(encoding="utf-8"))}
    assert any(m.startswith("docs/math/") for _, m in cited) and any(m.startswith("numerics/") for _, m in cited)
    # docs/_build is the output of .ci/docs, not part of the repository
    missing = sorted(f"{where}: {m}" for where, m in cited if not (ROOT / m).exists() and not m.startswith("docs/_build"))
    assert not missing, f"cited paths missing from the repository: {missing}"
