r"""Exact steps-to-target: the first :math:`t \ge 0` with :math:`\mathbb{E}\mathcal L(t) \le \varepsilon`.

The authors' notebook binary-searches t, which silently assumes a monotone risk curve;
underdamped momentum is not monotone. This module finds the first hit exactly with a
branch-and-bound over integer intervals of t, vectorised over whole hyperparameter grids:

1. Each grid point gets a certified hit :math:`t_{\rm hi}` (an exactly evaluated
   :math:`\mathcal L(t_{\rm hi})\le\varepsilon`, found by doubling t), or is settled as
   ``inf``: divergent, or a noise part that provably exceeds the target forever.
2. The interval :math:`[0, t_{\rm hi})` is split recursively. For an interval
   :math:`[a, b]` the risk is evaluated exactly at :math:`a`; the rest is discarded when a
   certified lower bound exceeds the target:

   .. math::

       \min_{a\le t\le b}\mathcal L(t) \ \ge\ N(a) + \sum_i \underline{D}_i(a, b),

   where :math:`N` (the accumulated noise, a sum of squares) is non-decreasing, and the
   start part of bin i is bounded below by :math:`D_i(b)` when its mean path is certified
   monotone (real non-negative eigenvalues and sign conditions on its two modes), by
   :math:`w_i\tfrac12h_iv_iR_i^2r_i^{2b}\min_{[a,b]}\cos^2(t\vartheta_i-\psi_i)` for a complex
   pair (the path is :math:`r^tR\cos(t\vartheta-\psi)`), and by 0 otherwise.
3. Any exact hit tightens :math:`t_{\rm hi}` and prunes every interval to its right.

Every t below the answer is either evaluated exactly or covered by a certified bound, so
the result is the first hit, for monotone and oscillating curves alike.
"""

from __future__ import annotations

import math

import numpy as np

from ._model import Method, RiskModel, build_model
from ._optimizers import Optimizer
from ._problem import Problem

__all__ = ["steps_to_target", "first_hits", "grid_minimum", "validate_target"]

_LOG2_MAX = 62
#: intervals examined per branch-and-bound round (bounds memory; leftmost first)
_MAX_FRONTIER = 1 << 15


def validate_target(target: object) -> float:
    """The target risk as a float, or ``ValueError`` unless finite and positive."""
    try:
        value = float(target)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"target must be a number in (0, inf); got {target!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"target must be a finite number in (0, inf); got {target!r}")
    return value


def _min_cos2(xa: np.ndarray, xb: np.ndarray) -> np.ndarray:
    r""":math:`\min_{x\in[x_a,x_b]}\cos^2 x`, with a margin for rounding in the angles."""
    margin = 1e-12 * (1.0 + np.abs(xa) + np.abs(xb))
    xa = xa - margin
    xb = xb + margin
    k = np.ceil((xa - 0.5 * np.pi) / np.pi)
    zero_inside = (0.5 * np.pi + k * np.pi) <= xb
    ends = np.minimum(np.cos(xa) ** 2, np.cos(xb) ** 2)
    return np.where((xb - xa >= np.pi) | zero_inside, 0.0, ends)


class _Bounds:
    """Per-element certificates for lower bounds on the start part (see module docstring)."""

    def __init__(self, model: RiskModel) -> None:
        shape = model.weight.shape
        zeros = np.zeros(shape)
        self.kind = np.zeros(shape, dtype=np.int8)  # 0: none, 1: monotone, 2: complex, 3: real dominant mode
        self.amp, self.psi, self.theta, self.log_r2 = zeros, zeros, zeros, zeros
        self.alpha1, self.alpha2, self.L1, self.L2 = zeros, zeros, zeros, zeros
        self.scale = model.weight * model.start
        pw = model.powers
        if pw is None:  # doubling engine: no certificates, the bound is N(a) alone
            return
        inv = model.inv
        b = lambda v: np.broadcast_to(v, shape)  # noqa: E731
        u0, u1, stable = b(inv["u0"]), b(inv["u1"]), b(model.stable)
        with np.errstate(all="ignore"):
            if pw.n == 1:
                self.kind = np.where(stable, 1, 0).astype(np.int8)
                return
            flip, cx, positive = b(pw.flip), b(pw.complex_), b(pw.positive)
            sigma, delta, m_abs = b(pw.sigma), b(pw.delta), b(pw.m_abs)
            # monotone mean path: real eigenvalues in [0, 1), dominant mode >= 0, m(0) >= m(1)
            sign = np.where(u0 != 0, np.sign(u0), np.sign(u1))
            a0, a1 = sign * u0, sign * u1
            zero_second = b(pw.lam2) == 0
            monotone = stable & ~flip & ~cx & (positive | zero_second)
            monotone &= (a0 >= 0) & (delta * a0 + a1 >= 0) & (-sigma * a0 - a1 >= 0)
            # complex pair: m(t) = r^t R cos(t theta - psi)
            omega = b(pw.omega)
            ratio = np.where(cx, u1 / np.where(cx, omega, 1.0), 0.0)
            psi = np.arctan2(ratio, u0)
            self.amp = np.where(cx, u0 * u0 + ratio * ratio, 0.0)
            self.psi = np.where(flip, -psi, psi)
            self.theta = np.where(cx, b(pw.theta), 0.0)
            self.log_r2 = np.where(cx, 2.0 * b(pw.log_r), 0.0)
            # well-separated real pair: |m(t)| >= |alpha1| lambda1^t - |alpha2| |lambda2|^t
            separated = stable & ~cx & ~monotone & (delta > 1e-3 * m_abs)
            v1 = np.where(flip, -u1, u1) / np.where(separated, 2.0 * delta, 1.0)
            self.alpha1 = np.where(separated, np.abs(0.5 * u0 + v1), 0.0)
            self.alpha2 = np.where(separated, np.abs(0.5 * u0 - v1), 0.0)
            self.L1 = np.where(separated, b(pw.L1), 0.0)
            lam2 = np.abs(b(pw.lam2))
            self.L2 = np.where(separated & (lam2 > 0), np.log(np.where(lam2 > 0, lam2, 1.0)), -np.inf)
            self.kind = np.select([monotone, cx & stable, separated], [1, 2, 3], 0).astype(np.int8)

    def take(self, rows: np.ndarray) -> _Bounds:
        new = object.__new__(_Bounds)
        new.__dict__.update({k: v[rows] for k, v in self.__dict__.items()})
        return new

    def start_lower(self, det_b: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Lower bound on the start part over ``[a, b]`` (a >= 1) per element (rows x bins)."""
        with np.errstate(all="ignore"):
            osc = self.amp * np.exp(b * self.log_r2) * _min_cos2(a * self.theta - self.psi, b * self.theta - self.psi)
            dom = np.maximum(self.alpha1 * np.exp(b * self.L1) - self.alpha2 * np.exp(a * self.L2), 0.0) ** 2
            low = np.select([self.kind == 1, self.kind == 2, self.kind == 3], [det_b, self.scale * osc, self.scale * dom], 0.0)
        return np.where(np.isfinite(low), low, 0.0)


def _risk_rows(model: RiskModel, rows: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-bin (start, noise) parts of the given rows, each at its own step ``t``."""
    sub = model if rows.size == model.weight.shape[0] and np.array_equal(rows, np.arange(rows.size)) else model.take(rows)
    return sub.parts(t[:, None].astype(float))


def _settled_rows(model: RiskModel) -> np.ndarray:
    """Rows whose every bin (of positive weight) is stable; the others never reach any target."""
    return np.nonzero(np.all(model.stable | (model.weight <= 0), axis=-1))[0]


def _branch_and_bound(
    model: RiskModel,
    target: float,
    rows: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    best: np.ndarray,
    per_row: bool,
) -> int | None:
    """Search ``[lo, hi]`` of each row for steps with risk <= target (see module docstring).

    ``per_row``: ``best`` holds one first hit per row (updated in place). Otherwise ``best``
    has one entry, the smallest hit over all rows, and the smallest row index that attains
    it is returned (ties are searched so that the grid's first optimum wins).
    """
    bounds = _Bounds(model)
    winner: int | None = None
    pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    fr, fa, fb = rows, lo.astype(float), hi.astype(float)
    while fr.size or pending:
        if fr.size == 0:
            fr, fa, fb = pending.pop()
        fb = np.minimum(fb, best[fr] - 1.0) if per_row else np.minimum(fb, best[0])
        keep = fa <= fb
        fr, fa, fb = fr[keep], fa[keep], fb[keep]
        if fr.size > _MAX_FRONTIER:
            order = np.argsort(fa, kind="stable")
            pending.append((fr[order[_MAX_FRONTIER:]], fa[order[_MAX_FRONTIER:]], fb[order[_MAX_FRONTIER:]]))
            fr, fa, fb = fr[order[:_MAX_FRONTIER]], fa[order[:_MAX_FRONTIER]], fb[order[:_MAX_FRONTIER]]
        if fr.size == 0:
            continue
        det_a, noi_a = _risk_rows(model, fr, fa)
        hit = np.sum(det_a + noi_a, axis=-1) <= target
        if hit.any():
            if per_row:
                np.minimum.at(best, fr[hit], fa[hit])
            else:
                first = fa[hit].min()
                row = int(fr[hit][fa[hit] == first].min())
                if first < best[0] or (first == best[0] and (winner is None or row < winner)):
                    best[0], winner = first, row
        rest = ~hit & (fa < fb)
        if not per_row:
            rest &= fa < best[0]
        fr, fa, fb, noi_a = fr[rest], fa[rest], fb[rest], noi_a[rest]
        if fr.size == 0:
            continue
        a1 = fa + 1.0
        det_b, _ = _risk_rows(model, fr, fb)
        lower = np.sum(noi_a, axis=-1) + np.sum(bounds.take(fr).start_lower(det_b, a1[:, None], fb[:, None]), axis=-1)
        survive = lower <= target
        fr, a1, fb = fr[survive], a1[survive], fb[survive]
        mid = np.floor((a1 + fb) / 2.0)
        fr = np.concatenate([fr, fr])
        fa = np.concatenate([a1, mid + 1.0])
        fb = np.concatenate([mid, fb])
    return winner


def first_hits(model: RiskModel, target: float) -> np.ndarray:
    """Exact first hit of every row of a flattened model (``inf`` where never)."""
    rows_total = model.weight.shape[0]
    best = np.full(rows_total, np.inf)
    # step 1: per row, a certified hit (doubling t), or a horizon past which the noise part
    # alone exceeds the target; rows with neither by 2**62 never reach it
    horizon = np.full(rows_total, -1.0)
    todo = _settled_rows(model)
    k = 0
    while todo.size and k <= _LOG2_MAX + 1:
        t = np.full(todo.size, 0.0 if k == 0 else float(2 ** (k - 1)))
        det, noi = _risk_rows(model, todo, t)
        hit = np.sum(det + noi, axis=-1) <= target
        over = (np.sum(noi, axis=-1) > target) & ~hit
        best[todo[hit]] = t[hit]
        horizon[todo[hit | over]] = t[hit | over]
        todo = todo[~(hit | over)]
        k += 1
    # step 2: branch and bound below each horizon
    rows = np.nonzero(horizon > 0)[0]
    _branch_and_bound(model, target, rows, np.zeros(rows.size), horizon[rows] - 1.0, best, per_row=True)
    return best


def grid_minimum(model: RiskModel, target: float, upper: float = math.inf) -> tuple[float, int | None]:
    """Smallest first hit over all rows of a flattened model and the first row attaining it.

    ``upper`` may pass a known exact hit (e.g. the previous batch size's optimum, since the
    risk decreases pointwise in B). Returns ``(inf, None)`` when no row reaches the target.
    """
    rows = _settled_rows(model)
    if rows.size == 0:
        return math.inf, None
    best = np.array([float(upper)])
    if not math.isfinite(upper):
        # a global upper bound: bisect on k for the smallest 2**k at which some row hits
        def any_hit(k: int) -> bool:
            t = np.full(rows.size, float(2**k))
            det, noi = _risk_rows(model, rows, t)
            return bool(np.any(np.sum(det + noi, axis=-1) <= target))

        lo_k, hi_k = -1, _LOG2_MAX
        if not any_hit(hi_k):
            hits = first_hits(model.take(rows), target)
            if not np.isfinite(hits).any():
                return math.inf, None
            best[0] = hits.min()
            return float(best[0]), int(rows[np.nonzero(hits == best[0])[0][0]])
        while hi_k - lo_k > 1:
            mid = (lo_k + hi_k) // 2
            lo_k, hi_k = (lo_k, mid) if any_hit(mid) else (mid, hi_k)
        best[0] = float(2**hi_k)
    winner = _branch_and_bound(model, target, rows, np.zeros(rows.size), np.full(rows.size, best[0]), best, per_row=False)
    return float(best[0]), winner


def steps_to_target(
    problem: Problem,
    opt: Optimizer,
    *,
    batch_size: object,
    target: object,
    method: Method = "auto",
) -> int | float | np.ndarray:
    r"""First step t with :math:`\mathbb{E}\mathcal L(t) \le` ``target``; ``math.inf`` if never.

    Exact for non-monotone (underdamped) curves. For a single optimizer returns an
    ``int`` or ``math.inf``; for a hyperparameter grid (or a ``batch_size`` array) returns
    a float array of the grid's shape with ``inf`` where the target is never reached
    (including divergent settings). Step counts are searched up to 2**62.
    """
    eps = validate_target(target)
    model = build_model(problem, opt, batch_size, method=method)
    grid = model.weight.shape[:-1]
    hits = first_hits(model.flatten(), eps).reshape(grid)
    if grid == ():
        value = float(hits)
        return int(value) if math.isfinite(value) else math.inf
    return hits

