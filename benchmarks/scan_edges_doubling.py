"""Worst error per edge class of the doubling engine and the steps-to-target tie rule, against
the independent 50-digit oracle of tests/numerics/_edge_oracle.py (no engine code).

Classes (each scanned over a grid that covers the region, not sampled points):

* ``c=0 unseen slow mode``: noise-free direction, mean path decayed by 10^-1 ... 10^-300,
  t up to 2^30; heavy ball with an unread EMA (three states, gamma = 1 - 10^-9 ... 1 - 10^-1)
  and QHM at nu = 0 (beta the unseen mode), both with ``method="doubling"``.
* ``c=0 observed modes``: Nesterov and an EMA of heavy-ball iterates (three states), same
  decays; oscillating curves pass through zero, so points with |m| < 10^-3 |out||A^t||init|
  are reported separately, as error / (h/2 (|out||A^t||init|)^2).
* ``noisy three-state``: EMA of heavy-ball iterates with c > 0, t = 1 ... 10^9.
* ``c=0 decoupled state (chebyshev)``: QHM at nu = 0 and momentum at beta = 0 with the
  default (Chebyshev) method, whose mean path holds one mode (nqm.numerics._single_mode).
* ``eigenvalue near -1``: lr h = 2 - delta (SGD, EMA: triangular), delta = 1e-3 ... 1e-12, and
  lr h = 2 (1 + beta) (1 - delta) (heavy ball, and the three-state EMA of heavy-ball iterates),
  beta in {2^-20, 1/256, 1/2, 15/16, 255/256}, delta = 1e-2 ... 1e-12 and (a row of its own)
  0.1 ... 0.3, either side of the double-double threshold; lr rounded to 44 bits so that
  every entry of A is exact; t up to 1e9, c in {0, 1}, all with ``method="doubling"``.
* ``first hit below 1e-32``: steps_to_target of a target between two consecutive oracle
  risks of a monotone noise-free curve (unseen slow mode), with doubling and with the
  default method; count of wrong answers.
* ``ties``: steps_to_target(target=initial_risk) on random problems at p in {0.25, 0.5,
  0.75} (count not 0), and targets equal to a Chebyshev-evaluated value of an underdamped
  curve searched with doubling (count answered later than that step).

Relative errors are counted only where the true value is a normal double (>= 1e-300);
below it the engine must return a value in [0, 1e-300] (violations are counted).

    python benchmarks/scan_edges_doubling.py [--quick]
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import mpmath as mp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "numerics"))

import _edge_oracle as oracle  # noqa: E402

import nqm.numerics as nn  # noqa: E402
from nqm.theory import BETA, GAMMA, LR, OptimizerSpec, get_spec  # noqa: E402


def _heavy_ball_tracking(grad, theta, m, avg, lr, beta, gamma):
    m = beta * m + grad(theta)
    theta = theta - lr * m
    return theta, m, gamma * avg + (1 - gamma) * theta


HB_TRACKING = OptimizerSpec.from_update("scan_hb_tracking", _heavy_ball_tracking, state=("theta", "m", "avg"),
                                        hyperparameters=(LR, BETA, GAMMA), init=(1, 0, 1), out=(1, 0, 0))
MOMENTUM_EMA = OptimizerSpec.from_update("scan_momentum_ema", _heavy_ball_tracking, state=("theta", "m", "avg"),
                                         hyperparameters=(LR, BETA, GAMMA), init=(1, 0, 1), out=(0, 0, 1))
CLASSES = {s.name: nn.from_spec(s) for s in (HB_TRACKING, MOMENTUM_EMA)}


class Worst:
    """Worst relative error, worst floor-relative error (near zeros), and underflow violations."""

    def __init__(self) -> None:
        self.rel, self.rel_at, self.floor, self.points, self.bad_underflow = 0.0, None, 0.0, 0, 0

    def add(self, got: float, true: mp.mpf, scale: mp.mpf | None, where: str) -> None:
        self.points += 1
        if got < 0 or not math.isfinite(got):
            self.bad_underflow += 1
            return
        if true < mp.mpf(1e-300):
            self.bad_underflow += got > 1e-300
            return
        err = abs(mp.mpf(got) - true)
        if scale is not None and true < mp.mpf(1e-6) * scale:  # |m| < 1e-3 s
            self.floor = max(self.floor, float(err / scale))
            return
        rel = float(err / true)
        if rel > self.rel:
            self.rel, self.rel_at = rel, where


def _spec_and_opt(name: str, lr: float, beta: float, gamma: float):
    if name == "qhm":
        return get_spec("qhm"), nn.QHM(lr=lr, beta=gamma, nu=0.0), {"lr": lr, "beta": gamma, "nu": 0.0}
    if name in ("nesterov", "momentum"):
        return get_spec(name), nn.optimizer(name, lr=lr, beta=beta), {"lr": lr, "beta": beta}
    spec = HB_TRACKING if name == HB_TRACKING.name else MOMENTUM_EMA
    return spec, CLASSES[name](lr=lr, beta=beta, gamma=gamma), {"lr": lr, "beta": beta, "gamma": gamma}


def _observed_rate(name: str, lr: float, beta: float, gamma: float) -> float:
    if name == "qhm" or (name == "momentum" and beta == 0.0):
        return abs(1.0 - lr)
    if name == "nesterov":
        A = np.array([[1.0 - lr, lr * beta * (lr - 1.0)], [1.0, -beta * (lr - 1.0)]])
    else:
        A = np.array([[1.0 - lr, -lr * beta], [1.0, beta]])
    rho = float(np.max(np.abs(np.linalg.eigvals(A))))
    return max(rho, gamma) if name == MOMENTUM_EMA.name else rho


def scan_noise_free(names, method: str, quick: bool, floor_scale: bool) -> Worst:
    worst = Worst()
    lrs = np.geomspace(1e-4, 0.5, 3 if quick else 6)
    betas = [0.0, 0.5, 0.9] if not quick else [0.0, 0.9]
    gammas = 1.0 - np.geomspace(1e-9, 1e-1, 3 if quick else 5)
    decades = [1, 30, 100, 200, 300] if quick else [1, 10, 30, 60, 100, 150, 200, 250, 300]
    for name in names:
        for lr in lrs:
            for beta in (betas if name not in ("qhm", "momentum") else [0.0]):
                for gamma in (gammas if name != "momentum" else gammas[:1]):  # momentum has no gamma
                    rho = _observed_rate(name, lr, beta, gamma)
                    steps = sorted({int(min(2**30, d * math.log(10.0) / (2.0 * -math.log(rho)))) for d in decades})
                    spec, opt, hyper = _spec_and_opt(name, lr, beta, gamma)
                    prob = nn.Problem([1.0], c=[0.0], init_var=[1.0])
                    got = np.ravel(nn.expected_risk(prob, opt, batch_size=1.0, steps=steps, method=method))
                    true = oracle.risk(spec, [1.0], [0.0], [1.0], [1.0], 1.0, hyper, steps)
                    for t, g, (ts, _) in zip(steps, got, true):
                        scale = oracle.mean_scale(spec, 1.0, 0.0, 1.0, hyper, t) ** 2 / 2 if floor_scale else None
                        worst.add(float(g), ts, scale, f"{name} lr={lr:.3g} beta={beta} 1-gamma={1 - gamma:.1e} t={t}")
    return worst


def scan_noisy(quick: bool) -> Worst:
    worst = Worst()
    steps = [1, 10, 100, 10**3, 10**4, 10**5, 10**6, 10**9] if not quick else [1, 100, 10**4, 10**9]
    for lr in np.geomspace(1e-12, 0.5, 4 if quick else 8):
        for beta in [0.0, 0.9, 0.999]:
            for gamma in 1.0 - np.geomspace(1e-9, 1e-1, 3):
                for c in (1e-6, 1.0):
                    spec, opt, hyper = _spec_and_opt(MOMENTUM_EMA.name, lr, beta, gamma)
                    prob = nn.Problem([1.0], c=[c], init_var=[1.0])
                    got = np.ravel(nn.expected_risk(prob, opt, batch_size=4.0, steps=steps, method="doubling"))
                    true = oracle.risk(spec, [1.0], [c], [1.0], [1.0], 4.0, hyper, steps)
                    for t, g, (ts, tn) in zip(steps, got, true):
                        scale = oracle.mean_scale(spec, 1.0, c, 4.0, hyper, t) ** 2 / 2
                        worst.add(float(g), ts + tn, scale, f"lr={lr:.3g} beta={beta} 1-gamma={1 - gamma:.1e} c={c} t={t}")
    return worst


def _dyadic(x: float, bits: int) -> float:
    """x rounded to ``bits`` significant bits (its products with 8-bit numbers are then exact)."""
    m, e = math.frexp(x)
    return math.ldexp(round(m * 2**bits), e - bits)


def _edge_cases(triangular: bool, delta: float, quick: bool) -> list:
    if triangular:
        return [(get_spec("sgd"), {"lr": 2.0 - 2.0 * delta}), (get_spec("ema"), {"lr": 2.0 - 2.0 * delta, "gamma": 0.5})]
    cases = []
    for beta in ([2.0**-20, 0.5, 255 / 256] if quick else [2.0**-20, 1 / 256, 0.5, 0.9375, 255 / 256]):
        lr = _dyadic(2.0 * (1.0 + beta) * (1.0 - delta), 44)  # exact entries lr beta, lr (gamma - 1), ...
        cases += [(get_spec("momentum"), {"lr": lr, "beta": beta}), (MOMENTUM_EMA, {"lr": lr, "beta": beta, "gamma": 0.5})]
    return cases


def scan_stability_edge(triangular: bool, quick: bool, deltas: list[float] | None = None) -> Worst:
    worst = Worst()
    steps = [1, 10, 1000, 10**4, 10**5, 10**6, 10**9]
    for delta in deltas or ([1e-3, 1e-9] if quick else [1e-3, 1e-6, 1e-9, 1e-12]):
        for c in (0.0, 1.0):
            for spec, hyper in _edge_cases(triangular, delta, quick):
                opt = CLASSES[spec.name](**hyper) if spec.name in CLASSES else nn.optimizer(spec.name, **hyper)
                prob = nn.Problem([1.0], c=[c], init_var=[1.0])
                got = np.ravel(nn.expected_risk(prob, opt, batch_size=1.0, steps=steps, method="doubling"))
                true = oracle.risk(spec, [1.0], [c], [1.0], [1.0], 1.0, hyper, steps)
                for t, g, (ts, tn) in zip(steps, got, true):
                    worst.add(float(g), ts + tn, None, f"{spec.name} beta={hyper.get('beta', 0):.4g} delta={delta:g} c={c} t={t}")
    return worst


def scan_first_hits(quick: bool, method: str) -> tuple[int, int]:
    wrong = total = 0
    for name in ("qhm", HB_TRACKING.name):
        for lr in np.geomspace(0.03, 0.3, 3 if quick else 5):
            for gamma in 1.0 - np.geomspace(1e-9, 1e-1, 3):
                for decades in ([5, 50, 150, 290] if quick else [5, 20, 50, 100, 150, 200, 250, 290]):
                    spec, opt, hyper = _spec_and_opt(name, lr, 0.0, gamma)
                    t_star = max(1, int(decades * math.log(10.0) / (2.0 * -math.log1p(-lr))))
                    (before, _), (at, _) = oracle.risk(spec, [1.0], [0.0], [1.0], [1.0], 1.0, hyper, [t_star - 1, t_star])
                    if at < mp.mpf(1e-300):
                        continue
                    target = float(mp.sqrt(before * at))
                    prob = nn.Problem([1.0], c=[0.0], init_var=[1.0])
                    total += 1
                    wrong += nn.steps_to_target(prob, opt, batch_size=1.0, target=target, method=method) != t_star
    return wrong, total


def scan_ties(quick: bool) -> tuple[int, int, int, int]:
    rng = np.random.default_rng(2019)
    init_wrong = init_total = 0
    for _ in range(20 if quick else 100):
        d = int(rng.integers(1, 200))
        h = np.exp(rng.uniform(-10.0, 3.0, d))
        prob = nn.Problem(h, c=h * rng.uniform(0.1, 3.0, d), init_var=rng.uniform(0.1, 3.0, d),
                          weights=rng.integers(1, 50, d).astype(float))
        for p in (0.25, 0.5, 0.75):
            lr = 0.5 / float(np.max(prob.h ** (1.0 - p)))
            for opt in (nn.SGD(lr=lr, precond_power=p), nn.Momentum(lr=lr, beta=0.9, precond_power=p)):
                init_total += 1
                init_wrong += nn.steps_to_target(prob, opt, batch_size=64.0, target=prob.initial_risk) != 0
    late = attained_total = 0
    prob = nn.Problem([1.0, 0.25], c=[1e-4, 1e-4], init_var=[1.0, 2.0], weights=[3.0, 1.0])
    for beta in np.linspace(0.3, 0.99, 6 if quick else 12):
        for lr in np.geomspace(0.05, 1.9 * (1 + beta), 5 if quick else 10):
            opt = nn.Momentum(lr=float(lr), beta=float(beta))
            picks = [0, 3, 17, 60, 200]
            values = np.ravel(nn.expected_risk(prob, opt, batch_size=1.0, steps=picks, method="chebyshev"))
            for pick, value in zip(picks, values):
                attained_total += 1
                late += nn.steps_to_target(prob, opt, batch_size=1.0, target=float(value), method="doubling") > pick
    return init_wrong, init_total, late, attained_total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="coarser grids (about a minute)")
    args = parser.parse_args()
    q = args.quick
    print(f"{'class':<34} {'points':>7} {'worst rel':>10} {'near-zero/floor':>16} {'underflow bad':>13}")
    for label, worst in [
        ("c=0 unseen slow mode (doubling)", scan_noise_free(["qhm", HB_TRACKING.name], "doubling", q, False)),
        ("c=0 observed modes (doubling)", scan_noise_free(["nesterov", MOMENTUM_EMA.name], "doubling", q, True)),
        ("noisy three-state (doubling)", scan_noisy(q)),
        ("c=0 decoupled state (chebyshev)", scan_noise_free(["qhm", "momentum"], "chebyshev", q, False)),
        ("eigenvalue near -1, triangular", scan_stability_edge(True, q)),
        ("eigenvalue near -1, heavy ball", scan_stability_edge(False, q, [1e-2, 1e-3, 1e-6, 1e-9, 1e-12])),
        ("heavy ball, delta = 0.1 ... 0.3", scan_stability_edge(False, q, [0.3, 0.2, 0.1])),
    ]:
        print(f"{label:<34} {worst.points:>7} {worst.rel:>10.2e} {worst.floor:>16.2e} {worst.bad_underflow:>13}"
              + (f"   worst at {worst.rel_at}" if worst.rel_at else ""))
    for method in ("doubling", "auto"):
        wrong, total = scan_first_hits(q, method)
        print(f"first hit below 1e-32 ({method}): {wrong} wrong of {total}")
    init_wrong, init_total, late, attained = scan_ties(q)
    print(f"ties: target=initial_risk (p in .25/.5/.75) not 0: {init_wrong} of {init_total}; "
          f"attained value answered later: {late} of {attained}")


if __name__ == "__main__":
    main()
