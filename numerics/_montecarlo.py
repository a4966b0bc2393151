r"""Monte-Carlo simulation of the noisy quadratic model: the actual stochastic updates.

Every run draws a start and a noise sequence and iterates the optimizer's update on every
coordinate (Section 3.1; one eigen-direction per coordinate):

.. math::

    x_{t+1} = A_t\,x_t + b_t\,\xi_t,\qquad \xi_t \sim N(0, c/B_t),\qquad
    x_0 = \mathrm{init}\;\theta(0),\ \ \theta(0) \sim N(0, v),\qquad
    \mathcal L_t = \sum_{\rm coordinates} \tfrac12 h\,(\mathrm{out}\,x_t)^2 .

The coefficients :math:`A = I + D`, :math:`b`, :math:`\mathrm{init}`, :math:`\mathrm{out}`
are the spec's compiled numeric forms (``opt.forms.evaluate``), never retyped here, so
any spec (built-in or user) simulates. Nothing is taken from the moment
equations: this is the check that the moments describe the process.

**Schedules.** Any hyperparameter and the batch size may vary with the step (``schedule=``,
the forms of :mod:`nqm.numerics.schedules`): the schedules are joined into constant segments
(:func:`~nqm.numerics.schedules.segments`), :math:`A_t, b_t` are the forms evaluated at a
segment's values once per segment (a chunk of segments at a time, so memory does not grow with
the horizon), and the noise of step :math:`t` has variance :math:`c/B_t`. ``init`` and ``out``
must not depend on a scheduled quantity. The per-step draws are the same as without a
schedule, so a constant schedule gives the constant result bit for bit.

**Preconditioning** (eqs. 8–9) is simulated in the coordinates
:math:`\tilde\theta = h^{p/2}\theta`, where the update of :math:`P = H^p` is the same
optimizer on :math:`\tilde h = h^{1-p}` with noise variance :math:`\tilde c = c\,h^{-p}`
and start variance :math:`\tilde v = v\,h^{p}`; this change of variables is exact path by
path and leaves every loss value unchanged.

**Weights.** A bin of weight :math:`w` is simulated with :math:`m` i.i.d. coordinates, each
carrying the loss weight :math:`w/m`; scaling a coordinate's loss by :math:`s` is the same
as simulating :math:`\sqrt s\,\theta`, i.e. the bin with noise :math:`s\,c` and start
variance :math:`s\,v`. The simulated system is therefore exactly the NQM
:attr:`MonteCarloResult.simulated_problem` with multiplicities :math:`m`, noise
:math:`c\,w/m` and start variance :math:`v\,w/m`: its expected risk equals that of the
original problem, and the exact variance of one run's loss is
``risk_variance(result.simulated_problem, ...)``. ``simulate="per-coordinate"``
(:math:`m = w`: every coordinate of the model, as ``risk_variance`` reads integer weights, as
multiplicities) makes that the original problem's own ``risk_variance``; ``"per-bin"``
(:math:`m = 1`) simulates one weighted coordinate per bin, the same expected risk at a fraction
of the work (84 coordinates, one per non-empty bin, instead of :math:`10^4` on the paper's
binned problem) with a larger variance of one run, :math:`2\sum_i w_i^2\rho_i^2` against :math:`2\sum_i w_i\rho_i^2`
(:math:`\rho_i` a coordinate's expected risk in bin i). The default, ``"auto"``, is
``"per-coordinate"`` wherever the weights are integers (the model as defined) and ``"per-bin"``
otherwise; ``nqm montecarlo --simulate`` has the same choices and default, and
:attr:`MonteCarloResult.simulate` says which one ran.

**Reproducibility.** Runs are grouped in blocks of
:math:`K = \min(\text{runs}, \lceil 16384/d\rceil)` (``d`` simulated coordinates); block
``k`` draws from ``PCG64(SeedSequence(seed, spawn_key=(k,)))`` first the start of all its
coordinates, then the noise step by step. Time is processed in chunks of
``chunk_bytes``, and because the draws are step-major, the chunk size never changes
which variate goes where: the result is a deterministic function of (problem, optimizer,
batch size, steps, runs, seed, schedule) and is bit-identical for every ``chunk_bytes``.
Consecutive blocks are grouped into tasks of a fixed size (a function of runs, coordinates
and steps only); each task merges its blocks' statistics in order and the tasks are merged
in order, so the result is also bit-identical for every executor and number of workers.
Memory stays bounded by about ``chunk_bytes`` plus a few state vectors of
:math:`K d` entries and :math:`O(\text{steps})` statistics (plus ``runs x steps`` with
``keep_curves=True``).
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from ._cache import register_result_type
from ._forms import _shown, evaluation_steps, real_array, validate_count, validate_hyperparameter
from ._model import validate_batch_size, validate_steps
from ._optimizers import Optimizer, OptimizerLike, as_optimizer
from ._parallel import ExecutorArg, ResultCache, map_tasks, resolve_cache, resolve_executor
from ._problem import Problem
from ._schedule_run import resolve_run
from ._tables import Columns, Tabular
from ._tie import reaches
from .schedules import BATCH_SIZE, ScheduleLike, Segments

__all__ = ["MonteCarloResult", "monte_carlo"]

#: longest simulated horizon (the mean, stderr and quantile curves are kept for every step)
MAX_MONTE_CARLO_STEPS = 10**7

#: most simulated coordinate-steps, runs x coordinates x (steps + 1), of one call: about 13 hours
#: on one core at the 2.2e7 coordinate-steps per second measured on the paper's problem (the
#: default ``nqm montecarlo`` run is 1e9); larger requests are refused before any work
MAX_MONTE_CARLO_WORK = 10**12

#: simulated (run, coordinate) rows per block: long vectors amortise the per-step Python
#: overhead while a few state vectors still fit in the L2 cache
_TARGET_ROWS = 1 << 14
_DEFAULT_CHUNK_BYTES = 1 << 25

#: which coordinates are simulated (module docstring): every coordinate of the model, or one weighted per bin
Simulate = Literal["per-coordinate", "per-bin"]
#: the earlier spelling of ``simulate`` (``coordinates=``), still accepted
_COORDINATES = {"auto": "auto", "multiplicity": "per-coordinate", "scaled": "per-bin"}


@dataclass(frozen=True, eq=False)
class MonteCarloResult(Tabular):
    r"""Empirical risk statistics of ``runs`` independent simulations.

    Attributes
    ----------
    steps:
        the reported steps: :math:`0, 1, \dots, T` for a horizon T, else the evaluation times given.
    mean, stderr:
        the mean loss over runs at each step and its standard error
        (sample standard deviation / :math:`\sqrt{\text{runs}}`); ``inf`` at every step where
        some run overflowed (a divergent setting), never NaN.
    runs, seed:
        the number of runs and the seed they were drawn from.
    simulated_problem:
        the NQM that was simulated, with the same expected risk as the input problem (see
        the module docstring); ``risk_variance(simulated_problem, ...)`` is the exact
        variance of one run's loss, so the exact variance of :attr:`mean` is that over ``runs``.
    simulate:
        the simulation that ran, ``"per-coordinate"`` or ``"per-bin"`` (``"auto"`` resolved; see
        the module docstring); in the tables' attrs and the JSON document too.
    coordinates:
        simulated coordinates per bin, :math:`m_i`.
    curves:
        every run's loss at the reported steps, shape ``(runs, len(steps))``, if requested.
    targets, first_hits:
        the target losses and each run's first step with loss :math:`\le` target (the tie rule of
        :func:`steps_to_target`: at most ``target * (1 + TIE_RTOL)``), shape
        ``(len(targets), runs)``; ``inf`` where a run did not reach it within ``T`` steps.
    quantile_levels, steps_quantiles:
        empirical quantiles (inverted-CDF, no interpolation) of :attr:`first_hits` at those
        levels, shape ``(len(targets), len(levels))``; ``inf`` when fewer runs than the level
        reached the target (the estimate is censored at ``T``).

    Tables (:class:`~nqm.numerics._tables.Tabular`): ``"risk"`` (the default; one row per
    step: ``step``, ``mean``, ``stderr``), ``"curves"`` (if kept; one row per run and step:
    ``run``, ``step``, ``loss``), ``"first_hits"`` (one row per target and run: ``target``,
    ``run``, ``first_hit`` in steps, ``inf`` if never) and ``"quantiles"`` (one row per target
    and level: ``target``, ``quantile``, ``steps``); ``runs``, ``seed``, ``simulate`` and the
    simulated ``problem`` in the attrs.
    ``to_xarray()`` joins them over the dimensions ``step``, ``run``, ``target``, ``quantile``.
    """

    steps: np.ndarray
    mean: np.ndarray
    stderr: np.ndarray
    runs: int
    seed: int | np.random.SeedSequence
    simulated_problem: Problem
    simulate: Simulate
    coordinates: np.ndarray
    curves: np.ndarray | None
    targets: np.ndarray
    first_hits: np.ndarray
    quantile_levels: np.ndarray
    steps_quantiles: np.ndarray

    def _tables(self) -> dict[str, tuple[str, ...]]:
        return {"risk": ("step",), **({"curves": ("run", "step")} if self.curves is not None else {}),
                "first_hits": ("target", "run"), "quantiles": ("target", "quantile")}

    def _columns(self, table: str) -> Columns:
        if table == "risk":
            return {"step": self.steps, "mean": self.mean, "stderr": self.stderr}
        name, values, first, second = {
            "curves": ("loss", self.curves, np.arange(self.runs), self.steps),
            "first_hits": ("first_hit", self.first_hits, self.targets, np.arange(self.runs)),
            "quantiles": ("steps", self.steps_quantiles, self.targets, self.quantile_levels),
        }[table]
        assert values is not None, "a table of curves exists only where they were kept"
        a, b = self._tables()[table]  # values[i, j] is at (first[i], second[j])
        return {a: np.repeat(first, second.size), b: np.tile(second, first.size), name: np.ravel(values)}

    def _meta(self) -> dict[str, Any]:
        seed = self.seed if isinstance(self.seed, int) else str(self.seed)
        return {"runs": self.runs, "seed": seed, "simulate": self.simulate, "problem": self.simulated_problem.name}


def _noise_std(c: np.ndarray, batch_size: float | np.ndarray) -> np.ndarray:
    r"""Standard deviation of the mini-batch gradient noise, :math:`\sqrt{c/B}` (Section 3.1)."""
    return np.sqrt(c / batch_size)


def _validate_list(name: str, value: object, low: float, high: float, closed: bool) -> np.ndarray:
    """A 1-D float array in ``[low, high]`` (``closed``) or ``(low, high)``, else ``ValueError``."""
    interval = f"[{low:g}, {high:g}]" if closed else f"({low:g}, {high:g})"
    arr = np.atleast_1d(real_array(name, value, f"a 1-D list of finite numbers in {interval}"))
    inside = (arr >= low) & (arr <= high) if closed else (arr > low) & (arr < high)
    if arr.ndim != 1 or not np.all(np.isfinite(arr) & inside):
        raise ValueError(f"{name} must be a 1-D list of finite numbers in {interval}; got {_shown(value)}")
    return arr


def _simulation(simulate: object, coordinates: object) -> str:
    """``simulate`` checked (``"auto"``, ``"per-coordinate"`` or ``"per-bin"``), or the earlier
    ``coordinates`` spelling translated (never both)."""
    if coordinates is not None:
        if simulate != "auto":
            raise ValueError("give simulate= or its earlier spelling coordinates=, not both")
        if not isinstance(coordinates, str) or coordinates not in _COORDINATES:
            raise ValueError(f"coordinates must be 'auto', 'multiplicity' or 'scaled'; got {_shown(coordinates)}")
        return _COORDINATES[coordinates]
    if not isinstance(simulate, str) or simulate not in ("auto", "per-coordinate", "per-bin"):
        raise ValueError(f"simulate must be 'auto', 'per-coordinate' or 'per-bin'; got {_shown(simulate)}")
    return simulate


def _simulated(problem: Problem, simulate: str) -> tuple[Problem, np.ndarray, Simulate]:
    """The simulated NQM (multiplicities m, noise c w/m, start v w/m), m as integers, and the
    simulation that ran (``simulate`` checked by :func:`_simulation`, ``"auto"`` resolved)."""
    w = problem.weights
    integer = bool(np.all(w == np.round(w)))
    mode: Simulate = "per-coordinate" if simulate == "per-coordinate" or (simulate == "auto" and integer) else "per-bin"
    if mode == "per-coordinate":
        if not integer:
            raise ValueError("simulate='per-coordinate' needs integer problem.weights (a bin of weight w is w "
                             "coordinates); use 'per-bin' or 'auto'")
        m = w.copy()
    else:
        m = (w > 0).astype(float)
    if not np.any(m > 0):
        raise ValueError("problem.weights must have at least one positive entry (nothing to simulate)")
    scale = np.where(m > 0, w / np.where(m > 0, m, 1.0), 0.0)
    sim = Problem(problem.h, problem.c * scale, problem.init_var * scale, m, name=f"{problem.name} (simulated)")
    return sim, m.astype(np.int64), mode


class _Coefficients:
    """Per-bin update coefficients, one table per setting of the scheduled quantities.

    ``varying`` maps hyperparameter names to their values in each table (shape ``(tables,)``);
    ``batch_size`` is one number or one per table. Nothing varying: a single table.
    """

    def __init__(
        self, problem: Problem, opt: Optimizer, batch_size: float | np.ndarray, varying: Mapping[str, np.ndarray]
    ) -> None:
        h, c, v = problem.preconditioned(opt.precond_power)
        hyper = dict(opt.hyperparameters)
        tables = 1
        for name, values in varying.items():
            hyper[name] = values[:, None]
            tables = values.size
        B = np.asarray(batch_size, dtype=float)
        if B.ndim:  # one batch size per table
            tables = B.size
            B = B[:, None]
        inv = opt.forms.transition(h, c, B, hyper)
        n = int(inv["n"])
        shape = (tables, h.size)

        def table(entries: tuple) -> np.ndarray:
            return np.stack([np.broadcast_to(np.asarray(e, dtype=float), shape) for e in entries])

        D = table(inv["D"]).reshape(n, n, *shape)
        self.n = n
        self.A = D + np.eye(n)[:, :, None, None]
        self.b = table(inv["b"]) * _noise_std(c, B if B.ndim else float(B))
        # init and out do not depend on a scheduled quantity (checked by resolve_run): table 0's
        self.init = table(inv["init"])[:, 0] * np.sqrt(v)
        self.out = table(inv["out"])[:, 0]
        self.loss_weight = 0.5 * h


#: most coefficient entries evaluated at once (tables x bins x (n^2 + n)): schedules with many
#: segments are evaluated a chunk of segments at a time, so memory does not grow with the horizon
_TABLE_ENTRIES = 1 << 20


class _SegmentCoefficients:
    r"""The coefficients :math:`A_k, b_k\sqrt{c/B_k}` of every constant segment of a schedule.

    Segment ``k`` of :class:`~nqm.numerics.schedules.Segments` is one table, evaluated from the
    spec's forms at that segment's values (never once per step); :meth:`chunk` evaluates
    :attr:`chunk_size` consecutive segments at a time. Construction evaluates every chunk once
    to find the entries of :math:`A` and :math:`b` that vanish in every segment and to
    fingerprint the tables for the result cache. ``init`` and ``out`` are those of the first
    segment: they do not depend on a scheduled quantity (:func:`~nqm.numerics._schedule_run.resolve_run`
    refuses such schedules).
    """

    def __init__(self, problem: Problem, opt: Optimizer, batch_size: float | None, segs: Segments) -> None:
        self.problem, self.opt, self.segments = problem, opt, segs
        self.batch_size = batch_size
        first = self._evaluate(0, 1)
        self.n, self.init, self.out, self.loss_weight = first.n, first.init, first.out, first.loss_weight
        self.count = segs.lengths.size
        self.chunk_size = max(1, _TABLE_ENTRIES // (problem.size * (self.n * self.n + self.n)))
        self.nonzero = np.zeros((self.n, self.n), dtype=bool)
        self.noisy = np.zeros(self.n, dtype=bool)
        digest = hashlib.sha256()
        for j in range(math.ceil(self.count / self.chunk_size)):
            coef = self.chunk(j)
            self.nonzero |= np.any(coef.A != 0, axis=(2, 3))
            self.noisy |= np.any(coef.b != 0, axis=(1, 2))
            digest.update(np.ascontiguousarray(coef.A).tobytes())
            digest.update(np.ascontiguousarray(coef.b).tobytes())
        self.fingerprint = digest.hexdigest()

    def _evaluate(self, lo: int, hi: int) -> _Coefficients:
        values = {k: v[lo:hi] for k, v in self.segments.values.items()}
        batch = values.pop(BATCH_SIZE, self.batch_size)
        assert batch is not None, "a batch size is constant or scheduled"
        return _Coefficients(self.problem, self.opt, batch, values)

    def chunk(self, j: int) -> _Coefficients:
        """The tables of segments ``j * chunk_size`` up to ``(j + 1) * chunk_size``."""
        return self._evaluate(j * self.chunk_size, min(self.count, (j + 1) * self.chunk_size))

    def cache_config(self) -> dict[str, object]:
        return {"tables": self.fingerprint, "starts": self.segments.starts, "init": self.init, "out": self.out,
                "loss_weight": self.loss_weight}


class _Simulator:
    """Run blocks of ``K`` runs x ``d`` coordinates, stepping all rows together."""

    def __init__(self, coef: _SegmentCoefficients, counts: np.ndarray, K: int) -> None:
        self.coef = coef
        self.d = int(counts.sum())
        bins = np.repeat(np.arange(counts.size), counts)
        self.bin_of_row = np.tile(bins, K)
        n = coef.n
        # entries that vanish for every bin and every segment are skipped
        self.pairs = [[j for j in range(n) if coef.nonzero[i, j]] for i in range(n)]
        self.noisy = [bool(coef.noisy[i]) for i in range(n)]
        out = coef.out[:, bins]
        unit = [k for k in range(n) if np.all(out[k] == 1) and all(np.all(out[j] == 0) for j in range(n) if j != k)]
        self.unit_out = unit[0] if unit else None
        self.q = np.tile(coef.loss_weight[bins], K)
        self._chunk: tuple[int, _Coefficients] | None = None

    def _rows(self, k: int, rows: int) -> tuple[list, list]:
        """(A, b) per row in segment ``k``; an entry equal in every bin is a float."""
        which = k // self.coef.chunk_size
        if self._chunk is None or self._chunk[0] != which:
            self._chunk = which, self.coef.chunk(which)
        tables, k = self._chunk[1], k - which * self.coef.chunk_size
        idx = self.bin_of_row[:rows]

        def per_row(values: np.ndarray) -> np.ndarray | float:
            return float(values[0]) if np.all(values == values[0]) else values[idx]

        n = self.coef.n
        A = [[per_row(tables.A[i, j, k]) for j in range(n)] for i in range(n)]
        return A, [per_row(tables.b[i, k]) for i in range(n)]

    def run(
        self, rng: np.random.Generator, runs: int, steps: int, chunk_bytes: int
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(first step, losses)`` with losses of shape ``(steps in chunk, runs)``."""
        n, d, coef = self.coef.n, self.d, self.coef
        rows = runs * d
        idx = self.bin_of_row[:rows]
        out = coef.out[:, idx]
        q = self.q[:rows]
        x = coef.init[:, idx] * rng.standard_normal(rows)
        yield 0, self._losses(self._output(x, out, np.empty(rows))[None, :], q, runs)
        starts = coef.segments.starts.tolist() + [steps]  # segment k spans steps starts[k] .. starts[k + 1] - 1
        k = 0
        A, b = self._rows(k, rows)
        new = np.empty_like(x)
        tmp = np.empty(rows)
        length = max(1, min(steps, chunk_bytes // (8 * rows)))
        buf = np.empty((length, rows))
        with np.errstate(over="ignore", invalid="ignore"):
            for start in range(0, steps, length):
                Y = buf[: min(length, steps - start)]
                rng.standard_normal(out=Y)
                for s in range(Y.shape[0]):
                    if start + s == starts[k + 1]:
                        k += 1
                        A, b = self._rows(k, rows)
                    xi = Y[s]
                    for i in range(n):
                        acc = new[i]
                        if self.noisy[i]:
                            np.multiply(b[i], xi, out=acc)
                        else:
                            acc.fill(0.0)
                        for j in self.pairs[i]:
                            np.multiply(A[i][j], x[j], out=tmp)
                            acc += tmp
                    x, new = new, x
                    self._output(x, out, xi)
                yield start + 1, self._losses(Y, q, runs)

    def _output(self, x: np.ndarray, out: np.ndarray, into: np.ndarray) -> np.ndarray:
        r"""``into`` := :math:`\mathrm{out}\,x` per row."""
        if self.unit_out is not None:
            np.copyto(into, x[self.unit_out])
            return into
        np.multiply(out[0], x[0], out=into)
        for k in range(1, self.coef.n):
            into += out[k] * x[k]
        return into

    def _losses(self, Y: np.ndarray, q: np.ndarray, runs: int) -> np.ndarray:
        """Loss per (step, run) from outputs ``Y`` (overwritten); overflow (NaN) reads as ``inf``."""
        with np.errstate(over="ignore", invalid="ignore"):
            np.square(Y, out=Y)
            Y *= q
            L = Y.reshape(Y.shape[0], runs, self.d).sum(axis=2)
        L[np.isnan(L)] = np.inf
        return L


def _chan(
    mean_a: np.ndarray, m2_a: np.ndarray, n_a: int, mean_b: np.ndarray, m2_b: np.ndarray, n_b: int
) -> tuple[np.ndarray, np.ndarray]:
    r"""Mean and sum of squared deviations of two groups of runs merged (Chan et al. 1979):
    :math:`\delta = \bar x_b - \bar x_a`, :math:`\bar x = \bar x_a + \delta\,n_b/n`,
    :math:`M_2 = M_{2,a} + M_{2,b} + \delta^2 n_an_b/n`."""
    if not n_a:
        return mean_b, m2_b
    delta = mean_b - mean_a
    total = n_a + n_b
    return mean_a + delta * (n_b / total), m2_a + m2_b + delta * delta * (n_a * n_b / total)


class _Statistics:
    """Per-step mean and sum of squared deviations merged over run blocks (:func:`_chan`)."""

    def __init__(self, size: int) -> None:
        self.mean = np.zeros(size)
        self.m2 = np.zeros(size)
        self.diverged = np.zeros(size, dtype=bool)

    def add(self, start: int, losses: np.ndarray, count_before: int) -> None:
        """Merge the losses ``(steps, runs)`` of steps ``start, ...`` into ``count_before`` runs."""
        sl = slice(start, start + losses.shape[0])
        with np.errstate(invalid="ignore", over="ignore"):
            mb = losses.mean(axis=1)
            m2b = np.square(losses - mb[:, None]).sum(axis=1)
            mb, m2b = _chan(self.mean[sl], self.m2[sl], count_before, mb, m2b, losses.shape[1])
        # a non-finite loss, or a mean that overflows, marks the step as diverged
        finite = np.all(np.isfinite(losses), axis=1) & np.isfinite(mb)
        self.diverged[sl] |= ~finite
        self.mean[sl] = np.where(finite, mb, np.inf)
        self.m2[sl] = np.where(finite & ~np.isnan(m2b), m2b, np.inf)

    def merge(self, other: _Statistics, count_before: int, count: int) -> None:
        """Merge ``other`` (statistics of ``count`` further runs) into these of ``count_before`` runs."""
        with np.errstate(invalid="ignore", over="ignore"):
            mean, m2 = _chan(self.mean, self.m2, count_before, other.mean, other.m2, count)
        self.diverged |= other.diverged | ~np.isfinite(mean)
        self.mean = np.where(self.diverged, np.inf, mean)
        self.m2 = np.where(self.diverged | np.isnan(m2), np.inf, m2)

    def result(self, runs: int) -> tuple[np.ndarray, np.ndarray]:
        mean = np.where(self.diverged, np.inf, self.mean)
        stderr = np.where(self.diverged, np.inf, np.sqrt(np.maximum(self.m2, 0.0) / (runs - 1) / runs))
        return mean, stderr


def _statistics_from_fields(fields: dict[str, Any]) -> _Statistics:
    """A cached :class:`_Statistics` from its three per-step arrays (the cache's codec)."""
    stats = _Statistics(0)
    stats.mean, stats.m2, stats.diverged = fields["mean"], fields["m2"], fields["diverged"]
    return stats


register_result_type(_Statistics, to_fields=vars, from_fields=_statistics_from_fields)


#: simulated (run, coordinate) rows x steps per task (about a second of work): the blocks of
#: runs are grouped into tasks of this size, a function of (runs, coordinates, steps) only
_TASK_ROW_STEPS = 1 << 25


@dataclass(frozen=True, eq=False)
class _RunBlocks:
    """One task: blocks ``first_block ..`` (``blocks`` of them) of ``block_runs`` runs each."""

    coef: _SegmentCoefficients
    counts: np.ndarray
    steps: int
    runs: int  # all runs of the simulation (the last block may be short)
    block_runs: int
    first_block: int
    blocks: int
    seed: np.random.SeedSequence
    targets: np.ndarray
    keep_curves: bool
    chunk_bytes: int

    @property
    def run_range(self) -> tuple[int, int]:
        first = self.first_block * self.block_runs
        return first, min(self.runs, first + self.blocks * self.block_runs)

    def cache_config(self) -> dict[str, object]:
        return {
            "coef": self.coef, "counts": self.counts,
            "steps": self.steps, "runs": self.runs, "block_runs": self.block_runs, "first_block": self.first_block,
            "blocks": self.blocks, "seed": [self.seed.entropy, list(self.seed.spawn_key), self.seed.pool_size],
            "targets": self.targets, "keep_curves": self.keep_curves,
        }


def _run_blocks(task: _RunBlocks) -> tuple[_Statistics, np.ndarray | None, np.ndarray]:
    """Statistics, curves (``(runs, T + 1)`` or ``None``) and first hits of one task's runs."""
    simulator = _Simulator(task.coef, task.counts, task.block_runs)
    lo, hi = task.run_range
    T = task.steps
    stats = _Statistics(T + 1)
    curves = np.empty((hi - lo, T + 1)) if task.keep_curves else None
    hits = np.full((task.targets.size, hi - lo), np.inf)
    root = task.seed
    for block, first in zip(range(task.first_block, task.first_block + task.blocks), range(lo, hi, task.block_runs)):
        size = min(task.block_runs, hi - first)
        key = (*root.spawn_key, block)
        child = np.random.SeedSequence(root.entropy, spawn_key=key, pool_size=root.pool_size)
        rng = np.random.Generator(np.random.PCG64(child))
        block_hits = hits[:, first - lo : first - lo + size]
        for start, losses in simulator.run(rng, size, T, task.chunk_bytes):
            stats.add(start, losses, first - lo)
            if curves is not None:
                curves[first - lo : first - lo + size, start : start + losses.shape[0]] = losses.T
            if task.targets.size:
                reached = reaches(losses[None, :, :], task.targets[:, None, None])
                new = np.isinf(block_hits) & reached.any(axis=1)
                block_hits[new] = (start + reached.argmax(axis=1))[new]
    return stats, curves, hits


def monte_carlo(
    problem: Problem,
    opt: OptimizerLike,
    *,
    steps: object,
    runs: object,
    batch_size: object = None,
    schedule: Mapping[str, ScheduleLike] | None = None,
    seed: int | np.random.SeedSequence = 0,
    lr_schedule: object | None = None,
    targets: ArrayLike = (),
    quantiles: ArrayLike = (0.1, 0.5, 0.9),
    keep_curves: bool = False,
    simulate: Literal["auto", "per-coordinate", "per-bin"] = "auto",
    coordinates: Literal["auto", "multiplicity", "scaled"] | None = None,
    chunk_bytes: int = _DEFAULT_CHUNK_BYTES,
    executor: ExecutorArg = None,
    cache: ResultCache | str | os.PathLike[str] | bool | None = None,
    progress: Callable[[Iterable[Any], int], Iterable[Any]] | None = None,
    **hyperparameters: object,
) -> MonteCarloResult:
    r"""Simulate ``runs`` independent runs of ``opt`` on ``problem`` for ``steps`` updates.

    Parameters
    ----------
    problem, opt:
        the NQM and one optimizer (not a grid) of any spec, with its
        ``precond_power``: an instance, or a class, spec or name with the hyperparameters as
        keywords (as for :func:`~nqm.numerics.expected_risk`).
    batch_size:
        a constant :math:`B \ge 1`; the gradient noise of a step has variance :math:`c/B` per
        coordinate. Required unless ``schedule`` gives ``"batch_size"`` (then an error, except
        that a preset's name there takes ``batch_size`` as its base).
    schedule:
        optional mapping from hyperparameter names of the spec (not ``precond_power``) and/or
        ``"batch_size"`` to schedules, in any form :func:`nqm.numerics.schedules.as_schedule`
        accepts (a preset's name is scaled by the optimizer's value), over the horizon
        :math:`T` = the largest step; the quantities not scheduled keep the optimizer's values.
        The update from step :math:`t` to :math:`t+1` uses :math:`A_t, b_t` at that step's values
        and noise of variance :math:`c/B_t`; :math:`A_t, b_t` are evaluated once per constant
        segment (:func:`nqm.numerics.schedules.segments`). The exact counterpart is
        :func:`~nqm.numerics.scheduled_risk` with the same ``schedule``.
    steps:
        as for :func:`~nqm.numerics.expected_risk`: a horizon :math:`T` (losses recorded at steps
        :math:`0..T`) or a 1-D array of evaluation times (the runs go to the largest; statistics are
        reported at the times given, in their order; first hits use every step up to the largest).
    runs:
        independent runs (:math:`\ge 2`, for the standard error); runs x simulated coordinates x
        (steps + 1) is at most :data:`MAX_MONTE_CARLO_WORK` (checked before any work).
    seed:
        an integer or a ``numpy.random.SeedSequence`` (see the module docstring).
    lr_schedule:
        optional learning rate of each update, shape ``(steps,)``; replaces ``opt.lr``
        (the same as ``schedule={"lr": lr_schedule}``; not together with ``schedule``).
    targets, quantiles:
        target losses for the empirical steps-to-target and the quantile levels reported.
    keep_curves:
        also return every run's loss curve.
    simulate:
        which coordinates are simulated (module docstring): ``"per-coordinate"`` (every
        coordinate of the model: a bin of integer weight w is w coordinates), ``"per-bin"`` (one
        coordinate per bin carrying its weight: the same expected risk, a larger variance of one
        run) or ``"auto"`` (the default, as ``nqm montecarlo``'s: per-coordinate for integer
        weights, else per-bin). :attr:`MonteCarloResult.simulate` says which ran, and
        ``risk_variance(result.simulated_problem, ...)`` is the exact variance of that one.
    coordinates:
        the earlier spelling of ``simulate``, still accepted: ``"multiplicity"`` (per-coordinate),
        ``"scaled"`` (per-bin) or ``"auto"``.
    chunk_bytes:
        memory for one chunk of noise; any value gives the same result.
    executor:
        where the tasks run (groups of blocks of runs, about :data:`_TASK_ROW_STEPS` simulated
        coordinate-steps each, a function of runs, coordinates and steps only), by the executor
        convention of :func:`~nqm.numerics.resolve_executor` (``None``, the default: a local
        thread pool when there is more than one task, else this process). Every block is seeded
        from ``seed`` and its index, so the result is the same for every executor and number of
        workers.
    cache:
        ``True`` (the default cache directory), a directory or a ``ResultCache``: finished
        tasks are stored on disk by their full configuration (re-runs are free, interrupted
        runs resume).
    progress:
        a wrapper ``progress(iterable, total)`` around task completions.
    """
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be an nqm.numerics.Problem; got {type(problem).__name__}")
    opt = as_optimizer(opt, hyperparameters, "opt")
    if opt.shape != ():
        raise ValueError(f"opt must be a single optimizer; got a hyperparameter grid of shape {opt.shape}")
    B: float | None = None
    if schedule is None:  # a constant batch size (also with lr_schedule)
        B_arr = validate_batch_size(batch_size)
        if B_arr.ndim != 0:
            raise ValueError(f"batch_size must be a single number >= 1; got shape {B_arr.shape}")
        B = float(B_arr)
    times = validate_steps(steps)
    T_int = int(times.max()) if times.size else 0
    if T_int > MAX_MONTE_CARLO_STEPS:
        raise ValueError(
            f"steps must be at most {MAX_MONTE_CARLO_STEPS:,} for Monte Carlo (it keeps the whole mean curve); "
            f"got {T_int:,}"
        )
    times = evaluation_steps(steps)
    if times.ndim != 1 or times.size == 0:
        raise ValueError(f"steps must be a horizon T or a non-empty 1-D array of steps; got shape {times.shape}")
    n_runs = validate_count("runs", runs, 2)
    chunk = validate_count("chunk_bytes", chunk_bytes, 1)
    if not isinstance(seed, np.random.SeedSequence):
        validate_count("seed", seed, 0)
    target_arr = _validate_list("targets", targets, 0.0, math.inf, False) if np.size(targets) else np.zeros(0)
    levels = _validate_list("quantiles", quantiles, 0.0, 1.0, True)
    where = resolve_executor(executor)
    simulation = _simulation(simulate, coordinates)

    if lr_schedule is not None:
        if schedule is not None:
            raise ValueError("give lr_schedule or schedule, not both (lr_schedule=x is schedule={'lr': x})")
        if "lr" not in opt.hyperparameters:
            raise ValueError(f"lr_schedule needs a spec with a hyperparameter 'lr'; {opt.name} has none")
        sched = validate_hyperparameter("lr_schedule", lr_schedule, opt.forms.ranges["lr"])
        if sched.shape != (T_int,):
            raise ValueError(f"lr_schedule must have shape (steps,) = ({T_int},); got {sched.shape}")
        schedule = {"lr": sched} if T_int else None
    elif schedule is not None and T_int == 0:
        raise ValueError("steps: a schedule needs at least one update (a horizon >= 1); got steps 0")

    sim, counts, ran = _simulated(problem, simulation)
    d = int(counts.sum())
    if n_runs * d * (T_int + 1) > MAX_MONTE_CARLO_WORK:
        raise ValueError(
            f"runs x coordinates x (steps + 1) must be at most {MAX_MONTE_CARLO_WORK:.0e} simulated coordinate-steps; "
            f"got {n_runs:,} x {d:,} x {T_int + 1:,} = {n_runs * d * (T_int + 1):.3g} (use fewer runs or steps)"
        )
    if schedule is None:
        segs = Segments(np.array([T_int], dtype=np.int64), {})
    else:  # the checks of the exact engine: keys, batch size, ranges of the scheduled values
        run = resolve_run(problem, opt, schedule, batch_size, T_int)
        segs, B = run.segments, run.family.batch_size
    coef = _SegmentCoefficients(sim, opt, B, segs)
    K = min(n_runs, max(1, math.ceil(_TARGET_ROWS / d)))

    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    n_blocks = math.ceil(n_runs / K)
    per_task = max(1, math.ceil(_TASK_ROW_STEPS / (K * d * max(T_int, 1))))
    tasks = [
        _RunBlocks(coef, counts, T_int, n_runs, K, b, min(per_task, n_blocks - b), root, target_arr,
                   keep_curves, chunk)
        for b in range(0, n_blocks, per_task)
    ]
    parts = map_tasks(_run_blocks, tasks, executor=where, cache=resolve_cache(cache, "monte-carlo"), progress=progress)
    stats = _Statistics(T_int + 1)
    for task, (part, _, _) in zip(tasks, parts):
        lo, hi = task.run_range
        stats.merge(part, lo, hi - lo)
    curves = np.concatenate([c for _, c, _ in parts]) if keep_curves else None
    hits = np.concatenate([h for _, _, h in parts], axis=1)
    mean, stderr = stats.result(n_runs)
    at = times.astype(np.int64)
    squantiles = (
        np.quantile(hits, levels, axis=1, method="inverted_cdf").T
        if target_arr.size
        else np.zeros((0, levels.size))
    )
    return MonteCarloResult(
        steps=at,
        mean=mean[at],
        stderr=stderr[at],
        runs=n_runs,
        seed=seed,
        simulated_problem=sim,
        simulate=ran,
        coordinates=counts,
        curves=None if curves is None else curves[:, at],
        targets=target_arr,
        first_hits=hits,
        quantile_levels=levels,
        steps_quantiles=squantiles,
    )
