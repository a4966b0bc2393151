"""nqm.theory's public API: concepts at the top, symbols in nqm.theory.symbols, generated code in
nqm.theory.codegen, and the layers above use nothing else."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import sympy as sp

import nqm.numerics
import nqm.proofs
import nqm.theory
from nqm.theory import codegen, derive, momentum, symbols

ROOT = Path(__file__).resolve().parents[2]
#: the names that left the top level for nqm.theory.symbols and nqm.theory.codegen
MOVED = {
    symbols: {"B", "LATEX_NAMES", "alpha", "beta", "c", "gamma", "h", "k", "nu", "p", "r1", "r2", "t", "theta0",
              "v0", "x", "xi", "z"},
    codegen: {"cached_forms_source", "compile_forms", "exact_terms", "forms_source", "generated_module_source",
              "hyperparameter_ranges", "scale_covariant"},
}


def test_the_top_level_exports_concepts_and_no_sympy_symbol() -> None:
    exported = {name: getattr(nqm.theory, name) for name in nqm.theory.__all__}
    assert len(exported) == len(nqm.theory.__all__)
    concepts = {"OptimizerSpec", "derive", "closed_form", "to_latex", "latex_document", "register", "statement"}
    assert concepts <= set(exported)
    assert not [name for name, value in exported.items() if isinstance(value, sp.Basic)]
    for namespace, names in MOVED.items():
        assert not names & set(nqm.theory.__all__)
        assert not [name for name in names if hasattr(nqm.theory, name)], "still an attribute of nqm.theory"
        assert names <= set(namespace.__all__)


def test_the_symbols_namespace_holds_the_symbols_every_derivation_is_written_in() -> None:
    names = set(symbols.__all__) - {"LATEX_NAMES", "PROBLEM_SYMBOLS"}
    assert all(isinstance(getattr(symbols, name), sp.Symbol) for name in names)
    assert set(symbols.LATEX_NAMES) == {getattr(symbols, name) for name in names}
    risk = derive(momentum).stationary_risk
    assert {symbols.alpha, symbols.beta, symbols.h, symbols.c, symbols.B} == risk.free_symbols
    assert nqm.theory.symbols is symbols  # reachable as an attribute after `import nqm.theory`


def _theory_imports(path: Path) -> list[str]:
    """Every module path and name imported from nqm.theory in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("nqm.theory"):
            found += [f"{node.module}:{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name.startswith("nqm.theory")]
    return found


def test_the_layers_above_and_the_scripts_use_only_public_theory_names() -> None:
    packages = [Path(nqm.numerics.__file__).parent, Path(nqm.proofs.__file__).parent]
    folders = packages + [ROOT / "benchmarks", ROOT / "examples"]
    files = [path for folder in folders if folder.is_dir() for path in sorted(folder.rglob("*.py"))]
    imports = {f"{path.relative_to(path.parents[1])}: {name}" for path in files for name in _theory_imports(path)}
    assert len(imports) > 40  # the scan saw the imports
    private = sorted(
        entry for entry in imports if any(part.startswith("_") for part in re.split(r"[.:]", entry.split(": ")[1]))
    )
    assert not private
