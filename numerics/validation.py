"""Checks of user input: those the engine's entry points run, public for the layers above it.

Each function returns the value in the form the engine uses (a float array, a float, or an
``int`` for :func:`validate_count`) or raises ``ValueError`` naming the parameter and the allowed
values. A range is ``(low, high, low_closed, high_closed)``: ``(0.0, 1.0, False, True)`` is
:math:`(0, 1]`; :func:`nqm.theory.hyperparameter_ranges` gives those of a spec's hyperparameters.
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
