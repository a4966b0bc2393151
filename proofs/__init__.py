"""placeholder"""

from ._claims import proof_catalogue
from ._conformance import ConformanceReport, PropertyResult, check_conformance
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
