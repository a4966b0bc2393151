r"""Numeric-ready forms: the theory's invariants turned into plain numpy code.

:func:`forms_source` prints the :class:`~nqm.theory.NumericInvariants` of a spec as a
Python function ``forms(h, c, B, <hyperparameters>) -> dict``. The built-ins are
committed as ``numerics/_generated.py`` (regenerate with ``python -m nqm.theory._regenerate``,
:mod:`nqm.theory._regenerate`; a test checks that the committed file is fresh), so ``import nqm.numerics`` never
imports sympy. A user spec is compiled on first use by :func:`compile_forms` and cached
in memory and on disk (``$NQM_CACHE_DIR``, default ``~/.cache/nqm-toolkit``).

Accuracy. A hyperparameter on the unit interval (momentum :math:`\beta`, EMA :math:`\gamma`,
QHM :math:`\nu`, a user's weight decay) is accurate in one of two writings, depending on its
value. Near 1 it must enter through the complement :math:`\bar\beta = 1-\beta`, computed
exactly (Sterbenz) for :math:`\beta\ge\tfrac12`: factored in :math:`\bar\beta`, a polynomial such
as :math:`-\beta^3+\beta^2+\beta-1 = -\bar\beta^2(2-\bar\beta)` keeps full relative accuracy as
:math:`\beta\to1`, where the expanded form cancels catastrophically. Near 0 it must enter as
itself: a weight decay :math:`\omega` next to a tiny :math:`\alpha h` appears as
:math:`\alpha h + \omega`, which the complement would compute as
:math:`(\alpha h - \bar\omega) + 1`, losing :math:`\alpha h` to rounding. So every such
hyperparameter gets both writings (each factored), and the generated code picks per element:
the complement where the value is at least 1/2, the plain value below (:math:`2^k` variants
for k such hyperparameters, all evaluated, one chosen by ``numpy.choose``; beyond
:data:`_MAX_CHOSEN` of them the rest are always complemented).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import fields
from functools import lru_cache
from pathlib import Path
from typing import Any

import sympy as sp
from sympy.printing.numpy import NumPyPrinter

from ._derive import NumericInvariants, derive
from ._spec import PRECONDITIONED_PROBLEM, Hyperparameter, OptimizerSpec
from ._symbols import B, c, h, v0

__all__ = [
    "compile_forms",
    "forms_source",
    "generated_module_source",
    "hyperparameter_ranges",
    "write_generated_module",
]

#: bump when the generated interface changes (invalidates the disk cache)
FORMS_VERSION = 2
#: unit-interval hyperparameters written both ways and chosen per element (2^k variants of every
#: expression); a spec with more has the others always complemented (numpy.choose takes < 32 choices
#: on numpy 1.x)
_MAX_CHOSEN = 4


def _complemented(hp: Hyperparameter) -> bool:
    return hp.lower == 0.0 and hp.upper == 1.0


def _complement_symbol(hp: Hyperparameter) -> sp.Symbol:
    return sp.Symbol(f"{hp.name}_c", positive=True)


def _printable(spec: OptimizerSpec, expr: sp.Expr, complemented: tuple[Hyperparameter, ...]) -> sp.Expr:
    """``expr`` with the ``complemented`` hyperparameters written as ``1 - <name>_c``, factored for
    accurate evaluation (unchanged for a spec without unit-interval hyperparameters)."""
    if not any(_complemented(hp) for hp in spec.hyperparameters):
        return sp.sympify(expr)
    rewritten = sp.sympify(expr).subs({hp.symbol: 1 - _complement_symbol(hp) for hp in complemented})
    return sp.factor(sp.cancel(rewritten))


def forms_source(spec: OptimizerSpec, function_name: str = "forms") -> str:
    """Source of ``def <function_name>(h, c, B, *hyperparameters) -> dict`` for ``spec``.

    Unit-interval hyperparameters are written per element in the accurate one of two ways (module
    docstring): variant ``k`` complements the j-th of them where bit j of ``k`` is set, and the code
    chooses ``k`` from the values (bit j set where the j-th is at least 1/2).
    """
    inv = derive(spec).numeric
    params = [hp.name for hp in spec.hyperparameters]
    unit = tuple(hp for hp in spec.hyperparameters if _complemented(hp))
    # both writings for up to _MAX_CHOSEN of them (2^k variants); any further ones are complemented
    chosen = unit if len(unit) <= _MAX_CHOSEN else ()
    always = tuple(hp for hp in unit if hp not in chosen)
    variants = [tuple(hp for j, hp in enumerate(chosen) if k >> j & 1) + always for k in range(1 << len(chosen))]
    rename = {h: sp.Symbol("h"), c: sp.Symbol("c"), B: sp.Symbol("B")}
    rename.update({hp.symbol: sp.Symbol(hp.name) for hp in spec.hyperparameters})
    printer = NumPyPrinter({"fully_qualified_modules": True, "allow_unknown_functions": False})

    def render(expr: sp.Expr) -> str:
        texts = [printer.doprint(_printable(spec, expr, v).xreplace(rename)) for v in variants]
        if len(set(texts)) == 1:
            return texts[0]
        return f"numpy.choose(_k, ({', '.join(texts)}))"

    lines = [f"def {function_name}(h, c, B, {', '.join(params)}):" if params else f"def {function_name}(h, c, B):"]
    lines.append(f'    """Numeric invariants of {spec.name!r}: see nqm.theory.NumericInvariants."""')
    for hp in unit:
        lines.append(f"    {hp.name}_c = 1.0 - {hp.name}")
    if chosen:
        bits = " + ".join(f"{1 << j} * numpy.greater_equal({hp.name}, 0.5)" for j, hp in enumerate(chosen))
        lines.append(f"    _k = numpy.asarray({bits}, dtype=numpy.intp)  # variant: which are complemented")
    lines.append("    return {")
    for f in fields(NumericInvariants):
        value = getattr(inv, f.name)
        if f.name == "n":
            lines.append(f"        'n': {value},")
        elif value is None:
            lines.append(f"        '{f.name}': None,")
        elif isinstance(value, tuple):
            body = ", ".join(render(v) for v in value)
            lines.append(f"        '{f.name}': ({body},),")
        else:
            lines.append(f"        '{f.name}': {render(value)},")
    lines.append("    }")
    return "\n".join(lines) + "\n"


def _spec_key(spec: OptimizerSpec) -> str:
    payload = repr(
        (
            FORMS_VERSION,
            sp.srepr(spec.A),
            sp.srepr(spec.b),
            sp.srepr(spec.init),
            sp.srepr(spec.out),
            [(hp.name, sp.srepr(hp.symbol), hp.lower, hp.upper, hp.lower_closed, hp.upper_closed) for hp in spec.hyperparameters],
        )
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def generated_module_source(specs: tuple[OptimizerSpec, ...]) -> str:
    """The full text of ``numerics/_generated.py`` for ``specs``."""
    header = [
        '"""Numeric-ready forms of the built-in optimizer specs.',
        "",
        "GENERATED by nqm.theory._codegen from the symbolic derivations; do not edit.",
        "Regenerate with `python -m nqm.theory._regenerate`; tests/theory/test_codegen.py checks freshness.",
        '"""',
        "",
        "import numpy",
        "from numpy import inf",
        "",
        f"FORMS_VERSION = {FORMS_VERSION}",
        "",
    ]
    body = []
    for spec in specs:
        body.append(forms_source(spec, f"_{spec.name}"))
    pre = PRECONDITIONED_PROBLEM
    printer = NumPyPrinter({"fully_qualified_modules": True})
    precond = [
        "def preconditioned_problem(h, c, v0, p):",
        '    """The NQM seen by a P = H^p preconditioned method (nqm.theory.PRECONDITIONED_PROBLEM)."""',
        "    return (" + ", ".join(printer.doprint(pre[s].xreplace({v0: sp.Symbol("v0")})) for s in (h, c, v0)) + ")",
    ]
    table = ["", "#: name -> hyperparameter names, their ranges (lower, upper, lower_closed, upper_closed), forms,",
             "#: and whether the risk is linear in c (OptimizerSpec.noise_linear)", "FORMS = {"]
    for spec in specs:
        params = tuple(hp.name for hp in spec.hyperparameters)
        table.append(f"    {spec.name!r}: ({params!r}, {hyperparameter_ranges(spec)!r}, _{spec.name}, {spec.noise_linear!r}),")
    table.append("}")
    return (
        "\n".join(header) + "\n\n" + "\n\n".join(body) + "\n\n" + "\n".join(precond) + "\n\n" + "\n".join(table) + "\n"
    )


def hyperparameter_ranges(spec: OptimizerSpec) -> dict[str, tuple[float, float, bool, bool]]:
    """``name -> (lower, upper, lower_closed, upper_closed)`` for the numeric validators."""
    return {hp.name: (hp.lower, hp.upper, hp.lower_closed, hp.upper_closed) for hp in spec.hyperparameters}


def _cache_dir() -> Path:
    return Path(os.environ.get("NQM_CACHE_DIR", Path.home() / ".cache" / "nqm-toolkit")) / "forms"


@lru_cache(maxsize=None)
def compile_forms(spec: OptimizerSpec) -> Callable[..., dict[str, Any]]:
    """Compile the numeric forms of ``spec`` (memory- and disk-cached by spec content)."""
    key = _spec_key(spec)
    path = _cache_dir() / f"{key}.py"
    try:
        source = path.read_text()
    except OSError:
        source = "import numpy\n\n" + forms_source(spec)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(source)
            tmp.replace(path)
        except OSError:
            pass  # a read-only home only costs the re-derivation next time
    namespace: dict[str, Any] = {}
    exec(compile(source, str(path), "exec"), namespace)  # noqa: S102 - our own generated code
    return namespace["forms"]


def write_generated_module(path: Path, specs: tuple[OptimizerSpec, ...]) -> bool:
    """Write the generated module for ``specs`` to ``path``; return True if it changed."""
    text = generated_module_source(specs)
    if path.exists() and path.read_text() == text:
        return False
    path.write_text(text)
    return True
