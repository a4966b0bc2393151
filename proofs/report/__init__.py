"""The report: derivations, proofs, figures, sweeps, Monte Carlo and the network validation in one folder."""

from __future__ import annotations

from ._build import VALIDATION_MODES, ReportConfig, build_report

__all__ = ["ReportConfig", "VALIDATION_MODES", "build_report"]
