r"""Exact moment maps of schedules of any hyperparameters and of the batch size: one constant piece at a time.

Per eigen-direction a spec is :math:`x' = A x + b\,\xi` (:mod:`nqm.theory`), with
:math:`x_0 = \mathrm{init}\,\theta_0`. Write the second moment of the state as
:math:`\mathbb E[xx^\top] = v\,mm^\top + \tfrac cB N` with the *mean path*
:math:`m` (:math:`m_0 = \mathrm{init}`) and the *accumulated noise* :math:`N`
(:math:`N_0 = 0`); the expected risk is

.. math::

    \mathbb E\ell = w\tfrac12 h\,\bigl[v\,(\mathrm{out}\,m)^2 + \tfrac cB\,\mathrm{out}\,N\,\mathrm{out}^\top\bigr]

(the decomposition of Appendix C, generalised to any spec; preconditioning enters through
the equivalent problem of eqs. 8–9, exactly as in the engine). A :class:`ScheduleFamily` fixes
which quantities vary (any hyperparameters of the spec and the batch size); a piece of :math:`L`
steps at constant values maps

.. math::

    m \mapsto P m,\qquad N \mapsto P N P^\top + Q,\qquad
    P = A^L,\quad Q = S_L = \sum_{k<L}A^kbb^\top A^{k\top} = \bar S - A^L\bar S A^{L\top},

with :math:`A, b` evaluated at the piece's values: the closed-form power of eq. 3's recursion
(:math:`\bar S = A\bar SA^\top + bb^\top`). When the batch size varies, :math:`N` is carried in
units of :math:`c` instead of :math:`c/B` and piece k's :math:`Q` is scaled by its own
:math:`1/B_k` (:func:`piece_maps`): the noise of each step of the piece has variance
:math:`c/B_k`. Two stable evaluations of :math:`P, Q`, both reusing the engine's invariants:

* **Chebyshev** (specs with at most two states): :math:`A^L = c_LI + s_LK`,
  :math:`K = D - \sigma I`, from :class:`~nqm.numerics._chebyshev.ChebyshevPowers`, and
  :math:`Q = -e_L(2+e_L)\bar S - c_Ls_L(K\bar S + \bar SK^\top) - s_L^2K\bar SK^\top` with
  :math:`e_L = c_L - 1` (the matrix form of the engine's :math:`w_0, w_1, w_2` identity).
* **Doubling** (any number of states, no eigenvalues, no divisions): the pair
  :math:`(A^p - I, S_p)` composes as :math:`A^{a+p} = A^aA^p`,
  :math:`S_{a+p} = S_a + A^aS_pA^{a\top}` — the recursion of
  :mod:`~nqm.numerics._doubling`, here returning full matrices.

**Exact gradients.** With :math:`\partial = \partial/\partial\log\alpha` of one piece (any other
varying hyperparameter :math:`u` likewise, :math:`\partial = |u|\,\partial/\partial u`),
:math:`\partial A` and :math:`\partial b` come from the generated forms by a complex step
(:math:`\partial f = \operatorname{Im} f(\alpha(1 + i\epsilon))/\epsilon`, exact to rounding for
the rational forms, no cancellation). The derivatives of the piece map are then exact:

* one state: :math:`\partial P = L A^{L-1}\partial A` and
  :math:`\partial Q = \partial\bar S\,(1-P^2) - 2\bar S P\,\partial P` (closed form);
* any n: the Fréchet derivative of the power by doubling the block-triangular system
  :math:`\tilde A = \begin{pmatrix}A&0\\ \partial A&A\end{pmatrix}`,
  :math:`\tilde b = (b, \partial b)`, carried as blocks: with :math:`F_p = \partial(A^p)` and
  :math:`C_p = \sum_{k<p}\partial(A^kb)(A^kb)^\top`,

  .. math::

      F_{a+p} = F_aA^p + A^aF_p,\qquad
      C_{a+p} = C_a + F_aS_pA^{a\top} + A^aC_pA^{a\top},\qquad \partial Q = C + C^\top .

The composition of pieces and the reverse accumulation of the gradient are in
:func:`propagate` and :func:`gradient`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, overload

import numpy as np

from ._chebyshev import ChebyshevPowers
from ._doubling import spectral_radius
from ._schedule_family import INVARIANT_KEYS, LrFamily, ScheduleFamily, Values, relative_step

__all__ = [
    "ScheduleFamily",
    "LrFamily",
    "Values",
    "PieceMaps",
    "piece_maps",
    "propagate",
    "per_bin_risk",
    "output_risk",
    "boundary_risk",
    "gradient",
    "risk_and_gradient",
    "final_risk",
    "MapMethod",
    "validate_method",
]

MapMethod = Literal["auto", "chebyshev", "doubling"]

#: the invariants the one-state maps use (:func:`_one_state_maps`)
_ONE_STATE_KEYS = ("D", "Sbar", "sigma")


@dataclass
class PieceMaps:
    r"""Per (element, bin): ``P`` :math:`=A^L`, ``Q`` :math:`=S_L` and, if asked, their
    :math:`\log\alpha`-derivatives ``dP``, ``dQ``; ``stable`` is the spectral radius < 1."""

    P: np.ndarray
    Q: np.ndarray
    dP: np.ndarray | None
    dQ: np.ndarray | None
    stable: np.ndarray


def _t(a: np.ndarray) -> np.ndarray:
    return np.swapaxes(a, -1, -2)


def _one_state_log(sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""``(log|lambda|, lambda < 0, lambda = 0 or not a number)`` for the one eigenvalue
    :math:`\lambda = 1 + \sigma` of a one-state spec (:math:`\log|\lambda| = \mathrm{log1p}(\sigma)`
    for :math:`\lambda > 0`, accurate for :math:`\alpha h` down to the smallest doubles)."""
    m = 1.0 + sigma
    flip = m < 0
    with np.errstate(all="ignore"):
        log_abs = np.log1p(np.maximum(sigma, -1.0 + 1e-300))
        if flip.any():
            log_abs = np.where(flip, np.log(np.where(flip, -m, 1.0)), log_abs)
    return log_abs, flip, ~(m > 0) & ~flip


_Eig = tuple[np.ndarray, np.ndarray, np.ndarray]


@overload
def _one_state_powers(eig: _Eig, t: np.ndarray, *, minus_one: Literal[True] = ...) -> tuple[np.ndarray, np.ndarray]: ...
@overload
def _one_state_powers(eig: _Eig, t: np.ndarray, *, minus_one: Literal[False]) -> tuple[np.ndarray, None]: ...
def _one_state_powers(eig: _Eig, t: np.ndarray, *, minus_one: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    r""":math:`(\lambda^t, \lambda^t - 1)` from :func:`_one_state_log`: the values of
    :meth:`ChebyshevPowers.powers` for ``n = 1`` (``c_t`` and ``em``), without its two-state
    branches. :math:`|\lambda|^t = \exp(t\log|\lambda|)` with the sign :math:`(-1)^t` when
    :math:`\lambda < 0` (then :math:`\lambda^t - 1 = -2 - (|\lambda|^t - 1)` for odd t), ``expm1``
    for :math:`\lambda^t - 1`; :math:`0^t` exactly at :math:`\lambda = 0`. ``minus_one=False``
    skips :math:`\lambda^t - 1` (returned as ``None``)."""
    log_abs, flip, zero = eig
    with np.errstate(all="ignore"):
        y = t * log_abs
        c = np.exp(y)
        em = np.expm1(y) if minus_one else None
        if zero.any():
            c = np.where(zero, (t == 0).astype(float), c)
            em = None if em is None else np.where(zero, c - 1.0, em)
        if flip.any():
            odd = flip & (np.mod(t, 2.0) == 1.0)
            c = np.where(odd, -c, c)
            em = None if em is None else np.where(odd, -2.0 - em, em)
    return c, em


def _one_state_maps(inv: dict[str, np.ndarray], L: np.ndarray, derivative: bool) -> PieceMaps:
    r"""The maps of :func:`_chebyshev_maps` for a one-state spec (the same values with about a
    fifth of the work: the schedule optimiser's hot path for SGD): :math:`P = \lambda^L`,
    :math:`Q = -e_L(2+e_L)\bar S`, :math:`\partial P = L\lambda^{L-1}\partial D`,
    :math:`\partial Q = -e_L(2+e_L)\partial\bar S - 2\bar SP\,\partial P`."""
    sigma = inv["sigma"]
    Lb = np.broadcast_to(L, np.broadcast_shapes(sigma.shape, L.shape))
    log_abs, flip, zero = (np.broadcast_to(a, Lb.shape) for a in _one_state_log(sigma))
    eig = (log_abs, flip, zero)
    c, em = _one_state_powers(eig, Lb)
    stable = (sigma < 0) & (sigma > -2.0)
    with np.errstate(all="ignore"):
        Sbar = inv["Sbar"]
        P = c[..., None, None]
        Q = (-em * (2.0 + em))[..., None, None] * Sbar
        if not derivative:
            return PieceMaps(P, Q, None, None, stable)
        c_prev, _ = _one_state_powers(eig, np.maximum(Lb - 1.0, 0.0), minus_one=False)
        dP = (Lb * c_prev)[..., None, None] * inv["dD"]
        dQ = (-em * (2.0 + em))[..., None, None] * inv["dSbar"] - 2.0 * Sbar * P * dP
    return PieceMaps(P, Q, dP, dQ, stable)


def _chebyshev_maps(inv: dict[str, np.ndarray], L: np.ndarray, derivative: bool) -> PieceMaps:
    """Closed-form maps from :class:`ChebyshevPowers` (n <= 2; derivatives for n = 1)."""
    n = int(inv["n"])
    pw = ChebyshevPowers(inv["sigma"], inv["det_D"], inv["det_A_minus_1"], n)
    Lb = np.broadcast_to(L, pw.shape)
    with np.errstate(all="ignore"):
        c, s, em = pw.powers(Lb)
        Sbar = inv["Sbar"]
        if n == 1:  # K = 0
            P = c[..., None, None]
            Q = (-em * (2.0 + em))[..., None, None] * Sbar
        else:
            eye = np.eye(n)
            K = inv["D"] - inv["sigma"][..., None, None] * eye
            KS = K @ Sbar
            P = c[..., None, None] * eye + s[..., None, None] * K
            Q = (
                (-em * (2.0 + em))[..., None, None] * Sbar
                - (c * s)[..., None, None] * (KS + _t(KS))
                - (s * s)[..., None, None] * (KS @ _t(K))
            )
        dP = dQ = None
        if derivative:
            if n != 1:
                raise ValueError("closed-form derivatives are for one-state specs; use method='doubling'")
            c_prev, _, _ = pw.powers(np.maximum(Lb - 1.0, 0.0))
            dP = (Lb * c_prev)[..., None, None] * inv["dD"]
            dQ = (-em * (2.0 + em))[..., None, None] * inv["dSbar"] - 2.0 * Sbar * P * dP
    return PieceMaps(P, Q, dP, dQ, np.asarray(pw.stable))


def _mm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise matrix product in the (n, n, elements...) layout (fast for tiny n)."""
    return np.einsum("ij...,jk...->ik...", a, b)


def _far(E: np.ndarray) -> np.ndarray:
    """Per element: is :math:`A^p = I + E` no longer close to the identity (max |E| > 1/2)?"""
    with np.errstate(invalid="ignore"):
        return ~(np.max(np.abs(E), axis=(0, 1)) <= 0.5)


def _doubling_maps(inv: dict[str, np.ndarray], L: np.ndarray, derivative: bool) -> PieceMaps:
    r"""Maps (and the Fréchet derivatives) by binary doubling of the powers, any n.

    A power close to the identity is carried as :math:`E = A^p - I`
    (:math:`E_{2p} = 2E_p + E_p^2`), which keeps relative accuracy for tiny
    :math:`\alpha h`; once :math:`\max|E| > 1/2` it is carried as :math:`A^p` itself
    (:math:`A^{2p} = (A^p)^2`), which keeps relative accuracy when the power decays
    towards 0, where :math:`I + E` would cancel. The loop works on matrices laid out as
    ``(n, n) + elements``, many times faster than batched ``matmul`` on 2x2 blocks.
    """
    D = inv["D"]
    shape = D.shape[:-2]
    n = D.shape[-1]
    soa = lambda a: np.ascontiguousarray(np.moveaxis(a, (-2, -1), (0, 1)))  # noqa: E731
    aos = lambda a: np.ascontiguousarray(np.moveaxis(a, (0, 1), (-2, -1)))  # noqa: E731
    eye = np.eye(n).reshape((n, n) + (1,) * len(shape))
    T = lambda a: a.swapaxes(0, 1)  # noqa: E731
    rem = np.broadcast_to(np.asarray(L, dtype=np.int64), shape).copy()
    b = np.ascontiguousarray(np.moveaxis(inv["b"], -1, 0))
    # power p = 2^j: (E_p or X_p = A^p, S_p, F_p, C_p); accumulators (index a) for the bits seen
    Ep = soa(D)
    Xp = eye + Ep
    far_p = _far(Ep)
    Sp = b[:, None] * b[None, :]
    Ea = np.zeros((n, n) + shape)
    Xa = np.broadcast_to(eye, (n, n) + shape).copy()
    far_a = np.zeros(shape, dtype=bool)
    Sa = np.zeros((n, n) + shape)
    if derivative:
        Fp = soa(inv["dD"])
        Cp = np.ascontiguousarray(np.moveaxis(inv["db"], -1, 0))[:, None] * b[None, :]
        Fa = np.zeros((n, n) + shape)
        Ca = np.zeros((n, n) + shape)
    with np.errstate(all="ignore"):
        while np.any(rem):
            bit = (rem & 1) == 1
            Ap = np.where(far_p, Xp, eye + Ep)
            if bit.any():
                Aa = np.where(far_a, Xa, eye + Ea)
                SpAaT = _mm(Sp, T(Aa))
                if derivative:
                    Ca = np.where(bit, Ca + _mm(Fa, SpAaT) + _mm(_mm(Aa, Cp), T(Aa)), Ca)
                    Fa = np.where(bit, _mm(Fa, Ap) + _mm(Aa, Fp), Fa)
                Sa = np.where(bit, Sa + _mm(Aa, SpAaT), Sa)
                E_new = Ea + Ep + _mm(Ea, Ep)
                far_new = far_a | far_p | _far(E_new)
                Xa = np.where(bit, _mm(Aa, Ap), Xa)
                Ea = np.where(bit, E_new, Ea)
                far_a = np.where(bit, far_new, far_a)
            rem >>= 1
            if not np.any(rem):
                break
            SpApT = _mm(Sp, T(Ap))
            if derivative:
                Cp = Cp + _mm(Fp, SpApT) + _mm(_mm(Ap, Cp), T(Ap))
                Fp = _mm(Fp, Ap) + _mm(Ap, Fp)
            Sp = Sp + _mm(Ap, SpApT)
            Xp = _mm(Ap, Ap)
            Ep = 2.0 * Ep + _mm(Ep, Ep)
            far_p = far_p | _far(Ep)
    stable = spectral_radius(D) < 1.0
    P = aos(np.where(far_a, Xa, eye + Ea))
    if not derivative:
        return PieceMaps(P, aos(Sa), None, None, stable)
    return PieceMaps(P, aos(Sa), aos(Fa), aos(Ca + T(Ca)), stable)


def validate_method(method: object) -> None:
    """``ValueError`` naming ``method`` unless it is one of :data:`MapMethod`'s values."""
    if method not in ("auto", "chebyshev", "doubling"):
        raise ValueError(f"method must be 'auto', 'chebyshev' or 'doubling'; got {method!r}")


def piece_maps(
    family: ScheduleFamily,
    values: Values,
    lengths: np.ndarray,
    *,
    method: MapMethod = "auto",
    derivative: bool | str | None = False,
) -> PieceMaps:
    r"""Maps of pieces at ``values`` (:meth:`ScheduleFamily.as_values`: the learning rates of an lr-only
    family, or name -> values of every varying quantity) and step counts ``lengths`` (broadcast, shape E).

    ``derivative`` names the varying hyperparameter of ``dP``, ``dQ`` (``True``: the only one;
    derivatives as in :meth:`ScheduleFamily.invariants`). When the batch size varies, piece k's
    noise map is :math:`Q_k = \tfrac1{B_k}S_L` (and :math:`\partial Q_k` likewise): the
    accumulated noise is then carried in units of :math:`c` (``family.noise``), each piece adding
    its own :math:`c/B_k`. ``method="auto"`` uses the Chebyshev closed form when the spec has at
    most two states (and, with ``derivative``, one state), doubling otherwise.
    """
    validate_method(method)
    vals = family.as_values(values)
    shape = np.broadcast_shapes(*(np.shape(v) for v in vals.values()), np.shape(lengths))
    vals = {name: np.broadcast_to(v, shape) for name, v in vals.items()}
    L = np.broadcast_to(np.asarray(lengths, dtype=float), shape)[..., None]
    n = family.n
    wrt = bool(derivative)
    use = method
    if use == "auto":
        use = "chebyshev" if (n == 1 or (n == 2 and not wrt)) else "doubling"
    if use == "chebyshev" and (n > 2 or (wrt and n != 1)):
        raise ValueError(
            f"method='chebyshev' needs at most 2 states (1 with gradients); {family.forms.name} has {n}"
        )
    one_state = use == "chebyshev" and n == 1
    inv = family.invariants(vals, derivative=derivative, keys=_ONE_STATE_KEYS if one_state else INVARIANT_KEYS,
                            shape=shape)
    if use == "chebyshev":
        maps = (_one_state_maps if one_state else _chebyshev_maps)(inv, L, wrt)
    else:
        maps = _doubling_maps(inv, L, wrt)
    scale = family.noise_scale(vals)
    if scale is not None:
        factor = scale[..., None, None, None]
        maps.Q = maps.Q * factor
        maps.dQ = None if maps.dQ is None else maps.dQ * factor
    return maps


def propagate(
    family: ScheduleFamily, maps: PieceMaps, start: tuple[np.ndarray, np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    r"""Mean paths and accumulated noise at every piece boundary.

    ``maps`` have shape ``(K, ...) + (bins, n, n)`` (pieces first). ``start`` is the state
    ``(m, N)`` before the first piece (shapes broadcasting to ``... + (bins, n)`` and
    ``... + (bins, n, n)``; default ``(init, 0)``). Returns ``m`` of shape
    ``(K+1, ...) + (bins, n)`` and ``N`` of shape ``(K+1, ...) + (bins, n, n)``.
    """
    P, Q = maps.P, maps.Q
    K = P.shape[0]
    lead = P.shape[1:-2]
    m0, N0 = (family.init, np.zeros(())) if start is None else start
    if family.n == 1:  # scalars: m_k = prod P, N_{k+1} = P_k^2 N_k + Q_k
        p, q = P[..., 0, 0], Q[..., 0, 0]
        m1 = np.empty((K + 1,) + lead)
        N1 = np.empty((K + 1,) + lead)
        m1[0] = np.broadcast_to(m0[..., 0], lead)
        N1[0] = N0 if N0.ndim == 0 else np.broadcast_to(N0[..., 0, 0], lead)
        with np.errstate(all="ignore"):
            m1[1:] = m1[0] * np.cumprod(p, axis=0)
            for k in range(K):
                N1[k + 1] = p[k] * p[k] * N1[k] + q[k]
        return m1[..., None], N1[..., None, None]
    m = np.empty((K + 1,) + lead + (family.n,))
    N = np.empty((K + 1,) + lead + (family.n, family.n))
    m[0] = np.broadcast_to(m0, lead + (family.n,))
    N[0] = N0
    with np.errstate(all="ignore"):
        for k in range(K):
            m[k + 1] = np.einsum("...ij,...j->...i", P[k], m[k])
            N[k + 1] = P[k] @ N[k] @ _t(P[k]) + Q[k]
    return m, N


def per_bin_risk(family: ScheduleFamily, m: np.ndarray, N: np.ndarray, unstable: np.ndarray) -> np.ndarray:
    """Per-bin risk from states; ``inf`` where an unstable piece overflowed (never NaN)."""
    out = family.out
    with np.errstate(all="ignore"):
        y = np.einsum("...i,...i->...", out, m)
        noi = np.einsum("...i,...ij,...j->...", out, N, out)
    return output_risk(family, y, noi, unstable)


def output_risk(family: ScheduleFamily, y: np.ndarray, noi: np.ndarray, unstable: np.ndarray) -> np.ndarray:
    r"""Per-bin risk :math:`w\tfrac12h\,[v\,y^2 + \tfrac cB\,\mathrm{noi}]` from the outputs
    :math:`y = \mathrm{out}\,m` and :math:`\mathrm{noi} = \mathrm{out}\,N\,\mathrm{out}^\top`
    (shapes ``(..., bins)``); ``inf`` where an unstable piece overflowed (never NaN)."""
    with np.errstate(all="ignore"):
        r = family.weight * (family.start * y * y + family.noise * noi)
    used = family.weight > 0
    if not np.all(used):
        r = np.where(used, r, 0.0)
    if np.any(unstable):
        r = np.where(used & unstable & ~(np.isfinite(r) & (r >= 0)), np.inf, r)
    return r


def boundary_risk(family: ScheduleFamily, maps: PieceMaps, m: np.ndarray, N: np.ndarray) -> np.ndarray:
    """Expected risk at every piece boundary, shape ``(K+1, ...)``."""
    unstable = np.logical_or.accumulate(~np.broadcast_to(maps.stable, maps.P.shape[:-2]), axis=0)
    unstable = np.concatenate([np.zeros_like(unstable[:1]), unstable], axis=0)
    return np.sum(per_bin_risk(family, m, N, unstable), axis=-1)


def _last_risk(family: ScheduleFamily, maps: PieceMaps, m: np.ndarray, N: np.ndarray) -> np.ndarray:
    """The last row of :func:`boundary_risk` (the final risk, shape ``...``) alone."""
    unstable = np.any(~np.broadcast_to(maps.stable, maps.P.shape[:-2]), axis=0)
    return np.sum(per_bin_risk(family, m[-1], N[-1], unstable), axis=-1)


def gradient(family: ScheduleFamily, maps: PieceMaps, m: np.ndarray, N: np.ndarray) -> np.ndarray:
    r"""Exact :math:`\partial R/\partial\log\alpha_k` of the final risk, by reverse accumulation.

    The adjoints of :math:`(m_k, N_k)` are :math:`2w\tfrac12hv\,(\mathrm{out}\,m_K)\,u_k` and
    :math:`w\tfrac12h\tfrac cB\,u_ku_k^\top` with :math:`u_K = \mathrm{out}^\top`,
    :math:`u_k = P_k^\top u_{k+1}`, so

    .. math::

        \frac{\partial R}{\partial\log\alpha_k} = \sum_{\rm bins} w\tfrac12h\Bigl[
          2v\,(\mathrm{out}\,m_K)\,u_{k+1}^\top\partial P_k\,m_k
          + \tfrac cB\bigl(2u_{k+1}^\top\partial P_kN_kP_k^\top u_{k+1} + u_{k+1}^\top\partial Q_k\,u_{k+1}\bigr)\Bigr].

    Returns shape ``(K, ...)``.
    """
    P, dP, dQ = maps.P, maps.dP, maps.dQ
    if dP is None or dQ is None:
        raise ValueError("gradient needs maps computed with derivative=True")
    K = P.shape[0]
    lead = P.shape[1:-2]
    if family.n == 1:  # scalars: u_{k+1} = out prod_{j>k} P_j, no per-piece loop
        return _one_state_gradient(family, P[..., 0, 0], dP[..., 0, 0], dQ[..., 0, 0], m[..., 0], N[..., 0, 0])
    # u[k] = u_{k+1} (the adjoint direction after piece k), one small product per piece
    u = np.empty((K,) + lead + (family.n,))
    u[K - 1] = np.broadcast_to(family.out, lead + (family.n,))
    with np.errstate(all="ignore"):
        for k in range(K - 1, 0, -1):
            u[k - 1] = np.einsum("...ji,...j->...i", P[k], u[k])
        yK = np.einsum("...i,...i->...", family.out, m[K])
        du = np.einsum("...i,...ij->...j", u, dP)  # u^T dP
        pu = np.einsum("...ji,...j->...i", P, u)  # P^T u
        start_part = 2.0 * family.weight * family.start * yK * np.einsum("...i,...i->...", du, m[:K])
        term = start_part + family.weight * family.noise * (
            2.0 * np.einsum("...i,...ij,...j->...", du, N[:K], pu) + np.einsum("...i,...ij,...j->...", u, dQ, u)
        )
    return np.sum(np.where(family.weight > 0, term, 0.0), axis=-1)


def _one_state_gradient(family: ScheduleFamily, P: np.ndarray, dP: np.ndarray, dQ: np.ndarray, m: np.ndarray,
                        N: np.ndarray) -> np.ndarray:
    """:func:`gradient` for one-state specs on scalar arrays ``(K, ...) + (bins,)`` (the same sum)."""
    K = P.shape[0]
    out = family.out[..., 0]
    with np.errstate(all="ignore"):
        u = np.empty(P.shape)
        u[K - 1] = out
        u[: K - 1] = out * np.cumprod(P[:0:-1], axis=0)[::-1]
        du = u * dP
        term = 2.0 * family.weight * family.start * (out * m[K]) * (du * m[:K]) + family.weight * family.noise * (
            2.0 * (du * N[:K] * (P * u)) + u * dQ * u
        )
    return np.sum(np.where(family.weight > 0, term, 0.0), axis=-1)


def _pieces_first(family: ScheduleFamily, values: Values) -> dict[str, np.ndarray]:
    """``values`` (pieces on the last axis) with the pieces moved to the first axis."""
    return {name: np.moveaxis(v, -1, 0) for name, v in family.as_values(values).items()}


@overload
def risk_and_gradient(
    family: ScheduleFamily, values: np.ndarray, lengths: np.ndarray, method: MapMethod = ..., *,
    wrt: None = ...,
) -> tuple[np.ndarray, np.ndarray]: ...
@overload
def risk_and_gradient(
    family: ScheduleFamily, values: Mapping[str, np.ndarray], lengths: np.ndarray, method: MapMethod = ..., *,
    wrt: Sequence[str] | None = ...,
) -> tuple[np.ndarray, dict[str, np.ndarray]]: ...
def risk_and_gradient(
    family: ScheduleFamily, values: Values, lengths: np.ndarray, method: MapMethod = "auto", *,
    wrt: Sequence[str] | None = None,
) -> tuple[np.ndarray, np.ndarray | dict[str, np.ndarray]]:
    r"""Final risk :math:`R` (shape ``...``) of schedules with piece ``lengths`` (``(..., K)``) and its
    exact gradient; inputs already validated.

    * ``values`` an array (an lr-only family): the learning rates ``(..., K)``; the gradient is
      :math:`\partial R/\partial\log\alpha_k`, shape ``(..., K)`` (the parameterisation of the
      schedule optimiser).
    * ``values`` a mapping name -> ``(..., K)`` of every varying quantity: the gradient is a dict
      name -> :math:`\partial R/\partial u_k` (plain derivatives in the values themselves, shape
      ``(..., K)``) for each name in ``wrt`` (default: every varying hyperparameter; the batch size
      has no derivative).
    """
    as_log_lr = not isinstance(values, Mapping)
    vals = _pieces_first(family, values)
    L = np.moveaxis(lengths, -1, 0)
    names = (True,) if as_log_lr else tuple(family.varying if wrt is None else wrt)
    if not names:
        raise ValueError("wrt must name at least one varying hyperparameter")
    grads: dict[str, np.ndarray] = {}
    risk = np.empty(0)
    for name in names:
        maps = piece_maps(family, vals, L, method=method, derivative=name)
        if not grads:
            m, N = propagate(family, maps)
            risk = _last_risk(family, maps, m, N)
        grad = np.moveaxis(gradient(family, maps, m, N), 0, -1)
        if as_log_lr:
            return risk, grad
        with np.errstate(all="ignore"):
            grads[str(name)] = grad / np.moveaxis(relative_step(vals[str(name)]), 0, -1)
    return risk, grads


def final_risk(family: ScheduleFamily, values: Values, lengths: np.ndarray, method: MapMethod = "auto") -> np.ndarray:
    """The final risk of :func:`risk_and_gradient` (shape ``...``) without the gradient (no
    derivative maps, no reverse pass: about half the work); ``values`` as there, inputs already
    validated."""
    maps = piece_maps(family, _pieces_first(family, values), np.moveaxis(lengths, -1, 0), method=method)
    m, N = propagate(family, maps)
    return _last_risk(family, maps, m, N)
