r"""Error-free products and double-double polynomials (for the stability-edge factor).

A double-double number is an unevaluated sum ``hi + lo`` with ``|lo| <= ulp(hi)/2``, about 106
bits. :func:`two_product` returns :math:`a b` exactly as such a pair (Dekker's splitting, applied to
the mantissas so that no intermediate overflows); :func:`polynomial` evaluates
:math:`\sum_k a_k x^{i_k}\prod_j y_j^{e_{jk}}` for a double-double ``x`` and double ``y_j`` with a
relative error of a few units of :math:`2^{-104}` in each monomial, so the sum keeps full double
accuracy unless it cancels by more than about 15 digits (Ogita, Rump and Oishi 2005).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["DoubleDouble", "polynomial", "two_product"]

_SPLIT = 134217729.0  # 2**27 + 1


def _two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _split(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = _SPLIT * a
    hi = t - (t - a)
    return hi, a - hi


def two_product(a: object, b: object) -> tuple[np.ndarray, np.ndarray]:
    """``(p, e)`` with ``p = fl(a b)`` and ``p + e = a b`` exactly (``e`` may underflow below ~1e-292)."""
    a, b = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    with np.errstate(all="ignore"):
        ma, ea = np.frexp(a)
        mb, eb = np.frexp(b)
        p = ma * mb
        a1, a2 = _split(ma)
        b1, b2 = _split(mb)
        e = ((a1 * b1 - p) + a1 * b2 + a2 * b1) + a2 * b2
        scale = ea + eb
        prod = a * b  # the correctly rounded product (inf on overflow)
        return prod, np.where(np.isfinite(prod), np.ldexp(e, scale), 0.0)


def _mul(x: tuple[np.ndarray, np.ndarray], y: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    p, e = two_product(x[0], y[0])
    e = e + (x[0] * y[1] + x[1] * y[0])
    return _two_sum(p, e)


def _add(x: tuple[np.ndarray, np.ndarray], y: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    s, e = _two_sum(x[0], y[0])
    return _two_sum(s, e + (x[1] + y[1]))


def polynomial(
    terms: Sequence[tuple[float, Sequence[int]]], x: tuple[np.ndarray, np.ndarray], others: Sequence[np.ndarray]
) -> np.ndarray:
    """The polynomial ``sum(coef * x**i * prod(y_j**e_j))`` over ``terms = ((coef, (i, e_1, ...)), ...)``,
    evaluated in double-double and rounded once."""
    shape = np.broadcast_shapes(np.shape(x[0]), *(np.shape(y) for y in others))
    zero = np.zeros(shape)
    total = (zero, zero)
    variables = [tuple(np.broadcast_to(v, shape) for v in x)] + [(np.broadcast_to(np.asarray(y, dtype=float), shape), zero) for y in others]
    powers: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    def power(j: int, e: int) -> tuple[np.ndarray, np.ndarray]:
        if (j, e) not in powers:
            powers[(j, e)] = variables[j] if e == 1 else _mul(power(j, e - 1), variables[j])
        return powers[(j, e)]

    with np.errstate(all="ignore"):
        for coef, exps in terms:
            term = (np.full(shape, float(coef)), zero)
            for j, e in enumerate(exps):
                if e:
                    term = _mul(term, power(j, e))
            total = _add(total, term)
    return total[0] + total[1]


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
        a, b = (self.hi, self.lo), self._pair(other)
        with np.errstate(all="ignore"):
            terms = [_mul((a[0][..., :, k, None], a[1][..., :, k, None]), (b[0][..., None, k, :], b[1][..., None, k, :]))
                     for k in range(a[0].shape[-1])]
            total = terms[0]
            for term in terms[1:]:
                total = _add(total, term)
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
