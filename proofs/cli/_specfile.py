"""``--spec-file FILE``: register the :class:`~nqm.theory.OptimizerSpec` objects a Python file defines.

Loaded only when the option is given (:data:`._common.spec_file_option` calls
:func:`load_spec_file` through :func:`._common.call`), so that help and commands without it do
not import the theory.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nqm.theory import OptimizerSpec, get_spec, register, registered_names

__all__ = ["load_spec_file"]


def _module_specs(namespace: dict[str, Any]) -> list[OptimizerSpec]:
    found = [v for k, v in namespace.items() if isinstance(v, OptimizerSpec) and not k.startswith("_")]
    listed = namespace.get("SPECS", ())
    if isinstance(listed, OptimizerSpec) or not isinstance(listed, Sequence):
        listed = (listed,)
    for spec in listed:
        if not isinstance(spec, OptimizerSpec):
            raise ValueError(f"SPECS must hold OptimizerSpec objects, got {type(spec).__name__}")
        found.append(spec)
    unique: dict[int, Any] = {id(s): s for s in found}
    return list(unique.values())


def load_spec_file(path: Path) -> list[str]:
    """Execute the Python file ``path`` and register every module-level OptimizerSpec (and those in ``SPECS``).

    Registering a spec equal to the one already registered under its name is a no-op, so a file
    may also call :func:`nqm.theory.register` itself, and the same file may be passed twice.
    Returns the registered names. Raises ``ValueError`` naming the file for any problem.
    """
    path = Path(path)
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
    module_name = f"nqm_user_specs_{digest}"
    module = sys.modules.get(module_name)
    if module is None:
        loader_spec = importlib.util.spec_from_file_location(module_name, path)
        if loader_spec is None or loader_spec.loader is None:
            raise ValueError(f"{path}: not a Python file")
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[module_name] = module  # so specs defined there pickle by reference
        try:
            loader_spec.loader.exec_module(module)
        except Exception as exc:  # the user's file failed: report it in one line
            del sys.modules[module_name]
            raise ValueError(f"{path}: {type(exc).__name__}: {exc}") from exc
    specs = _module_specs(vars(module))
    if not specs:
        raise ValueError(f"{path}: defines no OptimizerSpec (module-level or in a list SPECS)")
    names = []
    for spec in specs:
        if spec.name in registered_names():
            if get_spec(spec.name) != spec:
                raise ValueError(f"{path}: another optimizer named {spec.name!r} is already registered")
        else:
            register(spec)
        names.append(spec.name)
    return names
