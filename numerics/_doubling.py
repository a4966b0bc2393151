r"""Exact powers of any n x n transition by doubling (no eigenvalues, no divisions).

For :math:`A = I + D` the pair :math:`(A^t, S_t)`, :math:`S_t = \sum_{k<t}A^k bb^\top A^{k\top}`,
composes as

.. math::

    A^{a+p} = A^aA^p,\qquad S_{a+p} = S_a + A^a S_p A^{a\top},

so both follow from the binary digits of t in :math:`O(\log t)` small products. Powers are
carried as :math:`A^p = I + E_p` with :math:`E_{2p} = 2E_p + E_p^2`, which keeps relative
accuracy when :math:`A` is within :math:`10^{-12}` of the identity; :math:`S_t` is a sum of
positive semi-definite terms and never cancels. Repeated eigenvalues need no special
care. This is the engine for specs with three or more states, and an independent check
of the Chebyshev closed forms for the others.
"""

from __future__ import annotations

import numpy as np

__all__ = ["doubling_moments"]


def _mm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("...ij,...jk->...ik", a, b)


def doubling_moments(
    D: np.ndarray, b: np.ndarray, init: np.ndarray, out: np.ndarray, t: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    r"""``(out A^t init, out S_t out^T)`` elementwise.

    ``D`` has shape ``E + (n, n)``, ``b``/``init``/``out`` shape ``E + (n,)``; ``t``
    (non-negative integers, as floats or ints) broadcasts against ``E``. Returns two arrays of
    the broadcast shape.
    """
    t = np.asarray(t)
    n = D.shape[-1]
    shape = np.broadcast_shapes(D.shape[:-2], t.shape)
    ti = np.broadcast_to(t, shape).astype(np.int64)
    Ep = np.broadcast_to(D, shape + (n, n)).copy()
    bb = b[..., :, None] * b[..., None, :]
    Sp = np.broadcast_to(bb, shape + (n, n)).copy()
    Ea = np.zeros(shape + (n, n))
    Sa = np.zeros(shape + (n, n))
    eye = np.eye(n)
    remaining = ti.copy()
    while np.any(remaining):
        bit = (remaining & 1).astype(bool)
        if bit.any():
            Aa = eye + Ea[bit]
            Sa[bit] = Sa[bit] + _mm(_mm(Aa, Sp[bit]), np.swapaxes(Aa, -1, -2))
            Ea[bit] = Ea[bit] + Ep[bit] + _mm(Ea[bit], Ep[bit])
        remaining = remaining >> 1
        if not np.any(remaining):
            break
        Ap = eye + Ep
        Sp = Sp + _mm(_mm(Ap, Sp), np.swapaxes(Ap, -1, -2))
        Ep = 2.0 * Ep + _mm(Ep, Ep)
    init_b = np.broadcast_to(init, shape + (n,))
    out_b = np.broadcast_to(out, shape + (n,))
    mean = np.einsum("...i,...i->...", out_b, init_b) + np.einsum("...i,...ij,...j->...", out_b, Ea, init_b)
    noise = np.einsum("...i,...ij,...j->...", out_b, Sa, out_b)
    return mean, noise


def spectral_radius(D: np.ndarray) -> np.ndarray:
    """max |eigenvalue| of :math:`I + D` (batched)."""
    n = D.shape[-1]
    return np.max(np.abs(np.linalg.eigvals(np.eye(n) + D)), axis=-1)
