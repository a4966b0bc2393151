"""The committed numeric forms are exactly what the theory generates today."""

from pathlib import Path

import nqm.numerics
from nqm.theory import BUILTINS, generated_module_source


def test_generated_module_is_fresh() -> None:
    committed = (Path(nqm.numerics.__file__).parent / "_generated.py").read_text()
    assert committed == generated_module_source(BUILTINS), (
        "numerics/_generated.py is stale; run `python -m nqm.theory._regenerate`"
    )
