r"""Certified lower bounds on the risk of a spec with any number of states (its spectral expansion).

Exact doubling (:mod:`._doubling`) evaluates the risk of an n-state spec at one step; a search
for the first step below a target (:mod:`._steps`) also needs lower bounds on the risk over
whole intervals of steps, or it must evaluate every step before the hit. For one or two states
the Chebyshev modal expansion provides them (:mod:`._steps`); this module provides them for
any n from the eigen-decomposition :math:`A = I + D = V\Lambda V^{-1}`.

With :math:`a_i = (\mathrm{out}\,V)_i(V^{-1}\mathrm{init})_i` and
:math:`g_i = (\mathrm{out}\,V)_i(V^{-1}b)_i`, the mean path is :math:`m(t) = \sum_ia_i\lambda_i^t`
and the impulse response :math:`g(k) = \mathrm{out}A^kb = \sum_ig_i\lambda_i^k`, so the risk of
a direction (Appendix C's two terms, :mod:`._model`) is a sum of :math:`n(n+1)/2` modes
:math:`\mu_{ij} = \lambda_i\lambda_j` (:math:`i \le j`):

.. math::

    \ell(t) = W_s\,m(t)^2 + W_n\sum_{k<t}g(k)^2
            = \ell_\infty + \sum_{i\le j}\mathrm{Re}\bigl(C_{ij}\,\mu_{ij}^t\bigr),\qquad
    C_{ij} = m_{ij}\Bigl(W_s\,a_ia_j - W_n\frac{g_ig_j}{1-\mu_{ij}}\Bigr),\qquad
    \ell_\infty = W_n\sum_{i\le j}m_{ij}\frac{g_ig_j}{1-\mu_{ij}},

with :math:`m_{ii} = 1`, :math:`m_{ij} = 2` otherwise, :math:`W_s = w\tfrac12hv` and
:math:`W_n = w\tfrac12h\,c/B` (the sum is real: complex modes come in conjugate pairs). Writing
:math:`C\mu^t = |C|\,|\mu|^te^{i(t\arg\mu + \arg C)}`, each mode is at least
:math:`|C|\,|\mu|^t\min\cos` over the angles of the interval, so on :math:`[a, b]`
(:math:`|\mu| \le 1`) it is bounded below by :math:`|C||\mu|^b\min\cos` where the minimum
cosine is non-negative and by :math:`|C||\mu|^a\min\cos` elsewhere. This is exact for a
real positive mode and tightens as the interval shrinks. The B-independent parts
(:math:`\log\mu`, :math:`a_ia_j`, :math:`g_ig_j/(1-\mu)`) are computed once per model and
shared by every batch size.

**Rounding.** :math:`1 - \mu_{ij} = -(d_i + d_j + d_id_j)` and
:math:`\log|\lambda| = \tfrac12\,\mathrm{log1p}(2\,\mathrm{Re}\,d + |d|^2)` are formed from
the eigenvalues :math:`d` of :math:`D` (no cancellation in :math:`1 - \lambda`). An
eigenvalue computed by LAPACK is off by about :math:`\epsilon\kappa\|D\|` (:math:`\kappa` the
(Frobenius) condition number of :math:`V`), which moves :math:`t\log\mu` by about
:math:`2t\epsilon\kappa\|D\|`; coefficients are off by about :math:`\epsilon\kappa^2` of
their size. The bound is therefore lowered by
:math:`(\rho_0 + \rho_1 b)\sum|C||\mu|^a + \rho_0|\ell_\infty|` with
:math:`\rho_0 = \max(10^{-11}, 64\epsilon\kappa^2)` and :math:`\rho_1 = 16\epsilon\kappa^2\|D\|_F`
(a generous multiple of those first-order errors), and never below 0. Bins whose expansion is
ill-conditioned (:math:`\kappa > 10^4`, near a repeated eigenvalue; summands above
:math:`10^6` times the bin's scale; a mode on or outside the unit circle; or an expansion that
misses the exact value at t = 0) are not bounded here: the search bounds them by their noise
part instead (:mod:`._steps`). Like the Chebyshev bound, these bounds only *exclude* steps;
every hit is decided by an exact evaluation. tests/numerics/test_spectral.py checks them
against exhaustive scans of the exact risk and against a 50-digit oracle.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SpectralBound", "log_modulus", "min_cos", "spectral_units"]

_TWO_PI = 2.0 * np.pi
#: largest condition number of the eigenvector matrix for which a bin is bounded by its expansion
MAX_CONDITION = 1e4
#: largest ratio of the summands' magnitude to the bin's scale (this and the modal bound's, in _steps)
MAX_AMPLIFICATION = 1e6
#: smallest relative rounding margin (this and the modal bound's, in _steps)
MARGIN = 1e-11
_EPS = np.finfo(float).eps


def log_modulus(d: np.ndarray) -> np.ndarray:
    """:math:`\\log|1 + d|` without cancellation near 1; ``-1e300`` at 0 (so that :math:`0^0 = 1`)."""
    re, im = d.real, d.imag
    return np.maximum(0.5 * np.log1p(2.0 * re + re * re + im * im), -1e300)


def min_cos(xa: np.ndarray, xb: np.ndarray) -> np.ndarray:
    r""":math:`\min\cos x` for :math:`x` between :math:`x_a` and :math:`x_b` (either may be the larger: an
    angle :math:`t\vartheta - \phi` decreases in t when :math:`\vartheta < 0`), with a margin for
    rounding in the angles."""
    margin = 1e-12 * (1.0 + np.abs(xa) + np.abs(xb))
    xa, xb = np.minimum(xa, xb) - margin, np.maximum(xa, xb) + margin
    trough = np.pi + _TWO_PI * np.ceil((xa - np.pi) / _TWO_PI)  # first odd multiple of pi >= xa
    ends = np.minimum(np.cos(xa), np.cos(xb))
    return np.where((xb - xa >= _TWO_PI) | (trough <= xb), -1.0, ends)


def spectral_units(D: np.ndarray, b: np.ndarray, init: np.ndarray, out: np.ndarray) -> dict[str, np.ndarray]:
    r"""The batch-size-free parts of the expansion, per element (``D``: ``E + (n, n)``, vectors ``E + (n,)``).

    Returns arrays of shape ``(modes,) + E`` (modes :math:`i \le j`, first: sums over them are
    elementwise adds): ``lre``/``lim`` the real and
    imaginary parts of :math:`\log\mu_{ij}` (0 where not ``ok``), ``turning`` where the latter is
    not 0, ``S`` :math:`m_{ij}a_ia_j`, ``G``
    :math:`m_{ij}g_ig_j/(1-\mu_{ij})` (complex); of shape ``E``: ``ginf`` :math:`\sum G` (real),
    ``s0`` :math:`(\mathrm{out}\,\mathrm{init})^2`, ``rel0``/``rel1`` the margin rates and ``ok``.
    """
    n = D.shape[-1]
    with np.errstate(all="ignore"):
        finite = np.all(np.isfinite(D), axis=(-2, -1)) & np.all(
            np.isfinite(b) & np.isfinite(init) & np.isfinite(out), axis=-1
        )
        Dz = np.where(finite[..., None, None], D, 0.0)
        d, V = np.linalg.eig(Dz)
        ok = finite & (np.abs(np.linalg.det(V)) > 0.0)  # exactly parallel eigenvectors: a defective D
        V = np.where(ok[..., None, None], V, np.eye(n))
        Vi = np.linalg.inv(V)
        # Frobenius condition number: at least the 2-norm one (a conservative test and margin), no SVD
        kappa = np.sqrt(np.sum(np.abs(V) ** 2, axis=(-2, -1)) * np.sum(np.abs(Vi) ** 2, axis=(-2, -1)))
        ok &= kappa <= MAX_CONDITION
        ov = np.einsum("...i,...ij->...j", out, V)
        a = ov * np.einsum("...ij,...j->...i", Vi, init)
        g = ov * np.einsum("...ij,...j->...i", Vi, b)
        re, im = d.real, d.imag
        log_abs = log_modulus(d)
        angle = np.arctan2(im, 1.0 + re)
        ok &= np.all(log_abs < 0.0, axis=-1)  # every mode strictly inside the unit circle
        i, j = np.triu_indices(n)
        mult = np.where(i == j, 1.0, 2.0)
        S = mult * a[..., i] * a[..., j]
        G = mult * g[..., i] * g[..., j] / -(d[..., i] + d[..., j] + d[..., i] * d[..., j])
        s0 = np.einsum("...i,...i->...", out, init) ** 2
        # the expansion at t = 0 must give (out init)^2 and (out b)^2 back
        q0 = np.einsum("...i,...i->...", out, b) ** 2
        k2 = np.where(ok, kappa, 1.0) ** 2
        rel0 = np.maximum(MARGIN, 64.0 * _EPS * k2)
        G0 = mult * g[..., i] * g[..., j]
        for total, exact in ((S, s0), (G0, q0)):
            ok &= np.abs(np.sum(total, axis=-1) - exact) <= rel0 * (np.sum(np.abs(total), axis=-1) + exact)
        ok &= np.all(np.isfinite(G), axis=-1)
    first = lambda v: np.ascontiguousarray(np.moveaxis(np.where(ok[..., None], v, 0.0), -1, 0))  # noqa: E731
    lim = first(angle[..., i] + angle[..., j])
    return {
        # 0 where not ok (its coefficients are 0 too): no overflow or NaN in |C| |mu|^t there
        "lre": first(np.maximum(log_abs[..., i] + log_abs[..., j], -1e300)),
        "lim": lim,
        "turning": lim != 0.0,  # modes whose mu**t turns (complex or negative); the others keep their sign
        "S": first(S),
        "G": first(G),
        "ginf": np.where(ok, np.sum(G, axis=-1).real, 0.0),
        "s0": np.where(ok, s0, 0.0),
        "rel0": rel0,
        "rel1": 16.0 * _EPS * k2 * np.sqrt(np.sum(Dz * Dz, axis=(-2, -1))),
        "ok": ok,
    }


class SpectralBound:
    """The expansion at one batch size on ``(rows, bins)`` elements (mode data ``(modes, rows, bins)``).

    ``units`` from :func:`spectral_units` on ``(all rows, bins)`` elements, of which ``rows`` (all
    if None) are taken; ``ws`` and ``wn`` the per-element weights :math:`W_s` and :math:`W_n` of
    those rows (0 for unused bins). ``ok``: the bins bounded here.
    """

    def __init__(
        self, units: dict[str, np.ndarray], ws: np.ndarray, wn: np.ndarray, rows: np.ndarray | None = None
    ) -> None:
        def take(name: str) -> np.ndarray:
            v = units[name]
            return v if rows is None else v[:, rows] if v.ndim == 3 else v[rows]

        S, G, s0 = take("S"), take("G"), take("s0")
        with np.errstate(all="ignore"):
            C = ws * S - wn * G
            cabs = np.abs(C)
            rho = wn * take("ginf")
            mag = np.sum(cabs, axis=0)
            ok = take("ok") & np.isfinite(mag) & np.isfinite(rho)
            ok &= mag <= MAX_AMPLIFICATION * (ws * s0 + np.abs(rho))
        self.ok = ok
        self.rel0, self.rel1 = take("rel0"), take("rel1")
        self.lre, self.lim, self.turning = take("lre"), take("lim"), take("turning")
        self.cabs = np.where(ok, cabs, 0.0)
        self.carg = np.where(ok, np.angle(C), 0.0)
        self.rho = np.where(ok, rho, 0.0)
        self.cos0 = min_cos(self.carg, self.carg)

    def _bins(self, rows: np.ndarray, low: np.ndarray, mag: np.ndarray, t_margin: np.ndarray) -> np.ndarray:
        """Sum over the bounded bins of ``max(rho + low - margin, 0)``."""
        rho, rel0 = self.rho[rows], self.rel0[rows]
        margin = (rel0 + self.rel1[rows] * t_margin) * mag + rel0 * np.abs(rho)
        return np.sum(np.where(self.ok[rows], np.maximum(rho + low - margin, 0.0), 0.0), axis=-1)

    def interval(self, rows: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        r"""Lower bound on the summed risk over :math:`t \in [a, b]` per row (``a``, ``b`` of shape ``(rows,)``)."""
        cabs, lre, lim, carg = self.cabs[:, rows], self.lre[:, rows], self.lim[:, rows], self.carg[:, rows]
        a3, b3 = a[:, None], b[:, None]
        with np.errstate(all="ignore"):
            ma, mb = cabs * np.exp(a3 * lre), cabs * np.exp(b3 * lre)
            mc = self.cos0[:, rows]
            turning = self.turning[:, rows]
            if turning.any():
                shape = mc.shape
                lt, ct = lim[turning], carg[turning]
                left, right = np.broadcast_to(a3, shape)[turning], np.broadcast_to(b3, shape)[turning]
                mc[turning] = min_cos(left * lt + ct, right * lt + ct)
            low = np.sum(np.where(mc >= 0.0, mb, ma) * mc, axis=0)
            return self._bins(rows, low, np.sum(ma, axis=0), b3)

    def point(self, rows: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Lower bound on the summed risk at the single step ``t[i]`` of each row."""
        cabs, lre, lim, carg = self.cabs[:, rows], self.lre[:, rows], self.lim[:, rows], self.carg[:, rows]
        t2 = t[:, None]
        with np.errstate(all="ignore"):
            m = cabs * np.exp(t2 * lre)
            x = t2 * lim + carg
            low = np.sum(m * (np.cos(x) - 1e-12 * (1.0 + np.abs(x))), axis=0)
            return self._bins(rows, low, np.sum(m, axis=0), t2)
