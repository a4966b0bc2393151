"""nqm.theory: sympy derivations for optimizers on the noisy quadratic model.

An optimizer is data (:class:`OptimizerSpec`): a linear state-space update per
eigen-direction. :func:`derive` turns any spec into its mean and second-moment dynamics,
stationary risk, stability conditions, effective learning rate and closed forms.
"""

from ._builtins import BETA, BUILTINS, GAMMA, LR, NU, ema, momentum, nesterov, qhm, sgd
from ._closed_form import ClosedForm, closed_form, same_closed_form
from ._codegen import (
    cached_forms_source,
    compile_forms,
    exact_terms,
    forms_source,
    generated_module_source,
    hyperparameter_ranges,
    scale_covariant,
)
from ._derive import Derivation, NumericInvariants, derive
from ._document import DocumentBlock, derivation_latex, document_sections, latex_document, select_specs
from ._latex import Formula, canonical_form, formula_lines, latex_display, roundtrip, to_latex
from ._moments import (
    characteristic_polynomial,
    second_moment_vec,
    second_moment_vech,
    stationary_covariance,
    vech_basis,
)
from ._multiplicative import MultiplicativeDynamics, multiplicative_dynamics, query_row
from ._paper import STATEMENTS, Statement, check_all, statement
from ._registry import get_spec, register, registered_names, registered_specs, unregister
from ._spec import PRECOND_POWER, PRECONDITIONED_PROBLEM, Hyperparameter, OptimizerSpec, SpecError
from ._symbols import LATEX_NAMES, B, alpha, beta, c, gamma, h, k, nu, p, r1, r2, t, theta0, v0, x, xi, z

__all__ = [
    "B", "BETA", "BUILTINS", "Derivation", "GAMMA", "Hyperparameter", "LATEX_NAMES", "LR", "MultiplicativeDynamics",
    "NU",
    "NumericInvariants", "OptimizerSpec", "PRECONDITIONED_PROBLEM", "PRECOND_POWER", "SpecError",
    "alpha", "beta", "c", "cached_forms_source", "characteristic_polynomial", "compile_forms", "derive", "ema",
    "forms_source",
    "gamma", "generated_module_source", "get_spec", "h", "hyperparameter_ranges", "k", "momentum",
    "multiplicative_dynamics", "nesterov", "nu", "p", "qhm", "query_row", "r1", "r2", "register", "registered_names",
    "registered_specs",
    "second_moment_vec", "second_moment_vech", "sgd", "stationary_covariance", "t", "theta0",
    "unregister", "v0", "vech_basis", "x", "xi", "z",
    "ClosedForm", "DocumentBlock", "Formula", "STATEMENTS", "Statement", "canonical_form", "check_all", "closed_form",
    "document_sections", "exact_terms", "formula_lines", "latex_document", "roundtrip", "scale_covariant",
    "select_specs", "same_closed_form", "statement", "to_latex", "derivation_latex", "latex_display",
]
