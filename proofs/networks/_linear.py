r"""A network for which the NQM should be quantitatively right: linear regression in PyTorch.

A one-layer linear network :math:`f(x) = x^\top\theta` is trained on
:math:`\tfrac12(x^\top\theta - y)^2` with Gaussian inputs :math:`x\sim N(0,\Sigma)`,
:math:`\Sigma = \operatorname{diag}(h_i)` (the eigenbasis; any rotation gives the same losses),
and a teacher :math:`y = x^\top\theta^\ast + \varepsilon`, :math:`\varepsilon\sim N(0,\sigma^2)`.
Its Hessian is :math:`H = \Sigma` and, near the optimum, its per-example gradient
covariance is :math:`\sigma^2\Sigma`: an NQM with :math:`C = \sigma^2H` (eq. 1). Away from the
optimum the gradient noise is multiplicative,
:math:`\operatorname{Cov}(g\mid w) = \Sigma ww^\top\Sigma + (w^\top\Sigma w)\Sigma + \sigma^2\Sigma`
(:mod:`nqm.theory._multiplicative`), which the exact engine
:func:`nqm.numerics.multiplicative_expected_risk` models.

Training uses PyTorch's own optimizers: ``torch.optim.SGD`` (heavy-ball momentum with
``dampening=0`` is eq. 5 with :math:`m(0)=0`), an EMA of the weights through
``torch.optim.swa_utils.AveragedModel`` with ``get_ema_multi_avg_fn(gamma)`` (eq. 11, with
:math:`\tilde\theta(0) = \theta(0)`), and a diagonal preconditioner :math:`H^{-p}` applied to
the gradient by a tensor hook before the optimizer step (eqs. 8–9). Many independent runs
are one tensor program: the weights are one ``[runs, d]`` parameter and the loss is the sum
over runs of each run's mini-batch mean, so each run's gradient is its own.

torch is imported inside the functions: importing this module does not need it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nqm.numerics import (
    Problem,
    as_optimizer,
    as_optimizer_spec,
    expected_risk,
    multiplicative_expected_risk,
    risk_variance,
)
from nqm.numerics.validation import validate_hyperparameter

__all__ = ["LinearRuns", "NoiseModelComparison", "VALIDATION_SEED", "train_linear_regression", "compare_noise_models"]

#: the validation's random seed: the digits searches' hyperparameter draws and the linear runs
VALIDATION_SEED = 2

#: the specs trained with PyTorch's own optimizers (module docstring)
TORCH_SPECS = ("sgd", "momentum", "ema")


def _torch_setting(optimizer: object, lr: object, beta: object, gamma: object, precond_power: object) -> tuple[str, dict[str, object]]:
    """``(spec name, {lr, beta, gamma, precond_power})`` of a linear-network run from any optimizer form
    (:func:`~nqm.numerics.as_optimizer_spec`); an instance supplies its own values (then the keywords
    must be left out). ``ValueError`` for a spec without a PyTorch counterpart."""
    ref = as_optimizer_spec(optimizer)
    if ref.name not in TORCH_SPECS:
        raise ValueError(f"optimizer must be one of {', '.join(TORCH_SPECS)} (trained with PyTorch's own optimizers); "
                         f"{ref.name} has no PyTorch counterpart here")
    values = {"lr": lr, "beta": beta, "gamma": gamma, "precond_power": precond_power}
    if ref.is_instance:
        given = [k for k in values if values[k] is not None and (k != "precond_power" or k in ref.values)]
        if given:
            raise ValueError(f"optimizer is an instance with its own values; leave out {', '.join(given)}")
        values.update({k: float(v) for k, v in ref.values.items()})
    if values["lr"] is None:
        raise ValueError("lr must be given (or pass an optimizer instance such as nn.SGD(lr=0.1))")
    return ref.name, {k: (0.0 if v is None else v) for k, v in values.items()}


@dataclass(frozen=True)
class LinearRuns:
    """Excess population loss :math:`\\tfrac12(\\theta-\\theta^\\ast)^\\top\\Sigma(\\theta-\\theta^\\ast)`
    of ``runs`` independent trainings at steps ``0..T``: the mean and the sample variance."""

    steps: np.ndarray
    mean: np.ndarray
    variance: np.ndarray
    runs: int


def _check(name: str, value: object, lo: float, hi: float, lo_closed: bool, hi_closed: bool) -> float:
    """``value`` as a float, or the engine's ``ValueError`` naming ``name`` and its allowed range."""
    return float(validate_hyperparameter(name, value, (lo, hi, lo_closed, hi_closed)))


def train_linear_regression(
    h: object,
    *,
    sigma: float,
    optimizer: object = "sgd",
    lr: float | None = None,
    beta: float | None = None,
    gamma: float | None = None,
    precond_power: float | None = None,
    batch_size: int,
    steps: int,
    runs: int = 1000,
    init_var: float = 1.0,
    seed: int = 0,
) -> LinearRuns:
    r"""Train ``runs`` independent linear regressions with PyTorch and record the excess loss.

    ``h``: input covariance spectrum (eigenvalues of :math:`\Sigma`); ``sigma``: label noise;
    ``optimizer``: sgd, momentum (``torch.optim.SGD(momentum=beta)``) or ema (SGD evaluated at
    ``AveragedModel`` EMA weights with decay ``gamma``) in any form :func:`~nqm.numerics.as_optimizer_spec`
    accepts; an instance (``nn.Momentum(lr=0.1, beta=0.9)``) carries the values, otherwise ``lr``,
    ``beta``, ``gamma`` (default 0) give them; ``precond_power``:
    p of :math:`P = H^p`. The start is :math:`\theta(0) = \theta^\ast + w_0`,
    :math:`w_0\sim N(0, \mathrm{init\_var}\,I)`. Float64 throughout; ``seed`` fixes everything.
    """
    import torch
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    hv = np.array(h, dtype=float, ndmin=1)
    if hv.ndim != 1 or hv.size == 0 or not np.all(np.isfinite(hv) & (hv > 0)):
        raise ValueError("h must be a non-empty 1-D array of finite numbers in (0, inf)")
    optimizer, values = _torch_setting(optimizer, lr, beta, gamma, precond_power)
    lr, beta, gamma, precond_power = (values[k] for k in ("lr", "beta", "gamma", "precond_power"))
    sigma = _check("sigma", sigma, 0.0, np.inf, True, False)
    lr = _check("lr", lr, 0.0, np.inf, False, False)
    beta = _check("beta", beta, 0.0, 1.0, True, False)
    gamma = _check("gamma", gamma, 0.0, 1.0, True, False)
    precond_power = _check("precond_power", precond_power, 0.0, 1.0, True, True)
    init_var = _check("init_var", init_var, 0.0, np.inf, True, False)
    for name, value, least in (("batch_size", batch_size, 1), ("steps", steps, 0), ("runs", runs, 2)):
        if int(value) != value or value < least:
            raise ValueError(f"{name} must be an integer >= {least}; got {value!r}")

    gen = torch.Generator().manual_seed(int(seed))
    dt = torch.float64
    d = hv.size
    sqrt_h = torch.as_tensor(np.sqrt(hv), dtype=dt)
    h_t = torch.as_tensor(hv, dtype=dt)
    teacher = torch.randn(runs, d, generator=gen, dtype=dt)
    start = teacher + np.sqrt(init_var) * torch.randn(runs, d, generator=gen, dtype=dt)

    class Linear(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight = torch.nn.Parameter(start.clone())

    net = Linear()
    if precond_power:
        scale = h_t ** (-precond_power)
        net.weight.register_hook(lambda g: g * scale)
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=beta if optimizer == "momentum" else 0.0)
    ema = None
    if optimizer == "ema":
        ema = AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(gamma))
        ema.update_parameters(net)  # theta_avg(0) = theta(0) (eq. 11)

    losses = torch.empty(int(steps) + 1, runs, dtype=dt)

    def record(t: int) -> None:
        weights = ema.module.weight if ema is not None else net.weight
        with torch.no_grad():
            losses[t] = 0.5 * ((weights - teacher) ** 2 * h_t).sum(-1)

    record(0)
    for t in range(1, int(steps) + 1):
        x = torch.randn(runs, batch_size, d, generator=gen, dtype=dt) * sqrt_h
        noise = sigma * torch.randn(runs, batch_size, generator=gen, dtype=dt)
        with torch.no_grad():
            y = torch.einsum("rbi,ri->rb", x, teacher) + noise
        pred = torch.einsum("rbi,ri->rb", x, net.weight)
        loss = 0.5 * ((pred - y) ** 2).mean(dim=1).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if ema is not None:
            ema.update_parameters(net)
        record(t)
    arr = losses.numpy()
    with np.errstate(all="ignore"):
        mean = np.where(np.isnan(arr).any(1), np.inf, arr.mean(1))
        var = arr.var(1, ddof=1)
    return LinearRuns(np.arange(int(steps) + 1), mean, var, runs)


@dataclass(frozen=True)
class NoiseModelComparison:
    """PyTorch mean excess loss beside the constant-noise NQM and the exact multiplicative model.

    ``nqm_variance`` is the engine's exact :func:`~nqm.numerics.risk_variance` of one run's
    loss under the NQM (Gaussian noise and start); ``torch_variance`` the runs' sample
    variance. :meth:`standard_error` is the standard error of the PyTorch mean that the
    checks use (see its docstring).
    """

    steps: np.ndarray
    torch_mean: np.ndarray
    torch_variance: np.ndarray
    runs: int
    constant: np.ndarray
    multiplicative: np.ndarray
    nqm_variance: np.ndarray

    def standard_error(self) -> np.ndarray:
        r"""Standard error of the PyTorch mean, :math:`\sqrt{V/R}` with :math:`V` the larger of the
        engine's exact Gaussian-law variance and the sample variance.

        The engine's variance is exact for Gaussian gradient noise; the network's noise
        :math:`x(x^\top w-\varepsilon)` is a product of Gaussians (heavier tails), so its true
        variance is not available in closed form. Taking the larger of the exact value and
        the sample estimate keeps the stated false-failure rate without trusting either alone.
        """
        return np.sqrt(np.maximum(self.nqm_variance, self.torch_variance) / self.runs)

    def table(self) -> dict[str, np.ndarray]:
        """Columns for a CSV: step, PyTorch mean and standard error, both model predictions."""
        return {
            "step": self.steps,
            "torch_mean": self.torch_mean,
            "torch_standard_error": self.standard_error(),
            "nqm_constant_noise": self.constant,
            "nqm_multiplicative_noise": self.multiplicative,
        }


def compare_noise_models(
    h: object,
    *,
    sigma: float,
    optimizer: object = "sgd",
    lr: float | None = None,
    beta: float | None = None,
    gamma: float | None = None,
    precond_power: float | None = None,
    batch_size: int,
    steps: int,
    runs: int = 1000,
    init_var: float = 1.0,
    seed: int = 0,
) -> NoiseModelComparison:
    r"""Train with PyTorch (:func:`train_linear_regression`) and predict the same curve twice.

    The NQM is ``Problem(h, c=sigma**2 * h, init_var=init_var)``; the constant-noise curve is
    :func:`nqm.numerics.expected_risk`, the exact one :func:`nqm.numerics.multiplicative_expected_risk`.
    Arguments as for :func:`train_linear_regression`.
    """
    name, values = _torch_setting(optimizer, lr, beta, gamma, precond_power)
    runs_ = train_linear_regression(
        h, sigma=sigma, optimizer=name, **values, batch_size=batch_size, steps=steps, runs=runs, init_var=init_var, seed=seed,
    )
    hv = np.asarray(h, dtype=float)
    problem = Problem(hv, c=sigma**2 * hv, init_var=init_var)
    params = as_optimizer_spec(name).forms.params
    opt = as_optimizer(name, {k: v for k, v in values.items() if k in params or k == "precond_power"})
    t = runs_.steps
    return NoiseModelComparison(
        steps=t,
        torch_mean=runs_.mean,
        torch_variance=runs_.variance,
        runs=runs_.runs,
        constant=expected_risk(problem, opt, batch_size=batch_size, steps=t),
        multiplicative=multiplicative_expected_risk(problem, opt, batch_size=batch_size, steps=t),
        nqm_variance=risk_variance(problem, opt, batch_size=batch_size, steps=t),
    )
