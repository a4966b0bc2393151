r"""Diagonal noisy quadratic problems (eq. 1), including the paper's default.

A problem is a list of eigen-directions ("bins") with curvature :math:`h_i > 0`,
per-example gradient-noise variance :math:`c_i \ge 0`, start second moment
:math:`E\theta_i(0)^2 = v_i \ge 0` and a multiplicity (weight) :math:`w_i \ge 0`:

.. math::

    \mathcal L(\theta) = \sum_i w_i\,\tfrac12 h_i\,\theta_i^2 .

A weight is the number of identical coordinates a bin stands for; the paper quantises
its 10^4 eigenvalues into 100 such bins (Section 3.7).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._forms import (
    PRECOND_RANGE,
    _shown,
    real_array,
    validate_batch_size,
    validate_count,
    validate_hyperparameter,
    validate_positive,
)
from ._generated import preconditioned_problem
from ._tie import reaches

__all__ = ["Problem"]


def _as_positive_vector(name: str, value: object, size: int | None, *, strict: bool) -> np.ndarray:
    rng = "(0, inf)" if strict else "[0, inf)"
    arr = np.atleast_1d(real_array(name, value, f"a number or a 1-D array of numbers in {rng}"))
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a scalar or a 1-D array; got shape {arr.shape}")
    if size is not None:
        if arr.size == 1:
            arr = np.full(size, arr[0])
        elif arr.size != size:
            raise ValueError(f"{name} has {arr.size} entries but h has {size}; shapes must match")
    bad = ~np.isfinite(arr) | ((arr <= 0) if strict else (arr < 0))
    if np.any(bad):
        raise ValueError(f"{name} must be finite and in {rng}; got {arr[bad][0]!r}")
    return arr


def _geometric_bins(h: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(values, pos, counts)``: the ``bins`` geometric bin values ``geomspace(max h, min h)``
    (decreasing, both ends exact), the index of the largest value <= each ``h_i`` (the notebook's
    "rounded down"; values below the last bin go to it), and each bin's count."""
    values = np.geomspace(h.max(), h.min(), bins)
    asc_pos = np.searchsorted(values[::-1], h, side="right") - 1
    pos = values.size - 1 - np.clip(asc_pos, 0, values.size - 1)
    return values, pos, np.bincount(pos, minlength=bins).astype(float)


@dataclass(frozen=True, eq=False)
class Problem:
    """A diagonal NQM: curvatures ``h``, noise variances ``c``, start variances, weights.

    Parameters
    ----------
    h:
        curvatures :math:`h_i > 0`.
    c:
        per-example gradient-noise variances :math:`c_i \\ge 0` (default: ``h``, i.e. C = H).
    init_var:
        :math:`E\\theta_i(0)^2 \\ge 0` (default 1, the paper's :math:`\\theta(0)\\sim N(0, I)`).
    weights:
        multiplicities :math:`w_i \\ge 0` (default 1).
    name:
        label for reports.
    """

    h: np.ndarray
    c: np.ndarray
    init_var: np.ndarray
    weights: np.ndarray
    name: str = "custom"

    def __init__(
        self,
        h: object,
        c: object | None = None,
        init_var: object = 1.0,
        weights: object = 1.0,
        name: str = "custom",
    ) -> None:
        hv = _as_positive_vector("h", h, None, strict=True)
        if hv.size == 0:
            raise ValueError("h must contain at least one curvature")
        size = hv.size
        cv = hv.copy() if c is None else _as_positive_vector("c", c, size, strict=False)
        vv = _as_positive_vector("init_var", init_var, size, strict=False)
        wv = _as_positive_vector("weights", weights, size, strict=False)
        for arr in (hv, cv, vv, wv):
            arr.setflags(write=False)
        object.__setattr__(self, "h", hv)
        object.__setattr__(self, "c", cv)
        object.__setattr__(self, "init_var", vv)
        object.__setattr__(self, "weights", wv)
        object.__setattr__(self, "name", str(name))

    # ------------------------------------------------------------------ constructors
    @classmethod
    def paper(
        cls, binned: bool = True, *, d: int = 10_000, bins: int = 100, noise: str = "binned"
    ) -> Problem:
        r"""The authors' problem (Section 3.7): :math:`h_i = 1/i`, :math:`C = H`, :math:`\theta(0)\sim N(0,I)`.

        With ``binned=True`` (the authors' protocol) the ``d`` curvatures are rounded
        *down* to the largest of ``bins`` geometric values ``geomspace(1, 1/d, bins)``
        not above them and weighted by count; the binned initial risk is about 4.70
        against the exact 4.89. ``binned=False`` is the exact d-dimensional problem.

        ``noise`` says what a bin's per-example noise variance :math:`c` is:

        * ``"binned"`` (default, the authors' notebook and so every number in the paper):
          :math:`C = H` *on the binned curvatures*, :math:`c = \lfloor h_i\rfloor`, the bin value
          itself (the notebook's mini-batch variance is ``sigma_sq = h_bin / B``). The arrays are
          the notebook's ``toy_problem(d, bins)`` bit for bit: all ``bins`` bin values in
          decreasing order, each weighted by its count (empty bins have weight 0; they cost
          nothing, the engine drops them). The information constant
          :math:`\tfrac12\operatorname{tr}(H^{-1}C)` is exactly :math:`d/2`.
        * ``"bin-mean"``: binning keeps each bin's *true* noise, :math:`c` = the mean of the exact
          :math:`c_i = h_i` of its members (the expected risk is linear in :math:`c`), while the
          curvature is still the bin value; empty bins are dropped. Then :math:`c/h \in [1, r)`
          in a bin, with the bin ratio :math:`r = d^{1/(\mathrm{bins}-1)}` (1.0975 for the
          defaults), and :math:`\tfrac12\operatorname{tr}(H^{-1}C) \approx 5236` against 5000. Use
          it to ask how much of a result is due to the binning rather than to the spectrum: its
          noise is the exact problem's, only the curvatures are rounded. Its tuned steps (the
          Fig. 3a/4 sweeps, target 0.01) are 0 to 8% above the authors' (median 3%; SGD at
          p = 0.5, B = 64: 22,814 against 21,589; EMA at p = 0.5, B = 1024: 850 against 794).
        """
        if not isinstance(binned, (bool, np.bool_)):
            raise ValueError(f"binned must be True or False; got {binned!r}")
        d = validate_count("d", d, 1)
        bins = validate_count("bins", bins, 1)
        if noise not in ("binned", "bin-mean"):
            raise ValueError(
                f"noise must be 'binned' (the authors' C = H on the binned curvatures) or 'bin-mean'; got {noise!r}"
            )
        h = 1.0 / np.arange(1, d + 1)
        if not binned:
            return cls(h, name=f"paper (exact, d={d})")
        if noise == "bin-mean":
            return cls._binned(h, h, np.ones(d), bins, name=f"paper (binned, bin-mean noise, d={d}, {bins} bins)")
        values, _, counts = _geometric_bins(h, bins)
        return cls(values, values, 1.0, counts, name=f"paper (binned, C = H on the bins, d={d}, {bins} bins)")

    @classmethod
    def power_law(
        cls,
        d: int,
        *,
        a: float = 1.0,
        b: float | None = None,
        h_scale: float = 1.0,
        c_scale: float = 1.0,
        init_var: float = 1.0,
        bins: int | None = None,
    ) -> Problem:
        r"""Power-law spectra :math:`h_i = h_{\rm scale}\,i^{-a}`, :math:`c_i = c_{\rm scale}\,i^{-b}`.

        As in google/init2winit's NQM; ``b`` defaults to ``a`` (C proportional to H).
        With ``bins`` the curvatures are quantised like :meth:`paper` (``c`` and the start
        variance are averaged within a bin, which is exact for the expected risk because
        it is linear in both).
        """
        d = validate_count("d", d, 1)
        a = float(validate_hyperparameter("a", a, (-math.inf, math.inf, False, False)))
        b = a if b is None else float(validate_hyperparameter("b", b, (-math.inf, math.inf, False, False)))
        h_scale, c_scale = (validate_positive(label, v) for label, v in (("h_scale", h_scale), ("c_scale", c_scale)))
        if bins is not None:
            bins = validate_count("bins", bins, 1)
        i = np.arange(1, d + 1, dtype=float)
        h = h_scale * i ** (-a)
        c = c_scale * i ** (-b)
        name = f"power law (d={d}, a={a:g}, b={b:g})"
        if bins is None:
            return cls(h, c, init_var, name=name)
        start = _as_positive_vector("init_var", init_var, d, strict=False)
        return cls._binned(h, c, start, bins, name=f"{name}, {bins} bins")

    @classmethod
    def _binned(cls, h: np.ndarray, c: np.ndarray, v: np.ndarray, bins: int, name: str) -> Problem:
        values, pos, counts = _geometric_bins(h, bins)
        keep = counts > 0
        c_mean = np.bincount(pos, weights=c, minlength=bins)[keep] / counts[keep]
        v_mean = np.bincount(pos, weights=v, minlength=bins)[keep] / counts[keep]
        return cls(values[keep], c_mean, v_mean, counts[keep], name=name)

    # ------------------------------------------------------------------ derived quantities
    @property
    def size(self) -> int:
        """Number of bins."""
        return int(self.h.size)

    @property
    def dimension(self) -> float:
        """Number of coordinates, :math:`\\sum_i w_i`."""
        return float(self.weights.sum())

    @property
    def initial_risk(self) -> float:
        """:math:`E\\mathcal L(0) = \\sum_i w_i \\tfrac12 h_i v_i`."""
        return float(np.sum(self.weights * 0.5 * self.h * self.init_var))

    @property
    def information_constant(self) -> float:
        r""":math:`\tfrac12\operatorname{tr}(H^{-1}C)`; for C = H it is d/2 (Section 3.6)."""
        return float(0.5 * np.sum(self.weights * self.c / self.h))

    def information_bound(self, target: float, batch_size: object) -> np.ndarray:
        r"""Least steps any method needs to reach risk ``target``:
        :math:`\tfrac12\operatorname{tr}(H^{-1}C)/(\varepsilon B)`.

        The maximum-likelihood risk after N examples is :math:`\tfrac12\operatorname{tr}(H^{-1}C)/N`
        (Section 3.6, general C derived), so :math:`tB \ge \tfrac12\operatorname{tr}(H^{-1}C)/\varepsilon`.
        This is the flat-prior limit of :meth:`bayes_risk_bound`; a finite start can beat it
        (see there), :meth:`bayes_bound_steps` cannot be beaten.
        """
        target = validate_positive("target", target)
        return self.information_constant / (target * validate_batch_size(batch_size))

    def bayes_risk_bound(self, examples: object) -> np.ndarray:
        r"""The least expected risk any method can reach after ``examples`` :math:`= N = tB` gradient examples.

        Each example observes :math:`h_i(y_i - \theta^\star_i) + \epsilon_i`, :math:`\epsilon_i\sim N(0, c_i)`,
        at a known query point :math:`y_i`, i.e. :math:`h_i\theta^\star_i` with Fisher information
        :math:`h_i^2/c_i`; the start is a prior :math:`\theta^\star_i - \theta_i(0)\sim N(0, v_i)`. The
        posterior variance :math:`1/(1/v_i + N h_i^2/c_i)` bounds the mean squared error of every
        estimator (MMSE), hence

        .. math::

            \mathbb{E}\mathcal L \;\ge\; \sum_i w_i\,\tfrac12 h_i\,\frac{v_i c_i}{c_i + v_i N h_i^2}
            \;\le\; \frac{\tfrac12\operatorname{tr}(H^{-1}C)}{N}.

        Its flat-prior limit :math:`v\to\infty` is Section 3.6's :math:`\tfrac12\operatorname{tr}(H^{-1}C)/N`
        (:meth:`information_bound`), which a finite start *can* beat: SGD with :math:`\alpha h = \tfrac12`,
        :math:`h = c = v = B = 1` reaches risk :math:`\tfrac14` after one step, below :math:`\tfrac12`.
        ``examples`` broadcasts (an array gives an array); a direction with :math:`c_i = 0` is
        known exactly after one example.
        """
        N = real_array("examples", examples, "numbers in [0, inf]")
        if np.any(np.isnan(N) | (N < 0)):
            raise ValueError(f"examples must be in [0, inf]; got {_shown(examples)}")
        N = N[..., None]
        h, c, v = self.h, self.c, self.init_var
        with np.errstate(divide="ignore", invalid="ignore"):
            per = np.where(c > 0, v * c / (c + v * N * h * h), np.where(N == 0, v, 0.0))
        return np.sum(self.weights * 0.5 * h * per, axis=-1)

    def bayes_bound_steps(self, target: float, batch_size: float) -> float:
        r"""Fewest steps any method needs to reach risk ``target`` at ``batch_size``: the least integer
        :math:`t` with :meth:`bayes_risk_bound` :math:`(tB) \le \varepsilon` (exact bisection, the bound
        decreases in :math:`t`).

        ``0.0`` if the start already meets the target; ``math.inf`` if infinitely many examples
        cannot (never, for :math:`c > 0`).
        """
        target = validate_positive("target", target)
        batch = validate_batch_size(batch_size)
        if batch.ndim:
            raise ValueError(f"batch_size must be a single number in [1, inf); got {_shown(batch_size)}")
        B = float(batch)
        if reaches(self.bayes_risk_bound(0.0), target):
            return 0.0
        hi = 1
        while not reaches(self.bayes_risk_bound(hi * B), target):
            hi *= 2
            if hi > 2**62:
                return math.inf
        lo = hi // 2
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if reaches(self.bayes_risk_bound(mid * B), target) else (mid, hi)
        return float(hi)

    def preconditioned(self, power: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r"""``(h, c, init_var)`` of the NQM seen by a :math:`P = H^p` preconditioned method.

        From :data:`nqm.theory.PRECONDITIONED_PROBLEM`: :math:`(h^{1-p}, c\,h^{-p}, v\,h^{p})`;
        ``power`` broadcasts against the bins (trailing axis).
        """
        p = validate_hyperparameter("precond_power", power, PRECOND_RANGE)[..., None]
        return preconditioned_problem(self.h, self.c, self.init_var, p)

    def expected_risk_equivalent(self, power: float, *, noise_linear: bool) -> Problem:
        r"""The fewest-bin problem on which a method run *without* preconditioning has, at every step,
        the expected risk that the :math:`P = H^p` preconditioned method (``power`` = p) has here.

        It is the preconditioned NQM :math:`(h^{1-p},\, c\,h^{-p},\, v\,h^{p})` of eqs. 8–9
        (:meth:`preconditioned`) with bins of equal curvature merged. A direction's expected
        risk is :math:`\tfrac12 h\,[v\,m_t + \tfrac cB n_t]` with :math:`m_t, n_t` set by
        :math:`(h, c)` and the optimizer, linear in :math:`v`; with ``noise_linear``
        (:attr:`nqm.theory.OptimizerSpec.noise_linear`: :math:`c` enters only as the noise
        variance) :math:`m_t, n_t` depend on :math:`h` alone and the risk is linear in :math:`c`
        too. So bins of equal :math:`h` (and equal :math:`c` unless ``noise_linear``) merge into one
        of weight :math:`W = \sum w`, start :math:`\sum wv/W` and noise :math:`\sum wc/W`, exactly up
        to the order of summation; bins of zero weight are dropped (unless all are). At
        :math:`p = 1` every curvature becomes :math:`h^0 = 1`: the paper's 100 bins (or its
        :math:`10^4` unbinned directions) become one. Only the expected risk is preserved, not its
        variance (which is not linear in :math:`v`).
        """
        p = validate_hyperparameter("precond_power", power, PRECOND_RANGE)
        if p.ndim:
            raise ValueError(f"precond_power must be a single number in [0, 1]; got shape {p.shape}")
        h, c, v = (np.broadcast_to(a, self.h.shape) for a in self.preconditioned(p))
        w = self.weights
        if np.any(w > 0):
            h, c, v, w = h[w > 0], c[w > 0], v[w > 0], w[w > 0]
        keys = np.stack([h] if noise_linear else [h, c])
        _, first, group = np.unique(keys, axis=1, return_index=True, return_inverse=True)
        if first.size == h.size:
            return Problem(h, c, v, w, name=self.name)
        group = group.ravel()
        W = np.bincount(group, weights=w)
        mean = lambda x: np.bincount(group, weights=w * x) / np.where(W > 0, W, 1.0)  # noqa: E731
        return Problem(h[first], mean(c), mean(v), W, name=self.name)

    def cache_config(self) -> dict[str, object]:
        """Plain data identifying this problem (for result caches)."""
        return {"h": self.h, "c": self.c, "init_var": self.init_var, "weights": self.weights}

    def __repr__(self) -> str:
        return (
            f"Problem({self.name!r}, bins={self.size}, dimension={self.dimension:g}, "
            f"h in [{self.h.min():.3g}, {self.h.max():.3g}], initial_risk={self.initial_risk:.4g})"
        )
