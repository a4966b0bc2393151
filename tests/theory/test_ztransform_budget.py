"""The symbolic shortcut of the Z-transform self-check is bounded; the numeric check still decides.

``_vanishes_symbolically`` may only say "identically 0" or "inconclusive"; an expression whose
expansion could be large is inconclusive at once (a bound computed without expanding), and
:func:`_verify` then checks it at random points with mpmath (50 digits).
"""

from __future__ import annotations

import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from nqm.theory._ztransform import (
    ZTransformVerificationError,
    _expanded_terms,
    _Sampler,
    _vanishes_symbolically,
    _verify,
)

a, b, c, d, e, k = sp.symbols("a b c d e k")
POWER = (a + b + c + d + e) ** 40  # 135,751 monomials when expanded; a handful of operations as written


def _leaves(draw: st.DrawFn, depth: int) -> sp.Expr:
    if depth == 0 or draw(st.booleans()):
        return draw(st.sampled_from([a, b, c, sp.Integer(2), -a, a * b]))
    kind = draw(st.sampled_from(["add", "mul", "pow", "divide", "symbolic_power"]))
    left, right = _leaves(draw, depth - 1), _leaves(draw, depth - 1)
    if kind == "add":
        return left + right
    if kind == "mul":
        return left * right
    if kind == "pow":
        return left ** draw(st.integers(-3, 4))
    if kind == "divide":
        return left / (right + 3)
    return left ** (k + draw(st.integers(0, 3)))


@st.composite
def expressions(draw: st.DrawFn) -> sp.Expr:
    return _leaves(draw, 3)


@settings(deadline=None, max_examples=60)
@given(expressions())
def test_expanded_terms_is_an_upper_bound(expr: sp.Expr) -> None:
    expanded = sp.expand(sp.expand_power_exp(expr))
    assert len(sp.Add.make_args(expanded)) <= _expanded_terms(sp.expand_power_exp(expr), 10**9)


def test_small_identities_are_still_decided_symbolically() -> None:
    assert _vanishes_symbolically((a + b) ** 2 - a**2 - 2 * a * b - b**2)
    assert _vanishes_symbolically(a / (a + b) + b / (a + b) - 1)
    assert not _vanishes_symbolically((a + b) ** 2 - a**2)


def test_a_large_expansion_is_inconclusive_not_attempted() -> None:
    residual = POWER * (a - b) - POWER * a + POWER * b
    assert sp.count_ops(residual) < 60 and residual != 0
    assert _expanded_terms(sp.expand_power_exp(residual), 10**9) > 10**5
    assert _vanishes_symbolically(residual) is False


def test_the_numeric_path_decides_what_the_budget_skips() -> None:
    sampler = _Sampler(params=(a, b, c, d, e))
    _verify("vanishing", sampler, lambda point: [], residuals=[[POWER * (a - b), -POWER * a, POWER * b]], index=k)
    with pytest.raises(ZTransformVerificationError, match="failed its self-check"):
        _verify("wrong", sampler, lambda point: [], residuals=[[POWER * (a - b), -POWER * a]], index=k)
