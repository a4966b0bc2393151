"""A divergent setting whose start already meets the target reaches it at t = 0.

The risk at t = 0 is the start's, whatever the learning rate: SGD at alpha h = 3 on
h = c = v = 1 starts at 1/2 (and then grows, |1 - alpha h| = 2 > 1).
"""

import math

import pytest

import nqm.numerics as nn

PROB = nn.Problem([1.0], c=[1.0], init_var=1.0)  # initial risk 1/2


@pytest.mark.parametrize("method", ["auto", "doubling"])
def test_a_divergent_start_that_meets_the_target_is_a_hit_at_zero(method: str) -> None:
    assert nn.steps_to_target(PROB, nn.SGD(lr=3.0), batch_size=1, target=1.0, method=method) == 0
    assert nn.steps_to_target(PROB, nn.SGD(lr=3.0), batch_size=1, target=0.5, method=method) == 0  # a tie
    assert nn.steps_to_target(PROB, nn.SGD(lr=3.0), batch_size=1, target=0.4, method=method) == math.inf


def test_tuning_over_divergent_rates_only_still_sees_the_start() -> None:
    assert nn.tune(PROB, nn.SGD, batch_size=1, target=1.0, grid={"lr": [3.0, 4.0]}).steps == 0
    assert nn.tune(PROB, nn.SGD, batch_size=1, target=0.4, grid={"lr": [3.0, 4.0]}).steps == math.inf
