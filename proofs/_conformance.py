r"""Run the conformance suite against one optimizer spec: :func:`check_conformance`.

Each property of :data:`~nqm.proofs.PROPERTIES` becomes a hypothesis test over examples
drawn for the spec; a failing property reports the counterexample hypothesis shrank to,
with the violated comparison. Runs are reproducible: ``seed`` fixes every draw, no example
database is read or written, and every Monte-Carlo comparison uses seeds drawn as part of
the example. No pytest needed::

    from nqm.proofs import check_conformance
    report = check_conformance(my_spec, max_examples=20)
    print(report)
    assert report.ok
"""

from __future__ import annotations

import math
import time
import traceback
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from hypothesis import HealthCheck, Phase, Verbosity, given, seed as hypothesis_seed, settings
from hypothesis.errors import Unsatisfiable

from nqm.theory import OptimizerSpec, get_spec, register, unregister

from ._properties import PROPERTIES, ConformanceError, Property
from ._strategies import Setup

__all__ = ["ConformanceReport", "PropertyResult", "check_conformance"]

Status = Literal["passed", "failed", "skipped"]


@dataclass(frozen=True)
class PropertyResult:
    """The outcome of one property: ``status``, examples run, time, and for a failure the
    message and the shrunk counterexample (plain data)."""

    name: str
    status: Status
    statement: str
    examples: int
    seconds: float
    message: str = ""
    counterexample: Any = None

    @property
    def ok(self) -> bool:
        """True unless the property failed."""
        return self.status != "failed"


@dataclass(frozen=True)
class ConformanceReport:
    """Results of :func:`check_conformance` for one spec."""

    spec: str
    seed: int
    max_examples: int
    results: tuple[PropertyResult, ...]

    @property
    def ok(self) -> bool:
        """True when no property failed (skipped ones do not count)."""
        return all(r.ok for r in self.results)

    @property
    def failed(self) -> tuple[str, ...]:
        """Names of the failed properties."""
        return tuple(r.name for r in self.results if not r.ok)

    def __getitem__(self, name: str) -> PropertyResult:
        for r in self.results:
            if r.name == name:
                return r
        raise KeyError(f"no property {name!r} in this report; it has {[r.name for r in self.results]}")

    def __str__(self) -> str:
        lines = [f"conformance of {self.spec!r} (seed={self.seed}, max_examples={self.max_examples}):"]
        for r in self.results:
            lines.append(f"  {r.status.upper():<7} {r.name:<28} {r.examples:>4} examples {r.seconds:7.2f} s")
            if r.status == "skipped":
                lines.append(f"          {r.message}")
            elif not r.ok:
                lines.append(f"          {r.message}")
                lines.append(f"          counterexample: {r.counterexample!r}")
        lines.append("OK" if self.ok else f"FAILED: {', '.join(self.failed)}")
        return "\n".join(lines)


def _plain(example: Any) -> Any:
    """Examples as plain data for reports (setups in full, optimizers by name and values)."""
    if isinstance(example, Setup):
        return example.describe()
    if hasattr(example, "__dataclass_fields__"):
        return {k: _plain(getattr(example, k)) for k in example.__dataclass_fields__}
    if isinstance(example, (tuple, list)):
        return type(example)(_plain(e) for e in example)
    if hasattr(example, "tolist"):
        return example.tolist()
    return example


@contextmanager
def _registered(spec: OptimizerSpec):
    """``spec`` registered for the duration (if it is not already)."""
    try:
        existing = get_spec(spec.name)
    except KeyError:
        existing = None
    if existing is not None and existing != spec:
        raise ValueError(f"another spec is registered as {spec.name!r}; rename yours or unregister the other")
    if existing is None:
        register(spec)
    try:
        yield
    finally:
        if existing is None:
            unregister(spec.name)


def _run(prop: Property, spec: OptimizerSpec, max_examples: int, seed: int, shrink_seconds: float) -> PropertyResult:
    reason = prop.skip_reason(spec)
    if reason is not None:
        return PropertyResult(prop.name, "skipped", prop.statement, 0, 0.0, reason)
    calls = 0
    failures: dict[str, tuple[Any, BaseException]] = {}  # every failing example seen: (plain data, error)
    stop_shrinking = math.inf

    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        verbosity=Verbosity.quiet,
        suppress_health_check=list(HealthCheck),
        phases=(Phase.explicit, Phase.generate, Phase.shrink),
        report_multiple_bugs=False,
        print_blob=False,
    )
    @hypothesis_seed(seed)
    @given(prop.strategy(spec))
    def test(example: Any) -> None:
        nonlocal calls, stop_shrinking
        plain = _plain(example)
        key = repr(plain)
        if time.perf_counter() > stop_shrinking:
            # shrinking budget spent: examples not seen yet count as passing, so hypothesis ends
            # the search and replays its smallest failure, which fails again as before
            if key in failures:
                raise failures[key][1]
            return
        calls += 1
        try:
            prop.check(spec, example)
        except Exception as exc:
            if not failures:
                stop_shrinking = time.perf_counter() + shrink_seconds
            failures[key] = (plain, exc)
            raise

    start = time.perf_counter()
    error: BaseException | None = None
    try:
        test()
    except ConformanceError as exc:
        status, message, error = "failed", str(exc), exc
    except Unsatisfiable as exc:
        status, message = "failed", f"no valid example could be drawn (is the stability region empty?): {exc}"
    except Exception as exc:  # an exception in the spec, the engine or a strategy is a failure too
        status, error = "failed", exc
        message = f"{type(exc).__name__}: {exc}\n{''.join(traceback.format_tb(exc.__traceback__)[-3:])}"
    else:
        status, message = "passed", ""
    elapsed = time.perf_counter() - start
    # the error hypothesis re-raises is that of its final replay of the shrunk example
    counterexample = next((plain for plain, exc in failures.values() if exc is error), None)
    return PropertyResult(prop.name, status, prop.statement, calls, elapsed, message, counterexample)


def check_conformance(
    spec_or_name: OptimizerSpec | str,
    *,
    max_examples: int = 20,
    seed: int = 0,
    properties: Iterable[str] | None = None,
    shrink_seconds: float = 60.0,
) -> ConformanceReport:
    """Run the conformance properties (all, or the named ones) against a spec.

    ``spec_or_name`` is an :class:`~nqm.theory.OptimizerSpec` (registered for the run if it
    is not yet, then unregistered) or a registered name. Reductions the spec satisfies are
    declared with :func:`nqm.proofs.declare_reduction` before the call. After a property first
    fails, hypothesis shrinks the counterexample for at most ``shrink_seconds`` and reports the
    smallest failing example found by then. Returns a :class:`ConformanceReport`; it never raises
    on a failing property.
    """
    spec = spec_or_name if isinstance(spec_or_name, OptimizerSpec) else get_spec(spec_or_name)
    if spec.preconditioned:
        raise ValueError(
            f"{spec.name} is already preconditioned; check the unpreconditioned spec (every property draws p itself)"
        )
    if isinstance(max_examples, bool) or not isinstance(max_examples, int) or max_examples < 1:
        raise ValueError(f"max_examples must be an integer >= 1; got {max_examples!r}")
    if not shrink_seconds >= 0:
        raise ValueError(f"shrink_seconds must be a number >= 0; got {shrink_seconds!r}")
    names = list(PROPERTIES) if properties is None else list(properties)
    unknown = [n for n in names if n not in PROPERTIES]
    if unknown:
        raise ValueError(f"unknown properties {unknown}; available: {', '.join(PROPERTIES)}")
    with _registered(spec):
        results = tuple(_run(PROPERTIES[n], spec, max_examples, seed, shrink_seconds) for n in names)
    return ConformanceReport(spec.name, seed, max_examples, results)
