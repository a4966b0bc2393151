"""The README's Python snippets run as written (one fresh interpreter, in document order)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_readme_has_the_promised_snippets() -> None:
    blocks = python_blocks()
    assert len(blocks) >= 3
    assert sum(1 for line in blocks[0].splitlines() if line.strip()) <= 10  # "ten lines of Python"


@pytest.mark.slow
def test_readme_python_snippets_run(tmp_path: Path) -> None:
    script = tmp_path / "readme.py"
    script.write_text("\n\n".join(python_blocks()))
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "CriticalBatchSizes" in result.stdout
