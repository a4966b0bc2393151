r"""The exact per-direction risk model of one (problem, optimizer grid, batch size).

For every element (grid point x bin) the expected risk at step t splits into a
deterministic part and a noise part (Appendix C's decomposition, for any spec):

.. math::

    \mathbb{E}\ell_i(t) = \underbrace{w_i\tfrac12 h_i\,v_i\,m_i(t)^2}_{\text{start}}
      + \underbrace{w_i\tfrac12 h_i\,\frac{c_i}{B}\sum_{k<t} g_i(k)^2}_{\text{noise, non-decreasing}},

with the mean path :math:`m(t) = \mathrm{out}A^t\mathrm{init}` and the impulse response
:math:`g(k) = \mathrm{out}A^k b`. Preconditioning (eq. 8) enters through the equivalent
problem :data:`nqm.theory.PRECONDITIONED_PROBLEM`. Specs with one or two states use the
Chebyshev closed form (:mod:`._chebyshev`), larger ones exact doubling (:mod:`._doubling`).

Accuracy: both parts to about 1e-10 relative (docs/math/numerics.md), with one absolute floor: the
mean path, a sum over modes, carries a few ulps of :math:`|c_tu_0| + |s_tu_1|` where the modes
cancel (near a zero of :math:`m(t)`, e.g. EMA's :math:`m(1) = 1 - (1-\gamma)\alpha h`), so the start
part is off by more than 1e-10 relative by at most ~5e-16 times the initial risk :math:`\tfrac12 hv`
there; a decoupled mode (:mod:`._single_mode`) has no such floor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from ._chebyshev import ChebyshevPowers
from ._doubling import doubling_moments, doubling_powers_of_two, spectral_radius
from ._forms import MAX_STEPS, validate_batch_size, validate_steps
from ._optimizers import Optimizer, OptimizerArgumentError
from ._problem import Problem
from ._single_mode import single_mode, single_mode_mean

__all__ = ["RiskModel", "build_model", "validate_batch_size", "validate_steps", "MAX_STEPS"]

#: largest ratio (sum of |terms|) / |sum| accepted in the closed-form noise part (error <= 2**16 eps ~ 1.5e-11)
CANCELLATION = 2.0**16
#: E = (1 + lambda_1)(1 + lambda_2) below which (an eigenvalue near -1) the noise part always uses the Gram sums
NEAR_EDGE = 2.0**-14

Method = Literal["auto", "chebyshev", "doubling"]


@dataclass
class RiskModel:
    """Per-element data; element arrays have shape ``grid + (bins,)`` (+ optional trailing axes)."""

    # weight * start * (mean path)^2 and weight * noise * (noise sum) are the two parts; for
    # scale-covariant forms (h, c, lr) -> (1, c/h, lr h): weight w/2, start h v, noise c/(h B),
    # otherwise weight w h / 2, start v, noise c / B (all of the preconditioned problem)
    weight: np.ndarray
    start: np.ndarray
    noise: np.ndarray
    inv: dict
    method: str
    powers: ChebyshevPowers | None
    stable: np.ndarray
    bin_axis: int
    c: np.ndarray | None = None  # per-example noise variance (noise = c / B), c/h when normalised
    #: batch-size-independent derived data (shared by :meth:`with_batch_size` copies)
    cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def parts(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-element ``(start part, noise part)`` of the expected risk at steps ``t`` (broadcast)."""
        inv = self.inv
        with np.errstate(all="ignore"):
            if self.powers is not None:
                c, s, em, ep = self.powers.powers_and_gap(t)
                mean = single_mode_mean(inv, c * inv["u0"] + s * inv["u1"], t)
                spread = self._spread(self.powers, t, c, s, em, ep)
            else:
                mean, spread = doubling_moments(inv["D"], inv["b"], inv["init"], inv["out"], t)
            return self.weighted_parts(mean, spread)

    def parts_at_powers_of_two(self, bottom: int, top: int) -> tuple[np.ndarray, np.ndarray]:
        r""":meth:`parts` at :math:`t = 2^K` for K from ``bottom`` to ``top``, stacked on a leading axis.

        Under exact doubling one pass of the squaring chain gives them all
        (:func:`~._doubling.doubling_powers_of_two`); the Chebyshev form evaluates each t."""
        if self.powers is not None:
            return self.parts(np.ldexp(1.0, np.arange(bottom, top + 1)).reshape((-1,) + (1,) * self.weight.ndim))
        inv = self.inv
        with np.errstate(all="ignore"):
            mean, spread = doubling_powers_of_two(inv["D"], inv["b"], inv["init"], inv["out"], top, bottom)
            return self.weighted_parts(mean, spread)

    def weighted_parts(self, mean: np.ndarray, spread: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The two parts from the mean path and the noise sum: weights, and inf (never NaN) on divergence."""
        with np.errstate(all="ignore"):
            used = self.weight > 0
            det = np.where(used, self.weight * self.start * mean * mean, 0.0)
            noi = np.where(used, self.weight * self.noise * spread, 0.0)
            unstable = ~self.stable & used
            det = np.where(unstable & ~np.isfinite(det), np.inf, det)
            noi = np.where(unstable & ~np.isfinite(noi), np.inf, noi)
            # a divergent noise part is positive; sign noise from overflow is not meaningful
            noi = np.where(unstable & (noi < 0) & (np.abs(noi) > 1e300), np.inf, noi)
            # a sum of squares: a rounding below zero is an absolute floor, reported as 0
            noi = np.where(noi < 0, 0.0, noi)
        return det, noi

    def _spread(
        self, pw: ChebyshevPowers, t: np.ndarray, c: np.ndarray, s: np.ndarray, em: np.ndarray, ep: np.ndarray
    ) -> np.ndarray:
        r""":math:`\sum_{k<t}g(k)^2` of the Chebyshev model, :math:`g(k) = c_kg_0 + s_kg_1`.

        The closed form :math:`w_0(1 - c_t^2) - 2c_ts_tw_1 - s_t^2w_2` (stationary minus tail) is used
        where its terms do not cancel by more than :data:`CANCELLATION` (relative error below
        ~1.5e-11); elsewhere (t below the slowest time scale, the edge itself) and wherever
        :math:`E = (1+\lambda_1)(1+\lambda_2)` is below :data:`NEAR_EDGE` (where :math:`w_{1,2}`
        themselves lose accuracy as both eigenvalues approach -1), the Gram sums by doubling
        (:meth:`ChebyshevPowers.gram`; for a divergent element it overflows to inf, never NaN).
        """
        inv = self.inv
        assert pw.edge is not None, "set by ChebyshevPowers.__post_init__"
        terms = (-inv["w0"] * em * ep, -2.0 * c * s * inv["w1"], -s * s * inv["w2"])
        spread = terms[0] + terms[1] + terms[2]
        size = np.abs(terms[0]) + np.abs(terms[1]) + np.abs(terms[2])
        fine = np.isfinite(spread) & (size <= CANCELLATION * np.abs(spread)) & ~(pw.edge < NEAR_EDGE)
        need = ~fine
        if need.any():
            g11, g12, g22 = pw.gram(t, need)
            shape = spread.shape
            g0, g1 = (np.broadcast_to(inv[k], shape)[need] for k in ("g0", "g1"))
            spread = spread.copy()
            spread[need] = g0 * g0 * g11 + 2.0 * g0 * g1 * g12 + g1 * g1 * g22
        return spread

    def flatten(self) -> RiskModel:
        """The same model with every per-element array materialised as ``(grid points, bins)``.

        Requires a model built without trailing axes.
        """
        shape = self.weight.shape
        rows = int(np.prod(shape[:-1]))

        def flat(v: Any) -> Any:
            if isinstance(v, np.ndarray) and v.ndim >= 1:
                full = np.broadcast_to(v, shape + v.shape[len(shape):])
                return np.ascontiguousarray(full).reshape((rows,) + full.shape[len(shape) - 1:])
            return v

        powers = None
        if self.powers is not None:
            powers = _take_attrs(self.powers, flat)
        return RiskModel(
            weight=flat(self.weight),
            start=flat(self.start),
            noise=flat(self.noise),
            inv={k: flat(v) for k, v in self.inv.items()},
            method=self.method,
            powers=powers,
            stable=flat(self.stable),
            bin_axis=-1,
            c=None if self.c is None else flat(self.c),
        )

    def take(self, rows: np.ndarray) -> RiskModel:
        """Rows (grid points) of a :meth:`flatten`-ed model (the model itself for all rows in order)."""
        if rows.size == self.weight.shape[0] and np.array_equal(rows, np.arange(rows.size)):
            return self

        def pick(v: Any) -> Any:
            return v[rows] if isinstance(v, np.ndarray) and v.ndim >= 2 else v

        return RiskModel(
            weight=pick(self.weight),
            start=pick(self.start),
            noise=pick(self.noise),
            inv={k: pick(v) for k, v in self.inv.items()},
            method=self.method,
            powers=None if self.powers is None else _take_attrs(self.powers, pick),
            stable=pick(self.stable),
            bin_axis=-1,
            c=None if self.c is None else pick(self.c),
        )

    def with_batch_size(self, batch_size: float) -> RiskModel:
        """The same model at another (scalar) batch size: only the noise part ``c / B`` changes.

        The transition invariants do not depend on B, so a batch-size sweep builds them once;
        the result equals ``build_model`` at that batch size bit for bit.
        """
        B = validate_batch_size(batch_size)
        if B.ndim:
            raise ValueError(f"batch_size must be a single number >= 1 here; got shape {B.shape}")
        if self.c is None:
            raise ValueError("with_batch_size needs a model from build_model")
        return replace(self, noise=self.c / float(B), cache=self.cache)

    def nbytes(self) -> int:
        """Bytes held by this model's arrays (each underlying buffer once, also the cached derived data)."""
        seen: dict[int, int] = {}

        def visit(value: object) -> None:
            if isinstance(value, np.ndarray):
                while isinstance(value.base, np.ndarray):
                    value = value.base
                seen[id(value)] = value.nbytes
            elif isinstance(value, dict):
                for v in list(value.values()):  # a snapshot: another thread may add derived data
                    visit(v)
            elif isinstance(value, (tuple, list)):
                for v in value:
                    visit(v)

        visit([self.weight, self.start, self.noise, self.c, self.stable, self.inv, self.cache])
        if self.powers is not None:
            visit(vars(self.powers))
        return sum(seen.values())

    def stationary(self) -> np.ndarray:
        """Per-element stationary risk (``inf`` where unstable); of a model built with ``stationary=True``
        under exact doubling (:func:`build_model`)."""
        if "w0" not in self.inv:
            raise ValueError("this model was built without its stationary quantities (build_model(stationary=True))")
        with np.errstate(all="ignore"):
            value = self.weight * self.noise * self.inv["w0"]
        return np.where(self.stable, value, np.inf)

    def risk(self, t: np.ndarray) -> np.ndarray:
        """Expected risk summed over bins."""
        det, noi = self.parts(t)
        return np.sum(det + noi, axis=self.bin_axis)


def _take_attrs(obj: ChebyshevPowers, fn: Callable[[Any], Any]) -> ChebyshevPowers:
    """A copy of ``obj`` with ``fn`` applied to every array attribute."""
    new = object.__new__(type(obj))
    new.__dict__.update({k: fn(v) for k, v in obj.__dict__.items()})
    return new


def _stack_square(entries: tuple, n: int, shape: tuple[int, ...]) -> np.ndarray:
    arr = np.stack([np.broadcast_to(np.asarray(e, dtype=float), shape) for e in entries], axis=-1)
    return arr.reshape(shape + (n, n))


def _stack_vector(entries: tuple, shape: tuple[int, ...]) -> np.ndarray:
    return np.stack([np.broadcast_to(np.asarray(e, dtype=float), shape) for e in entries], axis=-1)


def build_model(
    problem: Problem,
    opt: Optimizer,
    batch_size: object,
    *,
    trailing: int = 0,
    method: Method = "auto",
    merge_bins: bool = False,
    stationary: bool = False,
) -> RiskModel:
    """Evaluate the optimizer's numeric invariants on every (grid point, bin).

    The grid is the broadcast of the optimizer's hyperparameter shape and
    ``batch_size``'s shape; ``trailing`` extra singleton axes are appended after the bin
    axis (used to broadcast against step arrays).

    ``merge_bins``: where the preconditioner power is one number p, the model of
    :meth:`Problem.expected_risk_equivalent` (the same optimizer without preconditioning on
    the preconditioned problem, bins of equal curvature merged): the same expected risk
    summed over bins with fewer bins (one at p = 1). Only for sums over bins of the expected
    risk (steps-to-target, tuning, the stationary risk), never for per-bin values or the
    risk variance.

    ``stationary``: the model also answers :meth:`RiskModel.stationary` (the Chebyshev model always
    does; exact doubling otherwise evaluates the transition alone).
    """
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be an nqm.numerics.Problem; got {type(problem).__name__}")
    if not isinstance(opt, Optimizer):
        raise OptimizerArgumentError(
            f"opt must be an nqm.numerics.Optimizer instance (nn.as_optimizer makes one); got {type(opt).__name__}"
        )
    if method not in ("auto", "chebyshev", "doubling"):
        raise ValueError(f"method must be 'auto', 'chebyshev' or 'doubling'; got {method!r}")
    B = validate_batch_size(batch_size)
    if merge_bins and np.ndim(opt.precond_power) == 0:
        problem = problem.expected_risk_equivalent(float(opt.precond_power), noise_linear=opt.forms.noise_linear)
        opt = opt.replace(precond_power=0.0)
    try:
        grid = np.broadcast_shapes(opt.shape, B.shape)
    except ValueError:
        raise ValueError(
            f"batch_size of shape {B.shape} does not broadcast against the hyperparameter grid of shape {opt.shape}"
        ) from None

    def expand(a: np.ndarray) -> np.ndarray:
        a = np.broadcast_to(a, grid)[..., None]
        return a.reshape(a.shape + (1,) * trailing)

    h, c, v = problem.preconditioned(np.broadcast_to(opt.precond_power, grid))
    tail = (1,) * trailing
    h = h.reshape(h.shape + tail)
    c = c.reshape(c.shape + tail)
    v = v.reshape(v.shape + tail)
    w = problem.weights.reshape(problem.weights.shape + tail)
    hyper = {k: expand(val) for k, val in opt.hyperparameters.items()}
    Be = expand(B)
    # the scale symmetry (h, c, lr) -> (1, c/h, lr h): the same risk, free of overflow at any scale,
    # with weight w/2, start h v, noise (c/h)/B (see Forms.evaluate)
    normalised = opt.forms.scale_covariant and method != "doubling"
    n = opt.forms.states
    use = "chebyshev" if (method == "auto" and n <= 2) else method
    if use == "auto":
        use = "doubling"
    if use == "chebyshev" and n > 2:
        raise ValueError(f"method='chebyshev' needs a spec with at most 2 states; {opt.name} has {n}")
    # exact doubling reads the transition alone (the generated transition function: the same values as
    # the whole forms, without their stationary and edge quantities)
    if use == "chebyshev" or stationary:
        inv = opt.forms.evaluate(h, c, Be, hyper, normalised=normalised)
    else:
        inv = opt.forms.transition(h, c, Be, hyper, normalised=normalised)
    with np.errstate(all="ignore"):
        half_w, v, c = (0.5 * w, h * v, c / h) if normalised else (0.5 * w * h, v, c)
    shape = np.broadcast_shapes(h.shape, Be.shape, *(a.shape for a in hyper.values()))
    if use == "doubling":
        inv["D"] = _stack_square(inv["D"], n, shape)
        for key in ("b", "init", "out"):
            inv[key] = _stack_vector(inv[key], shape)
    exact = ("edge", "disc", "trace2", "traceA", "detA")
    for key in ("u0", "u1", "w0", "w1", "w2", "g0", "g1", *exact):
        if inv.get(key) is not None:
            inv[key] = np.broadcast_to(np.asarray(inv[key], dtype=float), shape)
    with np.errstate(all="ignore"):
        if use == "chebyshev":
            powers = ChebyshevPowers(inv["sigma"], inv["det_D"], inv["det_A_minus_1"], n, *(inv.get(k) for k in exact))
            inv.update(single_mode(inv, shape, powers))  # a decoupled state: one-mode mean path, exactly
            stable = np.broadcast_to(powers.stable, shape)
        else:
            powers = None
            stable = spectral_radius(inv["D"]) < 1.0
    return RiskModel(
        weight=np.broadcast_to(half_w, shape),
        start=np.broadcast_to(v, shape),
        noise=np.broadcast_to(c / Be, shape),
        c=np.broadcast_to(c, shape),
        inv=inv,
        method=use,
        powers=powers,
        stable=stable,
        bin_axis=-1 - trailing,
    )
