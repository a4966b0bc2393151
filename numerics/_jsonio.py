"""JSON-ready data: the one conversion every JSON file the toolkit writes goes through."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["json_ready"]


def json_ready(value: Any) -> Any:
    """``value`` as plain JSON data: mappings (keys as strings), sequences and arrays as lists, numpy
    scalars as Python numbers, non-finite floats as the strings ``"inf"``, ``"-inf"`` and ``"nan"``
    (strict JSON has no such numbers; a never-reached target has ``"steps": "inf"``), and any other
    object as its ``str``."""
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return json_ready(value.tolist())
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
