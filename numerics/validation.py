"""Checks of user input: those the engine's entry points run, public for the layers above it.

Each function returns the value in the form the engine uses (a float array, a float, or an
``int`` for :func:`validate_count`) or raises ``ValueError`` naming the parameter and the allowed
values. A range is ``(low, high, low_closed, high_closed)``: ``(0.0, 1.0, False, True)`` is
:math:`(0, 1]`; :func:`nqm.theory.hyperparameter_ranges` gives those of a spec's hyperparameters.
The ``MAX_*`` constants are the sizes the engine refuses before any work (steps, horizons, grid
points, batch sizes, Monte-Carlo steps and coordinate-steps).
"""

from __future__ import annotations

from ._forms import (
    MAX_BATCH_SIZES,
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
from ._montecarlo import MAX_MONTE_CARLO_STEPS, MAX_MONTE_CARLO_WORK
from ._tune import MAX_GRID_POINTS

__all__ = [
    "MAX_BATCH_SIZES",
    "MAX_GRID_POINTS",
    "MAX_HORIZON",
    "MAX_MONTE_CARLO_STEPS",
    "MAX_MONTE_CARLO_WORK",
    "MAX_STEPS",
    "evaluation_steps",
    "validate_batch_size",
    "validate_batch_sizes",
    "validate_count",
    "validate_hyperparameter",
    "validate_positive",
    "validate_steps",
]
