r"""nqm.proofs: machine-checked evidence that the theory and the engine are right, and the ``nqm`` CLI.

* **Proofs of the paper's claims** (Zhang et al. 2019). :func:`proof_catalogue` lists named
  :class:`Proof` objects — symbolic identities, sign arguments, series and exact-engine
  computations — for Claims 1–6 (SGD's eq. 4, momentum's Theorem 1, preconditioning's eqs. 8–9,
  EMA's Theorem 2, the information bound of Section 3.6, linear learning-rate scaling) and, via
  :func:`generic_proofs`, for any registered spec (stationary risk, stability region, bound
  against the exact risk). :func:`run_all` runs them into :class:`ProofResult` records;
  :func:`proof_table`, :func:`results_to_json`/:func:`write_json` and
  :func:`latex_appendix`/:func:`write_latex` report them.
* **Checking a user's formula.** :func:`verify_formula` compares a formula (text or sympy) with
  a derived quantity (:data:`QUANTITIES`) of an optimizer, symbolically and at exact random
  points, and returns a :class:`FormulaVerdict`.
* **Conformance suite for new optimizer variants.** :func:`check_conformance` runs the
  :data:`PROPERTIES` (engine vs the independent second-moment recursion
  :func:`moment_recursion_risk` to 1e-10, vs Monte Carlo, stationary limit, stability region,
  invariances, scale symmetry, declared reductions — :func:`declare_reduction` — and the Bayes
  information bound) on hypothesis examples and returns a :class:`ConformanceReport`. The
  strategies (:func:`problems`, :func:`optimizers`, :func:`setups`, ...) are public for your
  own property tests. Monte-Carlo comparisons use :func:`monte_carlo_tolerances`: bounds from
  the exact variance of the loss at a stated family-wise false-failure rate.
* **PyTorch validation** (``torch`` extra). :func:`run_validation` checks the NQM's
  predictions against trained networks (:func:`train_linear_regression`,
  :func:`compare_noise_models`) and returns a :class:`ValidationReport`.
* **Command line.** The console script ``nqm`` (click group in :mod:`nqm.proofs._cli`):
  ``derive``, ``latex``, ``report``, ``sweep``, ``critical``, ``steps``, ``montecarlo``,
  ``proofs``, ``verify`` and ``validate``; ``nqm COMMAND --help`` documents each.
"""

from ._claims import proof_catalogue
from ._conformance import ConformanceReport, PropertyResult, check_conformance
from ._figures import DEFAULT_FIGURES, FIGURES, FigureResult, make_figures, save_figure
from ._figures_extra import figure_critical_vs_power, figure_network_vs_nqm, figure_steps_surface
from ._figures_notebook import figure_training_curves
from ._figures_paper import (
    figure_2,
    figure_3a,
    figure_3b,
    figure_3c,
    figure_4,
    figure_11,
    figure_13,
    figure_14,
    figure_15,
)
from ._formula import QUANTITIES, FormulaVerdict, verify_formula
from ._networks_linear import LinearRuns, NoiseModelComparison, compare_noise_models, train_linear_regression
from ._networks_validation import ValidationReport, run_validation
from ._proof_report import latex_appendix, proof_table, results_to_json, write_json, write_latex
from ._properties import (
    ABSOLUTE_ACCURACY,
    PROPERTIES,
    ConformanceError,
    Property,
    bayes_risk_bound,
    monte_carlo_tolerances,
)
from ._prover import METHODS, Proof, ProofResult, generic_proofs, run_all
from ._recursion import moment_recursion_risk
from ._reductions import Reduction, declare_reduction, declared_reductions
from ._report import VALIDATION_MODES, ReportConfig, build_report
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
    setups,
    spectra,
    spectral_radius,
    stable_lr_limit,
    start_variances,
    step_lists,
    unstable_hyperparameters,
)

__all__ = [
    "DEFAULT_FIGURES",
    "FIGURES",
    "FigureResult",
    "figure_2",
    "figure_3a",
    "figure_3b",
    "figure_3c",
    "figure_4",
    "figure_11",
    "figure_13",
    "figure_14",
    "figure_15",
    "figure_critical_vs_power",
    "figure_network_vs_nqm",
    "figure_steps_surface",
    "figure_training_curves",
    "make_figures",
    "VALIDATION_MODES",
    "ReportConfig",
    "build_report",
    "save_figure",
    "ABSOLUTE_ACCURACY",
    "FormulaVerdict",
    "METHODS",
    "Proof",
    "ProofResult",
    "QUANTITIES",
    "generic_proofs",
    "latex_appendix",
    "proof_catalogue",
    "proof_table",
    "results_to_json",
    "run_all",
    "verify_formula",
    "write_json",
    "write_latex",
    "PROPERTIES",
    "ConformanceError",
    "ConformanceReport",
    "LinearRuns",
    "NoiseModelComparison",
    "Property",
    "PropertyResult",
    "Reduction",
    "Setup",
    "ValidationReport",
    "batch_sizes",
    "bayes_risk_bound",
    "bin_weights",
    "check_conformance",
    "compare_noise_models",
    "declare_reduction",
    "declared_reductions",
    "derived_stable",
    "hyperparameters",
    "moment_recursion_risk",
    "monte_carlo_tolerances",
    "noise_variances",
    "optimizers",
    "precond_powers",
    "problems",
    "run_validation",
    "setups",
    "spectra",
    "spectral_radius",
    "stable_lr_limit",
    "start_variances",
    "step_lists",
    "train_linear_regression",
    "unstable_hyperparameters",
]
