"""PyTorch validation of the NQM's predictions (the ``torch`` extra; never imported by :mod:`nqm.proofs`)."""

from __future__ import annotations

from ._linear import LinearRuns, NoiseModelComparison, compare_noise_models, train_linear_regression
from ._validation import ValidationReport, run_linear_validation, run_validation

__all__ = ["LinearRuns", "NoiseModelComparison", "ValidationReport", "compare_noise_models", "run_linear_validation", "run_validation", "train_linear_regression"]
