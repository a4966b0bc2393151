"""Proof reports as tables: ``run_all`` returns a :class:`ProofReport` (a list) that converts to a
tidy pandas DataFrame and displays as an HTML table in Jupyter."""

import sys

import pytest
from nqm.proofs import METHODS, Proof, ProofReport, run_all
from nqm.proofs.claims._results import COLUMNS
from nqm.proofs.claims._prover import Outcome, step


def _proofs(specs=None, *, registered=None) -> list[Proof]:
    return [
        Proof("holds", "1 + 1 = 2", "1 + 1 = 2", METHODS[0], lambda: Outcome(True, (step(True, "1 + 1 = 2"),)),
              optimizers=("sgd", "momentum")),
        Proof("breaks <b>", "1 = 2", "1 = 2", METHODS[0], lambda: Outcome(False, (step(False, "1 != 2"), "x & y"))),
    ]


def test_run_all_gives_a_report_that_tabulates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("nqm.proofs.claims._catalogue.proof_catalogue", _proofs)
    report = run_all()
    assert isinstance(report, ProofReport) and isinstance(report, list) and len(report) == 2
    df = report.to_pandas()
    assert list(df.columns) == list(COLUMNS) and len(df) == 2
    rows = df.set_index("proof")
    assert rows.loc["holds", "outcome"] == "passed" and rows.loc["breaks <b>", "outcome"] == "failed"
    assert rows.loc["holds", "optimizers"] == "sgd, momentum"
    assert rows.loc["breaks <b>", "details"] == "[FAIL] 1 != 2\nx & y"
    htmls = [report._repr_html_()]
    monkeypatch.setitem(sys.modules, "pandas", None)  # pandas not installed
    with pytest.raises(ImportError, match=r"nqm-toolkit\[tables\]"):
        report.to_pandas()
    htmls.append(report._repr_html_())  # the HTML table needs no pandas
    for html in htmls:
        assert "2 proofs: 1 passed, 1 failed" in html and html.count("</tr>") == 3
        assert "breaks &lt;b&gt;" in html and "breaks <b>" not in html and "x &amp; y" in html


def test_the_reports_proof_task_runs_the_catalogue(monkeypatch: pytest.MonkeyPatch) -> None:
    """The report's proofs section (``proofs_task``) reaches the catalogue's ``run_all``."""
    from nqm.proofs.report._tasks import proofs_task

    monkeypatch.setattr("nqm.proofs.claims._catalogue.proof_catalogue", _proofs)
    report, seconds = proofs_task(((), ()))
    assert isinstance(report, ProofReport) and [r.name for r in report] == ["holds", "breaks <b>"]
    assert seconds >= 0
