"""The modules of nqm.theory import each other at the top of the file only, and without a cycle.

Read from the source with :mod:`ast` (nothing is imported): every ``from .x import ...`` inside
``theory/`` is an edge; one inside a function or class body is a hidden edge and fails, and so
does any cycle among the top-level edges.
"""

from __future__ import annotations

import ast
from pathlib import Path

import nqm.theory

THEORY = Path(nqm.theory.__file__).parent


def _edges() -> dict[str, list[tuple[str, int, bool]]]:
    """module -> [(imported sibling, line, at top level)] for every relative import in theory/."""
    graph: dict[str, list[tuple[str, int, bool]]] = {}
    for path in sorted(THEORY.glob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        top = {id(node) for node in tree.body}
        graph[path.stem] = [
            (target, node.lineno, id(node) in top)
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.level == 1
            # `from .x import y` imports x; `from . import x, y` imports x and y
            for target in ([node.module.split(".")[0]] if node.module else [alias.name for alias in node.names])
        ]
    return graph


def test_theory_modules_import_each_other_only_at_the_top() -> None:
    hidden = [
        f"{module}:{line} imports .{target}"
        for module, edges in _edges().items()
        for target, line, top in edges
        if not top
    ]
    assert not hidden


def test_theory_modules_import_each_other_without_a_cycle() -> None:
    graph = {module: {target for target, _, _ in edges} for module, edges in _edges().items()}
    assert len(graph) > 10 and sum(map(len, graph.values())) > 20  # the scan found the package
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, " -> ".join(path[path.index(module):] + (module,))
        if module in done:
            return
        for target in sorted(graph.get(module, ())):
            visit(target, path + (module,))
        done.add(module)

    for module in sorted(graph):
        visit(module, ())
