r"""Exact risk under learning-rate schedules (Section 3.7.2, footnote 2).

The paper computes "the exact risk [of a schedule] using dynamic programming with eqn.
(3)": the per-step second-moment recursion. Two exact evaluations are offered here, for
any spec (the schedule varies ``lr``; the other hyperparameters stay fixed;
preconditioning :math:`P = H^p` enters through the equivalent problem of eqs. 8–9):

* :func:`scheduled_risk` — an arbitrary per-step schedule :math:`\alpha_0,\dots,\alpha_{T-1}`
  by the recursion itself, per direction

  .. math::

      m_{t+1} = A_tm_t,\qquad N_{t+1} = A_tN_tA_t^\top + b_tb_t^\top,\qquad
      \mathbb E\mathcal L(t) = \sum_i w_i\tfrac12h_i\bigl[v_i(\mathrm{out}\,m_t)^2
      + \tfrac{c_i}B\,\mathrm{out}\,N_t\,\mathrm{out}^\top\bigr],

  i.e. :math:`S_{t+1} = A_tS_tA_t^\top + \frac cB b_tb_t^\top` split into its start and noise
  parts (eq. 3 for SGD), written with :math:`D_t = A_t - I` so that increments keep their
  relative accuracy when :math:`\alpha h` is tiny, and with the increment
  :math:`D_tN + ND_t^\top + D_tND_t^\top` symmetrised exactly (an asymmetric rounding part
  of :math:`N` would otherwise evolve under the unstable map :math:`X\mapsto X + D_tX - XD_t^\top`).
  Work :math:`O(T)` per bin.
* :func:`piecewise_risk` — a piecewise-constant schedule in :math:`O(\text{pieces})` work,
  each piece applying the closed-form power of its constant transition,
  :math:`S\mapsto A^LSA^{L\top} + \frac cB(\bar S - A^L\bar SA^{L\top})` (and
  :math:`m\mapsto A^Lm`), see :mod:`._schedule_maps`.

:func:`piecewise_risk_gradient` adds the exact gradient in the log learning rates.
"""

from __future__ import annotations

import numpy as np

from ._forms import evaluation_steps, real_array, validate_count
from ._model import validate_batch_size, validate_steps
from ._optimizers import Optimizer, OptimizerLike, as_optimizer
from ._problem import Problem
from ._schedule_maps import (
    LrFamily,
    MapMethod,
    boundary_risk,
    per_bin_risk,
    piece_maps,
    propagate,
    risk_and_gradient,
)

__all__ = [
    "scheduled_risk",
    "piecewise_risk",
    "piecewise_risk_gradient",
    "split_steps",
    "schedule_family",
    "validate_lrs",
    "validate_lengths",
]

#: (schedules x steps x bins) elements whose forms are evaluated at once by the per-step recursion
_CHUNK_ELEMENTS = 1 << 18


def validate_lrs(lrs: object) -> np.ndarray:
    """Learning rates as a float array of at least one dimension; ``ValueError`` unless finite and > 0."""
    arr = real_array("lrs", lrs, "an array of learning rates in (0, inf)")
    if arr.ndim == 0 or arr.shape[-1] == 0:
        raise ValueError(f"lrs must be an array (..., steps or pieces) with at least one entry; got shape {arr.shape}")
    bad = ~np.isfinite(arr) | (arr <= 0)
    if np.any(bad):
        raise ValueError(f"lrs must be finite learning rates in (0, inf); got {arr[bad].ravel()[0]!r}")
    return arr


def validate_lengths(lengths: object, pieces: int) -> np.ndarray:
    """Piece lengths as an int64 array broadcastable to ``(..., pieces)``; integers in [0, 2**62]."""
    try:
        t = validate_steps(lengths)
    except ValueError as exc:
        raise ValueError(str(exc).replace("steps must be", "lengths must be", 1)) from None
    if t.ndim == 0 or t.shape[-1] != pieces:
        raise ValueError(f"lengths must have one entry per piece ({pieces}); got shape {t.shape}")
    return t.astype(np.int64)


def split_steps(total: int, pieces: int) -> np.ndarray:
    """``pieces`` integer lengths summing to ``total``, as equal as possible (the first
    ``total % pieces`` pieces are one step longer)."""
    pieces = validate_count("pieces", pieces, 1)
    total = int(validate_steps(total))
    base, extra = divmod(total, pieces)
    return np.array([base + 1] * extra + [base] * (pieces - extra), dtype=np.int64)


def schedule_optimizer(opt: OptimizerLike) -> Optimizer:
    """The optimizer of a schedule: an instance (its ``lr`` is ignored), or a class, spec or name
    (:func:`~nqm.numerics._optimizers.as_optimizer`) of a spec whose only hyperparameter is ``lr``."""
    return opt if isinstance(opt, Optimizer) else as_optimizer(opt, {"lr": 1.0})


def schedule_family(problem: Problem, opt: OptimizerLike, batch_size: object) -> LrFamily:
    """Resolve ``opt`` (:func:`schedule_optimizer`) into the per-bin data of one schedule problem."""
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be an nqm.numerics.Problem; got {type(problem).__name__}")
    opt = schedule_optimizer(opt)
    B = validate_batch_size(batch_size)
    if B.ndim != 0:
        raise ValueError(f"batch_size must be a single number >= 1 for a schedule; got shape {B.shape}")
    return LrFamily(problem, opt, float(B))


def scheduled_risk(
    problem: Problem, opt: OptimizerLike, *, batch_size: object, lrs: object, steps: object = None
) -> np.ndarray:
    r"""Exact :math:`\mathbb E\mathcal L(t)` under a per-step schedule, by the moment recursion (eq. 3).

    ``lrs[..., t]`` is the learning rate of step t (leading axes: several schedules at once).
    ``steps`` (as for :func:`~nqm.numerics.expected_risk`: a horizon or evaluation times, in
    [0, T]) defaults to every step 0..T. Returns shape
    ``lrs.shape[:-1] + steps.shape``. Divergent schedules give ``inf``, never NaN.
    """
    family = schedule_family(problem, opt, batch_size)
    lr = validate_lrs(lrs)
    T = lr.shape[-1]
    t = np.arange(T + 1, dtype=float) if steps is None else evaluation_steps(steps)
    if t.size and t.max() > T:
        raise ValueError(f"steps must be integers in [0, {T}] (the schedule's length); got {t.max():.0f}")
    flat = t.ravel().astype(np.int64)
    lead = lr.shape[:-1]
    n, bins = family.n, family.h.size
    m = np.broadcast_to(family.init, lead + (bins, n)).copy()
    N = np.zeros(lead + (bins, n, n))
    # (*lead, k): numpy's stubs type the shape lead + (k,) as ()
    per_step = np.full((*lead, int(flat.max()) + 1 if flat.size else 0), np.nan)
    last = per_step.shape[-1] - 1
    wanted = np.zeros(last + 1, dtype=bool)
    wanted[flat] = True
    chunk = max(1, _CHUNK_ELEMENTS // max(1, int(np.prod(lead, dtype=np.int64)) * bins))
    unstable = np.zeros(bins, dtype=bool)  # overflow (inf - inf) in a divergent schedule becomes inf below
    with np.errstate(all="ignore"):
        for lo in range(0, max(last, 0), chunk):
            inv = family.invariants(lr[..., lo : min(lo + chunk, last)])
            D, b = inv["D"], inv["b"]
            for j in range(D.shape[-4]):
                if wanted[lo + j]:
                    per_step[..., lo + j] = np.sum(per_bin_risk(family, m, N, unstable), axis=-1)
                Dj, bj = D[..., j, :, :, :], b[..., j, :, :]
                # (I+D)N(I+D)^T - N, symmetrised exactly: an asymmetric rounding part of N
                # would otherwise evolve under N -> N + DN - ND^T, which is not stable
                DN = Dj @ N
                X = DN + 0.5 * (DN @ np.swapaxes(Dj, -1, -2))
                N = N + (X + np.swapaxes(X, -1, -2)) + bj[..., :, None] * bj[..., None, :]
                m = m + np.einsum("...ij,...j->...i", Dj, m)
        if last >= 0:
            per_step[..., last] = np.sum(per_bin_risk(family, m, N, unstable), axis=-1)
    per_step = np.where(np.isnan(per_step), np.inf, per_step)
    return per_step[..., flat].reshape(lead + t.shape)


def _prepare(problem, opt, batch_size, lrs, lengths) -> tuple[LrFamily, np.ndarray, np.ndarray]:
    family = schedule_family(problem, opt, batch_size)
    lr = validate_lrs(lrs)
    L = validate_lengths(lengths, lr.shape[-1])
    shape = np.broadcast_shapes(lr.shape, L.shape)
    return family, np.broadcast_to(lr, shape), np.broadcast_to(L, shape)


def _boundary_states(family: LrFamily, lr: np.ndarray, L: np.ndarray, method: MapMethod):
    """Maps (pieces first) and the states at every boundary."""
    maps = piece_maps(family, np.moveaxis(lr, -1, 0), np.moveaxis(L, -1, 0), method=method)
    m, N = propagate(family, maps)
    return maps, m, N


def piecewise_risk(
    problem: Problem,
    opt: OptimizerLike,
    *,
    batch_size: object,
    lrs: object,
    lengths: object,
    steps: object = None,
    method: MapMethod = "auto",
) -> np.ndarray:
    r"""Exact :math:`\mathbb E\mathcal L` under a piecewise-constant schedule in O(pieces) work.

    Piece k runs ``lengths[k]`` steps at ``lrs[..., k]`` (leading axes: several schedules).
    Without ``steps`` the result is the risk at every piece boundary
    (steps :math:`0, L_0, L_0+L_1, \dots, T`; shape ``(..., pieces + 1)``); with ``steps``
    (a horizon or evaluation times in [0, T], as for :func:`~nqm.numerics.expected_risk`) the risk
    at those steps (shape ``lrs.shape[:-1] + steps.shape``),
    each from its piece's start state by one closed-form power. ``method`` as in
    :func:`~nqm.numerics.expected_risk`.
    """
    family, lr, L = _prepare(problem, opt, batch_size, lrs, lengths)
    maps, m, N = _boundary_states(family, lr, L, method)
    risk = np.moveaxis(boundary_risk(family, maps, m, N), 0, -1)
    if steps is None:
        return risk
    t = evaluation_steps(steps)
    ends = np.cumsum(L, axis=-1)
    if t.size and np.any(t.max() > ends[..., -1]):
        raise ValueError(
            f"steps must be integers in [0, {int(ends[..., -1].min())}] (the schedule's length); got {t.max():.0f}"
        )
    flat = t.ravel()
    starts = ends - L
    # piece of each step: the last piece starting at or before it (a boundary belongs to the next piece)
    k = np.sum(starts[..., None, :] <= flat[:, None], axis=-1) - 1  # (..., steps)
    k = np.minimum(k, lr.shape[-1] - 1)
    offset = flat - np.take_along_axis(starts, k, axis=-1)
    lr_at = np.take_along_axis(lr, k, axis=-1)
    part = piece_maps(family, lr_at, offset, method=method)
    lead = lr.shape[:-1]
    # states at the start of piece k: m[k], N[k] with m of shape (K+1, ..., bins, n)
    mk = np.take_along_axis(np.moveaxis(m, 0, len(lead)), k.reshape(lead + (-1, 1, 1)), axis=len(lead))
    Nk = np.take_along_axis(np.moveaxis(N, 0, len(lead)), k.reshape(lead + (-1, 1, 1, 1)), axis=len(lead))
    with np.errstate(all="ignore"):
        m_t = np.einsum("...ij,...j->...i", part.P, mk)
        N_t = part.P @ Nk @ np.swapaxes(part.P, -1, -2) + part.Q
    stable_k = np.broadcast_to(maps.stable, maps.P.shape[:-2])  # (K, ..., bins)
    ever = np.logical_or.accumulate(~stable_k, axis=0)
    before = np.concatenate([np.zeros_like(ever[:1]), ever[:-1]], axis=0)
    unstable = np.take_along_axis(np.moveaxis(before, 0, len(lead)), k[..., None], axis=len(lead))
    unstable = unstable | ~np.broadcast_to(part.stable, part.P.shape[:-2])
    out = np.sum(per_bin_risk(family, m_t, N_t, unstable), axis=-1)
    return out.reshape(lead + t.shape)


def piecewise_risk_gradient(
    problem: Problem,
    opt: OptimizerLike,
    *,
    batch_size: object,
    lrs: object,
    lengths: object,
    method: MapMethod = "auto",
) -> tuple[np.ndarray, np.ndarray]:
    r"""Final risk :math:`R` of a piecewise-constant schedule and its exact gradient
    :math:`\partial R/\partial\log\alpha_k` (shapes ``lrs.shape[:-1]`` and ``lrs.shape``).

    The derivative of each piece map is exact (closed form for one-state specs, Fréchet
    doubling otherwise) and is accumulated backwards through the pieces
    (:func:`~nqm.numerics._schedule_maps.gradient`).
    """
    family, lr, L = _prepare(problem, opt, batch_size, lrs, lengths)
    return risk_and_gradient(family, lr, L, method)
