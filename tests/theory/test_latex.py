"""LaTeX export (nqm.theory._latex) and the ``nqm latex`` command.

The round trip is the test: every formula of the full document is parsed back with
sympy's ``parse_latex`` and compared symbolically with the object it was printed from.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sympy as sp
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from sympy.parsing.latex import parse_latex

from nqm.proofs.cli._main import main
from nqm.theory import (
    BETA,
    BUILTINS,
    GAMMA,
    LR,
    OptimizerSpec,
    canonical_form,
    derive,
    document_formulas,
    formula_lines,
    latex_document,
    momentum,
    parse_formula,
    roundtrip,
    sgd,
    to_latex,
)
from nqm.theory._latex import PRINT_NAMES
from nqm.theory.symbols import B, alpha, beta, c, gamma, h, p, r1, r2, t, v0, x


@pytest.fixture(scope="module")
def full() -> tuple[str, list]:
    """The document of every registered optimizer, and its formulas in order."""
    return latex_document(), document_formulas()


@pytest.mark.slow  # shares the module fixture that builds the whole document (about 20 s per worker)
def test_every_formula_of_the_full_document_parses_back_to_its_source(full) -> None:
    document, formulas = full
    lines = formula_lines(document)
    assert lines == [f.tex for f in formulas]  # the document holds exactly these formulas
    assert len(lines) > 150
    failed = [f.tex for f in formulas if not roundtrip(f.tex, f.source)]
    assert not failed, failed[:3]


@pytest.mark.slow  # shares the module fixture that builds the whole document (about 20 s per worker)
def test_document_is_structurally_complete(full) -> None:
    document, _ = full
    assert document.startswith("\\documentclass{article}") and document.rstrip().endswith("\\end{document}")
    assert re.findall(r"\\usepackage(?:\[[^]]*\])?\{([^}]*)\}", document) == ["amsmath", "geometry"]
    stack = []
    for kind, env in re.findall(r"\\(begin|end)\{([^}]*)\}", document):
        if kind == "begin":
            stack.append(env)
        else:
            assert stack and stack.pop() == env, env
    assert not stack
    depth = 0
    for char in re.sub(r"\\[{}]", "", document):
        depth += {"{": 1, "}": -1}.get(char, 0)
        assert depth >= 0
    assert depth == 0
    for line in formula_lines(document):
        assert line.count("\\left(") == line.count("\\right)")
    used = set(re.findall(r"\\([A-Za-z]+)", document))
    assert used <= CORE_AND_AMSMATH, used - CORE_AND_AMSMATH


#: commands of LaTeX's core and amsmath that the export may use (no amssymb: no \mathbb; geometry only sets the margins)
CORE_AND_AMSMATH = {
    "documentclass", "usepackage", "begin", "end", "section", "subsection", "emph", "allowdisplaybreaks", "text",
    "tfrac", "frac", "sqrt", "left", "right", "cdot", "quad", "big", "bigl", "bigr", "textstyle", "mathrm", "mathcal",
    "bar", "tilde", "top", "det", "log", "min", "sum", "partial", "infty", "approx", "le", "ge", "ll", "gg", "ne", "qquad",
    "in", "to", "pm", "dots", "ell", "alpha", "beta", "gamma", "kappa", "lambda", "nu", "theta", "xi", "wedge",
}


@pytest.mark.slow  # shares the module fixture that builds the whole document (about 20 s per worker)
def test_document_cites_the_papers_equations_and_covers_every_builtin(full) -> None:
    document, _ = full
    for spec in BUILTINS:
        assert f"\\section{{Optimizer {spec.name}}}" in document
    for citation in ("eq. 4", "Theorem 1 (eq. 6)", "eq. 7", "eqs. 8", "eq. 10", "Theorem 2 (eq. 12)", "Appendix B", "Appendix D", "Section 3.6"):
        assert citation in document, citation
    assert "refuted" in document  # the two known errors of public restatements


def test_paper_notation() -> None:
    tex = to_latex(derive(momentum).stationary_risk)
    assert all(name in tex for name in (r"\alpha", r"\beta", "h_{i}", "c_{i}", "B"))
    assert to_latex(r1**t + r2) == "r_{1}^{t} + r_{2}"
    assert to_latex(gamma) == r"\gamma" and to_latex(h ** (1 - p)) == "h_{i}^{1 - p}"
    assert to_latex(v0) == "s_{0}" and PRINT_NAMES[alpha] == r"\alpha"


def test_products_before_parentheses_survive_parse_latex() -> None:
    """parse_latex reads `B \\left(2 - x\\right)` as a call of B; the export prints the paper's
    `B(2 - x)` and parse_formula reads it as a product."""
    expr = B * (2 - x)
    assert isinstance(parse_latex(sp.latex(expr)), sp.core.function.AppliedUndef)
    assert to_latex(expr) == r"B \left(2 - x\right)" and roundtrip(to_latex(expr), expr)


def test_every_derived_object_renders() -> None:
    d = derive(momentum)
    objects = [
        d.characteristic_polynomial, d.eigenvalues, d.second_moment, d.second_moment_vec, d.stationary_covariance,
        d.stationary_risk, d.stability_conditions, d.stability_region, d.effective_lr, d.slow_eigenvalue_series,
        d.closed_form.mean_path, d.closed_form.impulse_response, d.closed_form.noise_sum, d.closed_form.partial_noise_sum,
        d.closed_form.expected_risk, d.closed_form.vieta,
    ]
    for obj in objects:
        assert to_latex(obj)
    region = derive(BUILTINS[3]).stability_region  # nesterov: a conjunction
    assert r"\wedge" in to_latex(region)


def test_matrices_and_relations_round_trip() -> None:
    M = derive(momentum).second_moment[0]
    assert roundtrip(to_latex(M), M)
    assert not roundtrip(to_latex(M), M.T)
    rel = sp.StrictLessThan(alpha * h - 2 * beta - 2, 0)
    assert roundtrip(to_latex(rel), rel) and not roundtrip(to_latex(rel), sp.StrictGreaterThan(rel.lhs, 0))
    assert parse_formula(to_latex(c * h / (2 * B))) == c * h / (2 * B)


@pytest.mark.parametrize(
    ("broken", "prefix"),
    [
        (r"\alpha + \beta \right) + c_{i}", alpha + beta),
        (r"h_{i} c_{i} + ) 2 B", c * h),
        (r"\frac{\alpha}{2} +", alpha / 2),
    ],
)
def test_a_formula_with_a_syntax_error_does_not_round_trip(broken: str, prefix: sp.Expr) -> None:
    """Lenient parse_latex returns what precedes a syntax error (`a + b ) + c` reads as a + b), so a
    truncated formula would round-trip against that prefix; parse_formula parses strictly."""
    names = {parse_latex(PRINT_NAMES[s]): s for s in prefix.free_symbols}
    assert parse_latex(broken).xreplace(names) == prefix  # what a lenient round trip would accept
    with pytest.raises(ValueError, match="tex must be a complete LaTeX formula"):
        parse_formula(broken)
    assert not roundtrip(broken, prefix)


@pytest.mark.slow
def test_three_state_user_spec_document_round_trips() -> None:
    """A user spec with three states (momentum averaged by an EMA) exports and parses back."""

    def update(grad, theta, m, avg, lr, beta, gamma):
        m = beta * m + grad(theta)
        theta = theta - lr * m
        return theta, m, gamma * avg + (1 - gamma) * theta

    spec = OptimizerSpec.from_update(
        "latex_test_momentum_ema", update, state=("theta", "m", "avg"),
        hyperparameters=(LR, BETA, GAMMA), init=(1, 0, 1), out=(0, 0, 1),
    )
    document, formulas = latex_document([spec]), document_formulas([spec])
    assert formula_lines(document) == [f.tex for f in formulas]
    assert "r_{3}" in document and "left out" in document
    assert all(roundtrip(f.tex, f.source) for f in formulas)


def test_single_optimizer_document_and_file_output(tmp_path: Path) -> None:
    target = tmp_path / "sgd.tex"
    text = latex_document([sgd], path=target)
    assert target.read_text() == text
    assert "\\section{Optimizer sgd}" in text and "Optimizer momentum" not in text
    assert "\\subsection*{Eq. 4: SGD risk}" in text and "Theorem 1" not in text
    with pytest.raises(FileExistsError, match="overwrite"):
        latex_document(["sgd"], path=target)
    assert latex_document(["sgd"], path=target, overwrite=True) == text
    with pytest.raises(ValueError, match="specs"):
        latex_document([])


def test_cli_writes_refuses_to_overwrite_and_forces(tmp_path: Path) -> None:
    runner = CliRunner()
    target = tmp_path / "out.tex"
    first = runner.invoke(main, ["latex", "--optimizer", "sgd", "--output", str(target)])
    assert first.exit_code == 0 and target.read_text().startswith("\\documentclass")
    target.write_text("keep me")
    refused = runner.invoke(main, ["latex", "--optimizer", "sgd", "--output", str(target)])
    assert refused.exit_code == 2 and target.read_text() == "keep me"
    assert len(refused.output.strip().splitlines()) == 1 and "--force" in refused.output
    forced = runner.invoke(main, ["latex", "--optimizer", "sgd", "--output", str(target), "--force"])
    assert forced.exit_code == 0 and target.read_text().startswith("\\documentclass")
    unknown = runner.invoke(main, ["latex", "--optimizer", "adamw"])
    assert unknown.exit_code == 2 and "adamw" in unknown.output
    stdout = runner.invoke(main, ["latex", "--optimizer", "sgd"])
    assert stdout.exit_code == 0 and stdout.output.rstrip().endswith("\\end{document}")


def test_a_sum_is_printed_with_one_sign_whichever_way_a_derivation_wrote_it() -> None:
    assert to_latex(1 / (r2 - r1)) == to_latex(-1 / (r1 - r2))
    assert to_latex(alpha * (beta - r1) / (r2 - r1) ** 2) == to_latex(-alpha * (r1 - beta) / (r1 - r2) ** 2)
    assert to_latex((r2 - r1) ** 3) == to_latex(-((r1 - r2) ** 3))
    # the value is unchanged: the printed formula parses back to the same expression
    for expr in (1 / (r2 - r1), alpha * (beta - r1) / (r2 - r1) ** 2):
        assert sp.simplify(parse_formula(to_latex(expr), [alpha, beta, r1, r2]) - expr) == 0


@pytest.mark.slow
def test_the_document_is_the_same_in_every_process() -> None:
    """Which sign a derivation ends with once varied between processes (1 run in 4 printed
    1/(-r_1 + r_2) where the others printed -1/(r_1 - r_2)); the printed document must not."""
    code = ("import hashlib; from nqm.theory import latex_document; "
            "print(hashlib.sha256(latex_document(['momentum']).encode()).hexdigest())")
    digests = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                       env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout
        for seed in (0, 1, 2, 3)
    }
    assert len(digests) == 1


# --------------------------------------------------------------------------- the paper's canonical form
#: formulas as the paper typesets them (eqs. 4, 6, 7, 9, 10; Theorem 1's bracket), in this
#: export's spacing: what to_latex must print for the derived objects
def _larger_eigenvalue(spec: OptimizerSpec) -> sp.Expr:
    """The eigenvalue of a two-state spec's A with the + sign before its square root (larger at alpha h_i = beta = 1/10)."""
    return max(derive(spec).eigenvalues, key=lambda e: e.subs({alpha: sp.Rational(1, 10), h: 1, beta: sp.Rational(1, 10), p: sp.Rational(1, 2)}))


PAPER_FORMS = {
    "sgd mean path": (lambda: derive(sgd).closed_form.mean_path, r"\left(1 - \alpha h_{i}\right)^{t}"),
    "sgd stationary risk": (lambda: derive(sgd).stationary_risk, r"\frac{\alpha c_{i}}{2 B \left(2 - \alpha h_{i}\right)}"),
    "preconditioned stationary risk (eq. 10)": (
        lambda: derive(sgd.precondition()).stationary_risk,
        r"\frac{\alpha c_{i} h_{i}^{- p}}{2 B \left(2 - \alpha h_{i}^{1 - p}\right)}",
    ),
    "momentum effective lr (eq. 7)": (lambda: derive(momentum).effective_lr, r"\frac{\alpha}{1 - \beta}"),
    "momentum's larger eigenvalue (eq. 7, as nqm derive --latex prints it)": (
        lambda: _larger_eigenvalue(momentum),
        r"\frac{1 + \beta - \alpha h_{i} + \sqrt{\left(1 + \beta - \alpha h_{i}\right)^{2} - 4 \beta}}{2}",
    ),
    "preconditioned momentum's larger eigenvalue (h_i^{-p} taken into the square root)": (
        lambda: _larger_eigenvalue(momentum.precondition()),
        r"\frac{1 + \beta - \alpha h_{i}^{1 - p} + \sqrt{\left(1 + \beta - \alpha h_{i}^{1 - p}\right)^{2} - 4 \beta}}{2}",
    ),
    "nesterov's larger eigenvalue: discriminant S^2 - 4P": (
        lambda: _larger_eigenvalue(BUILTINS[3]),
        r"\frac{\left(1 + \beta\right) \left(1 - \alpha h_{i}\right) + \sqrt{\left(1 + \beta\right)^{2} \left(1 - \alpha h_{i}\right)^{2}"
        r" - 4 \beta \left(1 - \alpha h_{i}\right)}}{2}",
    ),
    "EMA's red factor (Theorem 2, eq. 12: gamma grouped as (1 - alpha h_i) gamma)": (
        lambda: sp.factor(derive(BUILTINS[2]).stationary_risk / derive(sgd).stationary_risk),
        r"\frac{\left(1 - \gamma\right) \left(1 + \gamma \left(1 - \alpha h_{i}\right)\right)}"
        r"{\left(1 + \gamma\right) \left(1 - \gamma \left(1 - \alpha h_{i}\right)\right)}",
    ),
    "a grouping that does not give 1 - y is left alone": (
        lambda: 1 + beta + alpha * beta * h, r"1 + \alpha \beta h_{i} + \beta",
    ),
    "momentum characteristic polynomial (eq. 22)": (
        lambda: derive(momentum).characteristic_polynomial, r"z^{2} - z \left(1 + \beta - \alpha h_{i}\right) + \beta"
    ),
    "Theorem 1's bracket": (
        lambda: derive(momentum).closed_form.mean_path,
        r"\frac{r_{1}^{t} \left(r_{1} - \beta\right) - r_{2}^{t} \left(r_{2} - \beta\right)}{r_{1} - r_{2}}",
    ),
    "momentum impulse response": (
        lambda: derive(momentum).closed_form.impulse_response,
        r"- \frac{\alpha \left(r_{1}^{k + 1} - r_{2}^{k + 1}\right)}{r_{1} - r_{2}}",
    ),
    "sgd exact risk (eq. 4)": (
        lambda: derive(sgd).closed_form.expected_risk,
        r"\frac{h_{i} s_{0} \left(1 - \alpha h_{i}\right)^{2 t}}{2} + \frac{\alpha c_{i} \left(1 - \left(1 - \alpha h_{i}\right)^{2 t}\right)}"
        r"{2 B \left(2 - \alpha h_{i}\right)}",
    ),
}


@pytest.mark.parametrize("name", sorted(PAPER_FORMS))
def test_derived_formulas_print_as_the_paper_writes_them(name: str) -> None:
    build, paper = PAPER_FORMS[name]
    expr = build()
    assert to_latex(expr) == paper
    assert roundtrip(paper, expr)


def test_stability_conditions_read_as_bounds() -> None:
    """Jury's conditions `alpha h - 2 < 0` print as the paper's `alpha h_i < 2`."""
    assert [to_latex(c) for c in derive(sgd).stability_conditions] == [r"\alpha h_{i} < 2"]
    assert [to_latex(c) for c in derive(momentum).stability_conditions] == [r"\alpha h_{i} < 2 + 2 \beta", r"\beta < 1"]


def test_the_papers_statements_print_as_their_derivations() -> None:
    """Where the claim and the derivation are the same expression, the document prints them the same."""
    from nqm.theory import statement

    for name in (
        "eq4_sgd_risk", "eq7_overdamped_rate", "eq9_preconditioned_sgd_risk", "theorem1_stationary_risk",
        "appendix_c_impulse_response", "theorem2_stationary_risk", "theorem2_red_factor",
    ):
        stmt = statement(name)
        claimed = to_latex(stmt.claimed)
        derived = [to_latex(e) for e in (stmt.derived if isinstance(stmt.derived, sp.Tuple) else [stmt.derived])]
        assert derived == [claimed] * len(derived), name


@pytest.mark.slow  # shares the module fixture that builds the whole document (about 20 s per worker)
def test_no_sum_is_printed_with_a_leading_minus(full) -> None:
    """`(-\\alpha h_i + 1)`, `(\\beta - 1)` in a denominator: a sum that is a factor reads with a positive lead."""
    document, _ = full
    assert "\\left(- " not in document
    assert not re.search(r"\\left\(\\alpha h_\{i\} - [12]\\right\)", document)
    assert "\\left(\\beta - 1\\right)" not in document and "\\left(\\gamma - 1\\right)" not in document


@pytest.mark.slow  # shares the module fixture that builds the whole document (about 20 s per worker)
def test_headings_and_second_moments_are_readable(full) -> None:
    document, _ = full
    headings = re.findall(r"\\subsection\*\{([^}]*)\}", document)
    assert "Theorem 1: characteristic polynomial" in headings and "Eq. 4: SGD risk" in headings
    assert not [h for h in headings if "\\_" in h]  # no raw identifiers such as theorem1_characteristic_polynomial
    assert r"\mathrm{E}[\mathrm{buf}^2]" in document and r"\mathrm{E}[\theta\,\mathrm{buf}]" in document
    assert "bufbuf" not in document and r"\mathrm{E}[\theta_{\mathrm{avg}}^2]" in document


@pytest.mark.slow  # shares the module fixture that builds the whole document (about 20 s per worker)
def test_long_formulas_are_broken_before_top_level_signs(full) -> None:
    """The exact risk of momentum runs over several lines, each continuation starting with + or -,
    and the lines joined back are the formula that parses back."""
    document, formulas = full
    continued = [line for line in document.splitlines() if line.startswith("&\\qquad ")]
    assert len(continued) > 10
    assert all(line[len("&\\qquad "):].startswith(("+ ", "- ")) for line in continued)
    momentum_risk = next(f for f in formulas if f.label == r"\mathrm{E}\,\ell_{i}(t)" and "r_{1}" in f.tex)
    assert momentum_risk.line.count("\\\\\n") >= 1
    assert roundtrip(momentum_risk.tex, momentum_risk.source)


def test_to_latex_is_canonical_for_any_construction_order() -> None:
    """The same quantity built in different orders (and signs) prints the same (users call to_latex
    on their own derived quantities)."""
    pairs = [
        (alpha * c / (2 * B * (2 - alpha * h)), -alpha * c / (2 * B * (alpha * h - 2))),
        (alpha / (1 - beta), -alpha / (beta - 1)),
        ((1 - alpha * h) ** t, (-alpha * h + 1) ** t),
        ((r1 ** (t + 1) - r2 ** (t + 1)) / (r1 - r2), (r2 ** (t + 1) - r1 ** (t + 1)) / (r2 - r1)),
    ]
    for a, b in pairs:
        assert to_latex(a) == to_latex(b)
        assert "\\left(- " not in to_latex(a)


_ATOMS = (alpha, beta, h, r1, r2, 1 - alpha * h, alpha * h - 2, beta - 1, r1 - r2, r2 - beta, 1 + beta - alpha * h)


@st.composite
def _rational_expressions(draw) -> sp.Expr:
    """Sums of 1-3 terms, each a signed coefficient times powers (-2..2) of symbols and of sums."""
    terms = []
    for _ in range(draw(st.integers(1, 3))):
        coeff = draw(st.sampled_from([-3, -2, -1, sp.Rational(-1, 2), sp.Rational(1, 2), 1, 2, 3]))
        factors = [draw(st.sampled_from(_ATOMS)) ** draw(st.sampled_from([-2, -1, 1, 2])) for _ in range(draw(st.integers(1, 3)))]
        terms.append(coeff * sp.Mul(*factors))
    return sp.Add(*terms)


@settings(max_examples=40, deadline=None)
@given(_rational_expressions())
def test_canonical_form_keeps_the_value_and_prints_one_way(expr: sp.Expr) -> None:
    """Any rational expression: the canonical print parses back to the same value, does not depend on
    how the expression was built (rebuilt from its string), and no parenthesised sum leads with a minus."""
    tex = to_latex(expr)
    assert sp.simplify(canonical_form(expr) - expr) == 0
    assert roundtrip(tex, expr)
    assert to_latex(sp.sympify(str(expr), locals={s.name: s for s in expr.free_symbols})) == tex
    assert "\\left(- " not in tex
