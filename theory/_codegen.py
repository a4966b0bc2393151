r"""Numeric-ready forms: the theory's invariants turned into plain numpy code.

:func:`forms_source` prints the :class:`~nqm.theory.NumericInvariants` of a spec as a
Python function ``forms(h, c, B, <hyperparameters>) -> dict``, and next to it
``forms_transition`` with the same arguments, returning only the state dimension and the linear
update's entries (:func:`compile_transition`: what the per-step recursion of a schedule reads, no
work spent on the stationary and edge quantities). The built-ins are
committed as ``numerics/_generated.py`` (regenerate with ``python -m nqm.theory._regenerate``,
:mod:`nqm.theory._regenerate`; a test checks that the committed file is fresh), so ``import nqm.numerics`` never
imports sympy. A user spec is compiled on first use by :func:`compile_forms` and cached
in memory and on disk (``$NQM_CACHE_DIR``, default ``~/.cache/nqm-toolkit``). Reading the disk
cache never runs code from it: an entry is compiled only if it is intact, stored for the spec's key
and of exactly the generated form; anything else is refused with a :class:`FormsCacheWarning`,
derived again and overwritten (the guarantee and its limits: :mod:`nqm.theory._forms_cache`).

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

The stability edge. For one or two states, every stationary quantity (:math:`\bar S`,
:math:`w_{0,1,2}`) has the factor :math:`1/E` with :math:`E = \det(2I + D) = (1+\lambda_1)(1+\lambda_2)`,
which vanishes where an eigenvalue reaches -1 (:math:`\alpha h = 2` for SGD,
:math:`2(1+\beta)` for momentum). Rounding :math:`\alpha h` alone costs
:math:`E` a relative error :math:`\epsilon\,\alpha h/E`, so the forms return the products
``edge_<name>`` :math:`= E\cdot` quantity (free of the factor) and the numerics divide by
:math:`E` evaluated exactly from the inputs: :func:`exact_terms` gives E as a polynomial in
:math:`x = \alpha h` (formed as an exact double-double product) and the other hyperparameters,
for every spec whose invariants are :func:`scale_covariant` (with the discriminant and
:math:`\operatorname{tr}(2I + D)`, which fix the eigenvalues near -1 in the same way).
"""

from __future__ import annotations

import ast
import hashlib
import os
import re
import warnings
from collections.abc import Callable
from dataclasses import fields
from functools import cache
from pathlib import Path
from typing import Any

import sympy as sp
from sympy.printing.numpy import NumPyPrinter

from ._derive import NumericInvariants, _factor, derive
from ._forms_cache import (
    FORMAT_VERSION,
    TRANSITION_KEYS,
    FormsCacheWarning,
    RefusedForms,
    check_forms_source,
    compile_checked,
    load_entry,
    numpy_printer,
    store_entry,
    transition_name,
)
from ._spec import PRECONDITIONED_PROBLEM, Hyperparameter, OptimizerSpec
from ._symbols import B, c, h, v0

__all__ = [
    "FormsCacheWarning",
    "cached_forms_source",
    "compile_forms",
    "compile_transition",
    "exact_terms",
    "forms_source",
    "generated_module_source",
    "hyperparameter_ranges",
    "scale_covariant",
    "write_generated_module",
]

#: bump when the generated values change (invalidates the forms cache and the result caches of nqm.numerics)
FORMS_VERSION = 3
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


#: stationary quantities returned multiplied by the edge factor E (numerics divides by an exact E)
_EDGE_SCALED = ("Sbar", "w0", "w1", "w2")


def _edge_invariants(inv: NumericInvariants) -> dict[str, Any]:
    r"""For n <= 2: :math:`E = \det(2I + D)`, the factored discriminant :math:`\Delta = \sigma^2 - \det D`
    (accurate where the roots nearly coincide, e.g. at 0 for :math:`\beta = 0`, :math:`\alpha h = 1`), the
    impulse response's Chebyshev coefficients :math:`g_0 = \mathrm{out}\,b`, :math:`g_1 = \mathrm{out}\,K\,b` (so that
    :math:`\mathrm{out}A^kb = c_kg_0 + s_kg_1`), and ``edge_<name>`` = E times each stationary quantity."""
    n = inv.n
    assert inv.sigma is not None, "the Chebyshev fields are set for n <= 2"
    D = sp.Matrix(n, n, inv.D)
    E = _factor((2 * sp.eye(n) + D).det())
    K = D - inv.sigma * sp.eye(n)
    out, b = sp.Matrix(1, n, inv.out), sp.Matrix(n, 1, inv.b)
    disc = _factor(inv.sigma**2 - inv.det_D) if n == 2 else sp.Integer(0)
    result: dict[str, Any] = {"edge": E, "disc": disc, "g0": _factor((out * b)[0]), "g1": _factor((out * K * b)[0])}
    for name in _EDGE_SCALED:
        value = getattr(inv, name)
        scaled = tuple(_factor(v * E) for v in value) if isinstance(value, tuple) else _factor(value * E)
        result[f"edge_{name}"] = scaled
    return result


def _lr_symbol(spec: OptimizerSpec) -> sp.Symbol | None:
    return next((hp.symbol for hp in spec.hyperparameters if hp.name == "lr"), None)


@cache
def scale_covariant(spec: OptimizerSpec) -> bool:
    r"""Whether the spec (n <= 2, with a hyperparameter ``lr``) obeys the NQM's scale symmetry
    :math:`(h, c, \alpha) \to (sh, sc, \alpha/s)`: the mean-path invariants and E unchanged, the
    impulse response :math:`g` scaling as :math:`1/s` and the stationary quantities as :math:`1/s^2`.
    The numerics then evaluate the forms at :math:`h = 1`, :math:`\alpha = \alpha h`, free of
    overflow and underflow at any scale. False for n > 2 without deriving anything (the
    derivation's stationary covariance is what costs seconds per process for a 3-state spec)."""
    lr = _lr_symbol(spec)
    if lr is None or spec.n > 2:
        return False
    inv = derive(spec).numeric
    s = sp.Symbol("_scale", positive=True)
    edge = _edge_invariants(inv)
    power = {"g0": 1, "g1": 1, "edge_w0": 2, "edge_w1": 2, "edge_w2": 2}
    exprs = {name: getattr(inv, name) for name in ("sigma", "det_D", "det_A_minus_1", "u0", "u1")}
    exprs.update({name: edge[name] for name in ("edge", *power)})
    for name, expr in exprs.items():
        moved = sp.sympify(expr).subs({h: s * h, lr: lr / s}, simultaneous=True) * s ** power.get(name, 0)
        if sp.cancel(moved - expr) != 0:
            return False
    return True


#: the quantities :func:`exact_terms` gives as polynomials: E, the discriminant, tr(2I + D), tr A and
#: det A (the eigenvalues near -1, 0 and +1), u1 = out K init (the mean path), and g0, g1 times h
_EXACT = ("edge", "disc", "trace2", "traceA", "detA", "u1", "g0", "g1")


def _as_terms(expr: sp.Expr, x: sp.Symbol, others: list[sp.Symbol]) -> tuple[tuple[float, tuple[int, ...]], ...] | None:
    try:
        poly = sp.Poly(sp.expand(expr), x, *others)
    except sp.PolynomialError:
        return None
    terms = []
    for exps, coef in poly.terms():
        if not coef.is_Rational or sp.Rational(float(coef)) != coef:
            return None
        terms.append((float(coef), tuple(int(e) for e in exps)))
    return tuple(terms)


def _exact_variants(spec: OptimizerSpec) -> tuple[tuple[Hyperparameter, ...], list[tuple[Hyperparameter, ...]]]:
    """The unit-interval hyperparameters written both ways (at most :data:`_MAX_CHOSEN`) and, per
    variant k, those complemented (bit j of k set: the j-th of them), as in :func:`forms_source`."""
    unit = tuple(hp for hp in spec.hyperparameters if _complemented(hp))
    chosen = unit if len(unit) <= _MAX_CHOSEN else ()
    return chosen, [tuple(hp for j, hp in enumerate(chosen) if k >> j & 1) for k in range(1 << len(chosen))]


@cache
def exact_terms(spec: OptimizerSpec) -> dict[str, tuple[tuple[tuple[float, tuple[int, ...]], ...], ...]] | None:
    r"""The quantities of :data:`_EXACT` (E, the discriminant :math:`\Delta = \sigma^2 - \det D`,
    :math:`\operatorname{tr}(2I + D)`, :math:`\operatorname{tr}A`, :math:`\det A`, :math:`u_1`, and
    :math:`h\,g_0`, :math:`h\,g_1`, and :math:`E h^2 w_{0,1,2}` as ratios ``<name>_num / <name>_den``)
    as polynomials in :math:`x = \alpha h` and the other hyperparameters (in spec order), for evaluation
    in double-double from the exact product :math:`\alpha h` (each is free of h for a :func:`scale_covariant` spec):
    ``{name: (terms of variant 0, terms of variant 1, ...)}``, terms
    ``((coefficient, (power of x, powers of the others...)), ...)``. As in :func:`forms_source`,
    variant k writes the j-th unit-interval hyperparameter as its complement where bit j of k is set
    (chosen where the value is at least 1/2: exact, and free of the cancellation of the expanded
    polynomial near 1). A quantity that is not such a polynomial (with exactly representable
    coefficients) is left out; ``None`` unless the spec is scale covariant."""
    if not scale_covariant(spec):
        return None
    inv = derive(spec).numeric
    lr = _lr_symbol(spec)
    x = sp.Symbol("_x", positive=True)
    _, variants = _exact_variants(spec)
    D = sp.Matrix(inv.n, inv.n, inv.D)
    A = sp.eye(inv.n) + D
    edge = _edge_invariants(inv)
    exprs = {
        "edge": edge["edge"], "disc": edge["disc"], "trace2": (2 * sp.eye(inv.n) + D).trace(), "traceA": A.trace(),
        "detA": A.det(), "u1": inv.u1, "g0": edge["g0"] * h, "g1": edge["g1"] * h,
    }
    # the stationary quantities times E h^2 (scale free) as numerator and denominator polynomials
    for name in ("w0", "w1", "w2"):
        num, den = sp.fraction(sp.cancel((edge[f"edge_{name}"] * h**2).subs(lr, x / h)))
        exprs[f"{name}_num"], exprs[f"{name}_den"] = num, den
    result: dict[str, tuple[tuple[tuple[float, tuple[int, ...]], ...], ...]] = {}
    for name, expr in exprs.items():
        base = sp.cancel(sp.sympify(expr).subs(lr, x / h))
        per_variant = []
        for complemented in variants:
            subs = {hp.symbol: 1 - _complement_symbol(hp) for hp in complemented}
            others = [
                _complement_symbol(hp) if hp in complemented else hp.symbol
                for hp in spec.hyperparameters
                if hp.symbol != lr
            ]
            terms = _as_terms(sp.expand(base.subs(subs)), x, others)
            if terms is None:
                break
            per_variant.append(terms)
        else:
            result[name] = tuple(per_variant)
    for name in ("w0", "w1", "w2"):  # only as a pair
        if (f"{name}_num" in result) != (f"{name}_den" in result):
            result.pop(f"{name}_num", None), result.pop(f"{name}_den", None)
    return result


def forms_source(spec: OptimizerSpec, function_name: str = "forms") -> str:
    """Source of two functions of ``(h, c, B, *hyperparameters)`` for ``spec``, each returning a dict:
    ``<function_name>``, every :class:`~nqm.theory.NumericInvariants` field (for n <= 2 the stationary
    quantities as ``edge_<name>``, E times each, and the quantities of :func:`_edge_invariants`), and
    ``<function_name>_transition`` (:func:`~nqm.theory._forms_cache.transition_name`), only the state
    dimension ``n`` and the linear update's entries ``D`` = A - I (row-major), ``b``, ``init``, ``out``
    (:data:`~nqm.theory._forms_cache.TRANSITION_KEYS`): the same expressions in the same statements, so
    the same values bit for bit, for callers that read no more (the per-step recursion of a schedule, for
    which the stationary and edge quantities would be most of the work).

    Unit-interval hyperparameters are written per element in the accurate one of two ways (module
    docstring): variant ``k`` complements the j-th of them where bit j of ``k`` is set, and the code
    chooses ``k`` from the values (bit j set where the j-th is at least 1/2). Each function assigns
    only the complements and ``k`` that its entries use.
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
    printer = numpy_printer()

    def render(expr: sp.Expr) -> str:
        texts = [printer.doprint(_printable(spec, expr, v).xreplace(rename)) for v in variants]
        if len(set(texts)) == 1:
            return texts[0]
        return f"numpy.choose(_k, ({', '.join(texts)}))"

    def value_text(value: Any) -> str:
        if value is None or isinstance(value, int):
            return repr(value)
        if isinstance(value, tuple):
            return f"({', '.join(render(v) for v in value)},)"
        return render(value)

    preamble = [(f"{hp.name}_c", f"{hp.name}_c = 1.0 - {hp.name}") for hp in unit]
    if chosen:
        bits = " + ".join(f"{1 << j} * numpy.greater_equal({hp.name}, 0.5)" for j, hp in enumerate(chosen))
        preamble.append(("_k", f"_k = numpy.asarray({bits}, dtype=numpy.intp)  # variant: which are complemented"))
    extra = _edge_invariants(inv) if inv.sigma is not None else {}
    entries = [(f.name, value_text(getattr(inv, f.name))) for f in fields(NumericInvariants)
               if not (extra and f.name in _EDGE_SCALED)]
    entries += [(name, value_text(value)) for name, value in extra.items()]
    signature = ", ".join(["h", "c", "B", *params])

    def function(name: str, doc: str, returned: list[tuple[str, str]]) -> str:
        used = " ".join(text for _, text in returned)
        lines = [f"def {name}({signature}):", f'    """{doc}"""']
        lines += [f"    {line}" for var, line in preamble if re.search(rf"\b{var}\b", used)]
        lines += ["    return {", *(f"        '{key}': {text}," for key, text in returned), "    }"]
        return "\n".join(lines) + "\n"

    forms = function(function_name, f"Numeric invariants of {spec.name!r}: see nqm.theory.NumericInvariants.", entries)
    transition = function(
        transition_name(function_name),
        f"The linear update of {spec.name!r}: {', '.join(TRANSITION_KEYS)} of nqm.theory.NumericInvariants.",
        [(key, text) for key, text in entries if key in TRANSITION_KEYS],
    )
    return forms + "\n\n" + transition


def _spec_key(spec: OptimizerSpec) -> str:
    payload = repr(
        (
            FORMS_VERSION,
            FORMAT_VERSION,  # an entry of another format is stored under another key, never read
            sp.srepr(spec.A),
            sp.srepr(spec.b),
            sp.srepr(spec.init),
            sp.srepr(spec.out),
            [
                (hp.name, sp.srepr(hp.symbol), hp.lower, hp.upper, hp.lower_closed, hp.upper_closed)
                for hp in spec.hyperparameters
            ],
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
             "#: whether the risk is linear in c (OptimizerSpec.noise_linear), whether the forms are scale covariant",
             "#: and E, the discriminant and tr(2I + D) as polynomials in x = lr * h and the other hyperparameters",
             "#: (nqm.theory.codegen.exact_terms)",
             "FORMS = {"]
    for spec in specs:
        params = tuple(hp.name for hp in spec.hyperparameters)
        table.append(
            f"    {spec.name!r}: ({params!r}, {hyperparameter_ranges(spec)!r}, _{spec.name}, {spec.noise_linear!r}, "
            f"{scale_covariant(spec)!r}, {exact_terms(spec)!r}),"
        )
    table.append("}")
    table += ["", "#: name -> the transition function: n, D, b, init, out of the forms, the same expressions",
              "#: (nqm.theory.codegen.forms_source)", "TRANSITIONS = {"]
    table += [f"    {spec.name!r}: {transition_name(f'_{spec.name}')}," for spec in specs]
    table.append("}")
    return (
        "\n".join(header) + "\n\n" + "\n\n".join(body) + "\n\n" + "\n".join(precond) + "\n\n" + "\n".join(table) + "\n"
    )


def hyperparameter_ranges(spec: OptimizerSpec) -> dict[str, tuple[float, float, bool, bool]]:
    """``name -> (lower, upper, lower_closed, upper_closed)`` for the numeric validators."""
    return {hp.name: (hp.lower, hp.upper, hp.lower_closed, hp.upper_closed) for hp in spec.hyperparameters}


def _cache_dir() -> Path:
    return Path(os.environ.get("NQM_CACHE_DIR", Path.home() / ".cache" / "nqm-toolkit")) / "forms"


@cache
def _checked_forms(spec: OptimizerSpec) -> tuple[str, ast.Module | None]:
    """The forms source of ``spec`` and its checked syntax tree: a valid disk entry
    (:mod:`._forms_cache`), else derived afresh and stored. The tree is ``None`` for fresh source
    outside the checked language (not stored, so never refused later: compiled as derived)."""
    key = _spec_key(spec)
    params = tuple(hp.name for hp in spec.hyperparameters)
    path = _cache_dir() / f"{key}.forms"
    loaded = load_entry(path, key, params)
    if loaded is not None:
        return loaded
    source = forms_source(spec)
    try:
        tree: ast.Module | None = check_forms_source(source, params)
    except RefusedForms as err:
        warnings.warn(f"not caching the forms of {spec.name!r} on disk: {err}", FormsCacheWarning, stacklevel=3)
        tree = None
    else:
        store_entry(path, key, source)
    return source, tree


def cached_forms_source(spec: OptimizerSpec) -> str:
    """:func:`forms_source` of ``spec``, memory- and disk-cached by spec content.

    The derivation behind it takes seconds (minutes for some 3-state specs); result-cache keys
    (``Optimizer.cache_config``) and :func:`compile_forms` read it from here instead. A disk entry
    is served only if intact, stored for this spec and of the generated form
    (:mod:`nqm.theory._forms_cache`: reading it never runs code); any other is refused with a
    :class:`FormsCacheWarning`, derived again and overwritten."""
    return _checked_forms(spec)[0]


@cache
def _compiled(spec: OptimizerSpec) -> dict[str, object]:
    """The namespace defining both functions of :func:`forms_source` for ``spec``, compiled from the
    checked text of :func:`cached_forms_source` (never from a file)."""
    source, tree = _checked_forms(spec)
    return compile_checked(tree if tree is not None else ast.parse(source), _spec_key(spec))


def compile_forms(spec: OptimizerSpec) -> Callable[..., dict[str, Any]]:
    """The numeric forms of ``spec`` (``forms`` of :func:`forms_source`), compiled once per spec content
    from the checked text of :func:`cached_forms_source` (memory- and disk-cached)."""
    return _compiled(spec)["forms"]  # type: ignore[return-value]


def compile_transition(spec: OptimizerSpec) -> Callable[..., dict[str, Any]]:
    """The transition function of ``spec`` (``forms_transition`` of :func:`forms_source`: ``n``, ``D``,
    ``b``, ``init``, ``out``, the values of :func:`compile_forms` bit for bit), compiled with it."""
    return _compiled(spec)[transition_name("forms")]  # type: ignore[return-value]


def write_generated_module(path: Path, specs: tuple[OptimizerSpec, ...]) -> bool:
    """Write the generated module for ``specs`` to ``path``; return True if it changed."""
    text = generated_module_source(specs)
    if path.exists() and path.read_text() == text:
        return False
    path.write_text(text)
    return True
