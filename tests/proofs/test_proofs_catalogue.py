"""The proof catalogue: every proof passes on the built-ins, covers the issue's claims, and has teeth.

Independent references here: the issue's list of claims, the theory's statement catalogue,
the paper problem's information constant and Bayes bound written out below, and eq. 4
evaluated in plain floating point near the alpha -> 0 limit.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

import nqm.numerics as nn
import nqm.proofs.claims._information as claims_information
from nqm.proofs import METHODS, ProofResult, run_all
from nqm.proofs.claims._catalogue import FAMILIES, paper_proofs
from nqm.theory import BUILTINS, STATEMENTS, sgd
from nqm.theory.symbols import B, alpha, beta, c, h

BUILTIN_NAMES = [spec.name for spec in BUILTINS]

#: the issue's claims 1-6 and the generic proofs, each with the proofs that must settle it
ISSUE_CLAIMS = {
    "1 eq. 4 solves the SGD recursion; SGD stable iff 0 < alpha h < 2": ["eq4_solves_sgd_recursion", "sgd_stability"],
    "2 momentum polynomial and second-moment eigenvalues": ["momentum_characteristic_polynomial",
                                                            "momentum_second_moment_eigenvalues"],
    "2 Theorem 1 (mean path, stationary risk, bound for every t)": ["theorem1_mean_path", "theorem1_stationary_risk",
                                                                    "theorem1_bound"],
    "2 eq. 7 and its small-alpha h limit": ["eq7_overdamped_rate", "eq7_small_step_limit"],
    "2 damping boundary and critical double root": ["damping_boundary", "critical_damping_double_root"],
    "2 |r| = sqrt(beta), stability, steady state": ["underdamped_modulus", "momentum_stability",
                                                    "momentum_steady_state_effective_lr"],
    "3 preconditioning": ["preconditioning_equivalence", "eq10_preconditioned_steady_state",
                          "preconditioned_steady_state_grows_with_p"],
    "4 EMA": ["theorem2_mean_path", "theorem2_stationary_risk", "theorem2_bound", "theorem2_red_factor_below_one",
              "ema_rate_unchanged"],
    "5 information bound for every registered optimizer": [f"information_bound_at_tuned_optimum[{n}]" for n in BUILTIN_NAMES]
    + ["bayes_information_bound", "information_bound_derivation"],
    "6 linear learning-rate scaling": ["sgd_lr_scales_with_batch_size"],
    "generic proofs": [f"{kind}[{n}]" for n in BUILTIN_NAMES for kind in ("stationary_risk", "stability_region", "bound_vs_exact")],
}


@pytest.fixture(scope="module")
def results() -> dict[str, ProofResult]:
    out = run_all(BUILTIN_NAMES)
    return {r.name: r for r in out}


@pytest.mark.slow  # shares the module fixture that builds the whole proof catalogue
def test_every_proof_passes(results: dict[str, ProofResult]) -> None:
    failed = {name: r.details for name, r in results.items() if not r.ok}
    assert not failed, failed
    assert all(r.outcome == "passed" for r in results.values())


@pytest.mark.slow  # shares the module fixture that builds the whole proof catalogue
def test_one_result_per_proof_with_its_statement(results: dict[str, ProofResult]) -> None:
    assert len(results) == len(paper_proofs()) + 4 * len(BUILTIN_NAMES)
    for r in results.values():
        assert r.claim and r.latex, r.name
        assert all(part in METHODS for part in r.method.split(" + ")), r.method
        assert r.seconds >= 0 and math.isfinite(r.seconds)
        assert r.details and all(d.startswith(("[ok]", "(")) for d in r.details), r.details


@pytest.mark.slow  # shares the module fixture that builds the whole proof catalogue
def test_the_issues_claims_are_all_proved(results: dict[str, ProofResult]) -> None:
    for claim, names in ISSUE_CLAIMS.items():
        missing = [n for n in names if n not in results]
        assert not missing, (claim, missing)
        assert all(results[n].ok for n in names), claim


@pytest.mark.slow  # shares the module fixture that builds the whole proof catalogue
def test_every_theory_statement_is_wrapped(results: dict[str, ProofResult]) -> None:
    wrapped = {s for r in results.values() for s in r.statements}
    assert {st.name for st in STATEMENTS} <= wrapped


@pytest.mark.slow  # shares the module fixture that builds the whole proof catalogue
def test_sampled_and_numerical_checks_are_reported_as_such(results: dict[str, ProofResult]) -> None:
    for name in BUILTIN_NAMES:
        assert results[f"stability_region[{name}]"].method == "sampled check (mpmath, 50 digits)"
        assert results[f"information_bound_at_tuned_optimum[{name}]"].method == "numerical (exact engine)"
    assert "numerical (exact engine)" in results["sgd_lr_scales_with_batch_size"].method


def _bayes_risk(prob: nn.Problem, examples: float) -> float:
    """Posterior variance of a Gaussian prior N(0, v) after `examples` observations of h theta + N(0, c)."""
    return float(np.sum(prob.weights * 0.5 * prob.h * prob.init_var * prob.c / (prob.c + prob.init_var * examples * prob.h**2)))


@pytest.mark.slow  # shares the module fixture that builds the whole proof catalogue
def test_tuned_optima_respect_both_bounds_independently(results: dict[str, ProofResult]) -> None:
    prob = nn.Problem.paper()
    flat_examples = 0.5 * np.sum(prob.weights * prob.c / prob.h) / claims_information.PAPER_TARGET
    for name in BUILTIN_NAMES:
        rows = results[f"information_bound_at_tuned_optimum[{name}]"].data["settings"]
        assert len(rows) == 40
        for row in rows:
            if math.isfinite(row["steps"]):
                examples = row["steps"] * row["batch_size"]
                assert examples >= flat_examples
                assert _bayes_risk(prob, examples) <= claims_information.PAPER_TARGET


@pytest.mark.slow  # shares the module fixture that builds the whole proof catalogue
def test_a_tuned_optimum_is_a_genuine_first_hit(results: dict[str, ProofResult]) -> None:
    prob = nn.Problem.paper()
    row = next(r for r in results["information_bound_at_tuned_optimum[momentum]"].data["settings"]
               if r["batch_size"] == 2.0**12 and r["precond_power"] == 0.0)
    opt = nn.optimizer("momentum", **row["hyperparameters"])
    assert nn.steps_to_target(prob, opt, batch_size=row["batch_size"], target=claims_information.PAPER_TARGET) == row["steps"]


def test_the_alpha_to_zero_limit_of_eq4_in_floating_point() -> None:
    """Eq. 4 at t = tau/alpha, B = alpha/kappa approaches the limit the scaling proof states."""
    hv, cv, v0v, tau, kappa = 0.7, 1.3, 2.0, 3.0, 0.05
    limit = math.exp(-2 * hv * tau) * hv * v0v / 2 + (1 - math.exp(-2 * hv * tau)) * kappa * cv / 4
    for a in (1e-4, 1e-5, 1e-6):
        t_, B_ = round(tau / a), a / kappa
        decay = (1 - a * hv) ** (2 * t_)
        risk = decay * hv * v0v / 2 + (1 - decay) * a * cv / (2 * B_ * (2 - a * hv))
        assert abs(risk - limit) < 10 * a * limit  # the leading correction is O(alpha h)


@pytest.mark.slow  # shares the module fixture that builds the whole proof catalogue
def test_scaling_proof_reports_its_range(results: dict[str, ProofResult]) -> None:
    data = results["sgd_lr_scales_with_batch_size"].data
    assert data["fit_batch_sizes"] and max(data["fit_batch_sizes"]) <= data["critical_batch_size_2x"] / 8
    assert abs(data["slope"] - 1) <= 0.05


# ---------------------------------------------------------------------- teeth
def test_a_wrong_paper_claim_is_caught() -> None:
    """Theorem 1's stationary risk without its (1 + beta) factor must fail the proof."""
    proof = next(p for p in paper_proofs() if p.name == "theorem1_stationary_risk")
    (original,) = proof.statements
    wrong = dataclasses.replace(original, claim=lambda: alpha * c / (2 * B * (2 * beta + 2 - alpha * h) * (1 - beta)))
    result = dataclasses.replace(proof, statements=(wrong,)).run()
    assert not result.ok and result.outcome == "failed"
    assert any(d.startswith("[FAIL]") and "theorem1_stationary_risk" in d for d in result.details)


def test_the_flat_information_bound_is_caught_when_the_start_is_informative(monkeypatch: pytest.MonkeyPatch) -> None:
    """With theta(0) close to the optimum (v = 0.01) tuned SGD beats tr(H^-1 C)/(2 eps) but never the Bayes bound."""
    claims_information._paper_sweep.cache_clear()
    monkeypatch.setattr(claims_information, "paper_problem", lambda: nn.Problem([1.0], [1.0], [0.01]))
    monkeypatch.setattr(claims_information, "PAPER_TARGET", 0.004)
    monkeypatch.setattr(claims_information, "PAPER_POWERS", (0.0,))
    try:
        result = claims_information.information_bound_proof(sgd).run()
    finally:
        claims_information._paper_sweep.cache_clear()
    assert not result.ok
    paper_line = next(d for d in result.details if "paper's bound" in d)
    bayes_line = next(d for d in result.details if "Bayes bound" in d)
    assert paper_line.startswith("[FAIL]") and bayes_line.startswith("[ok]")


def test_a_raising_check_is_a_failed_proof_not_a_crash() -> None:
    from nqm.proofs import Proof

    def broken():
        raise ZeroDivisionError("boom")

    result = Proof("broken", "a claim", "x = 1", "symbolic identity", broken).run()
    assert not result.ok and result.outcome == "error" and "boom" in result.details[0]


def test_method_vocabulary_is_enforced() -> None:
    from nqm.proofs.claims._prover import method

    with pytest.raises(ValueError, match="method"):
        method("vibes")
    assert method("symbolic identity", "sign argument") == "symbolic identity + sign argument"


# ---------------------------------------------------------------------- one claim, one entry
def test_every_statement_is_held_by_exactly_one_entry() -> None:
    """Each entry holds the theory's own statement objects (the ones the LaTeX document prints,
    not copies or names), and every statement belongs to exactly one entry."""
    held = [st for proof in paper_proofs() for st in proof.statements]
    assert all(any(st is known for known in STATEMENTS) for st in held)
    assert sorted(st.name for st in held) == sorted(st.name for st in STATEMENTS)


def test_every_entry_carries_its_reference_claim_and_display() -> None:
    for family in FAMILIES:
        for proof in family.claims():
            assert proof.reference and proof.claim and proof.latex and proof.domain, proof.name


def test_an_entry_refuses_statement_names() -> None:
    """A statement is held as an object: a name (the old string key) is refused when the entry is made."""
    from nqm.proofs import Proof

    with pytest.raises(ValueError, match="statements of proof 'eq4' must be nqm.theory.Statement objects"):
        Proof("eq4", "a claim", "x = 1", "symbolic identity", statements=("eq4_sgd_risk",))
    with pytest.raises(ValueError, match="needs a check or at least one statement"):
        Proof("empty", "a claim", "x = 1", "symbolic identity")


def _catalogue_names(specs: list, registered: list) -> list[str]:
    """The catalogue's proof names, built where this runs (a worker process in the test below)."""
    from nqm.proofs.claims import proof_catalogue

    return [proof.name for proof in proof_catalogue(specs, registered=registered)]


def test_a_worker_process_builds_the_catalogue_of_the_callers_registry() -> None:
    """A spec registered only in the calling process (as ``nqm report --spec-file`` does) keeps its tuned
    information bound when the catalogue is built in a fresh worker process: the specs travel as
    objects, the worker's own registry (built-ins only) is not consulted. Failed before: the report
    ran ``run_all(None)`` in a worker that had never seen the user spec."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from nqm.theory import LR, OptimizerSpec, register, registered_specs, unregister

    spec = OptimizerSpec.from_update(
        "catalogue_worker_sgd", lambda grad, theta, lr: (theta - lr * grad(theta),), state=("theta",),
        hyperparameters=(LR,),
    )
    register(spec)
    try:
        mine = list(registered_specs())
        here = _catalogue_names(mine, mine)
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("forkserver")) as pool:
            there = pool.submit(_catalogue_names, mine, mine).result()
    finally:
        unregister(spec.name)
    assert "information_bound_at_tuned_optimum[catalogue_worker_sgd]" in there
    assert there == here
