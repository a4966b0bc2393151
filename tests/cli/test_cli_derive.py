"""``nqm derive``: text, LaTeX and JSON of every derived quantity, checked against the paper's formulas."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from conftest import USER_SPEC, run

from nqm.theory import formula_lines, get_spec, parse_formula
from nqm.theory.symbols import B, alpha, beta, c, h, p

SYMBOLS = {s.name: s for s in (alpha, beta, h, c, B, p)}

#: the paper's stationary risks per direction: SGD (eq. 4 as t -> inf) and heavy-ball momentum (Theorem 1)
SGD_STATIONARY = alpha * c / (2 * B * (2 - alpha * h))
MOMENTUM_STATIONARY = (1 + beta) * alpha * c / (2 * B * (2 * beta + 2 - alpha * h) * (1 - beta))


def _json(*args: str) -> dict:
    result = run("derive", *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _expr(text: str) -> sp.Expr:
    return sp.sympify(text, locals=SYMBOLS)


def test_json_has_every_quantity_with_text_and_latex() -> None:
    doc = _json("momentum")
    assert doc["optimizer"] == "momentum" and doc["state"] == ["theta", "m"]
    assert [hp["name"] for hp in doc["hyperparameters"]] == ["lr", "beta"]
    q = doc["quantities"]
    for key in ("characteristic_polynomial", "eigenvalues", "second_moment_M", "second_moment_q", "second_moment_eigenvalues",
                "stationary_covariance", "stationary_risk", "stability_conditions", "stability_region", "effective_lr",
                "effective_lr_steady_state", "slow_eigenvalue_series", "roots", "mean_path", "noise_sum", "expected_risk"):
        assert "error" not in q[key], (key, q[key])
        assert q[key]["text"] and q[key]["latex"], key
    assert sp.simplify(_expr(q["stationary_risk"]["text"]) - MOMENTUM_STATIONARY) == 0
    assert sp.simplify(parse_formula(q["stationary_risk"]["latex"]) - MOMENTUM_STATIONARY) == 0
    assert sp.simplify(_expr(q["effective_lr"]["text"]) - alpha / (1 - beta)) == 0  # Section 3.2, eq. 7
    assert sum(item["multiplicity"] for item in q["eigenvalues"]["items"]) == 2
    assert sum(item["multiplicity"] for item in q["second_moment_eigenvalues"]["items"]) == 4


def test_sgd_eigenvalue_and_stationary_risk() -> None:
    q = _json("sgd")["quantities"]
    (item,) = q["eigenvalues"]["items"]
    assert sp.expand(_expr(item["text"]) - (1 - alpha * h)) == 0 and item["multiplicity"] == 1
    assert sp.simplify(_expr(q["stationary_risk"]["text"]) - SGD_STATIONARY) == 0


def _check_stability_conditions(name: str, conditions: list[sp.Basic]) -> None:
    """Jury's conditions hold exactly where the spectral radius of the preconditioned A is below 1."""
    assert conditions
    A = get_spec(name).precondition().A
    rng = np.random.default_rng(0)
    for _ in range(40):
        point = {hp.symbol: rng.uniform(hp.lower, hp.upper if math.isfinite(hp.upper) else hp.lower + 5)
                 for hp in get_spec(name).precondition().hyperparameters}
        point[h] = rng.uniform(0.01, 2)
        radius = max(abs(np.linalg.eigvals(np.array(A.subs(point), dtype=float))))
        if abs(radius - 1) < 1e-6:
            continue
        assert all(bool(cond.subs(point)) for cond in conditions) == (radius < 1), point


def test_preconditioned_stability_conditions_match_the_spectral_radius() -> None:
    q = _json("sgd", "--precondition")["quantities"]
    _check_stability_conditions("sgd", [_expr(item["text"]) for item in q["stability_conditions"]["items"]])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["sgd", "momentum", "ema", "nesterov", "qhm"])
@pytest.mark.parametrize("precondition", [False, True])
def test_every_builtin_derives_completely(name: str, precondition: bool) -> None:
    q = _json(name, *(["--precondition"] if precondition else []))["quantities"]
    assert not [key for key, entry in q.items() if "error" in entry]
    if precondition:
        symbols = {**SYMBOLS, **{str(hp.symbol): hp.symbol for hp in get_spec(name).hyperparameters}}
        _check_stability_conditions(name, [sp.sympify(item["text"], locals=symbols)
                                           for item in q["stability_conditions"]["items"]])


def test_latex_lines_parse_back_to_the_paper() -> None:
    result = run("derive", "momentum", "--latex")
    assert result.exit_code == 0, result.output
    assert r"\begin{align*}" in result.stdout
    parsed = [parse_formula(line) for line in formula_lines(result.stdout)]  # every formula parses back
    assert len(parsed) > 20
    assert any(isinstance(e, sp.Expr) and sp.simplify(e - MOMENTUM_STATIONARY) == 0 for e in parsed)


def test_text_output_and_output_file(tmp_path: Path) -> None:
    result = run("derive", "sgd")
    assert result.exit_code == 0, result.output
    for title in ("characteristic polynomial", "stationary risk", "stability conditions", "mean path", "effective learning rate"):
        assert title in result.stdout
    target = tmp_path / "sgd.txt"
    written = run("derive", "sgd", "--output", target)
    assert written.exit_code == 0 and target.read_text() == result.stdout


def test_user_spec_from_a_file(spec_file: Path) -> None:
    doc = _json("--spec-file", str(spec_file), USER_SPEC)
    omega = sp.Symbol("omega", real=True)
    risk = sp.sympify(doc["quantities"]["stationary_risk"]["text"], locals={**SYMBOLS, "omega": omega})
    # x' = (1 - wd - lr h) x - lr xi: variance lr^2 (c/B) / (1 - (1 - wd - lr h)^2), risk h/2 times that
    expected = h / 2 * alpha**2 * c / B / (1 - (1 - omega - alpha * h) ** 2)
    assert sp.simplify(risk - expected) == 0
