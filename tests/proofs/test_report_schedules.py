"""The report's time-varying training section: present in the index, and its numbers are the
library's own, recomputed here by the public API (tune, expected_risk, scheduled_risk with each
preset scaled by the tuned learning rate, optimize_schedule)."""

from __future__ import annotations

import csv
import html
import math
from pathlib import Path

import pytest

import nqm.numerics as nn
from nqm.numerics import schedules
from nqm.proofs import ReportConfig, build_report


@pytest.fixture(scope="module")
def section(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ReportConfig]:
    out = tmp_path_factory.mktemp("report")
    config = ReportConfig.quick()
    build_report(out, config=config, sections=("schedules",), validation="none", executor="serial")
    return out, config


def test_the_section_is_in_the_index_with_its_table(section) -> None:
    out, config = section
    index, md = (out / "index.html").read_text(), (out / "index.md").read_text()
    assert '<h2 id="schedules">Time-varying training</h2>' in index and "## Time-varying training" in md
    assert "schedules/schedules_vs_constant.csv" in index and "schedules/schedules_vs_constant.csv" in md
    assert config.problem.name in index


def test_the_numbers_equal_the_apis(section) -> None:
    out, config = section
    with (out / "schedules" / "schedules_vs_constant.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["optimizer"], float(r["batch_size"])) for r in rows] == [(s.name, s.batch_size) for s in config.schedules]
    for row, setting in zip(rows, config.schedules):
        B = setting.batch_size
        tuned = nn.tune(config.problem, setting.name, batch_size=B, target=config.target)
        T = int(tuned.steps)
        assert float(row["steps"]) == T and float(row["examples"]) == B * T
        for name, value in tuned.hyperparameters.items():
            assert float(row[f"constant_{name}"]) == value
        constant = nn.expected_risk(config.problem, tuned.optimizer, batch_size=B, steps=[T])[0]
        for preset in setting.presets:
            expected = nn.scheduled_risk(config.problem, tuned.optimizer, steps=[T], batch_size=B,
                                         schedule={"lr": schedules.as_schedule(preset, base=tuned.hyperparameters["lr"])})
            assert float(row[f"risk_{preset}"]) == expected[0]
        best = nn.optimize_schedule(config.problem, tuned.optimizer, batch_size=B, steps=T, pieces=setting.pieces)
        assert float(row["risk_constant"]) == constant
        assert float(row["risk_optimal"]) == best.final_risk
        # what the section states: the budget reaches the target, and the optimum is no worse
        assert nn.reaches(constant, config.target) and best.final_risk <= constant
        assert math.isclose(float(row["optimal_over_constant"]), best.final_risk / constant, rel_tol=1e-15)


def test_the_time_varying_claims_and_figures_are_the_catalogues() -> None:
    """The section gathers exactly the catalogue's time-varying claims and the figures registered with them."""
    from nqm.proofs.claims import _schedules as claims
    from nqm.proofs.figures import DEFAULT_FIGURES, FIGURES
    from nqm.proofs.report._schedules import TIME_VARYING_CLAIMS, TIME_VARYING_FIGURES

    assert TIME_VARYING_CLAIMS == tuple(p.name for p in claims.claims())
    drawn = tuple(n for n in DEFAULT_FIGURES if FIGURES[n].__module__ == "nqm.proofs.figures._schedules")
    assert TIME_VARYING_FIGURES == drawn


def test_the_claims_outcomes_and_numbers_are_shown_as_run(tmp_path: Path) -> None:
    """With the proofs and figures the report ran, the section shows each time-varying claim's outcome,
    claim and check lines as the proof result holds them, and links the figures."""
    from types import SimpleNamespace

    from nqm.proofs.claims import ProofResult
    from nqm.proofs.report._pages import _Index, _schedules
    from nqm.proofs.report._schedules import TIME_VARYING_CLAIMS

    def result(name: str, ok: bool) -> ProofResult:
        return ProofResult(name=name, claim=f"what {name} says", latex="", method="numeric", ok=ok,
                           outcome="passed" if ok else "failed", details=(f"[ok] {name}: 1.25 -> 2.5 (+100%)",),
                           reference="", assumptions=(), domain="", optimizers=(), seconds=0.1)

    proofs = [result(TIME_VARYING_CLAIMS[0], True), result(TIME_VARYING_CLAIMS[1], False), result("other_claim", True)]
    png = tmp_path / "figures" / "batch_ramps.png"
    figures = [(SimpleNamespace(name="batch_ramps"), [png]), (SimpleNamespace(name="fig2"), [tmp_path / "fig2.png"])]
    idx = _Index(tmp_path)
    summary = _schedules(idx, ReportConfig.quick(), SimpleNamespace(schedules=[], proofs=proofs, figures=figures))
    page, md = "\n".join(idx.html), "\n".join(idx.md)
    assert summary["claims"] == {TIME_VARYING_CLAIMS[0]: "passed", TIME_VARYING_CLAIMS[1]: "failed"}
    for r in proofs[:2]:
        assert r.name in page and r.claim in page and html.escape(r.details[0]) in page and r.details[0] in md
    assert "other_claim" not in page and '<span class="bad">failed</span>' in page
    assert "figures/batch_ramps.png" in page and "fig2.png" not in page
