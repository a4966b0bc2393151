"""The blocked per-step recursion of ``nn.scheduled_risk`` (numerics/_schedule.py, ``_step_block``).

The recursion runs in chunks of steps, each split into blocks whose maps are composed, propagated
and re-entered from their start states. References: the 30-digit per-step recursion on the spec's
sympy matrices (tests/numerics/_schedule_reference.py, independent of the engine), at chunk sizes
forced down to one step so that every chunk and block boundary is crossed; the generated transition
function against the whole generated forms; and a batch-size preset's name with ``batch_size=`` as
its base.
"""

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nqm.numerics as nn
from nqm.numerics import _schedule
from nqm.numerics._schedule_family import ScheduleFamily
from nqm.numerics.schedules import batch_doubling
from nqm.theory import get_spec

sys.path.insert(0, str(Path(__file__).parent))
from _schedule_reference import per_step_risk  # noqa: E402
from test_scheduled_risk import RTOL, SMALL, SPECS, _draw_run  # noqa: E402


@pytest.mark.parametrize("elements", [1, 3 * 4 * 7])  # one step a chunk; 7 steps a chunk of a 2-state spec on 3 bins
@pytest.mark.parametrize("name", ["sgd", "momentum", "ema_hb"])
@settings(max_examples=3, deadline=None)
@given(data=st.data())
def test_chunks_and_blocks_against_the_reference(name, elements, data) -> None:
    """Drawn schedules of every hyperparameter and the batch size with the chunks forced small
    (blocks of 1 to 6 steps, several chunks), every step against the 30-digit recursion."""
    T = data.draw(st.integers(1, 40), label="T")
    spec, schedule, per_step = _draw_run(data, name, T)
    opt = nn.Optimizer(spec, **{q: v[0] for q, v in per_step.items() if q != "batch_size"})
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_schedule, "_CHUNK_ELEMENTS", elements)
        got = nn.scheduled_risk(SMALL, opt, steps=T, schedule=schedule)
        final = nn.scheduled_risk(SMALL, opt, steps=[T], schedule=schedule)
    want = per_step_risk(spec, SMALL, per_step)
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=0)
    np.testing.assert_allclose(final, want[-1:], rtol=RTOL, atol=0)


def test_a_curve_to_t_is_the_start_of_the_longer_curve_across_chunks() -> None:
    """Chunks and blocks are laid on the horizon, not on the last evaluation time: bit for bit."""
    lrs = np.linspace(0.9, 0.01, 40)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_schedule, "_CHUNK_ELEMENTS", 3 * 4 * 9)  # 9 steps a chunk of momentum on 3 bins
        full = nn.scheduled_risk(SMALL, nn.Momentum(lr=0.1, beta=0.5), steps=40, schedule={"lr": lrs}, batch_size=4)
        for T in (9, 13, 18, 39):
            part = nn.scheduled_risk(SMALL, nn.Momentum(lr=0.1, beta=0.5), steps=T, horizon=40, schedule={"lr": lrs},
                                     batch_size=4)
            np.testing.assert_array_equal(part, full[: T + 1])


def test_a_long_per_step_run_with_tiny_and_large_steps() -> None:
    """1200 per-step values of lr (log-uniform in [1e-9, 1]) and beta: blocks of 35 steps whose
    maps are propagated through 35 blocks, every step against the 30-digit recursion."""
    rng = np.random.default_rng(13)
    T = 1200
    per_step = {"lr": 10.0 ** rng.uniform(-9, 0, T), "beta": rng.uniform(0.0, 0.95, T), "batch_size": 3.0}
    got = nn.scheduled_risk(SMALL, "momentum", steps=T, schedule={"lr": per_step["lr"], "beta": per_step["beta"]},
                            batch_size=3)
    want = per_step_risk(get_spec("momentum"), SMALL, per_step)
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=0)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_the_transition_entries_are_the_whole_forms_bit_for_bit(name) -> None:
    """The recursion evaluates the generated transition function (D and b alone); they must be the
    values of the whole forms (Forms.evaluate), bit for bit."""
    spec, bounds = SPECS[name]
    opt = nn.Optimizer(spec, **{q: lo for q, (lo, _) in bounds.items()})
    family = ScheduleFamily(SMALL, opt, (*bounds, "batch_size"))
    rng = np.random.default_rng(0)
    values = {q: rng.uniform(lo, hi, 50) for q, (lo, hi) in bounds.items()} | {"batch_size": rng.uniform(1, 9, 50)}
    fast = family.invariants(values, keys=("D", "b"))
    whole = family.invariants(values, keys=("D", "b", "Sbar"))  # Sbar needs the whole forms
    np.testing.assert_array_equal(fast["D"], whole["D"])
    np.testing.assert_array_equal(fast["b"], whole["b"])


def test_a_batch_size_preset_name_takes_batch_size_as_its_base() -> None:
    """``schedule={"batch_size": "batch_doubling"}, batch_size=4``: 4 doubled at 0.5T and 0.75T
    (refused as "not both" before); with a schedule that is not a name both stay an error."""
    T = 20
    opt = nn.Momentum(lr=0.3, beta=0.6)
    named = {"schedule": {"batch_size": "batch_doubling"}, "batch_size": 4}
    got = nn.scheduled_risk(SMALL, opt, steps=T, **named)
    want = per_step_risk(get_spec("momentum"), SMALL,
                         {"lr": 0.3, "beta": 0.6, "batch_size": np.repeat([4.0, 8.0, 16.0], [10, 5, 5])})
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=0)
    explicit = {"schedule": {"batch_size": batch_doubling(4.0)}}
    np.testing.assert_array_equal(nn.risk_variance(SMALL, opt, steps=T, **named),
                                  nn.risk_variance(SMALL, opt, steps=T, **explicit))
    mc_named = nn.monte_carlo(SMALL, opt, steps=T, runs=16, seed=3, **named)
    mc_explicit = nn.monte_carlo(SMALL, opt, steps=T, runs=16, seed=3, **explicit)
    np.testing.assert_array_equal(mc_named.mean, mc_explicit.mean)
    with pytest.raises(ValueError, match="batch_size: .*not both"):
        nn.scheduled_risk(SMALL, opt, steps=T, schedule={"batch_size": batch_doubling(4.0)}, batch_size=4)
