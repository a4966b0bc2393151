r"""Exact risk under schedules of any hyperparameter and of the batch size (Section 3.7.2, footnote 2).

The paper computes "the exact risk [of a schedule] using dynamic programming with eqn.
(3)": the per-step second-moment recursion. Here every hyperparameter of a spec and the batch
size may vary with the step (:mod:`nqm.numerics.schedules`); preconditioning :math:`P = H^p`
enters through the equivalent problem of eqs. 8–9. With :math:`u_t` the values of step t
(transition :math:`A_t = I + D_t`, noise gain :math:`b_t`, batch size :math:`B_t`), per direction

.. math::

    m_{t+1} = A_tm_t,\qquad N_{t+1} = A_tN_tA_t^\top + \tfrac1{B_t}b_tb_t^\top,\qquad
    \mathbb E\mathcal L(t) = \sum_i w_i\tfrac12h_i\bigl[v_i(\mathrm{out}\,m_t)^2
    + c_i\,\mathrm{out}\,N_t\,\mathrm{out}^\top\bigr],

i.e. :math:`S_{t+1} = A_tS_tA_t^\top + \frac c{B_t} b_tb_t^\top` split into its start and noise
parts (eq. 3 for SGD; at a constant batch size :math:`N` is carried in units of :math:`c/B`, as
before). Two exact evaluations, chosen per constant segment by their measured cost
(:data:`MAP_COST`):

* **the recursion** itself, written with :math:`D_t` so that increments keep their relative
  accuracy when :math:`\alpha h` is tiny, and with the increment
  :math:`D_tN + ND_t^\top + D_tND_t^\top` symmetrised exactly (an asymmetric rounding part
  of :math:`N` would otherwise evolve under the unstable map :math:`X\mapsto X + D_tX - XD_t^\top`);
  work :math:`O(T)` per bin, blocked (:func:`_step_block`) so that the Python loop is
  :math:`O(\sqrt T)` iterations over arrays;
* **segment maps**: a segment of :math:`L` steps at constant values applies the closed-form power
  of its constant transition, :math:`m\mapsto A^Lm`,
  :math:`N\mapsto A^LNA^{L\top} + \frac1B(\bar S - A^L\bar SA^{L\top})`
  (:mod:`._schedule_maps`); work :math:`O(\text{segments})` however long they are.

A step inside a segment is evaluated from the state at the segment's start by one more power.
:func:`piecewise_risk_gradient` adds the exact gradient in the log learning rates.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np

from ._forms import MAX_HORIZON, evaluation_steps, real_array, validate_count, validate_steps
from ._model import validate_batch_size
from ._optimizers import Optimizer, OptimizerLike, as_optimizer
from ._problem import Problem
from ._schedule_maps import (
    LrFamily,
    MapMethod,
    PieceMaps,
    ScheduleFamily,
    boundary_risk,
    output_risk,
    per_bin_risk,
    piece_maps,
    propagate,
    risk_and_gradient,
    validate_method,
)
from ._schedule_run import ScheduledRun, resolve_run

__all__ = [
    "MAP_COST",
    "scheduled_risk",
    "scheduled_reduce",
    "scheduled_evaluation",
    "piecewise_risk",
    "piecewise_risk_gradient",
    "split_steps",
    "schedule_family",
    "validate_lrs",
    "validate_lengths",
]

#: (schedules x steps x bins x n x n) elements whose transitions the per-step recursion holds at once
_CHUNK_ELEMENTS = 1 << 20

#: the cost of one segment map or one evaluation inside a segment, in steps of the recursion: a
#: segment of L steps holding E evaluation times goes through the recursion when
#: L < MAP_COST (1 + E), through its map otherwise. Measured by
#: ``python benchmarks/bench_scheduled_engine.py --steps 3000 --repeats 2 --lengths 1 2 4 8 16 32 64``
#: (the paper's 100 bins, segments of 1 to 64 steps, every step or the last evaluated) with the
#: blocked recursion: 6-12 with every step evaluated, 8-43 with the last (the maps cost about as
#: much as the recursion over 16-32 steps at the paper's scale); with 20 the automatic choice
#: took the cheaper evaluation in every row (to within 1 ms)
MAP_COST = 20.0

#: reduces per-bin risks (..., bins) to the quantity evaluated (..., ): the risk sums them
Reduce = Callable[[np.ndarray], np.ndarray]


def _sum_bins(per_bin: np.ndarray) -> np.ndarray:
    return np.sum(per_bin, axis=-1)


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


def schedule_optimizer(opt: OptimizerLike, name: str = "opt") -> Optimizer:
    """The optimizer of a schedule: an instance (its ``lr`` is ignored), or a class, spec or name
    (:func:`~nqm.numerics._optimizers.as_optimizer`) of a spec whose only hyperparameter is ``lr``.
    Bad input names ``name``, the caller's parameter (``opt`` in every schedule entry point but
    :func:`scheduled_risk`)."""
    return opt if isinstance(opt, Optimizer) else as_optimizer(opt, {"lr": 1.0}, name)


def schedule_family(problem: Problem, opt: OptimizerLike, batch_size: object) -> LrFamily:
    """Resolve ``opt`` (:func:`schedule_optimizer`) into the per-bin data of one schedule problem."""
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be an nqm.numerics.Problem; got {type(problem).__name__}")
    opt = schedule_optimizer(opt)
    B = validate_batch_size(batch_size)
    if B.ndim != 0:
        raise ValueError(f"batch_size must be a single number >= 1 for a schedule; got shape {B.shape}")
    return LrFamily(problem, opt, float(B))


_State = tuple[np.ndarray, np.ndarray, np.ndarray]


def _mm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Matrix product in the ``(n, n) + elements`` layout (elementwise over the elements: many times
    faster than batched ``matmul`` on tiny matrices; a 1x1 product is one elementwise product)."""
    return np.einsum("ij...,jk...->ik...", a, b)


def _advance(D: np.ndarray, noise: np.ndarray, m: np.ndarray, N: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""One step of the recursion (module docstring) in the ``(n, n) + elements`` layout:
    :math:`m \mapsto m + Dm` (``m`` is ``(n, k) + elements``: a state, k = 1, or a block's
    transition, k = n) and :math:`N \mapsto N + (X + X^\top) + \text{noise}` with
    :math:`X = DN + \tfrac12 DND^\top`: the increment symmetrised exactly (an asymmetric rounding
    part of :math:`N` would otherwise evolve under :math:`N \mapsto N + DN - ND^\top`, which is
    not stable)."""
    DN = _mm(D, N)
    X = DN + 0.5 * _mm(DN, D.swapaxes(0, 1))
    return m + _mm(D, m), N + (X + X.swapaxes(0, 1)) + noise


def _per_step(entry: np.ndarray, at: np.ndarray, a: int) -> np.ndarray:
    """A transition entry given per segment (broadcastable to ``(..., segments, bins)``, ``a``
    leading axes) at the steps of the blocks, ``at[j, k]`` the segment of step j of block k: an
    array broadcastable to ``(L, nb, ..., bins)`` (an entry that does not vary by segment as it is)."""
    if entry.ndim < 2 or entry.shape[-2] == 1:
        return entry if entry.ndim < 2 else entry[..., 0, :]
    return np.moveaxis(np.take(entry, at, axis=-2), (-3, -2), (0, 1))


def _step_block(
    family: ScheduleFamily, values: Mapping[str, np.ndarray], lengths: np.ndarray, run: int, offsets: np.ndarray,
    state: _State, reduce: Reduce,
) -> tuple[np.ndarray, _State]:
    r"""The per-step recursion (module docstring) through segments of ``lengths`` (``(K,)``) at
    ``values`` (name -> ``(..., K)``) from ``state`` = (m, N, unstable), as far as step ``run``;
    returns ``reduce`` of the per-bin risks at the sorted distinct integer ``offsets`` in
    [0, ``run``] (shape ``(..., offsets)``) and the state after ``run`` steps if ``run`` is the
    segments' total (otherwise the state at the end of the last chunk used).

    Blocked, so that the Python loops are :math:`O(\sqrt T)` rather than :math:`O(T)`: a chunk of
    C steps (its forms evaluated once per segment it touches) is split into blocks of
    :math:`L = \lceil\sqrt C\rceil` steps; (1) the recursion applied to :math:`(I, 0)` composes
    every block's map :math:`(P, Q)` (the form of a segment map) in L iterations over all blocks at
    once; (2) :func:`propagate` carries the state through the blocks; (3) the recursion runs inside
    the blocks holding evaluation times from their start states, again L iterations over those
    blocks at once (the risks of a step of all of them reduced together). Chunks and blocks are laid
    on the segments' total, not on ``run``, so a curve to ``run`` is bit for bit the start of the
    longer curve. Padding steps are the identity without noise."""
    m, N, unstable = state
    lead = np.broadcast_shapes(*(v.shape[:-1] for v in values.values()))
    a = len(lead)
    n, bins = family.n, family.h.size
    out = np.empty(lead + (offsets.size,))
    ends = np.cumsum(lengths)
    span = int(ends[-1])
    chunk = max(1, _CHUNK_ELEMENTS // max(1, int(np.prod(lead, dtype=np.int64)) * bins * n * n))
    out_soa = np.moveaxis(family.out, -1, 0).reshape((n,) + (1,) * (a + 1) + (bins,))
    done = 0  # risks written so far
    with np.errstate(all="ignore"):
        for lo in range(0, span, chunk):
            if lo >= run:
                break
            C = min(chunk, span - lo)
            seg = np.searchsorted(ends, np.arange(lo, lo + C), side="right")  # the segment of each step
            first = int(seg[0])
            part = {name: v[..., first : int(seg[-1]) + 1] for name, v in values.items()}
            L = math.isqrt(C - 1) + 1
            nb = -(-C // L)
            at = np.zeros(nb * L, dtype=np.intp)  # the segment of step k L + j, at [j, k]
            at[:C] = seg - first
            at = at.reshape(nb, L).T
            D_entries, b_entries = family.transition_entries(part)
            # per step, in the (n, n) + (L, nb, ..., bins) layout: step j of every block is [:, :, j]
            D = np.empty((n, n, L, nb) + lead + (bins,))
            b = np.empty((n, L, nb) + lead + (bins,))
            for target, entry in zip([*D.reshape((n * n,) + D.shape[2:]), *b], [*D_entries, *b_entries]):
                target[...] = _per_step(entry, at, a)
            # padding steps after the last: the identity without noise
            D[:, :, C - (nb - 1) * L :, nb - 1] = 0.0
            b[:, C - (nb - 1) * L :, nb - 1] = 0.0
            noise = b[:, None] * b[None, :]
            scale = family.noise_scale(part)
            if scale is not None:
                noise = noise * np.moveaxis(np.take(scale, at, axis=-1), (-2, -1), (0, 1))[..., None]
            # (1) the blocks' maps
            P = np.broadcast_to(np.eye(n).reshape((n, n) + (1,) * (a + 2)), (n, n, nb) + lead + (bins,))
            Q = np.zeros_like(P)
            for j in range(L):
                P, Q = _advance(D[:, :, j], noise[:, :, j], P, Q)
            # (2) the state at every block's start
            maps = PieceMaps(np.moveaxis(P, (0, 1), (-2, -1)), np.moveaxis(Q, (0, 1), (-2, -1)), None, None,
                             np.ones((), dtype=bool))
            ms, Ns = propagate(family, maps, (m, N))
            m, N = ms[-1], Ns[-1]
            # (3) inside the blocks holding evaluation times: the outputs out m and out N out^T
            here = offsets[(offsets >= lo) & (offsets < lo + C)].astype(np.int64) - lo
            if here.size:
                blocks, slot = np.unique(here // L, return_inverse=True)
                mk, Nk = np.moveaxis(ms[blocks], -1, 0)[:, None], np.moveaxis(Ns[blocks], (-2, -1), (0, 1))
                if blocks.size < nb:
                    D, noise = D[:, :, :, blocks], noise[:, :, :, blocks]
                top = int((here % L).max())
                risks = []  # per step j: the reduced risks of every block, (blocks, ...)
                for j in range(top + 1):
                    y = np.einsum("i...,i...->...", out_soa, mk[:, 0])
                    noi = np.einsum("i...,ij...,j...->...", out_soa, Nk, out_soa)
                    risks.append(reduce(output_risk(family, y, noi, unstable)))
                    if j < top:
                        mk, Nk = _advance(D[:, :, j], noise[:, :, j], mk, Nk)
                out[..., done : done + here.size] = np.moveaxis(np.stack(risks)[here % L, slot], 0, -1)
                done += here.size
        if done < offsets.size:  # the last offset, ``run``, at the end of a chunk
            out[..., done] = reduce(per_bin_risk(family, m, N, unstable))
    return out, (m, N, unstable)


def _map_block(
    family: ScheduleFamily, values: Mapping[str, np.ndarray], lengths: np.ndarray, offsets: np.ndarray,
    state: _State | None, method: MapMethod, reduce: Reduce,
) -> tuple[np.ndarray, _State]:
    r"""Segment maps over pieces of ``lengths`` (``(..., K)``) at ``values`` (name -> ``(..., K)``, all
    broadcast to one shape) from ``state`` (default: the start); returns ``reduce`` of the per-bin
    risks at ``offsets`` (1-D, integers in [0, ``sum(lengths)``]; shape ``(..., offsets)``) and the
    state after the last piece. A step inside a piece is its piece's start state advanced by one
    more power; a boundary belongs to the next piece."""
    first = {name: np.moveaxis(v, -1, 0) for name, v in values.items()}
    maps = piece_maps(family, first, np.moveaxis(lengths, -1, 0), method=method)
    m, N = propagate(family, maps, None if state is None else state[:2])
    lead = lengths.shape[:-1]
    stable_k = np.broadcast_to(maps.stable, maps.P.shape[:-2])  # (K, ..., bins)
    unstable0 = np.zeros(stable_k.shape[1:], dtype=bool) if state is None else state[2] | np.zeros_like(stable_k[0])
    ever = np.logical_or.accumulate(np.concatenate([unstable0[None], ~stable_k], axis=0), axis=0)
    after = (m[-1], N[-1], ever[-1])
    if offsets.size == 0:
        return np.empty(lead + (0,)), after
    ends = np.cumsum(lengths, axis=-1)
    starts = ends - lengths
    before = np.moveaxis(ever[:-1], 0, len(lead))  # (..., K, bins): unstable before piece k
    ms, Ns = np.moveaxis(m, 0, len(lead)), np.moveaxis(N, 0, len(lead))  # (..., K+1, bins, ...)
    chunk = max(1, _CHUNK_ELEMENTS // max(1, int(np.prod(lead, dtype=np.int64)) * family.h.size))
    parts = []
    for lo in range(0, offsets.size, chunk):
        at = offsets[lo : lo + chunk]
        # piece of each step: the last piece starting at or before it (a boundary belongs to the next piece)
        k = np.sum(starts[..., None, :] <= at[:, None], axis=-1) - 1  # (..., offsets)
        k = np.minimum(k, lengths.shape[-1] - 1)
        offset = at - np.take_along_axis(starts, k, axis=-1)
        part = piece_maps(family, {name: np.take_along_axis(v, k, axis=-1) for name, v in values.items()}, offset,
                          method=method)
        # states at the start of piece k: m[k], N[k]
        mk = np.take_along_axis(ms, k.reshape(lead + (-1, 1, 1)), axis=len(lead))
        Nk = np.take_along_axis(Ns, k.reshape(lead + (-1, 1, 1, 1)), axis=len(lead))
        with np.errstate(all="ignore"):
            m_t = np.einsum("...ij,...j->...i", part.P, mk)
            N_t = part.P @ Nk @ np.swapaxes(part.P, -1, -2) + part.Q
        unstable = np.take_along_axis(before, k[..., None], axis=len(lead))
        unstable = unstable | ~np.broadcast_to(part.stable, part.P.shape[:-2])
        parts.append(reduce(per_bin_risk(family, m_t, N_t, unstable)))
    return np.concatenate(parts, axis=-1), after


def scheduled_reduce(run: ScheduledRun, times: np.ndarray, reduce: Reduce, method: MapMethod = "auto") -> np.ndarray:
    r"""``reduce`` of the per-bin risks of a resolved run at the sorted distinct integer ``times`` in
    [0, T] (1-D): a segment of L steps holding E of the times by the per-step recursion when
    L < :data:`MAP_COST` (1 + E), by its segment map otherwise; runs of consecutive segments of one
    kind at once, each run from the state the previous one left.
    Overflow in a divergent run gives ``inf``, never NaN."""
    family, segs = run.family, run.segments
    values = {name: segs.values[name] for name in family.as_values(segs.values)}
    lengths, starts = segs.lengths, segs.starts
    K = lengths.size
    inside = np.diff(np.searchsorted(times, np.append(starts, np.inf)))  # evaluation times per segment
    short = lengths < MAP_COST * (1 + inside) if values else np.zeros(K, dtype=bool)
    cuts = [0, *(np.flatnonzero(short[1:] != short[:-1]) + 1).tolist(), K]
    out = np.full(times.size, np.nan)
    state: _State | None = None
    last = times[-1] if times.size else -1.0
    for a, b in zip(cuts[:-1], cuts[1:]):
        lo, hi = int(starts[a]), int(starts[a] + lengths[a:b].sum())
        if lo > last:
            break
        pick = (times >= lo) & ((times <= hi) if b == K else (times < hi))
        offsets = times[pick] - lo
        if short[a]:
            run_to = hi - lo if last >= hi else int(offsets[-1])
            if state is None:
                state = (family.init.copy(), np.zeros(family.h.shape + (family.n, family.n)),
                         np.zeros(family.h.shape, dtype=bool))
            out[pick], state = _step_block(family, {name: v[a:b] for name, v in values.items()}, lengths[a:b], run_to,
                                           offsets, state, reduce)
        else:
            out[pick], state = _map_block(family, {name: v[a:b] for name, v in values.items()}, lengths[a:b],
                                          offsets, state, method, reduce)
    return np.where(np.isnan(out), np.inf, out)


def _check_evaluation_count(count: int) -> None:
    """``ValueError`` naming ``steps`` for more than :data:`MAX_HORIZON` + 1 evaluation times."""
    if count > MAX_HORIZON + 1:
        raise ValueError(f"steps: at most {MAX_HORIZON + 1:,} evaluation times (a curve 0..{MAX_HORIZON:,}); "
                         f"got {count:,}")


def _evaluation_plan(steps: object, horizon: object) -> tuple[np.ndarray, int]:
    """The evaluation times of ``steps`` (as everywhere; at most :data:`MAX_HORIZON` + 1 of them) and the
    horizon: ``horizon`` if given (at least the last evaluation time), else the last evaluation time; a
    horizon must be >= 1."""
    if steps is None:
        raise ValueError("steps: give a horizon T (every step 0..T) or an array of evaluation times (or the "
                         "learning rates of every step as lrs=)")
    if isinstance(steps, np.ndarray):  # an array's size before its values are checked
        _check_evaluation_count(steps.size)
    t = evaluation_steps(steps)
    _check_evaluation_count(t.size)
    last = int(t.max()) if t.size else 0
    if horizon is None:
        H = last
    else:
        H = int(validate_steps(horizon, "horizon"))
        if last > H:
            raise ValueError(f"steps must be integers in [0, {H}] (the horizon); got {last}")
    if H < 1:
        raise ValueError(f"horizon must be an integer >= 1 for a schedule; got {H} (steps {steps!r})")
    return t, H


def scheduled_risk(
    problem: Problem,
    optimizer: OptimizerLike,
    *,
    steps: object = None,
    schedule: Mapping[str, object] | None = None,
    batch_size: object = None,
    horizon: object = None,
    lrs: object = None,
    method: MapMethod = "auto",
) -> np.ndarray:
    r"""Exact :math:`\mathbb E\mathcal L(t)` under schedules of any hyperparameters and of the batch size.

    ``schedule`` maps hyperparameter names of the spec (not ``precond_power``) and/or
    ``"batch_size"`` to any schedule form of :func:`nqm.numerics.schedules.as_schedule` (a number, a
    per-step array, a callable of the step, :func:`~nqm.numerics.schedules.piecewise`, a
    :class:`~nqm.numerics.schedules.Schedule` or a preset's name, scaled by the quantity's base value:
    the optimizer instance's). ``optimizer`` is anything :func:`~nqm.numerics.as_optimizer` accepts:
    an instance's values are the constants of the quantities not scheduled; a class, spec or name
    takes the spec's defaults. ``batch_size=`` is a constant batch size (not with
    ``schedule["batch_size"]``), or the base of a preset's name given as ``schedule["batch_size"]``
    (``schedule={"batch_size": "batch_doubling"}, batch_size=64``: 64 doubled at 0.5T and 0.75T).
    ``steps`` is a horizon T (risk at every step 0..T, shape ``(T+1,)``)
    or an array of evaluation times (the risk at those steps, of their shape); the schedules span
    ``horizon`` steps (default: the last evaluation time). Piecewise-constant schedules cost
    :math:`O(\text{segments})` (segment maps), others :math:`O(T)` (the recursion); see the module
    docstring. Divergence gives ``inf``, never NaN. ``method`` selects the segment maps' closed form
    (``"chebyshev"``, at most 2 states) or doubling (any spec), as in
    :func:`~nqm.numerics.expected_risk`.

    **Learning rates alone** (the earlier form): ``scheduled_risk(problem, opt, batch_size=B,
    lrs=lrs)`` with ``lrs[..., t]`` the learning rate of step t (leading axes: several schedules at
    once) runs the recursion; ``steps`` then defaults to every step 0..T (evaluation times in
    [0, T]) and the result has shape ``lrs.shape[:-1] + steps.shape``.
    """
    validate_method(method)  # before any work, whichever evaluation runs
    if lrs is not None:
        if schedule is not None or horizon is not None:
            raise ValueError("lrs: give the learning rates as lrs= (with batch_size=) or as schedule['lr'], "
                             "not with schedule= or horizon=")
        return _lr_per_step(problem, schedule_optimizer(optimizer, "optimizer"), batch_size, lrs, steps)
    return scheduled_evaluation(problem, optimizer, steps, schedule, batch_size, horizon, method, _sum_bins)


def scheduled_evaluation(
    problem: Problem, optimizer: OptimizerLike, steps: object, schedule: Mapping[str, object] | None,
    batch_size: object, horizon: object, method: MapMethod, reduce: Reduce,
) -> np.ndarray:
    """``reduce`` of the per-bin risks of a scheduled run (arguments as for :func:`scheduled_risk`)
    at the evaluation times of ``steps``, in their shape."""
    t, H = _evaluation_plan(steps, horizon)
    run = resolve_run(problem, optimizer, schedule, batch_size, H)
    flat, back = np.unique(t.ravel(), return_inverse=True)
    return scheduled_reduce(run, flat, reduce, method)[back].reshape(t.shape)


def _lr_per_step(problem: Problem, opt: OptimizerLike, batch_size: object, lrs: object, steps: object) -> np.ndarray:
    """:func:`scheduled_risk` with ``lrs=``: the recursion over the learning rates alone."""
    family = schedule_family(problem, opt, batch_size)
    lr = validate_lrs(lrs)
    T = lr.shape[-1]
    t = np.arange(T + 1, dtype=float) if steps is None else evaluation_steps(steps)
    if t.size and t.max() > T:
        raise ValueError(f"steps must be integers in [0, {T}] (the schedule's length); got {t.max():.0f}")
    flat, back = np.unique(t.ravel(), return_inverse=True)
    lead = lr.shape[:-1]
    bins, n = family.h.size, family.n
    state = (np.broadcast_to(family.init, lead + (bins, n)).copy(), np.zeros(lead + (bins, n, n)),
             np.zeros(bins, dtype=bool))
    run = int(flat[-1]) if flat.size else 0
    out, _ = _step_block(family, {"lr": lr}, np.ones(T, dtype=np.int64), run, flat, state, _sum_bins)
    out = np.where(np.isnan(out), np.inf, out)
    return out[..., back].reshape(lead + t.shape)


def _prepare(problem, opt, batch_size, lrs, lengths) -> tuple[LrFamily, np.ndarray, np.ndarray]:
    family = schedule_family(problem, opt, batch_size)
    lr = validate_lrs(lrs)
    L = validate_lengths(lengths, lr.shape[-1])
    shape = np.broadcast_shapes(lr.shape, L.shape)
    return family, np.broadcast_to(lr, shape), np.broadcast_to(L, shape)


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
    r"""Exact :math:`\mathbb E\mathcal L` under a piecewise-constant learning-rate schedule in O(pieces) work.

    Piece k runs ``lengths[k]`` steps at ``lrs[..., k]`` (leading axes: several schedules).
    Without ``steps`` the result is the risk at every piece boundary
    (steps :math:`0, L_0, L_0+L_1, \dots, T`; shape ``(..., pieces + 1)``); with ``steps``
    (a horizon or evaluation times in [0, T], as for :func:`~nqm.numerics.expected_risk`) the risk
    at those steps (shape ``lrs.shape[:-1] + steps.shape``),
    each from its piece's start state by one closed-form power. ``method`` as in
    :func:`~nqm.numerics.expected_risk`. (:func:`scheduled_risk` takes schedules of any
    hyperparameter and of the batch size.)
    """
    family, lr, L = _prepare(problem, opt, batch_size, lrs, lengths)
    if steps is None:
        maps = piece_maps(family, np.moveaxis(lr, -1, 0), np.moveaxis(L, -1, 0), method=method)
        m, N = propagate(family, maps)
        return np.moveaxis(boundary_risk(family, maps, m, N), 0, -1)
    t = evaluation_steps(steps)
    ends = L.sum(axis=-1)
    if t.size and np.any(t.max() > ends):
        raise ValueError(
            f"steps must be integers in [0, {int(ends.min())}] (the schedule's length); got {t.max():.0f}"
        )
    out, _ = _map_block(family, {"lr": lr}, L, t.ravel(), None, method, _sum_bins)
    return out.reshape(lr.shape[:-1] + t.shape)


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
