"""``json_ready``: every JSON file the toolkit writes is strict JSON (no NaN/Infinity tokens)."""

from __future__ import annotations

import json
import math

import numpy as np

from nqm.numerics.io import json_ready


def test_json_ready_gives_strict_json_with_non_finite_numbers_as_strings() -> None:
    value = {
        1: np.float64(math.inf),
        "a": [np.int64(3), -math.inf, (math.nan, np.float32(0.5))],
        "b": np.array([[1.0, np.nan], [np.inf, 2.0]]),
        "c": np.array(7.0),
        "d": None,
        "e": True,
        "f": complex(1, 2),
    }
    got = json_ready(value)
    assert got == {
        "1": "inf",
        "a": [3, "-inf", ["nan", 0.5]],
        "b": [[1.0, "nan"], ["inf", 2.0]],
        "c": 7.0,
        "d": None,
        "e": True,
        "f": "(1+2j)",
    }
    assert type(got["a"][0]) is int and type(got["c"]) is float
    json.dumps(got, allow_nan=False)  # raises on any non-finite float left
