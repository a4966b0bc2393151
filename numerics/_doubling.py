r"""Exact powers of any n x n transition by doubling (no eigenvalues, no divisions).

For :math:`A = I + D` the pair :math:`(A^t, S_t)`, :math:`S_t = \sum_{k<t}A^k bb^\top A^{k\top}`,
composes as

.. math::

    A^{a+p} = A^aA^p,\qquad S_{a+p} = S_a + A^a S_p A^{a\top},

so both follow from the binary digits of t in :math:`O(\log t)` small products; the mean path
:math:`m(t) = \mathrm{out}A^t\mathrm{init}` and the noise sum
:math:`\mathrm{out}S_t\mathrm{out}^\top = \sum_{k<t}(\mathrm{out}A^kb)^2` (Appendix C's two
terms) are read off at the end. :math:`S_t` is a sum of positive semi-definite terms and never
cancels. Repeated eigenvalues need no special care.

**Two representations of the powers.** Squaring a number near 1 doubles its relative error
each time, so :math:`A^p` for :math:`p = 2^k` is first carried as :math:`A^p = I + E_p`,
:math:`E_{2p} = E_p(E_p + 2I)` (:math:`= 2E_p + E_p^2`), :math:`E_{a+p} = E_a + E_p + E_aE_p`,
which keeps relative accuracy in :math:`E_p` when :math:`A` is within :math:`10^{-12}` of the
identity. The product form also forms :math:`\lambda^2 - 1 = (\lambda - 1)(\lambda + 1)` of an
eigenvalue near -1 without cancellation (:math:`2E + E^2` lost :math:`10^{-16}/\delta` of it,
:math:`\delta` the distance to the stability edge) wherever :math:`E + 2I` carries
:math:`\lambda + 1` in an entry of its own (triangular transitions: SGD, EMA). A transition
that mixes the near -1 mode into other entries (heavy ball near
:math:`\alpha h = 2(1+\beta)`) has :math:`\lambda + 1` only as a cancellation of O(1) terms
of :math:`\det(2I + D) = \prod_i(1 + \lambda_i)`, and float products of :math:`E + 2I` lost
:math:`10^{-16}` of it: a relative error of about :math:`10^{-16}/\delta` (:math:`2.3\times10^{-6}`
at :math:`\delta = 10^{-9}`, t = 1e9). Such elements, :math:`|\det(2I + D)|` below
:data:`NEAR_EDGE` times Hadamard's bound :math:`\prod_i\|(2I + D)_{i\cdot}\|` (an
eigenvalue or a complex pair near -1), run the same recursion in double-double
(:class:`~._twofold.DoubleDouble`, about :math:`10^{-32}` of the terms per product;
:math:`bb^\top` formed exactly), so the loss is about :math:`10^{-32}/\delta`: for
:math:`\beta` from :math:`2^{-20}` to 255/256, :math:`\delta` from :math:`10^{-2}` down to
:math:`10^{-12}` and t up to 1e9 benchmarks/scan_edges_doubling.py measures at most
:math:`9.5\times10^{-14}` relative (at :math:`\beta = 2^{-20}`, :math:`\delta = 10^{-2}`, a float
element: a weakly mixed mode stays above the threshold). This presumes exact entries of D
(those of the spec at the given floats); a rounded entry (such as
:math:`\mathrm{fl}(\alpha\beta)`) is an error of the input that moves :math:`\lambda + 1`
by about :math:`10^{-16}` whatever the method. Above the threshold the float path still
loses about :math:`t\,\kappa^2\,10^{-16}` on a slow complex pair (:math:`\kappa` the
condition of its eigenvectors): the scan measures at most :math:`6.1\times10^{-11}`
(:math:`\beta = 255/256`, :math:`\delta = 0.2`, t = 1e5). But
:math:`I + E_p` has an absolute error of about :math:`10^{-16}`, a floor that swallows a
decayed mean path (:math:`m(t)^2` below :math:`10^{-32}`, the whole start part of a
noise-free direction, c = 0). So the last :data:`DIRECT_LEVELS` levels of each t (bit length
K) are carried directly, :math:`A^{2p} = A^pA^p`, :math:`A^{a+p} = A^aA^p`, switching at
level :math:`k_0 = \max(0, K - L)`. Per eigenvalue :math:`\lambda` this costs a relative
error of at most about :math:`2^L` ulps on :math:`\lambda^t` (each squaring doubles the
error carried into it), plus the :math:`10^{-16}` absolute floor of :math:`\lambda^{p_0}`
amplified by :math:`2^L/|\lambda^{p_0}|`, where :math:`p_0 = 2^{k_0} \ge t/2^L` gives
:math:`|\lambda^{p_0}| \ge |\lambda^t|^{2^{-L+1}}`. With L = 8 a mode that decays to
:math:`10^{-154}` (the square root of the smallest normal double) still has
:math:`|\lambda^{p_0}| \ge 0.06`: per mode, a relative error of a few :math:`10^{-12}` at
most down to risks of :math:`10^{-300}` (the scan measures at most :math:`7.3\times10^{-12}` on
the risk). Where modes of opposite sign or complex modes cancel in
:math:`m(t)` (an oscillating mean path near a zero), the error is that much relative to
:math:`|\mathrm{out}|\,|A^t|\,|\mathrm{init}|` instead. Exact zeros of :math:`A` (a state the
output does not read, such as QHM's buffer at :math:`\nu = 0`) stay exact zeros in both
representations, so a slow mode the output does not see cannot leak into the mean path. Below the
smallest double the result underflows to 0. benchmarks/scan_edges_doubling.py measures the error
against a 50-digit oracle.

This is the engine for specs with three or more states, and an independent check of the
Chebyshev closed forms for the others.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from ._twofold import DoubleDouble, two_product

__all__ = ["doubling_moments", "doubling_powers_of_two", "doubling_state", "spectral_radius", "DIRECT_LEVELS"]

#: squaring levels (the last ones of each t) carried directly rather than as I + E
DIRECT_LEVELS = 8
#: :math:`|\det(2I + D)|` below this fraction of Hadamard's bound on it: carried in double-double
NEAR_EDGE = 0.1


def _bit_length(t: np.ndarray) -> np.ndarray:
    """Bit length of non-negative int64 values (0 for 0), exactly."""
    length = np.zeros(t.shape, dtype=np.int64)
    rest = t.copy()
    while np.any(rest):
        nonzero = rest > 0
        length += nonzero
        rest >>= 1
    return length


def _near_minus_one(D: np.ndarray) -> np.ndarray:
    r"""Where :math:`A = I + D` has an eigenvalue within about :data:`NEAR_EDGE` of -1.

    :math:`\det(2I + D) = \prod_i(1 + \lambda_i)` is compared with Hadamard's bound
    :math:`\prod_i\|(2I + D)_{i\cdot}\|` on it (no eigenvalues needed)."""
    M = D + 2.0 * np.eye(D.shape[-1])
    with np.errstate(all="ignore"):
        return np.abs(np.linalg.det(M)) < NEAR_EDGE * np.prod(np.linalg.norm(M, axis=-1), axis=-1)


class _Arithmetic(NamedTuple):
    """How :func:`_powers` lifts, multiplies, transposes and selects its arrays."""

    lift: Callable
    mm: Callable
    mT: Callable
    where: Callable


_FLOAT = _Arithmetic(np.array, np.matmul, lambda a: np.swapaxes(a, -1, -2), np.where)
_DOUBLE_DOUBLE = _Arithmetic(DoubleDouble, DoubleDouble.__matmul__, lambda a: a.mT, lambda m, a, c: a.where(m, c))


def _powers(D: np.ndarray, bb: np.ndarray | DoubleDouble, ti: np.ndarray, ar: _Arithmetic) -> tuple:
    r"""``(A^t, S_t)`` by doubling from ``P = D`` and ``Sp = bb^\top`` (both lifted by ``ar``)."""
    shape, n = ti.shape, D.shape[-1]
    P, Sp = ar.lift(D), bb
    mm, mT = ar.mm, ar.mT
    switch = np.maximum(_bit_length(ti) - DIRECT_LEVELS, 0)
    eye = np.eye(n)
    zeros = np.zeros(shape + (n, n))
    # P: the power A^p (p = 2^level), Acc: A^a for the bits of t consumed so far; both as
    # I + E (near_identity) until the element's switch level, then as the matrices themselves
    Acc, Sa = ar.lift(zeros), ar.lift(zeros.copy())
    near_identity = np.ones(shape, dtype=bool)
    remaining = ti.copy()
    level = 0
    while np.any(remaining):
        now = near_identity & (switch == level)
        if now.any():
            P[now] = P[now] + eye
            Acc[now] = Acc[now] + eye
            near_identity &= ~now
        shift = near_identity[..., None, None] * eye  # I where still carried as I + E
        bit = (remaining & 1).astype(bool)
        if bit.any():
            Aa = Acc[bit] + shift[bit]
            Sa[bit] = Sa[bit] + mm(mm(Aa, Sp[bit]), mT(Aa))
            AccP = mm(Acc[bit], P[bit])
            Acc[bit] = ar.where(near_identity[bit][..., None, None], Acc[bit] + P[bit] + AccP, AccP)
        remaining = remaining >> 1
        if not np.any(remaining):
            break
        Ap = P + shift
        Sp = Sp + mm(mm(Ap, Sp), mT(Ap))
        P = mm(P, P + 2.0 * shift)  # E(E + 2I) = 2E + E^2 near the identity, P P after the switch
        level += 1
    return Acc + near_identity[..., None, None] * eye, Sa


def doubling_moments(
    D: np.ndarray, b: np.ndarray, init: np.ndarray, out: np.ndarray, t: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    r"""``(out A^t init, out S_t out^T)`` elementwise, :math:`A = I + D`.

    ``D`` has shape ``E + (n, n)``, ``b``/``init``/``out`` shape ``E + (n,)``; ``t``
    (non-negative integers, as floats or ints) broadcasts against ``E``. Returns two arrays of
    the broadcast shape. Elements with an eigenvalue near -1 (:func:`_near_minus_one`) are
    carried in double-double.
    """
    mean, noise, _ = _doubling(D, b, init, out, t)
    return mean, noise


def doubling_state(
    D: np.ndarray, b: np.ndarray, init: np.ndarray, out: np.ndarray, t: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    r"""``(out A^t, out S_t out^T)``: the row that reads the mean path from step t on
    (:math:`m(t + j) = \mathrm{out}A^t\,A^j\mathrm{init}`, the impulse response likewise with b) and the
    noise sum up to t, as :func:`doubling_moments` computes them (the row rounded to double where
    the doubling ran in double-double). The row has shape ``E + (n,)``."""
    _, noise, row = _doubling(D, b, init, out, t)
    return row, noise


def _doubling(
    D: np.ndarray, b: np.ndarray, init: np.ndarray, out: np.ndarray, t: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(out A^t init, out S_t out^T, out A^t)``: :func:`doubling_moments` and the row of :func:`doubling_state`."""
    t = np.asarray(t)
    n = D.shape[-1]
    shape = np.broadcast_shapes(D.shape[:-2], t.shape)
    ti = np.broadcast_to(t, shape).astype(np.int64)
    Db, bb, init_b, out_b = _broadcast(shape, D, b, init, out)
    edge = _near_minus_one(Db)
    fine = ~edge
    mean, noise, row = np.empty(shape), np.empty(shape), np.empty(shape + (n,))
    if fine.any():
        bf = bb[fine]
        At, Sa = _powers(Db[fine], bf[..., :, None] * bf[..., None, :], ti[fine], _FLOAT)
        mean[fine], noise[fine], row[fine] = _read_off(out_b[fine], init_b[fine], At, Sa)
    if edge.any():
        be = bb[edge]
        outer = DoubleDouble(*two_product(be[..., :, None], be[..., None, :]))
        At, Sa = _powers(Db[edge], outer, ti[edge], _DOUBLE_DOUBLE)
        out_dd, col = DoubleDouble(out_b[edge][..., None, :]), DoubleDouble(init_b[edge][..., :, None])
        row_dd = out_dd @ At
        mean[edge] = (row_dd @ col).rounded()[..., 0, 0]
        noise[edge] = (out_dd @ Sa @ out_dd.mT).rounded()[..., 0, 0]
        row[edge] = row_dd.rounded()[..., 0, :]
    return mean, noise, row


def _broadcast(
    shape: tuple[int, ...], D: np.ndarray, b: np.ndarray, init: np.ndarray, out: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``D`` and the vectors broadcast to the element shape ``shape`` (read-only views)."""
    vector = shape + (D.shape[-1],)
    return (np.broadcast_to(D, vector + vector[-1:]), np.broadcast_to(b, vector), np.broadcast_to(init, vector),
            np.broadcast_to(out, vector))


def _read_off(
    out: np.ndarray, init: np.ndarray, At: np.ndarray, St: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(out A^t init, out S_t out^T, out A^t)`` of float powers."""
    row = np.matmul(out[..., None, :], At)
    mean = np.matmul(row, init[..., :, None])[..., 0, 0]
    noise = np.matmul(np.matmul(out[..., None, :], St), out[..., :, None])[..., 0, 0]
    return mean, noise, row[..., 0, :]


def doubling_powers_of_two(
    D: np.ndarray, b: np.ndarray, init: np.ndarray, out: np.ndarray, top: int, bottom: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    r""":func:`doubling_moments` at :math:`t = 2^K` for every :math:`K` from ``bottom`` to ``top``, in one pass.

    Returns two arrays of shape ``(top - bottom + 1,) + E``. At :math:`t = 2^K` (bit length
    K + 1) the doubling of :func:`_powers` carries :math:`A^p = I + E_p` up to level
    :math:`k_0 = \max(0, K + 1 - L)` (:data:`DIRECT_LEVELS` = L), then squares
    :math:`A^{2^{k_0}}` directly K - k_0 times, and :math:`S` alongside. So one chain of the
    :math:`(E_{2^j}, S_{2^j})` serves every K: for :math:`K \ge L` its state at
    :math:`j = K - L + 1`, squared L - 1 times directly (all these K at once, stacked); for smaller
    K the direct chain from level 0. These are the operations of :func:`doubling_moments` at those
    t (the same values; tests/numerics/test_doubling_powers.py), at the cost of about one evaluation at
    :math:`2^{\mathrm{top}}` rather than one per K. Elements with an eigenvalue near -1 go through
    :func:`doubling_moments` (double-double).
    """
    n = D.shape[-1]
    shape = np.broadcast_shapes(D.shape[:-2], b.shape[:-1], init.shape[:-1], out.shape[:-1])
    Db, bb, init_b, out_b = _broadcast(shape, D, b, init, out)
    count = top - bottom + 1
    mean, noise = np.empty((count,) + shape), np.empty((count,) + shape)
    edge = _near_minus_one(Db)
    fine = ~edge
    eye = np.eye(n)
    if fine.any():
        E, bf = Db[fine], bb[fine]
        S = bf[..., :, None] * bf[..., None, :]
        direct = DIRECT_LEVELS - 1  # direct squarings after the switch, for t = 2^K with K >= L - 1
        from_zero = bottom <= direct  # K <= L - 1: the direct chain from level 0 (start j = 0)
        starts_P, starts_S = ([E + eye], [S]) if from_zero else ([], [])
        for j in range(1, top - direct + 1):
            Ap = E + eye
            S = S + np.matmul(np.matmul(Ap, S), np.swapaxes(Ap, -1, -2))
            E = np.matmul(E, E + 2.0 * eye)
            if j + direct >= bottom:
                starts_P.append(E + eye)
                starts_S.append(S)
        P, Sd = np.stack(starts_P), np.stack(starts_S)
        At, St = ([P[:1]], [Sd[:1]]) if bottom == 0 else ([], [])
        for step in range(1, min(top, direct) + 1):
            Sd = Sd + np.matmul(np.matmul(P, Sd), np.swapaxes(P, -1, -2))
            P = np.matmul(P, P)
            if from_zero and step >= bottom:
                At.append(P[:1])
                St.append(Sd[:1])
        At.append(P[1:] if from_zero else P)  # K = j + L - 1 for the starts j >= 1
        St.append(Sd[1:] if from_zero else Sd)
        mean[:, fine], noise[:, fine], _ = _read_off(out_b[fine], init_b[fine], np.concatenate(At), np.concatenate(St))
    if edge.any():
        t = np.ldexp(1.0, np.arange(bottom, top + 1))[:, None]
        mean[:, edge], noise[:, edge] = doubling_moments(Db[edge], bb[edge], init_b[edge], out_b[edge], t)
    return mean, noise


def spectral_radius(D: np.ndarray) -> np.ndarray:
    """max |eigenvalue| of :math:`I + D` (batched)."""
    n = D.shape[-1]
    return np.max(np.abs(np.linalg.eigvals(np.eye(n) + D)), axis=-1)
