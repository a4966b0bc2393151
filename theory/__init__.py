"""nqm.theory: sympy derivations for optimizers on the noisy quadratic model.

An optimizer is data (:class:`OptimizerSpec`): a linear state-space update per
eigen-direction. :func:`derive` turns any spec into its mean and second-moment dynamics,
stationary risk, stability conditions, effective learning rate and closed forms.

The top level holds the concepts: specs and the built-ins, the registry, derivations and
moments, closed forms in named roots, LaTeX, and the paper's statements. The sympy symbols
live in :mod:`nqm.theory.symbols` (``from nqm.theory.symbols import alpha, h``); the numeric
layer's generated code comes from :mod:`nqm.theory.codegen`.
"""

from . import codegen, symbols
from ._builtins import BETA, BUILTINS, GAMMA, LR, NU, ema, momentum, nesterov, qhm, sgd
from ._closed_form import (
    ClosedForm,
    closed_form,
    hyperparameters_from_roots,
    root_symbols,
    root_values,
    same_closed_form,
    vieta_relations,
)
from ._derive import Derivation, NumericInvariants, derive
from ._document import (
    PARTIAL_SUM_STATES,
    DocumentBlock,
    derivation_latex,
    document_formulas,
    document_sections,
    latex_document,
    select_specs,
)
from ._latex import Formula, canonical_form, formula_lines, latex_display, parse_formula, roundtrip, to_latex
from ._moments import (
    characteristic_polynomial,
    second_moment_vec,
    second_moment_vech,
    stationary_covariance,
    vech_basis,
)
from ._multiplicative import MultiplicativeDynamics, multiplicative_dynamics, query_row
from ._paper import STATEMENTS, Statement, check_all, positive_on, statement
from ._registry import get_spec, register, registered_names, registered_specs, unregister
from ._spec import PRECOND_POWER, PRECONDITIONED_PROBLEM, Hyperparameter, OptimizerSpec, SpecError

__all__ = [
    # specs and the built-ins
    "BETA", "BUILTINS", "GAMMA", "Hyperparameter", "LR", "NU", "OptimizerSpec", "PRECONDITIONED_PROBLEM",
    "PRECOND_POWER", "SpecError", "ema", "momentum", "nesterov", "qhm", "sgd",
    # the registry
    "get_spec", "register", "registered_names", "registered_specs", "unregister",
    # derivations and moments
    "Derivation", "MultiplicativeDynamics", "NumericInvariants", "characteristic_polynomial", "derive",
    "multiplicative_dynamics", "query_row", "second_moment_vec", "second_moment_vech", "stationary_covariance",
    "vech_basis",
    # closed forms
    "ClosedForm", "closed_form", "hyperparameters_from_roots", "root_symbols", "root_values", "same_closed_form",
    "vieta_relations",
    # LaTeX
    "DocumentBlock", "Formula", "PARTIAL_SUM_STATES", "canonical_form", "derivation_latex", "document_formulas",
    "document_sections", "formula_lines", "latex_display", "latex_document", "parse_formula", "roundtrip",
    "select_specs", "to_latex",
    # the paper's statements
    "STATEMENTS", "Statement", "check_all", "positive_on", "statement",
    # the namespaces of the symbols and of the numeric layer's generated code
    "codegen", "symbols",
]
