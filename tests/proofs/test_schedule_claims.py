"""The time-varying-training claims (nqm.proofs.claims._schedules): each passes on the toolkit (slow: the
claims' own problem), is in the catalogue, and fails on a mutant that contradicts its statement (fast:
results of a small problem, altered)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import nqm.numerics as nn
from nqm.proofs.claims import _schedules, proof_catalogue
from nqm.proofs.claims._catalogue import FAMILIES

SMALL = nn.Problem.power_law(200, bins=8)
BS = 2.0 ** np.arange(0, 15, 2)
TARGET = 0.05


def test_the_claims_are_in_the_catalogue() -> None:
    assert _schedules in FAMILIES
    names = {p.name for p in proof_catalogue(["sgd", "momentum", "ema"])}
    assert {p.name for p in _schedules.claims()} <= names


@pytest.mark.slow  # each claim runs its own computation (1-4 s)
@pytest.mark.parametrize("proof", _schedules.claims(), ids=lambda p: p.name)
def test_each_claim_passes(proof) -> None:
    result = proof.run()
    assert result.ok and result.outcome == "passed", result.details


@pytest.fixture(scope="module")
def small_relation() -> list[tuple[str, float, nn.StepsExamples]]:
    return [(n, 0.0, nn.steps_examples(SMALL, n, batch_sizes=BS, target=TARGET)) for n in ("sgd", "momentum")]


def test_the_relation_verdict_reads_its_own_definitions(small_relation) -> None:
    out = _schedules.relation_outcome(small_relation)
    for name, power, r in small_relation:
        S, E = r.steps, r.examples
        anchored = r.noise_free_steps / S + E.min() / E - 1
        assert out.data[f"{name} p=0"]["knee_anchored_residual"] == pytest.approx(anchored.max(), rel=1e-12)


def test_the_relation_claim_fails_on_mccandlishs_own_curve(small_relation) -> None:
    """Mutant: steps exactly on the hyperbola through the exact ends (S = S_inf + E_low/B). Then the knee is
    not sharper than McCandlish's, and the claim must fail."""
    mutants = []
    for name, power, r in small_relation:
        S = r.noise_free_steps + np.min(r.examples) / r.batch_sizes
        mutants.append((name, power, dataclasses.replace(r, steps=S, examples=r.batch_sizes * S)))
    out = _schedules.relation_outcome(mutants)
    assert not out.ok
    assert any(line.startswith("[FAIL]") and "anchored residual" in line for line in out.details)


def test_the_ramp_claim_passes_and_fails_on_a_ramp_that_saves_nothing() -> None:
    const = nn.steps_examples(SMALL, "sgd", batch_sizes=BS[2:5], target=TARGET)
    ramp = nn.steps_examples(SMALL, "sgd", batch_sizes=BS[2:5], target=TARGET, ramp=nn.BatchRamp())
    assert _schedules.ramp_outcome([("sgd", 0.0, const, ramp)]).ok
    out = _schedules.ramp_outcome([("sgd", 0.0, const, const)])  # mutant: the "ramp" is the constant run
    assert not out.ok and out.details[0].startswith("[FAIL]")


def test_the_smith_claim_fails_when_the_equivalence_is_reversed() -> None:
    run = nn.decay_versus_growth(SMALL, "sgd", batch_size=4.0, target=TARGET)
    ratio = run.examples["batch growth"] / run.examples["lr decay"]
    assert abs(ratio - 1) <= _schedules.EQUIVALENCE_TOLERANCE  # well below B_crit, as the claim says
    assert _schedules.smith_outcome([("sgd", 4.0, True, run)]).ok
    assert not _schedules.smith_outcome([("sgd", 4.0, False, run)]).ok  # mutant: expected to fail there
    more = dataclasses.replace(run, examples={**run.examples, "batch growth": 3 * run.examples["lr decay"]})
    assert not _schedules.smith_outcome([("sgd", 4.0, True, more)]).ok


def _gaps(name: str, Bs: list[float], cosine: list[float], wsd: list[float], optimum: list[float]) -> nn.PresetGaps:
    n = len(Bs)
    risks = {"constant": np.full(n, 0.01), "cosine": np.array(cosine), "wsd": np.array(wsd), "optimum": np.array(optimum)}
    return nn.PresetGaps(name, 0.01, 20, "synthetic", np.array(Bs), np.full(n, 100.0), risks,
                         {k: np.ones(n) for k in risks})


def test_the_preset_verdict_and_its_mutants() -> None:
    """The verdict logic on hand-made results: as measured (passes); WSD beating the optimum, cosine close to WSD
    at SGD's large B, or cosine losing to WSD with momentum (each contradicts the statement: fails)."""
    sgd = _gaps("sgd", [256.0, 4096.0], [0.0039, 0.044], [0.0031, 0.0088], [0.0023, 0.0069])
    mom = _gaps("momentum", [1024.0], [0.0036], [0.0055], [0.0027])
    assert _schedules.preset_outcome([sgd, mom]).ok
    beats = _gaps("sgd", [256.0, 4096.0], [0.0039, 0.044], [0.0020, 0.0088], [0.0023, 0.0069])
    close = _gaps("sgd", [256.0, 4096.0], [0.0039, 0.0100], [0.0031, 0.0088], [0.0023, 0.0069])
    loses = _gaps("momentum", [1024.0], [0.0060], [0.0055], [0.0027])
    for mutant in ([beats, mom], [close, mom], [sgd, loses]):
        assert not _schedules.preset_outcome(mutant).ok


def test_no_claim_formula_has_a_doubled_backslash_command() -> None:
    r"""A raw string written with doubled backslashes (``r"\\frac"``) renders as a LaTeX line break followed by
    the command's name as text; the catalogue's formulas go into the report's gather* blocks as they are."""
    import re

    doubled = [p.name for p in proof_catalogue() if re.search(r"\\\\[A-Za-z]", p.latex)]
    assert doubled == []
