r"""Certified lower bounds on the mean-path part of the risk where eigenvalues repeat (a confluent expansion).

The spectral expansion (:mod:`._spectral`) needs a well-conditioned eigenvector matrix. A spec whose
transition has a repeated eigenvalue with a Jordan block (e.g. an EMA of an EMA with one coefficient,
or eigenvalues a hair apart) has none, and its bins were bounded by their noise part alone: a search
then visits every step before its answer. This module bounds their *mean-path part*
:math:`W_s\,m(t)^2`, :math:`m(t) = \mathrm{out}\,A^t\mathrm{init}` (:math:`A = I + D`), which the
search adds to the exact noise part at the last evaluated step (non-decreasing in t; :mod:`._steps`).

**Expansion.** The eigenvalues :math:`\lambda_j = 1 + d_j` of an element split into one *cluster* C
(the closest pair and every eigenvalue linked to it by gaps of at most :data:`REACH` times the
closest gap) and *isolated* ones. An isolated eigenvalue has the spectral projector
:math:`P_i = \prod_{j\ne i}(A - \lambda_jI)/(\lambda_i - \lambda_j)` (the Lagrange basis
polynomial at A; it vanishes to full order on the cluster, whatever its Jordan structure), and
:math:`x_c = (I - \sum_iP_i)\,\mathrm{init}` lies in the cluster's invariant subspace. Newton's
interpolation of :math:`x^t` at the points :math:`\bar\lambda` (m times; :math:`\bar\lambda` the
cluster's mean, real) and then the m cluster eigenvalues gives, exactly up to the Cayley-Hamilton
residual :math:`(A - \bar\lambda)^m\prod_{j\in C}(A - \lambda_j)x_c`,

.. math::

    m(t) = \sum_{i\notin C}\mathrm{Re}\bigl(a_i\lambda_i^t\bigr)
         + \sum_{k<m}\alpha_k\binom tk\bar\lambda^{t-k} + r(t),\qquad
    |r(t)| \le \sum_{k=m}^{2m-1}|\beta_k|\binom tk\rho^{t-k},

with :math:`a_i = \mathrm{out}\,P_i\,\mathrm{init}` (conjugate pairs give twice the real part),
:math:`\alpha_k = \mathrm{out}(A - \bar\lambda)^kx_c`,
:math:`\beta_{m+j} = \mathrm{out}\prod_{l<j}(A - \lambda_{c_l})(A - \bar\lambda)^mx_c` and
:math:`\rho = \max(\bar\lambda, \max_{j\in C}|\lambda_j|)`: the divided differences of
:math:`x^t` are :math:`\binom tk\xi^{t-k}` averaged over the points' convex hull (Hermite-Genocchi),
whose largest modulus is at a vertex. For an exact Jordan block the :math:`\beta_k` are rounding;
for eigenvalues a distance :math:`\delta` apart they are :math:`O(\delta^m)`.

**Bound.** Over :math:`t \in [a, b]` each term is enclosed: :math:`\mathrm{Re}(a\lambda^t)` between
:math:`|a||\lambda|^t` times the least and greatest cosine of its angle over the interval
(:func:`~._spectral.min_cos`); :math:`\binom tk\bar\lambda^{t-k}` is log-concave in integer t, so it
is smallest at an end and largest at its peak :math:`\lfloor k/(1 - \bar\lambda)\rfloor` (or its
neighbour) clipped to the interval. Summed, with the remainder and a rounding margin, they enclose
:math:`m(t)`; :math:`m(t)^2` is at least the squared distance of that enclosure from 0. The margin is
:math:`(\rho_0 + \rho_1b)` times the sum of the terms' magnitudes, with :math:`\rho_0 =
\max(10^{-11}, 64\epsilon\kappa^2)`, :math:`\rho_1 = 16\epsilon\kappa^2\|D\|_F` and
:math:`\kappa = 1 + \sum_i\prod_{j\ne i}\|D - d_jI\|_F/|d_i - d_j|` (a bound on the projectors'
norms), as in :mod:`._spectral`. An element is bounded here only if its cluster's mean is real and
positive, :math:`\rho < 1` and every isolated :math:`|\lambda_i| < 1`, the terms are at most
:data:`~._spectral.MAX_AMPLIFICATION` times the largest :math:`|m(t)|`, :math:`t \le 2n + 1`, and the
expansion reproduces the exact :math:`m(t)` (literal recursion) at those steps within its remainder
and margin. Like every bound of the search, these only exclude steps; hits are decided by exact
evaluations. tests/numerics/test_confluent.py checks them against a 40-digit recursion.
"""

from __future__ import annotations

import math

import numpy as np

from ._spectral import MARGIN, MAX_AMPLIFICATION, min_cos

__all__ = ["SignalBound", "confluent_units"]

#: eigenvalues linked to the closest pair by gaps of at most this many times its gap join its cluster
REACH = 64.0
#: eigenvalues whose projector's Frobenius norm exceeds this join the cluster too
CONDITION = 100.0
_EPS = np.finfo(float).eps
_LOG_FACTORIAL = np.array([math.lgamma(k + 1.0) for k in range(64)])


def _falling(t: np.ndarray, k: np.ndarray, log_rate: np.ndarray) -> np.ndarray:
    r""":math:`\binom tk\lambda^{t-k}` (``log_rate`` :math:`= \log\lambda`) at integer :math:`t \ge 0`; 0 for t < k."""
    log_c = -_LOG_FACTORIAL[k.astype(np.int64)] + (t - k) * log_rate
    with np.errstate(all="ignore"):
        for j in range(int(k.max(initial=0))):
            log_c = log_c + np.where(j < k, np.log(np.maximum(t - j, 1.0)), 0.0)
        return np.where(t >= k, np.exp(log_c), 0.0)


def _falling_range(
    a: np.ndarray, b: np.ndarray, k: np.ndarray, log_rate: np.ndarray, point: bool
) -> tuple[np.ndarray, np.ndarray]:
    r"""Least and greatest :math:`\binom tk\lambda^{t-k}` over the integers of :math:`[a, b]`
    (:math:`0 < \lambda < 1`; log-concave, so least at an end, greatest at the peak or next to it).
    ``point``: a = b."""
    left = _falling(a, k, log_rate)
    if point:
        return left, left
    right = _falling(b, k, log_rate)
    with np.errstate(all="ignore"):
        peak = np.floor(k / -np.expm1(log_rate))
    top = np.maximum(np.maximum(left, right), np.maximum(_falling(np.clip(peak, a, b), k, log_rate),
                                                         _falling(np.clip(peak - 1.0, a, b), k, log_rate)))
    return np.minimum(left, right), top


def _log_modulus(d: np.ndarray) -> np.ndarray:
    """:math:`\\log|1 + d|` without cancellation near 1; ``-1e300`` at 0 (so that :math:`0^0 = 1`)."""
    return np.maximum(0.5 * np.log1p(2.0 * d.real + np.abs(d) ** 2), -1e300)


def _members(d: np.ndarray) -> np.ndarray:
    """Per element, the cluster: the closest pair of eigenvalues and those linked to it by gaps of at
    most :data:`REACH` times its gap (``d``: ``(N, n)``; returns a boolean ``(N, n)``)."""
    N, n = d.shape
    dist = np.abs(d[:, :, None] - d[:, None, :])
    dist[:, np.arange(n), np.arange(n)] = np.inf
    flat = np.argmin(dist.reshape(N, -1), axis=1)
    p, q = np.divmod(flat, n)
    reach = REACH * dist.reshape(N, -1)[np.arange(N), flat]
    member = np.zeros((N, n), dtype=bool)
    member[np.arange(N), p] = member[np.arange(N), q] = True
    near = dist <= reach[:, None, None]
    for _ in range(n):
        member |= np.any(near & member[:, None, :], axis=-1)
    return member


def confluent_units(D: np.ndarray, init: np.ndarray, out: np.ndarray, need: np.ndarray) -> dict[str, np.ndarray]:
    r"""The expansion of :math:`m(t)` on the elements marked in ``need`` (``D``: ``E + (n, n)``, vectors
    ``E + (n,)``, ``need``: ``E``; no batch size); elsewhere 0 and not ``ok``.

    Returns arrays of shape ``(n,) + E`` (terms first): ``amp``/``lmod``/``ang``/``phase`` the modulus
    of :math:`a_i`, :math:`\log|\lambda_i|`, :math:`\arg\lambda_i` and :math:`\arg a_i` of the isolated
    terms (``amp`` 0 for cluster members); ``alpha`` the :math:`\alpha_k` (0 for k >= m); ``beta``
    :math:`|\beta_{m+j}|` and ``kbeta`` its order m + j; of shape ``E``: ``lbar``/``lrho``
    :math:`\log\bar\lambda`, :math:`\log\rho`, ``rel0``/``rel1`` the margin rates and ``ok``.
    """
    n = D.shape[-1]
    shape = need.shape
    flat = np.nonzero(need.ravel())[0]

    def pick(v: np.ndarray, tail: tuple[int, ...]) -> np.ndarray:
        return np.broadcast_to(v, shape + tail).reshape((-1,) + tail)[flat]

    full = {}
    for key, value in _units(pick(D, (n, n)), pick(init, (n,)), pick(out, (n,))).items():
        lead = value.shape[:-1]
        whole = np.zeros(lead + (need.size,), dtype=value.dtype)
        whole[..., flat] = value
        full[key] = whole.reshape(lead + shape)
    return full


def _units(D: np.ndarray, init: np.ndarray, out: np.ndarray) -> dict[str, np.ndarray]:
    """:func:`confluent_units` on ``N`` elements (``D``: ``(N, n, n)``, vectors ``(N, n)``): shapes
    ``(n, N)`` and ``(N,)``."""
    N, n = init.shape
    eye = np.eye(n)
    with np.errstate(all="ignore"):
        finite = np.all(np.isfinite(D), axis=(-2, -1)) & np.all(np.isfinite(init) & np.isfinite(out), axis=-1)
        D = np.where(finite[:, None, None], D, 0.0)
        d = np.linalg.eigvals(D)
        # the spectral projector of each eigenvalue as if simple: P_i = prod_{j != i} (D - d_j) / (d_i - d_j)
        projectors, cond = [], np.empty((N, n))
        for i in range(n):
            M, denom = np.broadcast_to(eye, D.shape).astype(complex), np.ones(N, dtype=complex)
            for j in range(n):
                if j != i:
                    M = np.matmul(M, D - d[:, j, None, None] * eye)
                    denom *= d[:, i] - d[:, j]
            P = M / denom[:, None, None]
            projectors.append(P)
            cond[:, i] = np.sqrt(np.sum(np.abs(P) ** 2, axis=(-2, -1)))
        # the cluster: the closest pair, its near neighbours and every ill-conditioned eigenvalue
        member = _members(d) | ~(cond <= CONDITION)
        size = member.sum(axis=1)
        norm = np.sqrt(np.sum(D * D, axis=(-2, -1)))
        apply = lambda M, v: np.einsum("...ij,...j->...i", M, v)  # noqa: E731
        # isolated terms a_i = out P_i init
        amp, lmod, ang, phase = (np.zeros((n, N)) for _ in range(4))
        x_c = init.astype(complex)
        for i in range(n):
            isolated = ~member[:, i]
            v = np.where(isolated[:, None], apply(projectors[i], init.astype(complex)), 0.0)
            x_c -= v
            a = np.einsum("...i,...i->...", out, v)
            amp[i], phase[i] = np.abs(a), np.angle(a)
            lmod[i] = np.where(isolated, _log_modulus(d[:, i]), 0.0)
            ang[i] = np.where(isolated, np.angle(1.0 + d[:, i]), 0.0)
        kappa = 1.0 + np.sum(np.where(member, 0.0, cond), axis=1)
        centre = np.sum(np.where(member, d, 0.0), axis=1) / size
        ok = finite & (np.abs(centre.imag) <= 64.0 * _EPS * (1.0 + np.max(np.abs(d), axis=1)))
        dbar = centre.real
        E = D - dbar[:, None, None] * eye
        # alpha_k = out E^k x_c (k < m), then E^m x_c times the cluster's factors for the remainder
        x_c = x_c.real
        powers = [x_c]
        for _ in range(n):
            powers.append(apply(E, powers[-1]))
        alpha = np.array([np.where(k < size, np.einsum("...i,...i->...", out, powers[k]), 0.0) for k in range(n)])
        y = np.take_along_axis(np.stack(powers, axis=1), size[:, None, None], axis=1)[:, 0].astype(complex)
        order = np.argsort(~member, axis=1, kind="stable")  # cluster members first
        beta, kbeta = np.zeros((n, N)), np.zeros((n, N))
        for j in range(n):
            inside = j < size
            beta[j] = np.where(inside, np.abs(np.einsum("...i,...i->...", out, y)), 0.0)
            kbeta[j] = np.where(inside, size + j, 0.0)
            dj = d[np.arange(N), order[:, j]]
            y = apply(D, y) - dj[:, None] * y
        lbar = np.log1p(np.maximum(dbar, -1.0))
        lrho = np.maximum(lbar, np.max(np.where(member, _log_modulus(d), -np.inf), axis=1))
        ok &= (dbar > -1.0) & (lrho < 0.0) & np.all(member | (lmod.T < 0.0), axis=1)
        k2 = kappa * kappa
        rel0 = np.maximum(MARGIN, 64.0 * _EPS * k2)
        units = {"amp": amp, "lmod": lmod, "ang": ang, "phase": phase, "alpha": alpha, "beta": beta,
                 "kbeta": kbeta, "lbar": lbar, "lrho": lrho, "rel0": rel0, "rel1": 16.0 * _EPS * k2 * norm}
        # the expansion must reproduce the exact m(t) (literal recursion) at t <= 2n + 1
        z, exact = init.astype(float), []
        for _ in range(2 * n + 2):
            exact.append(np.einsum("...i,...i->...", out, z))
            z = z + apply(D, z)
        scale = np.max(np.abs(exact), axis=0)
        for t, value in enumerate(exact):
            lo, hi, mag = _enclose(units, np.asarray(float(t)), np.asarray(float(t)), point=True)
            ok &= (lo <= value) & (value <= hi) & (mag <= MAX_AMPLIFICATION * scale)
    clean = {k: np.where(ok, v, 0.0) for k, v in units.items()}
    clean["ok"] = ok
    return clean


def _enclose(
    units: dict[str, np.ndarray], a: np.ndarray, b: np.ndarray, point: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Enclosure ``(lo, hi)`` of :math:`m(t)` over :math:`t\\in[a, b]` (margin included) and the terms'
    magnitude, for ``a``, ``b`` broadcasting against the units' element shape (``point``: a = b)."""
    with np.errstate(all="ignore"):
        amp, lmod = units["amp"], units["lmod"]
        # isolated terms: |a| |lambda|^t cos(t arg(lambda) + arg(a))
        xa, xb = a * units["ang"] + units["phase"], b * units["ang"] + units["phase"]
        cmin, cmax = min_cos(xa, xb), -min_cos(xa + np.pi, xb + np.pi)
        ea = np.exp(a * lmod)
        eb = ea if point else np.exp(b * lmod)
        lo = np.sum(amp * cmin * np.where(cmin >= 0.0, eb, ea), axis=0)
        hi = np.sum(amp * cmax * np.where(cmax >= 0.0, ea, eb), axis=0)
        mag = np.sum(amp * ea, axis=0)
        # cluster: alpha_k binom(t, k) lambdabar^(t - k) (all k at once), and the remainder's envelope
        alpha = units["alpha"]
        order = np.arange(alpha.shape[0], dtype=float).reshape((-1,) + (1,) * (alpha.ndim - 1))
        least, most = _falling_range(a, b, order, units["lbar"], point)
        lo += np.sum(np.where(alpha >= 0.0, alpha * least, alpha * most), axis=0)
        hi += np.sum(np.where(alpha >= 0.0, alpha * most, alpha * least), axis=0)
        mag += np.sum(np.abs(alpha) * most, axis=0)
        beta = units["beta"]
        rest = np.sum(beta * _falling_range(a, b, units["kbeta"], units["lrho"], point)[1], axis=0)
        margin = (units["rel0"] + units["rel1"] * b) * (mag + rest) + rest
        return lo - margin, hi + margin, mag + rest


class SignalBound:
    r"""Lower bounds on :math:`\sum W_s\,m(t)^2` over the bins of each row.

    ``units`` from :func:`confluent_units` on ``(all rows, bins)`` elements, of which ``rows`` (all if
    None) are taken; ``ws`` the weights :math:`W_s` of those rows, 0 for bins not to be bounded here.
    """

    def __init__(self, units: dict[str, np.ndarray], ws: np.ndarray, rows: np.ndarray | None = None) -> None:
        ok = (units["ok"] if rows is None else units["ok"][rows]) & (ws > 0.0)
        #: bins bounded here
        self.ok = ok
        #: rows with a bin bounded here, and the bins (columns) any row bounds here
        self.live: np.ndarray = np.asarray(ok.any(axis=-1))
        self.cols = np.nonzero(ok.any(axis=0))[0]

        def take(v: np.ndarray) -> np.ndarray:
            v = v if rows is None else v[:, rows] if v.ndim == 3 else v[rows]
            return v[..., self.cols]

        self.units = {k: take(v) for k, v in units.items() if k != "ok"}
        self.ws = np.where(ok, ws, 0.0)[:, self.cols]

    def interval(self, rows: np.ndarray, a: np.ndarray, b: np.ndarray, point: bool = False) -> np.ndarray:
        r"""Lower bound on :math:`\sum_{\rm bins}W_s\,m(t)^2` over :math:`t \in [a, b]` per row (``point``: a = b)."""
        low = np.zeros(rows.size)
        live = np.nonzero(self.live[rows])[0]
        if live.size:
            r = rows[live]
            units = {k: v[:, r] if v.ndim == 3 else v[r] for k, v in self.units.items()}
            lo, hi, _ = _enclose(units, a[live, None], b[live, None], point)
            gap = np.maximum(np.maximum(lo, -hi), 0.0)
            low[live] = np.sum(self.ws[r] * gap * gap, axis=-1)
        return low

    def point(self, rows: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Lower bound at the single step ``t[i]`` of each row."""
        return self.interval(rows, t, t, point=True)
