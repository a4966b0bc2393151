r"""Steps-to-target exactly on the stability edge (spectral radius 1: an eigenvalue at -1).

There the risk is finite at every step and its noise part grows linearly, so a target can be
reached at any step: at t = 0 when it lies above the initial risk, later when a stable
direction's decay first brings the total below it. The reference is the independent 50-digit
second-moment recursion of ``_edges_oracle`` (spec matrices only, no engine code): the expected
first hit is the first oracle value at or below the target, with targets kept far (relative
1e-8) from every oracle value on the scanned steps, so neither the engine's 1e-10 exactness nor
the tie rule (2**-40) can move the answer. Each first hit lies in the scanned range [0, T], so
the oracle's answer there is the whole answer. Edges are chosen where lr * h hits them exactly
in binary: 2 (SGD, EMA), 2 (1 + beta) (momentum), 2 (1 + beta) / (1 + 2 beta) (Nesterov) and
2 (1 + beta) / (1 + beta - 2 beta nu) (QHM) at dyadic beta, nu.
"""

import math
from itertools import pairwise

import _edges_oracle as oracle
import mpmath as mp
import nqm.numerics as nn
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

#: (spec, hyperparameters with lr * 1 exactly on the edge)
ON_EDGE = [
    ("sgd", {"lr": 2.0}),
    ("momentum", {"lr": 2.0, "beta": 0.0}),
    ("momentum", {"lr": 2.5, "beta": 0.25}),
    ("momentum", {"lr": 3.0, "beta": 0.5}),
    ("momentum", {"lr": 3.75, "beta": 0.875}),
    ("ema", {"lr": 2.0, "gamma": 0.0}),
    ("ema", {"lr": 2.0, "gamma": 0.5}),
    ("nesterov", {"lr": 2.0, "beta": 0.0}),
    ("nesterov", {"lr": 1.5, "beta": 0.5}),
    ("qhm", {"lr": 3.0, "beta": 0.5, "nu": 0.5}),
    ("qhm", {"lr": 2.5, "beta": 0.25, "nu": 0.5}),
    ("qhm", {"lr": 4.0, "beta": 0.5, "nu": 0.75}),
]
IDS = [f"{name}-" + "-".join(f"{k}{v}" for k, v in hyper.items()) for name, hyper in ON_EDGE]
#: steps scanned by the oracle
T = 40
#: smallest relative distance kept between a target and every oracle value on [0, T]
SEPARATION = 1e-8


def _oracle_curve(name: str, hyper: dict, h: list, c: list, v: list, B: float = 1.0) -> list:
    """Total expected risk at t = 0..T, summed over the directions, in 50 digits."""
    per_bin = [oracle.risk(name, hyper, hv, cv, B, vv, range(T + 1)) for hv, cv, vv in zip(h, c, v)]
    with mp.workdps(oracle.DIGITS):
        return [mp.fsum(col) for col in zip(*per_bin)]


def _targets(curve: list) -> list[tuple[float, int]]:
    """(target, exact first hit) for midpoints between consecutive distinct curve values that
    some step in [0, T] reaches, each kept SEPARATION away from every value of the curve."""
    with mp.workdps(oracle.DIGITS):
        values = sorted(set(curve))
        out = []
        for lo, hi in pairwise(values):
            target = float((lo + hi) / 2)
            if all(abs(mp.mpf(target) - x) > SEPARATION * x for x in curve):
                out.append((target, next(t for t, x in enumerate(curve) if x <= target)))
        return out


def _first_hits(name: str, hyper: dict, prob: nn.Problem, targets: list[float], method: str) -> list:
    opt = nn.optimizer(name, **hyper)
    return [nn.steps_to_target(prob, opt, batch_size=1.0, target=tg, method=method) for tg in targets]


@pytest.mark.parametrize("method", ["auto", "doubling"])
@pytest.mark.parametrize(("name", "hyper"), ON_EDGE, ids=IDS)
def test_target_above_the_initial_risk_is_reached_at_zero(name: str, hyper: dict, method: str) -> None:
    """t = 0 reaches any target at or above the initial risk, on the edge as inside it."""
    prob = nn.Problem([1.0], c=[1.0], init_var=1.0)
    initial = float(prob.initial_risk)
    assert _first_hits(name, hyper, prob, [initial, 1.5 * initial, 1e6 * initial], method) == [0, 0, 0]


@pytest.mark.parametrize("method", ["auto", "doubling"])
@pytest.mark.parametrize(("name", "hyper"), ON_EDGE, ids=IDS)
def test_first_hit_on_the_edge_matches_the_oracle(name: str, hyper: dict, method: str) -> None:
    """A direction on the edge (h = 1) and a decaying one (h = 1/8): the risk dips below the
    initial risk and then grows linearly; every first hit of the dip is exact."""
    h, c, v = [1.0, 0.125], [1e-3, 1e-3], [1e-3, 8.0]
    cases = _targets(_oracle_curve(name, hyper, h, c, v))
    assert any(t > 0 for _, t in cases)  # the scan reaches past t = 0
    got = _first_hits(name, hyper, nn.Problem(h, c=c, init_var=v), [tg for tg, _ in cases], method)
    assert got == [t for _, t in cases]


@pytest.mark.parametrize(("name", "hyper"), ON_EDGE, ids=IDS)
def test_noise_free_edge_is_searched_to_the_end(name: str, hyper: dict) -> None:
    """c = 0: the noise part never exceeds a target and the risk stays bounded, so no doubling
    step may decide "never"; the whole range is searched. For momentum at beta = 1/4 and 1/2
    some targets here are reached first at t = 7 or 17 and at no power of two up to 2**62
    (checked with the oracle), the case where only the full search finds them."""
    h, c, v = [1.0, 0.125], [0.0, 0.0], [1e-3, 8.0]
    cases = _targets(_oracle_curve(name, hyper, h, c, v))
    got = _first_hits(name, hyper, nn.Problem(h, c=c, init_var=v), [tg for tg, _ in cases], "auto")
    assert got == [t for _, t in cases]


@pytest.mark.slow  # several seconds: kept out of the quick run's 3-minute budget
@settings(deadline=None, max_examples=25)
@given(
    case=st.sampled_from(ON_EDGE),
    log_c=st.floats(-6.0, 0.0),
    log_v=st.floats(-4.0, 0.0),
    h2=st.floats(0.05, 0.5),
    method=st.sampled_from(["auto", "doubling"]),
)
def test_first_hits_on_the_edge_property(case: tuple, log_c: float, log_v: float, h2: float, method: str) -> None:
    """Any noise level, start variance of the edge direction and curvature of the decaying one."""
    name, hyper = case
    h, c, v = [1.0, h2], [10.0**log_c, 10.0**log_c], [10.0**log_v, 1.0]
    cases = _targets(_oracle_curve(name, hyper, h, c, v))
    got = _first_hits(name, hyper, nn.Problem(h, c=c, init_var=v), [tg for tg, _ in cases], method)
    assert got == [t for _, t in cases]


#: SGD learning rates of the tuning grid; 2 is on the edge of the h = 1 direction
LRS = [0.5, 1.0, 1.5, 2.0]


def _oracle_optimum(h: list, c: list, v: list, target: float, B: float) -> tuple[float, int | None]:
    """(fewest steps over LRS, first index attaining them) from the oracle's curves on [0, T]."""
    hits = []
    for lr in LRS:
        per_bin = [oracle.risk("sgd", {"lr": lr}, hv, cv, B, vv, range(T + 1)) for hv, cv, vv in zip(h, c, v)]
        curve = [mp.fsum(col) for col in zip(*per_bin)]
        assert all(abs(x - mp.mpf(target)) > SEPARATION * x for x in curve)
        hits.append(next((t for t, x in enumerate(curve) if x <= target), math.inf))
    best = min(hits)
    return best, (hits.index(best) if math.isfinite(best) else None)


@pytest.mark.parametrize("target", [0.02, 0.003, 0.6])
def test_tune_and_sweep_take_the_edge_point(target: float) -> None:
    """On this problem lr = 2 (on the edge of the h = 1 direction) decays the h = 1/8 direction
    fastest; before the fix that grid point counted as never reaching. Per the oracle, 0.02 is
    reached first at lr = 2 (t = 6) at both batch sizes; 0.003 at lr = 1.5 for B = 1 (the edge
    direction's noise grows too fast) and at lr = 2 for B = 4; 0.6 lies above the initial risk
    (t = 0, first grid point)."""
    h, c, v = [1.0, 0.125], [1e-4, 1e-4], [1e-3, 8.0]
    prob = nn.Problem(h, c=c, init_var=v)
    for B in (1.0, 4.0):
        with mp.workdps(oracle.DIGITS):
            steps, index = _oracle_optimum(h, c, v, target, B)
        assert math.isfinite(steps)  # the scanned range decides the optimum
        result = nn.tune(prob, nn.SGD, batch_size=B, target=target, grid={"lr": LRS})
        assert (result.steps, result.index) == (steps, (index,))
        row = nn.sweep(prob, nn.SGD, batch_sizes=[B], target=target, grid={"lr": LRS}).rows[0]
        assert (row.steps, row.hyperparameters["lr"]) == (steps, LRS[index])


@pytest.mark.parametrize("method", ["auto", "doubling"])
def test_noise_free_edge_never_reaches_below_its_limit(method: str) -> None:
    """SGD at lr = 2, c = 0, h = (1, 1/8), v = (1e-3, 8): risk(t) = 5e-4 + 0.5 * (9/16)^t exactly,
    strictly decreasing to 5e-4. A target below the limit is never reached; 5e-4 (1 + 1e-6) is
    reached first at the smallest t with 0.5 (9/16)^t <= 5e-10, i.e. ceil(log(1e-9) / log(9/16)) = 37."""
    prob = nn.Problem([1.0, 0.125], c=[0.0, 0.0], init_var=[1e-3, 8.0])
    with mp.workdps(oracle.DIGITS):
        first = int(mp.ceil(mp.log(mp.mpf(10) ** -9) / mp.log(mp.mpf(9) / 16)))
    assert _first_hits("sgd", {"lr": 2.0}, prob, [4e-4, 5e-4 * (1 + 1e-6)], method) == [math.inf, first]
