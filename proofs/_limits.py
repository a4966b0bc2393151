"""Limits and names of the proofs layer that ``nqm ... --help`` prints, free of heavy imports.

The command line starts without sympy, matplotlib or hypothesis (its help must print in well under
a second), so the bounds it documents are defined here and the modules that enforce them import
them from here: :mod:`nqm.proofs.formulas._parse` (the bounds on a formula), :mod:`nqm.proofs.formulas._verify` (samples and the
symbolic time budget of :func:`~nqm.proofs.verify_formula`) and :mod:`nqm.proofs.report._build` (validation modes).
The names of the formula constants, functions and quantities are those of the sympy-valued tables
:data:`nqm.proofs.formulas._parse.CONSTANTS`, :data:`nqm.proofs.formulas._parse.FUNCTIONS` and :data:`nqm.proofs.formulas._verify.QUANTITIES`
(tests/cli/test_startup.py checks that they agree).
"""

from __future__ import annotations

__all__ = [
    "CONSTANT_NAMES",
    "FUNCTION_NAMES",
    "MAX_CHARS",
    "MAX_DEPTH",
    "MAX_EXPONENT",
    "MAX_LATEX_CHARS",
    "MAX_LITERAL_DIGITS",
    "MAX_MONTE_CARLO_WORK",
    "MAX_NODES",
    "MAX_NUMBER_DIGITS",
    "MAX_SAMPLES",
    "MAX_SYMBOLIC_SECONDS",
    "QUANTITY_NAMES",
    "SYMBOLIC_SECONDS",
    "VALIDATION_MODES",
]

# bounds on a user formula (_safe_parse): text, tree, literals, exponents, exact numbers
MAX_CHARS = 100_000
MAX_NODES = 50_000
MAX_DEPTH = 60
MAX_LITERAL_DIGITS = 100
MAX_EXPONENT = 1000
MAX_NUMBER_DIGITS = 4000
MAX_LATEX_CHARS = 2000

#: the constants and functions a formula may name (keys of _safe_parse.CONSTANTS / FUNCTIONS)
CONSTANT_NAMES = ("pi", "E", "I")
FUNCTION_NAMES = ("sqrt", "exp", "log", "ln", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh",
                  "abs", "Abs")

#: default wall-clock budget of verify_formula's symbolic checks, and the largest one accepted (seconds)
SYMBOLIC_SECONDS = 30.0
MAX_SYMBOLIC_SECONDS = 3600.0
#: most random points verify_formula compares
MAX_SAMPLES = 10_000
#: the derived quantities a formula can be checked against (keys of _formula.QUANTITIES)
QUANTITY_NAMES = ("stationary_risk", "noise_sum", "effective_lr", "effective_lr_steady_state", "slow_eigenvalue_series",
                  "characteristic_polynomial", "mean_path", "impulse_response", "partial_noise_sum", "expected_risk")

#: most scalar updates one Monte-Carlo run may take (runs x coordinates x (steps + 1)), as
#: ``nqm montecarlo --help`` states it; nqm.numerics._montecarlo.MAX_MONTE_CARLO_WORK enforces it
#: (the numerics cannot import from here; tests/cli/test_startup.py checks that they agree)
MAX_MONTE_CARLO_WORK = 10**12

#: ``--validation`` choices. ``quick``: PyTorch linear regression against the constant- and
#: multiplicative-noise NQM (seconds); ``reduced``/``full``: the whole network validation
#: (:func:`~nqm.proofs.run_validation`; reduced about 40 s, full about 4 minutes on two quiet
#: cores); ``auto``: ``reduced`` if PyTorch is installed, else ``none``.
VALIDATION_MODES = ("auto", "none", "quick", "reduced", "full")
