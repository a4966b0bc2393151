r"""Exact steps-to-target: the first :math:`t \ge 0` with :math:`\mathbb{E}\mathcal L(t) \le \varepsilon`.

The authors' notebook binary-searches t, which silently assumes a monotone risk curve;
underdamped momentum is not monotone. This module finds the first hit exactly with a
branch-and-bound over integer intervals of t, vectorised over whole hyperparameter grids.

**Certified exactness.** Hits are decided only by exact evaluations of the risk (the
engine of :mod:`._model`). Steps are ruled out only by certified lower bounds:

* an interval :math:`[a, b]` is discarded when a lower bound on
  :math:`\min_{a\le t\le b}\mathcal L(t)` exceeds the target (the *modal bound* below);
* :math:`[a+1, b]` is discarded when the exact noise part at a exceeds the target (the
  noise part :math:`\tfrac cB\sum_{k<t}g(k)^2` is a sum of squares, non-decreasing in t);
* everything after an exact hit is irrelevant to the first hit (per row), or to the
  smallest first hit over the grid (:func:`grid_minimum`).

Every step below the answer is therefore either evaluated exactly or covered by a
certified bound, so the result is the first hit for monotone and oscillating curves alike.
Everything else only decides *where to look first* and cannot change the result: the
exact hit that starts a search (found by doubling t, or at a step *predicted* by bisecting
the modal bound, then verified exactly), the order in which intervals are split, which
left ends are evaluated (those where the point bound allows a hit), and, in a batch-size
sweep, rows skipped because a certified lower bound carried over from a smaller batch
size already exceeds the target (:func:`grid_minimum`'s ``floor``).

Rows with a divergent bin (spectral radius > 1) reach the target at t = 0 if their start
does and are not searched beyond it (the one documented gap: a row whose other bins dip below
the target before a slowly divergent bin takes over is reported as never reaching it). A bin *on* the
stability edge (spectral radius exactly 1, e.g. SGD at :math:`\alpha h = 2`; ``marginal``
of :mod:`._chebyshev`) has a finite risk at every t whose noise part grows without bound
(linearly where the noise excites the edge mode), so its row is searched like a stable one:
its certificate is the modal expansion of the start part alone (the noise coefficients,
infinite on the edge, are dropped) plus the bin's exact noise part at the last evaluated
step, which bounds the rest because it is non-decreasing; a row whose noise part stays
below the target up to 2**62 (a bounded risk, e.g. c = 0) is searched below the step past
which that certificate rules out every hit (:func:`_bounded_edge_horizons`). Under exact
doubling (no modal expansion) a bin is on the edge when its computed spectral radius is within
:data:`_EDGE_RTOL` of 1, and such a row is searched only below the step where its noise part
exceeds the target; without a modal or spectral bound that search takes time linear in that step
(e.g. c/B tiny). "Hit" follows the tie rule of :mod:`._tie` (risk at most :math:`\varepsilon(1 + 2^{-40})`): the public
functions turn the target into that threshold once, and every comparison below uses it. Intervals
shorter than :data:`_LEAF` steps are evaluated exactly at every step. A bin of an exact-doubling model
with no spectral bound (repeated or nearly repeated eigenvalues, e.g. an EMA of an EMA with one
coefficient: a Jordan block in every direction, the eigenvector matrix singular) has its risk bounded
by its confluent expansion (:mod:`._confluent`); where its stationary second moment cannot be
certified, its mean-path part only, and its noise part by its exact value at the last evaluated
step. Under exact doubling, rows with such a bin scan their intervals shorter than
:data:`_SCAN_LEAF` steps in one pass (:func:`_scan_sums`), every scanned step within
:data:`_SCAN_BAND` of the target decided by doubling itself.

**The modal bound** is a sum over bins. For a one- or two-state spec (Chebyshev form,
:mod:`._chebyshev`) each bin's risk has an exact *modal expansion*. With real eigenvalues
:math:`\lambda_{1,2} = m\pm\delta` of the transition, :math:`A^t = c_tI + s_tK`,
:math:`c_t = \tfrac12(\lambda_1^t+\lambda_2^t)`, :math:`s_t = (\lambda_1^t-\lambda_2^t)/(2\delta)`
turn the risk :math:`w\tfrac12h[v(c_tu_0+s_tu_1)^2 + \tfrac cB(w_0 - c_t^2w_0 - 2c_ts_tw_1 - s_t^2w_2)]`
of :class:`nqm.theory.NumericInvariants` into

.. math::

    \ell(t) = \ell_\infty + A_1\lambda_1^{2t} + A_3(\lambda_1\lambda_2)^t + A_2\lambda_2^{2t},
    \qquad \ell_\infty = W_n w_0,

    A_{1,2} = W_s\alpha_{1,2}^2 - W_n\Bigl(\frac{w_0}4 \pm \frac{w_1}{2\delta} + \frac{w_2}{4\delta^2}\Bigr),\quad
    A_3 = 2W_s\alpha_1\alpha_2 - W_n\Bigl(\frac{w_0}2 - \frac{w_2}{2\delta^2}\Bigr),\quad
    \alpha_{1,2} = \frac{u_0}2 \pm \frac{u_1}{2\delta},

with :math:`W_s = w\tfrac12hv` and :math:`W_n = w\tfrac12h\,c/B`. Around the dominant mode
d (the other is o) this is :math:`\ell - \ell_\infty = Q^t g(y)`, :math:`Q = \lambda_d^2`,
:math:`g(y) = A_d + A_3y + A_oy^2`, :math:`y = (\lambda_o/\lambda_d)^t`, :math:`|y| \le 1`; on
:math:`[a, b]`, y ranges over :math:`[y(b), y(a)]` (or :math:`[-|y(a)|, |y(a)|]` when
:math:`\lambda_1\lambda_2 < 0`), where the minimum of the quadratic g is exact (ends and
vertex). A complex pair :math:`m\pm i\omega = re^{\pm i\vartheta}` gives

.. math::

    \ell(t) = \ell_\infty + r^{2t}\bigl(K_0 + R\cos(2t\vartheta - \phi)\bigr),\qquad
    K_0 = \tfrac12W_s(u_0^2+u_1'^2) - \tfrac12W_n(w_0+w_2'),

with :math:`R e^{i\phi} = K_1 + iK_2`, :math:`K_1 = \tfrac12W_s(u_0^2-u_1'^2) - \tfrac12W_n(w_0-w_2')`,
:math:`K_2 = W_su_0u_1' - W_nw_1'`, :math:`u_1' = u_1/\omega`, :math:`w_1' = w_1/\omega`,
:math:`w_2' = w_2/\omega^2`; g is bounded by :math:`K_0 + R\min\cos` over the angle range
(:math:`K_0 - R` when it spans a full turn). Then :math:`Q^tg \ge Q^bg_{\min}` if
:math:`g_{\min} \ge 0`, else :math:`Q^ag_{\min}` (:math:`0 \le Q \le 1`). The bound is
lowered by a rounding margin :math:`10^{-11}` times the sum of the magnitudes of all
summands (which also bounds every coefficient), and never below 0 (a bin's risk is
non-negative). Where the expansion is ill-conditioned (near the repeated root
:math:`\delta\to0`: summands above :math:`10^{6}` times the bin's scale), a bin is bounded by
its noise part at the last exactly evaluated step instead. A spec with more states (exact
doubling) is bounded by its spectral expansion (:mod:`._spectral`: a sum of modes
:math:`\mu_{ij} = \lambda_i\lambda_j`, each bounded over the interval); its ill-conditioned bins
(repeated eigenvalues) by their confluent expansion (:mod:`._confluent`), and failing that by the
same noise-part fallback. A bin with a decoupled state (:mod:`._single_mode`: the output
does not see one mode, or c = 0 and the start excites one mode) has the one-state
expansion :math:`\ell_\infty + (W_s a^2 - W_n w_0)\lambda_j^{2t}` (a = out_j init_j), so its
rounding margin scales with the mode it shows and not with an unseen slow one (whose
margin would otherwise hide every target below :math:`10^{-11}\beta^{2t}`).
tests/numerics/test_tune.py checks the bounds against exhaustive scans of the exact risk.
"""

from __future__ import annotations

import math

import numpy as np

from ._confluent import ConfluentBound, confluent_units
from ._doubling import doubling_state, spectral_radius
from ._forms import validate_positive
from ._model import Method, RiskModel, build_model
from ._optimizers import OptimizerLike, as_optimizer
from ._problem import Problem
from ._spectral import MARGIN as _MARGIN  # relative rounding margin of the modal bound (shared)
from ._spectral import MAX_AMPLIFICATION as _MAX_AMPLIFICATION  # largest summand-to-scale ratio used
from ._spectral import SpectralBound, spectral_units
from ._spectral import min_cos as _min_cos
from ._tie import tie_threshold

__all__ = ["steps_to_target", "first_hits", "grid_minimum"]

_LOG2_MAX = 62
#: intervals examined per branch-and-bound round (leftmost first; fewer for wide problems)
_MAX_FRONTIER = 1 << 15
#: intervals shorter than this are evaluated exactly at every step
_LEAF = 8
#: steps 2^K of the doubling search evaluated together (one squaring chain under exact doubling)
_GALLOP_LEVELS = 8
#: intervals shorter than this are scanned step by step (exact doubling; :func:`_scan_sums`)
_SCAN_LEAF = 1024
#: scanned risks within this relative distance of the target are decided by doubling itself
_SCAN_BAND = 1e-8
_TWO_PI = 2.0 * np.pi
#: computed spectral radii up to 1 + this count as the stability edge under exact doubling
_EDGE_RTOL = 2.0**-40
#: elements (rows x bins) evaluated at once; bounds the memory of wide problems (d = 10^6)
_BLOCK_ELEMENTS = 1 << 20


def _blocked(fn, bins: int, rows: np.ndarray, *per_row: np.ndarray):
    """``fn(rows, *per_row)`` over blocks of at most :data:`_BLOCK_ELEMENTS` elements, concatenated."""
    step = max(1, _BLOCK_ELEMENTS // max(bins, 1))
    if rows.size <= step:
        return fn(rows, *per_row)
    parts = [fn(rows[i : i + step], *(a[i : i + step] for a in per_row)) for i in range(0, rows.size, step)]
    if isinstance(parts[0], tuple):
        return tuple(np.concatenate(p) for p in zip(*parts))
    return np.concatenate(parts)


def _log_abs(mu: np.ndarray) -> np.ndarray:
    r""":math:`\log|1+\mu|` accurate for :math:`1+\mu` near :math:`\pm1`; ``-1e300`` for 0 (so that 0**0 = 1)."""
    value = np.where(mu > -1.0, np.log1p(np.maximum(mu, -1.0)), np.log1p(np.minimum(-2.0 - mu, 0.0)))
    return np.maximum(value, -1e300)


def _base_pack(model: RiskModel, X, Y, lQ, lrat, negative, theta2, cx, w0, u0) -> dict[str, np.ndarray]:
    r"""The batch-size-free certificate data: ``base[row, k, bin]`` with k = log Q, log ratio,
    sign flag, 2 theta, then :math:`W_sX_j` (4..9), :math:`w\tfrac12h\,Y_j` (10..15),
    :math:`w\tfrac12h\,w_0` (16) and :math:`W_su_0^2` (17); the noise terms are multiplied by
    the model's per-element noise :math:`c/B` when certificates are made. ``ok``: bins of
    positive weight with finite data. On the stability edge (:func:`_marginal`) the noise
    coefficients are dropped: the pack then bounds the start part alone."""
    edge = _marginal(model)
    if edge.any():
        Y, w0 = np.where(edge[:, None], 0.0, Y), np.where(edge, 0.0, w0)
    used = model.weight > 0
    ws = np.where(used, model.weight * model.start, 0.0)
    wc = np.where(used, model.weight, 0.0)
    base = np.empty((ws.shape[0], 18) + ws.shape[1:])  # written in place: this runs once per grid chunk
    with np.errstate(all="ignore"):
        for k, value in enumerate((lQ, lrat, negative, theta2)):
            base[:, k] = value
        np.multiply(ws[:, None], X, out=base[:, 4:10])
        np.multiply(wc[:, None], Y, out=base[:, 10:16])
        np.multiply(wc, w0, out=base[:, 16])
        base[:, 17] = ws * u0 * u0
        ok = used & np.all(np.isfinite(base), axis=1)
    np.copyto(base, 0.0, where=~ok[:, None])
    return {"base": base, "ok": ok, "complex": cx & ok}


def _modal_units(model: RiskModel) -> dict[str, np.ndarray]:
    r"""Batch-size-free parts of the modal expansion of a flattened Chebyshev model.

    The expansion is written around the dominant mode: :math:`\ell - \ell_\infty = Q^t g(t)`
    with :math:`Q = \lambda_d^2` (:math:`r^2` for a complex pair) and
    :math:`g = A_d + A_3y + A_oy^2`, :math:`y = (\lambda_o/\lambda_d)^t`, :math:`|y|\le1`
    (real pair), or :math:`g = K_0 + R\cos(2t\vartheta-\phi)` (complex pair).
    ``X[:, j]``, ``Y[:, j]`` give :math:`A_d` (or :math:`K_0`), :math:`A_3`, :math:`A_o`,
    :math:`K_1`, :math:`K_2` as :math:`W_sX_j - W_nY_j` (j = 0..4); j = 5 gives the
    magnitude scale :math:`W_sX_5 + W_nY_5` of all summands (for the rounding margin).
    """
    pw = model.powers
    assert pw is not None
    shape = model.weight.shape
    b = lambda v: np.broadcast_to(np.asarray(v, dtype=float), shape)  # noqa: E731
    u0, u1, w0, w1, w2 = (b(model.inv[k]) for k in ("u0", "u1", "w0", "w1", "w2"))
    X = np.zeros(shape[:1] + (6,) + shape[1:])
    Y = np.zeros_like(X)
    with np.errstate(all="ignore"):
        l1, l2 = _log_abs(b(pw.mu1)), _log_abs(b(pw.mu2))
        if pw.n == 1:
            cx = np.zeros(shape, dtype=bool)
            X[:, 0], Y[:, 0] = u0 * u0, w0
            X[:, 5], Y[:, 5] = u0 * u0, np.abs(w0)
            return _base_pack(model, X, Y, 2.0 * l1, np.zeros(shape), cx, np.zeros(shape), cx, w0, u0)
        cx = b(pw.complex_) > 0
        first = l1 >= l2  # dominant mode
        # real pair lambda_{1,2} = m +- delta: coefficients of lambda_1^{2t}, (lambda_1 lambda_2)^t, lambda_2^{2t}
        d = b(pw.delta)
        v = u1 / (2.0 * d)
        al1, al2 = 0.5 * u0 + v, 0.5 * u0 - v
        p1, p2 = w1 / (2.0 * d), w2 / (4.0 * d * d)
        c1 = (al1 * al1, 0.25 * w0 + p1 + p2)
        c2 = (al2 * al2, 0.25 * w0 - p1 + p2)
        real = [
            tuple(np.where(first, x, y) for x, y in zip(c1, c2)),
            (2.0 * al1 * al2, 0.5 * w0 - 2.0 * p2),
            tuple(np.where(first, y, x) for x, y in zip(c1, c2)),
            (0.0, 0.0),
            (0.0, 0.0),
            (2.0 * (np.abs(0.5 * u0) + np.abs(v)) ** 2, np.abs(w0) + 2.0 * np.abs(p1) + 4.0 * np.abs(p2)),
        ]
        # complex pair m +- i omega = r e^{+-i theta}: r^{2t}(K0 + K1 cos 2t theta + K2 sin 2t theta)
        om = b(pw.omega)
        u1p, w1p, w2p = u1 / om, w1 / om, w2 / (om * om)
        complex_ = [
            (0.5 * (u0 * u0 + u1p * u1p), 0.5 * (w0 + w2p)),
            (0.0, 0.0),
            (0.0, 0.0),
            (0.5 * (u0 * u0 - u1p * u1p), 0.5 * (w0 - w2p)),
            (u0 * u1p, w1p),
            (u0 * u0 + u1p * u1p, np.abs(w0) + 2.0 * np.abs(w1p) + np.abs(w2p)),
        ]
        for j, ((xr, yr), (xc, yc)) in enumerate(zip(real, complex_)):
            X[:, j] = np.where(cx, xc, xr)
            Y[:, j] = np.where(cx, yc, yr)
        ld, lo = np.where(first, l1, l2), np.where(first, l2, l1)
        theta = np.where(b(pw.flip) > 0, -b(pw.theta), b(pw.theta))  # angle of the unflipped pair
        lQ = np.where(cx, 2.0 * b(pw.log_r), 2.0 * ld)
        lrat = np.where(cx, 0.0, np.maximum(lo - ld, -1e300))
        negative = (b(pw.det_A_minus_1) < -1.0) & ~cx  # lambda_1 lambda_2 < 0: y alternates in sign
        one = _one_mode_bins(model, shape)
        if one is not None:  # the one-state expansion of a decoupled mode (nqm.numerics._single_mode)
            amp = b(model.inv["single_amp"])
            for j, (xj, yj) in enumerate([(amp * amp, w0), (0.0, 0.0), (0.0, 0.0), (0.0, 0.0), (0.0, 0.0),
                                          (amp * amp, np.abs(w0))]):
                X[:, j] = np.where(one, xj, X[:, j])
                Y[:, j] = np.where(one, yj, Y[:, j])
            lQ = np.where(one, 2.0 * np.maximum(b(model.inv["single_log"]), -1e300), lQ)
            lrat, negative, cx = np.where(one, 0.0, lrat), negative & ~one, cx & ~one
            u0 = np.where(one, amp, u0)
        return _base_pack(model, X, Y, lQ, lrat, negative, np.where(cx, 2.0 * theta, 0.0), cx, w0, u0)


def _one_mode_bins(model: RiskModel, shape: tuple[int, ...]) -> np.ndarray | None:
    """Elements whose whole risk has one mode: the output cannot see the other (unobservable), or
    only the mean path has one mode and the direction is noise-free (c = 0); ``None`` if none."""
    inv = model.inv
    if "single_mask" not in inv:
        return None
    noise_free = np.broadcast_to(model.c == 0, shape) if model.c is not None else np.zeros(shape, dtype=bool)
    return np.broadcast_to(inv["single_bin"], shape) | (np.broadcast_to(inv["single_mask"], shape) & noise_free)


def _confluent_units(model: RiskModel, spectral_ok: np.ndarray, rows: np.ndarray | None,
                     noise: bool) -> dict[str, np.ndarray] | None:
    """The confluent units (:mod:`._confluent`) of the used bins with no spectral expansion, cached on
    the model: the mean-path part for every row at once, and (``noise``) the noise part too for the
    given rows (all if None) as they are asked for, each row once (it costs most: a search asks for
    it only for the rows that its mean-path bounds could not rule out). None if no bin needs one."""
    need = (model.weight > 0) & ~spectral_ok
    if not need.any():
        return None
    inv, cache = model.inv, model.cache
    if not noise:
        if "confluent" not in cache:
            cache["confluent"] = confluent_units(inv["D"], inv["init"], inv["b"], inv["out"], need, noise=False)
        return cache["confluent"]
    done = cache.setdefault("confluent_done", np.zeros(need.shape[0], dtype=bool))
    todo = np.nonzero(~done)[0] if rows is None else np.unique(rows[~done[rows]])
    ask = np.zeros_like(need)
    ask[todo] = need[todo]
    if ask.any() or "confluent_noise" not in cache:
        new = confluent_units(inv["D"], inv["init"], inv["b"], inv["out"], ask)
        kept = cache.setdefault("confluent_noise", new)  # a search on another thread may have stored it first
        if kept is not new:
            for key, value in kept.items():
                value[..., todo, :] = new[key][..., todo, :]
    done[todo] = True
    return cache["confluent_noise"]


class _Certificates:
    r"""Per-element data of the modal lower bound (see the module docstring and :func:`_modal_units`).

    ``pack[row, k, bin]`` holds :math:`\log Q`, :math:`\log|\lambda_o/\lambda_d|`, the sign
    flag of :math:`y`, :math:`A_d` (or :math:`K_0`), :math:`A_3`, :math:`A_o`, the stationary
    risk less its rounding margin, the margin scale, and :math:`R, \phi, 2\vartheta` of a
    complex pair. ``fallback`` marks the bins bounded by their noise part instead. The
    batch-size-free parts are cached on the model, so a batch-size sweep computes them once.
    """

    LQ, LRAT, NEG, THETA2, A, A3, C, RHO, MAG, R, PHI = range(11)

    def __init__(self, model: RiskModel, rows: np.ndarray | None = None, with_noise: bool = True) -> None:
        #: model row of each certificate row (the certificates may cover a subset)
        self.rows = np.arange(model.weight.shape[0]) if rows is None else rows
        #: whether bins with a confluent expansion have their noise part bounded too
        self.with_noise = with_noise
        self.pack: np.ndarray | None = None
        #: the spectral expansion of an exact-doubling model (:mod:`._spectral`), else None
        self.spectral: SpectralBound | None = None
        #: the bound of its bins without one (:mod:`._confluent`), else None
        self.confluent: ConfluentBound | None = None
        if model.powers is None:
            self._spectral(model, rows, with_noise)
            return
        units = model.cache.get("modal")
        if units is None:
            units = model.cache["modal"] = _modal_units(model)
        pick = (lambda v: v) if rows is None else (lambda v: np.take(v, rows, axis=0))  # noqa: E731
        base, ok, cx = pick(units["base"]), pick(units["ok"]), pick(units["complex"])
        used = pick(model.weight) > 0
        noise = pick(model.noise)
        rows_n = base.shape[0]
        pack = np.empty((rows_n, 11) + base.shape[2:])
        with np.errstate(all="ignore"):  # in place where possible: this runs once per batch size
            pack[:, :4] = base[:, :4]  # log Q, log ratio, sign flag, 2 theta
            np.multiply(base[:, 10:13], noise[:, None], out=pack[:, 4:7])
            np.subtract(base[:, 4:7], pack[:, 4:7], out=pack[:, 4:7])  # A_d (or K0), A_3, A_o
            rho = base[:, 16] * noise
            mag = base[:, 15] * noise
            mag += base[:, 9]
            size = np.abs(rho)
            np.multiply(size, _MARGIN, out=pack[:, self.RHO])
            np.subtract(rho, pack[:, self.RHO], out=pack[:, self.RHO])  # rho less its margin
            np.multiply(mag, _MARGIN, out=pack[:, self.MAG])
            pack[:, self.R] = 0.0
            pack[:, self.PHI] = 0.0
            if cx.any():
                noise_cx = noise[cx]
                K1 = base[:, 7][cx] - base[:, 13][cx] * noise_cx
                K2 = base[:, 8][cx] - base[:, 14][cx] * noise_cx
                pack[:, self.R][cx] = np.hypot(K1, K2)
                pack[:, self.PHI][cx] = np.arctan2(K2, K1)
            # every coefficient and the stationary risk are at most mag in size, so a finite,
            # moderate mag also certifies finite coefficients (NaN and inf fail the test)
            size += base[:, 17]
            size *= _MAX_AMPLIFICATION
            ok = ok & (mag <= size)  # a new array: units["ok"] is kept for every batch size
        np.copyto(pack, 0.0, where=~ok[:, None, :])
        self.pack = pack
        #: bins bounded by their modal expansion (the others only by their noise part)
        self.modal = used & ok
        # bins on the edge add their exact noise part at the last evaluated step to the start bound
        self.fallback = used & (~ok | pick(_marginal(model)))

    def _spectral(self, model: RiskModel, rows: np.ndarray | None, with_noise: bool) -> None:
        """Exact doubling: bins bounded by their spectral expansion (:mod:`._spectral`), the others with
        a confluent expansion by that (:mod:`._confluent`: whole, or the mean-path part only), the
        remaining ill-conditioned and edge ones by their noise part."""
        inv = model.inv
        units = model.cache.get("spectral")
        if units is None:
            units = model.cache["spectral"] = spectral_units(inv["D"], inv["b"], inv["init"], inv["out"])
        pick = (lambda v: v) if rows is None else (lambda v: v[rows])  # noqa: E731
        used = pick(model.weight) > 0
        ws = np.where(used, pick(model.weight) * pick(model.start), 0.0)
        wn = np.where(used, pick(model.weight) * pick(model.noise), 0.0)
        self.spectral = SpectralBound(units, ws, wn, rows)
        self.pack = self.spectral.cabs  # marks the certificates as informative
        stable = used & ~pick(_marginal(model))
        self.spectral.ok &= stable
        self.modal = self.spectral.ok
        found = _confluent_units(model, units["ok"], rows, with_noise)
        if found is not None:
            rest = stable & ~self.modal
            self.confluent = ConfluentBound(found, np.where(rest, ws, 0.0), np.where(rest, wn, 0.0), rows)
            self.modal = self.modal | self.confluent.full
        self.fallback = used & ~self.modal

    def _take(self, rows: np.ndarray) -> np.ndarray:
        assert self.pack is not None
        whole = rows.size == self.pack.shape[0] and rows[0] == 0 and rows[-1] == rows.size - 1
        return self.pack if whole else np.take(self.pack, rows, axis=0)  # faster than pack[rows]

    def _point(self, p: np.ndarray, t: np.ndarray, Q: float | np.ndarray, y: float | np.ndarray) -> np.ndarray:
        """Bound at the single step ``t`` (column) given :math:`Q^t` and :math:`|y(t)|`."""
        y = np.where((p[:, self.NEG] > 0) & (np.mod(t, 2.0) == 1.0), -y, y)
        g = p[:, self.A] + (p[:, self.A3] + p[:, self.C] * y) * y
        # complex pairs (R = theta = phi = 0 elsewhere); cos with a margin for the angle's rounding
        x = t * p[:, self.THETA2] - p[:, self.PHI]
        g += p[:, self.R] * (np.cos(x) - 1e-12 * (1.0 + 2.0 * np.abs(x)))
        return np.sum(np.maximum(p[:, self.RHO] + (g - p[:, self.MAG]) * Q, 0.0), axis=-1)

    def lower(self, rows: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        r"""Certified lower bound on :math:`\sum_i \ell_i(t)` over :math:`t\in[a, b]`, per interval,
        from the well-conditioned bins (the others contribute 0 here). Evaluated in blocks."""
        return _blocked(self._lower, self.fallback.shape[-1], rows, a, b)

    def _lower(self, rows: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if self.pack is None:
            return np.zeros(rows.size)
        if self.spectral is not None:
            low = self.spectral.interval(rows, a, b)
            return low if self.confluent is None else low + self.confluent.interval(rows, a, b)
        p = self._take(rows)
        from_zero = not a.any()
        a = a[:, None]
        b = b[:, None]
        with np.errstate(all="ignore"):
            lQ, lrat = p[:, self.LQ], p[:, self.LRAT]
            Qb = np.exp(b * lQ)
            Qa = 1.0 if from_zero else np.exp(a * lQ)
            y_hi = 1.0 if from_zero else np.exp(a * lrat)
            y_lo = np.where(p[:, self.NEG] > 0, -y_hi, np.exp(b * lrat))
            A, A3, C = p[:, self.A], p[:, self.A3], p[:, self.C]
            # min of the quadratic g(y) = A + A3 y + C y^2 over [y_lo, y_hi] (vertex where C > 0)
            g = np.minimum(A + (A3 + C * y_lo) * y_lo, A + (A3 + C * y_hi) * y_hi)
            inside = (C > 0) & (-A3 > 2.0 * C * y_lo) & (-A3 < 2.0 * C * y_hi)
            if inside.any():
                g[inside] = np.minimum(g[inside], A[inside] - 0.25 * A3[inside] ** 2 / C[inside])
            # complex pairs: g = K0 + R cos(2 t theta - phi) >= K0 - R, or better on short spans
            R = p[:, self.R]
            g -= R
            short = (R > 0) & (np.abs(p[:, self.THETA2]) * (b - a) < _TWO_PI - 1e-6)
            if short.any():
                phi = p[:, self.PHI][short]
                th = p[:, self.THETA2][short]
                left, right = np.broadcast_to(a, short.shape)[short], np.broadcast_to(b, short.shape)[short]
                mc = _min_cos(left * th - phi, right * th - phi)
                g[short] += R[short] * (1.0 + mc)
            low = p[:, self.RHO] + np.where(g >= 0, g * Qb, g * Qa) - p[:, self.MAG] * Qa
            return np.sum(np.maximum(low, 0.0), axis=-1)

    def lower_at(self, rows: np.ndarray, t: np.ndarray) -> np.ndarray:
        """:meth:`lower` over the single step ``t`` of each row (cheaper: no minimisation)."""
        return _blocked(self._lower_at, self.fallback.shape[-1], rows, t)

    def _lower_at(self, rows: np.ndarray, t: np.ndarray) -> np.ndarray:
        if self.pack is None:
            return np.zeros(rows.size)
        if self.spectral is not None:
            low = self.spectral.point(rows, t)
            return low if self.confluent is None else low + self.confluent.point(rows, t)
        p = self._take(rows)
        t = t[:, None]
        with np.errstate(all="ignore"):
            return self._point(p, t, np.exp(t * p[:, self.LQ]), np.exp(t * p[:, self.LRAT]))


def _risk_sums(
    model: RiskModel, rows: np.ndarray, t: np.ndarray, fallback: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact risk of the given rows, each at its own step ``t``, summed over bins (in blocks):
    ``(risk, noise part, noise part of the bins marked in fallback[i])``."""

    def block(r: np.ndarray, tt: np.ndarray, *fb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        det, noi = model.take(r).parts(tt[:, None].astype(float))
        marked = np.sum(np.where(fb[0], noi, 0.0), axis=-1) if fb else np.zeros(r.size)
        return np.sum(det + noi, axis=-1), np.sum(noi, axis=-1), marked

    extra = () if fallback is None else (fallback,)
    return _blocked(block, model.weight.shape[-1], rows, t, *extra)


def _scan_sums(model: RiskModel, rows: np.ndarray, start: np.ndarray, length: int) -> np.ndarray:
    r"""Exact risk of the given rows (an exact-doubling model) at the steps ``start[i]``, ...,
    ``start[i] + length - 1``, summed over bins (in blocks): shape ``(rows, length)``.

    Doubling gives the row :math:`r = \mathrm{out}A^a` and the noise sum :math:`N(a)` at the first
    step a (:func:`~._doubling.doubling_state`); then :math:`m(a + j) = rA^j\mathrm{init}`,
    :math:`g(a + j) = rA^jb` and :math:`N(a + j) = N(a) + \sum_{i<j}g(a + i)^2`, with the columns
    :math:`A^j\mathrm{init}`, :math:`A^jb` (:math:`j <` ``length``) built by doubling the block
    :math:`[X, A^pX]`. A few ulps per product on :math:`A^j` (:math:`j \le` :data:`_SCAN_LEAF`): the
    search re-decides by doubling every step within :data:`_SCAN_BAND` of the target."""

    def block(r: np.ndarray, a: np.ndarray) -> np.ndarray:
        sub = model.take(r)
        inv = sub.inv
        shape = sub.weight.shape
        n = inv["D"].shape[-1]
        with np.errstate(all="ignore"):
            row, noise = doubling_state(inv["D"], inv["b"], inv["init"], inv["out"], a[:, None])
            P = np.broadcast_to(inv["D"] + np.eye(n), shape + (n, n))
            X = np.stack([np.broadcast_to(inv[k], shape + (n,)) for k in ("init", "b")], axis=-1)  # (..., n, 2)
            size = 1
            while size < length:  # columns A^j init, A^j b for j < 2 size
                X = np.concatenate([X, np.matmul(P, X)], axis=-1)
                P = np.matmul(P, P)
                size *= 2
            read = np.matmul(row[..., None, :], X)[..., 0, :]  # (..., 2 size): m and g, interleaved
            mean = np.moveaxis(read[..., 0 : 2 * length : 2], -1, 0)
            g = np.moveaxis(read[..., 1 : 2 * length : 2], -1, 0)
            spread = np.concatenate([noise[None], noise + np.cumsum(g[:-1] * g[:-1], axis=0)])
        det, noi = sub.weighted_parts(mean, spread)
        return np.sum(det + noi, axis=-1).T

    return _blocked(block, model.weight.shape[-1] * length, rows, start)


def _marginal(model: RiskModel) -> np.ndarray:
    r"""Elements on the stability edge (spectral radius exactly 1): finite risk at every step.

    From the exact eigenvalue writings of :mod:`._chebyshev`; under exact doubling, where the
    spectral radius computed by ``eigvals`` is within :data:`_EDGE_RTOL` above 1 (it rounds
    :math:`|\lambda| = 1` to :math:`1 + 2^{-52}`, layout-dependently). Searching a slightly
    divergent row like a stable one costs time only: every hit is verified exactly."""
    if "marginal" not in model.cache:
        if model.powers is not None:
            edge = np.broadcast_to(model.powers.marginal, model.weight.shape)
        else:  # eigenvalues only of the elements not already known stable
            shape = model.weight.shape
            edge = ~np.broadcast_to(model.stable, shape) & (model.weight > 0)
            D = np.broadcast_to(model.inv["D"], shape + model.inv["D"].shape[-2:])
            with np.errstate(all="ignore"):
                edge[edge] = spectral_radius(D[edge]) <= 1.0 + _EDGE_RTOL
        model.cache["marginal"] = edge
    return model.cache["marginal"]


def _settled_rows(model: RiskModel) -> np.ndarray:
    """Rows whose every bin (of positive weight) is stable or on the edge; the others never reach any target."""
    return np.nonzero(np.all(model.stable | _marginal(model) | (model.weight <= 0), axis=-1))[0]


def _branch_and_bound(
    model: RiskModel,
    target: float,
    rows: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    best: np.ndarray,
    per_row: bool,
    cert: _Certificates | None = None,
    floor: np.ndarray | None = None,
) -> int | None:
    """Search ``[lo, hi]`` of each row for steps with risk <= target (see module docstring).

    ``per_row``: ``best`` holds one first hit per row (updated in place). Otherwise ``best``
    has one entry, the smallest hit over all rows, and the smallest row index that attains
    it is returned (ties are searched so that the grid's first optimum wins).

    Intervals shorter than :data:`_LEAF` are evaluated exactly at every step. Longer ones
    are evaluated exactly at their left end where a hit is possible there (always for rows
    with fallback bins, whose noise part then bounds the rest), and then halved.

    ``floor`` (indexed like the certificate rows, updated in place): each searched row's entry
    is lowered to the smallest value that certified a step of ``[lo, min(hi, best)]`` (an
    interval's bound, a step's exact risk or point bound, the exact noise part that ruled out
    the rest of an interval), i.e. to a certified lower bound on the row's risk over that range.
    """
    cert = _Certificates(model) if cert is None else cert
    row_fallback = cert.fallback.any(axis=-1)
    # exact doubling: rows with a bin that has no spectral bound (confluent or noise part only) scan
    # their intervals shorter than _SCAN_LEAF in one pass (one doubling and a block of products),
    # cheaper there than the exact evaluations a bisection makes near a hit; the tight spectral
    # bounds rule such intervals out faster
    used = np.take(model.weight, cert.rows, axis=0) > 0
    scanned = (model.powers is None) & ~np.all(~used | (cert.spectral is not None and cert.spectral.ok), axis=-1)
    cap = max(1, min(_MAX_FRONTIER, (_BLOCK_ELEMENTS << 2) // max(1, model.weight.shape[-1])))
    winner: int | None = None

    def record(r: np.ndarray, t: np.ndarray, exact: bool = False, risk: np.ndarray | None = None) -> None:
        """Register the hits among steps ``t`` of rows ``r`` (``exact``: all are known hits; ``risk``:
        their exact risks if already evaluated)."""
        nonlocal winner
        if not exact:
            risk = _risk_sums(model, cert.rows[r], t)[0] if risk is None else risk
            lowest(r, risk)
            hit = risk <= target
            r, t = r[hit], t[hit]
        if r.size == 0:
            return
        if per_row:
            np.minimum.at(best, r, t)
            return
        first = t.min()
        row = int(r[t == first].min())
        if first < best[0] or (first == best[0] and (winner is None or row < winner)):
            best[0], winner = first, row

    def lowest(r: np.ndarray, value: np.ndarray) -> None:
        if floor is not None:
            np.minimum.at(floor, r, value)

    def scan_leaves(r: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool, np.ndarray]:
        """Every step of the intervals ``[a, b]`` of rows ``r``, scanned (:func:`_scan_sums`); the steps
        within :data:`_SCAN_BAND` of the target evaluated by doubling. Arguments of ``record`` (whose floors
        then keep the lower values registered here)."""
        n = (b - a + 1.0).astype(np.int64)
        risk = _scan_sums(model, cert.rows[r], a, int(n.max()))
        inside = np.arange(risk.shape[1]) < n[:, None]
        steps = a[:, None] + np.arange(risk.shape[1])
        rr, tt, risk = np.broadcast_to(r[:, None], inside.shape)[inside], steps[inside], risk[inside]
        near = np.abs(risk - target) <= _SCAN_BAND * target
        if near.any():
            risk[near] = _risk_sums(model, cert.rows[rr[near]], tt[near])[0]
        # as certified lower bounds (floors) the scanned risks count less their possible error
        lowest(rr, risk * (1.0 - _SCAN_BAND))
        return rr, tt, False, risk

    pending: list[tuple[np.ndarray, ...]] = []
    # frontier: rows, interval ends, and the noise floor of the fallback bins
    fr, fa, fb = rows, lo.astype(float), hi.astype(float)
    ff = np.zeros(rows.size)
    while fr.size or pending:
        if fr.size == 0:
            fr, fa, fb, ff = pending.pop()
        fb = np.minimum(fb, best[fr] - 1.0) if per_row else np.minimum(fb, best[0])
        keep = fa <= fb
        fr, fa, fb, ff = fr[keep], fa[keep], fb[keep], ff[keep]
        if fr.size > cap:
            order = np.argsort(fa, kind="stable")
            later, order = order[cap:], order[:cap]
            pending.append((fr[later], fa[later], fb[later], ff[later]))
            fr, fa, fb, ff = fr[order], fa[order], fb[order], ff[order]
        if fr.size == 0:
            continue
        # discard intervals whose certified lower bound exceeds the target
        low = cert.lower(fr, fa, fb)
        keep = low + ff <= target
        lowest(fr[~keep], (low + ff)[~keep])
        fr, fa, fb, ff = fr[keep], fa[keep], fb[keep], ff[keep]
        # short intervals: every step exactly (scanned rows: in one pass per interval)
        scan = scanned[fr] & (fb - fa < _SCAN_LEAF)
        if scan.any():
            record(*scan_leaves(fr[scan], fa[scan], fb[scan]))
            fr, fa, fb, ff = fr[~scan], fa[~scan], fb[~scan], ff[~scan]
        leaf = fb - fa < _LEAF
        if leaf.any():
            n = (fb[leaf] - fa[leaf] + 1.0).astype(np.int64)
            offset = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
            record(np.repeat(fr[leaf], n), np.repeat(fa[leaf], n) + offset)
            fr, fa, fb, ff = fr[~leaf], fa[~leaf], fb[~leaf], ff[~leaf]
        # left ends: evaluated exactly where a hit is possible (always for rows with fallback
        # bins, whose N(a) then bounds [a+1, b] below in total and per bin as the next floor);
        # the point bound at a only for the intervals that survived the interval bound
        ev = row_fallback[fr].copy()
        if not ev.all():
            point = np.nonzero(~ev)[0]
            left = cert.lower_at(fr[point], fa[point])
            ev[point] = left <= target
            lowest(fr[point][left > target], left[left > target])
        if ev.any():
            risk_a, noise_a, marked_a = _risk_sums(model, cert.rows[fr[ev]], fa[ev], cert.fallback[fr[ev]])
            # risk at a; where the noise part rules out [a+1, b], that noise part (<= the risk)
            lowest(fr[ev], np.where(noise_a > target, noise_a, risk_a))
            hit = risk_a <= target
            if hit.any():
                record(fr[ev][hit], fa[ev][hit], exact=True)
            ff = ff.copy()
            ff[ev] = np.where(row_fallback[fr[ev]], marked_a, ff[ev])
            drop = np.zeros(fr.size, dtype=bool)
            drop[np.nonzero(ev)[0]] = hit | (noise_a > target)
            keep = ~drop
            fr, fa, fb, ff = fr[keep], fa[keep], fb[keep], ff[keep]
        fa = fa + 1.0
        keep = fa <= fb
        fr, fa, fb, ff = fr[keep], fa[keep], fb[keep], ff[keep]
        mid = np.floor((fa + fb) / 2.0)
        fr = np.concatenate([fr, fr])
        fa, fb = np.concatenate([fa, mid + 1.0]), np.concatenate([mid, fb])
        ff = np.concatenate([ff, ff])
    return winner


def first_hits(model: RiskModel, target: float) -> np.ndarray:
    """Exact first hit of every row of a flattened model (``inf`` where never), under the tie rule."""
    return _first_hits(model, tie_threshold(target))


def _first_hits(model: RiskModel, target: float) -> np.ndarray:
    """:func:`first_hits` with ``target`` already the tie threshold (as every internal ``target`` here)."""
    rows_total = model.weight.shape[0]
    best = np.full(rows_total, np.inf)
    # step 1: per row, a certified hit (doubling t), or a horizon past which the noise part
    # alone exceeds the target; rows with neither by 2**62 never reach it
    horizon = np.full(rows_total, -1.0)
    todo = _settled_rows(model)
    # a row with a divergent bin is searched at t = 0 only: its start may already meet the target
    unsettled = np.setdiff1d(np.arange(rows_total), todo)
    if unsettled.size:
        best[unsettled[_risk_sums(model, unsettled, np.zeros(unsettled.size))[0] <= target]] = 0.0
    if todo.size:
        risk, noise, _ = _risk_sums(model, todo, np.zeros(todo.size))
        todo = _decide(todo, np.zeros(todo.size), risk[:, None], noise[:, None], target, best, horizon)
    for bottom in range(0, _LOG2_MAX + 1, _GALLOP_LEVELS):
        if not todo.size:
            break
        top = min(bottom + _GALLOP_LEVELS - 1, _LOG2_MAX)
        risk, noise = _gallop_sums(model, todo, bottom, top)
        todo = _decide(todo, np.ldexp(1.0, np.arange(bottom, top + 1)), risk, noise, target, best, horizon)
    cert = _Certificates(model)
    if todo.size and cert.pack is not None:
        horizon[todo] = _bounded_edge_horizons(model, cert, todo, target)
    # step 2: for rows with a hit, a predicted earlier hit, verified exactly
    rows = np.nonzero(np.isfinite(best) & (best > 1))[0]
    if rows.size and cert.pack is not None:
        guess = _predict_hits(cert, rows, best[rows], target, competing=False)
        sooner = guess < best[rows]
        if sooner.any():
            hit = _exact_hits(model, rows[sooner], guess[sooner], target)
            best[rows[sooner][hit]] = guess[sooner][hit]
            horizon[rows[sooner][hit]] = guess[sooner][hit]
    # step 3: branch and bound below each horizon
    rows = np.nonzero(horizon > 0)[0]
    _branch_and_bound(model, target, rows, np.zeros(rows.size), horizon[rows] - 1.0, best, per_row=True, cert=cert)
    return best


def _gallop_sums(model: RiskModel, rows: np.ndarray, bottom: int, top: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact risk and noise part of the given rows at :math:`t = 2^K` for K from ``bottom`` to
    ``top``, summed over bins (in blocks): two arrays of shape ``(rows, top - bottom + 1)``."""
    levels = top - bottom + 1

    def block(r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        det, noi = model.take(r).parts_at_powers_of_two(bottom, top)
        return np.sum(det + noi, axis=-1).T, np.sum(noi, axis=-1).T

    return _blocked(block, model.weight.shape[-1] * levels, rows)


def _decide(
    rows: np.ndarray, t: np.ndarray, risk: np.ndarray, noise: np.ndarray, target: float,
    best: np.ndarray, horizon: np.ndarray,
) -> np.ndarray:
    """One stretch of the doubling search of :func:`_first_hits`: per row the first of the steps
    ``t`` (increasing; ``risk``/``noise`` of shape ``(rows, t)``) that hits the target (recorded in
    ``best`` and ``horizon``) or whose noise part alone exceeds it (``horizon``). Returns the rows
    with neither."""
    hit = risk <= target
    decided = hit | (noise > target)
    done = decided.any(axis=1)
    first = np.argmax(decided, axis=1)[done]
    r = rows[done]
    horizon[r] = t[first]
    hits = hit[done, first]
    best[r[hits]] = t[first][hits]
    return rows[~done]


def _bounded_edge_horizons(model: RiskModel, cert: _Certificates, rows: np.ndarray, target: float) -> np.ndarray:
    r"""Per row neither hit at :math:`t = 2^k` nor ruled out by its noise part up to :math:`2^{62}`:
    the smallest :math:`2^k` with a certified lower bound above the target over
    :math:`[2^k, 2^{62}]`, or -1 (never reached) where there is none.

    Only rows with a bin on the edge qualify (a stable row's risk tends to its noise part, so
    there the doubling already decided), and only if every bin has a modal expansion. Their
    risk is bounded and may dip below the target anywhere, so below the horizon every step
    is searched. A limit of the risk within the rounding margin of the modal bound
    (:data:`_MARGIN` times the magnitude of its terms) above the target leaves no horizon:
    the row is then reported as never reaching the target, the documented floor here."""
    out = np.full(rows.size, -1.0)
    used = model.weight[rows] > 0
    eligible = np.any(_marginal(model)[rows], axis=-1) & np.all(~used | cert.modal[rows], axis=-1)
    if not eligible.any():
        return out
    sub, starts = rows[eligible], 2.0 ** np.arange(_LOG2_MAX + 1)
    ends = np.full(sub.size * starts.size, 2.0**_LOG2_MAX)
    low = cert.lower(np.repeat(sub, starts.size), np.tile(starts, sub.size), ends)
    decisive = (low > target).reshape(sub.size, starts.size)
    out[eligible] = np.where(decisive.any(axis=1), starts[np.argmax(decisive, axis=1)], -1.0)
    return out


def _exact_hits(model: RiskModel, rows: np.ndarray, t: np.ndarray, target: float) -> np.ndarray:
    """Whether the exactly evaluated risk of each row at its step is <= target."""
    return _risk_sums(model, rows, t)[0] <= target


def _hit_at(
    model: RiskModel, cert: _Certificates, rows: np.ndarray, t: np.ndarray, target: float
) -> tuple[float, int] | None:
    """The smallest ``t[i]`` at which row ``rows[i]`` hits exactly (smallest row on ties), or None.

    Rows whose certified lower bound at their step exceeds the target are skipped; the
    others are evaluated exactly in order of increasing bound until the first hit.
    """
    low = cert.lower_at(rows, t)
    maybe = np.nonzero(low <= target)[0]
    maybe = maybe[np.lexsort((rows[maybe], low[maybe], t[maybe]))]
    for lo in range(0, maybe.size, 16):
        chunk = maybe[lo : lo + 16]
        hit = chunk[_exact_hits(model, cert.rows[rows[chunk]], t[chunk], target)]
        if hit.size:
            first = t[hit].min()
            return float(first), int(rows[hit][t[hit] == first].min())
    return None


def _predict_hits(cert: _Certificates, rows: np.ndarray, hi: np.ndarray, target: float, competing: bool) -> np.ndarray:
    r"""Per row, the smallest step in :math:`[0, \text{hi}]` whose certified lower bound allows a hit,
    located by geometric bisection; exact for monotone curves, a guess
    otherwise. Each row needs ``hi`` with a bound :math:`\le` target. ``competing``: only
    rows that can still beat the smallest prediction are refined, to 0.1 %; otherwise every
    row is refined to one step.
    """
    hi = hi.astype(float)
    lo = np.zeros(rows.size)
    while True:
        open_ = hi - lo > (np.maximum(1.0, 1e-3 * hi) if competing else 1.0)
        if competing:
            open_ &= lo < hi.min()
        active = np.nonzero(open_)[0]
        if active.size == 0:
            return hi
        below, above = lo[active], hi[active]
        # geometric midpoints, from 1 when lo = 0: ~log2(log2(hi)) halvings of the log range to a
        # factor 2 (the arithmetic halving from hi = 2**62 down to a hit near 1e6 took ~40)
        mid = np.clip(np.floor(np.sqrt(np.maximum(below, 1.0) * above)), below + 1.0, above - 1.0)
        ok = cert.lower_at(rows[active], mid) <= target
        hi[active[ok]] = mid[ok]
        lo[active[~ok]] = mid[~ok]


def _tighten(model: RiskModel, cert: _Certificates, target: float, rows: np.ndarray, upper: float) -> float:
    """A smaller certified hit than ``upper`` over ``rows``, if the modal bound points to one.

    Only the exact evaluation certifies a hit, so the result is an exact hit (or ``upper``).
    """
    hi = np.full(rows.size, upper)
    rows = rows[cert.lower_at(rows, hi) <= target]
    if rows.size == 0 or upper < 2:
        return upper
    found = _hit_at(model, cert, rows, _predict_hits(cert, rows, hi[: rows.size], target, competing=True), target)
    return min(upper, found[0]) if found is not None else upper


def grid_minimum(
    model: RiskModel, target: float, upper: float = math.inf, *, floor: np.ndarray | None = None
) -> tuple[float, int | None]:
    r"""Smallest first hit over all rows of a flattened model and the first row attaining it.

    ``upper`` may pass a known exact hit (e.g. the previous batch size's optimum, since the
    risk decreases pointwise in B). Returns ``(inf, None)`` when no row reaches the target.

    ``floor`` (optional, one entry per row, updated in place) holds certified lower bounds
    on each row's risk over :math:`[0, \text{upper}]`; rows whose floor exceeds the target
    are skipped. On return each entry is the largest such bound known over
    :math:`[0, \text{result}]` (``inf`` for divergent rows): the bound over the whole range or, for
    a row the branch-and-bound searched, the smallest value that certified one of its steps there
    (an interval's bound, an exact risk, a noise part; :func:`_branch_and_bound`), whichever is
    larger. A batch-size sweep passes
    :math:`B_{\rm prev}/B` times the previous floors: the noise part of the risk scales as
    :math:`1/B` and the start part does not depend on B, so
    :math:`\mathcal L_B \ge (B_{\rm prev}/B)\,\mathcal L_{B_{\rm prev}}` pointwise.
    Hits follow the tie rule of :mod:`._tie`.
    """
    target = tie_threshold(target)
    rows = _settled_rows(model)
    if rows.size == 0:  # every row diverges: only t = 0 is searched (as in first_hits)
        every = np.arange(model.weight.shape[0])
        at_start = np.nonzero(_risk_sums(model, every, np.zeros(every.size))[0] <= target)[0]
        return (0.0, int(at_start[0])) if at_start.size else (math.inf, None)
    if floor is not None:
        unsettled = np.ones(floor.shape, dtype=bool)
        unsettled[rows] = False
        floor[unsettled] = np.inf
        rows = rows[floor[rows] <= target]
    if rows.size == 0:
        return math.inf, None
    # given an upper bound, certificates without the noise parts of confluent bins (their costliest
    # part) until the root bound below has ruled out the rows it can; without one, the noise parts
    # (the stationary risk) rule out most rows in the search for one
    cert = _Certificates(model, None if rows.size == model.weight.shape[0] else rows,
                         with_noise=not math.isfinite(upper))
    local = np.arange(rows.size)
    if not math.isfinite(upper):
        # a global upper bound: the predicted first hit of a row that ends below the target,
        # verified exactly; failing that, the smallest 2**k at which some row hits (bisection)
        end = np.full(rows.size, float(2**_LOG2_MAX))
        ends_below = local[cert.lower_at(local, end) <= target]
        if ends_below.size:
            guess = _predict_hits(cert, ends_below, end[: ends_below.size], target, competing=True)
            found = _hit_at(model, cert, ends_below, guess, target)
            if found is not None:
                upper = found[0]
    best = np.array([float(upper)])
    if not math.isfinite(upper):

        def any_hit(k: int) -> bool:
            return _hit_at(model, cert, local, np.full(rows.size, float(2**k)), target) is not None

        lo_k, hi_k = -1, _LOG2_MAX
        if not any_hit(hi_k):
            hits = _first_hits(model.take(rows), target)
            if not np.isfinite(hits).any():
                return math.inf, None
            best[0] = hits.min()
            return float(best[0]), int(rows[np.nonzero(hits == best[0])[0][0]])
        while hi_k - lo_k > 1:
            mid = (lo_k + hi_k) // 2
            lo_k, hi_k = (lo_k, mid) if any_hit(mid) else (mid, hi_k)
        best[0] = float(2**hi_k)
    # rows whose certified bound over [0, upper] exceeds the target cannot win
    root = cert.lower(local, np.zeros(rows.size), np.full(rows.size, best[0]))
    if floor is not None:
        floor[rows] = np.maximum(floor[rows], root)
    local = local[root <= target]
    if cert.confluent is not None and not cert.with_noise and local.size:
        rows = rows[local]
        cert, local = _Certificates(model, rows), np.arange(local.size)
    best[0] = _tighten(model, cert, target, local, best[0])
    lo, hi = np.zeros(local.size), np.full(local.size, best[0])
    searched = None if floor is None else np.full(rows.size, np.inf)
    winner = _branch_and_bound(model, target, local, lo, hi, best, per_row=False, cert=cert, floor=searched)
    if floor is not None and searched is not None:  # the search's own certificates over [0, result]
        floor[rows[local]] = np.maximum(floor[rows[local]], searched[local])
    return float(best[0]), (None if winner is None else int(rows[winner]))


def steps_to_target(
    problem: Problem,
    opt: OptimizerLike,
    *,
    batch_size: object,
    target: object,
    method: Method = "auto",
    **hyperparameters: object,
) -> int | float | np.ndarray:
    r"""First step t with :math:`\mathbb{E}\mathcal L(t) \le` ``target``; ``math.inf`` if never.

    Exact for non-monotone (underdamped) curves. **Tie rule** (:mod:`nqm.numerics._tie`,
    the same in :func:`tune`, the sweeps, the schedule step search and the Monte-Carlo first
    hits): step t reaches the target when its computed risk is at most
    ``target * (1 + TIE_RTOL)``, ``TIE_RTOL = 2**-40`` (about 9.1e-13, far below the engine's
    1e-10 exactness). A target equal to a value the curve attains (``problem.initial_risk``,
    a value read from :func:`expected_risk`) is thus reached at the first step attaining it,
    whatever rounding separates the two evaluations. For a single optimizer returns an
    ``int`` or ``math.inf``; for a hyperparameter grid (or a ``batch_size`` array) returns
    a float array of the grid's shape with ``inf`` where the target is never reached
    (including divergent settings). Step counts are searched up to 2**62. ``opt`` as for
    :func:`~nqm.numerics.expected_risk` (an instance, or a class, spec or name with the
    hyperparameters as keywords).
    """
    eps = validate_positive("target", target)
    model = build_model(problem, as_optimizer(opt, hyperparameters, "opt"), batch_size, method=method, merge_bins=True)
    grid = model.weight.shape[:-1]
    hits = first_hits(model.flatten(), eps).reshape(grid)
    if grid == ():
        value = float(hits)
        return int(value) if math.isfinite(value) else math.inf
    return hits

