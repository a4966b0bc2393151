r"""A small network on real data: steps to a validation target against batch size (the paper's §4).

Data: scikit-learn's bundled digits (1,797 8x8 images, no download), standardised with
training statistics, split once into training and validation sets. Model: a tanh MLP
(64 → hidden → 10) with softmax cross-entropy.

Protocol (Section 4, Appendix F, in miniature). For each optimizer and batch size B,
``trials`` hyperparameter settings are drawn by scrambled Sobol quasi-random search
(Bousquet et al. 2017) from a fixed, log-uniform search space; each trial trains from
the same initialisation seed with its own i.i.d. mini-batches; the validation loss is
measured after every step, and the result is the fewest steps any trial needs to bring
it to ``target``. The trials of one (optimizer, B) run together as one tensor program
(every weight has a leading trial axis), and the program stops at the first step at
which some trial reaches the target: no other trial can then beat it, so the best trial
is exact and the others are recorded as censored at that step. Diverged trials (non-finite
loss) never reach the target and are counted.

Optimizers (each update checked against ``torch.optim`` in tests/networks): SGD; heavy-ball
momentum (``torch.optim.SGD(momentum=beta)``, eq. 5); Adam (``torch.optim.Adam``, β₂ = 0.999);
SGD with an EMA of the weights evaluated at the average (``AveragedModel`` with
``get_ema_multi_avg_fn``, eq. 11); K-FAC with momentum (:mod:`._kfac`).
Momentum-like methods are searched in the effective learning rate
:math:`\alpha/(1-\beta)` and :math:`1-\beta` (Section 3.2), which is a reparametrisation of the
same space.

Every (optimizer, B) search is one picklable task (:func:`run_sweep`), run on any
executor of the toolkit's convention (:func:`nqm.numerics.resolve_executor`; default: a local
thread pool; torch releases the GIL in its kernels; a dask client or Ray executor works unchanged). Finished searches are cached on disk (:class:`nqm.numerics.ResultCache`)
under a key derived from their full configuration, so a re-run trains nothing and an
interrupted sweep resumes.
"""

from __future__ import annotations

import functools
import math
import multiprocessing
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch

from nqm.numerics import ExecutorArg, ResultCache, map_tasks, register_result_type

from ._kfac import KFACFactors, fisher_factors, precondition
from ._linear import VALIDATION_SEED

__all__ = [
    "BatchedOptimizer",
    "DigitsData",
    "MLP",
    "SEARCH_SPACES",
    "SearchResult",
    "SweepConfig",
    "load_digits_data",
    "init_mlp",
    "sample_hyperparameters",
    "optimizer_hyperparameters",
    "run_search",
    "run_sweep",
]

#: bump when the training code changes behaviour (part of every cache key)
CODE_VERSION = 1

OPTIMIZERS = ("sgd", "momentum", "adam", "ema", "kfac")


@dataclass(frozen=True)
class DigitsData:
    """Standardised digits: training and validation inputs ``[N, 64]`` and labels ``[N]``."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor


def load_digits_data(validation: int = 497, seed: int = 0) -> DigitsData:
    """scikit-learn's digits, shuffled with ``seed``; the last ``validation`` images validate.

    Pixels are scaled by training mean and standard deviation (plus 0.1 to tame constant
    border pixels).
    """
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    if not 1 <= validation < len(x) - 1:
        raise ValueError(f"validation must be an integer in [1, {len(x) - 2}]; got {validation!r}")
    order = np.random.default_rng(seed).permutation(len(x))
    train, val = order[:-validation], order[-validation:]
    mean, std = x[train].mean(0), x[train].std(0) + 0.1 * x.max()
    z = (x - mean) / std
    as_t = lambda a, dt: torch.as_tensor(np.ascontiguousarray(a), dtype=dt)  # noqa: E731
    return DigitsData(as_t(z[train], torch.float32), as_t(y[train], torch.long), as_t(z[val], torch.float32), as_t(y[val], torch.long))


@dataclass(frozen=True)
class MLP:
    """A tanh MLP ``64 -> hidden... -> 10``; parameters are lists ``[W_l [K, in, out], b_l [K, 1, out]]``."""

    hidden: tuple[int, ...] = (32,)
    inputs: int = 64
    classes: int = 10

    @property
    def sizes(self) -> tuple[int, ...]:
        return (self.inputs, *self.hidden, self.classes)

    @property
    def parameter_count(self) -> int:
        s = self.sizes
        return sum((s[i] + 1) * s[i + 1] for i in range(len(s) - 1))

    def forward(self, weights: Sequence[torch.Tensor], biases: Sequence[torch.Tensor], x: torch.Tensor) -> tuple[list, list]:
        """``(layer inputs, pre-activations)``; ``x`` is ``[K, B, 64]`` or ``[B, 64]`` (shared)."""
        acts, pres = [], []
        a = x
        for layer, (w, b) in enumerate(zip(weights, biases)):
            acts.append(a.expand(w.shape[0], *a.shape[-2:]) if a.dim() == 2 else a)
            z = torch.matmul(a, w) + b
            pres.append(z)
            a = torch.tanh(z) if layer < len(weights) - 1 else z
        return acts, pres

    def losses(self, weights: Sequence[torch.Tensor], biases: Sequence[torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy per trial, shape ``[K]``; ``y`` is ``[K, B]`` or ``[B]``."""
        logits = self.forward(weights, biases, x)[1][-1]
        K, n = logits.shape[0], logits.shape[1]
        labels = y.expand(K, n) if y.dim() == 1 else y
        return torch.nn.functional.cross_entropy(logits.reshape(K * n, -1), labels.reshape(-1), reduction="none").reshape(K, n).mean(1)


def init_mlp(model: MLP, trials: int, seed: int) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Weights :math:`N(0, 1/n_{\\rm in})`, zero biases; every trial gets the same draw from ``seed``."""
    gen = torch.Generator().manual_seed(int(seed))
    s = model.sizes
    ws = [torch.randn(1, s[i], s[i + 1], generator=gen) / math.sqrt(s[i]) for i in range(len(s) - 1)]
    return [w.repeat(trials, 1, 1) for w in ws], [torch.zeros(trials, 1, s[i + 1]) for i in range(len(s) - 1)]


# --------------------------------------------------------------------------- search spaces
#: name -> ((hyperparameter, low, high), ...), each log-uniform. ``lr_eff`` is alpha / (1 - beta);
#: ``one_minus_*`` are complements (so beta in [1 - high, 1 - low]).
SEARCH_SPACES: dict[str, tuple[tuple[str, float, float], ...]] = {
    "sgd": (("lr", 1e-3, 30.0),),
    "momentum": (("lr_eff", 1e-3, 30.0), ("one_minus_beta", 1e-3, 1.0)),
    "adam": (("lr", 1e-5, 1.0), ("one_minus_beta1", 1e-2, 1.0), ("eps", 1e-8, 1.0)),
    "ema": (("lr", 1e-3, 30.0), ("one_minus_gamma", 1e-3, 1.0)),
    "kfac": (("lr_eff", 1e-4, 3.0), ("one_minus_beta", 1e-2, 1.0), ("damping", 1e-4, 1.0)),
}

#: fixed optimizer constants (not searched)
ADAM_BETA2 = 0.999
KFAC_FACTOR_DECAY = 0.95


def sample_hyperparameters(optimizer: str, trials: int, seed: int) -> dict[str, np.ndarray]:
    """``trials`` scrambled-Sobol points of the optimizer's search space (log-uniform axes)."""
    from scipy.stats import qmc

    if optimizer not in SEARCH_SPACES:
        raise ValueError(f"optimizer must be one of {', '.join(SEARCH_SPACES)}; got {optimizer!r}")
    space = SEARCH_SPACES[optimizer]
    u = qmc.Sobol(len(space), scramble=True, seed=seed).random(trials)
    return {name: np.exp(np.log(lo) + u[:, i] * (np.log(hi) - np.log(lo))) for i, (name, lo, hi) in enumerate(space)}


def optimizer_hyperparameters(optimizer: str, sample: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The optimizer's own hyperparameters (``lr``, ``beta``, ...) from a search sample."""
    out = dict(sample)
    for name in list(out):
        if name.startswith("one_minus_"):
            out[name[len("one_minus_"):]] = 1.0 - out.pop(name)
    if "lr_eff" in out:
        out["lr"] = out.pop("lr_eff") * (1.0 - out["beta"])
    return out


# --------------------------------------------------------------------------- batched updates
class BatchedOptimizer:
    """Per-trial hyperparameters as tensors ``[K]``; the update rules of ``torch.optim``.

    * ``sgd``: :math:`\\theta \\mathrel{-}= \\alpha g`;
    * ``momentum``: :math:`m = \\beta m + g`, :math:`\\theta \\mathrel{-}= \\alpha m` (``m(0) = 0``);
    * ``adam``: PyTorch's Adam with bias corrections;
    * ``ema``: SGD, and :math:`\\tilde\\theta \\leftarrow \\tilde\\theta + (1-\\gamma)(\\theta-\\tilde\\theta)`;
    * ``kfac``: the K-FAC direction, then momentum as above.
    """

    def __init__(self, name: str, hyper: dict[str, np.ndarray], params: list[torch.Tensor]) -> None:
        self.name = name
        self.h = {k: torch.as_tensor(np.asarray(v, dtype=np.float64), dtype=params[0].dtype) for k, v in hyper.items()}
        self.state = [torch.zeros_like(p) for p in params]
        self.state2 = [torch.zeros_like(p) for p in params] if name == "adam" else None
        self.average = [p.detach().clone() for p in params] if name == "ema" else None
        self.kfac = KFACFactors(KFAC_FACTOR_DECAY) if name == "kfac" else None
        self.t = 0

    def _per_trial(self, key: str, like: torch.Tensor) -> torch.Tensor:
        return self.h[key].reshape(-1, *([1] * (like.dim() - 1)))

    def step(self, params: list[torch.Tensor], grads: list[torch.Tensor]) -> None:
        """Update ``params`` in place from ``grads`` (both ordered ``W_1..W_L, b_1..b_L``)."""
        self.t += 1
        with torch.no_grad():
            if self.name == "adam":
                b1, b2 = self.h["beta1"], ADAM_BETA2
                for p, g, m, v in zip(params, grads, self.state, self.state2):
                    beta1 = self._per_trial("beta1", p)
                    m.mul_(beta1).add_((1 - beta1) * g)
                    v.mul_(b2).add_((1 - b2) * g * g)
                    bc1 = (1 - b1**self.t).reshape(beta1.shape)
                    denom = (v.sqrt() / math.sqrt(1 - b2**self.t)) + self._per_trial("eps", p)
                    p.sub_(self._per_trial("lr", p) / bc1 * m / denom)
                return
            for p, g, m in zip(params, grads, self.state):
                lr = self._per_trial("lr", p)
                if self.name in ("momentum", "kfac"):
                    m.mul_(self._per_trial("beta", p)).add_(g)
                    p.sub_(lr * m)
                else:
                    p.sub_(lr * g)
            if self.average is not None:
                for a, p in zip(self.average, params):
                    a.add_((1 - self._per_trial("gamma", p)) * (p - a))

    def evaluated(self, params: list[torch.Tensor]) -> list[torch.Tensor]:
        """The weights whose validation loss counts (the EMA average for ``ema``)."""
        return self.average if self.average is not None else params


@dataclass(frozen=True)
class SearchResult:
    """One (optimizer, B) search: the best trial and every trial's outcome.

    ``steps[k]`` is trial k's steps to target, or ``inf`` if it had not reached the target
    when the search stopped at ``stopped_at`` (censored) or if it diverged (``diverged[k]``).
    """

    optimizer: str
    batch_size: int
    hyperparameters: dict[str, list[float]]
    steps: list[float]
    diverged: list[bool]
    stopped_at: int
    best_steps: float
    best_index: int | None

    @property
    def best_hyperparameters(self) -> dict[str, float]:
        """The winning trial's optimizer hyperparameters (empty if no trial reached the target)."""
        if self.best_index is None:
            return {}
        return {k: v[self.best_index] for k, v in self.hyperparameters.items()}


register_result_type(SearchResult)  # cached by run_sweep


def run_search(
    data: DigitsData,
    model: MLP,
    optimizer: str,
    batch_size: int,
    hyper: dict[str, np.ndarray],
    *,
    target: float,
    max_steps: int,
    init_seed: int,
    data_seed: int,
) -> SearchResult:
    """Train every trial of ``hyper`` (optimizer hyperparameters, arrays ``[K]``) at once."""
    K = len(next(iter(hyper.values())))
    weights, biases = init_mlp(model, K, init_seed)
    params = [p.requires_grad_() for p in weights + biases]
    L = len(weights)
    opt = BatchedOptimizer(optimizer, hyper, params)
    gen = torch.Generator().manual_seed(int(data_seed))
    n = data.x_train.shape[0]
    steps = np.full(K, np.inf)
    diverged = np.zeros(K, dtype=bool)
    stopped = max_steps
    for t in range(max_steps + 1):
        with torch.no_grad():
            ev = opt.evaluated(params)
            val = model.losses(ev[:L], ev[L:], data.x_val, data.y_val).numpy()
        diverged |= ~np.isfinite(val)
        hit = val <= target
        if hit.any():
            steps[hit] = t
            stopped = t
            break
        if t == max_steps or diverged.all():
            stopped = t
            break
        idx = torch.randint(0, n, (K, batch_size), generator=gen)
        acts, pres = model.forward(params[:L], params[L:], data.x_train[idx])
        logits = pres[-1]
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(K * batch_size, -1), data.y_train[idx].reshape(-1), reduction="none"
        ).reshape(K, batch_size).mean(1).sum()
        grads = list(torch.autograd.grad(loss, params))
        if opt.kfac is not None:
            opt.kfac.update(fisher_factors([a.detach() for a in acts], [z.detach() for z in pres], [w.detach() for w in params[:L]]))
            gw, gb = precondition(grads[:L], grads[L:], opt.kfac.factors, opt.h["damping"])
            grads = gw + gb
        opt.step(params, grads)
    best = float(steps.min())
    return SearchResult(
        optimizer=optimizer,
        batch_size=int(batch_size),
        hyperparameters={k: [float(x) for x in np.asarray(v)] for k, v in hyper.items()},
        steps=[float(s) for s in steps],
        diverged=[bool(d) for d in diverged],
        stopped_at=int(stopped),
        best_steps=best,
        best_index=int(np.argmin(steps)) if math.isfinite(best) else None,
    )


@dataclass(frozen=True)
class SweepConfig:
    """Everything that determines a sweep's results (and so its cache keys)."""

    optimizers: tuple[str, ...] = OPTIMIZERS
    batch_sizes: tuple[int, ...] = tuple(2**k for k in range(11))
    trials: int = 32
    target: float = 0.1
    hidden: tuple[int, ...] = (32,)
    validation: int = 497
    split_seed: int = 0
    init_seed: int = 1
    search_seed: int = VALIDATION_SEED
    data_seed: int = 3
    #: examples budget per trial: max steps = clip(examples // B, min_steps, max_steps)
    examples: int = 16384
    min_steps: int = 300
    max_steps: int = 16384
    torch_threads: int = 2

    def __post_init__(self) -> None:
        bad = [o for o in self.optimizers if o not in OPTIMIZERS]
        if bad:
            raise ValueError(f"optimizers must be among {', '.join(OPTIMIZERS)}; got {bad}")
        if not self.batch_sizes or any(int(b) != b or b < 1 for b in self.batch_sizes):
            raise ValueError(f"batch_sizes must be integers >= 1; got {self.batch_sizes}")
        if self.trials < 1:
            raise ValueError(f"trials must be an integer >= 1; got {self.trials}")
        if not (math.isfinite(self.target) and self.target > 0):
            raise ValueError(f"target must be a finite number in (0, inf); got {self.target}")

    def step_cap(self, batch_size: int) -> int:
        """The step budget of one search at ``batch_size``."""
        return int(min(self.max_steps, max(self.min_steps, self.examples // batch_size)))

    def search_key(self, optimizer: str, batch_size: int) -> dict:
        """The full configuration of one (optimizer, B) search, for its cache key."""
        cfg = asdict(self)
        for name in ("optimizers", "batch_sizes", "torch_threads"):
            cfg.pop(name)
        cfg.update(optimizer=optimizer, batch_size=int(batch_size), step_cap=self.step_cap(batch_size),
                   space=SEARCH_SPACES[optimizer], adam_beta2=ADAM_BETA2, kfac_decay=KFAC_FACTOR_DECAY,
                   code=CODE_VERSION, torch=torch.__version__)
        return cfg


@dataclass(frozen=True)
class _Search:
    """One (optimizer, B) search of a sweep as a picklable task; cached under
    :meth:`SweepConfig.search_key` (so that adding batch sizes or optimizers reuses results)."""

    config: SweepConfig
    optimizer: str
    batch_size: int

    def cache_config(self) -> dict:
        return self.config.search_key(self.optimizer, self.batch_size)


@functools.lru_cache(maxsize=4)
def _digits(validation: int, split_seed: int) -> DigitsData:
    """The data set, loaded once per process."""
    return load_digits_data(validation, split_seed)


def _run_one(task: _Search) -> SearchResult:
    """Run one search; in a worker process (a pool or a dask/Ray worker) torch uses one thread,
    since the workers already fill the cores."""
    if multiprocessing.parent_process() is not None:
        torch.set_num_threads(1)
    c, o, b = task.config, task.optimizer, task.batch_size
    sample = sample_hyperparameters(o, c.trials, c.search_seed)
    return run_search(
        _digits(c.validation, c.split_seed), MLP(c.hidden), o, b, optimizer_hyperparameters(o, sample),
        target=c.target, max_steps=c.step_cap(b), init_seed=c.init_seed, data_seed=c.data_seed + b,
    )


def _rich_progress(description: str) -> Callable[[Iterable, int], Iterator]:
    """A ``wrapper(iterable, total)`` with a rich progress bar (for ``map_tasks(progress=...)``)."""

    def wrap(iterable: Iterable, total: int) -> Iterator:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()) as bar:
            task = bar.add_task(description, total=total)
            for item in iterable:
                yield item
                bar.advance(task)

    return wrap


def run_sweep(
    config: SweepConfig,
    *,
    cache_dir: str | None = None,
    progress: Callable[[Iterable, int], Iterable] | bool = True,
    executor: ExecutorArg = None,
) -> list[SearchResult]:
    """Every (optimizer, B) search of ``config``, cached and resumable.

    Each search is one picklable task of :func:`nqm.numerics.map_tasks`:
    ``executor`` says where, by the toolkit's convention (:func:`nqm.numerics.resolve_executor`):
    ``None`` (default) is a local thread pool sharing this process's ``config.torch_threads``
    torch threads, ``"serial"`` this process, ``"processes"`` a local process pool (one torch
    thread per worker). A finished search is stored
    in ``cache_dir`` (default ``$NQM_CACHE_DIR``/results) as soon as it completes, so a repeated
    sweep trains nothing and an interrupted one resumes. Results come in the order of
    ``config.optimizers`` x ``config.batch_sizes`` and do not depend on the executor.

    ``progress``: ``True`` for a rich bar, ``False`` for none, or a wrapper
    ``progress(iterable, total)`` around search completions (as for ``map_tasks``).
    """
    torch.set_num_threads(config.torch_threads)
    tasks = [_Search(config, o, b) for o in config.optimizers for b in config.batch_sizes]
    wrapper = _rich_progress("digits sweep") if progress is True else (progress or None)
    return map_tasks(_run_one, tasks, executor=executor, cache=ResultCache(cache_dir, namespace="networks-digits"),
                     progress=wrapper)
