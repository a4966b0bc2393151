"""The paper's claims and the generic proofs: :class:`Proof` objects, the catalogue, the runner and their reports.

One module per claim family of Zhang et al. (2019): ``_sgd`` (claim 1), ``_momentum`` (2),
``_preconditioning`` (3), ``_ema`` (4), ``_information`` (5), ``_scaling`` (6); each entry holds
the paper's statements it rests on (:class:`~nqm.theory.Statement` objects) with its proof.
``_prover`` has the :class:`Proof` type and the generic proofs, ``_catalogue`` assembles and runs
them, ``_results`` reports them.
"""

from __future__ import annotations

from ._catalogue import proof_catalogue, run_all
from ._prover import DIGITS, METHODS, PointSampler, Proof, SpecNumerics, generic_proofs, rational_mpf, spec_numerics
from ._results import (
    ProofReport,
    ProofResult,
    latex_appendix,
    proof_table,
    results_to_json,
    summary,
    write_json,
    write_latex,
)

__all__ = ["DIGITS", "METHODS", "PointSampler", "Proof", "ProofReport", "ProofResult", "generic_proofs", "latex_appendix", "proof_catalogue", "proof_table", "rational_mpf", "results_to_json", "run_all", "SpecNumerics", "spec_numerics", "summary", "write_json", "write_latex"]
