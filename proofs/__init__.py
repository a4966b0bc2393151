r"""nqm.proofs: machine-checked evidence that the theory and the engine are right, and the ``nqm`` CLI.

* **Proofs of the paper's claims** (Zhang et al. 2019; :mod:`nqm.proofs.claims`). :func:`proof_catalogue` lists named
  :class:`Proof` objects — symbolic identities, sign arguments, series and exact-engine
  computations — for Claims 1–6 (SGD's eq. 4, momentum's Theorem 1, preconditioning's eqs. 8–9,
  EMA's Theorem 2, the information bound of Section 3.6, linear learning-rate scaling) and, via
  :func:`generic_proofs`, for any registered spec (stationary risk, stability region, bound
  against the exact risk). :func:`run_all` runs them into :class:`ProofResult` records (a
  :class:`ProofReport`: ``to_pandas()``, an HTML table in Jupyter);
  :func:`proof_table`, :func:`results_to_json`/:func:`write_json` and
  :func:`latex_appendix`/:func:`write_latex` report them.
* **Checking a user's formula** (:mod:`nqm.proofs.formulas`). :func:`verify_formula` compares a formula (text or sympy) with
  a derived quantity (:data:`QUANTITIES`) of an optimizer, symbolically and at exact random
  points, and returns a :class:`FormulaVerdict`.
* **Conformance suite for new optimizer variants** (:mod:`nqm.proofs.conformance`). :func:`check_conformance` runs the
  :data:`PROPERTIES` (engine vs the independent second-moment recursion
  :func:`moment_recursion_risk` to 1e-10, vs Monte Carlo, both also under drawn schedules
  (:func:`scheduled_setups`), stationary limit, stability region,
  invariances, scale symmetry, declared reductions — :func:`declare_reduction` — and the Bayes
  information bound) on hypothesis examples and returns a :class:`ConformanceReport` (verdicts
  passed / failed with a shrunk counterexample / not applicable; ``to_pandas()``). The
  strategies (:func:`problems`, :func:`optimizers`, :func:`setups`, ...) are public for your
  own property tests. Monte-Carlo comparisons use :func:`monte_carlo_tolerances`: bounds from
  the exact variance of the loss at a stated family-wise false-failure rate.
* **Figures and the report** (:mod:`nqm.proofs.figures`, :mod:`nqm.proofs.report`): the paper's
  figures (:data:`FIGURES`, :func:`make_figures`) and :func:`build_report`, the ``nqm report`` folder.
* **PyTorch validation** (``torch`` extra; :mod:`nqm.proofs.networks`). :func:`run_validation` checks the NQM's
  predictions against trained networks (:func:`train_linear_regression`,
  :func:`compare_noise_models`) and returns a :class:`ValidationReport`.
* **Command line** (:mod:`nqm.proofs.cli`). The console script ``nqm``:
  ``derive``, ``latex``, ``report``, ``sweep``, ``critical``, ``steps``, ``montecarlo``,
  ``proofs``, ``verify`` and ``validate``; ``nqm COMMAND --help`` documents each.

The names below are loaded on first use (PEP 562 module ``__getattr__``): ``import nqm.proofs``
and the ``nqm`` command line start without sympy, matplotlib or hypothesis, and
``from nqm.proofs import X`` imports only the subpackage that exports ``X``.
"""

from __future__ import annotations

import importlib
from typing import Any

#: public name -> the subpackage that exports it
_SUBMODULE_EXPORTS: dict[str, tuple[str, ...]] = {
    "claims": ("METHODS", "Proof", "ProofReport", "ProofResult", "generic_proofs", "latex_appendix", "proof_catalogue", "proof_table", "results_to_json", "run_all", "write_json", "write_latex",),
    "conformance": ("ABSOLUTE_ACCURACY", "ConformanceError", "ConformanceReport", "PROPERTIES", "Property", "PropertyResult", "Reduction", "ScheduledSetup", "Setup", "batch_sizes", "bayes_risk_bound", "bin_weights", "check_conformance", "declare_reduction", "declared_reductions", "derived_stable", "hyperparameters", "moment_recursion_risk", "monte_carlo_tolerances", "noise_variances", "optimizers", "precond_powers", "problems", "scheduled_setups", "setups", "spectra", "spectral_radius", "stable_lr_limit", "start_variances", "step_lists", "unstable_hyperparameters",),
    "figures": ("DEFAULT_FIGURES", "FIGURES", "FigureResult", "STYLE", "figure_batch_ramps", "figure_11", "figure_13", "figure_14", "figure_15", "figure_2", "figure_3a", "figure_3b", "figure_3c", "figure_4", "figure_critical_vs_power", "figure_network_vs_nqm", "figure_preset_curves", "figure_presets_vs_optimum", "figure_steps_surface", "figure_steps_vs_examples", "figure_training_curves", "make_figures", "save_figure",),
    "formulas": ("FormulaVerdict", "QUANTITIES", "verify_formula",),
    "report": ("ReportConfig", "VALIDATION_MODES", "build_report",),
    # the torch extra: loaded only when one of these names is used
    "networks": ("LinearRuns", "NoiseModelComparison", "ValidationReport", "compare_noise_models", "run_validation", "train_linear_regression",),
}
_EXPORTS: dict[str, str] = {name: module for module, names in _SUBMODULE_EXPORTS.items() for name in names}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Import the submodule defining the public ``name`` on first access and cache the value here."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
