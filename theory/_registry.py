"""The registry of optimizer specs: a catalogue of names (built-ins, user registrations and entry points).

Optimizers travel as objects: every entry point takes an :class:`~nqm.theory.OptimizerSpec` (or a
numeric optimizer made from one) and nothing registers it on the way. The registry resolves a
*name* to its spec where a name is all there is: the command line's ``--optimizer NAME`` (with
``--spec-file`` registering a file's specs), a name passed to a Python entry point (resolved there,
once), and the suites that run over every registered spec. Third-party packages can contribute
specs through the ``nqm.optimizers`` entry-point group; each entry point must resolve to an
:class:`~nqm.theory.OptimizerSpec`.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from ._builtins import BUILTINS
from ._spec import OptimizerSpec, SpecError

__all__ = ["register", "unregister", "get_spec", "registered_names", "registered_specs"]

_REGISTRY: dict[str, OptimizerSpec] = {spec.name: spec for spec in BUILTINS}
_BUILTIN_NAMES = frozenset(_REGISTRY)
_entry_points_loaded = False


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for ep in entry_points(group="nqm.optimizers"):
        spec = ep.load()
        if not isinstance(spec, OptimizerSpec):
            raise SpecError(f"entry point {ep.name!r} does not resolve to an OptimizerSpec")
        _REGISTRY.setdefault(spec.name, spec)


def register(spec: OptimizerSpec, *, overwrite: bool = False) -> OptimizerSpec:
    """Add ``spec`` under ``spec.name`` and return it (usable as a decorator result).

    Built-ins cannot be replaced; another user spec of the same name only with
    ``overwrite=True``.
    """
    if not isinstance(spec, OptimizerSpec):
        raise TypeError(f"expected an OptimizerSpec, got {type(spec).__name__}")
    if spec.name in _BUILTIN_NAMES:
        raise SpecError(f"{spec.name!r} is a built-in optimizer and cannot be replaced")
    if spec.name in _REGISTRY and not overwrite:
        raise SpecError(f"an optimizer named {spec.name!r} is already registered (pass overwrite=True)")
    _REGISTRY[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    """Remove a user-registered spec (built-ins stay)."""
    if name in _BUILTIN_NAMES:
        raise SpecError(f"{name!r} is a built-in optimizer and cannot be removed")
    _REGISTRY.pop(name, None)


def get_spec(name: str) -> OptimizerSpec:
    """The spec registered as ``name``."""
    _load_entry_points()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"no optimizer named {name!r}; registered: {', '.join(registered_names())}") from None


def registered_names() -> tuple[str, ...]:
    """Names of all registered specs, built-ins first."""
    _load_entry_points()
    return tuple(_REGISTRY)


def registered_specs() -> tuple[OptimizerSpec, ...]:
    """All registered specs, built-ins first."""
    _load_entry_points()
    return tuple(_REGISTRY.values())
