"""The paper's claims and the generic proofs: :class:`Proof` objects, the catalogue, the runner and their reports."""

from __future__ import annotations

from ._catalogue import proof_catalogue, run_all
from ._results import ProofReport, ProofResult, latex_appendix, proof_table, results_to_json, summary, write_json, write_latex
from ._prover import DIGITS, METHODS, PointSampler, Proof, SpecNumerics, generic_proofs, rational_mpf, spec_numerics

__all__ = ["DIGITS", "METHODS", "PointSampler", "Proof", "ProofReport", "ProofResult", "generic_proofs", "latex_appendix", "proof_catalogue", "proof_table", "rational_mpf", "results_to_json", "run_all", "SpecNumerics", "spec_numerics", "summary", "write_json", "write_latex"]
