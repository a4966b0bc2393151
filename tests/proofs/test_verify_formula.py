"""verify_formula: equal for true formulas written differently, not equal with a checked counterexample, unknown.

References: Theorem 1's and Theorem 2's stationary risks and eq. 4 as printed in the paper
(docs/math: sgd.md, momentum.md, ema.md), typed here; counterexamples re-evaluated here with exact rational arithmetic.
"""

from __future__ import annotations

import mpmath as mp
import sympy as sp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nqm.proofs import QUANTITIES, verify_formula
from nqm.proofs.formulas._verify import parse_user_formula
from nqm.proofs.formulas._evaluate import evaluate
from nqm.theory import get_spec
from nqm.theory.symbols import B, alpha, beta, c, gamma, h

SETTINGS = settings(max_examples=8, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))

#: Theorem 1's second term as printed (text and sympy)
THEOREM1_TEXT = "(1+beta)*alpha*c/(2*B*(2*beta+2-alpha*h)*(1-beta))"
THEOREM1 = (1 + beta) * alpha * c / (2 * B * (2 * beta + 2 - alpha * h) * (1 - beta))
#: the same without (1 + beta): wrong
THEOREM1_WRONG = alpha * c / (2 * B * (2 * beta + 2 - alpha * h) * (1 - beta))


@pytest.mark.parametrize("formula", [
    "(1+beta)*alpha*c/(2*B*(2*beta+2-alpha*h)*(1-beta))",
    "alpha*c*(1 + beta) / (2*B*(1 - beta)*(2*(1 + beta) - alpha*h))",
    "lr*c_i*(1+β)/(2*B*(1-β)*(2+2*β-lr*h_i))",
    "x*c*(1+beta)/(2*h*B*(1-beta)*(2+2*beta-x))",  # the notebook's x = alpha h
    "E_inf = (alpha*c/(4*B)) * (1+beta)/((1-beta)*(1+beta-alpha*h/2))",
    THEOREM1,
])
def test_theorem1_stationary_risk_written_differently_is_equal(formula: object) -> None:
    result = verify_formula(formula, optimizer="momentum", quantity="stationary_risk")
    assert result.verdict == "equal", str(result)
    assert result.equal and result.counterexample is None


@pytest.mark.parametrize("formula", [
    r"\frac{(1+\beta)\alpha c_i}{2B(2\beta+2-\alpha h_i)(1-\beta)}",
    r"\mathrm{E}\,\ell_i(\infty) = \frac{\alpha c_{i} \left(1 + \beta\right)}{2 B \left(1 - \beta\right) \left(2 \beta + 2 - \alpha h_{i}\right)}",
])
def test_latex_input(formula: str) -> None:
    assert verify_formula(formula, optimizer="momentum", quantity="stationary_risk").verdict == "equal"
    wrong = formula.replace(r"(1+\beta)", "").replace(r"\left(1 + \beta\right)", "")
    assert verify_formula(wrong, optimizer="momentum", quantity="stationary_risk").verdict == "not equal"


def _exact(expr: sp.Expr, point: dict[str, str]) -> sp.Rational:
    return sp.nsimplify(expr.subs({s: sp.Rational(point[s.name]) for s in expr.free_symbols}))


def test_missing_one_plus_beta_gives_a_valid_counterexample() -> None:
    result = verify_formula("alpha*c/(2*B*(2*beta+2-alpha*h)*(1-beta))", optimizer="momentum", quantity="stationary_risk")
    assert result.verdict == "not equal" and not result.equal
    point = result.counterexample
    a, b_, hv, Bv = (sp.Rational(point[n]) for n in ("alpha", "beta", "h", "B"))
    # inside the hyperparameter domain and the stability region 0 < alpha h < 2(1 + beta) (Theorem 1's regime)
    assert a > 0 and 0 <= b_ < 1 and hv > 0 and Bv >= 1 and a * hv < 2 * (1 + b_)
    claimed, derived = _exact(THEOREM1_WRONG, point), _exact(THEOREM1, point)
    assert claimed != derived
    assert abs(sp.Float(result.values[0], 30) - claimed) <= sp.Rational(1, 10**15) * abs(claimed)
    assert abs(sp.Float(result.values[1], 30) - derived) <= sp.Rational(1, 10**15) * abs(derived)


def test_theorem2_and_eq4_and_the_mean_path() -> None:
    red = (1 - gamma) * (1 + (1 - alpha * h) * gamma) / ((1 + gamma) * (1 - (1 - alpha * h) * gamma))
    assert verify_formula(alpha * c / (2 * B * (2 - alpha * h)) * red, optimizer="ema", quantity="stationary_risk").equal
    no_gamma = (1 - gamma) * (1 + (1 - alpha * h)) / ((1 + gamma) * (1 - (1 - alpha * h)))  # the restatement's error
    wrong = verify_formula(alpha * c / (2 * B * (2 - alpha * h)) * no_gamma, optimizer="ema", quantity="stationary_risk")
    assert wrong.verdict == "not equal"
    eq4 = "(1-alpha*h)**(2*t)*h*s0/2 + (1-(1-alpha*h)**(2*t))*alpha*c/(2*B*(2-alpha*h))"
    assert verify_formula(eq4, optimizer="sgd", quantity="expected_risk").equal
    bracket = "((r1**(t+1) - r2**(t+1)) - beta*(r1**t - r2**t))/(r1 - r2)"
    assert verify_formula(bracket, optimizer="momentum", quantity="mean_path").equal
    shifted = verify_formula("((r1**(t+1) - r2**(t+1)) - beta*(r1**(t+1) - r2**(t+1)))/(r1 - r2)",
                             optimizer="momentum", quantity="mean_path")
    assert shifted.verdict == "not equal" and "t" in shifted.counterexample
    assert verify_formula("z**2 - (1 - alpha*h + beta)*z + beta", optimizer="momentum",
                          quantity="characteristic_polynomial").equal
    assert verify_formula("alpha/(1-beta)", optimizer="nesterov", quantity="effective_lr").equal


def test_preconditioned_eq10() -> None:
    formula = "alpha*c*h**(-p)/(2*B*(2 - alpha*h**(1-p)))"
    assert verify_formula(formula, optimizer="sgd", quantity="stationary_risk", precondition=True).equal
    with pytest.raises(ValueError, match="cannot depend"):
        verify_formula(formula, optimizer="sgd", quantity="stationary_risk")


def test_unknown_when_numerics_agree_but_no_proof_closes() -> None:
    """A relative change of 1e-40 is below the numeric tolerance and not an identity: the honest answer is unknown."""
    result = verify_formula(THEOREM1 * (1 + sp.Rational(1, 10**40)), optimizer="momentum", quantity="stationary_risk")
    assert result.verdict == "unknown"
    assert any("agree" in s for s in result.tried) and any("inconclusive" in s for s in result.tried)


@SETTINGS
@given(st.fractions(min_value=-3, max_value=3).filter(lambda q: abs(q) > 1e-6))
def test_rescaled_stationary_risk_is_never_equal(q) -> None:
    result = verify_formula(THEOREM1 * (1 + sp.Rational(q.numerator, q.denominator)), optimizer="momentum",
                            quantity="stationary_risk", samples=4)
    assert result.verdict == "not equal"


@SETTINGS
@given(st.sampled_from(["expand", "factor", "apart", "together"]), st.sampled_from(["sgd", "momentum", "ema", "nesterov", "qhm"]))
def test_rewritten_derived_quantities_are_equal(rewrite: str, name: str) -> None:
    from nqm.theory import derive

    derived = derive(get_spec(name)).stationary_risk
    formula = getattr(sp, rewrite)(derived, alpha) if rewrite == "apart" else getattr(sp, rewrite)(derived)
    assert verify_formula(formula, optimizer=name, quantity="stationary_risk", samples=4).equal


@pytest.mark.parametrize("kwargs, match", [
    (dict(formula="alpha", optimizer="momentum", quantity="nope"), "quantity"),
    (dict(formula="alpha", optimizer="nope", quantity="stationary_risk"), "optimizer"),
    (dict(formula="alpha +", optimizer="momentum", quantity="stationary_risk"), "parse"),
    (dict(formula="foo*alpha", optimizer="momentum", quantity="stationary_risk"), "foo"),
    (dict(formula="alpha < 1", optimizer="momentum", quantity="stationary_risk"), "scalar"),
    (dict(formula="alpha", optimizer="momentum", quantity="stationary_risk", samples=0), "samples"),
])
def test_bad_input_raises_value_error_naming_the_parameter(kwargs: dict, match: str) -> None:
    formula = kwargs.pop("formula")
    with pytest.raises(ValueError, match=match):
        verify_formula(formula, **kwargs)


def test_documented_quantities() -> None:
    assert {"stationary_risk", "effective_lr", "characteristic_polynomial", "mean_path", "expected_risk"} <= set(QUANTITIES)


@pytest.mark.parametrize(
    "formula", ["(alpha, c)", "[alpha]", "'abc'", "lambda: 1", "__import__('os').getcwd()", "alpha.real", "1/0"]
)
def test_non_arithmetic_formulas_are_refused_before_evaluation(formula: str) -> None:
    with pytest.raises(ValueError, match="formula"):
        verify_formula(formula, optimizer="sgd", quantity="stationary_risk")


def test_cancellation_beyond_50_digits_is_not_a_counterexample() -> None:
    """X**40 (1 + beta) - X**40 - beta X**40 is 0, but with X = alpha + beta + h + c + B its terms
    exceed the derived value by more than 50 digits at some sample points: the values at 50 and
    100 digits are rounding noise, and only a precision where they settle may decide."""
    power = "(alpha+beta+h+c+B)**40"
    cancelling = f"{power}*(1+beta) - {power} - beta*{power}"
    result = verify_formula(f"{THEOREM1_TEXT} + {cancelling}", optimizer="momentum", quantity="stationary_risk",
                            symbolic_seconds=1)
    assert result.verdict != "not equal", str(result)
    off = verify_formula(f"{THEOREM1_TEXT}*(1 + 10**-25) + {cancelling}", optimizer="momentum",
                         quantity="stationary_risk", symbolic_seconds=1)
    assert off.verdict == "not equal", str(off)


@pytest.mark.parametrize("formula", [
    r"\frac{\alpha c_i}{2B(2-\alpha h_i)} )(",  # sympy's lenient LaTeX parser dropped the tail: 'equal'
    r"\frac{\alpha c_i}{2B(2-\alpha h_i)} +",
    r"\sum_{i=1}^{3} i",  # the '=' of the subscript was taken for 'lhs = rhs'
    "E = alpha = beta",
])
def test_latex_is_read_whole_or_refused(formula: str) -> None:
    with pytest.raises(ValueError, match="formula"):
        verify_formula(formula, optimizer="sgd", quantity="stationary_risk")


def _formulas() -> st.SearchStrategy[str]:
    """Random formulas of the whitelisted grammar, as text."""
    leaves = st.sampled_from(["alpha", "beta", "h", "c", "B", "2", "3", "0.5", "1/7", "pi", "E"])

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(inner, st.sampled_from(["+", "-", "*", "/"]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            st.tuples(inner, st.sampled_from(["2", "3", "-1", "1/2", "-3/2", "beta"])).map(lambda t: f"({t[0]})**({t[1]})"),
            st.tuples(st.sampled_from(["sqrt", "exp", "log", "sin", "cos", "tan", "atan", "sinh", "tanh", "abs"]), inner)
            .map(lambda t: f"{t[0]}({t[1]})"),
            inner.map(lambda a: f"-{a}"),
        )

    return st.recursive(leaves, extend, max_leaves=12)


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(_formulas(), st.tuples(*[st.fractions(min_value=0.01, max_value=3)] * 5))
def test_formula_values_match_sympy_evalf(formula: str, point) -> None:
    """The verifier's own evaluation of a formula (a walk of the tree in mpmath) against sympy's
    evalf at 60 digits, an independent evaluator, at a random exact point."""
    expr = parse_user_formula(formula, get_spec("momentum"))
    symbols = (alpha, beta, h, c, B)
    exact = {s: sp.Rational(v.numerator, v.denominator) for s, v in zip(symbols, point)}
    reference = sp.N(expr.subs(exact), 60)
    if not reference.is_finite or reference.has(sp.nan, sp.zoo):
        return
    with mp.workdps(50):
        try:
            value = evaluate(expr, {s: mp.mpf(v.p) / v.q for s, v in exact.items()})
        except (ZeroDivisionError, ValueError):
            return
        ref = mp.mpc(str(sp.re(reference)), str(sp.im(reference)))
        assert abs(value - ref) <= mp.mpf(10) ** -40 * max(abs(ref), 1), (formula, value, reference)
