"""The linear network takes the optimizer in every form the engine takes (issue 11, part 3)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

import nqm.numerics as nn  # noqa: E402
from nqm.proofs.networks._linear import compare_noise_models, train_linear_regression  # noqa: E402

H = np.array([1.0, 0.3])
KW = dict(sigma=0.5, batch_size=4, steps=15, runs=50, seed=2)


def test_an_instance_class_or_name_trains_the_same_runs() -> None:
    want = train_linear_regression(H, optimizer="momentum", lr=0.2, beta=0.5, **KW)
    for got in (
        train_linear_regression(H, optimizer=nn.Momentum(lr=0.2, beta=0.5), **KW),
        train_linear_regression(H, optimizer=nn.Momentum, lr=0.2, beta=0.5, **KW),
    ):
        np.testing.assert_array_equal(got.mean, want.mean)
    cmp = compare_noise_models(H, optimizer=nn.EMA(lr=0.2, gamma=0.7, precond_power=0.5), **KW)
    ref = compare_noise_models(H, optimizer="ema", lr=0.2, gamma=0.7, precond_power=0.5, **KW)
    np.testing.assert_array_equal(cmp.torch_mean, ref.torch_mean)
    np.testing.assert_array_equal(cmp.multiplicative, ref.multiplicative)


def test_specs_without_a_pytorch_counterpart_and_doubled_values_are_refused() -> None:
    with pytest.raises(ValueError, match="optimizer must be one of sgd, momentum, ema .* nesterov has no PyTorch counterpart"):
        train_linear_regression(H, optimizer=nn.Nesterov(lr=0.1, beta=0.5), **KW)
    with pytest.raises(ValueError, match="optimizer is an instance with its own values; leave out lr"):
        train_linear_regression(H, optimizer=nn.SGD(lr=0.1), lr=0.2, **KW)
    with pytest.raises(ValueError, match="leave out precond_power"):  # an instance carries its own p (was overwritten)
        train_linear_regression(H, optimizer=nn.SGD(lr=0.1), precond_power=0.5, **KW)
    with pytest.raises(ValueError, match="lr must be given"):
        train_linear_regression(H, optimizer="sgd", **KW)
