"""Numeric optimizers: a spec plus hyperparameter values (optax-style small objects).

An optimizer carries its spec's compiled forms (:class:`~nqm.numerics._forms.Forms`), resolved
once where it is made: from an :class:`nqm.theory.OptimizerSpec`, or from a name in the registry
(the catalogue the command line reads). It pickles itself as its spec and values, so worker
processes rebuild it without any registration.

Hyperparameters may be scalars or arrays; arrays broadcast against each other and form a
grid that every engine function evaluates at once (results gain the grid's shape in
front). ``precond_power`` is the preconditioner power p of eq. 8 (p = 0: none).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ._forms import PRECOND_RANGE, Forms, _shown, forms_for, validate_hyperparameter

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
    """An optimizer spec with numeric hyperparameters.

    ``spec`` is an :class:`nqm.theory.OptimizerSpec` (``Optimizer(my_spec, lr=0.1, k=0.5)``; nothing
    is registered), the name of a registered one (``Optimizer("momentum", lr=0.1, beta=0.9)`` is
    ``Momentum(lr=0.1, beta=0.9)``) or its :class:`~nqm.numerics._forms.Forms`.
    Invalid values raise ``ValueError`` naming the hyperparameter and its allowed range.
    """

    spec_name: ClassVar[str | None] = None

    def __init__(self, spec: object = None, /, *, precond_power: object = 0.0, **hyper: object) -> None:
        if spec is None and self.spec_name is None:
            raise OptimizerArgumentError(
                "spec must be an nqm.theory.OptimizerSpec or the name of a registered one; got None"
            )
        forms = spec if isinstance(spec, Forms) else forms_for(self.spec_name if spec is None else spec, "spec")
        name = forms.name
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
        self._forms = forms
        self._values = values
        self._shape = shape

    # ------------------------------------------------------------------ views
    @property
    def name(self) -> str:
        """The spec's name."""
        return self._forms.name

    @property
    def forms(self) -> Forms:
        """The spec's compiled numeric forms."""
        return self._forms

    @property
    def spec(self) -> Any:
        """The :class:`nqm.theory.OptimizerSpec` (imports the theory layer)."""
        return self._forms.spec

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
        return Optimizer(self._forms, **values)

    def at(self, index: Any) -> Optimizer:
        """The optimizer at one grid index (hyperparameters broadcast to :attr:`shape` first)."""
        values = {k: np.broadcast_to(v, self._shape)[index] for k, v in self._values.items()}
        return Optimizer(self._forms, **values)

    def cache_config(self) -> dict[str, Any]:
        """Plain data identifying this optimizer (for result caches)."""
        return _cache_config(self._forms, self._values)

    def __repr__(self) -> str:
        def fmt(v: np.ndarray) -> str:
            return f"{float(v):.6g}" if v.ndim == 0 else f"array{v.shape}"

        args = ", ".join(f"{k}={fmt(v)}" for k, v in self._values.items())
        return f"{type(self).__name__ if type(self) is not Optimizer else 'Optimizer'}({self.name!r}, {args})"


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


def _cache_config(forms: Forms, values: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Plain data identifying a spec and its values (result-cache keys): a built-in by its name, a user
    spec by its name and its generated forms' source (so equal specs share entries, different ones never)."""
    identity: Any = forms.name
    if not forms.builtin:
        from nqm.theory.codegen import cached_forms_source

        identity = [forms.name, cached_forms_source(forms.source)]
    return {"spec": identity, "values": dict(values)}


def optimizer(name: object, **values: object) -> Optimizer:
    """``Optimizer(name, **values)``: a registered spec by name (or any spec :class:`Optimizer` takes)."""
    return Optimizer(name if isinstance(name, Forms) else forms_for(name, "name"), **values)


def from_spec(spec: Any) -> OptimizerRef:
    """The optimizers of a theory spec, without registering it: ``factory(**values)`` is
    ``Optimizer(spec, **values)``, and the factory itself is an optimizer argument like a class::

        Lookahead = nn.from_spec(my_spec)
        opt = Lookahead(lr=0.1, k=0.5)
        nn.sweep(problem, Lookahead, ...)
    """
    if not _is_spec(spec):
        raise TypeError(f"spec must be an nqm.theory.OptimizerSpec; got {type(spec).__name__}")
    return OptimizerRef(forms_for(spec))


#: what every entry point accepts as its optimizer (:func:`as_optimizer_spec`)
OptimizerLike = Any

_ACCEPTED = (
    "an optimizer (nn.Momentum(lr=0.1, beta=0.9)), an optimizer class (nn.Momentum), an "
    "nqm.theory.OptimizerSpec (or nn.from_spec of one) or a registered name"
)


class OptimizerArgumentError(TypeError, ValueError):
    """The optimizer argument is of no accepted kind: bad input (a ``ValueError``, like every other)
    that is still the ``TypeError`` code written against earlier versions catches."""


@dataclass(frozen=True)
class OptimizerRef:
    """An optimizer argument resolved by :func:`as_optimizer_spec`: the spec's compiled ``forms`` and,
    when the argument was an instance, its hyperparameter values (``values``, with ``precond_power``).

    It is itself an optimizer argument (and what :func:`from_spec` returns): calling it makes an
    instance, ``ref(lr=0.1)``; it pickles as its spec, and :meth:`cache_config` keys result caches.
    """

    forms: Forms
    values: Mapping[str, np.ndarray] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The spec's name."""
        return self.forms.name

    @property
    def spec(self) -> Any:
        """The :class:`nqm.theory.OptimizerSpec` (imports the theory layer)."""
        return self.forms.spec

    @property
    def is_instance(self) -> bool:
        """Whether the argument carried hyperparameter values (an :class:`Optimizer` instance)."""
        return bool(self.values)

    def __call__(self, **values: object) -> Optimizer:
        """An instance with these values (and this reference's own, which they replace)."""
        return _instance(self.forms, {**self.values, **values})

    def cache_config(self) -> dict[str, Any]:
        """Plain data identifying the spec and values (for result caches)."""
        return _cache_config(self.forms, self.values)


def as_optimizer_spec(optimizer: OptimizerLike, name: str = "optimizer") -> OptimizerRef:
    """Resolve any accepted optimizer argument, the one convention of every entry point.

    Accepted: an :class:`Optimizer` instance (``nn.Momentum(lr=0.1, beta=0.9)``; its values are
    kept), an :class:`Optimizer` subclass (``nn.Momentum``), an :class:`nqm.theory.OptimizerSpec`
    (compiled, never registered), an :class:`OptimizerRef` (as :func:`from_spec` returns) or the name
    of a registered spec (``"momentum"``): the registry is read here, once. Anything else raises
    ``ValueError`` (also a ``TypeError``) naming ``name``; an unknown name lists the registered ones.
    ``name`` is the parameter the user passed the argument as: each entry point passes its own
    (``"opt"`` for ``expected_risk(problem, opt, ...)``, ``"optimizer"`` for ``tune(problem, optimizer, ...)``).
    """
    if isinstance(optimizer, OptimizerRef):
        return optimizer
    if isinstance(optimizer, Optimizer):
        return OptimizerRef(optimizer.forms, dict(optimizer._values))
    if isinstance(optimizer, type) and issubclass(optimizer, Optimizer) and optimizer.spec_name is not None:
        return OptimizerRef(forms_for(optimizer.spec_name))
    if isinstance(optimizer, str) or _is_spec(optimizer):
        return OptimizerRef(forms_for(optimizer, name))  # an unknown name: ValueError listing the registered ones
    raise OptimizerArgumentError(f"{name} must be {_ACCEPTED}; got {_shown(optimizer)}")


def spec_defaults(forms: Forms) -> dict[str, float]:
    """The default values the spec of ``forms`` declares for its hyperparameters
    (:attr:`nqm.theory.Hyperparameter.default`, e.g. QHM's ``nu = 0.7``); imports the theory layer."""
    return {hp.name: float(hp.default) for hp in forms.spec.hyperparameters if hp.default is not None}


def _is_spec(value: object) -> bool:
    """Whether ``value`` is an :class:`nqm.theory.OptimizerSpec`. Only an object of no numeric kind
    is checked, by importing the theory layer (already loaded wherever a spec exists)."""
    if isinstance(value, (str, int, float, np.ndarray, np.generic)) or value is None:
        return False
    from nqm.theory import OptimizerSpec

    return isinstance(value, OptimizerSpec)


def as_optimizer(
    optimizer: OptimizerLike, hyperparameters: Mapping[str, object] | None = None, name: str = "optimizer"
) -> Optimizer:
    """An :class:`Optimizer` instance from any accepted argument (:func:`as_optimizer_spec`).

    ``hyperparameters`` supply the values a class, spec or name does not carry and replace an
    instance's; missing or unknown ones raise ``ValueError`` naming them.
    """
    if isinstance(optimizer, Optimizer):
        return optimizer.replace(**hyperparameters) if hyperparameters else optimizer
    return as_optimizer_spec(optimizer, name)(**(hyperparameters or {}))


def _instance(forms: Forms, values: dict[str, Any]) -> Optimizer:
    """``Optimizer(forms, **values)`` as the built-in class of a built-in spec."""
    cls = next((k for k in Optimizer.__subclasses__() if forms.builtin and k.spec_name == forms.name), Optimizer)
    obj = Optimizer.__new__(cls)
    Optimizer.__init__(obj, forms, **values)
    return obj
