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
* positive real pair: :math:`\lambda_{1,2} = \lambda_1 e^{-\varphi\mp\varphi}`,
  :math:`\varphi = \operatorname{atanh}(\delta/m)`,
  :math:`c_t = \tfrac12\lambda_1^t(1+e^{-2t\varphi})`,
  :math:`s_t = \lambda_1^t\, t\,\mathrm{exprel}(-2t\varphi)\,\varphi/\delta`;
* a non-positive eigenvalue: direct signed powers (the roots are well separated), the
  positive one as :math:`\exp(t\,\mathrm{log1p}(\mu_1))` (it can be within
  :math:`10^{-12}` of 1, e.g. momentum with :math:`\beta = 0`);
* :math:`m<0`: :math:`A^t = (-1)^t(-A)^t` reduces to :math:`m>0`; then
  :math:`c_t - 1` is :math:`c'_t - 1` for even t and :math:`-(2 + (c'_t - 1))` for odd t,
  never formed by cancellation (an eigenvalue near -1).

Eigenvalues close to 1 are carried as :math:`\mu = \lambda - 1` from the stable quadratic
formula, so :math:`\lambda^t = \exp(t\,\mathrm{log1p}(\mu))` keeps full relative accuracy for
:math:`\alpha h` down to :math:`10^{-12}` and t up to :math:`10^{9}` and beyond. The
quantity :math:`c_t - 1` is returned separately (``em``), computed with ``expm1``, because
the noise part of the risk needs :math:`1 - c_t^2` without cancellation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ChebyshevPowers"]


def _atanh_ratio(u: np.ndarray) -> np.ndarray:
    r""":math:`\operatorname{atanh}(u)/u`, equal to 1 at u = 0 (series below 1e-4)."""
    small = np.abs(u) < 1e-4
    safe = np.where(small, 0.5, u)
    return np.where(small, 1.0 + u * u / 3.0, np.arctanh(safe) / safe)


def _signed_power(lam: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``lam**t`` for real ``lam`` (any sign) and integer-valued float ``t`` (0**0 = 1)."""
    mag = np.abs(lam)
    with np.errstate(divide="ignore"):
        val = np.where(mag > 0, np.exp(t * np.log(np.where(mag > 0, mag, 1.0))), (t == 0).astype(float))
    odd = np.mod(t, 2.0) == 1.0
    return np.where((lam < 0) & odd, -val, val)


@dataclass
class ChebyshevPowers:
    r"""Per-element data for :math:`A^t = c_t I + s_t K`; arrays share one broadcast shape.

    Attributes set at construction (all arrays): ``flip`` (m < 0), ``complex_`` (Δ < 0),
    ``positive`` (a positive real pair), ``stable`` (spectral radius < 1), eigen data
    ``mu1, mu2`` (real case, λ = 1 + μ), ``delta, omega, log_r, theta, phi, L1, L2``.
    """

    sigma: np.ndarray
    det_D: np.ndarray
    det_A_minus_1: np.ndarray
    n: int

    def __post_init__(self) -> None:
        with np.errstate(all="ignore"):
            sigma, det_D, det_A_m1 = np.broadcast_arrays(
                *(np.asarray(v, dtype=float) for v in (self.sigma, self.det_D, self.det_A_minus_1))
            )
            self.sigma, self.det_D, self.det_A_minus_1 = sigma, det_D, det_A_m1
            Delta = sigma * sigma - det_D if self.n == 2 else np.zeros_like(sigma)
            m = 1.0 + sigma
            self.flip = m < 0
            self.m_abs = np.abs(m)
            self.complex_ = Delta < 0
            self.delta = np.sqrt(np.where(self.complex_, 0.0, Delta))
            self.omega = np.sqrt(np.where(self.complex_, -Delta, 0.0))
            # roots of mu^2 - 2 sigma mu + det_D (mu = lambda - 1), stable quadratic formula
            if self.n == 1:  # the one eigenvalue is 1 + sigma (det_D = sigma^2 may underflow)
                self.mu1, self.mu2 = sigma, sigma
            else:
                q = sigma + np.where(sigma > 0, 1.0, -1.0) * self.delta
                other = np.where(q != 0, det_D / np.where(q != 0, q, 1.0), 0.0)
                self.mu1 = np.maximum(q, other)
                self.mu2 = np.minimum(q, other)
            # eigenvalue magnitudes in the flipped frame (lambda' = -lambda when m < 0)
            lam1 = np.where(self.flip, self.m_abs + self.delta, 1.0 + self.mu1)
            lam2 = np.where(self.flip, self.m_abs - self.delta, 1.0 + self.mu2)
            self.lam1, self.lam2 = lam1, lam2
            self.positive = ~self.complex_ & (lam2 > 0)
            self.L1 = np.where(self.flip, np.log(np.where(lam1 > 0, lam1, 1.0)), np.log1p(np.maximum(self.mu1, -1.0 + 1e-300)))
            self.L2 = np.where(self.flip, np.log(np.where(lam2 > 0, lam2, 1.0)), np.log1p(np.maximum(self.mu2, -1.0 + 1e-300)))
            self.phi = np.where(self.positive, np.arctanh(np.where(self.positive, self.delta / self.m_abs, 0.0)), 0.0)
            self.log_r = 0.5 * np.log1p(self.det_A_minus_1)
            self.theta = np.arctan2(self.omega, self.m_abs)
            self.stable = np.where(
                self.complex_,
                self.det_A_minus_1 < 0,
                np.where(self.flip, self.m_abs + self.delta < 1.0, (self.mu1 < 0) & (self.mu2 > -2.0)),
            )

    @property
    def shape(self) -> tuple[int, ...]:
        return self.sigma.shape

    def spectral_radius_log(self) -> np.ndarray:
        """:math:`\\log\\max|\\lambda|` (accurate near 1)."""
        return np.where(self.complex_, self.log_r, np.where(self.positive, self.L1, np.log(np.maximum(np.abs(self.lam1), np.abs(self.lam2)))))

    def powers(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(c_t, s_t, c_t - 1)`` for integer-valued ``t`` broadcast against the elements."""
        t = np.asarray(t, dtype=float)
        shape = np.broadcast_shapes(self.shape, t.shape)
        tb = np.broadcast_to(t, shape)
        c = np.empty(shape)
        s = np.empty(shape)
        em = np.empty(shape)

        def sel(arr: np.ndarray, mask: np.ndarray) -> np.ndarray:
            return np.broadcast_to(arr, shape)[mask]

        with np.errstate(all="ignore"):
            cx = np.broadcast_to(self.complex_, shape)
            pos = np.broadcast_to(self.positive, shape)
            mixed = ~cx & ~pos
            if cx.any():
                tt = tb[cx]
                ang = tt * sel(self.theta, cx)
                lr = tt * sel(self.log_r, cx)
                R = np.exp(lr)
                cos = np.cos(ang)
                c[cx] = R * cos
                s[cx] = R * np.sin(ang) / sel(self.omega, cx)
                em[cx] = np.expm1(lr) * cos - 2.0 * np.sin(0.5 * ang) ** 2
            if pos.any():
                from scipy.special import exprel  # on first use: a fast import nqm.numerics

                tt = tb[pos]
                L1 = sel(self.L1, pos)
                phi = sel(self.phi, pos)
                y = 2.0 * tt * phi
                E1 = np.exp(tt * L1)
                c[pos] = 0.5 * E1 * (1.0 + np.exp(-y))
                ratio = _atanh_ratio(sel(self.delta, pos) / sel(self.m_abs, pos)) / sel(self.m_abs, pos)
                s[pos] = E1 * tt * exprel(-y) * ratio
                em[pos] = 0.5 * (np.expm1(tt * L1) + np.expm1(tt * sel(self.L2, pos)))
            if mixed.any():
                tt = tb[mixed]
                la = sel(self.lam1, mixed)
                lb = sel(self.lam2, mixed)
                # a positive eigenvalue near 1 needs its accurate log (log1p of mu1)
                Pa = np.where(la > 0, np.exp(tt * sel(self.L1, mixed)), _signed_power(la, tt))
                Pb = _signed_power(lb, tt)
                d = sel(self.delta, mixed)
                c[mixed] = 0.5 * (Pa + Pb)
                s[mixed] = np.where(d > 0, (Pa - Pb) / np.where(d > 0, 2.0 * d, 1.0), (tt == 1).astype(float))
                Ea = np.where(la > 0, np.expm1(tt * sel(self.L1, mixed)), Pa - 1.0)
                em[mixed] = 0.5 * (Ea + (Pb - 1.0))
            flip = np.broadcast_to(self.flip, shape)
            if flip.any():
                odd = np.mod(tb[flip], 2.0) == 1.0
                c[flip] = np.where(odd, -c[flip], c[flip])
                s[flip] = np.where(odd, s[flip], -s[flip])
                # c - 1 without cancellation: c' - 1 for even t, -(2 + (c' - 1)) for odd t
                em[flip] = np.where(odd, -2.0 - em[flip], em[flip])
        return c, s, em
