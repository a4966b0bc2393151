r"""Run the conformance suite against one optimizer spec: :func:`check_conformance`.

Each property of :data:`~nqm.proofs.PROPERTIES` becomes a hypothesis test over examples
drawn for the spec. Its verdict is

* PASSED: the number of examples actually checked and what was checked;
* FAILED: the violated comparison at the counterexample hypothesis shrank to (both values and
  the difference as a multiple of the tolerance) and that example, one ``name = value`` a line;
* NOT APPLICABLE: nothing to check for this spec, and why (e.g. no declared reductions).

Runs are reproducible: ``seed`` fixes every draw, no example database is read or written, and
every Monte-Carlo comparison uses seeds drawn as part of the example. No pytest needed::

    from nqm.proofs import check_conformance
    report = check_conformance(my_spec, max_examples=20)
    print(report)            # in Jupyter, `report` displays as a table
    assert report.ok
    report.to_pandas()       # one row per (optimizer, property); the `tables` extra
"""

from __future__ import annotations

import math
import time
import traceback
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.errors import Unsatisfiable, UnsatisfiedAssumption

from nqm.theory import OptimizerSpec, get_spec

from .._tables import html_table, to_dataframe
from ._properties import PROPERTIES, ConformanceError, Property

__all__ = ["ConformanceReport", "PropertyResult", "check_conformance"]

Status = Literal["passed", "failed", "not applicable"]

#: the columns of :meth:`ConformanceReport.to_pandas`
COLUMNS = ("optimizer", "property", "verdict", "examples", "shrink_steps", "seconds", "checked", "detail",
           "counterexample")


@dataclass(frozen=True)
class PropertyResult:
    """The outcome of one property.

    ``status``: ``"passed"``, ``"failed"`` or ``"not applicable"`` (nothing to check; ``message``
    says why). ``statement``: what the property checks, ``checked``: what exactly for this spec
    (e.g. the declared reductions), or ``""``. ``examples``: the examples actually checked before
    the first failure, that one included (examples hypothesis rejected do not count);
    ``shrink_steps``: further checks while shrinking a failure. For a failure, ``message`` states
    the violated comparison at the counterexample (both values and the tolerance) and
    ``counterexample`` is that example as plain data.
    """

    name: str
    status: Status
    statement: str
    examples: int
    seconds: float
    message: str = ""
    counterexample: Any = None
    checked: str = ""
    shrink_steps: int = 0

    @property
    def ok(self) -> bool:
        """True unless the property failed."""
        return self.status != "failed"

    def lines(self) -> list[str]:
        """The verdict in words: status, examples, what was checked, and for a failure the
        violated comparison and the counterexample (one line each)."""
        if self.status == "not applicable":
            return [f"NOT APPLICABLE  {self.name}: nothing to check: {self.message}"]
        runs = f"{self.examples} example{'s' * (self.examples != 1)}"
        if self.shrink_steps:
            runs += f" (+{self.shrink_steps} while shrinking)"
        out = [f"{self.status.upper()}  {self.name}: {runs}, {self.seconds:.2f} s",
               f"  checked: {self.statement}" + (f"; {self.checked}" if self.checked else "")]
        if self.status == "failed":
            out += [f"  {line}" for line in self.message.splitlines()]
            if self.counterexample is not None:
                out.append("  counterexample:")
                out += [f"    {line}" for line in example_lines(self.counterexample)]
        return out

    def record(self, optimizer: str) -> dict[str, object]:
        """One row of :meth:`ConformanceReport.to_pandas` (keys :data:`COLUMNS`)."""
        example = "" if self.counterexample is None else "\n".join(example_lines(self.counterexample))
        checked = self.statement + (f"; {self.checked}" if self.checked else "")
        return {"optimizer": optimizer, "property": self.name, "verdict": self.status, "examples": self.examples,
                "shrink_steps": self.shrink_steps, "seconds": self.seconds, "checked": checked, "detail": self.message,
                "counterexample": example}


@dataclass(frozen=True)
class ConformanceReport:
    """Results of :func:`check_conformance` for one spec."""

    spec: str
    seed: int
    max_examples: int
    results: tuple[PropertyResult, ...]

    @property
    def ok(self) -> bool:
        """True when no property failed (not applicable ones do not count)."""
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
        lines += [f"  {line}" for r in self.results for line in r.lines()]
        lines.append("OK" if self.ok else f"FAILED: {', '.join(self.failed)}")
        return "\n".join(lines)

    def records(self) -> list[dict[str, object]]:
        """One dict per property (keys :data:`COLUMNS`)."""
        return [r.record(self.spec) for r in self.results]

    def to_pandas(self) -> Any:
        """A tidy ``pandas.DataFrame``: one row per (optimizer, property), columns :data:`COLUMNS`.

        Concatenate the frames of several reports with ``pandas.concat``. Needs the ``tables``
        extra (pandas), imported here on demand.
        """
        return to_dataframe(self.records(), COLUMNS)

    def _repr_html_(self) -> str:
        """An HTML table of the verdicts (Jupyter); needs no pandas."""
        caption = f"conformance of {self.spec} (seed={self.seed}, max_examples={self.max_examples}): " + (
            "OK" if self.ok else f"FAILED: {', '.join(self.failed)}")
        return html_table(self.records(), COLUMNS, caption)


def _plain(example: Any, fields: tuple[str, ...] = ()) -> Any:
    """Examples as plain data for reports (setups in full, optimizers by name and values); the
    parts of a tuple example named by ``fields`` (the property's :attr:`~Property.fields`)."""
    if hasattr(example, "describe"):
        return example.describe()
    if hasattr(example, "__dataclass_fields__"):
        return {k: _plain(getattr(example, k)) for k in example.__dataclass_fields__}
    if isinstance(example, (tuple, list)):
        parts = type(example)(_plain(e) for e in example)
        return dict(zip(fields, parts)) if fields and len(fields) == len(parts) else parts
    if hasattr(example, "tolist"):
        return example.tolist()
    return example


def _value(value: Any) -> str:
    """A plain value in print: numbers as Python writes them (shortest round trip), lists in brackets."""
    if isinstance(value, dict):
        return ", ".join(f"{k} = {_value(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return repr(value) if isinstance(value, float) else str(value)


def example_lines(plain: Any) -> list[str]:
    """A counterexample (plain data) as readable lines: ``name = value``, a group of values on one
    line ``name: a = 1, b = 2``, and nested groups indented below their name."""
    if not isinstance(plain, dict):
        return [_value(plain)]
    out = []
    for key, value in plain.items():
        if isinstance(value, dict) and any(isinstance(v, dict) for v in value.values()):
            out += [f"{key}:"] + [f"  {line}" for line in example_lines(value)]
        elif isinstance(value, dict):
            out.append(f"{key}: {_value(value)}")
        else:
            out.append(f"{key} = {_value(value)}")
    return out


@contextmanager
def _shrinking_limit(seconds: float):
    """Hypothesis's own limit on shrinking time (five minutes; past it, it stops shrinking and
    replays the smallest failure found) set to ``seconds`` for the duration. It is a module
    constant of hypothesis's engine; where a version lacks it, the limit stays as it is and only
    the examples not yet seen stop costing checks (see :func:`_run`)."""
    from hypothesis.internal.conjecture import engine

    if not hasattr(engine, "MAX_SHRINKING_SECONDS"):
        yield
        return
    previous = engine.MAX_SHRINKING_SECONDS
    engine.MAX_SHRINKING_SECONDS = seconds
    try:
        yield
    finally:
        engine.MAX_SHRINKING_SECONDS = previous


def _run(prop: Property, spec: OptimizerSpec, max_examples: int, seed: int, shrink_seconds: float) -> PropertyResult:
    """One property as a hypothesis test, counting the examples checked.

    Hypothesis stops generating at the first failure (``report_multiple_bugs=False``) and then
    shrinks, so checks up to the first failure are the examples, later ones shrinking steps;
    examples rejected by ``assume`` are neither. Only an example whose check failed can be the
    reported counterexample: the one hypothesis replays last, its smallest failure.
    """
    reason = prop.skip_reason(spec)
    if reason is not None:
        return PropertyResult(prop.name, "not applicable", prop.statement, 0, 0.0, reason)
    examples = shrink_steps = 0
    failures: dict[str, tuple[Any, BaseException]] = {}  # every failing example seen: (plain data, error)
    stop_shrinking = math.inf

    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        verbosity=Verbosity.quiet,
        suppress_health_check=list(HealthCheck),
        phases=(Phase.explicit, Phase.generate) + ((Phase.shrink,) if shrink_seconds > 0 else ()),
        report_multiple_bugs=False,
        print_blob=False,
    )
    @hypothesis_seed(seed)
    @given(prop.strategy(spec))
    def test(example: Any) -> None:
        nonlocal examples, shrink_steps, stop_shrinking
        plain = _plain(example, prop.fields)
        key = repr(plain)
        if time.perf_counter() > stop_shrinking:
            # shrinking budget spent: examples not seen yet count as passing, so hypothesis ends
            # the search and replays its smallest failure, which fails again as before
            if key in failures:
                raise failures[key][1]
            return
        try:
            prop.check(spec, example)
        except UnsatisfiedAssumption:
            raise
        except Exception as exc:
            if failures:
                shrink_steps += 1
            else:
                examples += 1
                stop_shrinking = time.perf_counter() + shrink_seconds
            failures[key] = (plain, exc)
            raise
        if failures:
            shrink_steps += 1
        else:
            examples += 1

    start = time.perf_counter()
    error: BaseException | None = None
    try:
        with _shrinking_limit(shrink_seconds):
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
    if counterexample is not None and shrink_seconds == 0:
        message += "\n(not shrunk, shrink_seconds=0: the first failing example)"
    elif counterexample is not None and time.perf_counter() > stop_shrinking:
        message += f"\n(shrinking stopped after shrink_seconds={shrink_seconds:g}: the smallest failure found by then)"
    return PropertyResult(prop.name, status, prop.statement, examples, elapsed, message, counterexample,
                          prop.scope(spec), shrink_steps)


def check_conformance(
    spec_or_name: OptimizerSpec | str,
    *,
    max_examples: int = 20,
    seed: int = 0,
    properties: Iterable[str] | None = None,
    shrink_seconds: float = 60.0,
) -> ConformanceReport:
    """Run the conformance properties (all, or the named ones) against a spec.

    ``spec_or_name`` is an :class:`~nqm.theory.OptimizerSpec` (checked as the object it is,
    never registered) or a registered name. Reductions the spec satisfies are
    declared with :func:`nqm.proofs.declare_reduction` before the call. After a property first
    fails, hypothesis shrinks the counterexample for at most ``shrink_seconds`` and reports the
    smallest failing example found by then (``shrink_seconds=0``: the first failing example). Returns a :class:`ConformanceReport`; it never raises
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
    results = tuple(_run(PROPERTIES[n], spec, max_examples, seed, shrink_seconds) for n in names)
    return ConformanceReport(spec.name, seed, max_examples, results)
