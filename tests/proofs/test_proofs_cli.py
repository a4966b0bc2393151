"""``nqm proofs`` and ``nqm verify``: exit codes, one-line usage errors, files written and never overwritten silently."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import sympy as sp
from click.testing import CliRunner

import nqm.proofs.claims._sgd as sgd_claims
from nqm.proofs.cli._main import main
from nqm.theory.symbols import alpha, h

THEOREM1 = "(1+beta)*alpha*c/(2*B*(2*beta+2-alpha*h)*(1-beta))"


def _run(*args: str):
    return CliRunner().invoke(main, list(args))


def _one_line_error(result) -> None:
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("formula, code", [
    (THEOREM1, 0),
    ("alpha*c/(2*B*(2*beta+2-alpha*h)*(1-beta))", 1),
    (r"\frac{(1+\beta)\alpha c_i}{2B(2\beta+2-\alpha h_i)(1-\beta)}", 0),
    (f"({THEOREM1})*(1 + 10**-40)", 3),
])
def test_verify_exit_codes(formula: str, code: int) -> None:
    result = _run("verify", "--optimizer", "momentum", "--quantity", "stationary_risk", formula)
    assert result.exit_code == code, result.output
    verdict = {0: "equal", 1: "not equal", 3: "unknown"}[code]
    assert result.stdout.startswith(f"{verdict}:")
    if code == 1:
        assert "counterexample:" in result.stdout


@pytest.mark.parametrize("args", [
    ("verify", "--optimizer", "nope", "--quantity", "stationary_risk", "alpha"),
    ("verify", "--optimizer", "momentum", "--quantity", "nope", "alpha"),
    ("verify", "--optimizer", "momentum", "--quantity", "stationary_risk", "alpha +"),
    ("verify", "--optimizer", "momentum", "--quantity", "stationary_risk", "foo*alpha"),
    ("verify", "--quantity", "stationary_risk", "alpha"),
    ("verify", "--optimizer", "momentum", "--quantity", "stationary_risk"),
    ("proofs", "--bogus"),
    ("proofs", "--optimizer", "nope"),
])
def test_usage_errors_are_one_line_exit_2(args: tuple[str, ...]) -> None:
    _one_line_error(_run(*args))


def test_proofs_writes_json_and_latex_and_refuses_to_overwrite(tmp_path: Path) -> None:
    out_json, out_tex = tmp_path / "proofs.json", tmp_path / "proofs.tex"
    result = _run("proofs", "--optimizer", "sgd", "--json", str(out_json), "--latex", str(out_tex))
    assert result.exit_code == 0, result.output
    assert "eq4_solves_sgd_recursion" in result.stdout and "passed" in result.stdout
    doc = json.loads(out_json.read_text())
    assert doc["ok"] and doc["failed"] == 0 and doc["passed"] == len(doc["proofs"])
    names = {p["name"] for p in doc["proofs"]}
    assert {"eq4_solves_sgd_recursion", "sgd_stability", "information_bound_at_tuned_optimum[sgd]",
            "sgd_lr_scales_with_batch_size", "bound_vs_exact[sgd]"} <= names
    assert not any("momentum" in p["optimizers"] for p in doc["proofs"])
    for record in doc["proofs"]:
        assert {"claim", "latex", "method", "ok", "seconds", "details"} <= set(record)
    tex = out_tex.read_text()
    assert tex.startswith(r"\documentclass") and r"\usepackage{amsmath}" in tex and tex.rstrip().endswith(r"\end{document}")
    assert tex.count(r"\subsection*{") == len(doc["proofs"])
    assert r"\textbf{Method.}" in tex and r"\textbf{Outcome.}" in tex
    before = out_json.read_text()
    _one_line_error(_run("proofs", "--optimizer", "sgd", "--json", str(out_json)))
    _one_line_error(_run("proofs", "--optimizer", "sgd", "--latex", str(out_tex)))
    assert out_json.read_text() == before
    forced = _run("proofs", "--optimizer", "sgd", "--json", str(out_json), "--force")
    assert forced.exit_code == 0, forced.output


def test_proofs_exits_1_when_a_proof_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = dataclasses.replace(sgd_claims.SGD_STABILITY, claim=lambda: sp.StrictLessThan(alpha, 3 / h))
    monkeypatch.setattr(sgd_claims, "SGD_STABILITY", wrong)  # the statement object the sgd_stability entry holds
    result = _run("proofs", "--optimizer", "sgd")
    assert result.exit_code == 1, result.output
    assert "failed" in result.stdout and "sgd_stability" in result.stdout
