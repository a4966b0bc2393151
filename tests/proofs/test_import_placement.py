"""The modules of ``conformance/``, ``formulas/``, ``networks/`` and ``cli/`` import the toolkit's own
modules at the top, where readers and import-linter (``.ci/lint-imports``) see them, not inside functions.

Allowed inside functions: the modules of the torch extra, which import torch when loaded
(``networks/_validation.py`` loads ``._digits`` and ``._fit`` when a validation runs, so that
``nqm.proofs.networks`` imports without PyTorch). Every command's body is a ``cli/_<command>_run``
module, called through ``cli._common.call`` so that ``--help`` stays light.
Third-party libraries (rich, scipy, sympy's LaTeX parser) may still be imported on demand.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import nqm.proofs

PROOFS = Path(nqm.proofs.__file__).parent
SUBPACKAGES = ("conformance", "formulas", "networks", "cli")

#: (file relative to proofs/, imported module as written) allowed inside a function
ALLOWED = {
    ("networks/_validation.py", "._digits"),
    ("networks/_validation.py", "._fit"),
}


def _own(node: ast.Import | ast.ImportFrom) -> list[str]:
    """The toolkit modules ``node`` imports, as written (relative ones with their dots)."""
    if isinstance(node, ast.ImportFrom):
        name = "." * node.level + (node.module or "")
        return [name] if node.level or name.split(".")[0] == "nqm" else []
    return [alias.name for alias in node.names if alias.name.split(".")[0] == "nqm"]


def _function_level_imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for func in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            for node in ast.walk(func):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    found += [(node.lineno, name) for name in _own(node)]
    return found


@pytest.mark.parametrize("subpackage", SUBPACKAGES)
def test_own_modules_are_imported_at_the_top(subpackage: str) -> None:
    offending = [
        f"{path.relative_to(PROOFS)}:{line}: {name}"
        for path in sorted((PROOFS / subpackage).glob("*.py"))
        for line, name in _function_level_imports(path)
        if (str(path.relative_to(PROOFS)), name) not in ALLOWED
    ]
    assert offending == []


def test_the_scan_sees_a_function_level_import(tmp_path: Path) -> None:
    """The scan itself: an import of the toolkit inside a function is found, one at the top is not."""
    probe = tmp_path / "probe.py"
    probe.write_text("import nqm.numerics\n\ndef f():\n    from nqm.theory import derive\n    from . import _x\n    import json\n")
    assert _function_level_imports(probe) == [(4, "nqm.theory"), (5, ".")]
