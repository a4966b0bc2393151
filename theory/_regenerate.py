"""Regenerate ``numerics/_generated.py`` from the built-in specs: ``python -m nqm.theory._regenerate``.

A separate entry module, so that ``runpy`` executes a module the package has not imported
yet (``nqm.theory`` imports :mod:`nqm.theory._codegen` for :mod:`nqm.theory.codegen`).
"""

from __future__ import annotations

from pathlib import Path

from ._builtins import BUILTINS
from ._codegen import write_generated_module

__all__ = ["main"]


def main() -> None:
    """Write the generated module next to :mod:`nqm.numerics` and say whether it changed."""
    target = Path(__file__).resolve().parent.parent / "numerics" / "_generated.py"
    changed = write_generated_module(target, BUILTINS)
    print(f"{target}: {'regenerated' if changed else 'up to date'}")


if __name__ == "__main__":
    main()
