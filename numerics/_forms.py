r"""Numeric-ready forms of optimizer specs.

Built-ins come from the committed, generated ``_generated.py`` (no sympy import); any
other spec is derived and compiled on first use by :func:`nqm.theory.codegen.compile_forms` (cached
in memory and on disk, per spec content). :func:`forms_for` resolves a spec object, or a name
in the registry (the command line's catalogue), once at an entry point; from there the
:class:`Forms` travel with the optimizer, and pickle themselves as the spec they come from, so
that a worker process rebuilds them without any registration.

:meth:`Forms.evaluate` completes the generated invariants: for one or two states the forms
return the stationary quantities times the edge factor :math:`E = \det(2I + D)`
(:mod:`nqm.theory._codegen`), and E itself is evaluated exactly from the inputs (an exact
double-double :math:`x = \alpha h`, :mod:`._twofold`: in double where a running error bound
certifies 4 units of roundoff, in double-double elsewhere and always for E and the w polynomials, whose
coefficients of the powers of x are evaluated once per hyperparameter value, :func:`._twofold.double_double_in_x`)
wherever the spec gives it as a polynomial, so that :math:`\bar S`, :math:`w_{0,1,2}` keep full
relative accuracy up to the stability edge (and are ``inf`` on it).
"""

from __future__ import annotations

import math
import numbers
import reprlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import Any

import numpy as np

from ._generated import FORMS, TRANSITIONS
from ._twofold import double_double_in_x, polynomials, two_product

__all__ = [
    "MAX_BATCH_SIZES",
    "MAX_HORIZON",
    "MAX_STEPS",
    "PRECOND_RANGE",
    "Forms",
    "UnknownOptimizerError",
    "evaluation_steps",
    "forms_for",
    "plain",
    "real_array",
    "validate_batch_size",
    "validate_batch_sizes",
    "validate_count",
    "validate_hyperparameter",
    "validate_positive",
    "validate_steps",
]

Range = tuple[float, float, bool, bool]

#: largest step count the engine accepts (2**62; exact integer arithmetic in doubling). Steps are
#: evaluated as float64, so an integer step above 2**53 that float64 cannot hold is refused.
MAX_STEPS = 2**62

#: the preconditioner power p of P = H^p (eq. 8)
PRECOND_RANGE: Range = (0.0, 1.0, True, True)

_BATCH_SIZE_RANGE: Range = (1.0, math.inf, True, False)

#: exact terms always in double-double: w = (w_num / w_den) / E enters the closed-form noise sum, which
#: amplifies its relative error by up to 2**16 (numerics/_model.py CANCELLATION); a certified 4 units of
#: roundoff there (instead of the final rounding alone) moved benchmarks/scan_edges.py's worst tiny-x error
#: from 1.05e-11 to 1.17e-11
_ALWAYS_DOUBLE_DOUBLE = frozenset({"edge", "w0_num", "w0_den", "w1_num", "w1_den", "w2_num", "w2_den"})

_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 60


def plain(value: object) -> object:
    """``value`` with NumPy scalars replaced by the Python numbers they hold (also inside lists,
    tuples and dicts), so that messages read ``0.0`` rather than ``np.float64(0.0)``."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v) for v in value) if type(value) in (list, tuple) else value
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    return value


def _shown(value: object) -> str:
    """A short one-line ``repr`` of ``value`` for error messages (long sequences are elided, NumPy
    scalars shown as plain numbers, :func:`plain`)."""
    value = plain(value)
    if isinstance(value, np.ndarray):
        with np.printoptions(threshold=6, edgeitems=3):
            text = " ".join(repr(value).split())
    else:
        text = " ".join(_SHORT.repr(value).split())
    return text if len(text) <= 80 else text[:77] + "..."


def _range_text(rng: Range) -> str:
    lo, hi, lo_closed, hi_closed = rng
    fmt = lambda v: "inf" if math.isinf(v) else f"{v:g}"  # noqa: E731
    return f"{'[' if lo_closed else '('}{fmt(lo)}, {fmt(hi)}{']' if hi_closed else ')'}"


def _real_or_fail(name: str, value: object, allowed: str) -> np.ndarray:
    """``value`` as an array of real numbers (numeric dtype, or Python numbers in an object array)."""
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError):  # ragged nesting
        raw = None
    if raw is None or raw.dtype.kind not in "iufO":  # strings, bools, complex, dates: never converted silently
        ok = False
    elif raw.dtype.kind == "O":  # Python numbers (e.g. integers beyond int64) or anything else
        ok = _all_real(raw.flat)
    elif raw.ndim and not isinstance(value, np.ndarray):  # a sequence: numpy turns [0.1, True] into floats
        ok = _all_real(np.asarray(value, dtype=object).flat)
    else:
        ok = True
    if not ok or raw is None:  # raw is None only where ok is False
        raise ValueError(f"{name} must be {allowed}; got {_shown(value)}")
    return raw


def _all_real(elements: Iterable[object]) -> bool:
    """Whether every element is a real number and not a bool (checked once per distinct type)."""
    return all(issubclass(k, numbers.Real) and not issubclass(k, (bool, np.bool_)) for k in set(map(type, elements)))


def real_array(name: str, value: object, allowed: str) -> np.ndarray:
    """``value`` as a float array, or ``ValueError`` naming ``name`` and ``allowed`` (the accepted values).

    Only real numbers are accepted (Python or NumPy scalars, sequences or arrays of them); strings,
    numeric strings (``"0.1"``), booleans, ``None`` and complex numbers are refused, never converted.
    """
    raw = _real_or_fail(name, value, allowed)
    try:
        return raw.astype(float)
    except OverflowError:  # a Python integer beyond the float range
        raise ValueError(f"{name} must be {allowed}; got {_shown(value)}") from None


def validate_hyperparameter(name: str, value: object, rng: Range) -> np.ndarray:
    """``value`` as a float array, or ``ValueError`` naming ``name`` and its allowed range."""
    arr = real_array(name, value, f"a number in {_range_text(rng)}")
    lo, hi, lo_closed, hi_closed = rng
    ok = np.isfinite(arr)
    ok &= (arr >= lo) if lo_closed else (arr > lo)
    ok &= (arr <= hi) if hi_closed else (arr < hi)
    if not np.all(ok):
        bad = float(arr[~ok].ravel()[0])
        raise ValueError(f"{name} must be a finite number in {_range_text(rng)}; got {bad!r}")
    return arr


def validate_positive(name: str, value: object) -> float:
    """``value`` as a float, or ``ValueError`` naming ``name`` unless it is one finite number in (0, inf)."""
    arr = validate_hyperparameter(name, value, (0.0, math.inf, False, False))
    if arr.ndim:
        raise ValueError(f"{name} must be a single number in (0, inf); got {_shown(value)}")
    return float(arr)


def validate_batch_size(batch_size: object, name: str = "batch_size") -> np.ndarray:
    """Batch sizes as a float array; ``ValueError`` unless finite numbers in [1, inf)."""
    return validate_hyperparameter(name, batch_size, _BATCH_SIZE_RANGE)


#: most batch sizes one call takes (a sweep tunes the whole grid at each, a schedule sweep searches the
#: optimal schedule at each; the paper's Fig. 3a has 10): checked before any work
MAX_BATCH_SIZES = 1000


def validate_batch_sizes(batch_sizes: object, name: str = "batch_sizes", at_least: int = 1) -> np.ndarray:
    """Several batch sizes (sweeps, figures, schedule sweeps) as a 1-D float array in the order given;
    ``ValueError`` naming ``name`` unless from ``at_least`` to :data:`MAX_BATCH_SIZES` distinct finite
    numbers in [1, inf)."""
    Bs = validate_batch_size(batch_sizes, name)
    if Bs.ndim != 1 or Bs.size < at_least:
        more = f", at least {at_least} of them" if at_least > 1 else ""
        raise ValueError(f"{name} must be a non-empty 1-D array of numbers >= 1{more}; got {_shown(batch_sizes)}")
    if Bs.size > MAX_BATCH_SIZES:
        raise ValueError(f"{name} must hold from {at_least} to {MAX_BATCH_SIZES:,} distinct numbers >= 1; "
                         f"got {Bs.size:,}")
    if np.unique(Bs).size != Bs.size:
        raise ValueError(f"{name} must be distinct; got {_shown(batch_sizes)}")
    return Bs


def validate_steps(steps: object, name: str = "steps") -> np.ndarray:
    """Step counts as a float array; ``ValueError`` unless integers in [0, :data:`MAX_STEPS`] held exactly by float64.

    Integer input is checked before the conversion to float, so a step such as ``2**53 + 1``
    (which float64 would round to ``2**53``) is refused instead of evaluated at another step.
    """
    allowed = "integers in [0, 2**62]"
    raw = _real_or_fail(name, steps, allowed)
    try:
        t = raw.astype(float)
    except OverflowError:
        raise ValueError(f"{name} must be {allowed}; got {_shown(steps)}") from None
    bad = ~np.isfinite(t) | (t < 0) | (t != np.floor(t)) | (t > MAX_STEPS)
    if np.any(bad):
        raise ValueError(f"{name} must be {allowed}; got {float(t[bad].ravel()[0])!r}")
    big = t >= 2**53  # only integers above 2**53 can be rounded by the conversion (2**53 + 1 becomes 2**53)
    if raw.dtype.kind in "iuO" and big.any():
        wanted, got = raw[big].ravel().tolist(), t[big].ravel().tolist()  # Python ints: compared exactly
        rounded = next(((x, y) for x, y in zip(wanted, got) if int(x) != int(y)), None)
        if rounded is not None:
            raise ValueError(
                f"{name} must be {allowed} that float64 holds exactly (every integer up to 2**53 is); "
                f"got {int(rounded[0])}, which would be evaluated at step {int(rounded[1])}"
            )
    return t


#: most evaluation times a horizon (a single number T, meaning every step 0..T) may ask for
MAX_HORIZON = 10**7


def evaluation_steps(steps: object, name: str = "steps") -> np.ndarray:
    """The evaluation times of a ``steps=`` argument: one meaning in every function that takes one.

    A single integer T is a horizon: every step 0, 1, ..., T (a curve; T <= :data:`MAX_HORIZON`,
    checked before any work). An array (list, tuple or ndarray of at least one dimension) holds the
    evaluation times themselves, in any order and shape (``[T]`` is step T alone). Values as for
    :func:`validate_steps`; ``ValueError`` naming ``name`` otherwise.
    """
    t = validate_steps(steps, name)
    if t.ndim:
        return t
    if t > MAX_HORIZON:
        raise ValueError(
            f"{name}: a single number T means every step 0..T, at most {MAX_HORIZON:,}; got {int(t):,} "
            f"(pass evaluation times as an array, e.g. [{int(t)}])"
        )
    return np.arange(int(t) + 1, dtype=float)


def validate_count(name: str, value: object, lowest: int, highest: int | None = None) -> int:
    """``value`` as a Python int, or ``ValueError`` naming ``name`` unless it is an integer >= ``lowest``
    (and <= ``highest`` if given; ``bool`` and integral floats such as ``2.0`` are refused: a count is
    an ``int``)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < lowest \
            or highest is not None and value > highest:
        allowed = f">= {lowest}" if highest is None else f"from {lowest} to {highest}"
        raise ValueError(f"{name} must be an integer {allowed}; got {_shown(value)}")
    return int(value)


class UnknownOptimizerError(ValueError, KeyError):
    """No spec is registered under the name: a ``ValueError`` (bad input, like every other) that is
    still a ``KeyError`` for code written against the registry's lookup (as numpy's ``AxisError``)."""

    __str__ = BaseException.__str__  # the message itself, not KeyError's quoted repr


@dataclass(frozen=True)
class Forms:
    """The compiled invariants of one spec and the metadata to call them.

    ``source`` is the :class:`nqm.theory.OptimizerSpec` a user spec's forms were compiled from
    (``None`` for a built-in's generated forms); a pickled ``Forms`` is that spec (or the built-in's
    name), rebuilt by :func:`forms_for` on unpickling, so optimizers carry their spec to worker processes.
    """

    name: str
    params: tuple[str, ...]
    ranges: Mapping[str, Range]
    fn: Callable[..., dict[str, Any]]
    #: c enters only as the noise variance c/B (:attr:`nqm.theory.OptimizerSpec.noise_linear`)
    noise_linear: bool
    #: the forms obey the scale symmetry (h, c, lr) -> (s h, s c, lr / s) (:func:`nqm.theory.codegen.scale_covariant`)
    scale_covariant: bool = False
    #: E = det(2I + D), the discriminant, tr(2I + D), tr A, det A, u1, h g0 and h g1 as polynomials in
    #: x = lr h and the other hyperparameters (:func:`nqm.theory.codegen.exact_terms`)
    exact_terms: Mapping[str, tuple] | None = None
    #: the spec compiled (None: a built-in, generated ahead of time in ``_generated.py``)
    source: Any = field(default=None, compare=False, repr=False)

    @property
    def builtin(self) -> bool:
        """Whether these are a built-in's generated forms (no sympy needed)."""
        return self.source is None

    @property
    def spec(self) -> Any:
        """The :class:`nqm.theory.OptimizerSpec` of these forms (a built-in's from the registry,
        where built-ins cannot be replaced; imports the theory layer)."""
        if self.source is not None:
            return self.source
        from nqm.theory import get_spec

        return get_spec(self.name)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return forms_for, (self.name if self.source is None else self.source,)

    @property
    def transition_function(self) -> Callable[..., dict[str, Any]]:
        """The generated transition function (``forms_transition`` of :func:`nqm.theory.codegen.forms_source`):
        ``(h, c, B, *hyperparameters)`` -> ``n`` and the transition entries ``D``, ``b``, ``init``, ``out``,
        the same expressions as :attr:`fn` (so the same values, bit for bit), without the stationary and
        edge quantities. A built-in's is in ``_generated.py``; a user spec's is compiled with its forms
        from the same checked text (:func:`nqm.theory.codegen.compile_transition`)."""
        if self.builtin:
            return TRANSITIONS[self.name]  # type: ignore[return-value]
        from nqm.theory.codegen import compile_transition

        return compile_transition(self.source)

    @cached_property
    def states(self) -> int:
        """The number of states n of the spec (``n`` of the generated functions, which do not depend on
        their arguments)."""
        return int(self.transition_function(1.0, 1.0, 1.0, *(0.5 for _ in self.params))["n"])

    def transition(
        self, h: np.ndarray, c: np.ndarray, B: np.ndarray, hyper: Mapping[str, float | np.ndarray], *,
        normalised: bool = False,
    ) -> dict[str, Any]:
        """``n`` and the transition entries ``D``, ``b``, ``init`` and ``out`` alone (:attr:`transition_function`),
        for callers that read no more (spectral radii, exact doubling, Monte Carlo, the per-step
        recursion of schedules); entries broadcast against ``h`` and the hyperparameters.
        ``normalised`` as for :meth:`evaluate`."""
        with np.errstate(all="ignore"):
            return self.transition_function(*self._arguments(h, c, B, hyper, normalised))

    def _arguments(
        self, h: np.ndarray, c: np.ndarray, B: np.ndarray, hyper: Mapping[str, float | np.ndarray], normalised: bool
    ) -> tuple[Any, ...]:
        r"""The generated functions' arguments ``(h, c, B, *hyperparameters)``, at the equivalent problem
        :math:`(1, c/h, \alpha h)` when ``normalised``."""
        if not normalised:
            return (h, c, B, *(hyper[p] for p in self.params))
        if not self.scale_covariant:
            raise ValueError(f"the forms of {self.name!r} are not scale covariant")
        args = {**hyper, "lr": hyper["lr"] * h}
        return (np.ones_like(h), c / h, B, *(args[p] for p in self.params))

    def evaluate(
        self, h: np.ndarray, c: np.ndarray, B: np.ndarray, hyper: Mapping[str, float | np.ndarray], *,
        normalised: bool = False,
    ) -> dict[str, Any]:
        r"""Evaluate the invariants; entries broadcast against ``h`` and the hyperparameters.

        ``normalised`` (only for :attr:`scale_covariant` forms): evaluate at the equivalent
        problem :math:`h = 1`, :math:`\alpha = \alpha h`, :math:`c = c/h`, whose invariants are
        scale free (:math:`g` is :math:`h` times, the stationary quantities :math:`h^2` times the
        original ones); the caller rescales the weights. Callers that read only the transition
        entries use :meth:`transition`.
        """
        with np.errstate(all="ignore"):
            inv = self.fn(*self._arguments(h, c, B, hyper, normalised))
            if "edge" in inv:
                # a complex step (derivatives, numerics/_schedule_maps.py) keeps the generated values
                if not any(np.iscomplexobj(v) for v in (h, *hyper.values())):
                    self._exact(h, hyper, inv, normalised)
                self._divide_by_edge(inv)
        return inv

    def _exact(
        self, h: np.ndarray, hyper: Mapping[str, float | np.ndarray], inv: dict[str, Any], normalised: bool
    ) -> None:
        """The quantities of :func:`nqm.theory.codegen.exact_terms` exactly from the inputs (polynomials in the
        double-double x = lr h, :func:`._twofold.polynomials`): E, the discriminant, tr(2I + D), tr A,
        det A and u1 always (tr(2I + D), tr A, det A are None without them: computed from sigma);
        g0, g1 and E w0, E w1, E w2 (a ratio of two such polynomials) in the normalised evaluation.
        Unit-interval hyperparameters enter as their (exact) complement where they are at least 1/2."""
        inv.update(trace2=None, traceA=None, detA=None)
        if not self.exact_terms:
            return
        x = two_product(h, hyper["lr"])
        values = [np.asarray(hyper[p], dtype=float) for p in self.params if p != "lr"]
        unit = [j for j, p in enumerate(q for q in self.params if q != "lr") if self.ranges[p][:2] == (0.0, 1.0)]
        unit = unit if len(unit) <= 4 else []
        k = sum((values[j] >= 0.5).astype(np.intp) << b for b, j in enumerate(unit)) if unit else np.intp(0)
        names = [n for n in self.exact_terms if normalised or not n.startswith(("g0", "g1", "w0", "w1", "w2"))]
        count = max((len(self.exact_terms[n]) for n in names), default=0)
        flipped = [[1.0 - y if j in unit and v >> unit.index(j) & 1 else y for j, y in enumerate(values)]
                   for v in range(count)]
        always = [n for n in names if n in _ALWAYS_DOUBLE_DOUBLE]
        # the terms always in double-double: coefficients of the powers of x once per hyperparameter value
        tables = [{n: self.exact_terms[n][v] for n in always} for v in range(count)]
        results = double_double_in_x(tables, k, x, flipped) if always else {}
        names = [n for n in names if n not in _ALWAYS_DOUBLE_DOUBLE]
        shape = np.broadcast_shapes(np.shape(x[0]), np.shape(k), *(np.shape(y) for y in values))
        k = np.broadcast_to(k, shape)
        x = (np.broadcast_to(x[0], shape), np.broadcast_to(x[1], shape))
        values = [np.broadcast_to(y, shape) for y in values]
        results.update({name: np.empty(shape) for name in names})
        for v in range(count if names else 0):
            here = k == v  # evaluate each variant writing only where it is chosen
            if not here.any():
                continue
            flip = [j in unit and v >> unit.index(j) & 1 for j in range(len(values))]
            others = [1.0 - y[here] if f else y[here] for f, y in zip(flip, values)]
            table = {name: self.exact_terms[name][v] for name in names if v < len(self.exact_terms[name])}
            for name, value in polynomials(table, (x[0][here], x[1][here]), others).items():
                results[name][here] = value
        inv.update(results)
        for name in ("w0", "w1", "w2"):  # E h^2 w as a ratio of two exact polynomials (normalised only)
            if f"{name}_num" in inv:
                inv[f"edge_{name}"] = inv.pop(f"{name}_num") / inv.pop(f"{name}_den")

    @staticmethod
    def _divide_by_edge(inv: dict[str, Any]) -> None:
        """``Sbar``, ``w0``, ``w1``, ``w2`` from the generated ``edge_<name>`` = E * quantity (inf at E = 0)."""
        E = inv["edge"]

        def divide(value: object) -> np.ndarray:
            value = np.asarray(value)
            return np.where(value == 0, 0.0, value / E)

        for name in ("Sbar", "w0", "w1", "w2"):
            value = inv.pop(f"edge_{name}")
            inv[name] = tuple(divide(v) for v in value) if isinstance(value, tuple) else divide(value)


def forms_for(spec: object, name: str = "optimizer") -> Forms:
    """The forms of ``spec``: an :class:`nqm.theory.OptimizerSpec`, or the name of a registered one.

    A built-in (by name, or a spec equal to it) gives its generated forms without importing sympy;
    any other spec compiles once per spec content (:func:`_compiled`). Names are looked up in the
    registry here and nowhere else; an unknown one is ``ValueError`` naming the parameter ``name``
    (the caller's own parameter) and listing the registered names.
    """
    if isinstance(spec, str) and spec in FORMS:
        generated: tuple[Any, ...] = FORMS[spec]  # (params, ranges, fn, noise_linear, scale_covariant, exact_terms)
        return Forms(spec, *generated)
    from nqm.theory import OptimizerSpec, get_spec, registered_names

    if isinstance(spec, OptimizerSpec):
        return _compiled(spec)
    try:
        found = get_spec(spec)  # type: ignore[arg-type]
    except (KeyError, TypeError):  # TypeError: an unhashable name
        raise UnknownOptimizerError(
            f"{name} must name a registered spec ({', '.join(registered_names())}); got {_shown(spec)}"
        ) from None
    return _compiled(found)


@cache
def _compiled(spec: Any) -> Forms:
    """The forms of a spec object, cached by spec content (a spec unpickled in a worker hits the
    entry of an equal one): a built-in's generated forms when ``spec`` equals the built-in of its name."""
    from nqm.theory import get_spec
    from nqm.theory.codegen import compile_forms, exact_terms, hyperparameter_ranges, scale_covariant

    if spec.name in FORMS and get_spec(spec.name) == spec:
        generated: tuple[Any, ...] = FORMS[spec.name]
        return Forms(spec.name, *generated)
    ranges = hyperparameter_ranges(spec)
    return Forms(
        spec.name, tuple(ranges), ranges, compile_forms(spec), spec.noise_linear, scale_covariant(spec),
        exact_terms(spec), spec,
    )
