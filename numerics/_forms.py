"""Numeric-ready forms of registered optimizer specs.

Built-ins come from the committed, generated ``_generated.py`` (no sympy import); any
other registered spec is derived and compiled on first use by
:func:`nqm.theory.compile_forms` (cached in memory and on disk).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._generated import FORMS

__all__ = ["Forms", "forms_for", "validate_hyperparameter", "validate_positive"]

Range = tuple[float, float, bool, bool]


def _range_text(rng: Range) -> str:
    lo, hi, lo_closed, hi_closed = rng
    fmt = lambda v: "inf" if math.isinf(v) else f"{v:g}"  # noqa: E731
    return f"{'[' if lo_closed else '('}{fmt(lo)}, {fmt(hi)}{']' if hi_closed else ')'}"


def validate_hyperparameter(name: str, value: object, rng: Range) -> np.ndarray:
    """``value`` as a float array, or ``ValueError`` naming ``name`` and its allowed range."""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in {_range_text(rng)}; got {value!r}") from None
    lo, hi, lo_closed, hi_closed = rng
    ok = np.isfinite(arr)
    ok &= (arr >= lo) if lo_closed else (arr > lo)
    ok &= (arr <= hi) if hi_closed else (arr < hi)
    if not np.all(ok):
        bad = arr[~ok].ravel()[0] if arr.ndim else float(arr)
        raise ValueError(f"{name} must be a finite number in {_range_text(rng)}; got {bad!r}")
    return arr


def validate_positive(name: str, value: object) -> float:
    """``value`` as a float, or ``ValueError`` naming ``name`` unless it is one finite number in (0, inf)."""
    arr = validate_hyperparameter(name, value, (0.0, math.inf, False, False))
    if arr.ndim:
        raise ValueError(f"{name} must be a single number in (0, inf); got {value!r}")
    return float(arr)


@dataclass(frozen=True)
class Forms:
    """The compiled invariants of one spec and the metadata to call them."""

    name: str
    params: tuple[str, ...]
    ranges: Mapping[str, Range]
    fn: Callable[..., dict[str, Any]]
    #: c enters only as the noise variance c/B (:attr:`nqm.theory.OptimizerSpec.noise_linear`)
    noise_linear: bool

    def evaluate(self, h: np.ndarray, c: np.ndarray, B: np.ndarray, hyper: Mapping[str, np.ndarray]) -> dict[str, Any]:
        """Evaluate the invariants; entries broadcast against ``h`` and the hyperparameters."""
        with np.errstate(all="ignore"):
            return self.fn(h, c, B, *(hyper[p] for p in self.params))


def forms_for(name: str) -> Forms:
    """The forms of the spec registered as ``name`` (user specs compile once per spec)."""
    if name in FORMS:
        params, ranges, fn, noise_linear = FORMS[name]
        return Forms(name, params, ranges, fn, noise_linear)
    from nqm.theory import compile_forms, get_spec, hyperparameter_ranges

    spec = get_spec(name)
    ranges = hyperparameter_ranges(spec)
    return Forms(name, tuple(ranges), ranges, compile_forms(spec), spec.noise_linear)
