r"""The schedule family: one optimizer on one problem with some quantities varying per piece or step.

A :class:`ScheduleFamily` fixes which quantities vary — any hyperparameters of the spec and the
batch size — holds the per-bin data of the (preconditioned, eqs. 8–9) problem, and evaluates the
spec's generated forms at arrays of the varying values, with exact derivatives in any varying
hyperparameter by a complex step. The piece maps built from them are in :mod:`._schedule_maps`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from ._forms import _shown
from ._optimizers import Optimizer
from ._problem import Problem
from .schedules import BATCH_SIZE

__all__ = ["INVARIANT_KEYS", "LrFamily", "ScheduleFamily", "Values", "check_varying", "relative_step"]

#: the values of a family's varying quantities: name -> array, or the learning rates alone (an lr-only family)
Values = Mapping[str, np.ndarray] | np.ndarray

#: every invariant :meth:`ScheduleFamily.invariants` can return
INVARIANT_KEYS = ("D", "Sbar", "b", "init", "out", "sigma", "det_D", "det_A_minus_1")
#: the invariants that are transition entries (no edge quantity enters them)
_TRANSITION_KEYS = frozenset({"D", "b", "init", "out"})


#: relative size of the complex step: s(u) d f / d u = Im f(u + i eps s(u)) / eps, s(u) = abs(u) or 1 at 0
_COMPLEX_STEP = 1e-20


def _stack(entries: tuple, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    return np.stack([np.broadcast_to(np.asarray(e, dtype=dtype), shape) for e in entries], axis=-1)


def _probe_values(rng: tuple) -> np.ndarray:
    """Two values inside a hyperparameter's range (the family's probe of ``init`` and ``out``)."""
    lo, hi = float(rng[0]), float(rng[1])
    if math.isfinite(lo) and math.isfinite(hi):
        return lo + (hi - lo) * np.array([0.3, 0.6])
    base = lo if math.isfinite(lo) else (hi - 2.0 if math.isfinite(hi) else 0.0)
    return base + np.array([1.0, 0.5])


def relative_step(u: np.ndarray) -> np.ndarray:
    """The scale :math:`s(u)` of the complex step in ``u``: :math:`|u|`, or 1 at :math:`u = 0`."""
    return np.where(u != 0, np.abs(u), 1.0)


def check_varying(names: Iterable[object], params: tuple[str, ...], spec_name: str) -> None:
    """``ValueError`` naming ``schedule[name]`` unless every name is a hyperparameter of the spec (``params``)
    other than ``precond_power``, or :data:`~nqm.numerics.schedules.BATCH_SIZE`."""
    for name in names:
        if name == "precond_power":
            raise ValueError(
                "schedule['precond_power']: the preconditioning power cannot vary with the step (it fixes the "
                "coordinates of the equivalent problem, eqs. 8-9); give it to the optimizer as a constant"
            )
        if name not in params and name != BATCH_SIZE:
            raise ValueError(
                f"schedule[{_shown(name)}]: {spec_name} has no hyperparameter of that name; a schedule may vary "
                f"{', '.join(params)} or {BATCH_SIZE!r}"
            )


class ScheduleFamily:
    r"""One optimizer on one problem with the quantities ``varying`` free per piece (or step).

    ``varying`` names hyperparameters of the spec and, optionally, :data:`BATCH_SIZE`; every other
    hyperparameter is fixed at the value ``opt`` holds (a scalar), and the batch size, unless it
    varies, is ``batch_size``. The preconditioning power cannot vary (it fixes the coordinates of
    the equivalent problem, eqs. 8–9).

    Holds the per-bin data of the (preconditioned) problem — ``weight`` :math:`w\tfrac12h`,
    ``start`` :math:`v`, ``noise`` :math:`c/B` for a constant batch size, :math:`c` when the
    batch size varies (each piece's noise map is then scaled by its own :math:`1/B_k`, see
    :func:`piece_maps`) — and evaluates the spec's generated forms at any arrays of the varying
    values (:meth:`invariants`).
    """

    def __init__(
        self, problem: Problem, opt: Optimizer, varying: tuple[str, ...] = ("lr",), batch_size: float | None = None
    ) -> None:
        params = opt.forms.params
        check_varying(varying, params, opt.name)
        if len(set(varying)) != len(varying):
            raise ValueError(f"varying names each quantity once; got {list(varying)}")
        self.batch_varies = BATCH_SIZE in varying
        if self.batch_varies == (batch_size is not None):
            raise ValueError(
                "batch_size: give a constant batch_size= or a schedule['batch_size'], not both"
                if self.batch_varies
                else "batch_size: a constant batch size (a number >= 1) is needed when it has no schedule"
            )
        self.varying = tuple(name for name in varying if name != BATCH_SIZE)
        fixed = {k: v for k, v in opt.hyperparameters.items() if k not in self.varying}
        for name, value in {**fixed, "precond_power": opt.precond_power}.items():
            if np.ndim(value) != 0:
                raise ValueError(
                    f"{name} must be a scalar for a schedule (only {', '.join(varying)} vary); got shape "
                    f"{np.shape(value)}"
                )
        self.forms = opt.forms
        self.fixed = {k: float(v) for k, v in fixed.items()}
        self.batch_size = None if batch_size is None else float(batch_size)
        h, c, v = problem.preconditioned(opt.precond_power)
        self.h, self.c = np.asarray(h, dtype=float), np.asarray(c, dtype=float)
        self.weight = 0.5 * problem.weights * self.h
        self.start = np.asarray(v, dtype=float)
        self.noise = self.c / (1.0 if self.batch_size is None else self.batch_size)
        self.n, self.init, self.out = self._probe()

    def _probe(self) -> tuple[int, np.ndarray, np.ndarray]:
        """State dimension, ``init`` and ``out`` (bins, n); ``ValueError`` if they depend on a varying quantity."""
        probe = {name: _probe_values(self.forms.ranges[name]) for name in self.varying}
        if self.batch_varies:
            probe[BATCH_SIZE] = np.array([1.0, 3.0])
        first = None
        for name in self.varying or (None,):
            inv = self.invariants(probe, derivative=name or False, keys=("init", "out"))
            if name is not None and (np.any(inv["dinit"] != 0) or np.any(inv["dout"] != 0)):
                raise ValueError(f"{self.forms.name}: schedules need init and out independent of {name}")
            first = inv
        assert first is not None
        if self.batch_varies and any(np.any(first[k][0] != first[k][1]) for k in ("init", "out")):
            raise ValueError(f"{self.forms.name}: schedules need init and out independent of {BATCH_SIZE}")
        return int(first["n"]), first["init"][0], first["out"][0]

    @property
    def h_range(self) -> tuple[float, float]:
        """Largest and smallest curvature of the preconditioned problem (bins of positive weight)."""
        used = self.h[self.weight > 0] if np.any(self.weight > 0) else self.h
        return float(used.max()), float(used.min())

    def as_values(self, values: Values) -> dict[str, np.ndarray]:
        """``values`` as a mapping of every varying quantity to a float array (an array alone is the
        learning rates of a family whose only varying quantity is ``lr``); ``ValueError`` otherwise."""
        wanted = self.varying + ((BATCH_SIZE,) if self.batch_varies else ())
        if not isinstance(values, Mapping):
            if wanted != ("lr",):
                raise ValueError(f"values must map each of {', '.join(wanted)} to its values; got an array")
            values = {"lr": values}
        if set(values) != set(wanted):
            raise ValueError(f"values must give exactly {', '.join(wanted)}; got {', '.join(values)}")
        return {name: np.asarray(values[name], dtype=float) for name in wanted}

    def _derivative_name(self, derivative: bool | str | None) -> str | None:
        if derivative is True:
            if len(self.varying) != 1:
                raise ValueError(f"derivative must name one of {', '.join(self.varying)}")
            return self.varying[0]
        if not derivative:
            return None
        if derivative not in self.varying:
            raise ValueError(f"derivative must name a varying hyperparameter ({', '.join(self.varying)}); "
                             f"got {derivative!r}")
        return str(derivative)

    def invariants(
        self, values: Values, *, derivative: bool | str | None = False, keys: tuple[str, ...] = INVARIANT_KEYS,
        shape: tuple[int, ...] = (),
    ) -> dict[str, np.ndarray]:
        r"""The forms at ``values`` (:meth:`as_values`; arrays of any shapes broadcasting to E);
        arrays get shape ``E + (bins,)``.

        Returns ``n`` and, of ``keys`` (default all): ``D`` (``... n, n``), ``b``, ``init``,
        ``out`` (``... n``), ``Sbar`` (``... n, n``), ``sigma``, ``det_D``, ``det_A_minus_1``;
        with ``derivative`` (a varying hyperparameter's name; ``True`` for the only one) also
        their derivatives :math:`s(u)\,\partial/\partial u` in that quantity :math:`u`, prefixed
        ``d``, by a complex step of relative size :math:`10^{-20}`
        (:math:`u \to u + i\epsilon s(u)`, :math:`s(u) = |u|`, or 1 at :math:`u = 0`): for the
        (positive) learning rate, :math:`\partial/\partial\log\alpha`. ``shape`` is broadcast into E
        (the pieces' shape, needed when no quantity varies).
        """
        wrt = self._derivative_name(derivative)
        inv, hyper, B = self._forms_at(self.as_values(values), wrt, keys)
        n = int(inv["n"])
        shape = np.broadcast_shapes(*(np.shape(u) for u in hyper.values()), np.shape(B), shape + (1,), self.h.shape)
        dtype = complex if wrt else float
        out: dict[str, np.ndarray] = {"n": np.asarray(n)}
        raw = {}
        for key in keys:
            if key in ("D", "Sbar"):
                raw[key] = _stack(inv[key], shape, dtype).reshape(shape + (n, n))
            elif key in ("b", "init", "out"):
                raw[key] = _stack(inv[key], shape, dtype)
            elif inv.get(key) is not None:
                raw[key] = np.broadcast_to(np.asarray(inv[key], dtype=dtype), shape)
        for key, val in raw.items():
            out[key] = np.ascontiguousarray(val.real)
            if wrt:
                out["d" + key] = val.imag / _COMPLEX_STEP
        return out

    def _forms_at(
        self, vals: Mapping[str, np.ndarray], wrt: str | None, keys: tuple[str, ...]
    ) -> tuple[dict[str, Any], dict[str, float | np.ndarray], np.ndarray]:
        """The generated forms (unstacked entries) at ``vals`` (:meth:`as_values`; a complex step in
        ``wrt``), the hyperparameters and the batch size they were evaluated at; only the
        transition entries (:meth:`~._forms.Forms.transition`) when ``keys`` asks for no more."""
        hyper: dict[str, float | np.ndarray] = dict(self.fixed)
        for name in self.varying:
            u = vals[name][..., None]
            hyper[name] = u + 1j * (_COMPLEX_STEP * relative_step(u)) if name == wrt else u
        B = vals[BATCH_SIZE][..., None] if self.batch_varies else np.asarray(self.batch_size)
        if not set(keys) <= _TRANSITION_KEYS:
            return self.forms.evaluate(self.h, self.c, B, hyper), hyper, B
        return self.forms.transition(self.h, self.c, B, hyper), hyper, B

    def transition_entries(self, values: Values) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
        """The entries of ``D`` (row-major, n*n of them) and of ``b`` (n) at ``values`` (:meth:`as_values`),
        each a float array broadcastable to ``E + (bins,)`` but not broadcast: an entry that does not vary
        keeps its small shape (the per-step recursion lays the entries out itself)."""
        inv, _, _ = self._forms_at(self.as_values(values), None, ("D", "b"))
        return tuple(np.asarray(e, dtype=float) for e in inv["D"]), tuple(np.asarray(e, dtype=float) for e in inv["b"])

    def noise_scale(self, values: Mapping[str, np.ndarray]) -> np.ndarray | None:
        """Per element, the factor :math:`1/B_k` of the noise maps when the batch size varies (else ``None``)."""
        return 1.0 / values[BATCH_SIZE] if self.batch_varies else None


class LrFamily(ScheduleFamily):
    """The family of :class:`ScheduleFamily` in which only ``lr`` varies, at a constant batch size."""

    batch_size: float

    def __init__(self, problem: Problem, opt: Optimizer, batch_size: float) -> None:
        if "lr" not in opt.forms.params:
            raise ValueError(f"schedules vary the hyperparameter 'lr'; {opt.name} has {', '.join(opt.forms.params)}")
        super().__init__(problem, opt, ("lr",), float(batch_size))
