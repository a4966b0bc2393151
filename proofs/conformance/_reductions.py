r"""Declared reductions: a registered optimizer with some hyperparameters fixed *is* another one.

A reduction ``Reduction("momentum", "sgd", {"beta": 0})`` claims that for every problem,
batch size, preconditioner power and remaining hyperparameter values, the source spec with
the fixed values has the same expected risk at every step as the target spec, whose
hyperparameters are taken by name from the source's remaining ones (source
hyperparameters that the target lacks are free: QHM with :math:`\beta = 0` is SGD for
every :math:`\nu`). The conformance property ``reductions`` checks each declared reduction
of a spec numerically, at drawn problems and hyperparameters: equal engine risk curves (beyond
1e-10 relative above an absolute floor) and, where both sides are stable, equal stationary risks;
a counterexample is a point where the two differ, both values shown. With no declared reduction
the property is *not applicable*. (That :math:`p = 0` is unpreconditioned is the separate
property ``precondition_at_zero``.)

Declare your own with :func:`declare_reduction`, next to :func:`nqm.theory.register`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["Reduction", "declare_reduction", "declared_reductions"]


@dataclass(frozen=True)
class Reduction:
    """``source`` with ``fixed`` hyperparameter values equals ``target`` (registry names)."""

    source: str
    target: str
    fixed: Mapping[str, float] = field(default_factory=dict)

    def __str__(self) -> str:
        args = ", ".join(f"{k}={v:g}" for k, v in self.fixed.items())
        return f"{self.source}({args}) = {self.target}"


_DECLARED: dict[str, list[Reduction]] = {}


def declare_reduction(source: str, target: str, **fixed: float) -> Reduction:
    """Declare that ``source`` with ``fixed`` hyperparameters reduces to ``target``.

    Example: ``declare_reduction("qhm", "sgd", nu=0.0)``. Declaring the same reduction
    twice keeps one copy.
    """
    if not fixed:
        raise ValueError("fixed must name at least one hyperparameter value, e.g. beta=0.0")
    reduction = Reduction(source, target, {k: float(v) for k, v in fixed.items()})
    entries = _DECLARED.setdefault(source, [])
    if reduction not in entries:
        entries.append(reduction)
    return reduction


def declared_reductions(name: str) -> tuple[Reduction, ...]:
    """The reductions declared for the spec registered as ``name``."""
    return tuple(_DECLARED.get(name, ()))


declare_reduction("momentum", "sgd", beta=0.0)
declare_reduction("nesterov", "sgd", beta=0.0)
declare_reduction("qhm", "sgd", beta=0.0)
declare_reduction("qhm", "sgd", nu=0.0)
declare_reduction("ema", "sgd", gamma=0.0)
