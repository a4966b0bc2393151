"""Checks of user input, shared by every entry point of the toolkit.

Each function returns the value in the engine's form (a float array or a float) or raises
``ValueError`` naming the parameter and the allowed range, before any work starts. A range is
``(low, high, low_closed, high_closed)``: ``(0.0, 1.0, False, True)`` is :math:`(0, 1]`.
Hyperparameter ranges of a spec come from :func:`nqm.theory.hyperparameter_ranges`.
"""

from __future__ import annotations

from ._forms import (
    MAX_HORIZON,
    MAX_STEPS,
    evaluation_steps,
    validate_batch_size,
    validate_batch_sizes,
    validate_count,
    validate_hyperparameter,
    validate_positive,
    validate_steps,
)

__all__ = [
    "MAX_HORIZON",
    "MAX_STEPS",
    "evaluation_steps",
    "validate_batch_size",
    "validate_batch_sizes",
    "validate_count",
    "validate_hyperparameter",
    "validate_positive",
    "validate_steps",
]
