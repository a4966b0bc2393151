"""Optimal schedules are certified and not stuck in poor local optima; the step search's rule.

References are independent of the optimiser under test: exhaustive grids over the log
learning rates refined by Nelder-Mead (no gradients, no L-BFGS-B), and the exact risk of
given schedules by :func:`nqm.numerics.piecewise_risk` (tested against 50-digit references
in test_schedule.py). The paper-problem numbers come from the authors' protocol (their
notebook's 10-piece schedule at B = 64 reaches the target at 17,390 steps, issue 9).
"""

import itertools
import math

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

import nqm.numerics as nn
from nqm.numerics._schedule_search import first_feasible

# the optimiser's answer may exceed the reference by L-BFGS-B's relative tolerance on log R
# (ftol 1e-13, polished) plus the reference's own Nelder-Mead tolerance (fatol 1e-12 on log R)
REL = 1e-9


def _problem(h, c, w) -> nn.Problem:
    return nn.Problem(np.array(h), c=np.array(c), weights=np.array(w))


def _risks(prob, B, log_lrs, lengths) -> np.ndarray:
    lrs = np.exp(np.atleast_2d(log_lrs))
    return nn.piecewise_risk(prob, "sgd", batch_size=B, lrs=lrs, lengths=np.broadcast_to(lengths, lrs.shape))[..., -1]


def brute_force_minimum(prob, B, lengths, cap, *, points: int = 40_000, refine: int = 4, tol: float = 1e-12) -> float:
    """Minimum final risk over log rates in [log cap - 14, log cap]: an exhaustive grid (K <= 3)
    or uniform random points (K = 4), then Nelder-Mead on log R from the best ``refine``."""
    K = lengths.size
    top = math.log(cap)
    if K <= 3:
        axis = np.linspace(top - 14, top, int(round(points ** (1 / K))))
        xs = np.array(list(itertools.product(axis, repeat=K)))
    else:
        xs = np.random.default_rng(0).uniform(top - 14, top, size=(points, K))
    risk = _risks(prob, B, xs, lengths)
    best = float(risk.min())

    def f(y):
        r = float(_risks(prob, B, np.minimum(y, top), lengths)[0])
        return math.log(r) if math.isfinite(r) and r > 0 else math.inf

    for x0 in xs[np.argsort(risk)[:refine]]:
        res = minimize(f, x0, method="Nelder-Mead", options={"xatol": 100 * tol, "fatol": tol, "maxfev": 20_000})
        best = min(best, math.exp(res.fun))
    return best


SMALL = [
    (_problem([1.0, 0.1], [1.0, 0.1], [1.0, 5.0]), 1.0),
    (_problem([1.0, 0.2, 0.01], [0.5, 0.2, 0.02], [1.0, 3.0, 20.0]), 4.0),
    (_problem([2.0, 0.5, 0.1, 0.02, 0.004], [2.0, 0.5, 0.1, 0.02, 0.004], [1.0, 2.0, 4.0, 8.0, 16.0]), 2.0),
]


# one (problem, pieces) pair per problem in the quick suite; the rest are slow
PAIRS = [
    pytest.param(case, pieces, marks=() if pieces == case + 2 else pytest.mark.slow)
    for case in range(len(SMALL))
    for pieces in (2, 3, 4)
]


@pytest.mark.parametrize("case, pieces", PAIRS)
def test_optimum_at_one_total_matches_brute_force(case, pieces) -> None:
    prob, B = SMALL[case]
    steps = 37 + 11 * pieces
    res = nn.optimize_schedule(prob, "sgd", batch_size=B, steps=steps, pieces=pieces)
    ref = brute_force_minimum(prob, B, res.lengths, res.max_lr)
    assert res.final_risk <= ref * (1 + REL)


@pytest.mark.parametrize("case", [0, pytest.param(1, marks=pytest.mark.slow)])
def test_step_search_finds_the_fewest_total_of_a_brute_force_scan(case) -> None:
    """Every total below the answer is scanned: no schedule the brute force finds reaches the
    target earlier, and the answer's certified schedule reaches it."""
    prob, B = SMALL[case]
    target = 0.1 * prob.initial_risk
    res = nn.optimal_schedule(prob, "sgd", batch_size=B, target=target, pieces=2)
    T = int(res.steps)
    assert res.final_risk <= target
    assert T <= 100  # keeps the scan below cheap
    for total in range(1, T):
        lengths = nn.split_steps(total, 2)
        assert brute_force_minimum(prob, B, lengths, res.max_lr, points=2500, refine=1, tol=1e-6) > target, total


@settings(max_examples=100, deadline=None)
@given(st.lists(st.booleans(), min_size=0, max_size=40), st.data(), st.booleans())
def test_search_guarantees_hold_for_any_predicate_and_any_estimates(inner, data, estimates) -> None:
    """Not monotone, estimates anywhere (inside, outside or none): the answer succeeded, one
    below it failed (or is the known-failing end), and no tested integer below it succeeded."""
    values = [False] + inner + [True]
    tested: dict[int, bool] = {}

    def test(u: int) -> bool:
        tested[u] = values[u]
        return values[u]

    def estimate(lo: int, hi: int) -> int | None:
        return data.draw(st.one_of(st.none(), st.integers(lo - 2, hi + 2)))

    r = first_feasible(test, 0, len(values) - 1, estimate if estimates else None)
    assert values[r] and (r - 1 == 0 or tested.get(r - 1) is False)
    assert all(u >= r for u, ok in tested.items() if ok)


@settings(max_examples=25, deadline=None)
# found by CI's draws: exp(log max_lr) rounded one unit above the cap (now clipped: _schedule_search.rates)
@example(bins=2, pieces=2, steps=2, B=100.0, p=0.0, seed=7792)
@example(bins=2, pieces=2, steps=2, B=100.0, p=0.0, seed=138)
@given(
    bins=st.integers(2, 5),
    pieces=st.integers(2, 4),
    steps=st.integers(4, 400),  # at least one step per piece (optimize_schedule refuses fewer steps than pieces)
    B=st.sampled_from([1.0, 8.0, 100.0]),
    p=st.sampled_from([0.0, 0.5]),
    seed=st.integers(0, 2**32 - 1),
)
def test_certificates_at_one_total(bins, pieces, steps, B, p, seed) -> None:
    """Never worse than the authors' start, any constant rate of the paper's grid under the cap,
    or a schedule the caller passes in (all at the same total)."""
    rng = np.random.default_rng(seed)
    h = np.sort(10.0 ** rng.uniform(-3, 0.5, bins))[::-1]
    prob = nn.Problem(h, c=h * 10.0 ** rng.uniform(-1, 1, bins), weights=rng.integers(1, 20, bins).astype(float))
    opt = nn.SGD(lr=1.0, precond_power=p)
    cap = nn.default_max_lr(prob, opt)
    user = cap * 10.0 ** rng.uniform(-4, 0, pieces)
    res = nn.optimize_schedule(prob, opt, batch_size=B, steps=steps, pieces=pieces, schedules=[user])
    assert np.all(res.lrs <= cap) and np.all(res.lrs > 0) and res.lengths.sum() == steps

    def risk(lrs):
        return nn.piecewise_risk(prob, opt, batch_size=B, lrs=lrs, lengths=res.lengths)[..., -1]

    bound = 1 + 1e-12  # the same exact risk evaluated twice (order of the leading axis only)
    assert res.final_risk <= risk(np.full(pieces, math.exp(-5.0))) * bound
    assert res.final_risk <= risk(user) * bound
    grid = nn.PAPER_SGD_LRS[nn.PAPER_SGD_LRS <= cap]
    assert res.final_risk <= np.min(risk(np.repeat(grid[:, None], pieces, axis=1))) * bound


@settings(max_examples=10, deadline=None)
@given(bins=st.integers(2, 4), seed=st.integers(0, 2**32 - 1), equal=st.booleans())
def test_step_search_never_exceeds_a_passed_schedule_or_the_constant_rate(bins, seed, equal) -> None:
    rng = np.random.default_rng(seed)
    h = np.sort(10.0 ** rng.uniform(-2, 0, bins))[::-1]
    prob = nn.Problem(h, weights=rng.integers(1, 10, bins).astype(float))
    pieces, B = 3, 4.0
    target = 0.05 * prob.initial_risk
    user_lrs = nn.default_max_lr(prob, "sgd") * np.array([1.0, 0.3, 0.05])
    total = pieces * int(rng.integers(20, 400))
    user_risk = nn.piecewise_risk(prob, "sgd", batch_size=B, lrs=user_lrs, lengths=nn.split_steps(total, pieces))[-1]
    assume(user_risk <= target)
    res = nn.optimal_schedule(prob, "sgd", batch_size=B, target=target, pieces=pieces, equal_pieces=equal,
                              schedules=[(user_lrs, total)])
    T = int(res.steps)
    assert T <= total and res.final_risk <= target
    assert T <= nn.steps_to_target(prob, nn.SGD(lr=nn.default_max_lr(prob, "sgd")), batch_size=B, target=target)
    if equal:
        assert T % pieces == 0 and np.all(res.lengths == T // pieces)
    # the rule: T - (one unit) was tested and failed; no tested total below T succeeded
    unit = pieces if equal else 1
    assert T - unit < nn.bayes_bound_steps(prob, batch_size=B, target=target) or res.searched[T - unit] > target
    assert all(t >= T for t, r in res.searched.items() if r <= target)


def test_authors_cap() -> None:
    prob = nn.Problem.paper()
    used = prob.h[prob.weights > 0]
    assert nn.authors_max_lr(prob, "sgd") == 2.0 / (used.max() + used.min() + 1e-4)
    pre = used**0.5  # P = H^p with p = 0.5: curvatures h^(1 - p)
    assert nn.authors_max_lr(prob, nn.SGD(lr=1.0, precond_power=0.5)) == pytest.approx(
        2.0 / (pre.max() + pre.min() + 1e-4), rel=1e-15)
    res = nn.optimize_schedule(prob, "sgd", batch_size=64, steps=1000, pieces=3, max_lr="authors")
    assert res.max_lr == nn.authors_max_lr(prob, "sgd") and np.all(res.lrs <= res.max_lr)


@pytest.mark.parametrize("options", [{}, {"equal_pieces": True, "max_lr": "authors"}])
def test_ten_pieces_at_b64_is_not_beaten_by_the_authors_protocol(options) -> None:
    """Issue 9: the authors' 10-piece schedule reaches 0.01 at 17,390 steps (B = 64, p = 0, their
    problem); the optimiser returned 19,271 after stalling at risk 0.0116 at 17,390."""
    prob = nn.Problem.paper()
    res = nn.optimal_schedule(prob, "sgd", batch_size=64, pieces=10, **options)
    assert res.steps <= 17_390 and res.final_risk <= 0.01
    at = nn.optimize_schedule(prob, "sgd", batch_size=64, steps=17_390, pieces=10, **{k: v for k, v in options.items() if k == "max_lr"})
    assert at.final_risk <= 0.0099947  # the authors' schedule's exact risk at 17,390 (issue 9)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: nn.optimize_schedule(SMALL[0][0], "sgd", batch_size=4, steps=10, max_lr="ours"), "max_lr"),
        (lambda: nn.optimize_schedule(SMALL[0][0], "sgd", batch_size=4, steps=10, pieces=2, start=[1.0, 2.0, 3.0]), "start"),
        (lambda: nn.optimize_schedule(SMALL[0][0], "sgd", batch_size=4, steps=10, pieces=2, schedules=[[0.1]]), "schedules"),
        (lambda: nn.optimize_schedule(SMALL[0][0], "sgd", batch_size=4, steps=10, pieces=2, schedules=[[0.1, -1]]), "schedules"),
        (lambda: nn.optimal_schedule(SMALL[0][0], "sgd", batch_size=4, pieces=2, equal_pieces="yes"), "equal_pieces"),
        (lambda: nn.optimal_schedule(SMALL[0][0], "sgd", batch_size=4, pieces=2, schedules=[[0.1, 0.2]]), "schedules"),
        (lambda: nn.optimal_schedule(SMALL[0][0], "sgd", batch_size=4, pieces=2, schedules=[([0.1, 0.2], 0)]), "steps"),
        (lambda: nn.optimal_schedule(SMALL[0][0], "sgd", batch_size=4, pieces=2, equal_pieces=True,
                                     schedules=[([0.1, 0.2], 7)]), "multiple of pieces"),
    ],
)
def test_bad_schedule_options_raise_value_error_naming_the_parameter(call, match) -> None:
    with pytest.raises(ValueError, match=match):
        call()


def test_optimisation_runs_with_one_blas_thread(monkeypatch) -> None:
    """scipy's L-BFGS-B calls BLAS on vectors of a few entries; a multi-threaded BLAS made a whole
    optimal_schedule several times slower. The optimisers limit BLAS to one thread while they run
    (here inside a caller's limit of two) and restore the caller's limit afterwards."""
    from threadpoolctl import threadpool_info, threadpool_limits

    from nqm.numerics import _schedule_coords

    def blas_threads() -> list[int]:
        return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

    if not blas_threads():
        pytest.skip("no BLAS library visible to threadpoolctl")
    seen: list[int] = []
    real = _schedule_coords.risk_and_gradient

    def spy(*args, **kwargs):
        if len(seen) < 3:
            seen.extend(blas_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(_schedule_coords, "risk_and_gradient", spy)
    prob, B = SMALL[0]
    with threadpool_limits(limits=2, user_api="blas"):
        outside = blas_threads()
        nn.optimize_schedule(prob, "sgd", batch_size=B, steps=50, pieces=2)
        nn.optimal_schedule(prob, "sgd", batch_size=B, pieces=2, target=0.05)
        assert blas_threads() == outside
    assert seen and set(seen) == {1}


def test_schedule_sweep_passes_the_protocol_options_and_schedules_through() -> None:
    """schedule_sweep gives, at each batch size, optimal_schedule's answer with the same
    max_lr, equal_pieces and schedules; a mapping routes each batch size's schedules to it."""
    prob, _ = SMALL[1]
    Bs = [1.0, 16.0]
    target = 0.05
    mine = nn.optimal_schedule(prob, "sgd", batch_size=16.0, pieces=3, target=target)
    passed = (np.asarray(mine.lrs), int(mine.steps) + 3 - int(mine.steps) % 3)  # a multiple of the pieces
    options = {"max_lr": "authors", "equal_pieces": True}
    sweep = nn.schedule_sweep(prob, "sgd", batch_sizes=Bs, target=target, pieces=3, executor="serial",
                              schedules={16.0: [passed]}, **options)
    for B, res, pairs in zip(Bs, sweep.schedules, [[], [passed]], strict=True):
        direct = nn.optimal_schedule(prob, "sgd", batch_size=B, pieces=3, target=target, schedules=pairs, **options)
        assert res.steps == direct.steps and res.steps % 3 == 0 and res.max_lr == nn.authors_max_lr(prob, "sgd")
        np.testing.assert_array_equal(res.lrs, direct.lrs)
    assert sweep.steps[1] <= passed[1]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"schedules": {3.0: []}}, "schedules"),
        ({"schedules": [([0.1, 0.1], 10)]}, "schedules"),
        ({"schedules": [([0.1, 0.1, 0.1], 10)], "equal_pieces": True}, "schedules"),
        ({"equal_pieces": "yes"}, "equal_pieces"),
        ({"max_lr": "theirs"}, "max_lr"),
        ({"pieces": 0}, "pieces"),
    ],
)
def test_schedule_sweep_rejects_bad_options_before_work(kwargs, match) -> None:
    prob, _ = SMALL[0]
    with pytest.raises(ValueError, match=match):
        nn.schedule_sweep(prob, "sgd", batch_sizes=[1.0, 2.0], pieces=kwargs.pop("pieces", 3), executor="serial", **kwargs)


def test_search_returns_to_the_estimates_after_a_midpoint() -> None:
    """After _SLOW_STEPS slow steps the search bisects once; a midpoint of an odd-width bracket
    halves it as well as integers allow, so the estimates are used again. (It used to count that
    midpoint as slow and bisect to the end: with equal pieces at K = 10, B = 4 on the paper's
    problem, six failing totals instead of one.)"""
    tested: list[int] = []

    def test(u: int) -> bool:
        tested.append(u)
        return u >= 3000

    assert first_feasible(test, 0, 4002, lambda lo, hi: hi - 1) == 3000
    # three slow estimates from above, the midpoint of [0, 3999] (fails: [1999, 3999]), then an estimate
    assert tested[:5] == [4001, 4000, 3999, 1999, 3998]


# ------------------------------------------------------------ every piece at least one step
_THREE = nn.Problem([1.0, 0.05, 1e-3], c=[0.7, 0.05, 2e-3], init_var=[1.0, 2.0, 0.5], weights=[1.0, 3.0, 10.0])


@pytest.mark.parametrize("steps, pieces", [(10, 50), (10, 11), (1, 2)])
def test_more_pieces_than_steps_is_refused_naming_pieces_and_its_range(steps, pieces) -> None:
    """A piece without a step is no piece: ``pieces`` must lie in [1, steps] (before, 40 of 50 pieces
    had length 0 at steps=10)."""
    with pytest.raises(ValueError, match=rf"pieces must be an integer from 1 to steps \({steps}\).*got {pieces}"):
        nn.optimize_schedule(_THREE, "sgd", batch_size=4, steps=steps, pieces=pieces)


def test_as_many_pieces_as_steps_is_one_step_each() -> None:
    res = nn.optimize_schedule(_THREE, "sgd", batch_size=4, steps=3, pieces=3)
    assert res.lengths.tolist() == [1, 1, 1]


@pytest.mark.parametrize("vary, opt", [(("lr",), "sgd"), (("lr", "beta"), nn.Momentum(lr=1.0, beta=0.5))])
def test_a_step_search_answer_below_pieces_has_one_step_per_piece(vary, opt) -> None:
    """The fewest steps to an easy target is 3 here (below pieces = 5): the schedule has 3 pieces of one
    step (before: 5 pieces, the last two of length 0); its risks are the exact piecewise risk of those."""
    res = nn.optimal_schedule(_THREE, opt, batch_size=4, target=0.25 * _THREE.initial_risk, pieces=5, vary=vary)
    T = int(res.steps)
    assert 0 < T < 5
    assert res.lengths.tolist() == [1] * T and res.boundaries.tolist() == list(range(T + 1))
    assert res.lrs.size == T and all(v.size == T for v in res.values.values())
    assert res.final_lr == res.lrs[-1]
    # one step per piece: the per-step schedule of the pieces' values, through the per-step engine
    per_step = {k: nn.schedules.per_step(res.values.get(k, res.lrs)) for k in vary}
    risk = nn.scheduled_risk(_THREE, opt, batch_size=4, steps=np.arange(T + 1), horizon=T, schedule=per_step)
    np.testing.assert_allclose(res.risk, risk, rtol=1e-12)
    assert res.final_risk <= 0.25 * _THREE.initial_risk * (1 + nn.TIE_RTOL)
