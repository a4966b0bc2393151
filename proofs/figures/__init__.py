"""The NQM figures (the paper's and the toolkit's own): :class:`FigureResult`, the figure catalogue :data:`FIGURES`, rendering and saving."""

from __future__ import annotations

from ._core import (
    DEFAULT_FIGURES,
    FIGURE_NEEDS,
    FIGURES,
    STYLE,
    FigureData,
    FigureResult,
    ScheduleNeed,
    SweepNeed,
    figure_needs,
    figure_paths,
    make_figures,
    save_figure,
)

# The modules register their figures when imported, and that order is the order in which the report
# and `nqm figures` draw them: the paper's first, then the toolkit's own (kept apart from sorting).
# isort: split
from ._paper import figure_2, figure_3a, figure_3b, figure_3c, figure_4, figure_11, figure_13, figure_14, figure_15

# isort: split
from ._extra import figure_critical_vs_power, figure_network_vs_nqm, figure_steps_surface

# isort: split
from ._notebook import figure_training_curves

# isort: split
from ._schedules import figure_batch_ramps, figure_preset_curves, figure_presets_vs_optimum, figure_steps_vs_examples

__all__ = ["DEFAULT_FIGURES", "figure_batch_ramps", "FIGURE_NEEDS", "FIGURES", "FigureData", "FigureResult", "ScheduleNeed", "SweepNeed", "figure_needs", "STYLE", "figure_11", "figure_13", "figure_14", "figure_15", "figure_2", "figure_3a", "figure_3b", "figure_3c", "figure_4", "figure_critical_vs_power", "figure_network_vs_nqm", "figure_preset_curves", "figure_presets_vs_optimum", "figure_steps_surface", "figure_steps_vs_examples", "figure_paths", "figure_training_curves", "make_figures", "save_figure"]
