r"""Error-free products and double-double polynomials (for the stability-edge factor).

A double-double number is an unevaluated sum ``hi + lo`` with ``|lo| <= ulp(hi)/2``, about 106
bits. :func:`two_product` returns :math:`a b` exactly as such a pair (Dekker's splitting, applied to
the mantissas so that no intermediate overflows); :func:`double_double_polynomial` evaluates
:math:`\sum_k a_k x^{i_k}\prod_j y_j^{e_{jk}}` for a double-double ``x`` and double ``y_j`` with a
relative error of a few units of :math:`2^{-104}` in each monomial, so the sum keeps full double
accuracy unless it cancels by more than about 15 digits (Ogita, Rump and Oishi 2005).

Double-double costs some twenty times plain arithmetic, and most elements do not need it:
:func:`polynomials` first evaluates in double with a running error bound (Higham 2002, §3.1 and
Alg. 5.1). In the standard model :math:`\mathrm{fl}(a\circ b) = (a\circ b)(1+\delta)`,
:math:`|\delta|\le u = 2^{-53}`, a monomial of degree ``i`` in the rounded
:math:`\hat x = x(1+\delta)` and ``e`` in the ``y_j`` carries :math:`m = 2i + e` factors
:math:`1+\delta` (``i`` from :math:`\hat x`, one per multiplication), and each partial sum
:math:`\hat s_k` one more, so to first order in u

.. math::

    |\hat p - p| \le u\Bigl(\sum_k m_k|\hat t_k| + \sum_k|\hat s_k|\Bigr),

all from computed values; the factor 1.01 taken on it covers the higher orders (:math:`m u < 10^{-3}`)
and its own rounding. It holds while no product under- or overflows: every nonzero input and
coefficient within :math:`2^{\pm 64}` and degree at most 14. Only the elements whose bound exceeds
:data:`PLAIN_TOLERANCE` times :math:`|\hat p|` (cancellation: near the stability edge, at tiny
:math:`\alpha h`, near a repeated root), or whose inputs leave that range, are evaluated in
double-double.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "PLAIN_TOLERANCE", "DoubleDouble", "double_double_in_x", "double_double_polynomial", "polynomials", "two_product",
]

_SPLIT = 134217729.0  # 2**27 + 1

#: relative error (a rigorous bound) accepted from the plain double evaluation of :func:`polynomials`:
#: 4 units of roundoff
PLAIN_TOLERANCE = 2.0**-51
_UNIT = 2.0**-53
#: nonzero inputs and coefficients within [2**-64, 2**64] and degree <= 14 keep every product
#: within 2**+-896 (no under- or overflow)
_RANGE, _DEGREE = 2.0**64, 14


def _two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _split(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = _SPLIT * a
    hi = t - (t - a)
    return hi, a - hi


def two_product(a: object, b: object) -> tuple[np.ndarray, np.ndarray]:
    r"""``(p, e)`` with ``p = fl(a b)`` and ``p + e = a b`` exactly (``e`` may underflow below ~1e-292).

    The error ``e = a b - p`` is unique, so Dekker's product on the unscaled inputs gives the same
    pair wherever no intermediate can under- or overflow (every nonzero input within
    :math:`2^{\pm 400}`); otherwise the mantissas are multiplied and the exponents restored.
    Each input is split at its own shape (a grid's hyperparameters once per value, not per bin);
    the results have the broadcast shape."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    with np.errstate(all="ignore"):
        if _in_range(a) and _in_range(b):
            p = a * b
            a1, a2 = _split(a)
            b1, b2 = _split(b)
            return p, ((a1 * b1 - p) + a1 * b2 + a2 * b1) + a2 * b2
        ma, ea = np.frexp(a)
        mb, eb = np.frexp(b)
        p = ma * mb
        a1, a2 = _split(ma)
        b1, b2 = _split(mb)
        e = ((a1 * b1 - p) + a1 * b2 + a2 * b1) + a2 * b2
        scale = ea + eb
        prod = a * b  # the correctly rounded product (inf on overflow)
        return prod, np.where(np.isfinite(prod), np.ldexp(e, scale), 0.0)


def _in_range(a: np.ndarray) -> bool:
    """Whether every element is 0 or of magnitude within [2**-400, 2**400] (two reductions when no
    element is 0 or outside, the usual case)."""
    m = np.abs(a)
    if m.size == 0 or (m.min() >= 2.0**-400 and m.max() <= 2.0**400):
        return True
    return bool(np.all((m == 0) | ((m >= 2.0**-400) & (m <= 2.0**400))))


def _fast_two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``a + b`` exactly as ``(s, e)`` when ``|a| >= |b|`` (or ``a = 0``), as after a product."""
    s = a + b
    return s, b - (s - a)


def _mul(
    x: tuple[np.ndarray, np.ndarray | None], y: tuple[np.ndarray, np.ndarray | None]
) -> tuple[np.ndarray, np.ndarray]:
    """The double-double product; a low part ``None`` marks a double (its low part is 0)."""
    p, e = two_product(x[0], y[0])
    if x[1] is not None:
        e = e + x[1] * y[0]
    if y[1] is not None:
        e = e + x[0] * y[1]
    return _fast_two_sum(p, e)


def _add(x: tuple[np.ndarray, np.ndarray], y: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    s, e = _two_sum(x[0], y[0])
    return _two_sum(s, e + (x[1] + y[1]))


def polynomials(
    table: Mapping[str, Sequence[tuple[float, Sequence[int]]]],
    x: tuple[np.ndarray, np.ndarray],
    others: Sequence[np.ndarray],
) -> dict[str, np.ndarray]:
    """Each polynomial ``sum(coef * x**i * prod(y_j**e_j))`` of ``table`` (name -> ``((coef, (i, e_1, ...)), ...)``)
    at the double-double ``x`` and the doubles ``others`` (1-D arrays), with a relative error below
    :data:`PLAIN_TOLERANCE` (or that of :func:`double_double_polynomial`) plus one rounding: in double
    where the running bound certifies it, elsewhere in double-double (:func:`double_double_in_x`
    evaluates polynomials in double-double everywhere)."""
    hi, lo = x
    variables = [hi, *others]
    powers: dict[tuple[int, int], np.ndarray] = {}

    def power(j: int, e: int) -> np.ndarray:  # by e - 1 multiplications, as counted
        if (j, e) not in powers:
            powers[(j, e)] = variables[j] if e == 1 else power(j, e - 1) * variables[j]
        return powers[(j, e)]

    with np.errstate(all="ignore"):
        outside = np.zeros(hi.shape, dtype=bool)  # a nonzero input beyond 2**+-64: the bound may not hold
        for v in variables:
            a = np.abs(v)
            outside |= (a != 0) & ~((a >= 1.0 / _RANGE) & (a <= _RANGE))
        out = {}
        for name, terms in table.items():
            value, need = _plain(terms, power, hi.shape)
            need |= outside
            if need.any():
                value[need] = double_double_polynomial(terms, (hi[need], lo[need]), [y[need] for y in others])
            out[name] = value
    return out


def _plain(
    terms: Sequence[tuple[float, Sequence[int]]], power: Callable[[int, int], np.ndarray], shape: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """``(value, need)``: the polynomial in double from the rounded inputs' ``power(j, e)``, and where
    its running error bound (module docstring) is not certified below :data:`PLAIN_TOLERANCE`
    relative (inputs assumed within range; the caller checks)."""
    degree = max(sum(exps) for _, exps in terms)
    rounds = max(2 * exps[0] + sum(exps[1:]) for _, exps in terms)
    coefs = [abs(float(coef)) for coef, _ in terms if coef]
    if degree > _DEGREE or rounds * _UNIT >= 1e-3 or any(not 1.0 / _RANGE <= a <= _RANGE for a in coefs):
        return np.empty(shape), np.ones(shape, dtype=bool)
    total = np.zeros(shape)
    bound = np.zeros(shape)
    for coef, exps in terms:
        term: np.ndarray | float = float(coef)
        for j, e in enumerate(exps):
            if e:
                term = term * power(j, e)
        total = total + term
        m = 2 * exps[0] + sum(exps[1:])
        bound = bound + (m * np.abs(term) + np.abs(total) if m else np.abs(total))
    return total, ~(1.01 * _UNIT * bound <= PLAIN_TOLERANCE * np.abs(total))  # NaN or inf: not certified


def double_double_polynomial(
    terms: Sequence[tuple[float, Sequence[int]]], x: tuple[np.ndarray, np.ndarray], others: Sequence[np.ndarray]
) -> np.ndarray:
    """The polynomial ``sum(coef * x**i * prod(y_j**e_j))`` over ``terms = ((coef, (i, e_1, ...)), ...)``,
    evaluated in double-double and rounded once."""
    hi, lo = _double_double_sum(terms, x, others)
    return hi + lo


def _double_double_sum(
    terms: Sequence[tuple[float, Sequence[int]]], x: tuple[np.ndarray, np.ndarray], others: Sequence[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`double_double_polynomial` before its final rounding: the double-double ``(hi, lo)``."""
    shape = np.broadcast_shapes(np.shape(x[0]), *(np.shape(y) for y in others))
    zero = np.zeros(shape)
    total = (zero, zero)
    variables: list[tuple[np.ndarray, np.ndarray | None]] = [
        (np.broadcast_to(x[0], shape), np.broadcast_to(x[1], shape))
    ]
    variables += [(np.broadcast_to(np.asarray(y, dtype=float), shape), None) for y in others]
    powers: dict[tuple[int, int], tuple[np.ndarray, np.ndarray | None]] = {}

    def power(j: int, e: int) -> tuple[np.ndarray, np.ndarray | None]:
        if (j, e) not in powers:
            powers[(j, e)] = variables[j] if e == 1 else _mul(power(j, e - 1), variables[j])
        return powers[(j, e)]

    with np.errstate(all="ignore"):
        for coef, exps in terms:
            factors = [power(j, e) for j, e in enumerate(exps) if e]
            term = factors[0] if factors else (np.full(shape, 1.0), None)
            for f in factors[1:]:
                term = _mul(term, f)
            lo = zero if term[1] is None else term[1]
            if math.frexp(float(coef))[0] in (0.5, -0.5):  # a power of two: an exact scaling
                term = (float(coef) * term[0], float(coef) * lo)
            else:
                term = _mul((term[0], lo), (np.full(shape, float(coef)), None))
            total = _add(total, term)
    return total


def double_double_in_x(
    tables: Sequence[Mapping[str, Sequence[tuple[float, Sequence[int]]]]],
    choice: np.ndarray | int,
    x: tuple[np.ndarray, np.ndarray],
    others: Sequence[Sequence[np.ndarray]],
) -> dict[str, np.ndarray]:
    r"""Each polynomial of ``tables`` in double-double, rounded once, written as
    :math:`p(x, y) = \sum_i x^i q_i(y)`.

    ``tables[v]`` maps every name to the terms of variant ``v`` (as for :func:`polynomials`),
    ``others[v]`` holds that variant's ``y_j`` and ``choice`` (broadcast against them; an int for
    one variant) the variant of each element. The coefficients :math:`q_i(y)` are evaluated in
    double-double at the shape of the ``y_j`` (once per hyperparameter value, not once per
    element of ``x``: a grid's x = lr h has a bin axis the y_j do not have), selected by variant,
    and combined with the double-double powers of ``x`` shared by all polynomials. Each
    :math:`q_i` carries a few units of :math:`2^{-104}` of the sum of its monomials' magnitudes,
    and so does each product :math:`x^iq_i` of :math:`\sum_k |t_k|` (the monomials of ``p``): the
    accuracy of :func:`double_double_polynomial`, with fewer operations per element.
    """
    count = len(tables)
    if any(t.keys() != tables[0].keys() for t in tables):
        raise ValueError("every variant must give the same polynomials")
    no_x = (np.zeros(()), np.zeros(()))
    powers = {1: (x[0], x[1])}

    def power(i: int) -> tuple[np.ndarray, np.ndarray]:  # by i - 1 double-double products, as before
        if i not in powers:
            powers[i] = _mul(power(i - 1), powers[1])
        return powers[i]

    def coefficient(name: str, i: int) -> tuple[np.ndarray, np.ndarray]:  # q_i(y) of the chosen variant
        parts = [_double_double_sum([(c, (0, *e[1:])) for c, e in tables[v][name] if e[0] == i], no_x, others[v])
                 for v in range(count)]
        hi, lo = parts[0]
        for v in range(1, count):
            hi, lo = np.where(choice == v, parts[v][0], hi), np.where(choice == v, parts[v][1], lo)
        return hi, lo

    shape = np.broadcast_shapes(np.shape(x[0]), np.shape(choice), *(np.shape(y) for ys in others for y in ys))
    out = {}
    with np.errstate(all="ignore"):
        for name in tables[0]:
            degrees = sorted({e[0] for t in tables for _, e in t[name]})
            total: tuple[np.ndarray, np.ndarray] | None = None
            for i in degrees:
                q = coefficient(name, i)
                term = q if i == 0 else _mul(power(i), q)
                total = term if total is None else _add(total, term)
            assert total is not None, "a polynomial has at least one term"
            # + 0.0: a zero is +0 (as a sum starting from 0 gives), never -0 (1/E = -inf)
            out[name] = np.broadcast_to(total[0] + total[1] + 0.0, shape)
    return out


class DoubleDouble:
    """An array of double-double numbers ``hi + lo`` (batched vectors and matrices): sums, matrix
    products, batch indexing and :func:`numpy.where`, each with a relative error of a few units of
    :math:`2^{-104}` per term, so a product of n x n matrices is exact to :math:`4n\\,2^{-104}` of
    :math:`|A||B|` (entrywise; tests/numerics/test_doubling_edges.py)."""

    __slots__ = ("hi", "lo")

    def __init__(self, hi: object, lo: object = None) -> None:
        self.hi = np.asarray(hi, dtype=float)
        self.lo = np.zeros_like(self.hi) if lo is None else np.asarray(lo, dtype=float)

    @staticmethod
    def _pair(x: object) -> tuple[np.ndarray, np.ndarray]:
        if isinstance(x, DoubleDouble):
            return x.hi, x.lo
        x = np.asarray(x, dtype=float)
        return x, np.zeros_like(x)

    def __add__(self, other: object) -> DoubleDouble:
        with np.errstate(all="ignore"):
            return DoubleDouble(*_add((self.hi, self.lo), self._pair(other)))

    __radd__ = __add__

    def __getitem__(self, key: Any) -> DoubleDouble:
        return DoubleDouble(self.hi[key], self.lo[key])

    def __setitem__(self, key: Any, value: DoubleDouble) -> None:
        self.hi[key], self.lo[key] = self._pair(value)

    def __matmul__(self, other: DoubleDouble) -> DoubleDouble:
        """Batched matrix product ``(..., n, k) @ (..., k, m)``."""
        b = self._pair(other)
        with np.errstate(all="ignore"):
            # every product a_ik b_kj at once, on the axis k (..., n, k, m); then summed in order of k
            left = self.hi[..., :, :, None], self.lo[..., :, :, None]
            hi, lo = _mul(left, (b[0][..., None, :, :], b[1][..., None, :, :]))
            total = hi[..., 0, :], lo[..., 0, :]
            for k in range(1, hi.shape[-2]):
                total = _add(total, (hi[..., k, :], lo[..., k, :]))
        return DoubleDouble(*total)

    @property
    def mT(self) -> DoubleDouble:
        """The transpose of the last two axes."""
        return DoubleDouble(np.swapaxes(self.hi, -1, -2), np.swapaxes(self.lo, -1, -2))

    def where(self, mask: np.ndarray, other: DoubleDouble) -> DoubleDouble:
        """``self`` where ``mask``, else ``other`` (:func:`numpy.where` on both parts)."""
        o = self._pair(other)
        return DoubleDouble(np.where(mask, self.hi, o[0]), np.where(mask, self.lo, o[1]))

    def rounded(self) -> np.ndarray:
        """The nearest double to ``hi + lo``."""
        return self.hi + self.lo
