r"""The authors' protocol, implemented plainly: the baseline of benchmarks/bench_fig3a.py.

A transcription of the tuning code of the paper's notebook (gd-zhang/noisy-quadratic-model,
``nqm.ipynb``, Zhang et al. 2019) in plain numpy, with its loops and numerics:

* the problem: ``toy_problem`` bins :math:`h_i = 1/i` into 100 geometric bins (rounded down,
  weighted by count; empty bins kept), :math:`\sigma_i^2 = h_i/B`, :math:`s_0 = 1`;
* preconditioning :math:`P = H^p` enters as ``prec = h**-p`` (the update
  :math:`\theta \leftarrow \theta - \alpha P^{-1}\hat g`, eq. 8);
* SGD: the closed form :math:`s_t = s_* + \beta_i^t(s_0 - s_*)`, :math:`\beta_i = (1-\alpha p_ih_i)^2`,
  :math:`s_* = (p_i\alpha)^2\sigma_i^2/(1-\beta_i+10^{-8})` (eqs. 4/9, with the notebook's
  ``1e-8`` in the denominator);
* momentum: the 3x3 second-moment recursion of Appendix B, powered through
  ``numpy.linalg.eig`` of the transition of every bin, recomputed at every call (as the
  notebook does), real part of the first component;
* steps to target: a binary search on t over ``[0, 1e9]`` (SGD) or ``[0, 1e7]``
  (momentum) with the test ``L < C``, which assumes a monotone curve;
* piecewise-constant schedules (``optimize_lrates``, ``ttl_sched``): L-BFGS-B from log lr -5
  with bounds ``(-inf, max_llr)`` and scipy's default options on the notebook's loss, and a
  bisection over the per-piece length from ``high = 1e8`` (totals are multiples of the number
  of pieces). The notebook's gradients come from ``autograd``; here the same derivative is
  written out by hand (:func:`pwc_loss_and_grad`). The cap is 2/(h_max + h_min + 1e-4);
* tuning: Python loops over the paper's grids (``logspace(-5, 0.5, 100)``; momentum
  ``logspace(-8, 1, 100)`` x ``1 - logspace(-5, 0, 20)``), keeping the first best.

Two deliberate differences, both for comparing like with like: the notebook's search
returns ``low = high - 1`` (the last step found at or above the target); these functions
return ``high``, the first step the search found below it, which is what the engine's
steps-to-target means. A search that never goes below the target returns ``inf`` (the
notebook returns its range's end, ``1e9 - 1`` or ``1e7 - 1``). The notebook imports numpy
through ``autograd`` (for its schedule optimiser); plain numpy is used here, which only
makes the baseline faster.

``grid_steps_sgd`` and ``grid_steps_momentum`` run the *same arithmetic* vectorised over
the whole grid (numpy's eig, inv and matmul work matrix by matrix, so every value is
bit-for-bit the loop's; bench_fig3a.py checks this on its timed subset). They exist only to
obtain the baseline's answer on every grid point in reasonable time.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.optimize

__all__ = [
    "toy_problem",
    "time_to_loss",
    "time_to_loss_wm",
    "optimal_ttl",
    "optimal_ttl_wm",
    "grid_steps_sgd",
    "grid_steps_momentum",
    "pwc_loss",
    "pwc_loss_and_grad",
    "optimize_lrates",
    "ttl_sched",
    "authors_max_llr",
    "SGD_LRATES",
    "MOMENTUM_LRATES",
    "MOMENTA",
    "SGD_HIGH",
    "MOMENTUM_HIGH",
]

SGD_LRATES = np.logspace(-5, 0.5, 100)
MOMENTUM_LRATES = np.logspace(-8, 1, 100)
MOMENTA = 1 - np.logspace(-5, 0, 20)
#: upper ends of the notebook's binary searches
SGD_HIGH = 1_000_000_000
MOMENTUM_HIGH = 10_000_000
#: upper end of the notebook's search over the per-piece length (``ttl_sched``)
SCHED_HIGH = 100_000_000


def toy_problem(ndim: int = 10_000, nbins: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """The notebook's discretised spectrum: bin values and the count of eigenvalues per bin."""
    full_h = 1.0 / np.arange(1, ndim + 1)
    bins = np.geomspace(full_h[0], full_h[-1], nbins)
    curr_bin = 0
    i = 0
    counts = np.zeros(nbins)
    while i < ndim:
        while i < ndim and full_h[i] >= bins[curr_bin]:
            counts[curr_bin] += 1
            i += 1
        curr_bin += 1
    return bins, counts


def loss(h: np.ndarray, s: np.ndarray, counts: np.ndarray) -> float:
    return 0.5 * np.sum(h * s * counts)


def simulate_kstep_dynamics(h, sigma_sq, s_init, lrate, k, prec):
    """k steps of (preconditioned) SGD in closed form, as the notebook computes them."""
    beta = (1 - lrate * prec * h) ** 2
    s_star = (prec * lrate) ** 2 * sigma_sq / (1 - beta + 1e-8)
    return s_star + beta**k * (s_init - s_star)


def time_to_loss(h, sigma_sq, s_init, lrate, C, counts, prec) -> float:
    """The notebook's binary search for SGD (returns ``high``; ``inf`` if never below C)."""
    high = SGD_HIGH
    low = 0
    while low < high - 1:
        mid = int(math.floor((low + high) / 2))
        s = simulate_kstep_dynamics(h, sigma_sq, s_init, lrate, mid, prec)
        if loss(h, s, counts) < C:
            high = mid
        else:
            low = mid
    return math.inf if high == SGD_HIGH else float(max(high, 1))


def optimal_ttl(h, sigma_sq, s_init, C, counts, prec, lrates=SGD_LRATES) -> tuple[float, float]:
    """Grid search over constant learning rates: (best steps, its learning rate)."""
    best, best_lrate = math.inf, math.nan
    for lrate in lrates:
        ttl = time_to_loss(h, sigma_sq, s_init, lrate, C, counts, prec)
        if ttl < best:
            best, best_lrate = ttl, lrate
    return best, best_lrate


def _momentum_transition(x: np.ndarray, momentum: np.ndarray) -> np.ndarray:
    """Appendix B's 3x3 transition of (E theta^2, E v^2, E theta v), one per element of x."""
    trans_mat = np.zeros(x.shape + (3, 3))
    trans_mat[..., :, 1] = (momentum**2)[..., None]
    trans_mat[..., 0, 0] = (1 - x) ** 2
    trans_mat[..., 1, 0] = x**2
    trans_mat[..., 2, 0] = -(1 - x) * x
    trans_mat[..., 0, 2] = 2 * (1 - x) * momentum
    trans_mat[..., 1, 2] = -2 * x * momentum
    trans_mat[..., 2, 2] = (1 - 2 * x) * momentum
    return trans_mat


def simulate_momentum_dynamics(h, sigma_sq, s_init, lrate, k, momentum, prec):
    """E theta^2 after k momentum steps by eigendecomposition of the 3x3 transitions."""
    ndim = h.size
    init_p = np.zeros((ndim, 3))
    init_p[:, 0] = s_init
    x = lrate * prec * h
    noise = np.ones((ndim, 3)) * np.tile(np.expand_dims((prec * lrate) ** 2 * sigma_sq, axis=1), (1, 3))
    trans_mat = _momentum_transition(x, np.full(ndim, momentum))
    e, v = np.linalg.eig(trans_mat)
    v_inv = np.linalg.inv(v)
    trans_init_p = np.squeeze(np.matmul(v_inv, np.expand_dims(init_p, axis=2)))
    trans_noise = np.squeeze(np.matmul(v_inv, np.expand_dims(noise, axis=2)))
    p_star = trans_noise / (1 - e)
    trans_final_p = e**k * (trans_init_p - p_star) + p_star
    final_p = np.squeeze(np.matmul(v, np.expand_dims(trans_final_p, axis=2)))
    return final_p[:, 0].real


def time_to_loss_wm(h, sigma_sq, s_init, lrate, momentum, C, counts, prec) -> float:
    """The notebook's binary search for momentum (returns ``high``; ``inf`` if never below C)."""
    high = MOMENTUM_HIGH
    low = 0
    while low < high - 1:
        mid = int(math.floor((low + high) / 2))
        s = simulate_momentum_dynamics(h, sigma_sq, s_init, lrate, mid, momentum, prec)
        if loss(h, s, counts) < C:
            high = mid
        else:
            low = mid
    return math.inf if high == MOMENTUM_HIGH else float(high)


def optimal_ttl_wm(h, sigma_sq, s_init, C, counts, prec, lrates=MOMENTUM_LRATES, momenta=MOMENTA):
    """Grid search over (learning rate, momentum): (best steps, lr, momentum), first best kept."""
    best, best_lrate, best_momentum = math.inf, math.nan, math.nan
    for lrate in lrates:
        for momentum in momenta:
            ttl = time_to_loss_wm(h, sigma_sq, s_init, lrate, momentum, C, counts, prec)
            if ttl < best:
                best, best_lrate, best_momentum = ttl, lrate, momentum
    return best, best_lrate, best_momentum


# ---------------------------------------------------------------- the same arithmetic, vectorised
def _grid_search(evaluate, n: int, high_end: int, C: float) -> np.ndarray:
    """The notebook's binary search run for ``n`` grid points at once (``evaluate(ks)`` -> losses)."""
    low = np.zeros(n, dtype=np.int64)
    high = np.full(n, high_end, dtype=np.int64)
    while True:
        open_ = low < high - 1
        if not open_.any():
            break
        mid = np.where(open_, (low + high) // 2, high)
        below = evaluate(mid) < C
        high = np.where(open_ & below, mid, high)
        low = np.where(open_ & ~below, mid, low)
    return np.where(high == high_end, np.inf, np.maximum(high, 1).astype(float))


def grid_steps_sgd(h, sigma_sq, s_init, C, counts, prec, lrates=SGD_LRATES) -> np.ndarray:
    """``time_to_loss`` for every learning rate, vectorised (same arithmetic)."""
    lr = lrates[:, None]
    beta = (1 - lr * prec * h) ** 2
    s_star = (prec * lr) ** 2 * sigma_sq / (1 - beta + 1e-8)

    def evaluate(k: np.ndarray) -> np.ndarray:
        s = s_star + beta ** k[:, None].astype(float) * (s_init - s_star)
        return 0.5 * np.sum(h * s * counts, axis=-1)

    return _grid_search(evaluate, lrates.size, SGD_HIGH, C)


def grid_steps_momentum(h, sigma_sq, s_init, C, counts, prec, points: np.ndarray) -> np.ndarray:
    """``time_to_loss_wm`` for every (lr, momentum) row of ``points``, vectorised (same arithmetic)."""
    lr, mom = points[:, 0], points[:, 1]
    ndim = h.size
    x = lr[:, None] * prec * h
    trans_mat = _momentum_transition(x, np.broadcast_to(mom[:, None], x.shape))
    e, v = np.linalg.eig(trans_mat)
    v_inv = np.linalg.inv(v)
    init_p = np.zeros((ndim, 3))
    init_p[:, 0] = s_init
    noise = np.ones((lr.size, ndim, 3)) * ((prec * lr[:, None]) ** 2 * sigma_sq)[..., None]
    trans_init_p = np.squeeze(np.matmul(v_inv, init_p[..., None]), axis=-1)
    trans_noise = np.squeeze(np.matmul(v_inv, noise[..., None]), axis=-1)
    p_star = trans_noise / (1 - e)
    gap = trans_init_p - p_star

    def evaluate(k: np.ndarray) -> np.ndarray:
        trans_final_p = e ** k[:, None, None] * gap + p_star
        final_p = np.squeeze(np.matmul(v, trans_final_p[..., None]), axis=-1)
        return 0.5 * np.sum(h * final_p[..., 0].real * counts, axis=-1)

    return _grid_search(evaluate, lr.size, MOMENTUM_HIGH, C)


# ---------------------------------------------------------------- piecewise-constant schedules
def pwc_loss(h, sigma_sq, s_init, log_lrates, ks, counts, prec, xp=np) -> float:
    """``eval_pwc_schedule``: the loss after the pieces ``(exp(log_lrates), ks)``, each piece in
    the notebook's closed form (``simulate_kstep_dynamics``, with its ``1e-8``). ``xp`` is the
    numpy module (``autograd.numpy`` to differentiate it as the notebook does)."""
    s = s_init
    for lrate, k in zip(xp.exp(log_lrates), ks):
        s = simulate_kstep_dynamics(h, sigma_sq, s, lrate, k, prec)
    return 0.5 * xp.sum(h * s * counts)


def pwc_loss_and_grad(h, sigma_sq, s_init, log_lrates, ks, counts, prec) -> tuple[float, np.ndarray]:
    r""":func:`pwc_loss` and its exact gradient in the log learning rates.

    The notebook differentiates ``eval_pwc_schedule`` with ``autograd``, which is not
    installed here; this is the same derivative by hand. Per piece, with
    :math:`x = \alpha p h`, :math:`\beta=(1-x)^2`, :math:`D = 1-\beta+10^{-8}`,
    :math:`s_* = (p\alpha)^2\sigma^2/D` and :math:`s' = s_* + \beta^k(s-s_*)`:
    :math:`\partial s'/\partial s = \beta^k` and
    :math:`\partial s'/\partial\alpha = s_*'(1-\beta^k) + k\beta^{k-1}\beta'(s-s_*)` with
    :math:`\beta' = -2ph(1-x)`, :math:`s_*' = 2p^2\alpha\sigma^2/D + s_*\beta'/D`; the loss
    :math:`\tfrac12\sum h s\,\mathrm{counts}` is back-propagated through the pieces.
    """
    lrates = np.exp(np.asarray(log_lrates, dtype=float))
    states = [np.asarray(s_init, dtype=float) * np.ones_like(h)]
    parts = []
    for lrate, k in zip(lrates, ks):
        x = lrate * prec * h
        beta = (1 - x) ** 2
        denom = 1 - beta + 1e-8
        s_star = (prec * lrate) ** 2 * sigma_sq / denom
        beta_k = beta**k
        dbeta = -2 * prec * h * (1 - x)
        ds_star = 2 * prec**2 * lrate * sigma_sq / denom + s_star * dbeta / denom
        kbeta = k * beta ** (k - 1) if k > 0 else np.zeros_like(beta)
        s = states[-1]
        parts.append((beta_k, ds_star * (1 - beta_k) + kbeta * dbeta * (s - s_star)))
        states.append(s_star + beta_k * (s - s_star))
    adj = 0.5 * h * counts
    grad = np.empty(lrates.size)
    for i in range(lrates.size - 1, -1, -1):
        beta_k, ds_dlr = parts[i]
        grad[i] = np.sum(adj * ds_dlr) * lrates[i]
        adj = adj * beta_k
    return loss(h, states[-1], counts), grad


def optimize_lrates(h, sigma_sq, s_init, ks, counts, prec, max_llr, gradient: str = "hand") -> np.ndarray:
    """The notebook's ``optimize_lrates``: ``scipy.optimize.minimize`` from log lr -5 with
    bounds ``(-inf, max_llr)`` (so L-BFGS-B) and default options, exact gradients:
    ``gradient="autograd"`` as the notebook takes them (loss and gradient evaluated separately;
    needs the ``autograd`` package), ``"hand"`` by :func:`pwc_loss_and_grad` (same values, faster)."""
    bounds = scipy.optimize.Bounds(-np.inf, max_llr)
    x0 = -5 * np.ones(len(ks))
    if gradient == "autograd":
        import autograd
        import autograd.numpy as anp

        fn = lambda llr: pwc_loss(h, sigma_sq, s_init, llr, ks, counts, prec)  # noqa: E731
        grad = autograd.grad(lambda llr: pwc_loss(h, sigma_sq, s_init, llr, ks, counts, prec, anp))
        return scipy.optimize.minimize(fn, x0, jac=grad, bounds=bounds).x
    if gradient != "hand":
        raise ValueError(f"gradient must be 'hand' or 'autograd'; got {gradient!r}")
    fun = lambda llr: pwc_loss_and_grad(h, sigma_sq, s_init, llr, ks, counts, prec)  # noqa: E731
    return scipy.optimize.minimize(fun, x0, jac=True, bounds=bounds).x


def ttl_sched(h, sigma_sq, s_init, C, counts, prec, npc, max_llr, gradient: str = "hand") -> tuple[float, np.ndarray, int]:
    """The notebook's ``ttl_sched``: bisection over the per-piece length ``mid`` in
    ``[0, 1e8]`` with the test ``loss < C`` on the schedule optimised at ``npc`` pieces of
    ``mid`` steps. Returns ``(total steps npc * high, that schedule's learning rates, the
    number of optimisations)``: ``high`` is the first feasible length the search found (the
    notebook returns ``low = high - 1``); ``(inf, ...)`` if none was feasible."""
    low, high, runs = 0, SCHED_HIGH, 0
    best = np.full(npc, np.nan)
    while low < high - 1:
        mid = (low + high) // 2
        ks = mid * np.ones(npc, dtype=int)
        log_lrates = optimize_lrates(h, sigma_sq, s_init, ks, counts, prec, max_llr, gradient)
        runs += 1
        if pwc_loss(h, sigma_sq, s_init, log_lrates, ks, counts, prec) < C:
            high, best = mid, np.exp(log_lrates)
        else:
            low = mid
    return (math.inf if high == SCHED_HIGH else float(npc * high)), best, runs


def authors_max_llr(h, prec) -> float:
    """Log of the cap 2/(h_max + h_min + 1e-4) on the preconditioned curvatures ``prec * h``
    (bins of positive count are what ``h`` should hold here)."""
    ph = prec * h
    return math.log(2.0 / (ph.max() + ph.min() + 1e-4))
