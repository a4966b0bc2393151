"""The full LaTeX document (``nqm latex``) compiled by a real TeX engine: no errors, no overfull lines.

Skipped, with the reason, where no ``pdflatex`` is installed; CI installs one (``.ci/run``).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from nqm.theory import BUILTINS, latex_document

PDFLATEX = shutil.which("pdflatex")


@pytest.mark.slow
@pytest.mark.skipif(PDFLATEX is None, reason="no TeX engine: pdflatex is not installed (CI installs texlive-latex-base)")
def test_the_full_document_compiles_without_errors_or_overfull_lines(tmp_path: Path) -> None:
    source = tmp_path / "derivations.tex"
    latex_document(BUILTINS, path=source)  # what `nqm latex` writes in a fresh process (other tests register specs)
    run = subprocess.run(
        [PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", source.name],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    log = (tmp_path / "derivations.log").read_text(errors="replace")
    errors = [line for line in log.splitlines() if line.startswith("!")]
    assert run.returncode == 0 and not errors, errors[:5] or run.stdout[-2000:]
    overfull = [line for line in log.splitlines() if "Overfull \\hbox" in line]
    assert not overfull, overfull[:5]
    assert (tmp_path / "derivations.pdf").stat().st_size > 0
