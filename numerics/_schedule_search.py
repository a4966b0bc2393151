r"""Certified minimisation of a schedule's exact final risk at one total, and the search over totals.

**One total** (:func:`certified_minimum`). The final risk :math:`R(\log\alpha_1,\dots,\log\alpha_K)`
of a piecewise-constant schedule is not convex; bounded L-BFGS-B from one start can stop in a
poor local optimum or on a plateau (a piece whose rate has collapsed towards the lower bound has
a vanishing :math:`\partial R/\partial\log\alpha`). So every total is optimised from several
starts (:func:`standard_starts`: the authors' :math:`\log\alpha=-5`, the best constant rate at
this total, a decaying shape, the optimised schedules of neighbouring totals and any schedules a
caller passes in); the run from the authors' start minimises :math:`R` itself with scipy's
default L-BFGS-B tolerances, as the authors do; the others minimise :math:`\log R` with tight
tolerances; the best point is then polished by restarting L-BFGS-B from it until a restart no
longer improves it. The answer is the best *evaluated* point, so its exact risk is at most the
risk of every start (each start is evaluated before any run) and at most the result of the
authors' own optimisation at this total: that is the certificate.

**The search** (:func:`first_feasible`). Let :math:`F(T)` say whether the certified minimum at
total :math:`T` reaches the target. Nothing proves :math:`F` monotone (the exact optimum over
:math:`K` pieces of unequal integer lengths need not be non-increasing in :math:`T`, and the
optimiser finds local optima), so the search does not rely on it for its guarantee. It is a
bracketing search between a total known to fail and one known to succeed, and its invariant holds for
*any* :math:`F`: the total it returns succeeded, the total one below it failed, and every total
it tested that succeeded is at least the one returned (the integer tested at each step, a secant
estimate or the midpoint, only affects how many steps it takes). Hence the rule: **the answer is the
fewest total among those the search tested whose certified risk reaches the target, and the
total one step below it was tested and failed**. Minimality over *all* totals additionally needs
:math:`F` to fail everywhere below the answer; the warm starts make the certified risk smooth in
:math:`T` in practice, and ``benchmarks/bench_schedule.py --scan`` checks it by testing every
total in a window below the answer.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

import numpy as np
from threadpoolctl import threadpool_limits

from ._schedule_coords import LOG_LR_FLOOR, Coordinates, rates
from ._schedule_maps import LrFamily, MapMethod, final_risk
from ._tie import reaches

__all__ = [
    "Minimum",
    "rates",
    "certified_minimum",
    "best_constant_at",
    "best_scale_at",
    "standard_starts",
    "first_feasible",
    "TotalSearch",
    "search_totals",
    "one_blas_thread",
    "LOG_LR_FLOOR",
]

_P = ParamSpec("_P")
_R = TypeVar("_R")

#: the authors' start, log(alpha) = -5 for every piece
AUTHORS_LOG_LR = -5.0
#: steps in a row that did not halve the bracket before :func:`first_feasible` bisects once
_SLOW_STEPS = 3
#: restarts of the final polish at most (each restart must lower the risk to continue)
_POLISH_ROUNDS = 4
#: constant rates tried per decade below the cap by :func:`best_constant_at` (then refined)
_CONSTANT_GRID_PER_DECADE = 20
#: decades below the cap the constant-rate grid spans
_CONSTANT_GRID_DECADES = 9
#: (scales x pieces x bins) elements :func:`best_scale_at` evaluates at once
_SCALE_CHUNK_ELEMENTS = 1 << 21


_blas_lock = threading.Lock()
_blas_users = 0
_blas_limits: threadpool_limits | None = None


@contextmanager
def _single_blas_thread() -> Iterator[None]:
    """BLAS limited to one thread while any caller is inside, in any thread: the limit is
    process-wide, so the first caller in sets it and the last one out restores the previous
    limits (a plain ``threadpool_limits`` per call would let the first call to finish restore
    them under the others, and the last to finish leave one thread for good)."""
    global _blas_users, _blas_limits
    with _blas_lock:
        if _blas_users == 0:
            _blas_limits = threadpool_limits(limits=1, user_api="blas")
        _blas_users += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_users -= 1
            if _blas_users == 0 and _blas_limits is not None:
                _blas_limits.restore_original_limits()
                _blas_limits = None


def one_blas_thread(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run ``fn`` with the BLAS libraries limited to one thread (threadpoolctl).

    scipy's L-BFGS-B calls BLAS and LAPACK on vectors and matrices of a few dozen entries, once
    per iteration; a multi-threaded BLAS wakes its threads for each call, which cost more than
    the rest of the optimisation (about 5x the CPU time of a whole :func:`optimal_schedule` on
    a 2-core machine). The previous limits are restored when the last of the calls running at
    once (e.g. a schedule sweep on threads) returns.
    """

    @functools.wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with _single_blas_thread():
            return fn(*args, **kwargs)

    return wrapper


@dataclass
class Minimum:
    """Best point found: coordinates ``x`` (log learning rates for an lr-only schedule), exact final
    ``risk``, whether the last L-BFGS-B run ``converged`` (or the target was reached), its
    ``message``, risk evaluations."""

    x: np.ndarray
    risk: float
    converged: bool
    message: str
    evaluations: int


class _Reached(Exception):
    """Raised inside an objective once an evaluated schedule reaches ``stop_below``."""


class _Objective:
    """Exact risk and gradient in the coordinates; remembers the best point evaluated."""

    def __init__(self, coords: Coordinates, lengths: np.ndarray, method: MapMethod, stop_below: float | None) -> None:
        self.coords, self.lengths, self.method, self.stop_below = coords, lengths, method, stop_below
        self.best = Minimum(np.empty(0), math.inf, False, "", 0)

    def risks(self, xs: np.ndarray) -> np.ndarray:
        """Risks of several points at once (rows of ``xs``), recorded like single evaluations."""
        risk = self.coords.final_risk(xs, self.lengths, self.method)
        risk = np.where(np.isfinite(risk) & (risk > 0), risk, np.inf)
        for x, r in zip(xs, risk, strict=True):
            self._record(x, float(r))
        return risk

    def _record(self, x: np.ndarray, risk: float) -> None:
        self.best.evaluations += 1
        if risk < self.best.risk:
            self.best.x, self.best.risk = x.copy(), risk
        if self.stop_below is not None and reaches(risk, self.stop_below):
            raise _Reached

    def __call__(self, x: np.ndarray, log: bool) -> tuple[float, np.ndarray]:
        risk, grad = self.coords.risk_and_gradient(x, self.lengths, self.method)
        ok = math.isfinite(risk) and risk > 0
        self._record(x, risk if ok else math.inf)
        if not ok:
            return math.inf, np.zeros_like(x)
        return (math.log(risk), grad / risk) if log else (risk, grad)

    def run(self, x0: np.ndarray, *, authors: bool) -> None:
        """One bounded L-BFGS-B run from ``x0``; ``authors``: on R with scipy's defaults."""
        from scipy.optimize import minimize  # on first use: a fast import nqm.numerics

        options = {} if authors else {"maxiter": 5000, "maxfun": 20000, "ftol": 1e-13, "gtol": 1e-10}
        res = minimize(self, x0, args=(not authors,), jac=True, method="L-BFGS-B",
                       bounds=list(zip(self.coords.lower, self.coords.upper, strict=True)), options=options)
        self.best.converged, self.best.message = bool(res.success), str(res.message)


def certified_minimum(
    coords: Coordinates,
    lengths: np.ndarray,
    starts: Iterable[np.ndarray],
    method: MapMethod,
    stop_below: float | None = None,
) -> Minimum:
    """The best schedule found from ``starts`` (points of ``coords``, clipped into its box; for
    learning rates alone, log rates in ``[LOG_LR_FLOOR, log max_lr]``) at piece ``lengths``; see the
    module docstring.

    Every start is evaluated first; then L-BFGS-B runs from each start in order of increasing
    risk (from :data:`AUTHORS_LOG_LR` everywhere, the authors' way), then the polish. With
    ``stop_below`` the work ends as soon as an evaluated schedule's risk is at most it.
    """
    xs = np.unique(coords.clip(np.array([np.asarray(s, dtype=float) for s in starts])), axis=0)
    f = _Objective(coords, lengths, method, stop_below)
    try:
        order = np.argsort(f.risks(xs), kind="stable")
        for x0 in xs[order]:
            f.run(x0, authors=coords.authors(x0))
        for _ in range(_POLISH_ROUNDS):
            before = f.best.risk
            f.run(f.best.x.copy(), authors=False)
            if not f.best.risk < before:
                break
    except _Reached:
        f.best.converged, f.best.message = True, "reached the target"
    return f.best


def best_constant_at(family: LrFamily, steps: int, max_lr: float, method: MapMethod, extra: np.ndarray) -> float:
    r"""The constant learning rate :math:`\le` ``max_lr`` with the lowest exact risk after ``steps``:
    :func:`best_scale_at` of the one-piece shape :math:`(1)` (a log grid of
    :data:`_CONSTANT_GRID_PER_DECADE` rates per decade over :data:`_CONSTANT_GRID_DECADES` decades
    below the cap, the cap itself and the rates ``extra``, refined between grid neighbours)."""
    return best_scale_at(family, np.ones(1), np.array([steps], dtype=np.int64), max_lr, method, extra)[0]


def best_scale_at(
    family: LrFamily,
    levels: np.ndarray,
    lengths: np.ndarray,
    max_lr: float,
    method: MapMethod,
    extra: np.ndarray,
    per_decade: int = _CONSTANT_GRID_PER_DECADE,
    xatol: float = 1e-10,
    decades: int = _CONSTANT_GRID_DECADES,
) -> tuple[float, float]:
    r"""The scale :math:`s` minimising the exact final risk of the schedule :math:`s\,u_k` (piece k:
    ``lengths[k]`` steps at :math:`s` times ``levels[k]``) with every rate :math:`\le` ``max_lr``,
    i.e. :math:`s \le s_{\max} = \texttt{max\_lr}/\max_k u_k`; returns ``(s, risk)``.

    The best of a log grid (``per_decade`` scales per decade over ``decades`` decades below
    :math:`s_{\max}`, :math:`s_{\max}` itself and the scales ``extra`` up to it),
    refined by a bounded scalar search in :math:`\log s` between its grid neighbours (``xatol``),
    kept only if better: the risk returned is at most that of every grid scale and of ``extra``.
    The grid is evaluated in row chunks of :data:`_SCALE_CHUNK_ELEMENTS` (pieces x bins) elements.
    """
    levels = np.asarray(levels, dtype=float)
    top = max_lr / float(levels.max())
    grid = np.concatenate([
        top * np.logspace(-decades, 0, decades * per_decade + 1),
        np.asarray(extra, dtype=float)[np.asarray(extra) <= top],
    ])
    grid = np.unique(grid)
    rows = max(1, _SCALE_CHUNK_ELEMENTS // (levels.size * family.h.size))
    risk = np.concatenate([
        final_risk(family, chunk[:, None] * levels, np.broadcast_to(lengths, (chunk.size, levels.size)), method)
        for chunk in np.array_split(grid, -(-grid.size // rows))
    ])
    risk = np.where(np.isfinite(risk) & (risk > 0), risk, np.inf)
    i = int(np.argmin(risk))
    lo, hi = math.log(grid[max(i - 1, 0)]), math.log(grid[min(i + 1, grid.size - 1)])
    if hi > lo:
        from scipy.optimize import minimize_scalar  # on first use: a fast import nqm.numerics

        def one(y: float) -> float:
            r = float(final_risk(family, math.exp(y) * levels, lengths, method))
            return r if math.isfinite(r) and r > 0 else math.inf

        res = minimize_scalar(one, bounds=(lo, hi), method="bounded", options={"xatol": xatol})
        if res.fun < risk[i]:
            return min(math.exp(float(res.x)), top), float(res.fun)
    return float(grid[i]), float(risk[i])


def standard_starts(pieces: int, max_lr: float, constant_lr: float, start: np.ndarray) -> list[np.ndarray]:
    r"""The starts every total gets (log learning rates): the authors' :math:`\log\alpha = -5`,
    the caller's ``start``, the constant ``constant_lr`` and a decaying shape, geometric from
    ``max_lr`` down to a tenth of ``constant_lr`` (high rate first, then decay, Fig. 3c)."""
    upper = math.log(max_lr)
    floor = math.log(constant_lr) - math.log(10.0)
    return [
        np.full(pieces, AUTHORS_LOG_LR),
        np.asarray(start, dtype=float),
        np.full(pieces, math.log(constant_lr)),
        np.linspace(upper, min(floor, upper), pieces),
    ]


def first_feasible(
    test: Callable[[int], bool], lo: int, hi: int, estimate: Callable[[int, int], int | None] | None = None
) -> int:
    r"""Bracketing search on the integers for a ``test`` known to fail at ``lo`` and succeed at ``hi``.

    Each step tests one integer strictly inside the bracket and replaces the end of the same
    outcome: ``estimate(lo, hi)`` if it returns one inside, otherwise (and after :data:`_SLOW_STEPS` steps in a
    row that did not halve the bracket, to the nearest integer) the midpoint. Returns ``hi'`` with ``test(hi')`` true
    and ``hi' - 1`` either ``lo`` or tested false; every tested integer that succeeded is
    :math:`\ge` ``hi'``. No monotonicity of ``test`` is assumed for these guarantees (see the
    module docstring); ``estimate`` only changes which integers are tested.
    """
    if not lo < hi:
        raise ValueError(f"the search needs lo < hi; got lo={lo}, hi={hi}")
    slow = 0  # consecutive steps that did not halve the bracket; the midpoint after _SLOW_STEPS
    while hi - lo > 1:
        mid = (lo + hi) // 2
        guess = estimate(lo, hi) if estimate is not None and slow < _SLOW_STEPS else None
        if guess is not None and lo < guess < hi:
            mid = guess
        width = hi - lo
        lo, hi = (lo, mid) if test(mid) else (mid, hi)
        slow = slow + 1 if 2 * (hi - lo) > width + 1 else 0  # a midpoint of an odd width halves it
    return hi


class TotalSearch:
    """The certified feasibility test of a search over totals ``unit * u`` (subclasses define
    :meth:`__call__`, which records the best risk of each tested total in ``searched``), with the
    secant estimates :meth:`estimate` that :func:`first_feasible` uses."""

    def __init__(self, target: float, unit: int) -> None:
        self.target, self.unit = target, unit
        self.searched: dict[int, float] = {}
        self.kept: dict[int, int] = {}  # steps each end of the bracket has been kept (hi as -hi)

    def __call__(self, u: int) -> bool:
        """Whether the certified best risk at total ``unit * u`` reaches the target."""
        raise NotImplementedError

    def estimate(self, lo: int, hi: int) -> int | None:
        """Where the log of the best risks at the bracket's ends, interpolated linearly, meets the
        target (Illinois rule: an end kept for a second step in a row has its residual halved, so
        a curved log risk does not pin the estimates to one side). While the lower end is the
        untested Bayes end, where a risk falling like 1/T from the upper end would meet it."""
        r_lo, r_hi = self.searched.get(lo * self.unit, math.nan), self.searched.get(hi * self.unit, math.nan)
        if not (reaches(r_hi, self.target) and r_hi > 0):
            return None
        if math.isnan(r_lo):  # lo untested (the Bayes end): as if the risk fell like 1/T
            return min(max(math.ceil(hi * r_hi / self.target), lo + 1), hi - 1)
        if not (math.isfinite(r_lo) and r_lo > self.target):
            return None
        a, b = math.log(r_lo / self.target), math.log(r_hi / self.target)
        kept_lo, kept_hi = self.kept.get(lo, -1) + 1, self.kept.get(-hi, -1) + 1
        self.kept = {lo: kept_lo, -hi: kept_hi}
        a, b = a * 0.5 ** max(kept_lo - 1, 0), b * 0.5 ** max(kept_hi - 1, 0)
        return min(max(math.ceil(lo + (hi - lo) * a / (a - b)), lo + 1), hi - 1)


def search_totals(search: TotalSearch, lo: int, hi: int, max_total: int) -> tuple[int | None, int]:
    """The step search of the module docstring over totals ``search.unit * u``: ``lo`` fails
    (untested: the Bayes end), ``hi`` is a guess of a total that succeeds, confirmed by ``search``
    itself and doubled until it succeeds. Returns ``(u, lo)``: the answer of :func:`first_feasible`
    with the secant estimates, or ``(None, lo)`` with ``lo`` the last failed ``u`` once doubling
    passes ``max_total`` steps."""
    hi = max(hi, lo + 1, 1)
    while not search(hi):
        lo, hi = hi, 2 * hi
        if hi * search.unit > max_total:
            return None, lo
    return first_feasible(search, lo, hi, search.estimate), lo
