"""The mixed double / double-double polynomials of numerics/_twofold.py against 60-digit mpmath.

:func:`polynomials` evaluates in double where a running error bound certifies a relative error
below ``PLAIN_TOLERANCE`` and in double-double elsewhere, so every value must be within
``(PLAIN_TOLERANCE + u) |p|`` (certified double, then nothing else) or within ``u |p|`` plus the
double-double floor ``2**-100 * sum |terms|`` (a few units of 2**-104 per monomial, rounded once).
Inputs cover cancellation (x near the roots of each polynomial), tiny and huge x, and values
beyond the certified range 2**+-64 (above the double-double underflow floor ~1e-292).
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from nqm.numerics._generated import FORMS
from nqm.numerics._twofold import PLAIN_TOLERANCE, double_double_in_x, polynomials, two_product

U = 2.0**-53
TABLES = [(name, v) for name, form in FORMS.items() if form[5] for v in range(len(next(iter(form[5].values()))))]
SPECS = sorted(name for name, form in FORMS.items() if form[5])


def _reference(terms, x: mp.mpf, ys: list[mp.mpf]) -> tuple[mp.mpf, mp.mpf]:
    monomials = [mp.mpf(c) * x ** e[0] * mp.fprod(y ** k for y, k in zip(ys, e[1:])) for c, e in terms]
    return mp.fsum(monomials), mp.fsum(abs(m) for m in monomials)


def _check(name: str, variant: int, x: tuple[np.ndarray, np.ndarray], ys: list[np.ndarray]) -> None:
    table = {key: variants[variant] for key, variants in FORMS[name][5].items() if variant < len(variants)}
    got = polynomials(table, x, ys)
    with mp.workdps(60):
        for key, terms in table.items():
            for i in range(x[0].size):
                ref, size = _reference(terms, mp.mpf(x[0][i]) + mp.mpf(x[1][i]), [mp.mpf(y[i]) for y in ys])
                err = abs(mp.mpf(got[key][i]) - ref)
                plain_ok = err <= (PLAIN_TOLERANCE + U) * abs(ref)
                double_double_ok = err <= U * abs(ref) + 2.0**-100 * size
                assert plain_ok or double_double_ok, (name, variant, key, x[0][i], [y[i] for y in ys], float(err), float(ref))


@settings(max_examples=25, deadline=None)
@given(
    table=st.sampled_from(TABLES),
    log_x=st.lists(st.floats(-25.0, 3.0), min_size=8, max_size=8),
    factor=st.floats(0.5, 2.0),
    # 0 or above 1e-20: monomials (degree <= 12) stay above the double-double underflow floor ~1e-292
    ys=st.lists(st.one_of(st.just(0.0), st.floats(1e-20, 0.5)), min_size=24, max_size=24),
)
def test_polynomials_within_certified_or_double_double_accuracy(table, log_x, factor, ys) -> None:
    name, variant = table
    nvar = len(next(iter(FORMS[name][5].values()))[variant][0][1]) - 1
    x = two_product(10.0 ** np.array(log_x), factor)
    columns = [np.array(ys[8 * j : 8 * j + 8]) for j in range(nvar)]
    _check(name, variant, x, columns)


def test_polynomials_near_the_stability_edge_and_beyond_the_certified_range() -> None:
    """Momentum's E = 2 + 2 beta - x near its root x = 2(1 + beta) (cancellation), and inputs beyond 2**+-64."""
    beta = np.array([0.0, 0.3, 0.3, 0.3, 1e-25, 0.49, 0.0, 0.2])
    x_hi = np.array([2.0 * (1 - 1e-12), 2.6 * (1 - 1e-15), 2.6, 1e-30, 1e-21, 2.98, 1e25, 2.0])
    x = two_product(x_hi, np.array([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0 - 2.0**-52]))
    _check("momentum", 0, x, [beta])


def _check_in_x(name: str, x: tuple[np.ndarray, np.ndarray], ys: list[np.ndarray], choice: np.ndarray) -> None:
    """:func:`double_double_in_x` on a grid (x: rows x bins; the y_j and the variant: one per row)
    within one rounding plus the double-double floor ``2**-100 * sum |terms|`` of every element."""
    variants = FORMS[name][5]
    count = len(next(iter(variants.values())))
    tables = [{key: terms[v] for key, terms in variants.items()} for v in range(count)]
    got = double_double_in_x(tables, choice, x, [ys] * count)
    with mp.workdps(60):
        for key in variants:
            for i, j in np.ndindex(x[0].shape):
                v = int(np.broadcast_to(choice, (x[0].shape[0], 1))[i, 0])
                ref, size = _reference(tables[v][key], mp.mpf(x[0][i, j]) + mp.mpf(x[1][i, j]),
                                       [mp.mpf(y[i, 0]) for y in ys])
                err = abs(mp.mpf(got[key][i, j]) - ref)
                assert err <= U * abs(ref) + 2.0**-100 * size, (name, v, key, x[0][i, j], float(err), float(ref))


@settings(max_examples=20, deadline=None)
@given(
    name=st.sampled_from(SPECS),
    log_h=st.lists(st.floats(-12.0, 1.0), min_size=3, max_size=3),
    log_lr=st.lists(st.floats(-12.0, 1.0), min_size=4, max_size=4),
    ys=st.lists(st.one_of(st.just(0.0), st.floats(1e-20, 1.0, exclude_max=True)), min_size=12, max_size=12),
    choice=st.lists(st.integers(0, 15), min_size=4, max_size=4),
)
def test_double_double_in_x_within_double_double_accuracy(name, log_h, log_lr, ys, choice) -> None:
    """Every element of a 4 x 3 grid, each row with its own y_j and variant (as in a model build)."""
    count = len(next(iter(FORMS[name][5].values())))
    nvar = len(next(iter(FORMS[name][5].values()))[0][0][1]) - 1
    x = two_product(10.0 ** np.array(log_h), 10.0 ** np.array(log_lr)[:, None])
    columns = [np.array(ys[4 * j : 4 * j + 4])[:, None] for j in range(nvar)]
    _check_in_x(name, x, columns, np.array(choice)[:, None] % count)


def test_double_double_in_x_near_the_stability_edge() -> None:
    """Momentum's E = 2 + 2 beta - x within a few ulps of its root, tiny and huge x, per-row variants."""
    beta = np.array([[0.0], [0.3], [0.49], [1e-25]])
    x_hi = np.array([[2.0 * (1 - 1e-12), 2.0, 1e-30], [2.6 * (1 - 1e-15), 2.6, 1e25],
                     [2.98, 2.98 * (1 + 2.0**-52), 1e-21], [2.0, 2.0 * (1 - 2.0**-53), 1e-200]])
    x = two_product(x_hi, 1.0 - 2.0**-52)
    _check_in_x("momentum", x, [beta], np.array([[0], [1], [0], [1]]))
