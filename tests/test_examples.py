"""Every script in examples/ runs to completion as a user would run it (a fresh interpreter).

examples/custom_variant.py is also checked in detail by tests/conformance/test_example.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.py"))
#: run (with checks on what they print) by their own tests
COVERED_ELSEWHERE = {"custom_variant.py"}


def test_there_are_examples() -> None:
    assert {p.name for p in EXAMPLES} >= {"quickstart.py", "custom_variant.py", "scale_out.py"}


@pytest.mark.slow
@pytest.mark.parametrize("script", [p for p in EXAMPLES if p.name not in COVERED_ELSEWHERE], ids=lambda p: p.name)
def test_example_runs(script: Path, tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip(), "an example should print what it found"
