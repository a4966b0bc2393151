"""Numeric optimizers: a registered spec plus hyperparameter values (optax-style small objects).

Hyperparameters may be scalars or arrays; arrays broadcast against each other and form a
grid that every engine function evaluates at once (results gain the grid's shape in
front). ``precond_power`` is the preconditioner power p of eq. 8 (p = 0: none).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ._forms import PRECOND_RANGE, Forms, _shown, forms_for, validate_hyperparameter
from ._generated import FORMS

__all__ = [
    "Optimizer",
    "OptimizerLike",
    "OptimizerRef",
    "SGD",
    "Momentum",
    "EMA",
    "Nesterov",
    "QHM",
    "as_optimizer",
    "as_optimizer_spec",
    "from_spec",
    "optimizer",
    "spec_defaults",
]


class Optimizer:
    """A registered optimizer spec with numeric hyperparameters.

    ``Optimizer("momentum", lr=0.1, beta=0.9)`` is the same as ``Momentum(lr=0.1, beta=0.9)``.
    Invalid values raise ``ValueError`` naming the hyperparameter and its allowed range.
    """

    spec_name: ClassVar[str | None] = None

    def __init__(self, spec: str | None = None, /, *, precond_power: object = 0.0, **hyper: object) -> None:
        name = spec if spec is not None else self.spec_name
        if name is None:
            raise TypeError("Optimizer needs the name of a registered spec")
        forms = forms_for(name)
        missing = [p for p in forms.params if p not in hyper]
        extra = [k for k in hyper if k not in forms.params]
        if missing or extra:
            raise ValueError(
                f"{name} takes hyperparameters {', '.join(forms.params)} (and precond_power); "
                + (f"missing {', '.join(missing)}" if missing else f"unknown {', '.join(extra)}")
            )
        values = {p: validate_hyperparameter(p, hyper[p], forms.ranges[p]) for p in forms.params}
        values["precond_power"] = validate_hyperparameter("precond_power", precond_power, PRECOND_RANGE)
        try:
            shape = np.broadcast_shapes(*(v.shape for v in values.values()))
        except ValueError:
            shapes = {k: v.shape for k, v in values.items()}
            raise ValueError(f"hyperparameter arrays of mismatched shape: {shapes}") from None
        self._name = name
        self._forms = forms
        self._values = values
        self._shape = shape

    # ------------------------------------------------------------------ views
    @property
    def name(self) -> str:
        """Registry name of the spec."""
        return self._name

    @property
    def forms(self) -> Forms:
        """The spec's compiled numeric forms."""
        return self._forms

    @property
    def hyperparameters(self) -> dict[str, np.ndarray]:
        """Hyperparameter values (without ``precond_power``)."""
        return {p: self._values[p] for p in self._forms.params}

    @property
    def precond_power(self) -> np.ndarray:
        """Preconditioner power p (eq. 8)."""
        return self._values["precond_power"]

    @property
    def shape(self) -> tuple[int, ...]:
        """Broadcast shape of the hyperparameter grid (``()`` for a single optimizer)."""
        return self._shape

    def __getattr__(self, item: str) -> Any:
        values = self.__dict__.get("_values")
        if values is not None and item in values:
            return values[item]
        raise AttributeError(item)

    def replace(self, **changes: object) -> Optimizer:
        """A copy with some hyperparameters changed."""
        values: dict[str, object] = {**self._values, **changes}
        return Optimizer(self._name, **values)

    def at(self, index: Any) -> Optimizer:
        """The optimizer at one grid index (hyperparameters broadcast to :attr:`shape` first)."""
        values = {k: np.broadcast_to(v, self._shape)[index] for k, v in self._values.items()}
        return Optimizer(self._name, **values)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # user specs travel with the optimizer so that worker processes can re-register them
        spec = None if self._name in FORMS else _spec_of(self._name)
        return _rebuild, (self._name, spec, dict(self._values))

    def cache_config(self) -> dict[str, Any]:
        """Plain data identifying this optimizer (for result caches)."""
        identity: Any = self._name
        if self._name not in FORMS:
            from nqm.theory.codegen import cached_forms_source

            identity = [self._name, cached_forms_source(_spec_of(self._name))]
        return {"spec": identity, "values": {k: v for k, v in self._values.items()}}

    def __repr__(self) -> str:
        def fmt(v: np.ndarray) -> str:
            return f"{float(v):.6g}" if v.ndim == 0 else f"array{v.shape}"

        args = ", ".join(f"{k}={fmt(v)}" for k, v in self._values.items())
        return f"{type(self).__name__ if type(self) is not Optimizer else 'Optimizer'}({self._name!r}, {args})"


class SGD(Optimizer):
    """Plain (optionally preconditioned) SGD, eqs. 2–4 and 8–9."""

    spec_name = "sgd"

    def __init__(self, lr: object, precond_power: object = 0.0) -> None:
        super().__init__(precond_power=precond_power, lr=lr)


class Momentum(Optimizer):
    """Heavy-ball momentum, eq. 5 (Theorem 1)."""

    spec_name = "momentum"

    def __init__(self, lr: object, beta: object, precond_power: object = 0.0) -> None:
        super().__init__(precond_power=precond_power, lr=lr, beta=beta)


class EMA(Optimizer):
    """SGD evaluated at an exponential moving average of its iterates, eq. 11 (Theorem 2)."""

    spec_name = "ema"

    def __init__(self, lr: object, gamma: object, precond_power: object = 0.0) -> None:
        super().__init__(precond_power=precond_power, lr=lr, gamma=gamma)


class Nesterov(Optimizer):
    """Nesterov momentum (gradient at the look-ahead point)."""

    spec_name = "nesterov"

    def __init__(self, lr: object, beta: object, precond_power: object = 0.0) -> None:
        super().__init__(precond_power=precond_power, lr=lr, beta=beta)


class QHM(Optimizer):
    """Quasi-hyperbolic momentum (Ma & Yarats 2019)."""

    spec_name = "qhm"

    def __init__(self, lr: object, beta: object, nu: object, precond_power: object = 0.0) -> None:
        super().__init__(precond_power=precond_power, lr=lr, beta=beta, nu=nu)


def _spec_of(name: str) -> Any:
    from nqm.theory import get_spec

    return get_spec(name)


def _rebuild(name: str, spec: Any, values: dict[str, Any]) -> Optimizer:
    if spec is not None:
        from nqm.theory import get_spec, register

        try:
            get_spec(name)
        except KeyError:
            register(spec)
    return _instance(name, values)


def optimizer(name: str, **values: object) -> Optimizer:
    """``Optimizer(name, **values)``: any registered spec by name."""
    return Optimizer(name, **values)


def from_spec(spec: Any, *, overwrite: bool = False) -> type[Optimizer]:
    """Register a theory spec (if needed) and return a numeric optimizer class for it.

    The class takes the spec's hyperparameters as keywords, plus ``precond_power``::

        Lookahead = nn.from_spec(my_spec)
        opt = Lookahead(lr=0.1, k=0.5)
    """
    from nqm.theory import OptimizerSpec, get_spec, register

    if not isinstance(spec, OptimizerSpec):
        raise TypeError(f"spec must be an nqm.theory.OptimizerSpec; got {type(spec).__name__}")
    try:
        existing = get_spec(spec.name)
    except KeyError:
        existing = None
    if existing is None:
        register(spec)
    elif existing != spec:
        if not overwrite:
            raise ValueError(f"another spec is registered as {spec.name!r}; pass overwrite=True to replace it")
        register(spec, overwrite=True)

    def __init__(self: Optimizer, precond_power: object = 0.0, **hyper: object) -> None:
        Optimizer.__init__(self, precond_power=precond_power, **hyper)

    cls_name = "".join(part.capitalize() for part in spec.name.split("_"))
    return type(cls_name, (Optimizer,), {"spec_name": spec.name, "__init__": __init__, "__doc__": spec.description})



#: what every entry point accepts as its optimizer (:func:`as_optimizer_spec`)
OptimizerLike = Any

_ACCEPTED = (
    "an optimizer (nn.Momentum(lr=0.1, beta=0.9)), an optimizer class (nn.Momentum, or one from "
    "nn.from_spec), an nqm.theory.OptimizerSpec or a registered name"
)


class OptimizerArgumentError(TypeError, ValueError):
    """The optimizer argument is of no accepted kind: bad input (a ``ValueError``, like every other)
    that is still the ``TypeError`` code written against earlier versions catches."""


@dataclass(frozen=True)
class OptimizerRef:
    """An optimizer argument resolved by :func:`as_optimizer_spec`: the registered spec ``name`` and,
    when the argument was an instance, its hyperparameter values (``values``, with ``precond_power``)."""

    name: str
    values: Mapping[str, np.ndarray] = field(default_factory=dict)

    @property
    def forms(self) -> Forms:
        """The spec's compiled numeric forms."""
        return forms_for(self.name)

    @property
    def is_instance(self) -> bool:
        """Whether the argument carried hyperparameter values (an :class:`Optimizer` instance)."""
        return bool(self.values)


def as_optimizer_spec(optimizer: OptimizerLike, name: str = "optimizer") -> OptimizerRef:
    """Resolve any accepted optimizer argument, the one convention of every entry point.

    Accepted: an :class:`Optimizer` instance (``nn.Momentum(lr=0.1, beta=0.9)``; its values are
    kept), an :class:`Optimizer` subclass (``nn.Momentum``, or a class from :func:`from_spec`),
    an :class:`nqm.theory.OptimizerSpec` (registered on first use, as by :func:`from_spec`), or the
    name of a registered spec (``"momentum"``). Anything else raises ``ValueError`` (also a
    ``TypeError``) naming ``name``; an unknown name lists the registered ones.
    """
    if isinstance(optimizer, Optimizer):
        return OptimizerRef(optimizer.name, dict(optimizer._values))
    if isinstance(optimizer, type) and issubclass(optimizer, Optimizer) and optimizer.spec_name is not None:
        spec_name = optimizer.spec_name
    elif isinstance(optimizer, str):
        spec_name = optimizer
    elif _is_theory_spec(optimizer):
        spec_name = from_spec(optimizer).spec_name  # type: ignore[assignment]  # from_spec's classes name their spec
    else:
        raise OptimizerArgumentError(f"{name} must be {_ACCEPTED}; got {_shown(optimizer)}")
    forms_for(spec_name)  # ValueError listing the registered names
    return OptimizerRef(spec_name)


def spec_defaults(name: str) -> dict[str, float]:
    """The default values the spec registered as ``name`` declares for its hyperparameters
    (:attr:`nqm.theory.Hyperparameter.default`, e.g. QHM's ``nu = 0.7``); imports the theory layer."""
    spec = _spec_of(name)
    return {hp.name: float(hp.default) for hp in spec.hyperparameters if hp.default is not None}


def _is_theory_spec(value: object) -> bool:
    """Whether ``value`` is an :class:`nqm.theory.OptimizerSpec` (without importing sympy: one exists
    only once its module is loaded)."""
    spec_class = getattr(sys.modules.get("nqm.theory"), "OptimizerSpec", None)
    return spec_class is not None and isinstance(value, spec_class)


def as_optimizer(
    optimizer: OptimizerLike, hyperparameters: Mapping[str, object] | None = None, name: str = "optimizer"
) -> Optimizer:
    """An :class:`Optimizer` instance from any accepted argument (:func:`as_optimizer_spec`).

    ``hyperparameters`` supply the values a class, spec or name does not carry and replace an
    instance's; missing or unknown ones raise ``ValueError`` naming them.
    """
    if isinstance(optimizer, Optimizer):
        return optimizer.replace(**hyperparameters) if hyperparameters else optimizer
    ref = as_optimizer_spec(optimizer, name)
    return _instance(ref.name, dict(hyperparameters or {}))


def _instance(name: str, values: dict[str, Any]) -> Optimizer:
    """``Optimizer(name, **values)`` as the built-in class of ``name`` where there is one."""
    cls = next((k for k in Optimizer.__subclasses__() if k.spec_name == name), Optimizer)
    obj = Optimizer.__new__(cls)
    Optimizer.__init__(obj, name, **values)
    return obj
