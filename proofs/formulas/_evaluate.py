r"""Numeric value of a whitelisted formula (:mod:`._parse`) at a point, in mpmath, with bounded cost.

The formula's tree is walked directly (no code is generated): numbers are exact until they
meet a symbol's value, ``Add``/``Mul`` use :func:`mpmath.fsum`/:func:`mpmath.fprod`, and each
function of :data:`._parse.FUNCTIONS` is its mpmath namesake. The cost of
:math:`e^u`, of the trigonometric and hyperbolic functions of :math:`u` and of a power
:math:`b^u` grows with the size of :math:`u` in bits (respectively of :math:`u \ln|b|`):
past :math:`2^{\mathrm{MAX\_ARGUMENT\_BITS}}` (:data:`MAX_ARGUMENT_BITS`) the point counts as
one where the formula is undefined (``ValueError``). Below it each value costs at most a few
multiplications at a few thousand bits beyond the working precision (so :math:`e^{e^{e^{10}}}`
is evaluated, and one more :math:`e^{\cdot}` is refused).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import mpmath as mp
import sympy as sp

__all__ = ["EVALUABLE", "MAX_ARGUMENT_BITS", "evaluate"]

#: |u| < 2**MAX_ARGUMENT_BITS for exp, sin, cos, tan, sinh, cosh, tanh of u, and for u ln|b| in b**u
MAX_ARGUMENT_BITS = 4096

#: sympy function class -> (mpmath function, its cost grows with the argument)
_MPMATH: dict[type, tuple[Callable[..., object], bool]] = {
    sp.exp: (mp.exp, True), sp.sin: (mp.sin, True), sp.cos: (mp.cos, True), sp.tan: (mp.tan, True),
    sp.sinh: (mp.sinh, True), sp.cosh: (mp.cosh, True), sp.tanh: (mp.tanh, True),
    sp.log: (mp.log, False), sp.asin: (mp.asin, False), sp.acos: (mp.acos, False), sp.atan: (mp.atan, False),
    sp.Abs: (abs, False),
    # not callable by name, but what sympy makes of allowed calls: asin(I x) = I asinh(x),
    # atan(I x) = I atanh(x), acos(I x) = pi/2 - I asinh(x), Abs(exp(z)) = exp(re(z)), ...
    sp.asinh: (mp.asinh, False), sp.acosh: (mp.acosh, False), sp.atanh: (mp.atanh, False),
    sp.re: (mp.re, False), sp.im: (mp.im, False),
}
#: the sympy function classes :func:`evaluate` can evaluate (a rebuilt formula may hold no other)
EVALUABLE: frozenset[type] = frozenset(_MPMATH)
_CONSTANTS: dict[sp.Expr, Callable[[], object]] = {sp.pi: lambda: +mp.pi, sp.E: lambda: +mp.e, sp.I: lambda: mp.mpc(0, 1)}


def _bounded(u: object, what: str) -> None:
    if mp.mag(u) > MAX_ARGUMENT_BITS:
        raise ValueError(f"{what} beyond 2**{MAX_ARGUMENT_BITS} (too large to evaluate at this point)")


def _power(base: object, exponent: object) -> object:
    if exponent != 0 and base != 0 and base != 1:
        _bounded(exponent * mp.log(abs(base)), "|u ln|b|| in b**u")
    return mp.power(base, exponent)


def evaluate(expr: sp.Expr, values: Mapping[sp.Symbol, object]) -> object:
    """``expr`` at the point ``values`` (symbol -> mpmath number), at the current mpmath precision.

    ``expr`` holds only what :class:`._parse.FormulaBuilder` admits; anything else is a
    ``TypeError``. ``ValueError`` or ``ZeroDivisionError`` where the formula is undefined.
    """
    memo: dict[sp.Basic, object] = {}

    def value(e: sp.Basic) -> object:
        if e in memo:
            return memo[e]
        if isinstance(e, sp.Symbol):
            result = values[e]
        elif isinstance(e, sp.Rational):
            result = mp.mpf(int(e.p)) / int(e.q)
        elif e in _CONSTANTS:
            result = _CONSTANTS[e]()
        elif isinstance(e, sp.Add):
            result = mp.fsum(value(a) for a in e.args)
        elif isinstance(e, sp.Mul):
            result = mp.fprod(value(a) for a in e.args)
        elif isinstance(e, sp.Pow):
            result = _power(value(e.base), value(e.exp))
        elif type(e) in _MPMATH:
            function, grows = _MPMATH[type(e)]
            args = [value(a) for a in e.args]
            if grows:
                _bounded(args[0], f"the argument of {type(e).__name__}")
            result = function(*args)
        else:
            raise TypeError(f"cannot evaluate {type(e).__name__}")
        memo[e] = result
        return result

    return value(expr)
