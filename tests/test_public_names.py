"""Every name a public module lists in ``__all__`` is there: the API reference and ``from X import *``
rely on it (a merge once dropped ``nqm.numerics.reaches`` while ``__all__`` still named it)."""

from __future__ import annotations

import importlib

import pytest

PUBLIC_MODULES = (
    "nqm.theory", "nqm.theory.symbols", "nqm.theory.codegen", "nqm.theory.paper",
    "nqm.numerics", "nqm.numerics.io", "nqm.numerics.validation", "nqm.numerics.schedules",
    "nqm.proofs", "nqm.proofs.claims", "nqm.proofs.conformance", "nqm.proofs.formulas", "nqm.proofs.figures",
    "nqm.proofs.networks", "nqm.proofs.report", "nqm.proofs.cli",
)


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_every_listed_name_exists(name: str) -> None:
    module = importlib.import_module(name)
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names {missing}, which {name} does not define"
    assert len(set(module.__all__)) == len(module.__all__), f"{name}.__all__ repeats a name"
