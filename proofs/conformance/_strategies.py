r"""Hypothesis strategies for noisy quadratic problems and optimizer settings.

Public testing API (``nqm.proofs``): compose these in your own property tests, or let
:func:`nqm.proofs.check_conformance` run the whole suite. Every strategy shrinks towards
simple cases (one bin, unit start, :math:`p = 0`, :math:`B = 1`, lower hyperparameter ends).

Hyperparameters are drawn *inside the derived stability region*: the learning rate as a
fraction of the largest stable one (found from the spectral radius of
:math:`A = I + D` built from the spec's compiled forms, the engine's own numbers), and
every draw is then filtered by the Jury conditions :attr:`nqm.theory.Derivation.stability_conditions`
evaluated at the drawn point. :func:`unstable_hyperparameters` draws beyond that limit.
Preconditioned settings (:math:`P = H^p`, eqs. 8–9) are stable where the spec is stable on
the curvatures :math:`h^{1-p}`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import sympy as sp
from hypothesis import assume
from hypothesis import strategies as st

import nqm.numerics as nn
from nqm.theory import OptimizerSpec, derive, get_spec
from nqm.theory.symbols import h

__all__ = [
    "Setup",
    "batch_sizes",
    "bin_weights",
    "derived_stable",
    "hyperparameters",
    "noise_variances",
    "resolve_spec",
    "optimizers",
    "precond_powers",
    "problems",
    "setups",
    "spectra",
    "spectral_radius",
    "stable_lr_limit",
    "start_variances",
    "step_lists",
    "unstable_hyperparameters",
]


def resolve_spec(spec: OptimizerSpec | str) -> OptimizerSpec:
    """``spec`` itself, or the spec registered under the name ``spec`` (``KeyError`` listing the registered names)."""
    return spec if isinstance(spec, OptimizerSpec) else get_spec(spec)


def _log_uniform(low: float, high: float) -> st.SearchStrategy[float]:
    """Floats log-uniform on [low, high]; shrinks towards ``low``."""
    lo, hi = math.log10(low), math.log10(high)
    return st.floats(0.0, 1.0).map(lambda u: 10.0 ** (lo + u * (hi - lo)))


# ---------------------------------------------------------------------- problems
def spectra(
    *, min_bins: int = 1, max_bins: int = 5, min_h: float = 1e-4, max_h: float = 10.0, max_condition: float = 1e4
) -> st.SearchStrategy[np.ndarray]:
    r"""Curvatures :math:`h_i`: log-uniform in ``[min_h, max_h]`` with :math:`h_{\max}/h_{\min} \le` ``max_condition``;
    sometimes with repeated values (bins of equal curvature, which the engine merges)."""

    @st.composite
    def draw_spectrum(draw: st.DrawFn) -> np.ndarray:
        k = draw(st.integers(min_bins, max_bins))
        top = draw(_log_uniform(min_h, max_h))
        spread = math.log10(min(max_condition, top / min_h))
        logs = draw(st.lists(st.floats(0.0, 1.0), min_size=k, max_size=k))
        if k > 1 and draw(st.booleans()):
            logs = [draw(st.sampled_from(logs[: (k + 1) // 2])) for _ in range(k)]
        return np.array([top * 10.0 ** (-u * spread) for u in logs])

    return draw_spectrum()


def noise_variances(h: np.ndarray) -> st.SearchStrategy[np.ndarray]:
    r"""Gradient-noise variances :math:`c_i \ge 0` for curvatures ``h``: :math:`C = H` (the paper),
    :math:`C = sH^{b}`, independent values, or some directions noise-free."""
    size = h.size
    return st.one_of(
        st.just(h.copy()),
        st.tuples(_log_uniform(1e-2, 1e2), st.floats(0.0, 2.0)).map(lambda sb: sb[0] * h ** sb[1]),
        st.lists(_log_uniform(1e-3, 1e2), min_size=size, max_size=size).map(np.array),
        st.lists(st.sampled_from([0.0, 1.0]), min_size=size, max_size=size).map(lambda m: np.array(m) * h),
    )


def start_variances(size: int) -> st.SearchStrategy[np.ndarray]:
    r""":math:`E\theta_i(0)^2 > 0`: all ones (the paper) or log-uniform in [1e-2, 1e2]."""
    return st.one_of(
        st.just(np.ones(size)),
        st.lists(_log_uniform(1e-2, 1e2), min_size=size, max_size=size).map(np.array),
    )


def bin_weights(size: int, *, integer: bool = True, max_weight: int = 4) -> st.SearchStrategy[np.ndarray]:
    """Bin multiplicities: integers in [1, max_weight], or positive floats if ``integer=False``."""
    value = st.integers(1, max_weight).map(float) if integer else _log_uniform(0.1, float(max_weight))
    return st.lists(value, min_size=size, max_size=size).map(np.array)


def problems(
    *,
    max_bins: int = 5,
    max_condition: float = 1e4,
    integer_weights: bool = True,
    max_coordinates: int = 200,
    min_h: float = 1e-4,
    max_h: float = 10.0,
) -> st.SearchStrategy[nn.Problem]:
    r"""Diagonal NQMs: random spectra, noise and starts, or paper-like ones.

    Paper-like problems are :meth:`nqm.numerics.Problem.paper` and
    :meth:`~nqm.numerics.Problem.power_law` at small ``d`` (binned, weights = counts).
    ``max_coordinates`` bounds the total weight (for Monte Carlo); ``max_condition`` bounds
    :math:`h_{\max}/h_{\min}`.
    """

    @st.composite
    def random_problem(draw: st.DrawFn) -> nn.Problem:
        h_ = draw(
            spectra(max_bins=max_bins, min_h=min_h, max_h=max_h, max_condition=max_condition)
        )
        w = draw(bin_weights(h_.size, integer=integer_weights, max_weight=max(1, min(4, max_coordinates // h_.size))))
        return nn.Problem(h_, draw(noise_variances(h_)), draw(start_variances(h_.size)), w)

    largest_d = int(min(max_coordinates, max_condition, 400))
    paper_like = st.builds(
        lambda d, bins: nn.Problem.paper(d=d, bins=bins),
        st.integers(2, max(2, largest_d)),
        st.integers(1, max_bins),
    )
    power_law = st.builds(
        lambda d, a, b, bins: nn.Problem.power_law(d, a=a, b=b, bins=bins),
        st.integers(2, max(2, largest_d)),
        st.floats(0.5, 1.5),
        st.floats(0.0, 2.0),
        st.integers(1, max_bins),
    ).filter(lambda p: p.h.max() / p.h.min() <= max_condition)
    if largest_d < 2 or not integer_weights:
        return random_problem()
    return st.one_of(random_problem(), paper_like, power_law)


# ---------------------------------------------------------------------- stability
@lru_cache(maxsize=None)
def _derived_conditions(spec: OptimizerSpec):
    args = [h, *spec.symbols]
    funcs = []
    for cond in derive(spec).stability_conditions:
        if cond is sp.false:
            funcs.append(lambda *a: False)
        else:
            funcs.append(sp.lambdify(args, cond, "numpy"))
    return funcs


def derived_stable(spec: OptimizerSpec | str, curvatures: np.ndarray, hyper: Mapping[str, object]) -> np.ndarray:
    r"""Whether the derived (Jury) stability conditions hold at each curvature (broadcast).

    ``curvatures`` are those the spec sees, :math:`h^{1-p}` for a preconditioned setting.
    """
    spec = resolve_spec(spec)
    values = [np.asarray(hyper[hp.name], dtype=float) for hp in spec.hyperparameters]
    out = np.ones(np.broadcast_shapes(np.shape(curvatures), *(v.shape for v in values)), dtype=bool)
    with np.errstate(all="ignore"):
        for f in _derived_conditions(spec):
            out &= np.asarray(f(np.asarray(curvatures, dtype=float), *values), dtype=bool)
    return out


def _forms(spec: OptimizerSpec | str | nn.OptimizerRef) -> nn.OptimizerRef:
    """The spec, or the registered spec of a name, with its compiled forms (nothing is registered)."""
    return nn.as_optimizer_spec(spec, "spec")


def spectral_radius(
    spec: OptimizerSpec | str | nn.OptimizerRef, problem: nn.Problem, hyper: Mapping[str, object], precond_power: float = 0.0
) -> np.ndarray:
    r""":math:`\max_i |\lambda|` over the bins of :math:`A = I + D` from the spec's compiled forms.

    Hyperparameter values may be arrays (a grid); the result has the grid's shape.
    """
    forms = _forms(spec).forms
    grid = np.broadcast_shapes(*(np.shape(v) for v in hyper.values())) if hyper else ()
    h_, c_, _ = problem.preconditioned(precond_power)
    values = {k: np.asarray(v, dtype=float)[..., None] for k, v in hyper.items()}
    inv = forms.transition(h_, c_, np.asarray(1.0), values)
    n = int(inv["n"])
    shape = grid + (problem.size,)
    D = np.stack([np.broadcast_to(np.asarray(e, dtype=float), shape) for e in inv["D"]], axis=-1)
    A = D.reshape(shape + (n, n)) + np.eye(n)
    with np.errstate(all="ignore"):
        finite = np.all(np.isfinite(A), axis=(-2, -1))
        radius = np.max(np.abs(np.linalg.eigvals(np.where(finite[..., None, None], A, 0.0))), axis=-1)
    return np.max(np.where(finite, radius, np.inf), axis=-1)


def stable_lr_limit(
    spec: OptimizerSpec | str | nn.OptimizerRef, problem: nn.Problem, others: Mapping[str, float], precond_power: float = 0.0
) -> float:
    """The end of the stable learning-rate interval that starts at 0 (0 if tiny rates are already
    unstable, ``inf`` if every rate is stable), for fixed other hyperparameters."""
    ref = _forms(spec)
    h_max = float(np.max(problem.preconditioned(precond_power)[0]))

    def stable(lr: np.ndarray) -> np.ndarray:
        return spectral_radius(ref, problem, {**others, "lr": lr}, precond_power) < 1.0

    grid = np.logspace(-9, 6, 61) / h_max
    ok = stable(grid)
    if not ok[0]:
        return 0.0
    if ok.all():
        return math.inf
    k = int(np.argmin(ok))
    lo, hi = grid[k - 1], grid[k]
    for _ in range(60):
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if stable(np.array(mid)) else (lo, mid)
    return float(lo)


def _in_range(hp_range: tuple[float, float, bool, bool]) -> st.SearchStrategy[float]:
    """A value inside a declared hyperparameter range, with weight near both ends."""
    lo, hi, lo_closed, hi_closed = hp_range
    if math.isinf(hi):
        base = lo if lo > 0 else 1e-3
        return _log_uniform(base, base * 1e6).filter(lambda v: v > lo or lo_closed)
    width = hi - lo
    edges = ([lo] if lo_closed else []) + ([hi] if hi_closed else [])
    near_high = _log_uniform(1e-3, 1.0).map(lambda u: hi - u * width)  # e.g. beta -> 1
    interior = st.floats(0.0, 1.0).map(lambda u: lo + u * width)
    value = st.one_of(st.sampled_from(edges), interior, near_high) if edges else st.one_of(interior, near_high)
    return value.filter(lambda v: (lo < v or (lo_closed and v == lo)) and (v < hi or (hi_closed and v == hi)))


def _others(draw: st.DrawFn, spec: OptimizerSpec | str | nn.OptimizerRef) -> dict[str, float]:
    """Every hyperparameter but the learning rate, from its declared range."""
    forms = _forms(spec).forms
    return {p: draw(_in_range(forms.ranges[p])) for p in forms.params if p != "lr"}


@st.composite
def hyperparameters(
    draw: st.DrawFn,
    spec: OptimizerSpec | str,
    problem: nn.Problem,
    *,
    precond_power: float = 0.0,
    min_lr_fraction: float = 1e-3,
    max_lr_fraction: float = 0.99,
    max_radius: float = 1.0,
    derived: bool = True,
) -> dict[str, float]:
    r"""Hyperparameters inside the derived stability region of ``spec`` on ``problem``.

    Non-learning-rate hyperparameters are drawn from their declared ranges; the learning
    rate is a fraction in ``[min_lr_fraction, max_lr_fraction]`` (log-uniform, plus the
    upper end) of :func:`stable_lr_limit`. The draw is kept only if the derived Jury
    conditions hold on every bin (unless ``derived=False``) and the spectral radius is
    below ``max_radius`` (use ``max_radius < 1`` to bound the mixing time).
    """
    ref = _forms(spec)
    values = _others(draw, ref)
    if "lr" in ref.forms.params:
        limit = stable_lr_limit(ref, problem, values, precond_power)
        assume(limit > 0)
        if math.isinf(limit):
            h_max = float(np.max(problem.preconditioned(precond_power)[0]))
            values["lr"] = draw(_log_uniform(1e-3, 1e3)) / h_max
        else:
            fraction = draw(st.one_of(st.just(max_lr_fraction), _log_uniform(min_lr_fraction, max_lr_fraction)))
            values["lr"] = fraction * limit
    h_ = problem.preconditioned(precond_power)[0]
    assume(not derived or bool(np.all(derived_stable(spec, h_, values))))
    assume(float(spectral_radius(ref, problem, values, precond_power)) < max_radius)
    return values


@st.composite
def unstable_hyperparameters(
    draw: st.DrawFn,
    spec: OptimizerSpec | str,
    problem: nn.Problem,
    *,
    precond_power: float = 0.0,
    min_radius: float = 1.001,
) -> dict[str, float]:
    r"""Hyperparameters in their declared ranges but outside the stability region: the learning
    rate is 1.05–4 times :func:`stable_lr_limit` and the spectral radius at least ``min_radius``.
    Needs a spec with a finite stable learning-rate limit."""
    ref = _forms(spec)
    values = _others(draw, ref)
    limit = stable_lr_limit(ref, problem, values, precond_power)
    assume(0 < limit < math.inf)
    values["lr"] = limit * draw(st.floats(1.05, 4.0))
    assume(float(spectral_radius(ref, problem, values, precond_power)) >= min_radius)
    return values


# ---------------------------------------------------------------------- settings
def precond_powers() -> st.SearchStrategy[float]:
    r"""Preconditioner powers :math:`p \in [0, 1]` (eq. 8), with the paper's 0, 0.25, 0.5, 0.75."""
    return st.one_of(st.just(0.0), st.sampled_from([0.25, 0.5, 0.75, 1.0]), st.floats(0.0, 1.0))


def batch_sizes(max_log2: int = 20) -> st.SearchStrategy[float]:
    """Batch sizes: powers of two up to ``2**max_log2`` (the paper's grid) or any integer below."""
    return st.one_of(
        st.integers(0, max_log2).map(lambda k: float(2**k)), st.integers(1, 2**max_log2).map(float)
    )


def step_lists(max_steps: int = 300, max_size: int = 6) -> st.SearchStrategy[np.ndarray]:
    """Sorted, distinct step counts in ``[0, max_steps]``."""
    return st.lists(st.integers(0, max_steps), min_size=1, max_size=max_size, unique=True).map(
        lambda s: np.array(sorted(s), dtype=float)
    )


@dataclass(frozen=True, eq=False)
class Setup:
    """One drawn setting: a problem, an optimizer (one point), a batch size and step counts."""

    problem: nn.Problem
    optimizer: nn.Optimizer
    batch_size: float
    steps: np.ndarray

    @property
    def hyperparameters(self) -> dict[str, float]:
        """The optimizer's hyperparameters as floats (without ``precond_power``)."""
        return {k: float(v) for k, v in self.optimizer.hyperparameters.items()}

    @property
    def precond_power(self) -> float:
        return float(self.optimizer.precond_power)

    def describe(self) -> dict[str, object]:
        """Plain data for reports (the full problem, not its summary)."""
        p = self.problem
        return {
            "problem": {
                "h": p.h.tolist(), "c": p.c.tolist(), "init_var": p.init_var.tolist(), "weights": p.weights.tolist()
            },
            "optimizer": self.optimizer.name,
            "hyperparameters": self.hyperparameters,
            "precond_power": self.precond_power,
            "batch_size": self.batch_size,
            "steps": self.steps.astype(int).tolist(),
        }

    def __repr__(self) -> str:
        return f"Setup({self.describe()!r})"


@st.composite
def optimizers(
    draw: st.DrawFn,
    spec: OptimizerSpec | str,
    problem: nn.Problem,
    *,
    precondition: bool = True,
    max_radius: float = 1.0,
) -> nn.Optimizer:
    """A stable optimizer of ``spec`` on ``problem`` (:func:`hyperparameters`), optionally preconditioned."""
    spec = resolve_spec(spec)
    p = draw(precond_powers()) if precondition and not spec.preconditioned else 0.0
    values = draw(hyperparameters(spec, problem, precond_power=p, max_radius=max_radius))
    return nn.Optimizer(spec, precond_power=p, **values)


@st.composite
def setups(
    draw: st.DrawFn,
    spec: OptimizerSpec | str,
    *,
    max_bins: int = 5,
    max_steps: int = 300,
    max_condition: float = 1e4,
    integer_weights: bool = True,
    max_coordinates: int = 200,
    precondition: bool = True,
    max_radius: float = 1.0,
    min_bins: int = 1,
) -> Setup:
    """A :class:`Setup` for ``spec``: problem, stable optimizer, batch size and step counts."""
    problem = draw(
        problems(
            max_bins=max_bins, max_condition=max_condition, integer_weights=integer_weights,
            max_coordinates=max_coordinates,
        ).filter(lambda p: p.size >= min_bins)
    )
    opt = draw(optimizers(spec, problem, precondition=precondition, max_radius=max_radius))
    return Setup(problem, opt, draw(batch_sizes()), draw(step_lists(max_steps)))
