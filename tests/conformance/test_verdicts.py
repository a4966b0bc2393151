"""Verdicts a user can trust: a false reduction fails at a point where its two sides differ (both
values shown, no dict dumps), an empty check is NOT APPLICABLE rather than PASSED, examples are
counted as hypothesis ran them, and reports convert to pandas and HTML tables."""

import dataclasses
import sys

import nqm.numerics as nn
import numpy as np
import pytest
from click.testing import CliRunner
from nqm.proofs import (
    ABSOLUTE_ACCURACY,
    PROPERTIES,
    ConformanceError,
    check_conformance,
    declare_reduction,
)
from nqm.proofs.cli._main import main
from nqm.proofs.conformance._suite import COLUMNS
from nqm.theory import BETA, LR, NU, OptimizerSpec


def _partial_nesterov(grad, theta, m, lr, beta, nu):
    g = grad(theta)
    m = beta * m + g
    return theta - lr * (g + nu * beta * m), m  # nu = 0: SGD; nu = 1: Nesterov, which is SGD only at beta = 0


PARTIAL_NESTEROV = OptimizerSpec.from_update(
    "partial_nesterov_verdicts", _partial_nesterov, state=("theta", "m"), hyperparameters=(LR, BETA, NU)
)


def _check_false_reduction(shrink_seconds: float) -> None:
    """The false reduction fails, and at the reported point its two sides differ beyond the
    property's tolerance (re-evaluated here), with both values in the message."""
    declare_reduction(PARTIAL_NESTEROV.name, "sgd", nu=1.0)  # false: nu = 1 is Nesterov
    report = check_conformance(PARTIAL_NESTEROV, properties=["reductions"], max_examples=5, shrink_seconds=shrink_seconds)
    result = report["reductions"]
    assert result.status == "failed" and not report.ok
    assert 1 <= result.examples <= 5, str(report)
    assert f"reductions: {result.examples} example" in str(report)
    ce = result.counterexample
    assert ce["claim"] == f"{PARTIAL_NESTEROV.name}(nu=1) = sgd"
    assert ce[PARTIAL_NESTEROV.name]["beta"] > 0  # at beta = 0 the two methods are identical
    problem = nn.Problem(**ce["problem"])
    B_, steps, p = ce["batch_size"], np.array(ce["steps"], dtype=float), ce["precond_power"]
    left = nn.Optimizer(PARTIAL_NESTEROV, precond_power=p, **ce[PARTIAL_NESTEROV.name])
    right = nn.optimizer("sgd", precond_power=p, **ce["sgd"])
    a = nn.expected_risk(problem, left, batch_size=B_, steps=steps)
    b = nn.expected_risk(problem, right, batch_size=B_, steps=steps)
    sa, sb = (float(nn.stationary_risk(problem, o, batch_size=B_)) for o in (left, right))
    floor = ABSOLUTE_ACCURACY * (problem.initial_risk + sb)
    differs = np.abs(a - b) > 1e-10 * np.abs(b) + floor
    if differs.any():  # the curves differ: both values at the first such step are in the message
        i = int(np.argmax(differs))
        assert f"at step t = {int(steps[i])}: {float(a[i])!r} vs {float(b[i])!r}" in result.message
    else:  # else the stationary risks do
        assert abs(sa - sb) > 1e-10 * abs(sb) + floor
        assert f"{sa!r} vs {sb!r}" in result.message
    text = str(report)
    assert "{" not in text and "'h'" not in text  # no dict dumps
    assert "counterexample:" in text and "beta = " in text


def test_a_false_reduction_fails_where_its_sides_differ() -> None:
    _check_false_reduction(shrink_seconds=0.0)


def test_a_false_reduction_shrinks_to_a_point_where_its_sides_differ() -> None:
    """Shrinking heads for beta = 0, where the sides agree: it must stop at a point where they do not."""
    _check_false_reduction(shrink_seconds=2.0)


def test_no_declared_reductions_is_not_applicable() -> None:
    report = check_conformance("sgd", properties=["reductions"], max_examples=2)
    result = report["reductions"]
    assert result.status == "not applicable" and result.examples == 0 and report.ok
    assert "no reductions are declared for 'sgd'" in result.message
    assert "NOT APPLICABLE" in str(report) and "PASSED" not in str(report)
    out = CliRunner().invoke(main, ["conformance", "sgd", "--property", "reductions", "--quiet"])
    assert out.exit_code == 0, out.output
    assert "NOT APPLICABLE  reductions" in out.output and "PASSED" not in out.output


def _counting(monkeypatch: pytest.MonkeyPatch, name: str, fail: bool) -> list[int]:
    """Replace property ``name``'s check by one that counts its calls (and always fails if ``fail``)."""
    calls = [0]
    prop = PROPERTIES[name]

    def check(spec, example):
        calls[0] += 1
        if fail:
            raise ConformanceError("always fails")
        prop.check(spec, example)

    monkeypatch.setitem(PROPERTIES, name, dataclasses.replace(prop, check=check))
    return calls


def test_examples_are_counted_as_run(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _counting(monkeypatch, "engine_matches_recursion", fail=False)
    report = check_conformance("sgd", properties=["engine_matches_recursion"], max_examples=5)
    assert report["engine_matches_recursion"].examples == calls[0] == 5
    assert "engine_matches_recursion: 5 examples" in str(report)


def test_a_failure_counts_its_shrinking_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _counting(monkeypatch, "stable_for_small_lr", fail=True)
    report = check_conformance("sgd", properties=["stable_for_small_lr"], max_examples=5, shrink_seconds=1.0)
    result = report["stable_for_small_lr"]
    assert result.status == "failed"
    assert result.examples == 1  # the first example failed: hypothesis generates no more
    assert result.shrink_steps > 0 and result.examples + result.shrink_steps == calls[0]
    assert "stable_for_small_lr: 1 example (+" in str(report)
    # a tuple example is reported with the property's names for its parts
    assert set(result.counterexample) == {"problem", "precond_power", "hyperparameters"}


def test_cli_max_examples_is_the_count_printed() -> None:
    out = CliRunner().invoke(main, ["conformance", "sgd", "--property", "stable_for_small_lr", "--max-examples", "3",
                                    "--quiet"])
    assert out.exit_code == 0, out.output
    assert "stable_for_small_lr: 3 examples" in out.output


def _without_pandas(monkeypatch: pytest.MonkeyPatch, report: object) -> str:
    """``report``'s HTML with pandas not installed (``to_pandas`` then names the extra)."""
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"nqm-toolkit\[tables\]"):
        report.to_pandas()  # type: ignore[attr-defined]
    return report._repr_html_()  # type: ignore[attr-defined]


def test_conformance_report_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    report = check_conformance("sgd", properties=["stable_for_small_lr", "reductions"], max_examples=2)
    df = report.to_pandas()
    assert list(df.columns) == list(COLUMNS) and len(df) == 2
    rows = df.set_index("property")
    assert rows.loc["stable_for_small_lr", "verdict"] == "passed"
    assert rows.loc["stable_for_small_lr", "examples"] == 2
    assert rows.loc["reductions", "verdict"] == "not applicable"
    assert "no reductions are declared" in rows.loc["reductions", "detail"]
    assert set(df["optimizer"]) == {"sgd"}
    html = report._repr_html_()
    for html in (report._repr_html_(), _without_pandas(monkeypatch, report)):  # the HTML table needs no pandas
        assert "<table" in html and html.count("</tr>") == 3 and "not applicable" in html
