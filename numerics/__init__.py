"""nqm.numerics: the exact numeric engine of the noisy quadratic model.

Formulas come from :mod:`nqm.theory` (the committed generated forms for built-ins, or
compiled on first use for user specs); nothing optimizer-specific is typed here.

Public submodules: :mod:`nqm.numerics.validation` (checks of user input, ``ValueError`` naming
the parameter and its range), :mod:`nqm.numerics.io` (JSON-ready data, CSV and HTML tables) and
:mod:`nqm.numerics.schedules` (schedules of hyperparameters and of the batch size, and their presets).
"""

from . import io, schedules, validation
from ._cache import CacheWarning, register_result_type
from ._critical import (
    CriticalBatchSizes,
    GradientNoiseScale,
    McCandlishFit,
    critical_batch_sizes,
    expected_gradient_noise_scale,
    gradient_noise_scale,
    mccandlish_fit,
    perfect_scaling_breakdown,
)
from ._decay_growth import DecayVersusGrowth, decay_versus_growth
from ._frontier import BatchRamp, StepsExamples, mccandlish_residuals, pareto_front, steps_examples
from ._model import MAX_STEPS, RiskModel, build_model
from ._montecarlo import MonteCarloResult, monte_carlo
from ._multiplicative import MAX_MULTIPLICATIVE_STEPS, multiplicative_expected_risk
from ._optimizers import (
    EMA,
    QHM,
    SGD,
    Momentum,
    Nesterov,
    Optimizer,
    OptimizerRef,
    as_optimizer,
    as_optimizer_spec,
    from_spec,
    optimizer,
)
from ._parallel import (
    MAX_WORKERS,
    ExecutorArg,
    LocalPool,
    LocalThreads,
    Progress,
    ResultCache,
    config_key,
    local_pool,
    map_tasks,
    open_executor,
    resolve_executor,
)
from ._preset_gap import PresetGaps, preset_gaps
from ._problem import Problem
from ._risk import expected_risk, risk_components, risk_variance, stationary_risk
from ._schedule import piecewise_risk, piecewise_risk_gradient, scheduled_risk, split_steps
from ._schedule_opt import (
    PAPER_SGD_LRS,
    ScheduleResult,
    authors_max_lr,
    bayes_bound_steps,
    default_max_lr,
    optimal_schedule,
    optimize_schedule,
)
from ._schedule_steps import ScheduledSteps, scheduled_steps_to_target
from ._schedule_sweep import ScheduleSweep, schedule_sweep
from ._schedule_tune import PRESET_FAMILIES, PresetFamily, PresetResult, tune_preset
from ._steps import steps_to_target
from ._sweep import (
    PAPER_BATCH_SIZES,
    LearningRateTable,
    Sweep,
    SweepJob,
    SweepList,
    SweepRow,
    effective_lr,
    optimal_learning_rates,
    sweep,
    sweep_jobs,
    sweeps,
)
from ._tie import TIE_RTOL, reaches
from ._tune import TuneResult, clear_tune_cache, default_grid, tune

__all__ = [
    "BatchRamp",
    "CacheWarning",
    "DecayVersusGrowth",
    "CriticalBatchSizes",
    "EMA",
    "ExecutorArg",
    "GradientNoiseScale",
    "LearningRateTable",
    "LocalPool",
    "LocalThreads",
    "MAX_MULTIPLICATIVE_STEPS",
    "MAX_STEPS",
    "MAX_WORKERS",
    "McCandlishFit",
    "Momentum",
    "MonteCarloResult",
    "Nesterov",
    "Optimizer",
    "OptimizerRef",
    "PAPER_BATCH_SIZES",
    "PRESET_FAMILIES",
    "PresetFamily",
    "PresetResult",
    "PresetGaps",
    "Problem",
    "Progress",
    "QHM",
    "ResultCache",
    "RiskModel",
    "SGD",
    "ScheduleResult",
    "ScheduleSweep",
    "ScheduledSteps",
    "StepsExamples",
    "Sweep",
    "SweepJob",
    "SweepList",
    "SweepRow",
    "TIE_RTOL",
    "TuneResult",
    "bayes_bound_steps",
    "build_model",
    "clear_tune_cache",
    "config_key",
    "critical_batch_sizes",
    "decay_versus_growth",
    "default_grid",
    "default_max_lr",
    "as_optimizer",
    "as_optimizer_spec",
    "authors_max_lr",
    "PAPER_SGD_LRS",
    "effective_lr",
    "expected_gradient_noise_scale",
    "expected_risk",
    "from_spec",
    "io",
    "gradient_noise_scale",
    "local_pool",
    "map_tasks",
    "mccandlish_fit",
    "mccandlish_residuals",
    "monte_carlo",
    "multiplicative_expected_risk",
    "open_executor",
    "optimal_learning_rates",
    "optimal_schedule",
    "optimize_schedule",
    "optimizer",
    "pareto_front",
    "perfect_scaling_breakdown",
    "piecewise_risk",
    "preset_gaps",
    "piecewise_risk_gradient",
    "reaches",
    "resolve_executor",
    "register_result_type",
    "risk_components",
    "risk_variance",
    "schedule_sweep",
    "scheduled_risk",
    "scheduled_steps_to_target",
    "schedules",
    "split_steps",
    "stationary_risk",
    "steps_examples",
    "steps_to_target",
    "sweep",
    "sweep_jobs",
    "sweeps",
    "tune",
    "tune_preset",
    "validation",
]
