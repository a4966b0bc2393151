"""The conformance suite for optimizer variants: properties, the suite runner, public hypothesis strategies, the independent moment recursion and declared reductions."""

from __future__ import annotations

from ._properties import (
    ABSOLUTE_ACCURACY,
    PROPERTIES,
    ConformanceError,
    Property,
    bayes_risk_bound,
    monte_carlo_tolerances,
    per_coordinate_risk,
)
from ._recursion import moment_recursion_risk
from ._reductions import Reduction, declare_reduction, declared_reductions
from ._scheduled import ScheduledSetup, scheduled_setups
from ._strategies import (
    Setup,
    batch_sizes,
    bin_weights,
    derived_stable,
    hyperparameters,
    noise_variances,
    optimizers,
    precond_powers,
    problems,
    resolve_spec,
    setups,
    spectra,
    spectral_radius,
    stable_lr_limit,
    start_variances,
    step_lists,
    unstable_hyperparameters,
)
from ._suite import ConformanceReport, PropertyResult, check_conformance

__all__ = ["ABSOLUTE_ACCURACY", "ConformanceError", "ConformanceReport", "PROPERTIES", "Property", "PropertyResult", "Reduction", "ScheduledSetup", "Setup", "batch_sizes", "bayes_risk_bound", "bin_weights", "check_conformance", "declare_reduction", "declared_reductions", "derived_stable", "hyperparameters", "moment_recursion_risk", "monte_carlo_tolerances", "noise_variances", "optimizers", "per_coordinate_risk", "precond_powers", "problems", "resolve_spec", "scheduled_setups", "setups", "spectra", "spectral_radius", "stable_lr_limit", "start_variances", "step_lists", "unstable_hyperparameters"]
