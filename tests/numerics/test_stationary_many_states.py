"""The stationary risk of a spec with three states (exact doubling models read the generated
transition alone; the stationary risk needs the forms' stationary sum as well), against the
independent 50-digit oracle (tests/numerics/_edge_oracle.py) far past every time scale: at
t = 2^40 the modes of these settings (spectral radius at most 0.99) have decayed far below 1e-100,
so the oracle's risk is the stationary one to every digit shown. Tolerance: the engine's 1e-10."""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest

import nqm.numerics as nn

import _edge_oracle as oracle
from test_doubling_edges import MOMENTUM_EMA


@pytest.mark.parametrize(("lr", "beta", "gamma"), [(0.1, 0.5, 0.9), (1.0, 0.0, 0.0), (0.01, 0.9, 0.99), (2.5, 0.3, 0.5)])
def test_stationary_risk_of_a_three_state_spec_matches_the_oracle(lr: float, beta: float, gamma: float) -> None:
    hyper = {"lr": lr, "beta": beta, "gamma": gamma}
    h, c, v = [1.0, 0.25], [1.0, 0.5], [1.0, 2.0]
    prob = nn.Problem(h, c=c, init_var=v)
    got = nn.stationary_risk(prob, nn.from_spec(MOMENTUM_EMA)(**hyper), batch_size=4.0)
    (start, noise), = oracle.risk(MOMENTUM_EMA, h, c, v, [1.0, 1.0], 4.0, hyper, [2**40])
    assert start < mp.mpf(10) ** -100
    assert abs(mp.mpf(float(got)) - noise) <= 1e-10 * noise, (float(got), noise)
