"""The committed numeric forms are exactly what the theory generates today, and generated forms
keep unit-interval hyperparameters accurate near 0 and near 1."""

from pathlib import Path

import mpmath as mp
import numpy as np
import pytest
import sympy as sp

import nqm.numerics
import nqm.numerics as nn
from nqm.theory import BUILTINS, LR, Hyperparameter, OptimizerSpec
from nqm.theory.codegen import generated_module_source


def test_generated_module_is_fresh() -> None:
    committed = (Path(nqm.numerics.__file__).parent / "_generated.py").read_text()
    assert committed == generated_module_source(BUILTINS), (
        "numerics/_generated.py is stale; run `python -m nqm.theory._regenerate`"
    )


# ---------------------------------------------------------------------- unit-interval hyperparameters
WD = Hyperparameter("wd", sp.Symbol("omega", real=True), 0.0, 1.0, True, False, "weight decay")


def _decay(grad, theta, lr, wd):
    return ((1 - wd) * theta - lr * grad(theta),)


@pytest.fixture
def decay() -> nn.OptimizerRef:
    spec = OptimizerSpec.from_update("codegen_decay", _decay, state=("theta",), hyperparameters=(LR, WD))
    return nn.from_spec(spec)


@pytest.mark.parametrize("wd", [0.0, 1e-12, 1e-6, 0.3, 0.7, 1 - 1e-9])
@pytest.mark.parametrize("h", [1.0, 1e-7, 1e-12])
def test_a_unit_interval_hyperparameter_is_exact_near_0_and_near_1(decay, wd: float, h: float) -> None:
    """Weight decay w next to a tiny alpha h: the forms must keep alpha h + w accurate whether w is
    0, tiny, or close to 1 (plain writing below 1/2, complement above). Exact reference: the one
    direction's stationary risk (1/2) h (c/B) alpha^2 / (1 - (1 - w - alpha h)^2), 50 digits."""
    lr = 0.1
    got = nn.stationary_risk(nn.Problem([h], c=[h]), decay(lr=lr, wd=wd), batch_size=1.0)
    with mp.workdps(50):
        x = mp.mpf(wd) + mp.mpf(lr) * mp.mpf(h)
        exact = mp.mpf(h) / 2 * mp.mpf(h) * mp.mpf(lr) ** 2 / (x * (2 - x))
    assert abs(got - float(exact)) <= 1e-13 * float(exact)


def test_weight_decay_zero_is_sgd_to_the_last_bits(decay) -> None:
    prob = nn.Problem([1.0, 1e-4, 1e-9])
    steps = np.array([0, 1, 100, 10**6, 10**9])
    plain = nn.expected_risk(prob, nn.SGD(lr=0.1), batch_size=4.0, steps=steps)
    np.testing.assert_allclose(nn.expected_risk(prob, decay(lr=0.1, wd=0.0), batch_size=4.0, steps=steps), plain, rtol=1e-14)
    assert nn.effective_lr(decay(lr=0.1, wd=0.0)) == pytest.approx(0.1, rel=1e-13)


def test_weight_decay_has_no_effective_learning_rate(decay) -> None:
    """Its slow mode tends to 1 - w, not 1, as h -> 0: no rate per unit curvature to read off."""
    rates = nn.effective_lr(decay(lr=np.array([0.1, 0.1, 0.3]), wd=np.array([0.0, 0.01, 0.5])))
    assert rates[0] == pytest.approx(0.1, rel=1e-13) and np.isnan(rates[1:]).all()
