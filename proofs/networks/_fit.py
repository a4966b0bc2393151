r"""Measure a network's curvature and gradient noise, fit an NQM to it, and predict its sweep.

**Curvature and noise (the paper's Appendix E.1–E.2).** At a point θ of the digits MLP
the generalised Gauss–Newton matrix :math:`G` (= the true Fisher for softmax
cross-entropy) and the Hessian of the mean training loss are formed densely with
curvlinops' ``GGNLinearOperator`` and ``HessianLinearOperator``. Along each eigenvector
:math:`u_i` of :math:`G` (eigenvalue :math:`h_i`) the per-example gradients
:math:`g_n = \nabla\ell_n(\theta)` (``torch.func.vmap`` of ``grad``) give the gradient
covariance :math:`c_i = \operatorname{Var}_n(u_i^\top g_n)` — the paper's check that
:math:`C\approx H` uses exactly these two numbers per direction, in the K-FAC eigenbasis
there; here the exact Gauss–Newton eigenbasis is affordable.

**The fitted NQM.** A reference SGD run gives the start :math:`\theta_0`, its first point
:math:`\theta_T` at the validation target and its validation minimum :math:`\theta_{\rm ref}` (the
NQM's optimum). The NQM takes :math:`h_i, u_i, c_i` at :math:`\theta_T`, the start
:math:`v_i = (u_i^\top(\theta_0-\theta_{\rm ref}))^2` and, as target, its own risk at
:math:`\theta_T` (:func:`fit_nqm`). Directions are quantised into geometric bins as in the paper
(Section 3.7; exact for the expected risk, which is linear in c and v within a bin).

**Predictions.** Steps to target against B for each optimizer, tuned exactly over grids
with the engine's :func:`nqm.numerics.sweeps`, and critical batch sizes by the engine's
:func:`nqm.numerics.critical_batch_sizes` (the same definitions for network and NQM).
Optimizers: SGD, heavy-ball momentum, SGD+EMA, and the preconditioned stand-ins for Adam (momentum with :math:`P = H^{1/2}`: Adam divides by the root of a gradient
second moment, and :math:`C\approx H`) and K-FAC (momentum with :math:`P = H`, the
undamped natural gradient). These stand-ins are idealisations; the report says where
they miss.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from nqm.numerics import CriticalBatchSizes, ExecutorArg, Problem, as_optimizer_spec, sweeps
from nqm.numerics import critical_batch_sizes as engine_critical

from ._digits import MLP, DigitsData, SearchResult, init_mlp

__all__ = [
    "CurvatureNoise",
    "FittedNQM",
    "measure_curvature_noise",
    "ReferenceRun",
    "reference_run",
    "fit_nqm",
    "nqm_sweep",
    "critical_batch_sizes",
    "NQM_STANDINS",
    "NQM_LR_GRID",
    "NQM_DECAY_GRID",
    "flatten_trial",
    "train_loss",
    "network_rows",
]

#: network optimizer -> (engine optimizer name, preconditioner power p)
NQM_STANDINS: dict[str, tuple[str, float]] = {
    "sgd": ("sgd", 0.0),
    "momentum": ("momentum", 0.0),
    "adam": ("momentum", 0.5),
    "ema": ("ema", 0.0),
    "kfac": ("momentum", 1.0),
}


def _sequential(model: MLP, flat: torch.Tensor) -> torch.nn.Sequential:
    """A ``torch.nn.Sequential`` copy of one MLP whose parameters are ``flat`` (nn.Linear order)."""
    layers: list[torch.nn.Module] = []
    s = model.sizes
    for i in range(len(s) - 1):
        layers.append(torch.nn.Linear(s[i], s[i + 1]))
        if i < len(s) - 2:
            layers.append(torch.nn.Tanh())
    net = torch.nn.Sequential(*layers)
    torch.nn.utils.vector_to_parameters(flat.float(), net.parameters())
    return net


def train_loss(model: MLP, data: DigitsData, flat: torch.Tensor) -> float:
    """Mean cross-entropy on the training set of the MLP with parameters ``flat``."""
    net = _sequential(model, flat)
    with torch.no_grad():
        return float(torch.nn.functional.cross_entropy(net(data.x_train), data.y_train))


def flatten_trial(weights: list[torch.Tensor], biases: list[torch.Tensor], k: int = 0) -> torch.Tensor:
    """Trial ``k``'s parameters as one vector in ``nn.Linear`` order (W_l transposed, then b_l)."""
    parts = []
    for w, b in zip(weights, biases):
        parts += [w[k].detach().T.reshape(-1), b[k].detach().reshape(-1)]
    return torch.cat(parts)


@dataclass(frozen=True)
class CurvatureNoise:
    r"""Curvature and gradient noise along the Gauss–Newton eigenvectors at one point.

    ``ggn``: eigenvalues :math:`h_i` (descending); ``hessian_along``: :math:`u_i^\top\nabla^2L\,u_i`
    for the leading directions (``nan`` beyond them); ``gradient_variance``: :math:`c_i`;
    ``eigenvectors``: columns :math:`u_i`.
    """

    ggn: np.ndarray
    hessian_along: np.ndarray
    gradient_variance: np.ndarray
    eigenvectors: np.ndarray
    train_loss: float


def measure_curvature_noise(model: MLP, data: DigitsData, flat: torch.Tensor, *, hessian_directions: int = 100) -> CurvatureNoise:
    """Dense GGN (curvlinops), Hessian along its leading ``hessian_directions`` eigenvectors
    (curvlinops), and the per-example gradient covariance along every eigenvector, at ``flat``.

    Products run in float32 (PyTorch's speed on CPU); the eigendecomposition in float64.
    Eigenvalues below about 1e-6 of the largest are at float32 resolution (:func:`fit_nqm`
    drops them).
    """
    from curvlinops import GGNLinearOperator, HessianLinearOperator

    net = _sequential(model, flat)
    params = list(net.parameters())
    x, y = data.x_train, data.y_train
    loss = torch.nn.CrossEntropyLoss()
    batches = [(x, y)]
    size = sum(p.numel() for p in params)
    G = (GGNLinearOperator(net, loss, params, batches, check_deterministic=False) @ torch.eye(size)).double()
    evals, evecs = torch.linalg.eigh(0.5 * (G + G.T))
    evals, evecs = evals.flip(0), evecs.flip(1)
    lead = evecs[:, :hessian_directions].float()
    HU = HessianLinearOperator(net, loss, params, batches, check_deterministic=False) @ lead
    hessian_along = np.full(size, np.nan)
    hessian_along[: lead.shape[1]] = (lead * HU).sum(0).double().numpy()
    names = [n for n, _ in net.named_parameters()]

    def example_loss(p: tuple[torch.Tensor, ...], xi: torch.Tensor, yi: torch.Tensor) -> torch.Tensor:
        out = torch.func.functional_call(net, dict(zip(names, p)), (xi[None],))
        return torch.nn.functional.cross_entropy(out, yi[None])

    per_ex = torch.func.vmap(torch.func.grad(example_loss), in_dims=(None, 0, 0))(tuple(p.detach() for p in params), x, y)
    grads = torch.cat([g.reshape(g.shape[0], -1) for g in per_ex], dim=1).double()  # [N, P]
    return CurvatureNoise(
        ggn=evals.numpy(),
        hessian_along=hessian_along,
        gradient_variance=(grads @ evecs).var(0, unbiased=True).numpy(),
        eigenvectors=evecs.numpy(),
        train_loss=train_loss(model, data, flat),
    )


@dataclass(frozen=True)
class ReferenceRun:
    """Points of one reference training run (parameters in ``nn.Linear`` order)."""

    start: torch.Tensor
    target_point: torch.Tensor  # first step with validation loss <= the target
    reference: torch.Tensor  # the validation-loss minimum (the NQM's optimum)
    target_step: int
    val_initial: float
    val_reference: float


def reference_run(model: MLP, data: DigitsData, *, target: float, init_seed: int, steps: int = 4000,
                  batch_size: int = 64, lr: float = 0.5, seed: int = 0) -> ReferenceRun:
    """Train one network with SGD (``batch_size``, ``lr``) for ``steps`` steps from the sweep's
    initialisation and keep its start, its first point at the validation ``target`` and its
    validation minimum."""
    weights, biases = init_mlp(model, 1, init_seed)
    params = [p.requires_grad_() for p in weights + biases]
    L = len(weights)
    gen = torch.Generator().manual_seed(seed)
    n = data.x_train.shape[0]
    start = flatten_trial(params[:L], params[L:])
    best, best_flat, first, hit = math.inf, start, math.nan, None
    for t in range(steps + 1):
        with torch.no_grad():
            val = float(model.losses(params[:L], params[L:], data.x_val, data.y_val)[0])
        first = val if t == 0 else first
        if val < best:
            best, best_flat = val, flatten_trial(params[:L], params[L:])
        if hit is None and val <= target:
            hit = (t, flatten_trial(params[:L], params[L:]))
        if t == steps:
            break
        idx = torch.randint(0, n, (1, batch_size), generator=gen)
        loss = model.losses(params[:L], params[L:], data.x_train[idx], data.y_train[idx]).sum()
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, g in zip(params, grads):
                p.sub_(lr * g)
    if hit is None:
        raise ValueError(f"the reference run never reached the validation target {target}; raise steps or the target")
    return ReferenceRun(start, hit[1], best_flat, hit[0], first, best)


@dataclass(frozen=True)
class FittedNQM:
    """The NQM fitted to the network and the numbers it was fitted from."""

    problem: object  # nqm.numerics.Problem
    target: float
    dropped_directions: int
    network_excess_train_loss: float  # L_train(start) - L_train(reference)


def fit_nqm(at_target: CurvatureNoise, run: ReferenceRun, *, excess_train_loss: float, bins: int = 100,
            relative_floor: float = 1e-6) -> FittedNQM:
    r"""The NQM of the module docstring.

    Curvature :math:`h_i`, eigenvectors :math:`u_i` and noise :math:`c_i` come from ``at_target``
    (measured at the reference run's first point at the validation target, the regime that
    decides steps to target); the optimum is the run's validation minimum
    :math:`\theta_{\rm ref}`; the start is :math:`v_i = (u_i^\top(\theta_0-\theta_{\rm ref}))^2`; the target
    is the quadratic model's own risk at the network's target point,
    :math:`\varepsilon = \sum_i\tfrac12h_i(u_i^\top(\theta_T-\theta_{\rm ref}))^2`. Directions with
    :math:`h_i \le` ``relative_floor`` :math:`h_1` are at float32 resolution (and the GGN has rank at
    most N(classes-1)); they are dropped and counted.
    """
    h = at_target.ggn
    keep = h > relative_floor * h[0]
    U = at_target.eigenvectors
    ref = run.reference.double().numpy()
    v = ((run.start.double().numpy() - ref) @ U) ** 2
    at_t = ((run.target_point.double().numpy() - ref) @ U) ** 2
    c = np.maximum(at_target.gradient_variance, 0.0)
    problem = Problem._binned(h[keep], c[keep], v[keep], bins, name="fitted to the digits MLP")
    target = float(0.5 * np.sum(h[keep] * at_t[keep]))
    return FittedNQM(problem, target, int((~keep).sum()), excess_train_loss)


#: the NQM's search grids for the network comparison: lr, and beta or gamma (wider than the paper's:
#: the fitted problem's curvature scale differs from the paper's)
NQM_LR_GRID = np.logspace(-6, 2, 100)
NQM_DECAY_GRID = 1.0 - np.logspace(-4, 0, 20)


def nqm_sweep(
    fitted: FittedNQM,
    optimizers: tuple[str, ...],
    batch_sizes: tuple[int, ...],
    *,
    executor: ExecutorArg = None,
    cache: object = None,
) -> list[dict]:
    """Rows ``{optimizer, batch_size, steps, lr, second, at_grid_edge, effective_lr}`` of exact tuned steps to target.

    One :func:`nqm.numerics.sweeps` over the stand-ins of :data:`NQM_STANDINS` on the grids
    :data:`NQM_LR_GRID` x :data:`NQM_DECAY_GRID` (exact, warm-started in B, ties to the first
    grid point; ``executor`` and ``cache`` as there). ``second`` is β or γ (``nan`` for SGD);
    ``at_grid_edge`` flags an optimum on the lr grid's boundary (where the grid, not the
    model, decides); ``effective_lr`` is :func:`nqm.numerics.effective_lr` of the optimum.
    """
    configs = []
    for name in optimizers:
        engine, power = NQM_STANDINS[name]
        grid = {p: (NQM_LR_GRID if p == "lr" else NQM_DECAY_GRID) for p in as_optimizer_spec(engine).forms.params}
        configs.append(dict(optimizer=engine, precond_power=power, grid=grid))
    tables = sweeps(fitted.problem, configs, batch_sizes=np.asarray(batch_sizes, dtype=float), target=fitted.target,
                    executor=executor, cache=cache)
    rows = []
    for name, table in zip(optimizers, tables):
        for r in table.rows:
            hp = r.hyperparameters
            rows.append(dict(optimizer=name, batch_size=int(r.batch_size), steps=float(r.steps), lr=hp.get("lr", math.nan),
                             second=hp.get("beta", hp.get("gamma", math.nan)), at_grid_edge="lr" in r.at_edge,
                             effective_lr=r.effective_lr))
    return rows


def critical_batch_sizes(batch_sizes: np.ndarray, steps: np.ndarray) -> dict[str, float]:
    r"""Both critical batch sizes of a steps curve, as used for network and NQM alike.

    A dict view of :func:`nqm.numerics.critical_batch_sizes` (one definition for both), keyed as
    in every output (:attr:`nqm.numerics.CriticalBatchSizes.DEFINITIONS`): ``B_crit_mccandlish``
    is :math:`B_{\rm crit} = E_{\min}/S_{\min}` of McCandlish's fit
    :math:`S = S_{\min} + E_{\min}/B` (``nan`` with fewer than two finite rows),
    ``B_crit_perfect_scaling_2x`` the batch size at which the steps exceed perfect scaling from
    the smallest batch size by a factor 2 (``inf`` if never on the rows given).
    """
    record = engine_critical(batch_sizes, steps).record()
    return {d: float(record[d]) for d in CriticalBatchSizes.DEFINITIONS}


def network_rows(results: list[SearchResult]) -> list[dict]:
    """Rows ``{optimizer, batch_size, steps, lr, effective_lr, second, trials, diverged}`` of a sweep."""
    rows = []
    for r in results:
        hp = r.best_hyperparameters
        second = hp.get("beta", hp.get("gamma", hp.get("beta1", float("nan"))))
        lr = hp.get("lr", float("nan"))
        eff = lr / (1.0 - hp["beta"]) if "beta" in hp else lr
        rows.append(dict(optimizer=r.optimizer, batch_size=r.batch_size, steps=r.best_steps, lr=lr,
                         effective_lr=eff, second=second, trials=len(r.steps), diverged=int(sum(r.diverged))))
    return rows
