"""Worst relative error of the closed-form engine against a 50-digit oracle, per edge region.

Each region is scanned on a grid that covers it (not only the examples of the report), for the
built-in specs with at most two states, one coordinate (h, c, B = 1, start variance v):

* ``near edge``: alpha*h = edge * (1 - delta), delta in logspace(-16, -1), the stability edge being
  2 (SGD, EMA), 2(1+beta) (momentum), 2(1+beta)/(1+2 beta) (Nesterov),
  2(1+beta)/(1+beta-2 beta nu) (QHM); beta in {0, 0.3, 0.9, 0.99, 1 - 1e-6}; h in {1, 0.7}.
* ``on edge``: the largest learning rate whose alpha*h is within two ulps of the edge, and the edge
  itself where the rounded alpha*h lands on it.
* ``unit x, beta = 0``: alpha*h = 1 + k*eps for k in +-logspace(0, 8) and 0; beta (gamma) = 0.
* ``tiny x``: alpha*h in logspace(-16, -1), zero start variance (the noise part alone).
* ``scales``: (h, c, alpha) = (s, s, x/s) for s = 10^k, k in -300..300, and subnormal h.
* ``scales at the edge``: (h, c, alpha) = (s, s, frac * edge / s), frac in {1, 1 - 1e-12, 0.999},
  beta in {0, 0.5, 0.9, 0.999}, k in -300..300 step 7: at large s the start part dominates and its
  last bit (the exact product alpha*h) decides the risk.
* ``underdamped phase`` (interior, not an edge): momentum with alpha*h in {0.5, 1, 2} and beta up to
  1 - 1e-7, a pair rotating by theta ~ 1 per step that decays slowly; the phase t*theta carries
  t*theta*eps, a known floor of the closed form (not fixed here).

Steps t in {0, 1, 2, 10, 1e3, 1e6, 1e9}. Prints, per region, the worst relative error of the
expected risk and of its noise part, the worst relative error of the risk beyond the documented
absolute floor of the mean path (``_edges_oracle.START_FLOOR`` times the initial risk h v / 2,
docs/math/numerics.md), and the counts of NaN and negative values.

    python benchmarks/scan_edges.py [--quick]
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import mpmath as mp
import nqm.numerics as nn
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "numerics"))
import _edges_oracle as oracle

STEPS = [0, 1, 2, 10, 10**3, 10**6, 10**9]
BETAS = [0.0, 0.3, 0.9, 0.99, 1 - 1e-6]
SPECS = ["sgd", "momentum", "ema", "nesterov", "qhm"]


def hyper(name: str, lr: float, beta: float) -> dict[str, float]:
    return {
        "sgd": {"lr": lr},
        "ema": {"lr": lr, "gamma": beta},
        "momentum": {"lr": lr, "beta": beta},
        "nesterov": {"lr": lr, "beta": beta},
        "qhm": {"lr": lr, "beta": beta, "nu": 0.7},
    }[name]


def region_near_edge(quick: bool):
    for name in SPECS:
        for beta in BETAS[:1] if name == "sgd" else BETAS:
            for hv in (1.0, 0.7):
                for delta in np.logspace(-16, -1, 6 if quick else 16):
                    with mp.workdps(50):
                        lr = float(oracle.edge(name, beta) * (1 - mp.mpf(delta)) / mp.mpf(hv))
                    yield name, hyper(name, lr, beta), hv, 1.0, 1.0, 1.0


def region_on_edge(quick: bool):
    for name in SPECS:
        for beta in BETAS[:1] if name == "sgd" else BETAS:
            for hv in (1.0, 0.7):
                with mp.workdps(50):
                    top = oracle.edge(name, beta) / mp.mpf(hv)
                    lr = float(top)
                    for _ in range(4):  # step down to the largest stable learning rate
                        if mp.mpf(lr) * mp.mpf(hv) <= oracle.edge(name, beta):
                            break
                        lr = math.nextafter(lr, 0.0)
                for k in range(1 if quick else 3):
                    yield name, hyper(name, lr, beta), hv, 1.0, 1.0, 1.0
                    lr = math.nextafter(lr, 0.0)


def region_unit_x(quick: bool):
    eps = 2.0**-52
    ks = [0.0] + [s * k for k in np.logspace(0, 8, 5 if quick else 17) for s in (1.0, -1.0)]
    for name in ["momentum", "ema", "nesterov", "qhm"]:
        for k in ks:
            lr = 1.0 + k * eps
            yield name, hyper(name, lr, 0.0), 1.0, 1.0, 1.0, 1.0


def region_tiny_x(quick: bool):
    for name in SPECS:
        for beta in BETAS[:1] if name == "sgd" else BETAS:
            for x in np.logspace(-16, -1, 6 if quick else 16):
                yield name, hyper(name, float(x), beta), 1.0, 1.0, 1.0, 0.0


def region_scales(quick: bool):
    for name in SPECS:
        for beta in (0.0, 0.9):
            if name == "sgd" and beta:
                continue
            for k in range(-300, 301, 100 if quick else 25):
                s = 10.0**k
                yield name, hyper(name, 0.5 / s, beta), s, s, 1.0, 1.0
            yield name, hyper(name, 1e300, beta), 1e-310, 1e-310, 1.0, 1.0


def region_edge_scales(quick: bool):
    for name in SPECS:
        for beta in BETAS[:1] if name == "sgd" else (0.0, 0.5, 0.9, 0.999):
            for frac in (1.0, 1 - 1e-12, 0.999):
                for k in range(-300, 301, 50 if quick else 7):
                    s = 10.0**k
                    with mp.workdps(50):
                        lr = float(mp.mpf(frac) * oracle.edge(name, beta) / mp.mpf(s))
                    yield name, hyper(name, lr, beta), s, s, 1.0, 1.0


def region_phase(quick: bool):
    for beta in (0.9, 0.999, 0.99999, 1 - 1e-7):
        for x in (0.5, 1.0, 2.0):
            yield "momentum", hyper("momentum", x, beta), 1.0, 1.0, 1.0, 1.0


REGIONS = {
    "near edge": region_near_edge,
    "on edge": region_on_edge,
    "unit x, beta = 0": region_unit_x,
    "tiny x (noise only)": region_tiny_x,
    "scales": region_scales,
    "scales at the edge": region_edge_scales,
    "underdamped phase": region_phase,
}


def rel(got: float, want: mp.mpf) -> float:
    """Relative error; inf for NaN or a wrong infinity, 0 for an exact zero."""
    if math.isnan(got):
        return math.inf
    if want == 0:
        return 0.0 if got == 0 else math.inf
    if math.isinf(got):
        return math.inf
    return float(abs(mp.mpf(got) - want) / abs(want))


def evaluate(name, hp, hv, cv, Bv, v) -> tuple[float, float, float, int, int, str]:
    """Worst relative errors (risk, noise part, risk beyond the floor), NaN count, negative count, and
    the worst case."""
    prob = nn.Problem([hv], c=[cv], init_var=v)
    opt = nn.optimizer(name, **hp)
    with np.errstate(all="ignore"):
        start, noise = nn.risk_components(prob, opt, batch_size=Bv, steps=STEPS)
    start, noise = np.ravel(start), np.ravel(noise)
    want = oracle.parts(name, hp, hv, cv, Bv, v, STEPS)
    worst_r = worst_n = worst_f = 0.0
    floor = oracle.START_FLOOR * mp.mpf(hv) / 2 * mp.mpf(v)
    where = ""
    nan = int(np.isnan(start).sum() + np.isnan(noise).sum())
    neg = int((start + noise < 0).sum())
    for t, s, n, (ws, wn) in zip(STEPS, start, noise, want):
        er = rel(float(s + n), ws + wn)
        en = rel(float(n), wn)
        if er > worst_r:
            worst_r, where = er, f"{name} {hp} h={hv:g} c={cv:g} v={v:g} t={t}"
        worst_n = max(worst_n, en)
        if not (math.isnan(er) or math.isinf(er)) and ws + wn > 0:
            er = float(max(abs(mp.mpf(float(s + n)) - (ws + wn)) - floor, 0) / (ws + wn))
        worst_f = max(worst_f, er)
    return worst_r, worst_n, worst_f, nan, neg, where


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="coarser grids")
    args = parser.parse_args()
    print(f"{'region':<22}{'cases':>7}{'worst rel risk':>16}{'worst rel noise':>17}{'beyond floor':>14}{'NaN':>6}{'neg':>5}  worst case")
    for label, region in REGIONS.items():
        worst_r = worst_n = worst_f = 0.0
        nan = neg = count = 0
        where = ""
        for case in region(args.quick):
            r, n, f, a, b, w = evaluate(*case)
            count += 1
            nan += a
            neg += b
            worst_n = max(worst_n, n)
            worst_f = max(worst_f, f)
            if r >= worst_r:
                worst_r, where = r, w
        print(f"{label:<22}{count:>7}{worst_r:>16.2e}{worst_n:>17.2e}{worst_f:>14.2e}{nan:>6}{neg:>5}  {where}")


if __name__ == "__main__":
    main()
