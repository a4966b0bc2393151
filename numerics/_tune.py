r"""Tuning constant hyperparameters for the fewest steps to a target risk (Section 3.7).

For a batch size B and target :math:`\varepsilon`, :func:`tune` returns

.. math::

    S^*(B) = \min_{\text{grid}}\ \min\{t \ge 0 : \mathbb{E}\mathcal L(t) \le \varepsilon\}

and the first grid point attaining it (grid order: the spec's hyperparameters in their
declared order, the last varying fastest). Every step count is exact, also for
non-monotone curves (:mod:`._steps`); the minimum over the grid comes from one certified
branch-and-bound over all grid points (:func:`~nqm.numerics._steps.grid_minimum`), not from
one search per point. Divergent grid points never reach the target (``inf``) and never win.

The default grids are the paper's (Section 3.7; the authors' notebook):

* SGD (any spec whose only hyperparameter is ``lr``): ``lr = logspace(-5, 0.5, 100)``;
* specs with more hyperparameters (momentum, EMA, Nesterov, QHM, ...):
  ``lr = logspace(-8, 1, 100)`` and ``beta`` / ``gamma = 1 - logspace(-5, 0, 20)``;
* a hyperparameter without a default grid takes its spec's default value
  (:attr:`nqm.theory.Hyperparameter.default`: QHM's ``nu`` is 0.7, Ma & Yarats'
  recommendation) unless given; a user spec's hyperparameter named ``nu`` has no default.

:class:`GridSearch` holds the built grid so that a batch-size sweep (:mod:`._sweep`) builds
the transition invariants once: they do not depend on B.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ._forms import PRECOND_RANGE, Forms, validate_hyperparameter, validate_positive
from ._lru import SizedLRU
from ._model import RiskModel, build_model, validate_batch_size
from ._optimizers import Optimizer, OptimizerLike, as_optimizer_spec, spec_defaults
from ._problem import Problem
from ._steps import first_hits, grid_minimum
from ._tables import Columns, Tabular

__all__ = ["MAX_GRID_POINTS", "TuneResult", "GridSearch", "tune", "clear_tune_cache", "default_grid",
           "tuning_arguments", "OPTIMIZERS_OWN"]

#: most hyperparameter grid points one search holds (its flattened points are ~80 MB per
#: hyperparameter at the limit; the paper's grids have 2,000); larger grids are refused before any work
MAX_GRID_POINTS = 10**7

#: grid points x bins per built model (~30 MB per chunk; chunks this small stay in the CPU caches
#: better: the Fig. 3a tune loop takes ~10 % less CPU time than with 4x larger chunks)
_CHUNK_ELEMENTS = 1 << 16
#: grids up to this many elements keep their built models for reuse across batch sizes
_CACHE_ELEMENTS = 1 << 21
_PAPER_SGD_LR = np.logspace(-5, 0.5, 100)
_PAPER_LR = np.logspace(-8, 1, 100)
_PAPER_DECAY = 1.0 - np.logspace(-5, 0, 20)
#: rounds of grid-edge extension and of local refinement for ``refine=True``
_EXTEND_ROUNDS = 8
_ZOOM_ROUNDS = 4
_ZOOM_POINTS = 9
#: targets whose last optimum a grid search keeps for warm starts
_WARM_TARGETS = 8


class _OptimizersOwn:
    """The default of ``precond_power`` in tuning: an instance's own value, else 0."""

    def __repr__(self) -> str:
        return "<the optimizer's, else 0>"


OPTIMIZERS_OWN: Any = _OptimizersOwn()


def tuning_arguments(
    optimizer: OptimizerLike,
    grid: Mapping[str, ArrayLike] | None,
    fixed: Mapping[str, ArrayLike],
    precond_power: float | np.ndarray,
) -> tuple[Forms, dict[str, ArrayLike], dict[str, ArrayLike], float | np.ndarray]:
    """``(spec's forms, grid, fixed values, precond_power)`` of a tuning call from any optimizer argument
    (:func:`~nqm.numerics._optimizers.as_optimizer_spec`).

    An instance's values take part as given values below ``grid=`` and keywords: a scalar is fixed, a
    1-D array is a grid axis (one at most: an instance's arrays are paired points, a grid is their
    product, so several axes go into ``grid=``); its ``precond_power`` (a scalar) applies unless
    ``precond_power=`` is given (the default :data:`OPTIMIZERS_OWN`: the instance's, else 0).
    """
    ref = as_optimizer_spec(optimizer)
    grid, fixed = dict(grid or {}), dict(fixed)
    used = {p: v for p, v in ref.values.items() if p == "precond_power" or (p not in grid and p not in fixed)}
    arrays = [p for p, v in used.items() if np.ndim(v)]
    if len(arrays) > 1 or "precond_power" in arrays or any(np.ndim(used[p]) > 1 for p in arrays):
        raise ValueError(f"optimizer: an instance may hold one 1-D array (a grid axis) and scalars; got arrays for "
                         f"{', '.join(arrays)} (pass several axes as grid={{...}}, one precond_power per call)")
    for p, value in used.items():
        if p == "precond_power":
            precond_power = value if precond_power is OPTIMIZERS_OWN else precond_power
        else:
            (grid if value.ndim else fixed)[p] = value
    return ref.forms, grid, fixed, 0.0 if precond_power is OPTIMIZERS_OWN else precond_power


def default_grid(optimizer: OptimizerLike) -> dict[str, np.ndarray]:
    """The paper's grid for an optimizer in any form :func:`~nqm.numerics.as_optimizer_spec` accepts
    (module docstring); hyperparameters without a default grid are left out."""
    return _default_grid(as_optimizer_spec(optimizer).forms.params)


def _default_grid(params: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The paper's grid axes of hyperparameters ``params`` (:func:`default_grid`)."""
    grid: dict[str, np.ndarray] = {}
    for p in params:
        if p == "lr":
            grid[p] = _PAPER_SGD_LR if params == ("lr",) else _PAPER_LR
        elif p in ("beta", "gamma"):
            grid[p] = _PAPER_DECAY
    return grid


def _axes(
    forms: Forms, grid: Mapping[str, object] | None, fixed: Mapping[str, object]
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Validated 1-D grid axes (spec order) and fixed scalar hyperparameters."""
    grid = dict(grid or {})
    unknown = [k for k in (*grid, *fixed) if k not in forms.params]
    if unknown:
        raise ValueError(f"{forms.name} has hyperparameters {', '.join(forms.params)}; unknown {', '.join(unknown)}"
                         + (" (pass precond_power= separately)" if "precond_power" in unknown else ""))
    both = [k for k in grid if k in fixed]
    if both:
        raise ValueError(f"hyperparameter {both[0]} is both on the grid and fixed")
    defaults = _default_grid(forms.params)
    axes: dict[str, np.ndarray] = {}
    values: dict[str, float] = {}
    for p in forms.params:
        if p in grid:
            axis = validate_hyperparameter(p, grid[p], forms.ranges[p])
            if axis.ndim != 1 or axis.size == 0:
                raise ValueError(f"grid[{p!r}] must be a non-empty 1-D array; got shape {axis.shape}")
            axes[p] = axis
        elif p in fixed:
            val = validate_hyperparameter(p, fixed[p], forms.ranges[p])
            if val.ndim:
                raise ValueError(f"fixed hyperparameter {p} must be a scalar; put arrays into grid=")
            values[p] = float(val)
        elif p in defaults:
            axes[p] = defaults[p]
        elif p in spec_defaults(forms):  # the theory layer only where no grid or value is given
            values[p] = spec_defaults(forms)[p]
        else:
            raise ValueError(
                f"hyperparameter {p} of {forms.name} needs a grid (grid={{{p!r}: ...}}) or a value ({p}=...)"
            )
    return axes, values


@dataclass(frozen=True)
class _Warm:
    """An optimum of a grid at one batch size: exact fewest ``steps`` and, per chunk, certified lower
    bounds (``floors``) on every grid point's risk over steps ``[0, steps]``."""

    batch_size: float
    steps: float
    floors: tuple[np.ndarray, ...]


class GridSearch:
    """A hyperparameter grid of one spec on one problem, searchable at any batch size.

    The grid is the product of ``axes`` (flattened in C order: first grid point = first
    values). Models are built in chunks of at most :data:`_CHUNK_ELEMENTS` elements and,
    for grids up to :data:`_CACHE_ELEMENTS` elements, kept for reuse at other batch sizes.
    Each call of :meth:`minimum` keeps, per target, its optimum and every grid point's
    certified lower bound on its risk up to it; a later call at a batch size at least as
    large starts from that optimum as an upper bound and from those bounds (scaled by
    :math:`B_{\\rm prev}/B`, see :func:`~nqm.numerics._steps.grid_minimum`), so that points
    far from the optimum are skipped without evaluation. The result never depends on this
    state (every hit is exact, every skip certified), so one search may serve calls in any
    order and from several threads.
    """

    def __init__(
        self,
        problem: Problem,
        forms: Forms,
        axes: Mapping[str, np.ndarray],
        fixed: Mapping[str, float],
        precond_power: float | np.ndarray,
    ) -> None:
        if not isinstance(problem, Problem):
            raise TypeError(f"problem must be an nqm.numerics.Problem; got {type(problem).__name__}")
        self.problem = problem
        self.forms = forms
        self.axes = dict(axes)
        self.fixed = dict(fixed)
        self.precond_power = float(validate_hyperparameter("precond_power", precond_power, PRECOND_RANGE))
        self.shape = tuple(a.size for a in self.axes.values())
        self.size = math.prod(self.shape)
        if self.size > MAX_GRID_POINTS:
            raise ValueError(f"grid has {' x '.join(map(str, self.shape))} = {self.size:,} points; "
                             f"at most {MAX_GRID_POINTS:,} are searched at once (split the grid)")
        mesh = np.meshgrid(*self.axes.values(), indexing="ij") if self.axes else []
        self.points = {k: m.ravel() for k, m in zip(self.axes, mesh)}
        per = max(1, _CHUNK_ELEMENTS // problem.size)
        # equal chunks (no small remainder chunk: each chunk costs a search per call)
        self.chunks = np.array_split(np.arange(self.size), -(-self.size // per))
        self._keep = self.size * problem.size <= _CACHE_ELEMENTS
        self._models: dict[int, RiskModel] = {}
        self._nbytes: dict[int, tuple[int, int]] = {}  # chunk -> (derived entries, bytes) when measured
        # warm start state per target: the last optimum found and its floors (replaced, never mutated)
        self._warm: dict[float, _Warm] = {}
        self._lock = threading.Lock()

    def optimizer(self, index: int | np.ndarray | slice) -> Optimizer:
        """The optimizer at flat grid ``index`` (an array or slice gives a sub-grid)."""
        values = {k: v[index] for k, v in self.points.items()}
        return Optimizer(self.forms, precond_power=self.precond_power, **values, **self.fixed)

    def hyperparameters(self, index: int) -> dict[str, float]:
        """Hyperparameter values of flat grid point ``index`` (grid and fixed)."""
        values = {k: float(v[index]) for k, v in self.points.items()}
        values.update(self.fixed)
        return {p: values[p] for p in self.forms.params}

    def _model(self, k: int, batch_size: float) -> RiskModel:
        model = self._models.get(k)
        if model is None:
            model = build_model(self.problem, self.optimizer(self.chunks[k]), 1.0, merge_bins=True).flatten()
            if self._keep:
                model = self._models.setdefault(k, model)
        return model.with_batch_size(batch_size)

    def nbytes(self) -> int:
        """Bytes held by this search: the kept models (with their batch-size-free derived data), the
        flattened grid, the problem and the warm-start floors."""
        total = 0
        for k, model in list(self._models.items()):
            stamp = len(model.cache)  # derived data is only ever added
            if self._nbytes.get(k, (-1, 0))[0] != stamp:
                self._nbytes[k] = (stamp, model.nbytes())
            total += self._nbytes[k][1]
        with self._lock:
            warm = list(self._warm.values())
        arrays = [*self.points.values(), *self.chunks, *(f for w in warm for f in w.floors),
                  self.problem.h, self.problem.c, self.problem.init_var, self.problem.weights]
        return total + sum(a.nbytes for a in arrays)

    def minimum(self, batch_size: float, target: float, upper: float = math.inf) -> tuple[float, int | None]:
        """Fewest steps over the grid and the first flat index attaining it (``(inf, None)`` if none).

        ``upper`` may pass a known exact hit of some grid point at this batch size. The last
        optimum found for the same target at a batch size :math:`B_{\\rm prev} \\le B` is one (the
        risk is pointwise non-increasing in B) and is used as well, with its per-point floors
        scaled by :math:`B_{\\rm prev}/B` (class docstring); neither changes the result.
        """
        B, eps = float(batch_size), float(target)
        with self._lock:
            warm = self._warm.get(eps)
        if warm is not None and B >= warm.batch_size:
            upper = min(float(upper), warm.steps)
            floors = [f * (warm.batch_size / B) for f in warm.floors]
        else:
            floors = [np.zeros(c.size) for c in self.chunks]
        best, winner = float(upper), None
        for k, rows in enumerate(self.chunks):
            steps, row = grid_minimum(self._model(k, B), eps, best, floor=floors[k])
            if row is not None and (steps < best or winner is None):
                best, winner = steps, int(rows[row])
        if winner is None:
            return math.inf, None
        with self._lock:  # floors now hold certified bounds over [0, best] at B
            self._warm.pop(eps, None)
            self._warm[eps] = _Warm(B, best, tuple(floors))
            while len(self._warm) > _WARM_TARGETS:
                del self._warm[next(iter(self._warm))]
        return best, winner

    def all_steps(self, batch_size: float, target: float) -> np.ndarray:
        """Exact steps to target of every grid point, shaped like the grid (``inf`` where never)."""
        out = np.concatenate([first_hits(self._model(k, float(batch_size)), target) for k in range(len(self.chunks))])
        return out.reshape(self.shape)


@dataclass(frozen=True)
class TuneResult(Tabular):
    """The outcome of :func:`tune`.

    ``steps``: fewest steps to the target (``int``, or ``math.inf`` when no grid point
    reaches it); ``optimizer``: the best optimizer (``None`` when none reaches it);
    ``hyperparameters``: its values; ``index``: its grid index (``None`` if found off the
    grid by refinement); ``grid``: the searched axes; ``grid_optimum``: the best steps on
    the grid itself; ``at_edge``: hyperparameters whose grid optimum lies at an end of
    their axis (the grid, not the model, limits the answer there); ``refined``: whether
    ``refine=True`` continued past the grid; ``grid_steps``: every grid point's steps if
    requested.

    Tables (:class:`~nqm.numerics._tables.Tabular`): ``"optimum"`` (the default; one row:
    ``optimizer``, ``precond_power``, ``batch_size``, ``target``, ``steps``, each
    hyperparameter, ``grid_optimum``, ``at_edge``, ``refined``; steps ``inf`` where never) and,
    with ``grid_steps``, ``"grid"`` (one row per grid point: each axis's value and ``steps``,
    its exact steps to the target). ``to_xarray()``: ``steps`` over the grid's axes, the
    optimum in the attrs.
    """

    steps: int | float
    optimizer: Optimizer | None
    hyperparameters: dict[str, float]
    index: tuple[int, ...] | None
    batch_size: float
    target: float
    precond_power: float
    grid: dict[str, np.ndarray] = field(repr=False)
    grid_optimum: int | float = math.inf
    at_edge: tuple[str, ...] = ()
    refined: bool = False
    grid_steps: np.ndarray | None = field(default=None, repr=False)

    def _tables(self) -> dict[str, tuple[str, ...]]:
        return {"optimum": (), **({"grid": tuple(self.grid)} if self.grid_steps is not None else {})}

    def _columns(self, table: str) -> Columns:
        if table == "grid":
            mesh = np.meshgrid(*self.grid.values(), indexing="ij")
            assert self.grid_steps is not None, "a grid table exists only with grid_steps"
            return {**{k: m.ravel() for k, m in zip(self.grid, mesh)}, "steps": np.ravel(self.grid_steps)}
        name = None if self.optimizer is None else self.optimizer.name
        return {k: [v] for k, v in {
            "optimizer": name, "precond_power": self.precond_power, "batch_size": self.batch_size,
            "target": self.target, "steps": float(self.steps), **self.hyperparameters,
            "grid_optimum": float(self.grid_optimum), "at_edge": " ".join(self.at_edge), "refined": self.refined,
        }.items()}


def _as_steps(value: float) -> int | float:
    return int(value) if math.isfinite(value) else math.inf


def _scale(rng: tuple[float, float, bool, bool]) -> tuple[Any, Any]:
    """Coordinates in which a hyperparameter is refined: log for (0, inf), log(1 - x) for [0, 1)."""
    lo, hi, _, hi_closed = rng
    if lo == 0.0 and math.isinf(hi):
        return np.log, np.exp
    if lo == 0.0 and hi == 1.0 and not hi_closed:
        return (lambda x: np.log1p(-x)), (lambda u: -np.expm1(u))
    return (lambda x: np.asarray(x, dtype=float)), (lambda u: np.asarray(u, dtype=float))


def _clip(values: np.ndarray, rng: tuple[float, float, bool, bool]) -> np.ndarray:
    """The values inside the hyperparameter's range (rounding at the ends removed)."""
    lo, hi, lo_closed, hi_closed = rng
    above = (values >= lo) if lo_closed else (values > lo)
    below = (values <= hi) if hi_closed else (values < hi)
    ok = np.isfinite(values) & above & below
    return values[ok]


def _refine(
    problem: Problem,
    forms: Forms,
    search: GridSearch,
    best_steps: float,
    best: dict[str, float],
    B: float,
    target: float,
) -> tuple[float, dict[str, float], bool]:
    r"""Continue past the grid from the optimum ``best`` (``refine=True`` of :func:`tune`).

    Coordinates: :math:`\log\alpha` for a positive hyperparameter, :math:`\log(1-\beta)`
    for one in [0, 1), linear otherwise (:func:`_scale`).

    1. *Edge extension*: while the optimum lies at an end of an axis, that axis is extended
       beyond it by eight points of the grid's own end spacing, within the
       hyperparameter's range, and the new slab (new values x all other axes) is searched.
    2. *Zoom*: 9 points per axis between the optimum's neighbours are searched, then the
       neighbourhood shrinks to one local spacing around the new optimum (4 rounds).

    Every candidate grid is searched exactly with the incumbent as upper bound; only
    strictly fewer steps replace it, so ties keep the earlier point. Returns the refined
    steps, hyperparameters, and whether a point off the original grid won.
    """
    axes = {k: np.unique(v) for k, v in search.axes.items()}  # sorted
    moved = False

    def try_grid(sub_axes: dict[str, np.ndarray]) -> bool:
        nonlocal best_steps, best, moved
        if any(a.size == 0 for a in sub_axes.values()):
            return False
        sub = GridSearch(problem, forms, sub_axes, search.fixed, search.precond_power)
        steps, idx = sub.minimum(B, target, best_steps)
        if idx is None or not steps < best_steps:
            return False
        best_steps, best, moved = steps, sub.hyperparameters(idx), True
        return True

    for _ in range(_EXTEND_ROUNDS):
        extended = False
        for p, axis in axes.items():
            i = int(np.argmin(np.abs(axis - best[p])))
            if axis.size < 2 or i not in (0, axis.size - 1):
                continue
            fwd, inv = _scale(forms.ranges[p])
            u = fwd(axis)
            end, spacing = (u[0], u[0] - u[1]) if i == 0 else (u[-1], u[-1] - u[-2])
            new = _clip(inv(end + spacing * np.arange(1, 9)), forms.ranges[p])
            new = new[~np.isin(new, axis)]
            if new.size:
                axes[p] = np.unique(np.concatenate([axis, new]))
                extended |= try_grid({q: (new if q == p else axes[q]) for q in axes})
        if not extended:
            break
    window = {}
    for p, axis in axes.items():
        fwd, _ = _scale(forms.ranges[p])
        i = int(np.argmin(np.abs(axis - best[p])))
        window[p] = (float(fwd(axis[max(i - 1, 0)])), float(fwd(axis[min(i + 1, axis.size - 1)])))
    for _ in range(_ZOOM_ROUNDS):
        sub_axes = {}
        for p, (ua, ub) in window.items():
            _, inv = _scale(forms.ranges[p])
            sub_axes[p] = _clip(np.unique(inv(np.linspace(ua, ub, _ZOOM_POINTS))), forms.ranges[p])
        try_grid(sub_axes)
        for p, (ua, ub) in window.items():
            fwd, _ = _scale(forms.ranges[p])
            centre, half = float(fwd(best[p])), abs(ub - ua) / (_ZOOM_POINTS - 1)
            window[p] = (centre - half, centre + half)
    return best_steps, best, moved


#: bytes of built grid models (with their batch-size-free derived data) that :func:`tune` keeps
#: for later calls, least recently used dropped first; the paper's momentum grid takes ~85 MB
TUNE_CACHE_BYTES = 512 * 2**20
_SEARCHES: SizedLRU[GridSearch] = SizedLRU(TUNE_CACHE_BYTES, GridSearch.nbytes)


def clear_tune_cache() -> None:
    """Free the grid models that :func:`tune` keeps for later calls (results never depend on them)."""
    _SEARCHES.clear()


def _search_key(problem: Problem, forms: Forms, axes: Mapping[str, np.ndarray], fixed: Mapping[str, float],
                precond_power: float) -> tuple[Any, ...]:
    """Everything a grid search's results depend on: the problem's arrays (by content, hashed), the
    spec (its compiled forms, one function per spec content), the grid axes (by their bytes), the
    fixed hyperparameters and the preconditioner power (by their exact bits)."""
    digest = hashlib.sha256()
    for array in (problem.h, problem.c, problem.init_var, problem.weights):
        array = np.ascontiguousarray(array, dtype=float)
        digest.update(f"{array.shape}".encode())
        digest.update(array.tobytes())
    grid = tuple((p, a.dtype.str, a.shape, a.tobytes()) for p, a in axes.items())
    return (digest.hexdigest(), forms.name, forms.fn, grid, tuple((p, float(v).hex()) for p, v in fixed.items()),
            precond_power.hex())


def _cached_search(problem: Problem, forms: Forms, axes: Mapping[str, np.ndarray], fixed: Mapping[str, float],
                   precond_power: float | np.ndarray) -> tuple[tuple[Any, ...], GridSearch]:
    """The kept :class:`GridSearch` of these arguments (a new one on a copy of the problem if none)."""
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be an nqm.numerics.Problem; got {type(problem).__name__}")
    p = float(validate_hyperparameter("precond_power", precond_power, PRECOND_RANGE))
    key = _search_key(problem, forms, axes, fixed, p)

    def create() -> GridSearch:
        own = Problem(problem.h, problem.c, problem.init_var, problem.weights, name=problem.name)  # copies
        return GridSearch(own, forms, axes, fixed, p)

    return key, _SEARCHES.get(key, create)


def tune(
    problem: Problem,
    optimizer: OptimizerLike,
    *,
    batch_size: float,
    target: float,
    grid: Mapping[str, ArrayLike] | None = None,
    precond_power: float = OPTIMIZERS_OWN,
    refine: bool = False,
    grid_steps: bool = False,
    **fixed: ArrayLike,
) -> TuneResult:
    r"""Fewest steps to ``target`` over a hyperparameter grid, with the best optimizer.

    ``optimizer`` is a class (``nn.Momentum``), a registered name, an :class:`nqm.theory.OptimizerSpec`
    (or :func:`~nqm.numerics.from_spec` of one) or an instance, whose values are used as
    given (scalars fixed, 1-D arrays grid axes; :func:`tuning_arguments`). ``grid`` maps
    hyperparameter names to 1-D arrays; missing ones take the paper's defaults (module docstring)
    unless fixed by keyword, e.g. ``tune(prob, nn.Momentum, batch_size=B, target=0.01, beta=0.9)`` tunes lr at
    :math:`\beta = 0.9`. ``refine=True`` continues past the grid (edge extension and local
    zoom, see :func:`_refine`) and reports it in ``refined``; ``grid_steps=True`` also
    returns every grid point's exact steps. Ties go to the first grid point.

    **Calls in a loop.** The grid's models (the batch-size-free transition invariants and modal
    certificate data) are kept between calls, keyed by the problem's contents, the spec, the
    grid, the fixed values and ``precond_power`` (:data:`TUNE_CACHE_BYTES` in all, least
    recently used dropped first; :func:`clear_tune_cache` frees them), and a call at a batch size
    at least as large as the previous one for the same target starts from that optimum (see
    :class:`GridSearch`). So tuning at increasing batch sizes one call at a time costs about what
    one :func:`~nqm.numerics.sweep` costs; results are the same in any order.
    """
    forms, grid, fixed, power = tuning_arguments(optimizer, grid, fixed, precond_power)
    B = validate_batch_size(batch_size)
    if B.ndim:
        raise ValueError(f"batch_size must be a single number >= 1; got shape {B.shape} (use nn.sweep for several)")
    eps = validate_positive("target", target)
    axes, values = _axes(forms, grid, fixed)
    key, search = _cached_search(problem, forms, axes, values, power)
    try:
        steps, idx = search.minimum(float(B), eps)
        all_steps = search.all_steps(float(B), eps) if grid_steps else None
    finally:
        _SEARCHES.settle(key)
    result = partial(TuneResult, batch_size=float(B), target=eps, precond_power=search.precond_power, grid=axes,
                     grid_steps=all_steps)
    if idx is None:
        return result(math.inf, None, {}, None)
    index = tuple(int(i) for i in np.unravel_index(idx, search.shape))
    edges = tuple(p for (p, a), i in zip(axes.items(), index) if a.size > 1 and i in (0, a.size - 1))
    hyper = search.hyperparameters(idx)
    best_steps, refined = steps, False
    if refine:
        best_steps, hyper, refined = _refine(problem, forms, search, steps, hyper, float(B), eps)
    opt = Optimizer(forms, precond_power=search.precond_power, **hyper)
    return result(
        _as_steps(best_steps),
        opt,
        hyper,
        None if refined else index,
        grid_optimum=_as_steps(steps),
        at_edge=edges,
        refined=refined,
    )
