"""The body of ``nqm derive`` (declared in :mod:`._derive`, whose docstring lists the quantities)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import sympy as sp

from nqm.theory import PARTIAL_SUM_STATES, Formula, get_spec, to_latex
from nqm.theory import derive as derive_spec
from nqm.theory.symbols import z

from ._common import fail, refuse_overwrite, status, write_output
from ._runtime import one_optimizer

__all__ = ["Quantity", "derive", "derived_quantities"]


@dataclass(frozen=True)
class Quantity:
    """One derived result: a key (JSON), a title (text), a LaTeX label, and its value or why it is missing."""

    key: str
    title: str
    label: str
    value: Any = None
    error: str | None = None
    relation: bool = False


def _lr_items(d: Any) -> list[tuple[str, str, str, Callable[[], Any]]]:
    return [
        ("effective_lr", "effective learning rate (slow eigenvalue 1 - alpha_eff h)", r"\alpha_{\mathrm{eff}}",
         lambda: d.effective_lr),
        ("effective_lr_steady_state", "effective learning rate (small-alpha steady state)",
         r"\alpha_{\mathrm{eff}}^{\mathrm{steady}}", lambda: d.effective_lr_steady_state),
        ("slow_eigenvalue_series", "slow eigenvalue to first order in x = alpha h", r"\lambda_{\mathrm{slow}}",
         lambda: d.slow_eigenvalue_series),
    ]


def _items(spec: Any) -> list[tuple[str, str, str, Callable[[], Any]]]:
    """(key, title, LaTeX label, getter) of every quantity, in the order shown."""
    d = derive_spec(spec)
    items: list[tuple[str, str, str, Callable[[], Any]]] = [
        ("A", "transition matrix A (x' = A x + b xi)", "A", lambda: spec.A),
        ("b", "noise gain b", "b", lambda: spec.b),
        ("init", "start x0 = init theta0", r"\mathrm{init}", lambda: spec.init),
        ("out", "evaluated iterate y = out x", r"\mathrm{out}", lambda: spec.out),
        ("characteristic_polynomial", "characteristic polynomial det(zI - A) (eq. 22)", r"\det(zI - A)",
         lambda: sp.collect(sp.expand(d.characteristic_polynomial), z)),
        ("eigenvalues", "eigenvalues of A (with multiplicity)", r"\lambda", lambda: d.eigenvalues),
        ("second_moment_M", "second-moment dynamics s' = M s + q: M (Appendices B, D)", "M", lambda: d.second_moment[0]),
        ("second_moment_q", "second-moment dynamics: q", "q", lambda: d.second_moment[1]),
        ("second_moment_eigenvalues", "eigenvalues of the vectorised second-moment dynamics A⊗A (products of eigenvalues)",
         r"\lambda_i\lambda_j", lambda: d.second_moment_eigenvalues),
        ("stationary_covariance", "stationary covariance S (S = A S A^T + b b^T; times c/B)", r"\bar S",
         lambda: d.stationary_covariance),
        ("stationary_risk", "stationary risk of one direction", r"\mathrm{E}\,\ell_{i}(\infty)", lambda: d.stationary_risk),
        ("stability_conditions", "stability conditions (Jury)", r"\text{(Jury)}\quad",
         lambda: d.stability_conditions),
        ("stability_region", "stability region", r"\text{(region)}\quad", lambda: d.stability_region),
    ]
    if any(hp.name == "lr" for hp in spec.hyperparameters):
        items += _lr_items(d)
    cf = d.closed_form
    if cf.named:
        items.append(("roots", "named roots r_i of the characteristic polynomial: Vieta's relations", r"\text{(Vieta)}\quad",
                      lambda: list(cf.vieta)))
    items += [
        ("mean_path", "mean path m_t = out A^t init (Theorems 1, 2)", "m_{t}", lambda: cf.mean_path),
        ("impulse_response", "impulse response g_k = out A^k b (eq. 28)", "g_{k}", lambda: cf.impulse_response),
        ("noise_sum", "stationary noise sum sum_k g_k^2 (Parseval, eqs. 30-31)", r"\sum_{k\ge0} g_{k}^{2}",
         lambda: cf.noise_sum),
    ]
    if spec.n <= PARTIAL_SUM_STATES:  # the partial sum's symbolic self-check is too slow beyond (see _latex)
        items += [
            ("noise_part", "noise part of the risk (h c / 2B) sum_{k<t} g_k^2", r"\tfrac{h_i c_i}{2B}\sum_{k<t} g_{k}^{2}",
             lambda: cf.noise_part),
            ("expected_risk", "exact expected risk at step t", r"\mathrm{E}\,\ell_{i}(t)", lambda: cf.expected_risk),
        ]
    return items


def derived_quantities(name: str, precondition: bool = False,
                       report: Callable[[str], None] = lambda text: None) -> tuple[Any, list[Quantity]]:
    """The spec registered as ``name`` (preconditioned with ``P = H^p`` if asked) and all its :class:`Quantity` items.

    A quantity that cannot be derived in closed form (e.g. eigenvalues of a cubic without
    radicals) carries the reason in ``error``. ``report(title)`` is called before each one.
    """
    base = get_spec(name)
    spec = base.precondition() if precondition else base
    out = []
    for key, title, label, get in _items(spec):
        report(f"deriving {title} ...")
        try:
            value, error = get(), None
        except (NotImplementedError, ValueError, sp.PolynomialError) as exc:  # SpecError is a ValueError
            value, error = None, f"not available ({type(exc).__name__}: {' '.join(str(exc).split())})"
        relation = key.startswith("stability") or key == "roots"
        out.append(Quantity(key, title, label, value, error, relation))
    return spec, out


def _entries(value: Any) -> list[tuple[Any, int]]:
    """A quantity as a list of (expression, multiplicity) entries."""
    if isinstance(value, dict):
        return sorted(value.items(), key=lambda kv: sp.default_sort_key(kv[0]))
    if isinstance(value, (list, tuple)):
        return [(v, 1) for v in value]
    return [(value, 1)]


def _pretty(expr: Any, width: int) -> str:
    return sp.pretty(expr, use_unicode=True, num_columns=width)


def _text(spec: Any, quantities: list[Quantity], width: int) -> str:
    hyper = ", ".join(f"{hp.name} ({hp.symbol})" for hp in spec.hyperparameters)
    lines = [f"{spec.name}: {spec.description} ({spec.reference or 'user spec'})",
             f"state: ({', '.join(spec.state)}); hyperparameters: {hyper}", ""]
    for q in quantities:
        lines.append(f"== {q.title}")
        if q.error is not None:
            lines += [q.error, ""]
            continue
        for value, mult in _entries(q.value):
            lines.append(_pretty(value, width) + (f"    (multiplicity {mult})" if mult != 1 else ""))
        lines.append("")
    return "\n".join(lines)


def _latex(spec: Any, quantities: list[Quantity]) -> str:
    parts = [f"% nqm derive {spec.name}: {spec.description} ({spec.reference or 'user spec'})",
             "% amsmath; the complete document with the paper's statements: nqm latex --optimizer NAME"]
    for q in quantities:
        parts.append(f"% {q.title}")
        if q.error is not None:
            parts.append(f"% {q.error}")
            continue
        if isinstance(q.value, dict):
            lines = [Formula(q.label + (rf"\ (\times {m})" if m != 1 else ""), v).line for v, m in _entries(q.value)]
        elif isinstance(q.value, (list, tuple)):
            lines = [Formula(q.label, v, q.relation).line for v, _ in _entries(q.value)]
        else:
            lines = [Formula(q.label, q.value, q.relation).line]
        parts.append("\\begin{align*}\n" + " \\\\\n".join(lines) + "\n\\end{align*}")
    return "\n".join(parts) + "\n"


def _json(spec: Any, quantities: list[Quantity]) -> str:
    doc: dict[str, Any] = {
        "optimizer": spec.name,
        "description": spec.description,
        "reference": spec.reference,
        "preconditioned": spec.preconditioned,
        "state": list(spec.state),
        "hyperparameters": [{"name": hp.name, "symbol": str(hp.symbol), "latex": to_latex(hp.symbol)}
                            for hp in spec.hyperparameters],
        "quantities": {},
    }
    for q in quantities:
        entry: dict[str, Any] = {"title": q.title}
        if q.error is not None:
            entry["error"] = q.error
        else:
            entry.update(text=str(q.value), latex=to_latex(q.value))
            if isinstance(q.value, (dict, list, tuple)):
                entry["items"] = [{"text": str(v), "latex": to_latex(v), "multiplicity": m} for v, m in _entries(q.value)]
        doc["quantities"][q.key] = entry
    return json.dumps(doc, indent=2) + "\n"


def derive(positional: str | None, name: str | None, latex: bool, as_json: bool, precondition: bool, output: Path | None,
           force: bool, quiet: bool) -> None:
    """Derive every :class:`Quantity` of the optimizer and print or write it as text, LaTeX or JSON."""
    name = one_optimizer(positional, name)
    if latex and as_json:
        fail("--latex and --json exclude each other; give one")
    fmt = "latex" if latex else "json" if as_json else None
    refuse_overwrite([output], force)
    with status(f"deriving {name} ...", quiet) as update:
        spec, quantities = derived_quantities(name, precondition, update)
        if fmt == "latex":
            text = _latex(spec, quantities)
        elif fmt == "json":
            text = _json(spec, quantities)
        else:
            width = shutil.get_terminal_size((100, 24)).columns if output is None else 100
            text = _text(spec, quantities, width)
    if output is None:
        click.echo(text, nl=False)
    else:
        write_output(output, text)
        click.echo(f"wrote {output}", err=True)
