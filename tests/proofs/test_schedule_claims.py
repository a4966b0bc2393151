"""The time-varying-training claims (nqm.proofs.claims._schedules): each passes on the toolkit, is in the
catalogue, and fails on a mutant that contradicts its statement."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import nqm.numerics as nn
from nqm.proofs.claims import _schedules, proof_catalogue
from nqm.proofs.claims._catalogue import FAMILIES


@pytest.fixture(scope="module")
def relation_results() -> list[tuple[str, float, nn.StepsExamples]]:
    prob = _schedules.frontier_problem()
    return [(n, p, nn.steps_examples(prob, n, batch_sizes=_schedules.RELATION_BATCH_SIZES, target=_schedules.TARGET,
                                     precond_power=p)) for n, p in _schedules.RELATION_CONFIGS]


def test_the_claims_are_in_the_catalogue() -> None:
    assert _schedules in FAMILIES
    names = {p.name for p in proof_catalogue(["sgd", "momentum", "ema"])}
    assert {p.name for p in _schedules.claims()} <= names


def test_the_relation_claim_passes(relation_results) -> None:
    out = _schedules.relation_outcome(relation_results)
    assert out.ok, out.details
    for name, power, r in relation_results:
        label = f"{name} p={power:g}"
        # the figures reported are the result's own, recomputed here from their definitions
        S, E = r.steps, r.examples
        anchored = r.noise_free_steps / S + E.min() / E - 1
        assert out.data[label]["knee_anchored_residual"] == pytest.approx(anchored.max(), rel=1e-12)
        assert out.data[label]["S_min"] < r.noise_free_steps


def test_the_relation_claim_fails_on_mccandlishs_own_curve(relation_results) -> None:
    """Mutant: steps exactly on the hyperbola through the exact ends (S = S_inf + E_low/B). Then the knee is
    not sharper than McCandlish's, and the claim must fail."""
    mutants = []
    for name, power, r in relation_results:
        B = r.batch_sizes
        S = r.noise_free_steps + np.min(r.examples) / B
        mutants.append((name, power, dataclasses.replace(r, steps=S, examples=B * S)))
    out = _schedules.relation_outcome(mutants)
    assert not out.ok
    assert any(line.startswith("[FAIL]") and "anchored residual" in line for line in out.details)
