"""The number of batch sizes is bounded before any work starts (:data:`nqm.numerics.validation.MAX_BATCH_SIZES`):
every entry point that takes several batch sizes checks it through the one validator,
:func:`nqm.numerics.validation.validate_batch_sizes`, and the message names ``batch_sizes`` and the allowed range."""

from __future__ import annotations

import numpy as np
import pytest

import nqm.numerics as nn
from nqm.numerics.validation import MAX_BATCH_SIZES, validate_batch_sizes

PROB = nn.Problem.paper(d=100, bins=4)
#: one batch size too many, each distinct and >= 1 (each would be a full tuning of the paper's grid)
TOO_MANY = np.arange(1.0, MAX_BATCH_SIZES + 2)
SAYS = rf"batch_sizes must hold from 1 to {MAX_BATCH_SIZES:,} distinct numbers >= 1; got {MAX_BATCH_SIZES + 1:,}"


@pytest.mark.parametrize("call", [
    lambda: nn.sweep(PROB, "momentum", batch_sizes=TOO_MANY, executor="serial", cache=False),
    lambda: nn.sweeps(PROB, [{"optimizer": "sgd", "batch_sizes": TOO_MANY}], executor="serial", cache=False),
    lambda: nn.sweep_jobs(PROB, [{"optimizer": "sgd"}], batch_sizes=TOO_MANY),
    lambda: nn.steps_examples(PROB, "sgd", batch_sizes=TOO_MANY, executor="serial"),
    lambda: nn.schedule_sweep(PROB, batch_sizes=TOO_MANY, executor="serial"),
    lambda: nn.preset_gaps(PROB, "sgd", batch_sizes=TOO_MANY),
], ids=["sweep", "sweeps", "sweep_jobs", "steps_examples", "schedule_sweep", "preset_gaps"])
def test_too_many_batch_sizes_are_refused_naming_the_range(call) -> None:
    with pytest.raises(ValueError, match=SAYS):
        call()


def test_the_bound_itself_is_allowed() -> None:
    assert validate_batch_sizes(TOO_MANY[:-1]).size == MAX_BATCH_SIZES
