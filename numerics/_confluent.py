r"""Certified lower bounds on the risk where eigenvalues repeat (a confluent expansion).

The spectral expansion (:mod:`._spectral`) needs a well-conditioned eigenvector matrix. A spec whose
transition has a repeated eigenvalue with a Jordan block (e.g. an EMA of an EMA with one coefficient,
or eigenvalues a hair apart) has none; bounded by their noise part alone, its bins made a search visit
every step before its answer. This module bounds the risk of such a bin,
:math:`W_s\,m(t)^2 + W_nN(t)` with :math:`m(t) = \mathrm{out}\,A^t\mathrm{init}` (:math:`A = I + D`)
and the noise sum :math:`N(t) = \sum_{k<t}(\mathrm{out}A^kb)^2`, through expansions of paths
:math:`\mathrm{out}A^tx`: the mean path (:math:`x = \mathrm{init}`) and, for the noise part,
:math:`N(t) = N_\infty - \sum_r\sigma_r(\mathrm{out}A^tu_r)^2` with :math:`P_\infty = \sum_r\sigma_ru_ru_r^\top`
the stationary second moment (:func:`_lyapunov`). Over :math:`[a, b]` the mean-path part is at least
:math:`W_s` times the least square over the path's enclosure, and the noise part at least
:math:`W_nN(a)` (N never decreases), with each :math:`(\mathrm{out}A^au_r)^2` at most the largest square
of its enclosure at a. Where :math:`P_\infty` cannot be certified (its error bound above
:math:`10^{-6}N_\infty`) only the mean-path part is bounded here, and the search adds the bin's exact
noise part at the last evaluated step (:mod:`._steps`).

**Expansion** (of a path :math:`\mathrm{out}A^tx`; the mean path below). The eigenvalues
:math:`\lambda_j = 1 + d_j` of an element split into one *cluster* C (the closest pair, every
eigenvalue linked to it by gaps of at most :data:`REACH` times the closest gap, and every eigenvalue
whose projector below has a Frobenius norm above :data:`NORM`, or which the errors of the cluster's
computed eigenvalues would reach: a leak of about :math:`e\,r^{m-1}/g^m` (r the cluster's radius, g the
eigenvalue's gap to it, e the eigenvalues' error, about r at a Jordan block and
:math:`\epsilon\|D\|/r` where they are distinct) above :data:`LEAK`; below it, 16 times the leak
joins the margin) and *isolated* ones. An isolated eigenvalue has the spectral projector
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
\max(10^{-11}, 64\epsilon\kappa^2)` (or the leak's share), :math:`\rho_1 = 16\epsilon\kappa^2\|D\|_F`
and :math:`\kappa = 1 + \sum_{i\notin C}\|P_i\|_F` (which bounds the projectors' norms, that of the
cluster's included), as in :mod:`._spectral`. An element is bounded here only if its cluster's mean is real and
positive, :math:`\rho < 1` and every isolated :math:`|\lambda_i| < 1`, the terms are at most
:data:`~._spectral.MAX_AMPLIFICATION` times the largest :math:`|m(t)|`, :math:`t \le 2n + 1`, and the
expansion reproduces the exact :math:`m(t)` (literal recursion) at those steps within its remainder
and margin (every path: the noise paths too for the noise part to be bounded). Like every bound of
the search, these only exclude steps; hits are decided by exact evaluations.
tests/numerics/test_confluent.py checks them against the 50-digit oracle and a 150-digit recursion.
"""

from __future__ import annotations

import numpy as np

from ._spectral import MARGIN, MAX_AMPLIFICATION, log_modulus, min_cos

__all__ = ["ConfluentBound", "confluent_units"]

#: eigenvalues linked to the closest pair by gaps of at most this many times its gap join its cluster
REACH = 64.0
#: eigenvalues whose projector's Frobenius norm, or its estimated leak from the cluster's eigenvalue
#: errors, exceeds these join the cluster too
NORM, LEAK = 100.0, 1e-9
_EPS = np.finfo(float).eps


def _falling(t: np.ndarray, k: np.ndarray, log_rate: np.ndarray) -> np.ndarray:
    r""":math:`\binom tk\lambda^{t-k}` (``log_rate`` :math:`= \log\lambda`) at integer :math:`t \ge 0`; 0 for t < k."""
    order = k.astype(np.int64)
    log_factorial = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1.0, order.max(initial=0) + 1.0)))])
    log_c = (t - k) * log_rate - log_factorial[order]
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


def _members(d: np.ndarray) -> np.ndarray:
    """Per element, the cluster: the closest pair of eigenvalues and those linked to it by gaps of at
    most :data:`REACH` times its gap (``d``: ``(N, n)``; returns a boolean ``(N, n)``)."""
    N, n = d.shape
    dist = np.abs(d[:, :, None] - d[:, None, :])
    dist[:, np.arange(n), np.arange(n)] = np.inf
    flat = np.argmin(dist.reshape(N, n * n), axis=1)
    p, q = np.divmod(flat, n)
    reach = REACH * dist.reshape(N, n * n)[np.arange(N), flat]
    member = np.zeros((N, n), dtype=bool)
    member[np.arange(N), p] = member[np.arange(N), q] = True
    near = dist <= reach[:, None, None]
    for _ in range(n):
        member |= np.any(near & member[:, None, :], axis=-1)
    return member


def confluent_units(
    D: np.ndarray, init: np.ndarray, b: np.ndarray, out: np.ndarray, need: np.ndarray, noise: bool = True
) -> dict[str, np.ndarray]:
    r"""The expansions of :math:`m(t)` and (``noise``) of the noise tail on the elements marked in ``need``
    (``D``: ``E + (n, n)``, vectors ``E + (n,)``, ``need``: ``E``; no batch size); elsewhere 0 and not ``ok``.

    Paths (axis after the terms): :math:`m(t)` first, then :math:`\mathrm{out}A^tu_r` for the
    eigenvectors :math:`u_r` of :math:`P_\infty` (:func:`_lyapunov`). Returns arrays of shape
    ``(n, paths) + E`` (terms first): ``amp``/``phase`` the modulus and argument of :math:`a_i` (0 for
    cluster members), ``alpha`` the :math:`\alpha_k` (0 for k >= m), ``beta`` :math:`|\beta_{m+j}|`; of
    shape ``(n, 1) + E``: ``lmod``/``ang`` :math:`\log|\lambda_i|`, :math:`\arg\lambda_i`, ``kbeta``
    the order m + j; of shape ``(n,) + E``: ``sigma`` the eigenvalues of :math:`P_\infty`; of shape
    ``E``: ``lbar``/``lrho`` :math:`\log\bar\lambda`, :math:`\log\rho`, ``rel0``/``rel1`` the margin
    rates, ``ninf`` :math:`N_\infty` less its error bound, ``ok`` (the mean path is bounded) and
    ``noise_ok`` (the noise part too).
    """
    n = D.shape[-1]
    shape = need.shape
    flat = np.nonzero(need.ravel())[0]

    def pick(v: np.ndarray, tail: tuple[int, ...]) -> np.ndarray:
        return np.broadcast_to(v, shape + tail).reshape((-1,) + tail)[flat]

    Dn, bn, outn = pick(D, (n, n)), pick(b, (n,)), pick(out, (n,))
    if noise:
        sigma, U, ninf, noise_ok = _lyapunov(Dn, bn, outn)
    else:
        sigma, U = np.zeros((flat.size, n)), np.zeros((flat.size, n, 0))
        ninf, noise_ok = np.zeros(flat.size), np.zeros(flat.size, dtype=bool)
    units = _units(Dn, np.concatenate([pick(init, (n,))[:, :, None], U], axis=2), outn)
    units["ok"] = units["ok"][0]
    units["noise_ok"] = np.all(units.pop("paths_ok")[1:], axis=0) & units["ok"] & noise_ok
    units["sigma"], units["ninf"] = np.where(units["noise_ok"], sigma.T, 0.0), np.where(units["noise_ok"], ninf, 0.0)
    full = {}
    for key, value in units.items():
        lead = value.shape[:-1]
        whole = np.zeros(lead + (need.size,), dtype=value.dtype)
        whole[..., flat] = value
        full[key] = whole.reshape(lead + shape)
    return full


def _lyapunov(D: np.ndarray, b: np.ndarray, out: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    r""":math:`P_\infty = \sum_kA^kbb^\top A^{k\top}` (so that the noise sum is
    :math:`N(t) = \sum_{k<t}(\mathrm{out}A^kb)^2 = N_\infty - \mathrm{out}A^tP_\infty A^{t\top}\mathrm{out}^\top`),
    from the Kronecker form :math:`-(D\otimes I + I\otimes D + D\otimes D)\,\mathrm{vec}P = \mathrm{vec}\,bb^\top`
    (no cancellation in :math:`I - A\otimes A`). Returns its eigenvalues ``(N, n)`` and eigenvectors
    ``(N, n, n)``, :math:`N_\infty` less an error bound, and ``ok``.

    **Error.** For the residual :math:`R = bb^\top - (P - APA^\top)` of the computed P, the error
    :math:`E = \sum_kA^kRA^{k\top}` changes :math:`N(t)` by
    :math:`\mathrm{out}(E - A^tEA^{t\top})\mathrm{out}^\top`, at most
    :math:`2\|R\|_2\sum_k\|\mathrm{out}A^k\|^2 = 2\|R\|_2\,\mathrm{tr}\,Q` (Q the observability Gramian, solved
    the same way); the bound uses twice that, with R's own rounding added."""
    N, n = b.shape
    eye = np.eye(n)
    with np.errstate(all="ignore"):
        # -(D x I + I x D + D x D) = -(D x A) - I x D, indices (i, j), (k, l)
        M = -(D[:, :, None, :, None] * (D + eye)[:, None, :, None, :])
        for i in range(n):
            M[:, i, :, i, :] -= D
        M = M.reshape(N, n * n, n * n)
        finite = np.all(np.isfinite(M), axis=(-2, -1))
        # I - A x A is singular where a mode lies on the unit circle: such elements are left out (one
        # singular element would fail the whole batched solve)
        finite[finite] &= np.max(np.abs(1.0 + np.linalg.eigvals(D[finite])), axis=-1) < 1.0
        M = np.where(finite[:, None, None], M, np.eye(n * n))
        outer = lambda v: (v[:, :, None] * v[:, None, :]).reshape(N, n * n, 1)  # noqa: E731
        try:
            P = np.linalg.solve(M, outer(b))[..., 0].reshape(N, n, n)
            Q = np.linalg.solve(np.swapaxes(M, -1, -2), outer(out))[..., 0].reshape(N, n, n)
        except np.linalg.LinAlgError:
            return np.zeros((N, n)), np.zeros((N, n, n)), np.zeros(N), np.zeros(N, dtype=bool)
        P = 0.5 * (P + np.swapaxes(P, -1, -2))
        DP = np.matmul(D, P)
        R = b[:, :, None] * b[:, None, :] + DP + np.swapaxes(DP, -1, -2) + np.matmul(DP, np.swapaxes(D, -1, -2))
        frob = lambda X: np.sqrt(np.sum(X * X, axis=(-2, -1)))  # noqa: E731
        nD, nP = frob(D), frob(P)
        r = frob(R) + 8.0 * n * _EPS * (nP * nD * (2.0 + nD) + np.sum(b * b, axis=-1))
        error = 4.0 * r * np.abs(np.trace(Q, axis1=-2, axis2=-1))
        sigma, U = np.linalg.eigh(P)
        ninf = np.einsum("...i,...ij,...j->...", out, P, out)
        ok = finite & np.all(np.isfinite(P), axis=(-2, -1)) & np.isfinite(error) & (error <= 1e-6 * np.abs(ninf))
    return np.maximum(sigma, 0.0), U, ninf - error, ok


def _units(D: np.ndarray, X: np.ndarray, out: np.ndarray) -> dict[str, np.ndarray]:
    r"""The expansions of :math:`\mathrm{out}A^tx` for the R columns x of ``X`` (``(N, n, R)``) on ``N``
    elements (``D``: ``(N, n, n)``); shapes as in :func:`confluent_units` with ``E = (N,)``, and
    ``paths_ok`` ``(R, N)``."""
    N, n, paths = X.shape
    eye = np.eye(n)
    with np.errstate(all="ignore"):
        finite = np.all(np.isfinite(D), axis=(-2, -1)) & np.all(np.isfinite(X), axis=(-2, -1))
        finite &= np.all(np.isfinite(out), axis=-1)
        D = np.where(finite[:, None, None], D, 0.0)
        d = np.linalg.eigvals(D)
        # the spectral projector of each eigenvalue as if simple: P_i = prod_{j != i} (D - d_j) / (d_i - d_j)
        projectors, norms = [], np.empty((N, n))
        for i in range(n):
            M, denom = np.broadcast_to(eye, D.shape).astype(complex), np.ones(N, dtype=complex)
            for j in range(n):
                if j != i:
                    M = np.matmul(M, D - d[:, j, None, None] * eye)
                    denom *= d[:, i] - d[:, j]
            P = M / denom[:, None, None]
            projectors.append(P)
            norms[:, i] = np.sqrt(np.sum(np.abs(P) ** 2, axis=(-2, -1)))
        # the cluster: the closest pair, its near neighbours and every ill-conditioned eigenvalue; then every
        # eigenvalue whose projector the error of the cluster's computed eigenvalues (about its radius at a
        # Jordan block, eps ||D|| / radius where they are distinct) would reach, by (error) radius^(m-1) / gap^m
        member = _members(d) | ~(norms <= NORM)
        for _ in range(n):
            size = member.sum(axis=1)
            centre = np.sum(np.where(member, d, 0.0), axis=1) / size
            radius = np.max(np.where(member, np.abs(d - centre[:, None]), 0.0), axis=1)
            scale = 1.0 + np.sqrt(np.sum(D * D, axis=(-2, -1)))
            error = np.minimum(radius, _EPS * scale / np.maximum(radius, 1e-300))
            gap = np.min(np.where(member[:, None, :], np.abs(d[:, :, None] - d[:, None, :]), np.inf), axis=2)
            leak = (error * radius ** (size - 1.0))[:, None] / gap ** size[:, None]
            joins = ~member & ~(leak <= LEAK)
            if not joins.any():
                break
            member |= joins
        size = member.sum(axis=1)
        norm = np.sqrt(np.sum(D * D, axis=(-2, -1)))
        read = lambda v: np.einsum("...i,...ir->r...", out, v)  # noqa: E731  out v, paths first
        # isolated terms a_i = out P_i x
        amp, phase = np.zeros((n, paths, N)), np.zeros((n, paths, N))
        lmod, ang = np.zeros((n, 1, N)), np.zeros((n, 1, N))
        x_c = X.astype(complex)
        for i in range(n):
            isolated = ~member[:, i]
            v = np.where(isolated[:, None, None], np.matmul(projectors[i], X.astype(complex)), 0.0)
            x_c -= v
            a = read(v)
            amp[i], phase[i] = np.abs(a), np.angle(a)
            lmod[i, 0] = np.where(isolated, log_modulus(d[:, i]), 0.0)
            ang[i, 0] = np.where(isolated, np.angle(1.0 + d[:, i]), 0.0)
        kappa = 1.0 + np.sum(np.where(member, 0.0, norms), axis=1)
        centre = np.sum(np.where(member, d, 0.0), axis=1) / size
        ok = finite & (np.abs(centre.imag) <= 64.0 * _EPS * (1.0 + np.max(np.abs(d), axis=1)))
        dbar = centre.real
        E = D - dbar[:, None, None] * eye
        # alpha_k = out E^k x_c (k < m), then E^m x_c times the cluster's factors for the remainder
        powers = [x_c.real]
        for _ in range(n):
            powers.append(np.matmul(E, powers[-1]))
        alpha = np.array([np.where(k < size, read(powers[k]), 0.0) for k in range(n)])
        y = np.take_along_axis(np.stack(powers, axis=1), size[:, None, None, None], axis=1)[:, 0].astype(complex)
        order = np.argsort(~member, axis=1, kind="stable")  # cluster members first
        beta, kbeta = np.zeros((n, paths, N)), np.zeros((n, 1, N))
        for j in range(n):
            inside = j < size
            beta[j] = np.where(inside, np.abs(read(y)), 0.0)
            kbeta[j, 0] = np.where(inside, size + j, 0.0)
            dj = d[np.arange(N), order[:, j]]
            y = np.matmul(D, y) - dj[:, None, None] * y
        lbar = np.log1p(np.maximum(dbar, -1.0))
        lrho = np.maximum(lbar, np.max(np.where(member, log_modulus(d), -np.inf), axis=1))
        ok &= (dbar > -1.0) & (lrho < 0.0) & np.all(member | (lmod[:, 0].T < 0.0), axis=1)
        k2 = kappa * kappa
        # the estimated leak of the isolated eigenvalues left in, generously, into the margin
        leaked = np.max(np.where(member, 0.0, np.nan_to_num(leak, nan=np.inf)), axis=1)
        rel0 = np.maximum(np.maximum(MARGIN, 64.0 * _EPS * k2), 16.0 * leaked)
        units = {"amp": amp, "lmod": lmod, "ang": ang, "phase": phase, "alpha": alpha, "beta": beta,
                 "kbeta": kbeta, "lbar": lbar, "lrho": lrho, "rel0": rel0, "rel1": 16.0 * _EPS * k2 * norm}
        # each expansion must reproduce the exact out A^t x (literal recursion) at t <= 2n + 1
        z, exact = X.astype(float), []
        for _ in range(2 * n + 2):
            exact.append(read(z))
            z = z + np.matmul(D, z)
        scale = np.max(np.abs(np.array(exact)), axis=0)
        paths_ok = np.broadcast_to(ok, (paths, N)).copy()
        for t, value in enumerate(exact):
            lo, hi, mag = _enclose(units, np.asarray(float(t)), np.asarray(float(t)), point=True)
            paths_ok &= (lo <= value) & (value <= hi) & (mag <= MAX_AMPLIFICATION * scale)
    clean = {k: np.where(paths_ok if v.ndim == 3 and v.shape[1] == paths else np.any(paths_ok, axis=0), v, 0.0)
             for k, v in units.items()}
    clean["ok"], clean["paths_ok"] = paths_ok, paths_ok
    return clean


def _enclose(
    units: dict[str, np.ndarray], a: np.ndarray, b: np.ndarray, point: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Enclosure ``(lo, hi)`` of :math:`m(t)` over :math:`t\\in[a, b]` (margin included) and the terms'
    magnitude, for ``a``, ``b`` broadcasting against the units' element shape (``point``: a = b)."""
    with np.errstate(all="ignore"):
        amp, lmod, ang, phase = units["amp"], units["lmod"], units["ang"], units["phase"]
        # isolated terms: |a| |lambda|^t cos(t arg(lambda) + arg(a)), the cosine's range over the interval
        # (with a margin for rounding in the angle) where the angle turns, else cos(arg(a)) = +-1
        if point:
            x = a * ang + phase
            c, slack = np.cos(x), 1e-12 * (1.0 + np.abs(x))
            cmin, cmax = c - slack, c + slack
        else:
            cmin = np.broadcast_to(np.cos(phase), np.broadcast_shapes(phase.shape, ang.shape, np.shape(a))).copy()
            cmax = cmin.copy()
            turning = np.broadcast_to(ang != 0.0, cmin.shape)
            if turning.any():
                xa = np.broadcast_to(a * ang + phase, cmin.shape)[turning]
                xb = np.broadcast_to(b * ang + phase, cmin.shape)[turning]
                cmin[turning], cmax[turning] = min_cos(xa, xb), -min_cos(xa + np.pi, xb + np.pi)
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


class ConfluentBound:
    r"""Lower bounds on the risk of the bins with a confluent expansion, per row.

    ``units`` from :func:`confluent_units` on ``(all rows, bins)`` elements, of which ``rows`` (all if
    None) are taken; ``ws``/``wn`` the weights :math:`W_s`, :math:`W_n` of those rows, 0 for bins not to be
    bounded here. A bin with ``noise_ok`` is bounded whole (``full``): :math:`W_s\min m(t)^2` plus
    :math:`W_n(N_\infty - \sum_r\sigma_r\max(\mathrm{out}A^au_r)^2)`, the noise part at the interval's
    start (:math:`N(t)` never decreases); one with only ``ok`` by its mean-path part.
    """

    def __init__(self, units: dict[str, np.ndarray], ws: np.ndarray, wn: np.ndarray,
                 rows: np.ndarray | None = None) -> None:
        def rows_of(v: np.ndarray) -> np.ndarray:
            return v if rows is None else v[..., rows, :]

        used = (ws > 0.0) | (wn > 0.0)
        #: bins whose mean-path part is bounded here, and those bounded here whole
        self.ok = rows_of(units["ok"]) & used
        self.full = rows_of(units["noise_ok"]) & used
        #: rows with a bin bounded here, and the bins (columns) any row bounds here
        self.live: np.ndarray = np.asarray(self.ok.any(axis=-1))
        self.cols = np.nonzero(self.ok.any(axis=0))[0]
        self.units = {k: rows_of(v)[..., self.cols] for k, v in units.items() if k not in ("ok", "noise_ok")}
        self.ws = np.where(self.ok, ws, 0.0)[:, self.cols]
        self.wn = np.where(self.full, wn, 0.0)[:, self.cols]

    def interval(self, rows: np.ndarray, a: np.ndarray, b: np.ndarray, point: bool = False) -> np.ndarray:
        r"""Lower bound on the summed risk of these bins over :math:`t \in [a, b]` per row (``point``: a = b)."""
        low = np.zeros(rows.size)
        live = np.nonzero(self.live[rows])[0]
        if not live.size:
            return low
        r = rows[live]
        whole = r.size == self.live.size and bool(np.all(r == np.arange(r.size)))  # every row, in order

        def path(first: int, last: int | None) -> dict[str, np.ndarray]:
            """The units of paths first..last of rows r."""
            sliced = {k: v[:, first:last] if v.ndim == 4 and v.shape[1] > 1 else v for k, v in self.units.items()}
            return sliced if whole else {k: v[..., r, :] for k, v in sliced.items()}

        a2, b2 = a[live, None], b[live, None]
        lo, hi, _ = _enclose(path(0, 1), a2, b2, point)
        gap = np.maximum(lo[0], -hi[0])
        # below 1e-150 the square is subnormal (no relative precision left): counted as 0
        gap = np.where(gap > 1e-150, gap, 0.0)
        total = self.ws[r] * gap * gap
        wn = self.wn[r]
        if wn.any():
            units = path(1, None)
            lo, hi, _ = _enclose(units, a2, a2, True)
            tail = np.sum(units["sigma"] * np.maximum(lo * lo, hi * hi), axis=0)
            total += wn * np.maximum(units["ninf"] - tail, 0.0)
        low[live] = np.sum(total, axis=-1)
        return low

    def point(self, rows: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Lower bound at the single step ``t[i]`` of each row."""
        return self.interval(rows, t, t, point=True)
