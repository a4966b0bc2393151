"""Every Python source of the repository compiles without a warning.

An invalid escape such as ``"\\m"`` in a docstring that is not a raw string is a
``DeprecationWarning`` at compile time on Python 3.11 and a ``SyntaxWarning``, printed on the
user's first import, from 3.12 on; the LaTeX in docstrings makes it an easy slip.
"""

from __future__ import annotations

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
