r"""Stable powers of a 2x2 (or 1x1) transition in Chebyshev form.

With :math:`A = I + D`, :math:`\sigma = \tfrac12\operatorname{tr}D`, :math:`K = D - \sigma I`
and :math:`K^2 = \Delta I`, :math:`\Delta = \sigma^2 - \det D` (Cayley–Hamilton),

.. math::

    A^t = c_t\,I + s_t\,K,\qquad c_t = \tfrac12(\lambda_1^t+\lambda_2^t),\qquad
    s_t = \frac{\lambda_1^t-\lambda_2^t}{\lambda_1-\lambda_2},

with :math:`\lambda_{1,2} = m\pm\delta`, :math:`m = 1+\sigma`, :math:`\delta = \sqrt\Delta`.
Both are even functions of :math:`\delta`, i.e. smooth functions of :math:`\Delta`, so the
evaluation below stays accurate through the repeated root :math:`\Delta = 0` (critical
damping :math:`\beta = (1-\sqrt{\alpha h})^2`, or :math:`\gamma = 1-\alpha h` for EMA),
where the paper's closed forms are 0/0:

* complex pair (:math:`\Delta<0`, :math:`\omega = \sqrt{-\Delta}`):
  :math:`c_t = r^t\cos t\vartheta`, :math:`s_t = r^t\sin(t\vartheta)/\omega` with
  :math:`r^2 = \det A` and :math:`\vartheta = \operatorname{atan2}(\omega, m)` — the
  Chebyshev :math:`U` form of the bracket of Theorem 1;
* a real pair of one sign within a factor 2 (``close``): :math:`|\lambda_{1,2}| = \lambda e^{-\varphi\mp\varphi}`,
  :math:`\varphi = \operatorname{atanh}(\delta/|m|)`,
  :math:`c_t = \tfrac12\lambda^t(1+e^{-2t\varphi})`,
  :math:`s_t = \lambda^t\, t\,\mathrm{exprel}(-2t\varphi)\,\varphi/\delta` (for m < 0 in the frame
  :math:`-A`: :math:`A^t = (-1)^t(-A)^t`);
* any other real pair (opposite signs, or a factor 2 apart): each power directly,
  :math:`\lambda_i^t = \pm\exp(t\log|\lambda_i|)`.

Each real eigenvalue is carried in the writing that is accurate for it (:class:`ChebyshevPowers`):
:math:`\mu = \lambda - 1` near +1 (from :math:`\sigma`, :math:`\det D`), :math:`\nu = -\lambda - 1` near
-1 (from :math:`\operatorname{tr}(2I+D)` and :math:`E = \det(2I+D)`, exact from the inputs), and
:math:`\lambda` itself elsewhere, so :math:`\lambda^t = \pm\exp(t\,\mathrm{log1p}(\cdot))` keeps full
relative accuracy for :math:`\alpha h` down to :math:`10^{-16}`, up to the stability edge and on it
(:math:`|\lambda| = 1`), for t up to :math:`10^{9}` and beyond. :math:`c_t - 1` and :math:`c_t + 1`
are returned separately (``em``, ``ep``), neither formed by cancellation, because the noise part of
the risk needs :math:`1 - c_t^2 = -(c_t - 1)(c_t + 1)`. :meth:`ChebyshevPowers.gram` sums
:math:`(c_k, s_k)^\top(c_k, s_k)` over :math:`k < t` by doubling, for the noise part where the closed
form (stationary minus tail) would cancel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["ChebyshevPowers"]


def _atanh_ratio(u: np.ndarray) -> np.ndarray:
    r""":math:`\operatorname{atanh}(u)/u`, equal to 1 at u = 0 (series below 1e-4)."""
    small = np.abs(u) < 1e-4
    safe = np.where(small, 0.5, u)
    return np.where(small, 1.0 + u * u / 3.0, np.arctanh(safe) / safe)


def _roots(half_trace: np.ndarray, det: np.ndarray, delta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Larger and smaller root of ``y^2 - 2 half_trace y + det`` (real; ``delta`` = half their
    distance), by the stable quadratic formula: the larger-magnitude root first, the other as
    ``det`` over it. Where ``|det| <= half_trace^2 / 2`` the half distance is recomputed as
    ``|half_trace| sqrt(1 - det / half_trace^2)``, free of the cancellation in ``delta^2`` (e.g. a
    zero root: the other is then exactly ``2 half_trace``)."""
    ht2 = half_trace * half_trace
    apart = (np.abs(det) <= 0.5 * ht2) & (ht2 > 0)
    local = np.where(apart, np.abs(half_trace) * np.sqrt(1.0 - det / np.where(apart, ht2, 1.0)), delta)
    q = half_trace + np.where(half_trace > 0, 1.0, -1.0) * local
    other = np.where(q != 0, det / np.where(q != 0, q, 1.0), 0.0)
    return np.maximum(q, other), np.minimum(q, other)


@dataclass
class ChebyshevPowers:
    r"""Per-element data for :math:`A^t = c_t I + s_t K`; arrays share one broadcast shape.

    ``edge`` is :math:`E = \det(2I + D) = (1+\lambda_1)(1+\lambda_2)`, ``disc``
    :math:`\Delta = \sigma^2 - \det D`, ``trace2`` :math:`\operatorname{tr}(2I + D)`, ``traceA`` and
    ``detA`` those of A, exact from the inputs where the forms allow (:mod:`._forms`); ``None``
    computes them from ``sigma``, ``det_D`` and ``det_A_minus_1``.

    Each real eigenvalue :math:`\lambda_1\ge\lambda_2` is carried in the one of three writings that
    is accurate for it: :math:`\mu = \lambda - 1` (roots of :math:`\mu^2 - 2\sigma\mu + \det D`) near
    +1, :math:`\nu = -\lambda - 1` (roots of :math:`\nu^2 + \operatorname{tr}(2I+D)\,\nu + E`) near -1,
    and :math:`\lambda` itself (roots of :math:`\lambda^2 - 2m\lambda + \det A`) below 1/2 in magnitude;
    ``L1, L2`` are :math:`\log|\lambda_{1,2}|` from it. Attributes (arrays): ``flip`` (m < 0: the
    frame :math:`-A` for the complex and ``close`` branches), ``complex_`` (Δ < 0), ``close`` (a
    same-signed real pair within a factor 2), ``stable`` (spectral radius < 1), ``marginal``
    (spectral radius exactly 1), ``mu1, mu2`` (λ = 1 + μ), ``nu1, nu2`` (-λ = 1 + ν, ν1 for λ2), ``lam1, lam2``,
    ``delta, omega, log_r, theta, phi``.
    """

    sigma: np.ndarray
    det_D: np.ndarray
    det_A_minus_1: np.ndarray
    n: int
    edge: np.ndarray | None = None
    disc: np.ndarray | None = None
    trace2: np.ndarray | None = None
    traceA: np.ndarray | None = None
    detA: np.ndarray | None = None

    def __post_init__(self) -> None:
        with np.errstate(all="ignore"):
            sig, dD = np.asarray(self.sigma, dtype=float), np.asarray(self.det_D, dtype=float)
            if self.edge is None:
                self.edge = 4.0 + 4.0 * sig + dD if self.n == 2 else 2.0 + sig
            if self.disc is None:
                self.disc = sig * sig - dD if self.n == 2 else 0.0 * sig
            if self.trace2 is None:
                self.trace2 = 4.0 + 2.0 * sig if self.n == 2 else 2.0 + sig
            if self.traceA is None:
                self.traceA = 2.0 + 2.0 * sig if self.n == 2 else 1.0 + sig
            if self.detA is None:
                self.detA = 1.0 + np.asarray(self.det_A_minus_1, dtype=float)
            arrays = (
                self.sigma, self.det_D, self.det_A_minus_1, self.edge, self.disc, self.trace2, self.traceA, self.detA
            )
            sigma, det_D, det_A_m1, edge, Delta, trace2, traceA, detA = np.broadcast_arrays(
                *(np.asarray(v, dtype=float) for v in arrays)
            )
            self.sigma, self.det_D, self.det_A_minus_1, self.edge, self.disc, self.trace2 = (
                sigma, det_D, det_A_m1, edge, Delta, trace2
            )
            m = 0.5 * traceA if self.n == 2 else traceA
            self.flip = m < 0
            self.m_abs = np.abs(m)
            self.complex_ = Delta < 0
            self.delta = np.sqrt(np.where(self.complex_, 0.0, Delta))
            self.omega = np.sqrt(np.where(self.complex_, -Delta, 0.0))
            if self.n == 1:  # one eigenvalue 1 + sigma = -(1 - E) (det_D = sigma^2 may underflow)
                self.mu1 = self.mu2 = sigma
                nu1 = nu2 = -edge
                self.lam1 = self.lam2 = m
            else:
                self.mu1, self.mu2 = _roots(sigma, det_D, self.delta)
                nu1, nu2 = _roots(-0.5 * trace2, edge, self.delta)  # -lambda_2 = 1 + nu1, -lambda_1 = 1 + nu2
                self.lam1, self.lam2 = _roots(m, detA, self.delta)
            self.nu1, self.nu2 = nu1, nu2
            self.L1 = self._log_abs(self.lam1, self.mu1, nu2)
            self.L2 = self._log_abs(self.lam2, self.mu2, nu1)
            self.close = ~self.complex_ & (self.lam1 * self.lam2 > 0) & (
                np.minimum(np.abs(self.lam1), np.abs(self.lam2))
                >= 0.5 * np.maximum(np.abs(self.lam1), np.abs(self.lam2))
            )
            self.phi = np.where(self.close, np.arctanh(np.where(self.close, self.delta / self.m_abs, 0.0)), 0.0)
            self.log_r = 0.5 * np.log1p(det_A_m1)
            self.theta = np.arctan2(self.omega, self.m_abs)
            self.stable = np.where(self.complex_, det_A_m1 < 0, (self.mu1 < 0) & (nu1 < 0))
            self.marginal = np.where(self.complex_, det_A_m1 == 0, (self.mu1 <= 0) & (nu1 <= 0) & ~self.stable)

    @staticmethod
    def _log_abs(lam: np.ndarray, mu: np.ndarray, nu: np.ndarray) -> np.ndarray:
        """log|lambda| from the writing accurate for it: log1p(mu) near +1, log1p(nu) near -1, else direct."""
        near = np.where(lam >= 0.5, np.log1p(np.maximum(mu, -0.5)), np.log1p(np.maximum(nu, -0.5)))
        return np.where(np.abs(lam) >= 0.5, near, np.log(np.abs(lam)))

    @property
    def shape(self) -> tuple[int, ...]:
        return self.sigma.shape

    def _subset(self, flat_index: np.ndarray) -> ChebyshevPowers:
        """The elements at ``flat_index`` (of the flattened element shape) as a 1-D copy."""
        index = np.unravel_index(flat_index, self.shape)
        new = object.__new__(type(self))
        new.__dict__.update(
            {
                k: (np.broadcast_to(v, self.shape)[index] if isinstance(v, np.ndarray) else v)
                for k, v in self.__dict__.items()
            }
        )
        return new

    def spectral_radius_log(self) -> np.ndarray:
        """:math:`\\log\\max|\\lambda|` (accurate near 1)."""
        return np.where(self.complex_, self.log_r, np.maximum(self.L1, self.L2))

    def powers(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(c_t, s_t, c_t - 1)`` for integer-valued ``t`` broadcast against the elements."""
        return self.powers_and_gap(t)[:3]

    def powers_and_gap(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(c_t, s_t, c_t - 1, c_t + 1)``, the last two without cancellation (an eigenvalue near
        +1 or -1), so that :math:`1 - c_t^2 = -(c_t - 1)(c_t + 1)` keeps full relative accuracy."""
        t = np.asarray(t, dtype=float)
        shape = np.broadcast_shapes(self.shape, t.shape)
        tb = np.broadcast_to(t, shape)
        c, s, em, ep = (np.empty(shape) for _ in range(4))

        element = np.broadcast_to(np.arange(math.prod(self.shape)).reshape(self.shape), shape)

        def sel(arr: np.ndarray, at: np.ndarray) -> np.ndarray:
            """The per-element ``arr`` at the element indices ``at`` of a set of entries."""
            return np.broadcast_to(arr, self.shape).ravel()[at]

        with np.errstate(all="ignore"):
            cx = np.broadcast_to(self.complex_, shape)
            close = np.broadcast_to(self.close, shape)
            apart = ~cx & ~close
            if cx.any():  # in the frame of |m| (flipped below)
                at_cx = element[cx]
                tt = tb[cx]
                ang = tt * sel(self.theta, at_cx)
                lr = np.where(tt == 0, 0.0, tt * sel(self.log_r, at_cx))  # r = 0 (det A = 0) at t = 0
                R = np.exp(lr)
                cos = np.cos(ang)
                c[cx] = R * cos
                s[cx] = R * np.sin(ang) / sel(self.omega, at_cx)
                em[cx] = np.expm1(lr) * cos - 2.0 * np.sin(0.5 * ang) ** 2
            if close.any():  # both eigenvalues of one sign, in the frame where they are positive
                at_close = element[close]
                from scipy.special import exprel  # on first use: a fast import nqm.numerics

                tt = tb[close]
                L1, L2 = sel(np.maximum(self.L1, self.L2), at_close), sel(np.minimum(self.L1, self.L2), at_close)
                y = 2.0 * tt * sel(self.phi, at_close)
                E1 = np.exp(tt * L1)
                c[close] = 0.5 * E1 * (1.0 + np.exp(-y))
                ratio = _atanh_ratio(sel(self.delta, at_close) / sel(self.m_abs, at_close)) / sel(self.m_abs, at_close)
                s[close] = E1 * tt * exprel(-y) * ratio
                em[close] = 0.5 * (np.expm1(tt * L1) + np.expm1(tt * L2))
            ep[cx | close] = 2.0 + em[cx | close]
            flip = np.broadcast_to(self.flip, shape) & (cx | close)
            if flip.any():
                odd = np.mod(tb[flip], 2.0) == 1.0
                c[flip] = np.where(odd, -c[flip], c[flip])
                s[flip] = np.where(odd, s[flip], -s[flip])
                # c -+ 1 without cancellation: c' -+ 1 for even t; -(2 + (c' - 1)) and -(c' - 1) for odd t
                ep[flip] = np.where(odd, -em[flip], ep[flip])
                em[flip] = np.where(odd, -2.0 - em[flip], em[flip])
            if apart.any():  # real roots of opposite signs or a factor 2 apart: each power directly
                at_apart = element[apart]
                tt = tb[apart]
                odd = np.mod(tt, 2.0) == 1.0
                P, Pm, Pp = [], [], []
                for lam, L in ((self.lam1, self.L1), (self.lam2, self.L2)):
                    negative = (sel(lam, at_apart) < 0) & odd
                    Lt = np.where(tt == 0, 0.0, tt * sel(L, at_apart))  # 0**0 = 1
                    mag, less = np.exp(Lt), np.expm1(Lt)
                    P.append(np.where(negative, -mag, mag))
                    Pm.append(np.where(negative, -(mag + 1.0), less))  # lambda^t - 1
                    Pp.append(np.where(negative, -less, mag + 1.0))  # lambda^t + 1
                d = sel(self.lam1 - self.lam2, at_apart)  # = 2 delta, from the accurate roots
                c[apart] = 0.5 * (P[0] + P[1])
                s[apart] = np.where(d > 0, (P[0] - P[1]) / np.where(d > 0, d, 1.0), (tt == 1).astype(float))
                em[apart] = 0.5 * (Pm[0] + Pm[1])
                ep[apart] = 0.5 * (Pp[0] + Pp[1])
        return c, s, em, ep

    def gram(self, t: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r""":math:`\bigl(\sum_{k<t}c_k^2, \sum_{k<t}c_ks_k, \sum_{k<t}s_k^2\bigr)` at the entries ``mask``
        of the broadcast of the elements against ``t``, by binary doubling.

        :math:`(c_{k+T}, s_{k+T}) = M^T(c_k, s_k)` with
        :math:`M^T = \begin{pmatrix}c_T&\Delta s_T\\ s_T&c_T\end{pmatrix}`,
        so the Gram matrix :math:`G_t = \sum_{k<t}(c_k, s_k)^\top(c_k, s_k)` obeys
        :math:`G_{T+u} = G_T + M^TG_uM^{T\top}`: a sum of positive semidefinite terms, no subtraction
        of nearly equal stationary values (the closed form :math:`\bar S - A^t\bar SA^{t\top}` loses
        :math:`\bar S/G_t` of its accuracy for t below the slowest time scale, or near the edge).
        :math:`c_T, s_T` come from :meth:`powers` at :math:`T = 2^j`, so errors do not compound
        through repeated squaring. A divergent element overflows (inf or NaN; the caller maps both to inf).
        """
        t = np.asarray(t, dtype=float)
        shape = np.broadcast_shapes(self.shape, t.shape)
        rem = np.array(np.broadcast_to(t, shape)[mask])
        # the powers c_T, s_T only of the elements that have an entry in the mask
        lead = len(shape) - len(self.shape)
        spread_axes = tuple(i for i in range(len(shape)) if i < lead or self.shape[i - lead] == 1 < shape[i])
        element_mask = np.any(mask, axis=spread_axes).reshape(self.shape) if spread_axes else mask
        used = np.flatnonzero(element_mask)
        element = np.broadcast_to(np.arange(element_mask.size).reshape(self.shape), shape)[mask]
        which = np.searchsorted(used, element)
        sub = self._subset(used)
        Dl = sub.delta**2 - sub.omega**2  # per element
        acc = np.zeros((3, rem.size))
        blk = np.zeros((3, used.size))  # G_T per element, T = 2^j
        blk[0] = 1.0
        live = np.nonzero(rem > 0)[0]  # entries with bits left
        T = 1.0
        with np.errstate(all="ignore"):
            while live.size:
                cT, sT, _ = sub.powers(np.asarray(T))
                odd = np.mod(rem[live], 2.0) == 1.0
                hit, e = live[odd], which[live[odd]]
                moved = _congruence(cT[e], sT[e], Dl[e], acc[:, hit])
                acc[:, hit] = blk[:, e] + np.stack(moved)
                blk = blk + np.stack(_congruence(cT, sT, Dl, blk))
                rem[live] = np.floor(rem[live] / 2.0)
                live = live[rem[live] > 0]
                T *= 2.0
        return acc[0], acc[1], acc[2]


def _congruence(C: np.ndarray, S: np.ndarray, Dl: np.ndarray, G) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:math:`M G M^\\top` for :math:`M = ((C, \\Delta S), (S, C))` and symmetric ``G = (g11, g12, g22)``."""
    g11, g12, g22 = G
    DS = Dl * S
    return (
        C * C * g11 + 2.0 * C * DS * g12 + DS * DS * g22,
        C * S * g11 + (C * C + DS * S) * g12 + C * DS * g22,
        S * S * g11 + 2.0 * C * S * g12 + C * C * g22,
    )
