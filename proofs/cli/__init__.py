"""The ``nqm`` console script: a click group whose subcommands load on first use (nothing heavy at import)."""

from __future__ import annotations

from ._main import main

__all__ = ["main"]
