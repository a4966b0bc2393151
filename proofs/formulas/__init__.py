"""Checking a user's formula against a derived quantity: parsed against a whitelist, never executed."""

from __future__ import annotations

from ._verify import QUANTITIES, FormulaVerdict, verify_formula

__all__ = ["FormulaVerdict", "QUANTITIES", "verify_formula"]
