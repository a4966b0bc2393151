"""Steps against examples (nn.steps_examples, nn.pareto_front, nn.mccandlish_residuals), each against an
independent computation: the Pareto frontier against its definition by a plain double loop, the residuals
at points built on McCandlish's hyperbola, and every point of a constant-batch-size frontier re-checked by
the exact engine (its risk reaches the target at S and not at S - 1) and against the two exact anchors.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nqm.numerics as nn

PROB = nn.Problem.power_law(200, bins=8)
BS = (1.0, 8.0, 64.0, 512.0)
TARGET = 0.05
GRID = {"lr": np.logspace(-3, 0.3, 25)}


def _dominated_by_loop(S: list[float], E: list[float]) -> list[bool]:
    """The definition, written plainly: k is dominated if some j is at most k in both costs and differs."""
    out = []
    for k in range(len(S)):
        out.append(any(S[j] <= S[k] and E[j] <= E[k] and (S[j], E[j]) != (S[k], E[k]) for j in range(len(S))))
    return out


costs = st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), min_size=1, max_size=8)


@settings(max_examples=60, deadline=None)
@given(costs, st.lists(st.booleans(), min_size=8, max_size=8))
def test_pareto_front_is_the_definition(points, never) -> None:
    S = [float(s) if not never[i] else math.inf for i, (s, _) in enumerate(points)]
    E = [float(e) if not never[i] else math.inf for i, (_, e) in enumerate(points)]
    expected = [math.isfinite(s) and not d for s, d in zip(S, _dominated_by_loop(S, E))]
    assert nn.pareto_front(S, E).tolist() == expected


def test_residuals_vanish_on_mccandlishs_hyperbola() -> None:
    """Points with S = S_min + E_min/B and E = BS satisfy (S/S_min - 1)(E/E_min - 1) = 1 exactly."""
    s_min, e_min = 700.0, 4.5e5
    B = np.array([1.0, 30.0, 600.0, 2e4, 1e6])
    S = s_min + e_min / B
    fit = nn.McCandlishFit(s_min, e_min, e_min / s_min, 0.0)
    residual, relation = nn.mccandlish_residuals(S, B * S, fit)
    np.testing.assert_allclose(residual, 0.0, atol=1e-13)
    np.testing.assert_allclose(relation, 1.0, rtol=1e-9)
    # off the hyperbola: twice the steps at the same batch size gives S_min/(2S) + E_min/(2E) - 1 = -1/2
    residual, _ = nn.mccandlish_residuals(2 * S, 2 * B * S, fit)
    np.testing.assert_allclose(residual, -0.5, atol=1e-13)


@pytest.fixture(scope="module")
def frontier() -> nn.StepsExamples:
    return nn.steps_examples(PROB, "sgd", batch_sizes=BS, target=TARGET, grid=GRID)


def test_each_point_is_an_exact_first_hit(frontier: nn.StepsExamples) -> None:
    assert frontier.batch_sizes.tolist() == list(BS)
    for B, S, E, hyper in zip(frontier.batch_sizes, frontier.steps, frontier.examples, frontier.hyperparameters):
        assert E == B * S
        risk = nn.expected_risk(PROB, nn.SGD(**hyper), batch_size=B, steps=[S - 1, S])
        assert risk[1] <= TARGET < risk[0]
        # no learning rate of the grid does better (an independent scan of the grid, one rate at a time)
        assert min(nn.steps_to_target(PROB, nn.SGD(lr=a), batch_size=B, target=TARGET) for a in GRID["lr"]) == S


def test_exact_anchors_bound_every_point(frontier: nn.StepsExamples) -> None:
    """No point beats the noise-free steps (themselves reached: the noise-free risk at them is at most the
    target) or the Bayes bound in examples."""
    free = nn.Problem(PROB.h, np.zeros(PROB.size), PROB.init_var, PROB.weights)
    S_inf = frontier.noise_free_steps
    assert np.all(frontier.steps >= S_inf)
    reached = [nn.expected_risk(free, nn.SGD(lr=a), batch_size=1, steps=[S_inf])[0] <= TARGET for a in GRID["lr"]]
    assert any(reached)
    assert not any(nn.expected_risk(free, nn.SGD(lr=a), batch_size=1, steps=[S_inf - 1])[0] <= TARGET for a in GRID["lr"])
    assert np.all(frontier.examples >= frontier.bayes_examples)
    assert PROB.bayes_risk_bound(frontier.bayes_examples) <= TARGET < PROB.bayes_risk_bound(frontier.bayes_examples - 1)


def test_fit_residuals_and_tables(frontier: nn.StepsExamples) -> None:
    fit = frontier.fit
    assert fit is not None
    S, E = frontier.steps, frontier.examples
    np.testing.assert_allclose(frontier.residual, fit.S_min / S + fit.E_min / E - 1, rtol=1e-12)
    np.testing.assert_allclose(frontier.relation, (S / fit.S_min - 1) * (E / fit.E_min - 1), rtol=1e-12)
    np.testing.assert_allclose(np.sqrt(np.mean(frontier.residual**2)), fit.rms_relative_error, rtol=1e-9)
    assert frontier.holds.tolist() == (np.abs(frontier.residual) <= frontier.tolerance).tolist()
    anchored = frontier.noise_free_steps / S + E.min() / E - 1
    np.testing.assert_allclose(frontier.anchored_residual, anchored, rtol=1e-12)
    csv = frontier.to_csv()
    assert csv.splitlines()[0].startswith("batch_size,steps,examples,mean_batch_size,pareto,residual,relation,holds")
    assert len(csv.splitlines()) == len(BS) + 1
    fit_csv = frontier.to_csv(table="fit").splitlines()
    assert fit_csv[0] == "S_min,E_min,B_crit,rms_relative_error,noise_free_steps,bayes_examples"
    assert "StepsExamples (points)" in frontier._repr_html_()


# ------------------------------------------------------------------ batch ramps
def _plain_recursion(problem: nn.Problem, lr: object, beta: float, batch: np.ndarray) -> np.ndarray:
    """Expected risk at steps 0..len(batch) of heavy-ball momentum (beta = 0: SGD) under per-step batch sizes
    (and learning rates, if ``lr`` is an array), by the plain second-moment recursion S <- A S A^T + (c/B_t) b b^T
    of (theta, m), written out here."""
    h, c, v, w = problem.h, problem.c, problem.init_var, problem.weights
    lrs = np.broadcast_to(np.asarray(lr, dtype=float), (len(batch),))
    S = np.zeros((h.size, 2, 2))
    S[:, 0, 0] = v
    out = [np.sum(w * 0.5 * h * S[:, 0, 0])]
    for a, B in zip(lrs, batch):
        A = np.zeros((h.size, 2, 2))
        A[:, 0, 0], A[:, 0, 1], A[:, 1, 0], A[:, 1, 1] = 1 - a * h, -a * beta, h, beta
        b = np.stack([-a * np.ones_like(h), np.ones_like(h)], axis=-1)
        S = A @ S @ np.swapaxes(A, -1, -2) + (c / B)[:, None, None] * (b[:, :, None] * b[:, None, :])
        out.append(np.sum(w * 0.5 * h * S[:, 0, 0]))
    return np.array(out)


def _per_step(levels: np.ndarray, starts: np.ndarray, steps: int) -> np.ndarray:
    return np.array([levels[np.searchsorted(starts, t, side="right") - 1] for t in range(steps)])


def _first_reaching(risk: np.ndarray) -> float:
    """The first index where ``risk`` is at most the target (up to the toolkit's tie tolerance), or inf."""
    hit = risk <= TARGET * (1 + nn.TIE_RTOL)
    return float(np.argmax(hit)) if hit.any() else math.inf


ramps = st.lists(st.integers(1, 40), min_size=0, max_size=3).map(lambda d: np.concatenate([[0], np.cumsum(d)]))


@settings(max_examples=6, deadline=None)
@given(ramps, st.floats(1.0, 64.0), st.sampled_from([0.0, 0.9]))
def test_ramp_first_hits_are_the_plain_recursions(starts, b0, beta) -> None:
    """The bracketed scan (each rate from its own lower bound on) against the first hit of every rate by the
    plain recursion: the fewest steps, and the lowest grid index among the rates attaining them."""
    from nqm.numerics._batch_ramps import first_hit_under_batch_schedule

    levels = b0 * 2.0 ** np.arange(starts.size)
    lrs = np.array([0.02, 0.3, 1.5, 0.3])  # a repeated rate: the tie goes to the lower index
    opt = nn.Momentum(lr=lrs, beta=beta) if beta else nn.SGD(lr=lrs)
    S, j = first_hit_under_batch_schedule(PROB, opt, levels, starts, TARGET)
    T = 1500
    hits = [_first_reaching(_plain_recursion(PROB, lr, beta, _per_step(levels, starts, T))) for lr in lrs]
    if math.isfinite(min(hits)):
        assert (S, j) == (min(hits), hits.index(min(hits)))
    else:
        assert S > T


def test_ramp_scan_refuses_to_pass_the_horizon_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """The scan stops with a ValueError naming target where it would pass MAX_HORIZON (lowered here)."""
    from nqm.numerics import _batch_ramps
    from nqm.numerics._batch_ramps import first_hit_under_batch_schedule

    levels, starts = np.array([2.0, 8.0, 32.0]), np.array([0, 40, 120])
    monkeypatch.setattr(_batch_ramps, "MAX_HORIZON", 150)
    with pytest.raises(ValueError, match="target: not reached .* horizon limit 150"):
        first_hit_under_batch_schedule(PROB, nn.SGD(lr=0.01), levels, starts, TARGET)


def test_first_hit_and_examples_under_a_ramp_by_brute_force() -> None:
    from nqm.numerics._batch_ramps import first_hit_under_batch_schedule
    from nqm.numerics._schedule_steps import examples_until

    levels, starts = np.array([2.0, 8.0, 32.0]), np.array([0, 40, 120])
    lrs = np.logspace(-2, 0.2, 9)
    S, j = first_hit_under_batch_schedule(PROB, nn.SGD(lr=lrs), levels, starts, TARGET)
    batch = _per_step(levels, starts, 3000)
    hits = [_first_reaching(_plain_recursion(PROB, lr, 0.0, batch)) for lr in lrs]
    assert S == min(hits) and j == hits.index(min(hits))
    assert examples_until(levels, starts, S) == float(np.sum(batch[: int(S)]))


@pytest.fixture(scope="module")
def ramped() -> nn.StepsExamples:
    return nn.steps_examples(PROB, "momentum", batch_sizes=BS, target=TARGET, grid={"lr": GRID["lr"], "beta": [0.0, 0.9]},
                             ramp=nn.BatchRamp(doublings=3, fraction=0.5))


def test_ramp_points_are_exact_first_hits(ramped: nn.StepsExamples) -> None:
    constant = nn.steps_examples(PROB, "momentum", batch_sizes=BS, target=TARGET, grid={"lr": GRID["lr"], "beta": [0.0, 0.9]})
    assert ramped.family.startswith("batch ramp")
    for B, S, E, hyper, S_c in zip(BS, ramped.steps, ramped.examples, ramped.hyperparameters, constant.steps):
        levels, starts = nn.BatchRamp(doublings=3, fraction=0.5).schedule(B, S_c)
        batch = _per_step(levels, starts, int(S))
        ref = _plain_recursion(PROB, hyper["lr"], hyper["beta"], batch)
        assert ref[-1] <= TARGET * (1 + nn.TIE_RTOL) and np.all(ref[:-1] > TARGET)
        assert E == float(np.sum(batch))
        assert S >= S_c  # the ramp's batch sizes are at most B: never fewer steps than B itself at its best
        assert levels[-1] == B and np.all(np.diff(levels) > 0) and levels[0] >= 1


def test_bad_ramps_are_refused() -> None:
    with pytest.raises(ValueError, match="doublings must be an integer"):
        nn.BatchRamp(doublings=0)
    with pytest.raises(ValueError, match=r"fraction must be .*\(0, 1\]"):
        nn.BatchRamp(fraction=1.5)
    with pytest.raises(ValueError, match="ramp must be None"):
        nn.steps_examples(PROB, "sgd", batch_sizes=BS, target=TARGET, ramp="geometric")


# ------------------------------------------------------------------ decay the learning rate or grow the batch
@pytest.mark.parametrize("name, beta", [("sgd", 0.0), ("momentum", 0.9)])
def test_decay_versus_growth_runs_are_exact_first_hits(name: str, beta: float) -> None:
    from nqm.numerics._frontier import RAMP_LR_FACTORS

    B0, k = 8.0, 5.0
    fixed = {"beta": beta} if beta else {}
    out = nn.decay_versus_growth(PROB, name, batch_size=B0, target=TARGET, factor=k, grid={"lr": GRID["lr"]}, **fixed)
    tuned = nn.tune(PROB, name, batch_size=B0, target=TARGET, grid={"lr": GRID["lr"]}, **fixed)
    assert out.steps["constant"] == tuned.steps and out.examples["constant"] == B0 * tuned.steps
    S0 = tuned.steps
    assert out.decay_steps == (round(0.5 * S0), round(0.75 * S0))
    lrs = tuned.hyperparameters["lr"] * RAMP_LR_FACTORS
    for run in ("lr decay", "batch growth"):
        S = out.steps[run]
        horizon = int(S) + 1
        hits = []
        for a in lrs:
            t = np.arange(horizon)
            if run == "lr decay":
                rate = a / k ** np.searchsorted(out.decay_steps, t, side="right")
                ref = _plain_recursion(PROB, rate, beta, np.full(horizon, B0))
            else:
                batch = B0 * k ** np.searchsorted(out.growth_steps, t, side="right")
                ref = _plain_recursion(PROB, a, beta, batch)
            reached = np.flatnonzero(ref <= TARGET * (1 + nn.TIE_RTOL))
            hits.append(int(reached[0]) if reached.size else math.inf)
        assert S == min(hits), run
        assert out.lr[run] == lrs[hits.index(min(hits))]
    # examples of the growth run: B0 until examples 0.5 S0 B0, then 5 B0 until 0.75 S0 B0, then 25 B0
    g1, g2 = out.growth_steps
    assert g1 == round(0.5 * S0) and g2 == g1 + round(0.25 * S0 / k)
    batch = B0 * k ** np.searchsorted(out.growth_steps, np.arange(int(out.steps["batch growth"])), side="right")
    assert out.examples["batch growth"] == float(np.sum(batch))
    assert out.to_csv().splitlines()[0] == "run,steps,examples,lr,milestone_steps"


def test_decay_versus_growth_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match=r"factor must be a (finite )?number in \(1, inf\)"):
        nn.decay_versus_growth(PROB, "sgd", batch_size=8, target=TARGET, factor=0.5)
    with pytest.raises(ValueError, match="milestones must be fractions"):
        nn.decay_versus_growth(PROB, "sgd", batch_size=8, target=TARGET, milestones=(0.75, 0.5))


@pytest.mark.parametrize("name", ["sgd", "momentum"])
def test_ramp_first_hits_agree_with_scheduled_steps_to_target(name: str) -> None:
    """The bracketed scan over an lr grid against the engine's own first-step search, one rate at a time."""
    from nqm.numerics._batch_ramps import first_hit_under_batch_schedule
    from nqm.numerics._schedule_steps import examples_until

    levels, starts = np.array([2.0, 8.0, 32.0]), np.array([0, 40, 120])
    sched = {"batch_size": nn.schedules.piecewise(levels, starts[1:])}
    for lr in (0.05, 0.4):
        opt = nn.optimizer(name, lr=lr, **({"beta": 0.8} if name == "momentum" else {}))
        S, _ = first_hit_under_batch_schedule(PROB, opt, levels, starts, TARGET)
        engine = nn.scheduled_steps_to_target(PROB, opt, target=TARGET, schedule=sched, horizon=20_000)
        assert (S, examples_until(levels, starts, S)) == (engine.steps, engine.examples)


# ------------------------------------------------------------------ presets against the optimum
def test_preset_gaps_final_risks_are_the_engines() -> None:
    """Each final risk re-evaluated by nn.scheduled_risk with the preset at the reported peak; the optimum is
    certified never worse than the constant run; the ratios are their definitions."""
    from nqm.numerics._preset_gap import WSD_COOLDOWN

    gaps = nn.preset_gaps(PROB, "sgd", batch_sizes=[8.0, 512.0], target=TARGET, pieces=4, grid={"lr": GRID["lr"]})
    for i, B in enumerate(gaps.batch_sizes):
        T = int(gaps.budgets[i])
        assert T == nn.tune(PROB, "sgd", batch_size=B, target=TARGET, grid={"lr": GRID["lr"]}).steps
        assert gaps.risks["constant"][i] <= TARGET * (1 + nn.TIE_RTOL)
        for run, preset in (("cosine", nn.schedules.cosine(gaps.peaks["cosine"][i])),
                            ("wsd", nn.schedules.wsd(gaps.peaks["wsd"][i], cooldown=WSD_COOLDOWN))):
            risk = nn.scheduled_risk(PROB, nn.SGD(lr=1.0), steps=T, schedule={"lr": preset}, batch_size=B)[-1]
            assert gaps.risks[run][i] == pytest.approx(risk, rel=1e-10), run
        assert gaps.risks["optimum"][i] <= gaps.risks["constant"][i]
    np.testing.assert_allclose(gaps.ratio("wsd", "optimum"), gaps.risks["wsd"] / gaps.risks["optimum"], rtol=0)
    assert gaps.to_csv().splitlines()[0].startswith("batch_size,budget,constant_risk,cosine_risk,wsd_risk,optimum_risk")


def test_a_budget_below_pieces_gets_one_step_per_piece() -> None:
    """The constant run reaches an easy target in 2 steps, below pieces = 5: the optimum has 2 pieces of one step
    (before: 5 pieces, 3 of them without a step), never worse than the constant run."""
    three = nn.Problem([1.0, 0.05, 1e-3], c=[0.7, 0.05, 2e-3], init_var=[1.0, 2.0, 0.5], weights=[1.0, 3.0, 10.0])
    gaps = nn.preset_gaps(three, "sgd", batch_sizes=[4.0], target=0.3 * three.initial_risk, pieces=5)
    T = int(gaps.budgets[0])
    assert 0 < T < 5
    lrs, lengths = gaps.schedules["optimum"][0]
    assert lengths.tolist() == [1] * T and lrs.size == T
    assert gaps.risks["optimum"][0] <= gaps.risks["constant"][0]
